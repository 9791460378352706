"""The request's tools, read once: their names, which schemas accept given arguments, and validation.

Names serve drifted ids (docs/format.md#rule-11 a), schemas the resolution by arguments (#rule-11 b), and
per-call validation says whether a finished call is valid against its tool.

Schemas are compiled on first use and kept, so a :class:`Tools` built once serves many parses. The validator
sits behind :mod:`kimi_toolparse.schemas`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote

from ..tool_shape import tool_functions
from .arguments import TooDeep
from .diagnostics import Code
from .schemas import CompiledSchema, SchemaBroken, validator_available

__all__ = ["CallProblem", "Tools", "as_tools"]

#: Keywords that, set at the top level, lift the strict reading of docs/format.md#rule-11 (b).
_OPEN_KEYWORDS = ("additionalProperties", "patternProperties", "unevaluatedProperties")


@dataclass(frozen=True, slots=True)
class CallProblem:
    """Why a finished call is not valid against the request's tools (``ToolCall.problems``).

    ``code`` is one of ``unresolved_name``, ``unknown_tool``, ``invalid_json``, ``arguments_not_object``,
    ``schema_violation`` and ``schema_unchecked``; ``path`` is a JSON path into the arguments (``$`` for
    the whole object) and ``keyword`` the schema keyword that failed (``""`` when no schema was involved).
    """

    code: Code
    message: str
    path: str = "$"
    keyword: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {"code": self.code.value, "message": self.message, "path": self.path, "keyword": self.keyword}


class _Unknown(Exception):
    """The top level cannot be read: a top-level ``$ref`` leads nowhere this reader can follow."""


def _strict_keys(parameters: Mapping[str, Any]) -> frozenset[str] | None:
    """The strict top level of docs/format.md#rule-11 (b): the allowed keys, or None when keys are open.

    The top level is the object as written plus what a top-level ``$ref`` chain points at; a keyword on any
    of them counts as set. Raises :class:`_Unknown` when a ``$ref`` of that chain resolves nowhere (a
    pointer to nothing, an anchor, a remote document): then the top level is unknown and the check cannot
    complete.
    """
    allowed: set[str] = set()
    node: Any = parameters
    for _ in range(16):
        if not isinstance(node, Mapping):
            return frozenset(allowed)
        if any(k in node for k in _OPEN_KEYWORDS):
            return None
        props = node.get("properties")
        if isinstance(props, Mapping):
            allowed.update(k for k in props if isinstance(k, str))
        ref = node.get("$ref")
        if not isinstance(ref, str):
            break  # no $ref, or one the meta-schema refuses (the validator reports that)
        node = _pointer(parameters, ref)
    return frozenset(allowed)


def _pointer(root: Any, ref: str) -> Any:
    """What a local ``$ref`` (``#`` and a JSON pointer) points at in the root schema; raises :class:`_Unknown`
    when it leads nowhere."""
    if not (ref == "#" or ref.startswith("#/")):
        raise _Unknown(ref)
    target = root
    for part in ref[2:].split("/") if len(ref) > 1 else []:
        part = unquote(part).replace("~1", "/").replace("~0", "~")
        if isinstance(target, Mapping) and part in target:
            target = target[part]
        elif isinstance(target, list) and part.isdigit() and int(part) < len(target):
            target = target[int(part)]
        else:
            raise _Unknown(ref)
    return target


class _Tool:
    __slots__ = ("_compiled", "allowed_keys", "name", "parameters", "top_unknown")

    def __init__(self, name: str, parameters: Mapping[str, Any] | bool | None) -> None:
        self.name = name
        self.parameters = parameters
        self._compiled: CompiledSchema | None = None
        self.allowed_keys: frozenset[str] | None = None
        #: A top-level ``$ref`` resolves nowhere: the strict reading cannot complete (#rule-11 b).
        self.top_unknown = False
        if isinstance(parameters, Mapping):
            try:
                self.allowed_keys = _strict_keys(parameters)
            except _Unknown:
                self.top_unknown = True
            except Exception:  # a schema too odd to read strictly is read as written
                self.allowed_keys = None

    @property
    def compiled(self) -> CompiledSchema:
        if self._compiled is None:
            schema: Any = True if self.parameters is None else self.parameters
            self._compiled = CompiledSchema(schema)
        return self._compiled

    def accepts(self, arguments: dict[str, Any]) -> bool | None:
        """#rule-11 (b): True or False, or None when the check cannot complete (the tool is a candidate)."""
        if self.parameters is None or self.parameters is True:
            return not arguments
        if self.parameters is False:
            return False
        if self.top_unknown:
            return None
        if self.allowed_keys is not None and not self.allowed_keys.issuperset(arguments):
            return False
        try:
            return self.compiled.is_valid(arguments)
        except SchemaBroken:
            return None


class Tools:
    """The tools of one request, in OpenAI's shape (``{"type": "function", "function": {...}}``).

    Build it once and pass it to many parsers to reuse the compiled schemas.
    """

    def __init__(self, tools: Iterable[Mapping[str, Any]]) -> None:
        self._tools: list[_Tool] = []
        self._by_name: dict[str, _Tool] = {}
        for i, fn in enumerate(tool_functions(tools)):  # the check strict render() and the CLI make too
            if fn is None:
                continue  # not a function tool: nothing the model can call by name
            params = fn.get("parameters")
            # the parser's own check: strict render() renders such a tool, as the template does (as JSON)
            if params is not None and not isinstance(params, (Mapping, bool)):
                raise ValueError(f"tools[{i}].function.parameters must be a JSON-schema object or boolean")
            entry = _Tool(fn["name"], params)
            self._tools.append(entry)
            self._by_name.setdefault(entry.name, entry)
        self.names: frozenset[str] = frozenset(self._by_name)

    def __len__(self) -> int:
        return len(self._tools)

    @property
    def schema_check_available(self) -> bool:
        """Whether the JSON-schema validator is there (a core dependency: only a broken install lacks it)."""
        return validator_available()

    def candidates(self, arguments: dict[str, Any]) -> tuple[list[str], list[str]]:
        """#rule-11 (b): (names whose schema accepts the arguments, names whose check could not complete)."""
        accepted: list[str] = []
        unchecked: list[str] = []
        if isinstance(arguments, TooDeep):  # too deep to check: every tool is a candidate (objects only)
            return [], [t.name for t in self._tools] if arguments.is_object else []
        for tool in self._tools:
            verdict = tool.accepts(arguments)
            if verdict is None:
                unchecked.append(tool.name)
            elif verdict:
                accepted.append(tool.name)
        return accepted, unchecked

    def accepting(self, arguments: dict[str, Any]) -> list[str]:
        """The names of the tools whose schema accepts these arguments, strictly read at the top level."""
        return self.candidates(arguments)[0]

    def check_call(self, name: str | None, json_valid: bool, value: Any) -> tuple[CallProblem, ...]:
        """Per-call validation: ``()`` when the call names a declared tool and its arguments fit its schema.

        ``value`` is the decoded arguments (ignored when ``json_valid`` is false). The schema is read as
        JSON Schema says (no strict top level here: that reading only serves the choice of #rule-11 b).
        """
        if name is None:
            return (CallProblem(Code.UNRESOLVED_NAME, "the call has no function name"),)
        tool = self._by_name.get(name)
        if tool is None:
            return (CallProblem(Code.UNKNOWN_TOOL, f"{name!r} is not one of the request's tools"),)
        if not json_valid:
            return (CallProblem(Code.INVALID_JSON, "the arguments are not valid JSON"),)
        if isinstance(value, TooDeep) and value.is_object:
            return (CallProblem(Code.SCHEMA_UNCHECKED, "the arguments nest too deeply to be checked"),)
        if not isinstance(value, dict) or isinstance(value, TooDeep):
            kind = "an array" if isinstance(value, (list, TooDeep)) else "not an object"
            return (CallProblem(Code.ARGUMENTS_NOT_OBJECT, f"the arguments are {kind}", keyword="type"),)
        compiled = tool.compiled
        try:
            if compiled.is_valid(value):
                return ()
            violations = compiled.violations(value)
        except SchemaBroken as exc:
            return (CallProblem(Code.SCHEMA_UNCHECKED, f"the schema of {name!r} cannot be checked: {exc}"),)
        return tuple(CallProblem(Code.SCHEMA_VIOLATION, v.message, v.path, v.keyword) for v in violations)


def as_tools(tools: Tools | Iterable[Mapping[str, Any]] | None) -> Tools | None:
    if tools is None or isinstance(tools, Tools):
        return tools
    return Tools(tools)
