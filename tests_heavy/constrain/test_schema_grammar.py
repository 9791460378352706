"""Our JSON-schema converter against xgrammar's (the oracle): on every schema case and K2VV tool, the two
grammars accept the same arguments, valid ones (jsf's and the guided Hypothesis strategy's) and broken ones
(a required key dropped, an undeclared key added, a value of the wrong type, every wrong top-level shape).

Where they differ, ours must be the one jsonschema agrees with (on the strict schema: no undeclared keys),
or ours must have said the keyword is not enforced (it is then looser, never stricter). Both grammars run
in xgrammar's matcher; ours is read by ``xgr.Grammar.from_ebnf``.
"""

from __future__ import annotations

import collections
import functools
import json
import warnings
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kimi_toolparse.constrain.schema_grammar import Unsupported, schema_rules
from tests_heavy.constrain.cases import k2vv_requests, schema_cases, strict
from tests_heavy.constrain.xgr_helpers import COMPILER, STOP, xgr
from testsupport.schema_instances import instances as guided

jsonschema = pytest.importorskip("jsonschema")
jsf = pytest.importorskip("jsf")

WRONG_SHAPES: list[Any] = [[], "text", 17, 1.5, None, True, {"__undeclared__": 1}]


#: Keywords tool schemas use that the corpus has few of: each converter on its own shape.
KEYWORDS: list[Any] = [
    {"type": "integer", "minimum": -120, "maximum": 37},
    {"type": "integer", "exclusiveMinimum": 0, "exclusiveMaximum": 1000},
    {"type": "integer", "minimum": 5},
    {"type": "integer", "maximum": -3},
    {"type": "number", "minimum": 0, "maximum": 1},
    {"type": "number", "minimum": -2},
    {"type": "string", "minLength": 2, "maxLength": 5},
    {"type": "string", "pattern": "^[a-z]+-[0-9]{2}$"},
    {"type": ["string", "null"]},
    {"type": "string", "nullable": True},
    {"enum": ["a", 1, None, [1, {"k": True}]]},
    {"const": {"mode": "fast", "level": [1, 2]}},
    {"type": "array", "items": {"type": "integer"}, "minItems": 2, "maxItems": 4},
    {"type": "array", "prefixItems": [{"type": "string"}, {"type": "boolean"}], "minItems": 1},
    {"type": "array", "prefixItems": [{"type": "string"}], "items": {"type": "integer"}, "maxItems": 3},
    {
        "type": "object",
        "properties": {"a": {"type": "string"}, "b": {"type": "integer"}, "c": {"type": "boolean"}},
        "required": ["b"],
    },
    {"type": "object", "properties": {"a": {"type": "string"}}, "additionalProperties": {"type": "integer"}},
    {"type": "object", "properties": {"id": {"type": "integer"}}, "additionalProperties": True},
    {"anyOf": [{"type": "string", "maxLength": 3}, {"type": "integer", "minimum": 0}]},
    {"oneOf": [{"type": "object", "properties": {"x": {"const": 1}}, "required": ["x"]}, {"type": "null"}]},
    {
        "allOf": [
            {"type": "object", "properties": {"a": {"type": "string"}}, "required": ["a"]},
            {"properties": {"b": {"type": "integer"}}, "required": ["b"]},
        ]
    },
    {
        "$defs": {
            "node": {
                "type": "object",
                "properties": {"v": {"type": "integer"}, "next": {"$ref": "#/$defs/node"}},
            }
        },
        "$ref": "#/$defs/node",
    },
    {
        "definitions": {"unit": {"enum": ["C", "F"]}},
        "type": "object",
        "properties": {"city": {"type": "string"}, "unit": {"$ref": "#/definitions/unit"}},
        "required": ["city"],
    },
]


def _all_schemas() -> list[tuple[str, Any]]:
    seen: dict[str, tuple[str, Any]] = {}
    for n, schema in enumerate(KEYWORDS):
        seen.setdefault(json.dumps(schema, sort_keys=True), (f"keywords:{n}", schema))
    for name, schema in schema_cases():
        seen.setdefault(json.dumps(schema, sort_keys=True), (name, schema))
    for n, request in enumerate(k2vv_requests()):
        for tool in request["tools"]:
            schema = tool["function"].get("parameters")
            seen.setdefault(
                json.dumps(schema, sort_keys=True), (f"k2vv:{n}:{tool['function']['name']}", schema)
            )
    return list(seen.values())


