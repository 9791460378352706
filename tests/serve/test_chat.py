"""The gateway's rules without HTTP: request planning (prefill, thinking, upstream fields), the choice stream
(deltas add up to the message, tool_choice filtering)."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import kimi_toolparse as ktp
from kimi_toolparse.serve.chat import ApiError, ChoiceStream, parse_request, plan_request
from kimi_toolparse.serve.config import ENGINES
from kimi_toolparse.strategies import assistant_outputs, chunkings, marker_soup

TOOLS = [
    {"type": "function", "function": {"name": "get_weather", "parameters": {"type": "object"}}},
    {"type": "function", "function": {"name": "bash", "parameters": {"type": "object"}}},
]
USER = [{"role": "user", "content": "hi"}]


def plan(model: str = "kimi-k2-instruct", **fields: Any) -> Any:
    req = parse_request({"model": model, "messages": USER, **fields})
    return plan_request(req, model, dict(ENGINES["vllm"]))


def add_up(deltas: list[dict[str, Any]]) -> dict[str, Any]:
    """The OpenAI client's way of adding deltas into a message."""
    msg: dict[str, Any] = {"content": "", "reasoning_content": "", "calls": {}}
    for d in deltas:
        msg["content"] += d.get("content") or ""
        msg["reasoning_content"] += d.get("reasoning_content") or ""
        for tc in d.get("tool_calls") or []:
            slot = msg["calls"].setdefault(tc["index"], {"id": None, "name": None, "arguments": ""})
            slot["id"] = tc.get("id") or slot["id"]
            slot["name"] = tc.get("function", {}).get("name") or slot["name"]
            slot["arguments"] += tc.get("function", {}).get("arguments") or ""
    return msg


def run(p: Any, pieces: list[str]) -> tuple[ChoiceStream, list[dict[str, Any]]]:
    ch = ChoiceStream(0, p)
    deltas = [d for piece in pieces for d in ch.feed(piece, None)]
    deltas += ch.close()
    return ch, deltas


def test_prefills_per_tool_choice() -> None:
    base = ktp.render(USER, TOOLS, model="kimi-k2-instruct")
    assert plan(tools=TOOLS).prefill == "" and plan(tools=TOOLS).upstream["prompt"] == base
    assert plan(tools=TOOLS, tool_choice="none").prefill == ""
    assert plan(tools=TOOLS, tool_choice="required").prefill == "<|tool_calls_section_begin|>"
    named = plan(tools=TOOLS, tool_choice={"type": "function", "function": {"name": "bash"}})
    assert named.prefill == (
        "<|tool_calls_section_begin|><|tool_call_begin|>functions.bash:0<|tool_call_argument_begin|>"
    )
    assert named.upstream["prompt"] == base + named.prefill


def test_named_prefill_index_counts_the_calls_so_far() -> None:
    history = [
        *USER,
        {
            "role": "assistant",
            "content": "",
            "tool_calls": [
                {
                    "id": f"functions.bash:{i}",
                    "type": "function",
                    "function": {"name": "bash", "arguments": "{}"},
                }
                for i in range(3)
            ],
        },
        *[{"role": "tool", "tool_call_id": f"functions.bash:{i}", "content": "ok"} for i in range(3)],
    ]
    req = parse_request(
        {
            "model": "m",
            "messages": history,
            "tools": TOOLS,
            "tool_choice": {"type": "function", "function": {"name": "get_weather"}},
        }
    )
    p = plan_request(req, "kimi-k2-instruct", {})
    assert "functions.get_weather:3<|tool_call_argument_begin|>" in p.prefill


def test_thinking_prompts_close_reasoning_before_a_forced_call() -> None:
    p = plan("kimi-k2.5", tools=TOOLS, tool_choice="required")
    assert p.thinking and p.prompt.endswith("<think>")
    assert p.prefill == "</think><|tool_calls_section_begin|>"
    off = plan("kimi-k2.5", tools=TOOLS, tool_choice="required", chat_template_kwargs={"thinking": False})
    assert not off.thinking and off.prefill == "<|tool_calls_section_begin|>"
    assert not plan("kimi-k2-thinking", tools=TOOLS).thinking


