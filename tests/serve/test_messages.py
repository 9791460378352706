"""The Messages dialect without HTTP: reading requests (blocks, tools, tool_choice, thinking, sampling), the
content blocks and their SSE events (accumulated by the anthropic SDK's own code), stop reasons, signatures
and error shapes."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import kimi_toolparse as ktp
from kimi_toolparse.serve.config import ENGINES, ServeConfig
from kimi_toolparse.serve.messages import (
    RAW_ARGUMENTS,
    Messages,
    openai_messages,
    parse_request,
    to_request,
    tool_input,
)
from kimi_toolparse.serve.pipeline import Run, plan
from kimi_toolparse.serve.request import ApiError
from kimi_toolparse.serve.upstream import SSEDecoder
from kimi_toolparse.strategies import assistant_outputs, chunkings, marker_soup

anthropic_streaming = pytest.importorskip(
    "anthropic.lib.streaming._messages", reason="the serve tests need the test extra (anthropic)"
)
anthropic_types = pytest.importorskip("anthropic.types")

CONFIG = ServeConfig(upstream="http://127.0.0.1:9/v1")
TOOLS = [
    {"name": "get_weather", "description": "Weather.", "input_schema": {"type": "object"}},
    {"name": "bash", "input_schema": {"type": "object", "properties": {"command": {"type": "string"}}}},
]
#: TOOLS as chat completions declare them.
OPENAI_TOOLS = [
    {
        "type": "function",
        "function": {"name": "get_weather", "description": "Weather.", "parameters": {"type": "object"}},
    },
    {
        "type": "function",
        "function": {
            "name": "bash",
            "parameters": {"type": "object", "properties": {"command": {"type": "string"}}},
        },
    },
]
USER = [{"role": "user", "content": "hi"}]
KEY = "k" * 64


def request(config: ServeConfig = CONFIG, **fields: Any) -> Any:
    return to_request(
        parse_request({"model": "kimi-k2.5", "max_tokens": 100, "messages": USER, **fields}), config
    )


def planned(model: str = "kimi-k2.5", **fields: Any) -> Any:
    return plan(request(**fields), model, dict(ENGINES["vllm"]))


# ---- reading requests ---------------------------------------------------------------------------------------


def test_a_conversation_in_blocks_becomes_the_openai_one() -> None:
    history = [
        {"role": "user", "content": [{"type": "text", "text": "a"}, {"type": "text", "text": "b"}]},
        {"role": "system", "content": "inline"},
        {
            "role": "assistant",
            "content": [
                {"type": "thinking", "thinking": "hmm", "signature": "x"},
                {"type": "redacted_thinking", "data": "opaque"},
                {"type": "text", "text": "I'll look."},
                {"type": "tool_use", "id": "functions.bash:0", "name": "bash", "input": {"command": "ls"}},
            ],
        },
        {
            "role": "user",
            "content": [
                {"type": "text", "text": "after"},
                {
                    "type": "tool_result",
                    "tool_use_id": "functions.bash:0",
                    "content": "out",
                    "is_error": True,
                },
                {
                    "type": "tool_result",
                    "tool_use_id": "functions.bash:0",
                    "content": [{"type": "text", "text": "x"}],
                },
            ],
        },
    ]
    got = openai_messages([{"type": "text", "text": "S1"}, {"type": "text", "text": "S2"}], history)
    assert got == [
        {"role": "system", "content": "S1\n\nS2"},
        {"role": "user", "content": [{"type": "text", "text": "a"}, {"type": "text", "text": "b"}]},
        {"role": "system", "content": [{"type": "text", "text": "inline"}]},
        {
            "role": "assistant",
            "content": "I'll look.",
            "reasoning_content": "hmm",
            "tool_calls": [
                {
                    "id": "functions.bash:0",
                    "type": "function",
                    "function": {"name": "bash", "arguments": '{"command": "ls"}'},
                }
            ],
        },
        {"role": "tool", "tool_call_id": "functions.bash:0", "content": "out"},
        {"role": "tool", "tool_call_id": "functions.bash:0", "content": [{"type": "text", "text": "x"}]},
        {"role": "user", "content": [{"type": "text", "text": "after"}]},
    ]
    assert openai_messages("S", USER)[0] == {"role": "system", "content": "S"}
    claude_code = [{"type": "text", "text": "x-anthropic-billing-header: cc_version=2.1; cc_entrypoint=cli;"}]
    assert openai_messages([*claude_code, {"type": "text", "text": "S"}], USER)[0]["content"] == "S"
    assert openai_messages(claude_code, USER)[0]["role"] == "user"
    assert openai_messages("", USER) == [{"role": "user", "content": [{"type": "text", "text": "hi"}]}]


@pytest.mark.parametrize(
    ("messages", "words"),
    [
        ([{"role": "user", "content": [{"type": "image", "source": {}}]}], "image blocks are not supported"),
        (
            [
                {
                    "role": "user",
                    "content": [
                        {"type": "tool_result", "tool_use_id": "t", "content": [{"type": "document"}]}
                    ],
                }
            ],
            "document blocks are not supported",
        ),
        ([{"role": "user", "content": 3}], "content must be"),
        ([{"role": "robot", "content": "x"}], "role must be"),
        ([*USER, {"role": "assistant", "content": "Sure"}], "prefilled"),
        (
            [
                {"role": "assistant", "content": [{"type": "tool_use", "id": "t", "name": "x", "input": []}]},
                *USER,
            ],
            "object",
        ),
        ([{"role": "user", "content": [{"type": "server_tool_use"}]}], "not supported"),
    ],
)
def test_what_cannot_be_served_is_a_400_naming_messages(messages: list[Any], words: str) -> None:
    with pytest.raises(ApiError) as e:
        request(messages=messages)
    assert e.value.status == 400 and e.value.param == "messages" and words in e.value.message


@pytest.mark.parametrize(
    ("fields", "param"),
    [
        ({"tool_choice": {"type": "any"}}, "tool_choice"),
        ({"tools": TOOLS, "tool_choice": {"type": "sometimes"}}, "tool_choice"),
        ({"tools": TOOLS, "tool_choice": {"type": "tool"}}, "tool_choice"),
        ({"tools": [{"type": "web_search_20250305", "name": "web_search"}]}, "tools"),
        ({"thinking": {"type": "maybe"}}, "thinking"),
        ({"temperature": 1.5}, "temperature"),
        ({"max_tokens": 0}, "max_tokens"),
    ],
)
def test_bad_fields_are_named(fields: dict[str, Any], param: str) -> None:
    with pytest.raises(ApiError) as e:
        request(**fields)
    assert e.value.status == 400 and e.value.param == param


def test_max_tokens_is_required_except_for_counting() -> None:
    data = parse_request({"model": "m", "messages": USER})
    with pytest.raises(ApiError, match="max_tokens"):
        to_request(data, CONFIG)
    assert to_request(data, CONFIG, count_only=True).max_tokens is None


def test_tools_and_each_tool_choice() -> None:
    base = ktp.render(USER, OPENAI_TOOLS, model="kimi-k2-instruct")
    auto = plan(request(tools=TOOLS), "kimi-k2-instruct", {})
    assert auto.upstream["prompt"] == base and auto.prefill == "" and auto.parallel
    assert request(tools=TOOLS).tools == OPENAI_TOOLS
    anyc = plan(request(tools=TOOLS, tool_choice={"type": "any"}), "kimi-k2-instruct", {})
    assert anyc.prefill == "<|tool_calls_section_begin|>" and anyc.choice == "required"
    named = plan(request(tools=TOOLS, tool_choice={"type": "tool", "name": "bash"}), "kimi-k2-instruct", {})
    assert named.prefill.endswith("functions.bash:0<|tool_call_argument_begin|>")
    none = plan(request(tools=TOOLS, tool_choice={"type": "none"}), "kimi-k2-instruct", {})
    assert none.choice == "none" and none.prefill == ""
    single = request(tools=TOOLS, tool_choice={"type": "auto", "disable_parallel_tool_use": True})
    assert single.tool_choice == "auto" and not single.parallel_tool_calls


def test_thinking_switch_and_sampling() -> None:
    assert planned().thinking  # K2.5 thinks by default
    assert planned(thinking={"type": "enabled", "budget_tokens": 2000}).thinking
    assert planned(thinking={"type": "adaptive"}).thinking
    off = planned(thinking={"type": "disabled"})
    assert not off.thinking and off.prompt.endswith("<think></think>")
    assert not planned("kimi-k2-instruct", thinking={"type": "enabled", "budget_tokens": 1024}).thinking
    body = planned(temperature=1.0, top_p=0.9, top_k=20, stop_sequences=["END"], max_tokens=7).upstream
    assert body["temperature"] == pytest.approx(0.6) and body["top_p"] == 0.9 and body["top_k"] == 20
    assert body["stop"] == ["END"] and body["max_tokens"] == 7 and body["stop_token_ids"] == [163586]
    scaled = request(ServeConfig(upstream="http://h/v1", anthropic_temperature_scale=1.0), temperature=0.3)
    assert scaled.temperature == 0.3


def test_unknown_fields_are_ignored() -> None:
    req = request(
        metadata={"user_id": "u"},
        context_management={"edits": []},
        output_config={"effort": "high"},
        system=[{"type": "text", "text": "S", "cache_control": {"type": "ephemeral"}}],
    )
    assert req.messages[0] == {"role": "system", "content": "S"}


def test_history_ids_that_are_not_kimi_ids_are_normalized_the_models_own_kept() -> None:
    history = [
        *USER,
        {
            "role": "assistant",
            "content": [{"type": "tool_use", "id": "toolu_01", "name": "bash", "input": {}}],
        },
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "toolu_01", "content": "ok"}]},
    ]
    prompt = planned(messages=history, tools=TOOLS).prompt
    assert "functions.bash:0" in prompt and "toolu_01" not in prompt
    own = json.loads(json.dumps(history).replace("toolu_01", "functions.bash:7"))
    assert "functions.bash:7<|tool_call_argument_begin|>" in planned(messages=own, tools=TOOLS).prompt


# ---- tool inputs ---------------------------------------------------------------------------------------------


def test_tool_input_rules() -> None:
    assert tool_input('{"a": [1, {"b": null}]}', True) == {"a": [1, {"b": None}]}
    assert tool_input("  ", True) == {}
    assert tool_input("[1, 2]", True) == {RAW_ARGUMENTS: "[1, 2]"}
    assert tool_input('{"a": ', False) == {RAW_ARGUMENTS: '{"a": '}


def test_raw_arguments_go_back_into_the_prompt_as_written() -> None:
    history = [
        *USER,
        {
            "role": "assistant",
            "content": [
                {
                    "type": "tool_use",
                    "id": "functions.bash:0",
                    "name": "bash",
                    "input": {RAW_ARGUMENTS: "[1, 2"},
                }
            ],
        },
        {
            "role": "user",
            "content": [{"type": "tool_result", "tool_use_id": "functions.bash:0", "content": "?"}],
        },
    ]
    prompt = planned("kimi-k2-instruct", messages=history, tools=TOOLS).prompt
    assert "functions.bash:0<|tool_call_argument_begin|>[1, 2<|tool_call_end|>" in prompt


# ---- blocks and events -----------------------------------------------------------------------------------------


def events_of(text: str) -> list[dict[str, Any]]:
    """The SSE text's events, checking each ``event:`` line names its data's type."""
    out = []
    for block in text.split("\n\n"):
        if not block:
            continue
        name, data = block.split("\n")
        payload = json.loads(data.removeprefix("data: "))
        assert name == f"event: {payload['type']}"
        out.append(payload)
    assert out == SSEDecoder().feed(text.encode())
    return out


def run(p: Any, pieces: list[str], finish: str = "stop", stop: str | None = None) -> tuple[Any, list[Any]]:
    """A stream and a non-stream run of the same pieces; (the non-streamed body, the streamed events)."""
    bodies = []
    streamed: list[Any] = []
    for stream in (False, True):
        p.request.stream = stream
        dialect = Messages(KEY)
        r = Run(
            "rid", p, [dialect.choice(0, p)], 0, upstream_usage={"prompt_tokens": 5, "completion_tokens": 9}
        )
        ch = r.choices[0]
        writer = dialect.writer(r)
        text = writer.head().decode()
        for piece in pieces:
            text += ch.feed(piece, None)
        ch.upstream_finish, ch.upstream_stop = finish, stop
        if stream:
            text += writer.tail().decode()
            streamed = events_of(text)
        else:
            assert text.count("event:") == 2  # message_start and ping only
            ch.close()
            bodies.append(dialect.body(r))
    return bodies[0], streamed


def accumulate(events: list[dict[str, Any]]) -> dict[str, Any]:
    """The anthropic SDK's own stream accumulator over the events."""
    snapshot = None
    for ev in events:
        snapshot = anthropic_streaming.accumulate_event(event=ev, current_snapshot=snapshot, json_bufs={})
    assert snapshot is not None
    return snapshot.model_dump(exclude_none=True)


