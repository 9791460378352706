"""The request's tools, read once: their names (rule 11a) and which schemas accept given arguments (11b).

Schema matching uses ``jsonschema`` (Draft 2020-12), an optional extra: ``pip install
'kimi_toolparse[schema]'``. Without it, rule 11(b) is skipped and a diagnostic says so.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from ..tool_shape import tool_function

__all__ = ["Tools", "as_tools"]

_MISSING = object()


def _validator_class() -> Any:
    try:
        from jsonschema import Draft202012Validator
    except ImportError:
        return None
    return Draft202012Validator


def _resolve_top_ref(schema: Mapping[str, Any]) -> Mapping[str, Any]:
    """Follow a top-level local ``$ref`` (``#/$defs/X``) so the strictness check sees the real object."""
    seen = 0
    while isinstance(schema.get("$ref"), str) and schema["$ref"].startswith("#") and seen < 16:
        target: Any = schema
        for part in schema["$ref"][1:].split("/")[1:]:
            part = part.replace("~1", "/").replace("~0", "~")
            if not isinstance(target, Mapping) or part not in target:
                return schema
            target = target[part]
        if not isinstance(target, Mapping):
            return schema
        root_defs = {k: schema[k] for k in ("$defs", "definitions") if k in schema}
        schema = {**root_defs, **target}
        seen += 1
    return schema


class _Tool:
    __slots__ = ("allowed_keys", "name", "parameters", "validator")

    def __init__(self, name: str, parameters: Mapping[str, Any] | None) -> None:
        self.name = name
        self.parameters = parameters
        self.validator: Any = _MISSING
        self.allowed_keys: frozenset[str] | None = None
        if parameters is not None:
            top = _resolve_top_ref(parameters)
            if "additionalProperties" not in top and "patternProperties" not in top:
                props = top.get("properties")
                self.allowed_keys = frozenset(props) if isinstance(props, Mapping) else frozenset()

    def accepts(self, arguments: dict[str, Any], validator_class: Any) -> bool:
        if self.parameters is None:
            return not arguments
        if self.allowed_keys is not None and not self.allowed_keys.issuperset(arguments):
            return False
        if self.validator is _MISSING:
            self.validator = validator_class(self.parameters)
        try:
            return bool(self.validator.is_valid(arguments))
        except Exception:  # a malformed schema accepts nothing; the caller's tools must not make us raise
            return False


class Tools:
    """The tools of one request, in OpenAI's shape (``{"type": "function", "function": {...}}``).

    Build it once and pass it to many parsers to reuse the compiled schemas.
    """

    def __init__(self, tools: Iterable[Mapping[str, Any]]) -> None:
        if isinstance(tools, (str, bytes, Mapping)) or not isinstance(tools, Iterable):
            raise TypeError(f"tools must be a list of OpenAI tool dicts, not {type(tools).__name__}")
        self._tools: list[_Tool] = []
        for i, tool in enumerate(tools):
            fn = tool_function(tool, i)  # the check strict render() makes too
            if fn is None:
                continue  # not a function tool: nothing the model can call by name
            params = fn.get("parameters")
            if params is not None and not isinstance(params, Mapping):
                raise ValueError(f"tools[{i}].function.parameters must be a JSON-schema object")
            self._tools.append(_Tool(fn["name"], params))
        self.names: frozenset[str] = frozenset(t.name for t in self._tools)
        self._validator_class: Any = _MISSING

    def __len__(self) -> int:
        return len(self._tools)

    @property
    def schema_check_available(self) -> bool:
        if self._validator_class is _MISSING:
            self._validator_class = _validator_class()
        return self._validator_class is not None

    def accepting(self, arguments: dict[str, Any]) -> list[str]:
        """Rule 11(b): the names of the tools whose schema accepts these arguments (strict at the top)."""
        if not self.schema_check_available:
            return []
        return [t.name for t in self._tools if t.accepts(arguments, self._validator_class)]


def as_tools(tools: Tools | Iterable[Mapping[str, Any]] | None) -> Tools | None:
    if tools is None or isinstance(tools, Tools):
        return tools
    return Tools(tools)
