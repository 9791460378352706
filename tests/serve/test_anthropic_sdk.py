"""The Messages API through the official ``anthropic`` SDK, against the stand-in engine (both real servers on
loopback): the tool loop, thinking, each tool_choice, stop sequences, streaming equal to not streaming,
count_tokens, max_tokens clamping, pings, and every error with its status and shape."""

from __future__ import annotations

import json
import time
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

anthropic = pytest.importorskip("anthropic", reason="the serve tests need the test extra (anthropic)")

import kimi_toolparse as ktp  # noqa: E402
from kimi_toolparse.serve.standin import StandIn  # noqa: E402
from kimi_toolparse.strategies import assistant_outputs, marker_soup  # noqa: E402

from ..conftest import VOCAB_FILE  # noqa: E402
from .conftest import gateway  # noqa: E402

KEY = "s3cret"
TOOLS: list[dict[str, Any]] = [
    {
        "name": "get_weather",
        "description": "Current weather of a city.",
        "input_schema": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
    },
    {"name": "bash", "description": "Run a command.", "input_schema": {"type": "object"}},
]
OPENAI_TOOLS = [
    {
        "type": "function",
        "function": {"name": t["name"], "description": t["description"], "parameters": t["input_schema"]},
    }
    for t in TOOLS
]
CALLS = (
    "I'll check both.<|tool_calls_section_begin|><|tool_call_begin|>functions.get_weather:0"
    '<|tool_call_argument_begin|>{"city": "Beijing"}<|tool_call_end|><|tool_call_begin|>functions.get_weather:1'
    '<|tool_call_argument_begin|>{"city": "Shanghai"}<|tool_call_end|><|tool_calls_section_end|><|im_end|>'
)
ANSWER = "Beijing is sunny; Shanghai is rainy."
#: What the next request is answered with when set (the Hypothesis test sets it).
SCRIPT: dict[str, str] = {}


def agent(request: dict[str, Any]) -> str:
    """Answers by what the prompt holds: a forced call's rest, tool results, a stop test, a long text, or calls;
    reasoning first when the prompt opened ``<think>``."""
    prompt = request["prompt"]
    if "raw" in SCRIPT:
        return SCRIPT["raw"]
    if prompt.endswith("<|tool_call_argument_begin|>"):
        return '{"city": "Paris"}<|tool_call_end|><|tool_calls_section_end|><|im_end|>'
    if prompt.endswith("<|tool_calls_section_begin|>"):
        return (
            '<|tool_call_begin|>functions.get_weather:0<|tool_call_argument_begin|>{"city": "Rome"}'
            "<|tool_call_end|><|tool_calls_section_end|><|im_end|>"
        )
    if "## Return of" in prompt:
        out = ANSWER + "<|im_end|>"
    elif "count to three" in prompt:
        out = "one two END three<|im_end|>"
    elif "write a lot" in prompt:
        out = "word " * 200
    else:
        out = CALLS
    return "Let me see.</think>" + out if prompt.endswith("<think>") else out


@pytest.fixture(scope="module")
def served() -> Any:
    """The stand-in and a gateway with a key (and no vocabulary); yields (stand-in, base URL)."""
    with (
        StandIn(agent) as up,
        gateway(
            up.base_url, models=("kimi-k2.5", "kimi-k2-instruct"), api_key=KEY, max_body_bytes=64 * 1024
        ) as base,
    ):
        yield up, base.removesuffix("/v1")


@pytest.fixture(scope="module")
def counting(vocab: Any) -> Any:
    """The stand-in cutting real tokens (token ids, exact usage) and a gateway counting with --tokenizer."""
    with (
        StandIn(agent, vocabulary=vocab) as up,
        gateway(up.base_url, models=("kimi-k2.5",), tokenizer=str(VOCAB_FILE)) as base,
    ):
        yield up, base.removesuffix("/v1")


def client(base: str, **kwargs: Any) -> Any:
    kwargs.setdefault("api_key", KEY)
    return anthropic.Anthropic(base_url=base, max_retries=0, timeout=20, **kwargs)


def ask(text: str = "Weather in Beijing and Shanghai?", **fields: Any) -> dict[str, Any]:
    """A Messages request (the tools, K2.5, a user question) with ``fields`` added."""
    return {
        "model": "kimi-k2.5",
        "max_tokens": 1000,
        "messages": [{"role": "user", "content": text}],
        "tools": TOOLS,
        **fields,
    }


def same(streamed: Any, whole: Any) -> None:
    """The streamed message equals the non-streamed one but for its id."""
    a, b = streamed.model_dump(), whole.model_dump()
    assert a.pop("id").startswith("msg_") and b.pop("id").startswith("msg_")
    assert a == b


