"""JSON schema to grammar rules in xgrammar's EBNF dialect (start rule ``root``), in pure Python.

What a tool's arguments may be, as the model writes them: JSON with any whitespace between tokens, the
declared properties in the order the schema declares them, and no undeclared property where the schema has
``properties`` and says nothing else (xgrammar's ``strict_mode``). Keywords it cannot express are listed in
:attr:`SchemaRules.loosened` (the grammar is then looser there, never stricter); a schema it cannot convert
at all raises :class:`Unsupported` (the caller falls back to any JSON object, with a note).

Each schema node becomes an expression; objects, arrays and ``$ref`` targets get their own rules, so a
recursive schema is a recursive grammar. String patterns become xgrammar's ``Regex(...)`` builtin (which
``to_gbnf``'s caller turns into any string for GBNF).
"""

from __future__ import annotations

import dataclasses
import json
import re
from collections.abc import Mapping
from typing import Any

from .ebnf import _class_char, quote

__all__ = ["SchemaRules", "Unsupported", "schema_rules"]


class Unsupported(ValueError):
    """A schema this converter cannot turn into a grammar (the message says which keyword)."""


@dataclasses.dataclass(frozen=True)
class SchemaRules:
    """A schema's grammar: rules whose start is ``root``, and the keywords it does not enforce."""

    text: str
    loosened: tuple[str, ...]


#: The JSON building blocks, written once; a grammar carries those it uses.
BASE_RULES: dict[str, str] = {
    "ws": r"[ \n\r\t]*",
    "char": r'[^"\\\u0000-\u001f] | "\\" escape',
    "escape": r'["\\/bfnrt] | "u" [0-9a-fA-F] [0-9a-fA-F] [0-9a-fA-F] [0-9a-fA-F]',
    "string": r'"\"" char* "\""',
    "integer": r'"0" | "-"? [1-9] [0-9]*',
    "number": r'"-"? ("0" | [1-9] [0-9]*) ("." [0-9]+)? ([eE] [+\-]? [0-9]+)?',
    "boolean": r'"true" | "false"',
    "null": r'"null"',
    "value": "object | array | string | number | boolean | null",
    "object": r'"{" ws (member (ws "," ws member)* ws)? "}"',
    "member": r'string ws ":" ws value',
    "array": r'"[" ws (value (ws "," ws value)* ws)? "]"',
}
_USES = {
    name: set(re.findall(r"\b(?:" + "|".join(BASE_RULES) + r")\b", body)) for name, body in BASE_RULES.items()
}
_TYPES = {"string", "integer", "number", "boolean", "null", "object", "array"}
#: Keywords that say nothing about which values are valid.
_ANNOTATIONS = frozenset(
    {"title", "description", "default", "examples", "$schema", "$id", "$comment", "deprecated", "readOnly"}
    | {"writeOnly", "$defs", "definitions", "contentMediaType", "contentEncoding", "nullable"}
)
#: Keywords accepted and not enforced (the grammar is looser there).
_NOT_ENFORCED = (
    *("not", "if", "then", "else", "dependentRequired", "dependentSchemas", "dependencies", "uniqueItems"),
    *("contains", "minContains", "maxContains", "minProperties", "maxProperties", "propertyNames"),
    *("patternProperties", "format", "multipleOf"),
)
_LOWER = ("minimum", "exclusiveMinimum", "minLength", "minItems", "minProperties")
_UPPER = ("maximum", "exclusiveMaximum", "maxLength", "maxItems", "maxProperties")
_MAX_BOUND = 2**31 - 1
_MAX_DEPTH = 64
#: Regex features xgrammar's Regex builtin does not take (lookaround, back-references, anchors inside).
_REGEX_UNSUPPORTED = re.compile(r'\(\?[=!<P]|\\[1-9bBAZzk]|["]')
_MISSING: Any = object()
#: Property names written in JSON as they are (no escapes): those an undeclared key is checked against.
_PLAIN = re.compile(r'[^"\\\x00-\x1f]*')


