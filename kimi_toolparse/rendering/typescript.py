"""The TypeScript-style tool declaration that Kimi K2.5 and later read in their ``tool_declare`` turn.

The official tokenizer builds this text in Python (its chat template only pastes it in as ``tools_ts_str``),
so a plain Jinja engine cannot produce it. The rules here were worked out from the encoder's recorded outputs
(``ts_declarations.jsonl``): a tool list is sorted by key at every depth, each function becomes
``type NAME = (_: {...}) => any;`` under ``namespace functions``, required properties come first, ``$defs``
become ``interface`` lines, and descriptions, defaults and a few constraints become ``//`` comments.

Where the official encoder raises, the template falls back to the JSON declaration. This module raises
:class:`ToolDeclarationError` in exactly those cases, so the renderer can fall back the same way.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import Any

__all__ = ["ToolDeclarationError", "deep_sort", "render_tools_typescript"]

_INDENT = "  "
_FIELD_SEP = ",\n"

#: JSON Schema type names inside a ``type`` list, as TypeScript.
_UNION_NAMES: dict[str, str] = {
    "string": "string",
    "number": "number",
    "integer": "number",
    "boolean": "boolean",
    "null": "null",
    "object": "{}",
    "array": "Array<any>",
}

#: Constraints the declaration shows as a comment, by scalar type.
_SCALAR_CONSTRAINTS: dict[str, tuple[str, ...]] = {
    "string": ("maxLength", "minLength", "pattern"),
    "number": ("maximum", "minimum"),
    "integer": ("maximum", "minimum"),
}
_ARRAY_CONSTRAINTS = ("minItems", "maxItems")


class ToolDeclarationError(ValueError):
    """The tools cannot be declared in TypeScript style; the official template then declares them as JSON."""


def deep_sort(value: Any) -> Any:
    """A copy with every dict's keys sorted, at every depth, as the official tokenizer does to ``tools``."""
    if isinstance(value, dict):
        return {k: deep_sort(v) for k, v in sorted(value.items())}
    if isinstance(value, list):
        return [deep_sort(v) for v in value]
    return value


def render_tools_typescript(tools: Iterable[Any], *, sort_keys: bool = True) -> str:
    """The ``tools_ts_str`` the K2.5+ tokenizer passes to its template for an OpenAI ``tools`` list.

    Returns ``""`` when no tool is a function (the template then declares the tools as JSON). Raises
    :class:`ToolDeclarationError` where the official encoder fails. ``sort_keys=False`` skips the tokenizer's
    recursive key sort (for tools that are already sorted).
    """
    if isinstance(tools, (str, bytes, Mapping)) or not isinstance(tools, Iterable):
        raise TypeError(f"tools must be a list of tool dicts, not {type(tools).__name__}")
    tool_list = list(tools)
    if sort_keys:
        tool_list = deep_sort(tool_list)
    if not tool_list:
        return ""
    blocks: list[str] = []
    for i, tool in enumerate(tool_list):
        if not isinstance(tool, dict):
            raise ToolDeclarationError(f"tools[{i}] is a {type(tool).__name__}, not a dict")
        if tool.get("type") != "function":
            continue  # the encoder skips other tool kinds
        function = tool.get("function", {})
        if not function:
            continue
        if not isinstance(function, dict):
            raise ToolDeclarationError(f"tools[{i}].function is a {type(function).__name__}, not a dict")
        try:
            blocks.append(_declare_function(function))
        except ToolDeclarationError as e:
            raise ToolDeclarationError(f"tools[{i}] ({function.get('name')!s}): {e}") from None
        except RecursionError:
            raise ToolDeclarationError(f"tools[{i}]: the schema is nested too deeply") from None
        except (TypeError, ValueError, AttributeError, KeyError) as e:  # e.g. a default json cannot encode
            raise ToolDeclarationError(f"tools[{i}] ({function.get('name')!s}): {e}") from None
    if not blocks:
        return ""
    return "# Tools\n\n## functions\nnamespace functions {\n" + "\n".join(blocks) + "\n}\n"


