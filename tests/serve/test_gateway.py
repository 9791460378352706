"""The gateway through the official ``openai`` client, against the stand-in engine (both real servers)."""

from __future__ import annotations

import json
import logging
import time
from typing import Any

import pytest

openai = pytest.importorskip(
    "openai", reason="the serve tests need the test extra (pip install -e '.[test]')"
)
import httpx  # noqa: E402

import kimi_toolparse as ktp  # noqa: E402
from kimi_toolparse.serve.standin import Piece, StandIn  # noqa: E402

from ..conftest import FIXTURES, VOCAB_FILE  # noqa: E402
from .conftest import gateway  # noqa: E402

WEATHER = (FIXTURES / "outputs" / "weather.txt").read_text()
THINKING = (FIXTURES / "outputs" / "thinking.txt").read_text()
TOOLS = [
    {
        "type": "function",
        "function": {
            "name": "get_weather",
            "description": "Current weather of a city.",
            "parameters": {
                "type": "object",
                "properties": {"city": {"type": "string"}, "unit": {"type": "string"}},
                "required": ["city"],
            },
        },
    },
    {
        "type": "function",
        "function": {
            "name": "bash",
            "description": "Run a command.",
            "parameters": {"type": "object", "properties": {"command": {"type": "string"}}},
        },
    },
]
ANSWER = "Beijing is sunny at 21 °C; Shanghai is rainy at 18 °C.<|im_end|>"


def weather_agent(request: dict[str, Any]) -> str:
    """Calls get_weather for two cities, then answers once the results are in the prompt (reasoning first
    when the prompt opened ``<think>``)."""
    output = ANSWER if "## Return of" in request["prompt"] else WEATHER
    if request["prompt"].endswith("<think>"):
        output = "Let me see.</think>" + output
    return output


def client(base: str, key: str = "none") -> Any:
    return openai.OpenAI(base_url=base, api_key=key, max_retries=0, timeout=20)


def collect(stream: Any) -> tuple[dict[str, Any], list[Any]]:
    """Add up a streamed answer into one message, as an OpenAI client library does."""
    chunks = list(stream)
    msg: dict[str, Any] = {"content": "", "reasoning_content": "", "tool_calls": {}}
    finish = None
    for ch in chunks:
        for c in ch.choices:
            d = c.delta
            msg["content"] += d.content or ""
            msg["reasoning_content"] += getattr(d, "reasoning_content", None) or ""
            for tc in d.tool_calls or []:
                slot = msg["tool_calls"].setdefault(tc.index, {"id": None, "name": None, "arguments": ""})
                if tc.id:
                    slot["id"] = tc.id
                if tc.function and tc.function.name:
                    slot["name"] = tc.function.name
                if tc.function and tc.function.arguments:
                    slot["arguments"] += tc.function.arguments
            finish = c.finish_reason or finish
    msg["finish_reason"] = finish
    msg["tool_calls"] = [msg["tool_calls"][i] for i in sorted(msg["tool_calls"])]
    return msg, chunks


def test_tool_call_loop_non_streaming_prompts_are_the_renderers() -> None:
    with StandIn(weather_agent) as up, gateway(up.base_url, models=("kimi-k2.5",)) as base:
        c = client(base)
        messages: list[Any] = [{"role": "user", "content": "Weather in Beijing and Shanghai?"}]
        r = c.chat.completions.create(model="kimi-k2.5", messages=messages, tools=TOOLS)
        choice = r.choices[0]
        assert r.object == "chat.completion" and r.model == "kimi-k2.5"
        assert choice.finish_reason == "tool_calls"
        assert choice.message.role == "assistant"
        calls = choice.message.tool_calls
        assert [(t.id, t.function.name, json.loads(t.function.arguments)["city"]) for t in calls] == [
            ("functions.get_weather:0", "get_weather", "Beijing"),
            ("functions.get_weather:1", "get_weather", "Shanghai"),
        ]
        assert (
            r.usage.completion_tokens > 0
            and r.usage.total_tokens == r.usage.prompt_tokens + r.usage.completion_tokens
        )
        messages.append(choice.message.model_dump(exclude_none=True))
        for t in calls:
            messages.append({"role": "tool", "tool_call_id": t.id, "content": "sunny"})
        r2 = c.chat.completions.create(model="kimi-k2.5", messages=messages, tools=TOOLS)
        assert r2.choices[0].message.content == ANSWER.removesuffix("<|im_end|>")
        assert r2.choices[0].message.reasoning_content == "Let me see."
        assert r2.choices[0].finish_reason == "stop" and not r2.choices[0].message.tool_calls
        # byte for byte what the renderer gives for the same conversation
        assert up.prompts == [
            ktp.render(messages[:1], TOOLS, model="kimi-k2.5"),
            ktp.render(messages, TOOLS, model="kimi-k2.5"),
        ]
        sent = up.requests[-1].body
        assert sent["skip_special_tokens"] is False and sent["spaces_between_special_tokens"] is False
        assert sent["stop_token_ids"] == [163586] and sent["model"] == up.model


