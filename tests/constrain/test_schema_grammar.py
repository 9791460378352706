"""The JSON-schema converter's rules, keyword by keyword, without xgrammar: grammar text read by a small
recognizer (each grammar unrolled into a Python regex to a fixed nesting depth), plus what it cannot
convert and what it does not enforce. Agreement with xgrammar's converter is in tests_heavy/constrain."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import kimi_toolparse as ktp
from kimi_toolparse.constrain.ebnf import _TOKEN
from kimi_toolparse.constrain.schema_grammar import Unsupported, schema_rules
from tests.conftest import ROOT

_REPEAT = re.compile(r"\{(\d+),\s*(-?\d+)\}")


def recognizer(grammar: str, depth: int = 10) -> re.Pattern[str]:
    """The grammar as a Python regex: each rule inlined, recursion cut ``depth`` levels down (deeper
    values do not match), ``Regex("p", ...)`` as ``p`` without anchors."""
    rules = dict(line.split(" ::= ", 1) for line in grammar.strip().splitlines())

    def expand(name: str, level: int) -> str:
        if level > depth:
            return "(?!)"
        tokens = _TOKEN.findall(rules[name])
        out: list[str] = []
        i = 0
        while i < len(tokens):
            t = tokens[i]
            if t == "Regex":  # Regex("pattern", json_string=true)
                pattern = json.loads(tokens[i + 2])
                out.append("(?:" + pattern.removeprefix("^").removesuffix("$") + ")")
                i = tokens.index(")", i) + 1
                continue
            if t.startswith('"'):
                out.append(re.escape(json.loads(t)))
            elif t.startswith("["):
                out.append(t)
            elif t[0].isalpha() or t[0] == "_":
                out.append("(?:" + expand(t, level + 1) + ")")
            elif t == "(":
                out.append("(?:")
            else:
                out.append(
                    _REPEAT.sub(lambda m: "{%s,%s}" % (m[1], "" if m[2] == "-1" else m[2]), t).replace(
                        " ", ""
                    )
                )
            i += 1
        return "".join(out)

    return re.compile(expand("root", 0), re.DOTALL)


def accepts(schema: Any, text: str) -> bool:
    return recognizer(schema_rules(schema).text).fullmatch(text) is not None


OBJ = {
    "type": "object",
    "properties": {"city": {"type": "string"}, "days": {"type": "integer"}, "unit": {"enum": ["C", "F"]}},
    "required": ["city"],
}
#: (schema, texts it accepts, texts it rejects)
CASES: list[tuple[Any, list[str], list[str]]] = [
    ({"type": "string"}, ['""', '"a\\"b"', '"\\u00e9é"'], ['"a', "'a'", '"\n"', '"\\x"', "1"]),
    ({"type": "integer"}, ["0", "-7", "120"], ["01", "-0", "1.0", "1e3", '"1"']),
    ({"type": "number"}, ["0", "-0.5", "1e-3", "2E+10"], ["01", ".5", "1.", "+1", "NaN"]),
    ({"type": "boolean"}, ["true", "false"], ["True", "1"]),
    ({"type": "null"}, ["null"], ["None", ""]),
    ({"type": ["string", "null"]}, ['"x"', "null"], ["1"]),
    ({"type": "string", "nullable": True}, ['"x"', "null"], ["1"]),
    (OBJ, ['{"city": "Rome"}', '{ "city" : "Rome" , "days":3 ,"unit":"C" }', '{"city":"a","unit":"F"}'], []),
    (OBJ, [], ["{}", '{"days": 3}', '{"city": 1}', '{"unit": "C", "city": "a"}', '{"city": "a", "x": 1}']),
    ({"type": "object", "properties": {}}, ["{}", "{ }"], ['{"a": 1}']),
    ({"type": "object"}, ["{}", '{"a": [1, {"b": null}]}'], ["[]"]),
    (
        {
            "type": "object",
            "properties": {"a": {"type": "string"}},
            "additionalProperties": {"type": "integer"},
        },
        ['{"a": "x", "b": 1}', '{"b": 1, "ab": 2}', '{"": 3}'],
        ['{"a": 1}', '{"b": "x"}', '{"b": 1, "a": "x"}'],
    ),
    ({"type": "string", "minLength": 2, "maxLength": 3}, ['"ab"', '"a\\nb"', '"abc"'], ['"a"', '"abcd"']),
    ({"type": "string", "pattern": "^[a-z]+-[0-9]{2}$"}, ['"ab-12"'], ['"ab-1"', '"AB-12"']),
    ({"type": "string", "format": "date"}, ['"any text"'], ["1"]),  # not enforced: noted
    ({"enum": ["a", 1, None, [1, {"k": True}]]}, ['"a"', "1", "null", '[1, { "k" : true }]'], ['"b"', "[1]"]),
    ({"const": {"mode": "fast"}}, ['{"mode":"fast"}', '{ "mode": "fast" }'], ['{"mode": "slow"}', "{}"]),
    (
        {"type": "array", "items": {"type": "integer"}, "minItems": 2, "maxItems": 3},
        ["[1, 2]", "[1,2,3]"],
        ["[1]", "[1, 2, 3, 4]", '[1, "2"]'],
    ),
    ({"type": "array"}, ["[]", '[1, "a", [null]]'], ["{}"]),
    (
        {"type": "array", "prefixItems": [{"type": "string"}, {"type": "boolean"}], "minItems": 1},
        ['["a"]', '["a", true]'],
        ["[]", '["a", true, 1]', "[true]"],
    ),
    (
        {"type": "array", "prefixItems": [{"type": "string"}], "items": {"type": "integer"}},
        ["[]", '["a", 1, 2]'],
        ["[1]", '["a", "b"]'],
    ),
    ({"anyOf": [{"type": "string", "maxLength": 1}, {"type": "integer"}]}, ['"a"', "3"], ['"ab"', "null"]),
    ({"oneOf": [{"type": "null"}, {"const": 3}]}, ["null", "3"], ["4"]),
    (
        {
            "type": "object",
            "properties": {"a": {"type": "integer"}, "b": {"type": "integer"}},
            "anyOf": [{"required": ["a"]}, {"required": ["b"]}],
        },
        ['{"a": 1}', '{"b": 2}', '{"a": 1, "b": 2}'],
        ["{}"],
    ),
    (
        {
            "allOf": [
                {"type": "object", "properties": {"a": {"type": "string"}}, "required": ["a"]},
                {"properties": {"b": {"type": "integer"}}, "required": ["b"]},
            ]
        },
        ['{"a": "x", "b": 1}'],
        ['{"a": "x"}', '{"b": 1}'],
    ),
    (
        {
            "$defs": {
                "n": {
                    "type": "object",
                    "properties": {"v": {"type": "integer"}, "next": {"$ref": "#/$defs/n"}},
                }
            },
            "$ref": "#/$defs/n",
        },
        ["{}", '{"v": 1, "next": {"next": {"v": 2}}}'],
        ['{"next": {"v": "x"}}'],
    ),
    (
        {
            "definitions": {"u": {"enum": ["C", "F"]}},
            "type": "object",
            "properties": {"u": {"$ref": "#/definitions/u"}},
        },
        ['{"u": "C"}'],
        ['{"u": "K"}'],
    ),
]


@pytest.mark.parametrize(("schema", "good", "bad"), CASES, ids=[json.dumps(c[0])[:60] for c in CASES])
def test_each_keyword_accepts_exactly_its_values(schema: Any, good: list[str], bad: list[str]) -> None:
    pattern = recognizer(schema_rules(schema).text)
    for text in good:
        assert pattern.fullmatch(text), text
    for text in bad:
        assert not pattern.fullmatch(text), text


@settings(max_examples=200, deadline=None)
@given(
    low=st.none() | st.integers(-1500, 1500),
    high=st.none() | st.integers(-1500, 1500),
    n=st.integers(-3000, 3000),
)
def test_integer_ranges_are_exact(low: int | None, high: int | None, n: int) -> None:
    if low is not None and high is not None and low > high:
        low, high = high, low
    schema: dict[str, Any] = {"type": "integer"}
    schema.update({k: v for k, v in (("minimum", low), ("maximum", high)) if v is not None})
    inside = (low is None or n >= low) and (high is None or n <= high)
    assert accepts(schema, str(n)) is inside
    assert schema_rules(schema).loosened == ()


@settings(max_examples=200, deadline=None)
@given(
    low=st.none() | st.integers(-300, 300),
    high=st.none() | st.integers(-300, 300),
    x=st.floats(-700, 700, allow_nan=False).map(lambda f: round(f, 3)),
)
def test_whole_number_bounds_are_exact(low: int | None, high: int | None, x: float) -> None:
    if low is not None and high is not None and low > high:
        low, high = high, low
    schema: dict[str, Any] = {"type": "number"}
    schema.update({k: v for k, v in (("minimum", low), ("maximum", high)) if v is not None})
    inside = (low is None or x >= low) and (high is None or x <= high)
    for text in {repr(x), str(int(x)) if x == int(x) else repr(x)}:
        if "e" not in text or (low is None and high is None):
            assert accepts(schema, text) is inside, text


def test_exclusive_integer_bounds_step_inward() -> None:
    schema = {"type": "integer", "exclusiveMinimum": 0, "exclusiveMaximum": 10}
    assert [n for n in range(-3, 14) if accepts(schema, str(n))] == list(range(1, 10))
    draft4 = {"type": "integer", "minimum": 0, "exclusiveMinimum": True}
    assert not accepts(draft4, "0") and accepts(draft4, "1")


@pytest.mark.parametrize(
    ("schema", "loosened"),
    [
        ({"type": "string", "format": "email"}, ("format",)),
        ({"format": "date", "multipleOf": 2}, ("format", "multipleOf")),  # on any type
        ({"type": "array", "uniqueItems": True}, ("uniqueItems",)),
        ({"not": {"type": "null"}}, ("not",)),
        ({"type": "integer", "multipleOf": 5}, ("multipleOf",)),
        (
            {"type": "number", "exclusiveMaximum": 1},
            ("minimum/maximum (on numbers: only whole inclusive bounds are enforced)",),
        ),
        ({"type": "string", "pattern": "(?=a)a"}, ("pattern",)),
        ({"type": "string", "pattern": "a+", "maxLength": 3}, ("minLength/maxLength (with a pattern)",)),
        ({"type": "object", "properties": {"not": {"type": "string"}, "format": {}}}, ()),
    ],
)
def test_what_is_not_enforced_is_said(schema: Any, loosened: tuple[str, ...]) -> None:
    assert schema_rules(schema).loosened == loosened


def test_a_pattern_that_cannot_be_expressed_is_any_string() -> None:
    schema = {"type": "string", "pattern": "(?=a)a"}
    assert accepts(schema, '"b"') and "Regex" not in schema_rules(schema).text


@pytest.mark.parametrize(
    ("schema", "message"),
    [
        ({"$ref": "https://example.com/s.json"}, "not local"),
        ({"$ref": "#/$defs/missing"}, "points nowhere"),
        ({"type": "string", "minLength": 10**12}, "minLength"),
        ({"type": "string", "minLength": 5, "maxLength": 2}, "minLength"),
        ({"allOf": [{"type": "string"}, {"type": "integer"}]}, "do not overlap"),
        ({"enum": []}, "enum"),
        ({"type": "uuid"}, "unknown type"),
        ({"type": "integer", "minimum": 5, "maximum": 1}, "empty"),
        ({"type": "object", "properties": {"a": False}, "required": ["a"]}, "false"),
    ],
)
def test_what_cannot_be_converted_raises_unsupported(schema: Any, message: str) -> None:
    with pytest.raises(Unsupported, match=message):
        schema_rules(schema)


def test_grammar_for_falls_back_with_a_note_and_builds_every_format() -> None:
    tools = [
        {"type": "function", "function": {"name": "ok", "parameters": OBJ}},
        {"type": "function", "function": {"name": "far", "parameters": {"$ref": "https://x/s.json"}}},
    ]
    for fmt in ("structural-tag", "ebnf", "gbnf"):
        grammar = ktp.grammar_for(tools, format=fmt)  # type: ignore[arg-type]
        assert [(n.tool, n.kind) for n in grammar.notes] == [("far", "unconstrained")]
        assert "not local" in grammar.notes[0].message
    ebnf = ktp.grammar_for(tools, format="ebnf").text
    assert "args_0_root ::= args_0_s" in ebnf and '"\\"city\\"" args_0_ws ":"' in ebnf
    gbnf = ktp.grammar_for(tools, format="gbnf").text
    assert "_" not in "".join(re.findall(r"^\S+ ::=", gbnf, re.M)) and "{0, -1}" not in gbnf


def test_building_grammars_imports_no_xgrammar() -> None:
    code = (
        "import sys, kimi_toolparse as k\n"
        "t = [{'type': 'function', 'function': {'name': 'f', 'parameters': {'type': 'object'}}}]\n"
        "[k.grammar_for(t, format=f) for f in ('structural-tag', 'ebnf', 'gbnf')]\n"
        "print(sorted(m for m in ('xgrammar', 'torch') if m in sys.modules))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0 and done.stdout == "[]\n", done.stderr