SCHEMAS = _all_schemas()


@functools.cache
def _grammars(key: str) -> tuple[Any, Any, tuple[str, ...]]:
    """(ours compiled, xgrammar's compiled, what ours does not enforce); None where one cannot convert."""
    schema = json.loads(key)
    try:
        rules = schema_rules(schema)
        ours, loose = COMPILER.compile_grammar(xgr.Grammar.from_ebnf(rules.text)), rules.loosened
    except Unsupported:
        ours, loose = None, ()
    try:
        theirs = COMPILER.compile_grammar(
            xgr.Grammar.from_json_schema(key, any_whitespace=True, strict_mode=True)
        )
    except Exception:  # xgrammar raises several kinds
        theirs = None
    return ours, theirs, loose


def _accepts(compiled: Any, text: str) -> bool:
    matcher = xgr.GrammarMatcher(compiled)
    return bool(matcher.accept_string(text)) and bool(matcher.accept_token(STOP))


def _mutations(schema: Any, value: Any) -> list[Any]:
    """Broken variants of a valid instance: a required key dropped, an undeclared key, a wrong type."""
    out: list[Any] = list(WRONG_SHAPES)
    if isinstance(value, dict) and isinstance(schema, dict):
        for key in schema.get("required", []):
            if key in value:
                out.append({k: v for k, v in value.items() if k != key})
        out.append({**value, "__undeclared__": 1})
        for key, v in value.items():
            out.append({**value, key: 17 if isinstance(v, str) else "text"})
    return out


def _jsf(schema: Any, checker: Any, n: int = 4) -> list[Any]:
    out: list[Any] = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            faker = jsf.JSF(strict(schema))
            for _ in range(3 * n):
                value = faker.generate()
                if checker.is_valid(value) and value not in out:
                    out.append(value)
        except Exception:  # jsf cannot read some schemas
            pass
    return out[:n]


Tally = collections.Counter[str]


def compare(name: str, schema: Any, values: list[Any], tally: Tally) -> None:
    """Run ours and xgrammar's on each text of ``values``; every disagreement must be explained."""
    ours, theirs, loose = _grammars(json.dumps(schema))
    if ours is None or theirs is None:
        tally["not converted: ours" if ours is None else "not converted: xgrammar"] += 1
        return
    checker = jsonschema.Draft202012Validator(_truth(schema))
    for value in values:
        for text in (json.dumps(value, ensure_ascii=False), json.dumps(value, separators=(",", ":"))):
            a, b = _accepts(ours, text), _accepts(theirs, text)
            tally["checked"] += 1
            if a == b:
                continue
            valid = checker.is_valid(value)
            tally[f"differ: ours {'accepts' if a else 'rejects'}, {'valid' if valid else 'invalid'}"] += 1
            assert a == valid or (a and loose), (name, text, {"ours": a, "xgrammar": b, "valid": valid})


def _truth(schema: Any) -> Any:
    """The strict schema with OpenAPI's ``nullable: true`` read as "or null", as ours reads it."""
    if isinstance(schema, list):
        return [_truth(s) for s in schema]
    if not isinstance(schema, dict):
        return schema
    out = {k: _truth(v) for k, v in strict(schema).items() if k != "nullable"}
    return {"anyOf": [{"type": "null"}, out]} if schema.get("nullable") is True else out


def test_ours_agrees_with_xgrammar_on_every_schema() -> None:
    tally: Tally = collections.Counter()
    for name, schema in SCHEMAS:
        checker = jsonschema.Draft202012Validator(_truth(schema))
        valid = _jsf(schema, checker)
        compare(name, schema, valid + [m for v in valid for m in _mutations(schema, v)], tally)
    print(f"\n{len(SCHEMAS)} schemas: " + ", ".join(f"{k} {v}" for k, v in sorted(tally.items())))
    assert tally["checked"] > 2000
    assert tally["not converted: ours"] <= 1  # minLength 10**12


@settings(max_examples=400, deadline=None, suppress_health_check=list(HealthCheck), database=None)
@given(data=st.data(), index=st.integers(0, len(SCHEMAS) - 1))
def test_ours_agrees_with_xgrammar_on_guided_instances(data: st.DataObject, index: int) -> None:
    name, schema = SCHEMAS[index]
    value = data.draw(guided(schema))
    compare(name, schema, [value, *_mutations(schema, value)], collections.Counter())