def test_upstream_body_fields() -> None:
    p = plan(max_tokens=10, max_completion_tokens=20, temperature=0.5, stop="X", seed=3, n=2)
    body = p.upstream
    assert body["max_tokens"] == 20 and body["temperature"] == 0.5 and body["seed"] == 3 and body["n"] == 2
    # vLLM ends the turn at the <|im_end|> id: a stop string would also cut arguments that mention it as text
    assert body["stop"] == ["X"] and body["stop_token_ids"] == [163586] and body["stream"] is True
    assert body["skip_special_tokens"] is False and body["return_token_ids"] is True
    assert "top_p" not in body
    plain = plan_request(
        parse_request({"model": "kimi-k2-instruct", "messages": USER, "stop": "X"}),
        "kimi-k2-instruct",
        dict(ENGINES["plain"]),
    ).upstream
    assert plain["stop"] == ["<|im_end|>", "X"] and "stop_token_ids" not in plain


@pytest.mark.parametrize(
    ("fields", "param"),
    [
        ({"tool_choice": "required"}, "tool_choice"),
        ({"tools": TOOLS, "tool_choice": {"type": "function"}}, "tool_choice"),
        ({"tools": TOOLS, "tool_choice": {"type": "function", "function": {"name": "x"}}}, "tool_choice"),
        ({"chat_template_kwargs": {"nope": 1}}, "chat_template_kwargs"),
        ({"tools": [{"type": "function"}]}, "tools"),
    ],
)
def test_plan_errors_name_the_field(fields: dict[str, Any], param: str) -> None:
    with pytest.raises(ApiError) as e:
        plan(**fields)
    assert e.value.status == 400 and e.value.param == param


@settings(max_examples=150, deadline=None)
@given(st.data())
def test_deltas_add_up_to_the_message_and_to_parse(data: st.DataObject) -> None:
    out = data.draw(assistant_outputs())
    pieces = data.draw(chunkings(out.raw))
    model = "kimi-k2.5" if out.thinking else "kimi-k2-instruct"
    p = plan(model, tools=TOOLS)
    assert p.thinking == out.thinking
    ch, deltas = run(p, pieces)
    msg = ch.message()
    total = add_up(deltas)
    assert total["content"] == (msg["content"] or "")
    assert total["reasoning_content"] == (msg.get("reasoning_content") or "")
    calls = [(c["id"], c["name"], c["arguments"]) for _, c in sorted(total["calls"].items())]
    assert calls == [
        (c["id"], c["function"]["name"], c["function"]["arguments"]) for c in msg.get("tool_calls") or []
    ]
    assert msg == ktp.parse(out.raw, tools=TOOLS, thinking=out.thinking).to_openai()


@settings(max_examples=100, deadline=None)
@given(marker_soup(), st.sampled_from(["none", "single"]))
def test_none_and_single_call_rules_hold_for_any_output(raw: str, rule: str) -> None:
    p = plan(tools=TOOLS, **({"tool_choice": "none"} if rule == "none" else {"parallel_tool_calls": False}))
    ch, deltas = run(p, [raw])
    msg = ch.message()
    streamed = add_up(deltas)["calls"]
    if rule == "none":
        assert "tool_calls" not in msg and not streamed and ch.finish_reason != "tool_calls"
    else:
        assert len(msg.get("tool_calls") or []) <= 1 and set(streamed) <= {0}


def test_prefilled_call_comes_out_whole() -> None:
    p = plan(tools=TOOLS, tool_choice={"type": "function", "function": {"name": "bash"}})
    ch, deltas = run(p, ['{"command": ', '"ls"}', "<|tool_call_end|>"])
    assert ch.message()["tool_calls"] == [
        {
            "id": "functions.bash:0",
            "type": "function",
            "function": {"name": "bash", "arguments": '{"command": "ls"}'},
        }
    ]
    assert deltas[0]["tool_calls"][0]["function"]["name"] == "bash"


def test_missing_markers_are_diagnosed() -> None:
    ch, _ = run(plan(tools=TOOLS), ['I will call. functions.bash:0 {"command": "ls"}'])
    assert [d["code"] for d in ch.diagnostics] == ["markers_missing"]
    ch, _ = run(plan(tools=TOOLS), ["plain words about functions and :0"])
    assert ch.diagnostics == []




def test_grammar_format_must_suit_the_engine() -> None:
    from kimi_toolparse.serve.config import ServeConfig

    assert ServeConfig(upstream="http://h/v1", engine="plain", grammar="gbnf").grammar_engine == (
        "gbnf",
        "llama.cpp",
    )
    with pytest.raises(ValueError, match="--grammar gbnf does not suit --engine vllm"):
        ServeConfig(upstream="http://h/v1", grammar="gbnf")