def test_tool_call_loop_streaming_matches_non_streaming() -> None:
    with StandIn(weather_agent) as up, gateway(up.base_url, models=("kimi-k2-instruct",)) as base:
        c = client(base)
        messages: list[Any] = [{"role": "user", "content": "Weather in Beijing and Shanghai?"}]
        stream = c.chat.completions.create(
            model="kimi-k2-instruct",
            messages=messages,
            tools=TOOLS,
            stream=True,
            stream_options={"include_usage": True},
        )
        msg, chunks = collect(stream)
        assert chunks[0].choices[0].delta.role == "assistant"
        assert all(ch.id == chunks[0].id and ch.object == "chat.completion.chunk" for ch in chunks)
        assert chunks[-1].choices == [] and chunks[-1].usage.completion_tokens > 0
        whole = c.chat.completions.create(model="kimi-k2-instruct", messages=messages, tools=TOOLS)
        wm = whole.choices[0].message
        assert msg["content"] == wm.content == "I'll check the weather in both cities."
        assert msg["finish_reason"] == "tool_calls"
        assert [(t["id"], t["name"], t["arguments"]) for t in msg["tool_calls"]] == [
            (t.id, t.function.name, t.function.arguments) for t in wm.tool_calls
        ]
        messages.append(
            {
                "role": "assistant",
                "content": msg["content"],
                "tool_calls": [
                    {
                        "id": t["id"],
                        "type": "function",
                        "function": {"name": t["name"], "arguments": t["arguments"]},
                    }
                    for t in msg["tool_calls"]
                ],
            }
        )
        for t in msg["tool_calls"]:
            messages.append({"role": "tool", "tool_call_id": t["id"], "content": "21"})
        final, _ = collect(
            c.chat.completions.create(model="kimi-k2-instruct", messages=messages, tools=TOOLS, stream=True)
        )
        assert final["content"] == ANSWER.removesuffix("<|im_end|>") and final["finish_reason"] == "stop"
        assert up.prompts[-1] == ktp.render(messages, TOOLS, model="kimi-k2-instruct")


def test_reasoning_with_a_call_inside_think_and_vllm_spacing() -> None:
    with StandIn(lambda r: THINKING) as up, gateway(up.base_url, models=("kimi-k2.5",)) as base:
        c = client(base)
        kw: dict[str, Any] = {
            "model": "kimi-k2.5",
            "messages": [{"role": "user", "content": "disk use?"}],
            "tools": TOOLS,
        }
        r = c.chat.completions.create(**kw)
        m = r.choices[0].message
        assert m.reasoning_content.startswith("The user wants the disk usage")
        assert [(t.function.name, json.loads(t.function.arguments)) for t in m.tool_calls] == [
            ("bash", {"command": "du -sh ./* | sort -h", "timeout": 60})
        ]
        assert up.prompts[0].endswith("<think>")
        msg, _ = collect(c.chat.completions.create(**kw, stream=True))
        assert msg["reasoning_content"] == m.reasoning_content and msg["content"] == (m.content or "")
        # thinking off: the prompt closes <think> and the output starts as content
        r = c.chat.completions.create(**kw, extra_body={"chat_template_kwargs": {"thinking": False}})
        assert up.prompts[-1] == ktp.render(kw["messages"], TOOLS, model="kimi-k2.5", thinking=False)


