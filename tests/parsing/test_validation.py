"""Per-call validation and the schema module, on the 212 real tool schemas and on hand-made cases.

The reference verdict is ``jsonschema``'s Draft 2020-12 validator (what Moonshot's vendor verifier uses):
instances generated from each schema and mutated copies of them must get the same verdict, with the same
set of (JSON path, keyword) errors.
"""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kimi_toolparse import Code, StreamParser, Tools, parse
from kimi_toolparse.parsing.schemas import CompiledSchema, SchemaBroken, json_path
from kimi_toolparse.strategies import marker_soup
from testsupport.schema_instances import instances

from ..conftest import REFERENCE

jsonschema = pytest.importorskip("jsonschema", reason="the reference verdict needs jsonschema (test extra)")

CASES_DIR = REFERENCE / "json_schema_cases" / "validator_cases"
SB, SE = "<|tool_calls_section_begin|>", "<|tool_calls_section_end|>"
CB, AB, CE = "<|tool_call_begin|>", "<|tool_call_argument_begin|>", "<|tool_call_end|>"


def real_schemas() -> list[tuple[str, Any]]:
    out: list[tuple[str, Any]] = []
    for f in sorted(CASES_DIR.glob("*/valid.jsonl")):
        for i, line in enumerate(f.read_text(encoding="utf-8").splitlines()):
            if line.strip():
                out.append((f"{f.parent.name}:{i + 1}", json.loads(line)))
    return out


SCHEMAS = real_schemas()


def reference(schema: Any, instance: Any) -> set[tuple[str, str]]:
    """jsonschema's (path, keyword) for every error; the root ``$id`` dropped as our module does."""
    if isinstance(schema, dict) and "$id" in schema:
        schema = {k: v for k, v in schema.items() if k != "$id"}
    cls = jsonschema.validators.validator_for(schema, default=jsonschema.Draft202012Validator)
    validator = cls(schema)
    return {(e.json_path, str(e.validator)) for e in validator.iter_errors(instance)}


WRONG = st.sampled_from([None, True, 1.5, 7, "x", [], {"k": 1}])


@st.composite
def mutated(draw: st.DrawFn, value: Any) -> Any:
    """A copy of value with one nested value replaced, one key removed or one key added."""
    value = copy.deepcopy(value)
    node: Any = value
    steps = draw(st.integers(0, 3))
    for _ in range(steps):
        if isinstance(node, dict) and node:
            key = draw(st.sampled_from(sorted(node)))
            if not isinstance(node[key], (dict, list)) or not node[key]:
                break
            node = node[key]
        elif isinstance(node, list) and node:
            nxt = node[draw(st.integers(0, len(node) - 1))]
            if not isinstance(nxt, (dict, list)) or not nxt:
                break
            node = nxt
        else:
            break
    action = draw(st.sampled_from(["replace", "drop", "add"]))
    if isinstance(node, dict) and node and action != "add":
        key = draw(st.sampled_from(sorted(node)))
        if action == "drop":
            del node[key]
        else:
            node[key] = draw(WRONG)
    elif isinstance(node, dict):
        node["__extra__"] = draw(WRONG)
    elif isinstance(node, list) and node:
        node[draw(st.integers(0, len(node) - 1))] = draw(WRONG)
    else:
        return draw(WRONG)
    return value


@pytest.mark.parametrize(("name", "schema"), SCHEMAS, ids=[n for n, _ in SCHEMAS])
def test_real_schema_agrees_with_jsonschema(name: str, schema: Any) -> None:
    compiled = CompiledSchema(schema)
    assert compiled.broken is None, f"{name} must compile: {compiled.broken}"
    strategy = instances(schema)

    @settings(max_examples=4, deadline=None, database=None, suppress_health_check=list(HealthCheck))
    @given(st.data())
    def run(data: st.DataObject) -> None:
        good = data.draw(strategy)
        assert compiled.is_valid(good) == (not reference(schema, good))
        bad = data.draw(mutated(good))
        want = reference(schema, bad)
        assert compiled.is_valid(bad) == (not want)
        got = {(v.path, v.keyword) for v in compiled.violations(bad, limit=100)}
        # Same keywords; same paths, except that a ``false`` subschema is reported at the value it refuses
        # (jsonschema reports it at the parent, and sometimes without a keyword).
        assert {k for _, k in got} >= {k for _, k in want if k != "None"}
        assert all(any(p == w or p.startswith((w + ".", w + "[")) for w, _ in want) for p, _ in got)
        assert {k for _, k in got} <= {k for _, k in want} | {"false", "items"}

    run()