def test_tool_loop_with_thinking_and_the_models_own_ids(served: Any) -> None:
    up, base = served
    c = client(base)
    messages: list[Any] = [{"role": "user", "content": "Weather in Beijing and Shanghai?"}]
    first = c.messages.create(model="kimi-k2.5", max_tokens=1000, messages=messages, tools=TOOLS)
    assert first.model == "kimi-k2.5" and first.role == "assistant" and first.stop_reason == "tool_use"
    assert [b.type for b in first.content] == ["thinking", "text", "tool_use", "tool_use"]
    thinking, text, *calls = first.content
    assert thinking.thinking == "Let me see." and thinking.signature and text.text == "I'll check both."
    assert [(b.id, b.name, b.input) for b in calls] == [
        ("functions.get_weather:0", "get_weather", {"city": "Beijing"}),
        ("functions.get_weather:1", "get_weather", {"city": "Shanghai"}),
    ]
    assert first.usage.input_tokens > 0 and first.usage.output_tokens > 0
    messages.append(
        {"role": "assistant", "content": [b.model_dump(exclude_none=True) for b in first.content]}
    )
    messages.append(
        {
            "role": "user",
            "content": [
                {"type": "tool_result", "tool_use_id": b.id, "content": f"{b.input['city']}: ok"}
                for b in calls
            ],
        }
    )
    second = c.messages.create(model="kimi-k2.5", max_tokens=1000, messages=messages, tools=TOOLS)
    assert second.stop_reason == "end_turn" and second.stop_sequence is None
    assert [b.type for b in second.content] == ["thinking", "text"] and second.content[1].text == ANSWER
    # the history went back as the model wrote it: its ids, its reasoning, its arguments
    history = [
        {"role": "user", "content": [{"type": "text", "text": messages[0]["content"]}]},
        {
            "role": "assistant",
            "content": "I'll check both.",
            "reasoning_content": "Let me see.",
            "tool_calls": [
                {
                    "id": f"functions.get_weather:{i}",
                    "type": "function",
                    "function": {"name": "get_weather", "arguments": json.dumps({"city": city})},
                }
                for i, city in enumerate(["Beijing", "Shanghai"])
            ],
        },
        {"role": "tool", "tool_call_id": "functions.get_weather:0", "content": "Beijing: ok"},
        {"role": "tool", "tool_call_id": "functions.get_weather:1", "content": "Shanghai: ok"},
    ]
    assert up.prompts[-1] == ktp.render(history, OPENAI_TOOLS, model="kimi-k2.5")
    assert "<think>Let me see.</think>" in up.prompts[-1]
    assert up.requests[-1].body["max_tokens"] == 1000


@pytest.mark.parametrize(
    "fields",
    [
        {},
        {"model": "kimi-k2-instruct"},
        {"thinking": {"type": "disabled"}},
        {"tool_choice": {"type": "any"}},
        {"tool_choice": {"type": "tool", "name": "get_weather"}},
        {"tool_choice": {"type": "none"}},
        {"tool_choice": {"type": "auto", "disable_parallel_tool_use": True}},
        {"stop_sequences": ["END"], "text": "count to three"},
        {"max_tokens": 5, "text": "write a lot"},
    ],
)
def test_stream_final_message_equals_the_message(served: Any, fields: dict[str, Any]) -> None:
    _, base = served
    c = client(base)
    request = ask(fields.pop("text", "Weather in Beijing and Shanghai?"), **fields)
    whole = c.messages.create(**request)
    with c.messages.stream(**request) as stream:
        streamed = stream.get_final_message()
    same(streamed, whole)


def test_each_tool_choice(served: Any) -> None:
    up, base = served
    c = client(base)
    auto = c.messages.create(**ask(model="kimi-k2-instruct"))
    assert [b.type for b in auto.content] == ["text", "tool_use", "tool_use"]
    anyc = c.messages.create(**ask(tool_choice={"type": "any"}))
    assert up.prompts[-1].endswith("<think></think><|tool_calls_section_begin|>")
    assert [(b.type, getattr(b, "input", None)) for b in anyc.content] == [("tool_use", {"city": "Rome"})]
    assert anyc.stop_reason == "tool_use"
    named = c.messages.create(**ask(tool_choice={"type": "tool", "name": "get_weather"}))
    assert [(b.id, b.input) for b in named.content] == [("functions.get_weather:0", {"city": "Paris"})]
    none = c.messages.create(**ask(model="kimi-k2-instruct", tool_choice={"type": "none"}))
    assert [b.type for b in none.content] == ["text"] and none.stop_reason == "end_turn"
    single = c.messages.create(**ask(tool_choice={"type": "auto", "disable_parallel_tool_use": True}))
    assert [b.id for b in single.content if b.type == "tool_use"] == ["functions.get_weather:0"]