def test_tool_choice_required_and_named_are_prefilled() -> None:
    def engine(request: dict[str, Any]) -> str:
        if request["prompt"].endswith("<|tool_call_argument_begin|>"):
            return '{"city": "Paris"}<|tool_call_end|><|tool_calls_section_end|><|im_end|>'
        if request["prompt"].endswith("<|tool_calls_section_begin|>"):
            return (
                '<|tool_call_begin|>functions.bash:0<|tool_call_argument_begin|>{"command": "ls"}'
                "<|tool_call_end|><|tool_calls_section_end|>"
            )
        return "plain answer"

    messages = [{"role": "user", "content": "go"}]
    with StandIn(engine) as up, gateway(up.base_url, models=("kimi-k2-instruct", "kimi-k2.5")) as base:
        c = client(base)
        r = c.chat.completions.create(
            model="kimi-k2-instruct", messages=messages, tools=TOOLS, tool_choice="required"
        )
        assert [t.function.name for t in r.choices[0].message.tool_calls] == ["bash"]
        assert (
            up.prompts[-1]
            == ktp.render(messages, TOOLS, model="kimi-k2-instruct") + "<|tool_calls_section_begin|>"
        )
        named = {"type": "function", "function": {"name": "get_weather"}}
        r = c.chat.completions.create(
            model="kimi-k2-instruct", messages=messages, tools=TOOLS, tool_choice=named
        )
        (call,) = r.choices[0].message.tool_calls
        assert (call.id, call.function.name, call.function.arguments) == (
            "functions.get_weather:0",
            "get_weather",
            '{"city": "Paris"}',
        )
        header = (
            "<|tool_calls_section_begin|><|tool_call_begin|>functions.get_weather:0"
            "<|tool_call_argument_begin|>"
        )
        assert up.prompts[-1] == ktp.render(messages, TOOLS, model="kimi-k2-instruct") + header
        # streamed, the call starts from the prefill
        msg, _ = collect(
            c.chat.completions.create(
                model="kimi-k2-instruct", messages=messages, tools=TOOLS, tool_choice=named, stream=True
            )
        )
        assert msg["tool_calls"] == [
            {"id": "functions.get_weather:0", "name": "get_weather", "arguments": '{"city": "Paris"}'}
        ]
        # a thinking prompt: the forced call closes <think> at once (empty reasoning)
        r = c.chat.completions.create(model="kimi-k2.5", messages=messages, tools=TOOLS, tool_choice=named)
        assert up.prompts[-1] == ktp.render(messages, TOOLS, model="kimi-k2.5") + "</think>" + header
        assert r.choices[0].message.reasoning_content == ""
        assert r.choices[0].message.tool_calls[0].function.arguments == '{"city": "Paris"}'
        # auto sends the plain prompt
        r = c.chat.completions.create(
            model="kimi-k2-instruct", messages=messages, tools=TOOLS, tool_choice="auto"
        )
        assert r.choices[0].message.content == "plain answer"
        assert up.prompts[-1] == ktp.render(messages, TOOLS, model="kimi-k2-instruct")


def test_tool_choice_none_and_parallel_false_drop_calls_and_say_so() -> None:
    with StandIn(lambda r: WEATHER) as up, gateway(up.base_url, models=("kimi-k2-instruct",)) as base:
        c = client(base)
        kw: dict[str, Any] = {
            "model": "kimi-k2-instruct",
            "messages": [{"role": "user", "content": "x"}],
            "tools": TOOLS,
        }
        r = c.chat.completions.create(**kw, tool_choice="none")
        assert r.choices[0].message.tool_calls is None and r.choices[0].finish_reason == "stop"
        assert r.choices[0].message.content == "I'll check the weather in both cities."
        assert [d["code"] for d in r.model_extra["kimi_diagnostics"]] == ["tool_calls_dropped"]
        msg, chunks = collect(c.chat.completions.create(**kw, tool_choice="none", stream=True))
        assert msg["tool_calls"] == [] and msg["finish_reason"] == "stop"
        r = c.chat.completions.create(**kw, parallel_tool_calls=False)
        assert [t.id for t in r.choices[0].message.tool_calls] == ["functions.get_weather:0"]
        assert [d["code"] for d in r.model_extra["kimi_diagnostics"]] == ["parallel_calls_dropped"]
        msg, chunks = collect(c.chat.completions.create(**kw, parallel_tool_calls=False, stream=True))
        assert [t["id"] for t in msg["tool_calls"]] == ["functions.get_weather:0"]
        assert chunks[-1].model_extra["kimi_diagnostics"][0]["code"] == "parallel_calls_dropped"