def test_problems_carry_path_keyword_and_message() -> None:
    tools = [
        {
            "type": "function",
            "function": {
                "name": "book",
                "parameters": {
                    "type": "object",
                    "properties": {
                        "guests": {"type": "array", "items": {"$ref": "#/$defs/guest"}},
                        "room": {"enum": ["single", "double"]},
                    },
                    "required": ["guests"],
                    "additionalProperties": False,
                    "$defs": {"guest": {"type": "object", "required": ["name"]}},
                },
            },
        }
    ]
    args = '{"guests": [{"name": "A"}, {"age": 3}], "room": "suite", "pet": true}'
    m = parse(SB + CB + "functions.book:0" + AB + args + CE + SE, tools=tools)
    call = m.tool_calls[0]
    assert call.valid is False
    got = {(p.code, p.path, p.keyword) for p in call.problems or ()}
    assert got == {
        (Code.SCHEMA_VIOLATION, "$.guests[1]", "required"),
        (Code.SCHEMA_VIOLATION, "$.room", "enum"),
        (Code.SCHEMA_VIOLATION, "$", "additionalProperties"),
    }
    assert all(p.message for p in call.problems or ())
    violations = [d for d in m.diagnostics if d.code is Code.SCHEMA_VIOLATION]
    assert len(violations) == 3 and any("$.guests[1] (required)" in d.message for d in violations)
    # the OpenAI view is unchanged
    assert m.to_openai()["tool_calls"][0]["function"] == {"name": "book", "arguments": args}
    dumped = call.model_dump()
    assert {"code": "schema_violation", "path": "$.room", "keyword": "enum"}.items() <= next(
        p for p in dumped["problems"] if p["path"] == "$.room"
    ).items()


def test_without_tools_calls_are_not_validated() -> None:
    m = parse(SB + CB + "functions.f:0" + AB + "[1]" + CE + SE)
    assert m.tool_calls[0].problems is None and m.tool_calls[0].valid is None


@pytest.mark.parametrize(
    ("args", "code"),
    [
        ('{"city": "Rome"}', None),
        ('{"city": "Rome"', Code.INVALID_JSON),
        ('"Rome"', Code.ARGUMENTS_NOT_OBJECT),
        ("[1, 2]", Code.ARGUMENTS_NOT_OBJECT),
        ('{"town": "Rome"}', Code.SCHEMA_VIOLATION),
    ],
)
def test_each_failure_has_its_code(args: str, code: Code | None) -> None:
    tools = [
        {
            "type": "function",
            "function": {
                "name": "get_weather",
                "parameters": {
                    "type": "object",
                    "properties": {"city": {"type": "string"}},
                    "required": ["city"],
                },
            },
        }
    ]
    call = parse(SB + CB + "functions.get_weather:0" + AB + args + CE + SE, tools=tools).tool_calls[0]
    assert [p.code for p in call.problems or ()] == ([] if code is None else [code])
    unknown = parse(SB + CB + "functions.nope:0" + AB + args + CE + SE, tools=tools).tool_calls[0]
    assert [p.code for p in unknown.problems or ()] == [Code.UNKNOWN_TOOL]


def test_streamed_call_end_carries_the_verdict() -> None:
    tools = [
        {"type": "function", "function": {"name": "f", "parameters": {"type": "object", "required": ["a"]}}}
    ]
    parser = StreamParser(tools=tools)
    events = []
    for ch in SB + CB + "functions.f:0" + AB + '{"b": 1}' + CE + SE:
        events += parser.feed(ch)
    events += parser.close()
    end = next(e for e in events if type(e).__name__ == "ToolCallEnd")
    assert [(p.path, p.keyword) for p in end.call.problems or ()] == [("$", "required")]


def test_schemas_are_compiled_once_per_tool_list() -> None:
    tools = Tools([{"type": "function", "function": {"name": "f", "parameters": {"type": "object"}}}])
    parse(SB + CB + "functions.f:0" + AB + "{}" + CE + SE, tools=tools)
    compiled = tools._by_name["f"]._compiled
    assert compiled is not None
    parse(SB + CB + "functions.f:0" + AB + '{"x": 1}' + CE + SE, tools=tools)
    assert tools._by_name["f"]._compiled is compiled


@pytest.mark.parametrize(
    "schema",
    [{"$ref": "#/$defs/missing"}, {"type": "varchar"}, {"properties": {"a": {"$ref": "#/nowhere"}}}],
)
def test_broken_schema_cannot_complete(schema: Any) -> None:
    compiled = CompiledSchema(schema)
    assert compiled.broken
    with pytest.raises(SchemaBroken):
        compiled.is_valid({})
    tools = [{"type": "function", "function": {"name": "f", "parameters": schema}}]
    call = parse(SB + CB + "functions.f:0" + AB + "{}" + CE + SE, tools=tools).tool_calls[0]
    assert [p.code for p in call.problems or ()] == [Code.SCHEMA_UNCHECKED]