def _comment(text: Any, indent: str) -> str:
    """``// `` before every line of a description; blank lines stay blank (without the indent)."""
    if not isinstance(text, str):
        raise ToolDeclarationError(f"a description must be a string, not {type(text).__name__}")
    return "\n".join(f"{indent}// {line}" if line else "" for line in text.split("\n"))


# --- the parsed schema ----------------------------------------------------------------------------------


class _Definitions:
    """The ``$defs`` seen so far (they register as objects are parsed, so order matters) and ``$ref: "#"``."""

    __slots__ = ("defs", "self_ref")

    def __init__(self) -> None:
        self.defs: dict[Any, Any] = {}
        self.self_ref = False

    def add(self, defs: Any) -> None:
        if not defs:
            return
        if not isinstance(defs, dict):
            raise ToolDeclarationError(f"$defs must be an object, not {type(defs).__name__}")
        self.defs.update(defs)

    def name_of(self, ref: Any) -> str:
        """The TypeScript name a ``$ref`` stands for."""
        if ref == "#":
            self.self_ref = True
            return "parameters"
        if not isinstance(ref, str) or not ref.startswith("#/$defs/"):
            raise ToolDeclarationError(f"unsupported $ref {ref!r} (only '#' and '#/$defs/NAME' are)")
        name = ref.split("/")[-1]
        if name not in self.defs:
            raise ToolDeclarationError(
                f"Reference not found: {ref} ({name!r} is not a registered $defs name)"
            )
        target = self.defs[name]
        if not isinstance(target, dict):
            raise ToolDeclarationError(f"$defs/{name} is a {type(target).__name__}, not a schema object")
        return "parameters" if target.get("$self_ref", False) else name


class _Type:
    """One parsed schema: knows its TypeScript text and the ``//`` lines that go above a field of its type."""

    __slots__ = ("constraints", "description")

    def __init__(self, schema: dict[str, Any] | None = None, constraint_keys: tuple[str, ...] = ()) -> None:
        self.description: Any = schema.get("description", "") if schema is not None else ""
        self.constraints: list[tuple[str, Any]] = (
            [(k, schema[k]) for k in constraint_keys if k in schema] if schema is not None else []
        )

    def text(self, indent: str) -> str:
        raise NotImplementedError

    def comments(self, indent: str) -> str:
        out = ""
        if self.description:
            out += _comment(self.description, indent) + "\n"
        if self.constraints:
            out += indent + "// " + ", ".join(f"{k}: {v}" for k, v in sorted(self.constraints)) + "\n"
        return out


class _Scalar(_Type):
    __slots__ = ("name",)

    def __init__(self, name: Any, schema: dict[str, Any] | None = None) -> None:
        keys = _SCALAR_CONSTRAINTS.get(name, ()) if isinstance(name, str) else ()
        super().__init__(schema, keys)
        self.name = name

    def text(self, indent: str) -> str:
        if self.name == "integer":
            return "number"
        return self.name if isinstance(self.name, str) else str(self.name)

    def joinable(self) -> bool:
        """A non-string ``type`` prints inside a field but breaks string joins, as in the official encoder."""
        return isinstance(self.name, str)


class _Field:
    """A property of an object: its comments, name, ``?`` when optional, and type."""

    __slots__ = ("default", "name", "optional", "type")

    def __init__(self, name: Any, type_: _Type, optional: bool, default: Any) -> None:
        self.name = name
        self.type = type_
        self.optional = optional
        self.default = default

    def text(self, indent: str) -> str:
        out = self.type.comments(indent)
        if self.default is not None:
            d = self.default
            shown = repr(d) if isinstance(d, (int, float)) else json.dumps(d, ensure_ascii=False)
            out += f"{indent}// Default: {shown}\n"
        return f"{out}{indent}{self.name}{'?' if self.optional else ''}: {self.type.text(indent)}"