def test_malformed_output_is_answered_with_diagnostics_and_counted() -> None:
    # a call cut off by the next call's header, and a section that never ends
    broken = (FIXTURES / "outputs" / "broken_calls.txt").read_text()
    with StandIn(lambda r: broken) as up, gateway(up.base_url, models=("kimi-k2-instruct",)) as base:
        c = client(base)
        kw: dict[str, Any] = {
            "model": "kimi-k2-instruct",
            "messages": [{"role": "user", "content": "x"}],
            "tools": TOOLS,
        }
        r = c.chat.completions.create(**kw)
        m = r.choices[0].message
        assert m.content == "Checking."
        assert [(t.function.name, t.function.arguments) for t in m.tool_calls] == [
            ("get_weather", '{"city": "Oslo"'),
            ("bash", '{"command": "ls"}'),
        ]
        codes = {d["code"] for d in r.model_extra["kimi_diagnostics"]}
        assert {"invalid_json", "call_not_closed", "unclosed_section"} <= codes
        msg, _ = collect(c.chat.completions.create(**kw, stream=True))
        assert [t["arguments"] for t in msg["tool_calls"]] == ['{"city": "Oslo"', '{"command": "ls"}']
        metrics = httpx.get(base.removesuffix("/v1") + "/metrics").text
        assert 'kimi_gateway_parse_diagnostics_total{code="invalid_json"} 2.0' in metrics
        assert 'kimi_gateway_requests_total{endpoint="chat",status="200"} 2.0' in metrics
        assert "kimi_gateway_upstream_first_token_seconds_count 2.0" in metrics
        assert 'kimi_gateway_tokens_total{kind="completion"}' in metrics


def test_stripped_markers_get_a_diagnostic_naming_the_cause() -> None:
    # --engine plain sends no skip_special_tokens: the stand-in, like vLLM, then strips the markers
    with (
        StandIn(lambda r: WEATHER) as up,
        gateway(up.base_url, models=("kimi-k2-instruct",), engine="plain") as base,
    ):
        r = client(base).chat.completions.create(
            model="kimi-k2-instruct", messages=[{"role": "user", "content": "x"}], tools=TOOLS
        )
        assert "skip_special_tokens" not in up.requests[-1].body
        assert r.choices[0].message.tool_calls is None
        (diag,) = r.model_extra["kimi_diagnostics"]
        assert diag["code"] == "markers_missing" and "skip_special_tokens" in diag["message"]
        assert "functions.get_weather:0" in diag["message"]


def test_token_id_mode_keeps_marker_text_inside_arguments_as_data() -> None:
    pytest.importorskip("tiktoken")
    vocab = ktp.KimiVocabulary.from_file(VOCAB_FILE)
    data = '{"command": "echo <|tool_call_end|>"}'
    pieces = [
        "<|tool_calls_section_begin|>",
        "<|tool_call_begin|>",
        Piece("functions.bash:0", tuple(vocab.encode("functions.bash:0"))),
        "<|tool_call_argument_begin|>",
        # the marker's text made of ordinary tokens: data, told apart only by the ids
        Piece(data, tuple(vocab.encode(data, allowed_special=()))),
        "<|tool_call_end|>",
        "<|tool_calls_section_end|>",
    ]
    with (
        StandIn(lambda r: pieces, vocabulary=vocab) as up,
        gateway(up.base_url, models=("kimi-k2-instruct",)) as base,
    ):
        kw: dict[str, Any] = {
            "model": "kimi-k2-instruct",
            "messages": [{"role": "user", "content": "x"}],
            "tools": TOOLS,
        }
        c = client(base)
        r = c.chat.completions.create(**kw)
        assert up.requests[-1].body["return_token_ids"] is True
        assert [t.function.arguments for t in r.choices[0].message.tool_calls] == [data]
        msg, _ = collect(c.chat.completions.create(**kw, stream=True))
        assert [t["arguments"] for t in msg["tool_calls"]] == [data]
        # a named choice in token-id mode: the prefill's markers count as marker ids
        named = {"type": "function", "function": {"name": "bash"}}
        up.responder = lambda r: [
            Piece(data, tuple(vocab.encode(data, allowed_special=()))),
            "<|tool_call_end|>",
        ]
        r = c.chat.completions.create(**kw, tool_choice=named)
        assert [(t.function.name, t.function.arguments) for t in r.choices[0].message.tool_calls] == [
            ("bash", data)
        ]


