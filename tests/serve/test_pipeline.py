"""The pipeline without a dialect: an internal request planned (thinking switch, sampling, the upstream
body), max_tokens clamped to the context, and the choice rules every dialect shares."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

import kimi_toolparse as ktp
from kimi_toolparse.serve.config import ENGINES, ServeConfig
from kimi_toolparse.serve.pipeline import Choice, clamp_max_tokens, plan
from kimi_toolparse.serve.request import ApiError, Request

USER = [{"role": "user", "content": "hi"}]
TOOLS = [{"type": "function", "function": {"name": "bash", "parameters": {"type": "object"}}}]


def planned(model: str = "kimi-k2.5", **fields: Any) -> Any:
    return plan(Request(model=model, messages=USER, **fields), model, dict(ENGINES["vllm"]))


def test_the_thinking_switch_reaches_the_template() -> None:
    assert planned().thinking and planned(thinking=True).thinking
    off = planned(thinking=False)
    assert not off.thinking and off.prompt == ktp.render(USER, model="kimi-k2.5", thinking=False)
    # a template without the switch ignores it
    assert planned("kimi-k2-instruct", thinking=True).prompt == ktp.render(USER, model="kimi-k2-instruct")


def test_sampling_fields_are_sent_only_when_given() -> None:
    body = planned(max_tokens=5, temperature=0.3, top_p=0.5, top_k=7, seed=1, stop=["x"]).upstream
    assert (body["max_tokens"], body["temperature"], body["top_p"], body["top_k"], body["seed"]) == (
        5,
        0.3,
        0.5,
        7,
        1,
    )
    assert body["stop"] == ["x"] and body["prompt"].endswith("<think>")
    bare = planned().upstream
    assert not {"max_tokens", "temperature", "top_p", "top_k", "seed"} & set(bare)


@given(st.integers(1, 10_000), st.integers(0, 10_000), st.integers(1, 100_000))
def test_clamping_leaves_max_tokens_within_the_context(limit: int, prompt: int, asked: int) -> None:
    p = planned(max_tokens=asked)
    if prompt >= limit:
        with pytest.raises(ApiError) as e:
            clamp_max_tokens(p, limit, prompt)
        assert e.value.status == 400 and e.value.code == "context_length_exceeded"
    else:
        clamp_max_tokens(p, limit, prompt)
        assert p.upstream["max_tokens"] == min(asked, limit - prompt)


def test_a_request_without_max_tokens_is_left_to_the_engine() -> None:
    p = planned()
    clamp_max_tokens(p, 100, 10)
    assert "max_tokens" not in p.upstream


def test_the_choice_rules() -> None:
    raw = "".join(
        f"<|tool_call_begin|>functions.bash:{i}<|tool_call_argument_begin|>{{}}<|tool_call_end|>"
        for i in range(2)
    )
    raw = "<|tool_calls_section_begin|>" + raw + "<|tool_calls_section_end|>"
    for fields, ids, finish in (
        ({}, ["functions.bash:0", "functions.bash:1"], "tool_calls"),
        ({"parallel_tool_calls": False}, ["functions.bash:0"], "tool_calls"),
        ({"tool_choice": "none"}, [], "stop"),
    ):
        ch = Choice(0, planned("kimi-k2-instruct", tools=TOOLS, **fields))
        events = ch.events(raw, None) + ch.end()
        starts = [e.id for e in events if isinstance(e, ktp.ToolCallStart)]
        ends = [e.call.id for e in events if isinstance(e, ktp.ToolCallEnd)]
        assert starts == ends == [c.id for c in ch.calls()] == ids and ch.finish_reason == finish


def test_config_checks_the_new_settings() -> None:
    for bad, words in (
        ({"max_model_len": 0}, "--max-model-len"),
        ({"anthropic_temperature_scale": 3.0}, "--anthropic-temperature-scale"),
        ({"ping_interval": 0}, "--ping-interval"),
    ):
        with pytest.raises(ValueError, match=words):
            ServeConfig(upstream="http://h/v1", **bad)
    filled = ServeConfig(upstream="http://h/v1").with_env({})
    assert (
        filled.signing_key
        and filled.signing_key != ServeConfig(upstream="http://h/v1").with_env({}).signing_key
    )
    assert (
        ServeConfig(upstream="http://h/v1").with_env({"KIMI_TOOLPARSE_SIGNING_KEY": "k"}).signing_key == "k"
    )
    assert ServeConfig.from_json(filled.to_json()) == filled
