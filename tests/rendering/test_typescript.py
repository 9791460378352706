"""The TypeScript-style tool declaration of K2.5+: the official encoder's 213 recorded outputs, its rules."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kimi_toolparse.rendering.prompt import render
from kimi_toolparse.rendering.typescript import ToolDeclarationError, deep_sort, render_tools_typescript

from ..conftest import REFERENCE

TS_ROWS = REFERENCE / "ts_declarations.jsonl"


def _rows() -> list[dict[str, Any]]:
    with TS_ROWS.open(encoding="utf-8") as f:
        return [json.loads(line) for line in f]


def _tool(name: str, parameters: Any, description: str = "A tool.") -> dict[str, Any]:
    return {
        "type": "function",
        "function": {"name": name, "description": description, "parameters": parameters},
    }


def test_every_recorded_declaration_matches() -> None:
    rows = _rows()
    assert len(rows) == 213
    matched = failed = 0
    for row in rows:
        if row["error"]:
            with pytest.raises(ToolDeclarationError):
                render_tools_typescript(row["tools"])
            failed += 1
        else:
            assert render_tools_typescript(row["tools"]) == row["tools_ts_str"], row["source"]
            matched += 1
    assert matched + failed == 213 and failed >= 1


def test_where_the_encoder_fails_the_k25_prompt_declares_json() -> None:
    for row in _rows():
        if not row["error"]:
            continue
        # our error names the same thing the official encoder's does
        with pytest.raises(ToolDeclarationError) as info:
            render_tools_typescript(row["tools"])
        assert row["error"].split(": ", 1)[1].split(" (")[0] in str(info.value)
        for model in ("kimi-k2.5", "kimi-k2.6", "kimi-k2.7-code"):
            prompt = render([{"role": "user", "content": "hi"}], row["tools"], model=model)
            declared = json.dumps(row["tools"], ensure_ascii=False, separators=(",", ":"), sort_keys=True)
            assert prompt.startswith(f"<|im_system|>tool_declare<|im_middle|>{declared}<|im_end|>")


def test_k25_prompt_carries_the_recorded_declaration() -> None:
    for row in _rows()[::17]:
        if row["error"]:
            continue
        prompt = render([{"role": "user", "content": "hi"}], row["tools"], model="kimi-k2.6")
        assert prompt.startswith(f"<|im_system|>tool_declare<|im_middle|>{row['tools_ts_str']}<|im_end|>")


def test_several_tools_are_one_namespace_in_given_order() -> None:
    tools = [
        _tool("b_tool", {"type": "object", "properties": {"x": {"type": "integer"}}, "required": ["x"]}),
        {"type": "_plugin", "_plugin": {"name": "browser"}},
        _tool("a_tool", {"type": "object", "properties": {}}, description="Line one.\n\nLine three."),
    ]
    assert render_tools_typescript(tools) == (
        "# Tools\n\n## functions\nnamespace functions {\n"
        "// A tool.\ntype b_tool = (_: {\n  x: number\n}) => any;\n"
        "// Line one.\n\n// Line three.\ntype a_tool = (_: {}) => any;\n"
        "}\n"
    )


def test_no_function_tools_declare_nothing() -> None:
    assert render_tools_typescript([]) == ""
    assert render_tools_typescript([{"type": "_plugin", "_plugin": {}}]) == ""
    assert render_tools_typescript([{"type": "function", "function": {}}]) == ""
    # the template then falls back to the JSON list
    prompt = render(
        [{"role": "user", "content": "x"}], [{"type": "_plugin", "_plugin": {}}], model="kimi-k2.5"
    )
    assert prompt.startswith(
        '<|im_system|>tool_declare<|im_middle|>[{"_plugin":{},"type":"_plugin"}]<|im_end|>'
    )


def test_comments_defaults_and_constraints() -> None:
    parameters = {
        "type": "object",
        "properties": {
            "q": {"type": "string", "description": "Query\nsecond line", "maxLength": 9, "pattern": "^a"},
            "n": {"type": "integer", "default": 3, "minimum": 1},
            "ratio": {"type": "number", "default": 0.5},
            "flag": {"type": "boolean", "default": False},
            "mode": {"type": "string", "enum": ["a", "b"], "default": "a"},
            "tags": {"type": "array", "items": {"type": "string", "description": "one tag"}, "minItems": 1},
        },
        "required": ["q"],
    }
    assert render_tools_typescript([_tool("f", parameters)]) == (
        "# Tools\n\n## functions\nnamespace functions {\n// A tool.\ntype f = (_: {\n"
        "  // Query\n  // second line\n  // maxLength: 9, pattern: ^a\n  q: string,\n"
        "  // Default: False\n  flag?: boolean,\n"
        '  // Default: "a"\n  mode?: "a" | "b",\n'
        "  // minimum: 1\n  // Default: 3\n  n?: number,\n"
        "  // Default: 0.5\n  ratio?: number,\n"
        "  // minItems: 1\n  tags?: Array<\n    // one tag\n    string\n  >\n"
        "}) => any;\n}\n"
    )


@pytest.mark.parametrize(
    "parameters",
    [
        {"type": "object", "properties": {"x": {"description": "no type"}}},  # not a schema the encoder knows
        {"type": "object", "properties": {"x": {"type": ["string", "date"]}}},  # unknown name in a type list
        {
            "type": "object",
            "properties": {"x": {"enum": ["a", 1], "type": "string"}},
        },  # enum value of wrong type
        {"type": "object", "properties": {"x": {"enum": [1], "type": ["integer", "string"]}}},
        {"type": "object", "properties": {"x": {"$ref": "#/definitions/X"}}},  # only #/$defs/ refs
        {"type": "object", "additionalProperties": "yes"},
        {"type": "object", "properties": {"x": "string"}},
        {"type": "object", "properties": {"x": {"type": "string", "description": 5}}},
        {"type": "object", "properties": ["x"]},
        {"type": "object", "properties": {"x": {"type": "string"}}, "required": None},
        ["not", "an", "object"],
    ],
)
def test_encoder_failures_fall_back_to_json(parameters: Any) -> None:
    tools = [_tool("f", parameters)]
    with pytest.raises(ToolDeclarationError):
        render_tools_typescript(tools)
    prompt = render([{"role": "user", "content": "x"}], tools, model="kimi-k2.5")
    assert prompt.startswith("<|im_system|>tool_declare<|im_middle|>[{")


def test_ref_order_matters_as_in_the_encoder() -> None:
    # $defs of a nested object register when that object is parsed: a $ref before it cannot see them
    late = {
        "type": "object",
        "properties": {
            "a": {"$ref": "#/$defs/X"},
            "b": {"type": "object", "$defs": {"X": {"type": "string"}}, "properties": {}},
        },
    }
    with pytest.raises(ToolDeclarationError):
        render_tools_typescript([_tool("f", late)])
    early = {**late, "properties": {"a": late["properties"]["b"], "b": {"$ref": "#/$defs/X"}}}
    assert "interface X string\n" in render_tools_typescript([_tool("f", early)])


def test_self_reference_makes_the_root_an_interface() -> None:
    parameters = {
        "type": "object",
        "properties": {"z_child": {"$ref": "#"}, "a_name": {"type": "string"}},
        "required": ["a_name"],
        "additionalProperties": False,
    }
    text = render_tools_typescript([_tool("tree", parameters)])
    # the root interface keeps the (sorted) property order and drops additionalProperties
    assert "interface parameters {\n  a_name: string,\n  z_child?: parameters\n}\n" in text
    assert "type tree = (_: parameters) => any;" in text


def test_deep_sort_sorts_every_dict_and_keeps_lists() -> None:
    value = {"b": [{"d": 1, "c": 2}, 3], "a": {"z": None, "y": {"x": 1, "w": 2}}}
    out = deep_sort(value)
    assert json.dumps(out) == '{"a": {"y": {"w": 2, "x": 1}, "z": null}, "b": [{"c": 2, "d": 1}, 3]}'
    assert value["b"][0] == {"d": 1, "c": 2}  # the input is not touched


def test_sort_keys_false_keeps_the_given_order() -> None:
    params = {"type": "object", "properties": {"b": {"type": "string"}, "a": {"type": "string"}}}
    tool = {
        "function": {"name": "f", "parameters": {**params, "$defs": {"Z": {"type": "string"}}}},
        "type": "function",
    }
    sorted_text = render_tools_typescript([tool])
    assert sorted_text == render_tools_typescript([deep_sort(tool)], sort_keys=False)
    # fields are ordered by the encoder itself; only $defs order depends on the input's key order
    two_defs = {"type": "object", "$defs": {"B": {"type": "string"}, "A": {"type": "number"}}}
    unsorted = render_tools_typescript([_tool("g", two_defs)], sort_keys=False)
    assert unsorted.index("interface B") < unsorted.index("interface A")
    ordered = render_tools_typescript([_tool("g", two_defs)])
    assert ordered.index("interface A") < ordered.index("interface B")


@pytest.mark.parametrize("bad", ["tools", {"type": "function"}, 5, None])
def test_tools_must_be_a_list(bad: Any) -> None:
    with pytest.raises(TypeError, match="list of tool dicts"):
        render_tools_typescript(bad)


_names = st.from_regex(r"[A-Za-z_][A-Za-z0-9_]{0,8}", fullmatch=True)
_scalars = st.sampled_from(
    [{"type": "string"}, {"type": "integer"}, {"type": "number"}, {"type": "boolean"}, {"type": "null"}, {}]
)


def _schemas() -> st.SearchStrategy[dict[str, Any]]:
    def extend(inner: st.SearchStrategy[dict[str, Any]]) -> st.SearchStrategy[dict[str, Any]]:
        return st.one_of(
            st.builds(lambda i: {"type": "array", "items": i}, inner),
            st.builds(lambda opts: {"anyOf": opts}, st.lists(inner, min_size=1, max_size=3)),
            st.builds(
                lambda props, req, extra: {
                    "type": "object",
                    "properties": props,
                    "required": sorted(k for k in props if k in req),
                    **({} if extra is None else {"additionalProperties": extra}),
                },
                st.dictionaries(_names, inner, max_size=4),
                st.frozensets(_names, max_size=4),
                st.one_of(st.none(), st.booleans()),
            ),
        )

    return st.recursive(_scalars, extend, max_leaves=8)


def _reversed_keys(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _reversed_keys(v) for k, v in reversed(list(value.items()))}
    if isinstance(value, list):
        return [_reversed_keys(v) for v in value]
    return value


_descriptions = st.one_of(st.none(), st.text(alphabet="ab \n", max_size=12))


@settings(max_examples=150, deadline=None)
@given(st.lists(st.tuples(_names, _schemas(), _descriptions), min_size=1, max_size=3))
def test_declaration_shape(functions: list[tuple[str, dict[str, Any], str | None]]) -> None:
    """Any plain schema declares: one ``type NAME`` line per tool, balanced braces, key order irrelevant."""
    tools = []
    for name, schema, description in functions:
        function: dict[str, Any] = {
            "name": name,
            "parameters": {"type": "object", "properties": {"p": schema}},
        }
        if description is not None:
            function["description"] = description
        tools.append({"type": "function", "function": function})
    text = render_tools_typescript(tools)
    assert text.startswith("# Tools\n\n## functions\nnamespace functions {\n") and text.endswith("\n}\n")
    for name, _, _ in functions:
        assert f"\ntype {name} = (_: {{\n  p?: " in text
    assert text.count(") => any;") == len(functions)
    assert text.count("{") == text.count("}")
    assert text.count("<") == text.count(">") - text.count("=>")
    # the tokenizer sorts keys first, so the declaration does not depend on the input's key order
    assert render_tools_typescript(_reversed_keys(tools)) == text