def test_n_choices_and_sampling_fields_pass_through() -> None:
    outputs = iter(["first<|im_end|>", "second<|im_end|>"] * 2)
    with StandIn(lambda r: next(outputs)) as up, gateway(up.base_url, models=("kimi-k2-instruct",)) as base:
        c = client(base)
        kw: dict[str, Any] = {
            "model": "kimi-k2-instruct",
            "messages": [{"role": "user", "content": "x"}],
            "n": 2,
            "temperature": 0.6,
            "top_p": 0.9,
            "max_completion_tokens": 50,
            "seed": 7,
            "stop": ["END"],
        }
        r = c.chat.completions.create(**kw)
        assert [ch.message.content for ch in r.choices] == ["first", "second"]
        sent = up.requests[-1].body
        assert (sent["n"], sent["temperature"], sent["top_p"], sent["max_tokens"], sent["seed"]) == (
            2,
            0.6,
            0.9,
            50,
            7,
        )
        assert sent["stop"] == ["END"] and sent["stop_token_ids"] == [163586]
        chunks = list(c.chat.completions.create(**kw, stream=True))
        texts = {0: "", 1: ""}
        for ch in chunks:
            for choice in ch.choices:
                texts[choice.index] += choice.delta.content or ""
        assert texts == {0: "first", 1: "second"}


def test_length_finish_reason() -> None:
    with (
        StandIn(lambda r: "one two three four five six") as up,
        gateway(up.base_url, models=("kimi-k2-instruct",)) as base,
    ):
        r = client(base).chat.completions.create(
            model="kimi-k2-instruct", messages=[{"role": "user", "content": "x"}], max_tokens=3
        )
        assert r.choices[0].finish_reason == "length" and r.choices[0].message.content == "one two three"


def test_request_log_is_one_json_line_without_content(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="kimi_toolparse.serve")
    with StandIn(lambda r: WEATHER) as up, gateway(up.base_url, models=("kimi-k2-instruct",)) as base:
        client(base).chat.completions.create(
            model="kimi-k2-instruct", messages=[{"role": "user", "content": "secret words"}], tools=TOOLS
        )
    lines = [json.loads(rec.getMessage()) for rec in caplog.records if rec.name == "kimi_toolparse.serve"]
    (line,) = [ln for ln in lines if ln.get("path") == "/v1/chat/completions"]
    assert line["status"] == 200 and line["request_id"] and line["duration_ms"] > 0
    assert line["completion_tokens"] > 0 and line["finish_reasons"] == ["tool_calls"]
    assert "upstream_first_token_ms" in line
    assert "secret words" not in json.dumps(lines) and "Beijing" not in json.dumps(lines)


def test_client_disconnect_cancels_the_upstream_request() -> None:
    long = " word" * 2000
    with (
        StandIn(lambda r: long, delay=0.005) as up,
        gateway(up.base_url, models=("kimi-k2-instruct",)) as base,
    ):
        body = {"model": "kimi-k2-instruct", "messages": [{"role": "user", "content": "x"}], "stream": True}
        with httpx.stream("POST", f"{base}/chat/completions", json=body, timeout=10) as r:
            lines = r.iter_lines()
            for _ in range(6):
                next(lines)
        deadline = time.monotonic() + 5
        while up.disconnects == 0 and time.monotonic() < deadline:
            time.sleep(0.02)
        assert up.disconnects == 1 and up.active_streams == 0