def test_remote_refs_are_never_fetched() -> None:
    compiled = CompiledSchema({"$ref": "https://example.invalid/schema.json"})
    assert compiled.broken and "not fetched" in compiled.broken


def test_root_id_that_is_no_uri_is_ignored() -> None:
    compiled = CompiledSchema({"$id": "my tool args", "type": "object", "required": ["a"]})
    assert compiled.broken is None and not compiled.is_valid({})


def test_json_path_format() -> None:
    assert json_path(["a", 0, "b c", "it's", "ü"]) == "$.a[0]['b c']['it\\'s']['ü']"


JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=5),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3),
    max_leaves=12,
)
KEYWORDS = st.sampled_from(
    [
        "type",
        "properties",
        "required",
        "$ref",
        "$defs",
        "items",
        "anyOf",
        "enum",
        "additionalProperties",
        "unevaluatedProperties",
        "minimum",
        "pattern",
        "$id",
        "definitions",
        "not",
        "const",
    ]
)
SCHEMA_LIKE = st.one_of(
    st.booleans(),
    st.dictionaries(KEYWORDS | st.text(max_size=4), JSON_VALUES, max_size=5),
)


@settings(max_examples=150, deadline=None)
@given(schemas=st.lists(SCHEMA_LIKE, min_size=1, max_size=3), args=JSON_VALUES)
def test_any_object_or_boolean_schema_never_makes_parse_raise(schemas: list[Any], args: Any) -> None:
    tools = [
        {"type": "function", "function": {"name": f"t{i}", "parameters": s}} for i, s in enumerate(schemas)
    ]
    raw = (
        SB
        + CB
        + "call_1"
        + AB
        + json.dumps(args)
        + CE
        + CB
        + "functions.t0:1"
        + AB
        + json.dumps(args)
        + CE
        + SE
    )
    m = parse(raw, tools=tools)
    assert len(m.tool_calls) == 2
    assert m.tool_calls[1].name == "t0" and m.tool_calls[1].problems is not None
    if m.tool_calls[0].name is not None:
        assert m.tool_calls[0].name in {f"t{i}" for i in range(len(schemas))}


def test_schema_matching_needs_no_jsonschema_package(monkeypatch: pytest.MonkeyPatch) -> None:
    """Issue 12: the default install resolves and validates; the jsonschema package plays no part."""
    import sys

    monkeypatch.setitem(sys.modules, "jsonschema", None)  # any import of it now fails
    tools = [
        {
            "type": "function",
            "function": {
                "name": "read",
                "parameters": {
                    "type": "object",
                    "properties": {"path": {"type": "string"}},
                    "required": ["path"],
                },
            },
        },
        {
            "type": "function",
            "function": {
                "name": "grep",
                "parameters": {
                    "type": "object",
                    "properties": {"pattern": {"type": "string"}},
                    "required": ["pattern"],
                },
            },
        },
    ]
    m = parse(SB + CB + "call_3" + AB + '{"path": "/x"}' + CE + SE, tools=tools)
    assert m.tool_calls[0].name == "read" and m.finish_reason == "tool_calls"
    assert m.tool_calls[0].problems == ()


PROPERTY_TOOLS = [
    {
        "type": "function",
        "function": {"name": "f", "parameters": {"type": "object", "properties": {"a": {}}}},
    },
    {"type": "function", "function": {"name": "g", "parameters": {"type": "object", "required": ["a"]}}},
    {"type": "function", "function": {"name": "exec"}},
]


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(raw=marker_soup(max_pieces=40), cut=st.integers(0, 200))
def test_validation_invariants(raw: str, cut: int) -> None:
    """Problems: None exactly without tools; valid iff no problems; the same streamed as one-shot;
    every problem code is a validation code; the OpenAI view does not depend on validation."""
    plain = parse(raw)
    checked = parse(raw, tools=PROPERTY_TOOLS)
    assert all(c.problems is None for c in plain.tool_calls)
    assert all(c.problems is not None and c.valid is (not c.problems) for c in checked.tool_calls)
    codes = {
        Code.UNRESOLVED_NAME,
        Code.UNKNOWN_TOOL,
        Code.INVALID_JSON,
        Code.ARGUMENTS_NOT_OBJECT,
        Code.SCHEMA_VIOLATION,
        Code.SCHEMA_UNCHECKED,
    }
    assert all(p.code in codes for c in checked.tool_calls for p in c.problems or ())
    parser = StreamParser(tools=Tools(PROPERTY_TOOLS))
    parser.feed(raw[:cut])
    parser.feed(raw[cut:])
    parser.close()
    assert [c.problems for c in parser.message.tool_calls] == [c.problems for c in checked.tool_calls]
    for a, b in zip(plain.tool_calls, checked.tool_calls, strict=True):
        if a.name is not None and a.name == b.name:
            assert a.to_openai() == b.to_openai()