def test_thinking_switch(served: Any) -> None:
    up, base = served
    c = client(base)
    off = c.messages.create(**ask(thinking={"type": "disabled"}))
    assert up.prompts[-1].endswith("<think></think>") and "thinking" not in [b.type for b in off.content]
    on = c.messages.create(**ask(thinking={"type": "enabled", "budget_tokens": 2048}))
    assert up.prompts[-1].endswith("<think>") and on.content[0].type == "thinking"


def test_stop_sequences_and_max_tokens(served: Any) -> None:
    up, base = served
    c = client(base)
    r = c.messages.create(**ask("count to three", model="kimi-k2-instruct", stop_sequences=["END", "X"]))
    assert (r.stop_reason, r.stop_sequence, r.content[0].text) == ("stop_sequence", "END", "one two ")
    assert up.requests[-1].body["stop"] == ["END", "X"]
    r = c.messages.create(**ask("write a lot", model="kimi-k2-instruct", max_tokens=5))
    assert r.stop_reason == "max_tokens" and r.usage.output_tokens == 5


def test_sampling_is_passed_with_the_temperature_scaled(served: Any) -> None:
    up, base = served
    c = client(base)
    # this SDK release no longer takes temperature / top_p / top_k as arguments: Claude Code still sends them
    c.messages.create(
        **ask(metadata={"user_id": "u"}), extra_body={"temperature": 1.0, "top_p": 0.9, "top_k": 40}
    )
    sent = up.requests[-1].body
    assert sent["temperature"] == pytest.approx(0.6) and sent["top_p"] == 0.9 and sent["top_k"] == 40


def test_count_tokens_is_the_prompt_sent(counting: Any, vocab: Any) -> None:
    up, base = counting
    c = client(base)
    for fields in (
        {},
        {"tool_choice": {"type": "any"}},
        {"system": "Be brief.", "thinking": {"type": "disabled"}},
    ):
        request = ask(**fields)
        counted = c.messages.count_tokens(
            **{k: v for k, v in request.items() if k != "max_tokens"}
        ).input_tokens
        r = c.messages.create(**request)
        assert counted == len(vocab.encode(up.prompts[-1])) == r.usage.input_tokens


def test_message_start_carries_the_prompt_tokens(counting: Any) -> None:
    _, base = counting
    c = client(base)
    with c.messages.stream(**ask()) as stream:
        start = next(iter(stream))
        assert start.type == "message_start"
        final = stream.get_final_message()
    assert start.message.usage.input_tokens == final.usage.input_tokens > 0


def test_max_tokens_is_clamped_to_the_context(vocab: Any) -> None:
    with StandIn(agent, vocabulary=vocab) as up:
        with gateway(
            up.base_url, models=("kimi-k2.5",), tokenizer=str(VOCAB_FILE), max_model_len=300
        ) as base:
            c = client(base.removesuffix("/v1"))
            r = c.messages.create(**ask(max_tokens=64000))
            prompt_tokens = len(vocab.encode(up.prompts[-1]))
            assert up.requests[-1].body["max_tokens"] == 300 - prompt_tokens and r.stop_reason == "tool_use"
            chat = httpx.post(
                f"{base}/chat/completions",
                json={
                    "model": "kimi-k2.5",
                    "max_tokens": 64000,
                    "messages": [{"role": "user", "content": "hi"}],
                },
            )
            assert chat.status_code == 200
            assert up.requests[-1].body["max_tokens"] == 300 - len(vocab.encode(up.prompts[-1]))
            small = c.messages.create(**ask(max_tokens=10))
            assert up.requests[-1].body["max_tokens"] == 10 and small.stop_reason == "max_tokens"
            with pytest.raises(anthropic.BadRequestError) as e:
                c.messages.create(**ask("x " * 400, max_tokens=10))
            assert "context" in e.value.body["error"]["message"]
        # without --max-model-len, the upstream's /v1/models max_model_len (the stand-in's 262144)
        with gateway(up.base_url, models=("kimi-k2.5",), tokenizer=str(VOCAB_FILE)) as base:
            c = client(base.removesuffix("/v1"))
            c.messages.create(**ask(max_tokens=10**6))
            assert up.requests[-1].body["max_tokens"] == 262144 - len(vocab.encode(up.prompts[-1]))


