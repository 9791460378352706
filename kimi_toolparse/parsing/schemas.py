"""The one place that talks to the JSON-schema validator: compile a tool's schema, check arguments against it.

The validator is ``jsonschema-rs`` (Draft 2020-12 unless ``$schema`` names an older draft, ``1.0`` is an
integer, formats are annotations as the draft says), chosen by measuring candidates on 212 real tool
schemas (``benchmarks/bench_validators.py``; figures in the README). It is a core dependency: one
self-contained wheel with no Python dependencies. To swap it, change this module only. Remote ``$ref``
targets are never fetched.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

__all__ = ["CompiledSchema", "SchemaBroken", "Violation", "validator_available"]

_MISSING: Any = object()
_rs: Any = _MISSING


def _backend() -> Any:
    """The validator module, imported on first use so that parsing without tools never pays for it."""
    global _rs
    if _rs is _MISSING:
        try:
            import jsonschema_rs
        except ImportError:  # pragma: no cover - a core dependency; only a broken install lacks it
            _rs = None
        else:
            _rs = jsonschema_rs
    return _rs


def validator_available() -> bool:
    """Whether the validator imports (it is a core dependency; False only on a broken install)."""
    return _backend() is not None


class SchemaBroken(Exception):
    """A schema check that cannot complete: a ``$ref`` that resolves nowhere, an unknown type, a limit."""


@dataclass(frozen=True, slots=True)
class Violation:
    """One way arguments break a schema: where (JSON path), which keyword, and a message a person reads."""

    #: JSON path into the arguments, ``$`` for the whole object (``$.items[2].name``).
    path: str
    #: The schema keyword that failed (``required``, ``type``, ``additionalProperties``, ...).
    keyword: str
    message: str


def _no_remote(uri: str) -> Any:
    raise ValueError(f"remote $ref {uri!r} is not fetched")


def _compile(rs: Any, schema: Any) -> Any:
    """The draft a schema's ``$schema`` names (draft 4 to 2020-12), Draft 2020-12 when it names none."""
    return rs.validator_for(schema, validate_formats=False, retriever=_no_remote)


_PLAIN_KEY = re.compile(r"[A-Za-z][A-Za-z0-9_]*\Z")


def json_path(parts: Any, instance: Any = None) -> str:
    """``["a", 0, "b c"]`` -> ``$.a[0]['b c']``: JSONPath as jsonschema and most tools print it.

    With the instance, a numeric part under an object is read as the key it is (``$['111']``).
    """
    out = ["$"]
    node = instance
    for part in parts:
        if isinstance(part, int) and not isinstance(node, Mapping):
            out.append(f"[{part}]")
        elif _PLAIN_KEY.match(str(part)):
            out.append(f".{part}")
        else:
            out.append("['" + str(part).replace("\\", "\\\\").replace("'", "\\'") + "']")
        node = _child(node, part)
    return "".join(out)


def _child(node: Any, part: Any) -> Any:
    if isinstance(node, Mapping):
        return node.get(str(part))
    if isinstance(node, list) and isinstance(part, int) and 0 <= part < len(node):
        return node[part]
    return None


class CompiledSchema:
    """A schema compiled once; :meth:`is_valid` and :meth:`violations` raise :class:`SchemaBroken`."""

    __slots__ = ("_broken", "_validator")

    def __init__(self, schema: Mapping[str, Any] | bool) -> None:
        self._validator: Any = None
        self._broken: str | None = None
        rs = _backend()
        if rs is None:  # pragma: no cover
            self._broken = "no JSON-schema validator is installed (pip install jsonschema-rs)"
            return
        try:
            self._validator = _compile(rs, schema)
        except Exception as exc:
            # A root "$id" that is no URI (real tools put titles there) only names the schema: retry without.
            if isinstance(schema, Mapping) and "$id" in schema:
                try:
                    self._validator = _compile(rs, {k: v for k, v in schema.items() if k != "$id"})
                    return
                except Exception:
                    pass
            # Any other schema the validator refuses: the check cannot complete.
            self._broken = _first_line(str(exc)) or type(exc).__name__

    @property
    def broken(self) -> str | None:
        """Why the schema cannot be checked, or None when it compiled."""
        return self._broken

    def is_valid(self, instance: Any) -> bool:
        if self._broken is not None:
            raise SchemaBroken(self._broken)
        try:
            return bool(self._validator.is_valid(instance))
        except Exception as exc:  # recursion or size limits met while checking
            raise SchemaBroken(_first_line(str(exc)) or type(exc).__name__) from exc

    def violations(self, instance: Any, limit: int = 8) -> tuple[Violation, ...]:
        """Up to ``limit`` violations, in the validator's order; ``()`` when the instance is valid."""
        if self._broken is not None:
            raise SchemaBroken(self._broken)
        out: list[Violation] = []
        try:
            for error in self._validator.iter_errors(instance):
                path = json_path(error.instance_path, instance)
                out.append(Violation(path, _keyword(error), error.message))
                if len(out) >= limit:
                    break
        except Exception as exc:
            raise SchemaBroken(_first_line(str(exc)) or type(exc).__name__) from exc
        return tuple(out)


_FALSE_KEYWORDS = frozenset(
    {"additionalProperties", "items", "additionalItems", "unevaluatedProperties", "unevaluatedItems"}
)


def _keyword(error: Any) -> str:
    """The failing keyword: the validator's error kind is named after it (a ``false`` subschema aside)."""
    name = str(getattr(error.kind, "name", ""))
    if name == "falseSchema":  # ``additionalProperties: false`` and the like name their keyword
        last = error.schema_path[-1] if error.schema_path else None
        return last if last in _FALSE_KEYWORDS else "false"
    if name:
        return name
    strings = [part for part in error.schema_path if isinstance(part, str)]
    return strings[-1] if strings else "false"


def _first_line(text: str) -> str:
    return text.strip().splitlines()[0] if text.strip() else ""