def schema_rules(schema: Any) -> SchemaRules:
    """The grammar of the JSON values ``schema`` accepts (a dict or a bool); :class:`Unsupported` when it
    cannot be converted."""
    converter = _Converter(schema)
    root = converter.value(schema, 0)
    rules = [f"root ::= {root}", *(f"{name} ::= {body}" for name, body in converter.rules.items())]
    used = set(re.findall(r"\b(?:" + "|".join(BASE_RULES) + r")\b", "\n".join(rules)))
    while True:
        more = used.union(*(_USES[name] for name in used))
        if more == used:
            break
        used = more
    rules.extend(f"{name} ::= {body}" for name, body in BASE_RULES.items() if name in used)
    return SchemaRules("\n".join(rules) + "\n", tuple(sorted(converter.loose)))


def _repeat(expr: str, low: int, high: int | None) -> str:
    """``expr`` repeated low..high times (None: unbounded), in the dialect's shortest spelling."""
    if high == 0:
        return ""
    if (low, high) == (0, None):
        return f"({expr})*"
    if (low, high) == (1, None):
        return f"({expr})+"
    if (low, high) == (0, 1):
        return f"({expr})?"
    return f"({expr}){{{low}, {-1 if high is None else high}}}"


def _bound(schema: Mapping[str, Any], key: str) -> int | None:
    value = schema.get(key)
    if value is None:
        return None
    if not isinstance(value, (int, float)) or isinstance(value, bool) or value < 0:
        raise Unsupported(f"{key} must be a non-negative number, not {value!r}")
    if value > _MAX_BOUND:
        raise Unsupported(f"{key} {value} is too large")
    return int(value)


# ----------------------------------------------------------------------------------------------------------
# Integer ranges as digits


def _same_length(low: str, high: str) -> list[str]:
    """Alternatives for the digit strings from ``low`` to ``high`` (same length, low <= high)."""
    if low == high:
        return [quote(low)]
    if len(low) == 1:
        return [f"[{low}-{high}]"]
    if low[0] == high[0]:
        return [f"{quote(low[0])} ({' | '.join(_same_length(low[1:], high[1:]))})"]
    n = len(low) - 1
    out: list[str] = []
    first, last = int(low[0]), int(high[0])
    if low[1:] == "0" * n:
        first -= 1  # the whole decade of low[0] is in range: it joins the middle
    else:
        out.append(f"{quote(low[0])} ({' | '.join(_same_length(low[1:], '9' * n))})")
    tail_whole = high[1:] == "9" * n
    middle_high = last if tail_whole else last - 1
    if first + 1 <= middle_high:
        out.append(f"[{first + 1}-{middle_high}]" + " [0-9]" * n)
    if not tail_whole:
        out.append(f"{quote(high[0])} ({' | '.join(_same_length('0' * n, high[1:]))})")
    return out


def _naturals(low: int, high: int | None) -> list[str]:
    """Alternatives for the integers low..high (low >= 0; None: unbounded), no leading zeros."""
    out: list[str] = []
    digits = len(str(low))
    top = high if high is not None else 10**digits - 1
    while low <= top:
        end = min(top, 10 ** len(str(low)) - 1)
        out.extend(_same_length(str(low), str(end)))
        low = end + 1
    if high is None:
        out.append(f"[1-9] [0-9]{{{len(str(top))}, -1}}")
    return out


def _unsigned(low: int, high: int | None) -> str:
    """Numbers without sign or exponent from ``low`` to ``high`` (whole bounds; None: unbounded)."""
    fraction = '("." [0-9]+)?'
    if high is None:
        return f"(({' | '.join(_naturals(low, None))}) {fraction})"
    last = f'{quote(str(high))} ("." "0"+)?'  # the upper bound itself: only zeros after the point
    if high == low:
        return f"({last})"
    return f"(({' | '.join(_naturals(low, high - 1))}) {fraction} | {last})"