def check_sequence(events: list[dict[str, Any]]) -> None:
    """message_start, ping, per block start / deltas / stop (in index order), message_delta, message_stop."""
    assert [e["type"] for e in events[:2]] == ["message_start", "ping"]
    assert [e["type"] for e in events[-2:]] == ["message_delta", "message_stop"]
    open_index = None
    next_index = 0
    for e in events[2:-2]:
        if e["type"] == "content_block_start":
            assert open_index is None and e["index"] == next_index
            open_index, next_index = e["index"], next_index + 1
        elif e["type"] == "content_block_delta":
            assert e["index"] == open_index
        else:
            assert e["type"] == "content_block_stop" and e["index"] == open_index
            open_index = None
    assert open_index is None


def check(p: Any, pieces: list[str]) -> dict[str, Any]:
    body, events = run(p, pieces)
    check_sequence(events)
    assert accumulate(events) == anthropic_types.Message.model_validate(body).model_dump(exclude_none=True)
    return body


def test_blocks_of_a_thinking_turn_with_calls() -> None:
    p = planned(tools=TOOLS)
    raw = (
        "Let me think.</think>I'll look.<|tool_calls_section_begin|><|tool_call_begin|>functions.bash:0"
        '<|tool_call_argument_begin|>{"command": "ls"}<|tool_call_end|><|tool_call_begin|>functions.get_weather:1'
        "<|tool_call_argument_begin|>[1]<|tool_call_end|><|tool_calls_section_end|>"
    )
    body = check(p, [raw[i : i + 7] for i in range(0, len(raw), 7)])
    sig = base64.b64encode(hmac.new(KEY.encode(), b"Let me think.", hashlib.sha256).digest()).decode()
    assert body["content"] == [
        {"type": "thinking", "thinking": "Let me think.", "signature": sig},
        {"type": "text", "text": "I'll look."},
        {"type": "tool_use", "id": "functions.bash:0", "name": "bash", "input": {"command": "ls"}},
        {
            "type": "tool_use",
            "id": "functions.get_weather:1",
            "name": "get_weather",
            "input": {RAW_ARGUMENTS: "[1]"},
        },
    ]
    assert body["stop_reason"] == "tool_use" and body["stop_sequence"] is None
    assert body["usage"]["input_tokens"] == 5 and body["usage"]["output_tokens"] == 9
    assert body["model"] == "kimi-k2.5" and body["id"] == "msg_rid" and body["role"] == "assistant"