def test_pings_on_a_silent_upstream() -> None:
    with (
        StandIn(lambda r: "a b c", delay=0.4) as up,
        gateway(up.base_url, models=("kimi-k2-instruct",), ping_interval=0.1) as base,
    ):
        request = {
            "model": "kimi-k2-instruct",
            "max_tokens": 10,
            "messages": [{"role": "user", "content": "hi"}],
        }
        r = httpx.post(f"{base}/messages", json={**request, "stream": True}, timeout=20)
        events = [line for line in r.text.splitlines() if line.startswith("event: ")]
        assert events[:2] == ["event: message_start", "event: ping"]
        assert events.count("event: ping") >= 4 and events[-1] == "event: message_stop"
        c = client(base.removesuffix("/v1"))
        with c.messages.stream(**request) as stream:
            assert stream.get_final_message().content[0].text == "a b c"


# ---- errors -----------------------------------------------------------------------------------------------------


def error_of(e: Any, status: int, error_type: str) -> str:
    """The SDK error's status, Anthropic's error shape and type, and the request id header."""
    assert e.status_code == status
    body = e.response.json()
    assert set(body) == {"type", "error", "request_id"} and body["type"] == "error"
    assert body["error"]["type"] == error_type and body["error"]["message"]
    assert e.response.headers["request-id"] == body["request_id"] == e.request_id
    return str(body["error"]["message"])


def test_auth_with_x_api_key_or_bearer_on_every_route(served: Any) -> None:
    _, base = served
    request = ask(max_tokens=10)
    for good in (client(base), client(base, api_key=None, auth_token=KEY)):
        assert good.messages.create(**request).content
        assert [m.id for m in good.models.list()] == ["kimi-k2.5", "kimi-k2-instruct"]
        with pytest.raises(
            anthropic.BadRequestError
        ) as no_vocabulary:  # past auth: this gateway cannot count
            good.messages.count_tokens(messages=request["messages"], model="kimi-k2.5")
        assert "--tokenizer" in no_vocabulary.value.body["error"]["message"]
    for bad in (client(base, api_key="wrong"), client(base, api_key=None, auth_token="wrong")):
        with pytest.raises(anthropic.AuthenticationError) as e:
            bad.messages.create(**request)
        error_of(e.value, 401, "authentication_error")
        with pytest.raises(anthropic.AuthenticationError):
            bad.messages.count_tokens(messages=request["messages"], model="kimi-k2.5")
    r = httpx.post(f"{base}/v1/messages", json=request)  # no key at all
    assert r.status_code == 401 and r.json()["error"]["type"] == "authentication_error"
    chat = {"model": "kimi-k2.5", "messages": request["messages"]}
    assert httpx.post(f"{base}/v1/chat/completions", json=chat, headers={"x-api-key": KEY}).status_code == 200
    assert httpx.get(f"{base}/metrics", headers={"x-api-key": KEY}).status_code == 200
    assert httpx.get(f"{base}/metrics", headers={"x-api-key": "wrong"}).status_code == 401


@pytest.mark.parametrize(
    ("fields", "words"),
    [
        ({"max_tokens": None}, "max_tokens"),
        (
            {
                "messages": [
                    {"role": "user", "content": [{"type": "image", "source": {"type": "url", "url": "u"}}]}
                ]
            },
            "image",
        ),
        ({"messages": []}, "messages"),
        ({"tool_choice": {"type": "tool", "name": "nope"}}, "not in tools"),
        ({"temperature": 3}, "temperature"),
    ],
)
def test_invalid_requests_are_400(served: Any, fields: dict[str, Any], words: str) -> None:
    _, base = served
    request = {k: v for k, v in {**ask(), **fields}.items() if v is not None}
    r = httpx.post(f"{base}/v1/messages", json=request, headers={"x-api-key": KEY})
    assert r.status_code == 400
    body = r.json()
    assert body["type"] == "error" and body["error"]["type"] == "invalid_request_error"
    assert words in body["error"]["message"] and r.headers["request-id"] == body["request_id"]


def test_unknown_model_body_too_large_and_routes(served: Any) -> None:
    _, base = served
    c = client(base)
    with pytest.raises(anthropic.NotFoundError) as e:
        c.messages.create(**ask(model="claude-opus-4"))
    assert "kimi-k2.5" in error_of(e.value, 404, "not_found_error")
    with pytest.raises(anthropic.RequestTooLargeError) as big:
        c.messages.create(**ask("x" * 70_000))
    error_of(big.value, 413, "request_too_large")
    r = httpx.get(f"{base}/v1/messages", headers={"x-api-key": KEY})
    assert r.status_code == 405 and r.json()["type"] == "error"
    r = httpx.post(f"{base}/v1/messages", content=b"{", headers={"x-api-key": KEY})
    assert r.status_code == 400 and r.json()["error"]["type"] == "invalid_request_error"