def _integer(low: int | None, high: int | None) -> str:
    if low is None and high is None:
        return "integer"
    if low is not None and high is not None and low > high:
        raise Unsupported(f"integer range {low}..{high} is empty")
    alts: list[str] = []
    if low is None or low < 0:  # the negative part, as "-" and its absolute value
        most = 1 if high is None or high >= 0 else -high
        negative = _naturals(most, None if low is None else -low)
        alts.append('"-" (' + " | ".join(negative) + ")")
    if high is None or high >= 0:
        alts.extend(_naturals(max(low or 0, 0), high))
    return "(" + " | ".join(alts) + ")"


# ----------------------------------------------------------------------------------------------------------
# Schemas


def _literal(value: Any) -> str:
    """A grammar for exactly this JSON value, with any whitespace inside arrays and objects."""
    if isinstance(value, Mapping):
        members = [
            f'{quote(json.dumps(k, ensure_ascii=False))} ws ":" ws {_literal(v)}' for k, v in value.items()
        ]
        return '"{" ws ' + ' ws "," ws '.join(members) + (' ws "}"' if members else '"}"')
    if isinstance(value, list):
        items = [_literal(v) for v in value]
        return '"[" ws ' + ' ws "," ws '.join(items) + (' ws "]"' if items else '"]"')
    return quote(json.dumps(value, ensure_ascii=False))