def test_stop_reasons() -> None:
    p = planned("kimi-k2-instruct", stop_sequences=["END"])
    assert run(p, ["Hello"], "stop", "END")[0]["stop_reason"] == "stop_sequence"
    body, events = run(p, ["Hello"], "stop", "END")
    assert body["stop_sequence"] == "END" and events[-2]["delta"]["stop_sequence"] == "END"
    assert run(p, ["Hello"], "stop", 163586)[0]["stop_reason"] == "end_turn"
    assert run(p, ["Hello"], "stop", "OTHER")[0]["stop_reason"] == "end_turn"
    assert run(p, ["Hello"], "length")[0]["stop_reason"] == "max_tokens"
    none = planned("kimi-k2-instruct", tools=TOOLS, tool_choice={"type": "none"})
    raw = "<|tool_calls_section_begin|><|tool_call_begin|>functions.bash:0<|tool_call_argument_begin|>{}<|tool_call_end|>"
    body = run(none, [raw])[0]
    assert body["stop_reason"] == "end_turn" and body["content"] == []


def test_one_call_when_parallel_use_is_disabled() -> None:
    p = planned(
        "kimi-k2-instruct", tools=TOOLS, tool_choice={"type": "auto", "disable_parallel_tool_use": True}
    )
    raw = "".join(
        f"<|tool_call_begin|>functions.bash:{i}<|tool_call_argument_begin|>{{}}<|tool_call_end|>"
        for i in range(3)
    )
    body = check(p, ["<|tool_calls_section_begin|>" + raw])
    assert [b["id"] for b in body["content"]] == ["functions.bash:0"]