def test_upstream_dying_mid_stream_ends_the_stream_with_an_error() -> None:
    with (
        StandIn(lambda r: WEATHER, die_after=5) as up,
        gateway(up.base_url, models=("kimi-k2-instruct",)) as base,
    ):
        c = client(base)
        kw: dict[str, Any] = {"model": "kimi-k2-instruct", "messages": [{"role": "user", "content": "x"}]}
        got = []
        with pytest.raises(openai.APIError) as info:
            for ch in c.chat.completions.create(**kw, stream=True):
                got.append(ch)
        assert "upstream" in str(info.value.message)
        assert got[0].choices[0].delta.role == "assistant"
        with pytest.raises(openai.APIStatusError) as err:
            c.chat.completions.create(**kw)
        assert err.value.status_code == 502
        assert err.value.body["code"] == "upstream_disconnected"


def test_moonshots_example_client_code_runs_unchanged() -> None:
    """The tool-call loop of Moonshot's K2 examples: the reply object itself goes back into messages."""

    def get_weather(city: str, unit: str = "celsius") -> dict[str, Any]:
        return {"city": city, "weather": "Sunny", "temperature": 21}

    tool_map = {"get_weather": get_weather}
    with StandIn(weather_agent) as up, gateway(up.base_url, models=("kimi-k2-instruct",)) as base:
        client_ = openai.OpenAI(base_url=base, api_key="EMPTY")
        messages: list[Any] = [
            {"role": "system", "content": "You are Kimi, an AI assistant created by Moonshot AI."},
            {"role": "user", "content": "What's the weather like in Beijing and Shanghai today?"},
        ]
        finish_reason = None
        while finish_reason is None or finish_reason == "tool_calls":
            completion = client_.chat.completions.create(
                model="kimi-k2-instruct", messages=messages, temperature=0.6, tools=TOOLS, tool_choice="auto"
            )
            choice = completion.choices[0]
            finish_reason = choice.finish_reason
            if finish_reason == "tool_calls":
                messages.append(choice.message)
                for tool_call in choice.message.tool_calls:
                    tool_call_name = tool_call.function.name
                    tool_call_arguments = json.loads(tool_call.function.arguments)
                    tool_result = tool_map[tool_call_name](**tool_call_arguments)
                    messages.append(
                        {
                            "role": "tool",
                            "tool_call_id": tool_call.id,
                            "name": tool_call_name,
                            "content": json.dumps(tool_result),
                        }
                    )
        assert choice.message.content == ANSWER.removesuffix("<|im_end|>")
        assert len(up.prompts) == 2
        history = [m if isinstance(m, dict) else m.model_dump(exclude_unset=True) for m in messages]
        assert up.prompts[1] == ktp.render(history, TOOLS, model="kimi-k2-instruct")


def test_client_leaving_a_non_streaming_request_cancels_the_upstream() -> None:
    with (
        StandIn(lambda r: " word" * 2000, delay=0.005) as up,
        gateway(up.base_url, models=("kimi-k2-instruct",)) as base,
    ):
        body = {"model": "kimi-k2-instruct", "messages": [{"role": "user", "content": "x"}]}
        with pytest.raises(httpx.ReadTimeout):
            httpx.post(f"{base}/chat/completions", json=body, timeout=0.5)
        deadline = time.monotonic() + 5
        while up.disconnects == 0 and time.monotonic() < deadline:
            time.sleep(0.02)
        assert up.disconnects == 1 and up.active_streams == 0


def test_log_content_adds_the_prompt_and_outputs(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="kimi_toolparse.serve")
    with (
        StandIn(lambda r: WEATHER) as up,
        gateway(up.base_url, models=("kimi-k2-instruct",), log_content=True) as base,
    ):
        messages = [{"role": "user", "content": "secret words"}]
        client(base).chat.completions.create(model="kimi-k2-instruct", messages=messages, tools=TOOLS)
    (line,) = [
        json.loads(r.getMessage())
        for r in caplog.records
        if r.name == "kimi_toolparse.serve" and "/chat/" in r.getMessage()
    ]
    assert line["prompt"] == ktp.render(messages, TOOLS, model="kimi-k2-instruct")
    assert (
        line["outputs"][0]["tool_calls"][0]["function"]["arguments"]
        == '{"city": "Beijing", "unit": "celsius"}'
    )