def _constraints(schema: Mapping[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in schema.items() if k not in _ANNOTATIONS}


class _Converter:
    def __init__(self, root: Any) -> None:
        self.root = root
        self.rules: dict[str, str] = {}
        self.refs: dict[str, str] = {}
        self.loose: set[str] = set()

    def rule(self, body: str) -> str:
        name = f"s{len(self.rules) + 1}"
        self.rules[name] = body
        return name

    def resolve(self, ref: Any) -> Any:
        if not isinstance(ref, str) or not ref.startswith("#"):
            raise Unsupported(f"$ref {ref!r} is not local to the schema")
        node = self.root
        for part in ref[1:].split("/")[1:]:
            part = part.replace("~1", "/").replace("~0", "~")
            if isinstance(node, Mapping) and part in node:
                node = node[part]
            elif isinstance(node, list) and part.isdigit() and int(part) < len(node):
                node = node[int(part)]
            else:
                raise Unsupported(f"$ref {ref!r} points nowhere")
        return node

    def ref(self, ref: str) -> str:
        """The rule of a ``$ref`` target, made once (so recursive schemas are recursive rules)."""
        if ref not in self.refs:
            name = self.refs[ref] = self.rule("")
            self.rules[name] = self.value(self.resolve(ref), 0)
        return self.refs[ref]

    def other_key(self, names: list[str]) -> str:
        """A JSON string that is none of ``names`` (an undeclared key): a trie of the names, left at the
        first character off it (names that need escapes in JSON are not excluded)."""
        plain = [n for n in names if _PLAIN.fullmatch(n)]

        def node(prefix: str) -> str:
            name = self.rule("")
            children = sorted(
                {n[len(prefix)] for n in plain if n.startswith(prefix) and len(n) > len(prefix)}
            )
            off = "".join(_class_char(c) for c in children)
            alts = [] if prefix in plain else [r'"\""']
            alts += [f'[^"\\\\\\u0000-\\u001f{off}] char* "\\""', r'"\\" escape char* "\""']
            alts += [f"{quote(c)} {node(prefix + c)}" for c in children]
            self.rules[name] = " | ".join(alts)
            return name

        return self.rule(f'"\\"" {node("")}')

    def value(self, schema: Any, depth: int) -> str:
        """An expression for the values ``schema`` accepts."""
        if depth > _MAX_DEPTH:
            raise Unsupported("the schema nests too deep")
        if schema is True or schema == {}:
            return "value"
        if schema is False:
            raise Unsupported("a subschema is false: no value is valid")
        if not isinstance(schema, Mapping):
            raise Unsupported(f"a subschema is not an object: {json.dumps(schema)[:40]}")
        d = depth + 1
        self.loose.update(k for k in _NOT_ENFORCED if k in schema)
        if schema.get("nullable") is True:
            return f"(null | {self.value({k: v for k, v in schema.items() if k != 'nullable'}, d)})"
        if "$ref" in schema:
            rest = _constraints({k: v for k, v in schema.items() if k != "$ref"})
            if not rest:
                return self.ref(schema["$ref"])
            return self.value(_merge(self.resolve(schema["$ref"]), rest, self), d)
        if "const" in schema:
            return _literal(schema["const"])
        if "enum" in schema:
            if not isinstance(schema["enum"], list) or not schema["enum"]:
                raise Unsupported("enum must be a non-empty list")
            return "(" + " | ".join(_literal(v) for v in schema["enum"]) + ")"
        for key in ("anyOf", "oneOf"):
            if key in schema:
                arms = schema[key]
                if not isinstance(arms, list) or not arms:
                    raise Unsupported(f"{key} must be a non-empty list")
                rest = _constraints({k: v for k, v in schema.items() if k != key})
                arms = [_merge(rest, arm, self) for arm in arms] if rest else arms
                return "(" + " | ".join(self.value(arm, d) for arm in arms) + ")"
        if "allOf" in schema:
            merged: Mapping[str, Any] = {k: v for k, v in schema.items() if k != "allOf"}
            for sub in schema["allOf"] if isinstance(schema["allOf"], list) else [False]:
                merged = _merge(merged, sub, self)
            return self.value(merged, d)
        kind = schema.get("type")
        if isinstance(kind, list):
            if not kind:
                return self.value({k: v for k, v in schema.items() if k != "type"}, d)
            return "(" + " | ".join(self.value({**schema, "type": t}, d) for t in kind) + ")"
        if kind is None:
            if {"properties", "additionalProperties", "unevaluatedProperties"} & set(schema):
                kind = "object"
            elif {"items", "prefixItems", "unevaluatedItems"} & set(schema):
                kind = "array"
            else:
                return "value"
        if kind not in _TYPES:
            raise Unsupported(f"unknown type {kind!r}")
        return getattr(self, "_" + kind)(schema, d)  # type: ignore[no-any-return]

    def _string(self, schema: Mapping[str, Any], depth: int) -> str:
        low, high = _bound(schema, "minLength") or 0, _bound(schema, "maxLength")
        if high is not None and low > high:
            raise Unsupported(f"minLength {low} is more than maxLength {high}")
        pattern = schema.get("pattern")
        if pattern is not None:
            if _regex_ok(pattern):
                if low or high is not None:
                    self.loose.add("minLength/maxLength (with a pattern)")
                return f'"\\"" Regex({quote(pattern)}, json_string=true) "\\""'
            self.loose.add("pattern")
        if low == 0 and high is None:
            return "string"
        return f'"\\"" {_repeat("char", low, high)} "\\""'

    def _integer(self, schema: Mapping[str, Any], depth: int) -> str:
        low, high = _range(schema)
        return _integer(None if low is None else _ceil(low), None if high is None else _floor(high))

    def _number(self, schema: Mapping[str, Any], depth: int) -> str:
        bounds = [schema.get(k) for k in ("minimum", "maximum")]
        if (
            "exclusiveMinimum" in schema
            or "exclusiveMaximum" in schema
            or any(b is not None and (not isinstance(b, (int, float)) or b != int(b)) for b in bounds)
        ):
            self.loose.add("minimum/maximum (on numbers: only whole inclusive bounds are enforced)")
            return "number"
        low, high = (None if b is None else _floor(b) for b in bounds)
        if low is None and high is None:
            return "number"
        if low is not None and high is not None and low > high:
            raise Unsupported(f"number range {low}..{high} is empty")
        alts: list[str] = []
        if low is None or low < 0:  # below zero: "-" and the absolute value
            alts.append(
                '"-" ' + _unsigned(0 if high is None or high >= 0 else -high, None if low is None else -low)
            )
        if high is None or high >= 0:
            alts.append(_unsigned(max(low or 0, 0), high))
            if low == 0:  # no negative part, but -0 is zero
                alts.append('"-0" ("." "0"+)?')
        return "(" + " | ".join(alts) + ")"

    def _boolean(self, schema: Mapping[str, Any], depth: int) -> str:
        return "boolean"

    def _null(self, schema: Mapping[str, Any], depth: int) -> str:
        return "null"

    def _object(self, schema: Mapping[str, Any], depth: int) -> str:
        properties = schema.get("properties", {})
        if not isinstance(properties, Mapping):
            raise Unsupported("properties must be an object")
        required = schema.get("required", [])
        if not isinstance(required, list):
            raise Unsupported("required must be a list")
        more = schema.get("additionalProperties", schema.get("unevaluatedProperties", _MISSING))
        if more is _MISSING:
            more = "properties" not in schema
        if "patternProperties" in schema and more is False:
            more = True  # keys matching a pattern are allowed: any key, not enforced
        if set(required) - set(properties) and more is False:
            self.loose.add("required (keys not among properties)")
        extra = None if more is False else self.value(more, depth)
        key = self.other_key(list(properties)) if properties and extra is not None else "string"
        members = [
            (f'{quote(json.dumps(k, ensure_ascii=False))} ws ":" ws {self.value(s, depth)}', k in required)
            for k, s in properties.items()
            if s is not False
        ]
        if any(k in required and s is False for k, s in properties.items()):
            raise Unsupported("a required property's schema is false")
        # tails[i]: the members from i on, each after a comma, then the undeclared ones
        tail = _repeat(f'ws "," ws {key} ws ":" ws {extra}', 0, None) if extra is not None else ""
        tails = [tail]
        for member, needed in reversed(members[1:]):
            piece = f'ws "," ws {member}' if needed else f'(ws "," ws {member})?'
            tails.insert(0, self.rule(f"{piece} {tails[0]}".strip()))
        tails.insert(0, "")  # the first member is never after a comma
        firsts: list[str] = []
        for i, (member, needed) in enumerate(members):
            firsts.append(f"{member} {tails[i + 1]}".strip())
            if needed:
                break
        if not any(needed for _, needed in members) and extra is not None:
            firsts.append(f'{key} ws ":" ws {extra} {tail}')
        if not firsts:
            return self.rule(r'"{" ws "}"')
        body = " | ".join(firsts)
        if any(needed for _, needed in members):
            return self.rule(f'"{{" ws ({body}) ws "}}"')
        return self.rule(f'"{{" ws (({body}) ws)? "}}"')

    def _array(self, schema: Mapping[str, Any], depth: int) -> str:
        items = schema.get("items", _MISSING)
        prefix = schema.get("prefixItems", [])
        if isinstance(items, list):  # draft 4: items as a list is prefixItems
            prefix, items = items, schema.get("additionalItems", _MISSING)
        if items is _MISSING:
            items = schema.get("unevaluatedItems", not prefix)
        if not isinstance(prefix, list):
            raise Unsupported("prefixItems must be a list")
        low, high = _bound(schema, "minItems") or 0, _bound(schema, "maxItems")
        if high is not None and low > high:
            raise Unsupported(f"minItems {low} is more than maxItems {high}")
        prefix = prefix[:high] if high is not None else prefix
        item = None if items is False else self.value(items, depth)
        k = len(prefix)
        if item is None and low > k:
            raise Unsupported(f"minItems {low} is more than the items allowed ({k})")
        if k == 0:
            if item is None or high == 0:
                return self.rule(r'"[" ws "]"')
            more = _repeat(f'ws "," ws {item}', max(low - 1, 0), None if high is None else high - 1)
            content = f"{item} {more}".strip()
        else:
            content = ""
            if item is not None:
                content = _repeat(f'ws "," ws {item}', max(low - k, 0), None if high is None else high - k)
            for i in range(k - 1, -1, -1):
                piece = f"{self.value(prefix[i], depth)} {content}".strip()
                if i == 0:
                    content = piece
                elif i >= low:
                    content = f'(ws "," ws {piece})?'
                else:
                    content = f'ws "," ws {piece}'
        if low == 0:
            return self.rule(f'"[" ws ({content} ws)? "]"')
        return self.rule(f'"[" ws {content} ws "]"')


def _regex_ok(pattern: Any) -> bool:
    """Whether xgrammar's Regex builtin takes the pattern: printable ASCII that Python's ``re`` reads, no
    lookaround, back-references or quote."""
    if not isinstance(pattern, str) or not all(" " <= c <= "~" for c in pattern):
        return False
    if _REGEX_UNSUPPORTED.search(pattern) is not None:
        return False
    try:
        re.compile(pattern)
    except re.error:
        return False
    return True


def _range(schema: Mapping[str, Any]) -> tuple[float | None, float | None]:
    """(lowest, highest) allowed, exclusive bounds stepped inward by one (integers only)."""
    low, high = schema.get("minimum"), schema.get("maximum")
    exclusive_low, exclusive_high = schema.get("exclusiveMinimum"), schema.get("exclusiveMaximum")
    for value in (low, high, exclusive_low, exclusive_high):
        if value is not None and not isinstance(value, (int, float)):
            raise Unsupported(f"a numeric bound is not a number: {value!r}")
    if exclusive_low is True:  # draft 4: a flag on minimum
        exclusive_low, low = low, None
    if exclusive_high is True:
        exclusive_high, high = high, None
    if isinstance(exclusive_low, (int, float)) and not isinstance(exclusive_low, bool):
        step = _floor(exclusive_low) + 1
        low = step if low is None else max(low, step)
    if isinstance(exclusive_high, (int, float)) and not isinstance(exclusive_high, bool):
        step = _ceil(exclusive_high) - 1
        high = step if high is None else min(high, step)
    return low, high


def _floor(x: float) -> int:
    if abs(x) > 2**63:
        raise Unsupported(f"integer bound {x} is too large")
    return int(x // 1)


def _ceil(x: float) -> int:
    return -_floor(-x)


def _merge(a: Any, b: Any, converter: _Converter) -> Mapping[str, Any]:
    """One schema that accepts what both accept, where the keywords combine simply (allOf); else
    :class:`Unsupported`."""
    if a is True or a == {}:
        a = {}
    if b is True:
        b = {}
    if not isinstance(a, Mapping) or not isinstance(b, Mapping):
        raise Unsupported("allOf holds a schema that is not an object")
    if "$ref" in b:
        b = _merge(converter.resolve(b["$ref"]), {k: v for k, v in b.items() if k != "$ref"}, converter)
    out = dict(a)
    for key, value in b.items():
        if key not in out or out[key] == value or key in _ANNOTATIONS:
            out.setdefault(key, value)
        elif key == "properties" and isinstance(value, Mapping) and isinstance(out[key], Mapping):
            props = dict(out[key])
            for name, sub in value.items():
                props[name] = {"allOf": [props[name], sub]} if name in props else sub
            out[key] = props
        elif key == "required" and isinstance(value, list) and isinstance(out[key], list):
            out[key] = out[key] + [r for r in value if r not in out[key]]
        elif key == "type":
            mine = out[key] if isinstance(out[key], list) else [out[key]]
            theirs = value if isinstance(value, list) else [value]
            both = [t for t in mine if t in theirs or (t == "integer" and "number" in theirs)]
            both += [t for t in theirs if t == "integer" and "number" in mine and t not in both]
            if not both:
                raise Unsupported(f"allOf: types {out[key]!r} and {value!r} do not overlap")
            out[key] = both[0] if len(both) == 1 else both
        elif key in _LOWER and isinstance(value, (int, float)):
            out[key] = max(out[key], value)
        elif key in _UPPER and isinstance(value, (int, float)):
            out[key] = min(out[key], value)
        elif key in ("anyOf", "oneOf", "allOf"):
            out["allOf"] = [*out.get("allOf", []), {key: value}]
        else:
            raise Unsupported(f"allOf: cannot combine two values of {key}")
    return out