class _Object(_Type):
    __slots__ = ("additional", "fields")

    def __init__(self, schema: dict[str, Any], defs: _Definitions) -> None:
        super().__init__(schema)
        self.fields: list[_Field] = []
        self.additional: Any = None
        if not schema:
            return
        if "$defs" in schema:
            defs.add(schema["$defs"])
        additional = schema.get("additionalProperties")
        self.additional = _parse(additional, defs) if isinstance(additional, dict) else additional
        if "properties" not in schema:
            return
        properties = schema["properties"]
        if not isinstance(properties, dict):
            raise ToolDeclarationError(f"properties must be an object, not {type(properties).__name__}")
        try:
            required = set(schema.get("required", []))
        except TypeError:
            raise ToolDeclarationError("required must be a list of property names") from None
        for name, prop in properties.items():
            default = prop.get("default") if isinstance(prop, dict) else None
            self.fields.append(_Field(name, _parse(prop, defs), name not in required, default))

    def text(self, indent: str) -> str:
        inner = indent + _INDENT
        ordered = sorted((f for f in self.fields if not f.optional), key=lambda f: f.name)
        ordered += sorted((f for f in self.fields if f.optional), key=lambda f: f.name)
        lines = [f.text(inner) for f in ordered]
        extra = self.additional
        if extra is not None:
            if extra is True:
                shown = "any"
            elif extra is False:
                shown = "never"
            elif isinstance(extra, _Type):
                shown = extra.text(inner)
            else:
                raise ToolDeclarationError(
                    f"additionalProperties must be a boolean or a schema, not {extra!r}"
                )
            lines.append(f"{inner}[k: string]: {shown}")
        if not lines:
            return "{}"
        return "{\n" + _FIELD_SEP.join(lines) + "\n" + indent + "}"


class _Array(_Type):
    __slots__ = ("item",)

    def __init__(self, schema: dict[str, Any], defs: _Definitions) -> None:
        super().__init__(schema, _ARRAY_CONSTRAINTS)
        items = schema.get("items")
        self.item: _Type = _parse(items, defs) if items else _Scalar("any")

    def text(self, indent: str) -> str:
        item = self.item
        inner = indent + _INDENT
        notes = item.comments(inner)
        if not notes:
            return f"Array<{item.text(indent)}>"
        if isinstance(item, _Scalar) and not item.joinable():
            raise ToolDeclarationError(f"array items have a non-string type {item.name!r}")
        return "Array<\n" + notes + inner + item.text(inner) + "\n" + indent + ">"


class _Enum(_Type):
    __slots__ = ("values",)

    def __init__(self, schema: dict[str, Any]) -> None:
        super().__init__(schema)
        self.values: Any = schema["enum"]
        if "type" not in schema:
            return
        declared = schema["type"]
        if isinstance(declared, list):
            if len(declared) == 1:
                declared = declared[0]
            elif len(declared) == 2 and "null" in declared:
                declared = declared[0] if declared[0] != "null" else declared[1]
            else:
                raise ToolDeclarationError(f"an enum of type {declared} is not supported")
        try:
            values = list(self.values)
        except TypeError:
            raise ToolDeclarationError("enum must be a list") from None
        for value in values:
            if value is None:
                continue
            if (
                (declared == "string" and not isinstance(value, str))
                or (declared == "number" and not isinstance(value, (int, float)))
                or (declared == "integer" and not isinstance(value, int))
                or (declared == "boolean" and not isinstance(value, bool))
            ):
                raise ToolDeclarationError(f"enum value {value!r} is not of type {declared}")

    def text(self, indent: str) -> str:
        try:
            values = list(self.values)
        except TypeError:
            raise ToolDeclarationError("enum must be a list") from None
        return " | ".join(f'"{v}"' if isinstance(v, str) else str(v) for v in values)