def test_older_drafts_follow_their_schema_keyword() -> None:
    draft7 = {"$schema": "http://json-schema.org/draft-07/schema#", "items": [{"type": "string"}]}
    compiled = CompiledSchema(draft7)
    assert compiled.broken is None  # tuple-form items is valid draft 7, not 2020-12
    assert compiled.is_valid(["a", 1]) and not compiled.is_valid([1])
    assert CompiledSchema({"items": [{"type": "string"}]}).broken  # 2020-12 by default


UNREADABLE_TOP_LEVELS = [
    {"$ref": "#/$defs/missing", "type": "object", "properties": {"path": {"type": "string"}}},
    {"$ref": "https://example.invalid/read.json", "properties": {"path": {}}},
    {"$ref": "other.json#/a", "properties": {"path": {}}},
    {"$ref": "#anchor", "properties": {"path": {}}},
    {"$ref": "#/$defs/A", "$defs": {"A": {"$ref": "#/$defs/gone", "properties": {"path": {}}}}},
    {"$ref": "#/$defs/A", "$defs": {"A": {"$ref": "#/$defs/A/properties/x", "properties": {"path": {}}}}},
]


@pytest.mark.parametrize("schema", UNREADABLE_TOP_LEVELS)
@pytest.mark.parametrize("args", [{}, {"path": "/x"}, {"file": "/x", "other": 1}])
def test_unresolvable_top_level_ref_is_a_candidate_whatever_keys(schema: Any, args: Any) -> None:
    """Rule 11: a top-level $ref chain that resolves nowhere leaves the top level unknown; the tool's check
    cannot complete, so it is a candidate (reported), never refused by the properties written beside it."""
    tools = Tools([{"type": "function", "function": {"name": "read", "parameters": schema}}])
    assert tools.candidates(args) == ([], ["read"])
    m = parse(SB + CB + "call_3" + AB + json.dumps(args) + CE + SE, tools=tools)
    assert m.tool_calls[0].name == "read"
    assert [d.code for d in m.diagnostics][:2] == [Code.SCHEMA_UNCHECKED, Code.DRIFTED_ID]


_X_ONLY = {"type": "object", "properties": {"x": {}}}


@pytest.mark.parametrize(
    ("schema", "args", "verdict"),
    [
        # a pointer that resolves, percent-encoded as a URI fragment: the strict reading follows it
        ({"$ref": "#/$defs/a%20b", "$defs": {"a b": _X_ONLY}}, {"x": 1}, True),
        ({"$ref": "#/$defs/a%20b", "$defs": {"a b": _X_ONLY}}, {"y": 1}, False),
        # ~1 and ~0 escapes in a pointer
        ({"$ref": "#/$defs/a~1b~0", "$defs": {"a/b~": _X_ONLY}}, {"y": 1}, False),
        ({"$ref": "#/$defs/a~1b~0", "$defs": {"a/b~": _X_ONLY}}, {"x": 1}, True),
        # the root itself: the properties written there are the top level
        ({"$ref": "#", "type": "object", "properties": {"x": {}}}, {"x": 1}, True),
    ],
)
def test_resolvable_top_level_refs_are_read_strictly(schema: Any, args: Any, verdict: bool) -> None:
    tools = Tools([{"type": "function", "function": {"name": "f", "parameters": schema}}])
    assert tools.candidates(args) == ((["f"], []) if verdict else ([], []))


@pytest.mark.parametrize(
    "schema",
    [
        {"type": "varchar", "properties": {"sql": {}}, "required": ["sql"]},
        {"type": "object", "properties": {"sql": {"type": "strin"}}, "required": "sql"},
        {"properties": {"sql": {}}, "minProperties": -1},
    ],
)
def test_schema_invalid_under_the_meta_schema_is_a_candidate_whatever_the_arguments(schema: Any) -> None:
    """Rule 11 (revision 7): whatever the arguments, such a tool is a candidate, except that the strict
    top-level reading still refuses keys outside its properties."""
    tools = Tools([{"type": "function", "function": {"name": "q", "parameters": schema}}])
    for args in ({}, {"sql": 1}, {"sql": "select 1"}):
        assert tools.candidates(args) == ([], ["q"])
    assert tools.candidates({"table": "t"}) == ([], [])
