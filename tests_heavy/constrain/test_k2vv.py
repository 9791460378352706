"""The grammars of the 99 K2VV requests under xgrammar's matcher: real replies pass byte for byte, broken ones
do not, and whatever passes parses to calls valid against the schema."""

from __future__ import annotations

import json

import pytest

import kimi_toolparse as ktp
from tests_heavy.constrain.cases import (
    AB,
    CB,
    CE,
    FORMATS,
    SB,
    SE,
    call,
    canonical_k2vv,
    k2vv_requests,
    section,
)
from tests_heavy.constrain.xgr_helpers import accepts

jsonschema = pytest.importorskip("jsonschema")

ARGS = '{"queries": ["Kimi K2 tool calling"]}'


def _history(request: dict) -> int:  # type: ignore[type-arg]
    return sum(len(m.get("tool_calls") or []) for m in request["messages"] if m.get("role") == "assistant")


def assert_parses_valid(raw: str, request: dict, ids: list[str]) -> None:  # type: ignore[type-arg]
    """The parser reads exactly these calls from ``raw``, complete, with arguments valid against the tools."""
    tools = {t["function"]["name"]: t["function"].get("parameters") for t in request["tools"]}
    message = ktp.parse(raw, tools=request["tools"])
    assert [c.id for c in message.tool_calls] == ids
    for c in message.tool_calls:
        assert c.complete and c.name in tools, c
        jsonschema.Draft202012Validator(tools[c.name]).validate(json.loads(c.arguments))


@pytest.mark.parametrize("fmt", FORMATS)
def test_real_replies_are_accepted_byte_for_byte(fmt: str) -> None:
    accepted = 0
    with_calls = 0
    for _n, request, raw, calls in canonical_k2vv():
        grammar = ktp.grammar_for_request(request, format=fmt)
        assert grammar.first_index == _history(request)
        assert accepts(grammar, raw), raw[-200:]
        assert_parses_valid(raw, request, [i for i, _ in calls])
        accepted += 1
        with_calls += bool(calls)
    assert (accepted, with_calls) == (99, 30)


def broken_outputs(first: int) -> dict[str, str]:
    """Ways a reply goes wrong, for a request whose next call has IDX ``first``."""
    good = call("search", first, ARGS)
    return {
        "undeclared tool": "x" + section(call("search_web", first, ARGS)),
        "arguments not an object": section(call("search", first, '["Kimi"]')),
        "arguments miss a required key": section(call("search", first, "{}")),
        "argument of the wrong type": section(call("search", first, '{"queries": "Kimi"}')),
        "undeclared argument": section(call("search", first, '{"queries": [], "k": 3}')),
        "arguments not JSON": section(call("search", first, "{queries: [Kimi]}")),
        "no section end": SB + good,
        "no call end": SB + f"{CB}functions.search:{first}{AB}{ARGS}" + SE,
        "no argument marker": section(f"{CB}functions.search:{first} {ARGS}{CE}"),
        "wrong IDX": section(call("search", first + 1, ARGS)),
        "drifted id": section(f"{CB}call_0{AB}{ARGS}{CE}"),
        "empty section": SB + SE,
        "text after the section": section(good) + "Done.",
        "second section": section(good) + section(call("search", first + 1, ARGS)),
        "call outside a section": good,
        "marker in content": "Hi <|im_user|>" + section(good),
        "think tag in content": "a <think> b",
        "section inside reasoning": "<think>" + section(good) + "</think>",
    }


@pytest.mark.parametrize("fmt", FORMATS)
def test_broken_outputs_are_rejected(fmt: str) -> None:
    rejected = 0
    for request in k2vv_requests()[::9]:  # 11 requests, with and without history calls
        grammar = ktp.grammar_for_request(request, format=fmt)
        first = grammar.first_index
        assert accepts(grammar, "Sure." + section(call("search", first, ARGS)))
        for what, raw in broken_outputs(first).items():
            assert not accepts(grammar, raw), what
            rejected += 1
    assert rejected == 11 * len(broken_outputs(0))


@pytest.mark.parametrize("fmt", FORMATS)
def test_tool_choice(fmt: str) -> None:
    request = k2vv_requests()[3]
    first = _history(request)
    content = "The answer is 42."
    one = "Let me search." + section(call("search", first, ARGS))
    two = section(call("search", first, ARGS), call("search", first + 1, ARGS))

    def grammar(**kw: object) -> ktp.ToolGrammar:
        return ktp.grammar_for_request({**request, **kw}, format=fmt)

    auto = grammar()
    assert accepts(auto, content) and accepts(auto, one) and accepts(auto, two)
    required = grammar(tool_choice="required")
    assert not accepts(required, content) and accepts(required, one) and accepts(required, two)
    none = grammar(tool_choice="none")
    assert accepts(none, content) and not accepts(none, one) and not accepts(none, section())
    assert not accepts(none, "text " + SB)
    single = grammar(parallel_tool_calls=False)
    assert accepts(single, one) and not accepts(single, two)
    # reasoning: optional without thinking, required (and closed) when the prompt ended with <think>
    assert accepts(auto, "<think>Search first.</think>" + one)
    thinking = grammar(chat_template_kwargs={"thinking": True})
    assert accepts(thinking, "Search first.</think>" + one)
    assert not accepts(thinking, one) and not accepts(thinking, "Search first." + one)


@pytest.mark.parametrize("fmt", FORMATS)
def test_named_tool_choice_allows_only_that_function(fmt: str) -> None:
    request = dict(k2vv_requests()[0])
    weather = {
        "type": "object",
        "properties": {"city": {"type": "string"}, "unit": {"enum": ["C", "F"]}},
        "required": ["city"],
    }
    request["tools"] = [
        *request["tools"],
        {"type": "function", "function": {"name": "get_weather", "parameters": weather}},
    ]
    first = _history(request)
    weather_call = section(call("get_weather", first, '{"city": "Paris", "unit": "C"}'))
    search_call = section(call("search", first, ARGS))
    auto = ktp.grammar_for_request(request, format=fmt)
    assert accepts(auto, weather_call) and accepts(auto, search_call)
    for name, good, bad in (
        ("get_weather", weather_call, search_call),
        ("search", search_call, weather_call),
    ):
        grammar = ktp.grammar_for_request(
            {**request, "tool_choice": {"type": "function", "function": {"name": name}}}, format=fmt
        )
        assert grammar.tool_names == (name,)
        assert accepts(grammar, "On it." + good)
        assert not accepts(grammar, bad)
        assert not accepts(grammar, "No call.")
        assert_parses_valid(good, request, [f"functions.{name}:{first}"])