class _AnyOf(_Type):
    __slots__ = ("options",)

    def __init__(self, schema: dict[str, Any], defs: _Definitions) -> None:
        super().__init__(schema)
        try:
            options = list(schema["anyOf"])
        except TypeError:
            raise ToolDeclarationError("anyOf must be a list of schemas") from None
        self.options = [_parse(option, defs) for option in options]

    def text(self, indent: str) -> str:
        for option in self.options:
            if isinstance(option, _Scalar) and not option.joinable():
                raise ToolDeclarationError(f"an anyOf option has a non-string type {option.name!r}")
        return " | ".join(option.text(indent) for option in self.options)


class _Union(_Type):
    """A ``type`` list: each name maps to a plain TypeScript type, nothing nested is read."""

    __slots__ = ("names",)

    def __init__(self, schema: dict[str, Any]) -> None:
        super().__init__(schema)
        try:
            self.names = [_UNION_NAMES[t] for t in schema["type"]]
        except (KeyError, TypeError):
            raise ToolDeclarationError(f"unsupported type list {schema['type']!r}") from None

    def text(self, indent: str) -> str:
        return " | ".join(self.names)


class _Ref(_Type):
    __slots__ = ("name",)

    def __init__(self, schema: dict[str, Any], defs: _Definitions) -> None:
        super().__init__(schema)
        self.name = defs.name_of(schema["$ref"])

    def text(self, indent: str) -> str:
        return self.name


def _parse(schema: Any, defs: _Definitions) -> _Type:
    """Parse one schema; the first of ``$ref``, ``anyOf``, ``enum``, ``type`` present decides its kind."""
    if isinstance(schema, bool):
        return _Scalar("any" if schema else "null")
    if not isinstance(schema, dict):
        raise ToolDeclarationError(f"a schema must be an object, not {type(schema).__name__}")
    if "$ref" in schema:
        return _Ref(schema, defs)
    if "anyOf" in schema:
        return _AnyOf(schema, defs)
    if "enum" in schema:
        return _Enum(schema)
    if "type" in schema:
        kind = schema["type"]
        if isinstance(kind, list):
            return _Union(schema)
        if kind == "object":
            return _Object(schema, defs)
        if kind == "array":
            return _Array(schema, defs)
        return _Scalar(kind, schema)
    if not schema:
        return _Scalar("any")
    raise ToolDeclarationError(f"a schema needs $ref, anyOf, enum or type: {json.dumps(schema)[:80]}")


def _declare_function(function: dict[str, Any]) -> str:
    """``interface`` lines for ``$defs``, the description as comments, then the ``type NAME = ...`` line."""
    defs = _Definitions()
    parameters = function.get("parameters") or {}
    if not isinstance(parameters, dict):
        raise ToolDeclarationError(f"parameters must be an object, not {type(parameters).__name__}")
    root = _Object(parameters, defs)

    interfaces: list[str] = []
    root_is_interface = defs.self_ref  # decided before $defs are parsed, as the official encoder does
    if root_is_interface:
        body = _FIELD_SEP.join(f.text(_INDENT) for f in root.fields)
        interfaces.append("interface parameters {" + (f"\n{body}\n" if body else "") + "}")
    for def_name, def_schema in list(defs.defs.items()):
        shown = _parse(def_schema, defs).text("")
        if not isinstance(def_schema, dict):
            raise ToolDeclarationError(
                f"$defs/{def_name} is a {type(def_schema).__name__}, not a schema object"
            )
        note = def_schema.get("description", "")
        interfaces.append((_comment(note, "") + "\n" if note else "") + f"interface {def_name} {shown}")

    name = function.get("name", "function")
    signature = "parameters" if root_is_interface else root.text("")
    description = function.get("description")
    parts = [
        "\n".join(interfaces),
        _comment(description, "") if description else "",
        f"type {name} = (_: {signature}) => any;",
    ]
    return "\n".join(p for p in parts if p)