@pytest.mark.parametrize(
    ("upstream_status", "status", "error_type", "exception"),
    [
        (429, 529, "overloaded_error", "OverloadedError"),
        (503, 502, "api_error", "InternalServerError"),
        (400, 400, "invalid_request_error", "BadRequestError"),
    ],
)
def test_upstream_failures(upstream_status: int, status: int, error_type: str, exception: str) -> None:
    with (
        StandIn(lambda r: "x", error_status=upstream_status) as up,
        gateway(up.base_url, models=("kimi-k2.5",)) as base,
    ):
        c = client(base.removesuffix("/v1"), api_key="none")
        for stream in (False, True):
            with pytest.raises(getattr(anthropic, exception)) as e:
                c.messages.create(**ask(max_tokens=5), stream=stream)
            error_of(e.value, status, error_type)


def test_unreachable_and_timeouts() -> None:
    with gateway("http://127.0.0.1:9/v1", models=("kimi-k2.5",), upstream_model="m") as base:
        c = client(base.removesuffix("/v1"), api_key="none")
        with pytest.raises(anthropic.InternalServerError) as e:
            c.messages.create(**ask())
        assert "reach" in error_of(e.value, 502, "api_error")
    with (
        StandIn(lambda r: "late", first_delay=2.0) as up,
        gateway(up.base_url, models=("kimi-k2.5",), upstream_model="m", read_timeout=0.3) as base,
    ):
        c = client(base.removesuffix("/v1"), api_key="none")
        with pytest.raises(anthropic.InternalServerError) as e:
            c.messages.create(**ask())
        error_of(e.value, 504, "api_error")


def test_an_upstream_failure_mid_stream_is_an_error_event() -> None:
    with (
        StandIn(lambda r: "one two three four five six", die_after=3) as up,
        gateway(up.base_url, models=("kimi-k2-instruct",)) as base,
    ):
        request = {
            "model": "kimi-k2-instruct",
            "max_tokens": 50,
            "messages": [{"role": "user", "content": "hi"}],
        }
        r = httpx.post(f"{base}/messages", json={**request, "stream": True}, timeout=20)
        blocks = [b for b in r.text.split("\n\n") if b]
        assert blocks[0].startswith("event: message_start") and "message_stop" not in r.text
        name, data = blocks[-1].split("\n")
        body = json.loads(data.removeprefix("data: "))
        assert name == "event: error" and body["type"] == "error" and body["error"]["type"] == "api_error"
        assert "broke" in body["error"]["message"] and body["request_id"] == r.headers["request-id"]
        c = client(base.removesuffix("/v1"), api_key="none")
        with pytest.raises(anthropic.APIStatusError) as e, c.messages.stream(**request) as stream:
            stream.get_final_message()
        assert e.value.body["error"]["type"] == "api_error"


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.one_of(assistant_outputs().map(lambda o: o.raw), marker_soup()), st.booleans())
def test_any_output_streams_to_the_non_streamed_message(served: Any, raw: str, instruct: bool) -> None:
    _, base = served
    c = client(base)
    request = ask(model="kimi-k2-instruct" if instruct else "kimi-k2.5")
    SCRIPT["raw"] = raw
    try:
        whole = c.messages.create(**request)
        with c.messages.stream(**request) as stream:
            streamed = stream.get_final_message()
    finally:
        SCRIPT.clear()
    same(streamed, whole)


def test_a_client_leaving_cancels_the_upstream_between_pings() -> None:
    with (
        StandIn(lambda r: " word" * 2000, delay=0.02) as up,
        gateway(up.base_url, models=("kimi-k2-instruct",), ping_interval=0.01) as base,
    ):
        request = {
            "model": "kimi-k2-instruct",
            "max_tokens": 4000,
            "messages": [{"role": "user", "content": "x"}],
        }
        with httpx.stream("POST", f"{base}/messages", json={**request, "stream": True}, timeout=10) as r:
            lines = r.iter_lines()
            seen = [next(lines) for _ in range(40)]
        assert "event: ping" in seen[4:] and "event: content_block_delta" in seen
        deadline = time.monotonic() + 5
        while up.disconnects == 0 and time.monotonic() < deadline:
            time.sleep(0.02)
        assert up.disconnects == 1 and up.active_streams == 0
