"""A Hypothesis strategy for instances that a JSON schema probably accepts (guided by its keywords).

hypothesis-jsonschema does not run with current Hypothesis releases, so the tests guide generation
themselves. The instances need not all be valid: every test takes jsonschema's verdict as the truth and
only uses the generator to reach deep into real schemas.
"""

from __future__ import annotations

from typing import Any

from hypothesis import strategies as st

__all__ = ["instances"]

_SCALARS = st.none() | st.booleans() | st.integers(-50, 50) | st.text(max_size=6)
ANY_JSON = st.recursive(
    _SCALARS,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=4), inner, max_size=3),
    max_leaves=6,
)


def _resolve(root: Any, ref: str) -> Any:
    if not ref.startswith("#"):
        return True
    node = root
    for part in ref[1:].split("/")[1:]:
        part = part.replace("~1", "/").replace("~0", "~")
        if isinstance(node, dict) and part in node:
            node = node[part]
        elif isinstance(node, list) and part.isdigit() and int(part) < len(node):
            node = node[int(part)]
        else:
            return True
    return node


def instances(schema: Any) -> st.SearchStrategy[Any]:
    """Instances guided by the schema (``root`` resolves local ``$ref``)."""
    return _gen(schema, schema, 0)


def _gen(schema: Any, root: Any, depth: int) -> st.SearchStrategy[Any]:
    if schema is True or schema == {}:
        return ANY_JSON if depth < 3 else _SCALARS
    if not isinstance(schema, dict):
        return ANY_JSON
    if depth > 6:
        return st.just({}) if schema.get("type") == "object" else _SCALARS
    if "$ref" in schema and isinstance(schema["$ref"], str):
        target = _resolve(root, schema["$ref"])
        siblings = {k: v for k, v in schema.items() if k != "$ref"}
        if isinstance(target, dict):
            merged = {**target, **{k: v for k, v in siblings.items() if k not in ("$defs", "definitions")}}
            return _gen(merged, root, depth + 1)
        return _gen(target, root, depth + 1)
    if "const" in schema:
        return st.just(schema["const"])
    if isinstance(schema.get("enum"), list) and schema["enum"]:
        return st.sampled_from(schema["enum"])
    for key in ("anyOf", "oneOf"):
        if isinstance(schema.get(key), list) and schema[key]:
            rest = {k: v for k, v in schema.items() if k != key}
            return st.one_of(
                [_gen({**rest, **s} if isinstance(s, dict) else s, root, depth + 1) for s in schema[key]]
            )
    if isinstance(schema.get("allOf"), list) and schema["allOf"]:
        merged = {k: v for k, v in schema.items() if k != "allOf"}
        for sub in schema["allOf"]:
            if isinstance(sub, dict):
                sub = _resolve(root, sub["$ref"]) if isinstance(sub.get("$ref"), str) else sub
                if isinstance(sub, dict):
                    props = {**merged.get("properties", {}), **sub.get("properties", {})}
                    required = list(merged.get("required", [])) + list(sub.get("required", []))
                    merged = {**sub, **merged, "properties": props, "required": required}
        return _gen(merged, root, depth + 1)
    kind = schema.get("type")
    if isinstance(kind, list):
        return st.one_of(
            [_gen({**schema, "type": k}, root, depth) for k in kind if isinstance(k, str)] or [_SCALARS]
        )
    if kind is None:
        if "properties" in schema or "required" in schema:
            kind = "object"
        elif "items" in schema or "prefixItems" in schema:
            kind = "array"
        else:
            return ANY_JSON if depth < 3 else _SCALARS
    if kind == "object":
        return _object(schema, root, depth)
    if kind == "array":
        return _array(schema, root, depth)
    if kind == "string":
        return _string(schema)
    if kind == "integer":
        lo, hi = _bounds(schema, 1)
        return st.integers(lo, hi)
    if kind == "number":
        lo, hi = _bounds(schema, 0)
        return st.integers(int(lo), int(hi)) | st.floats(lo, hi, allow_nan=False, allow_infinity=False)
    if kind == "boolean":
        return st.booleans()
    if kind == "null":
        return st.none()
    return ANY_JSON


def _bounds(schema: dict[str, Any], step: int) -> tuple[int, int]:
    lo, hi = -100, 100
    if isinstance(schema.get("minimum"), (int, float)):
        lo = int(-(-schema["minimum"] // 1))
    if isinstance(schema.get("exclusiveMinimum"), (int, float)):
        lo = int(schema["exclusiveMinimum"] // 1) + 1
    if isinstance(schema.get("maximum"), (int, float)):
        hi = int(schema["maximum"] // 1)
    if isinstance(schema.get("exclusiveMaximum"), (int, float)):
        hi = int(-(-schema["exclusiveMaximum"] // 1)) - 1
    if hi < lo:
        hi = lo
    return lo, min(hi, lo + 10_000)


def _object(schema: dict[str, Any], root: Any, depth: int) -> st.SearchStrategy[Any]:
    props = schema.get("properties") if isinstance(schema.get("properties"), dict) else {}
    required = (
        [k for k in schema.get("required", []) if isinstance(k, str)]
        if isinstance(schema.get("required"), list)
        else []
    )
    fixed = {k: _gen(props.get(k, True), root, depth + 1) for k in required}
    optional = {k: _gen(v, root, depth + 1) for k, v in props.items() if k not in fixed}
    return st.fixed_dictionaries(fixed, optional=optional)


def _array(schema: dict[str, Any], root: Any, depth: int) -> st.SearchStrategy[Any]:
    lo = schema.get("minItems", 0) if isinstance(schema.get("minItems"), int) else 0
    hi = schema.get("maxItems", lo + 3) if isinstance(schema.get("maxItems"), int) else lo + 3
    items = schema.get("items", True)
    strategy = st.lists(_gen(items, root, depth + 1), min_size=lo, max_size=max(lo, min(hi, lo + 3)))
    if schema.get("uniqueItems") is True:
        strategy = st.lists(
            _gen(items, root, depth + 1),
            min_size=lo,
            max_size=max(lo, min(hi, lo + 3)),
            unique_by=lambda v: repr(v),
        )
    prefix = schema.get("prefixItems")
    if isinstance(prefix, list) and prefix:
        return st.tuples(*[_gen(p, root, depth + 1) for p in prefix]).map(list)
    return strategy


def _string(schema: dict[str, Any]) -> st.SearchStrategy[Any]:
    lo = min(schema.get("minLength", 0) if isinstance(schema.get("minLength"), int) else 0, 40)
    hi = min(schema.get("maxLength", lo + 8) if isinstance(schema.get("maxLength"), int) else lo + 8, lo + 40)
    pattern = schema.get("pattern")
    if isinstance(pattern, str):
        # No trailing newline: Python's "$" matches before one, ECMA-262's (JSON Schema's) does not, and
        # jsonschema, the reference here, uses Python's re (a known divergence, in the README).
        try:
            return st.from_regex(pattern, fullmatch=True).filter(
                lambda s: lo <= len(s) <= hi and "\n" not in s
            )
        except Exception:
            pass
    return st.text(min_size=lo, max_size=max(lo, hi))