def test_a_forced_call_comes_out_whole() -> None:
    p = planned("kimi-k2-instruct", tools=TOOLS, tool_choice={"type": "tool", "name": "bash"})
    body = check(p, ['{"command": ', '"ls"}', "<|tool_call_end|>"])
    assert body["content"] == [
        {"type": "tool_use", "id": "functions.bash:0", "name": "bash", "input": {"command": "ls"}}
    ]


def agrees_with_parse(blocks: list[dict[str, Any]], raw: str, thinking: bool) -> None:
    """The blocks say what parse() says: reasoning, content (when not blank), named calls and their inputs."""
    msg = ktp.parse(raw, tools=OPENAI_TOOLS, thinking=thinking)
    of = {kind: [b for b in blocks if b["type"] == kind] for kind in ("thinking", "text", "tool_use")}
    assert "".join(b["thinking"] for b in of["thinking"]) == (msg.reasoning or "")
    assert "".join(b["text"] for b in of["text"]) == (msg.content if msg.content.strip() else "")
    assert [(b["id"], b["name"], b["input"]) for b in of["tool_use"]] == [
        (c.id, c.name, tool_input(c.arguments, c.json_valid)) for c in msg.tool_calls if c.name is not None
    ]


@settings(max_examples=150, deadline=None)
@given(st.data())
def test_streamed_events_accumulate_to_the_message_for_any_output(data: st.DataObject) -> None:
    """For any output however cut, the SDK's accumulator over the SSE events gives the non-streamed message,
    and its blocks say what parse() says."""
    well_formed = data.draw(st.booleans())
    if well_formed:
        out = data.draw(assistant_outputs())
        raw, thinking = out.raw, out.thinking
    else:
        raw, thinking = data.draw(marker_soup()), data.draw(st.booleans())
    p = planned("kimi-k2.5" if thinking else "kimi-k2-instruct", tools=TOOLS)
    assert p.thinking == thinking
    body = check(p, data.draw(chunkings(raw)))
    agrees_with_parse(body["content"], raw, thinking)


# ---- errors --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kind", "status", "wire_status", "error_type"),
    [
        ("invalid_request", 400, 400, "invalid_request_error"),
        ("authentication", 401, 401, "authentication_error"),
        ("not_found", 404, 404, "not_found_error"),
        ("too_large", 413, 413, "request_too_large"),
        ("overloaded", 429, 529, "overloaded_error"),
        ("upstream", 502, 502, "api_error"),
        ("upstream", 504, 504, "api_error"),
    ],
)
def test_error_shapes(kind: str, status: int, wire_status: int, error_type: str) -> None:
    dialect = Messages(KEY)
    err = ApiError(status, "what went wrong", kind=kind)
    assert dialect.error_status(err) == wire_status
    assert dialect.error_body(err, "rid") == {
        "type": "error",
        "error": {"type": error_type, "message": "what went wrong"},
        "request_id": "rid",
    }
