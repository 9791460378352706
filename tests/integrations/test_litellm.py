"""The LiteLLM provider through ``litellm.completion`` / ``acompletion`` and through the LiteLLM proxy (a real
process started from a config file), against the stand-in engine; and the tool-call id hygiene."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")  # no network at import
litellm = pytest.importorskip("litellm", reason="needs the litellm extra (pip install -e '.[litellm]')")
pytest.importorskip("uvicorn", reason="the stand-in needs the serve extra")

from kimi_toolparse.integrations.litellm import (  # noqa: E402
    KimiCall,
    KimiK2Provider,
    KimiToolCallIds,
    kimi_messages,
)
from kimi_toolparse.serve.standin import StandIn  # noqa: E402
from kimi_toolparse.serve.upstream import Target  # noqa: E402
from testsupport.paths import FIXTURES, ROOT, VOCAB_FILE  # noqa: E402

litellm.suppress_debug_info = True
WEATHER = (FIXTURES / "outputs" / "weather.txt").read_text()
REASONED = "Two cities, two calls.</think>" + WEATHER
TOOLS = [
    {
        "type": "function",
        "function": {
            "name": "get_weather",
            "parameters": {
                "type": "object",
                "properties": {"city": {"type": "string"}, "unit": {"type": "string"}},
                "required": ["city"],
            },
        },
    }
]
CALLS = [
    ("functions.get_weather:0", "get_weather", '{"city": "Beijing", "unit": "celsius"}'),
    ("functions.get_weather:1", "get_weather", '{"city": "Shanghai", "unit": "celsius"}'),
]
USER = [{"role": "user", "content": "Weather in Beijing and Shanghai?"}]


@pytest.fixture(scope="module")
def registered() -> Iterator[None]:
    before = litellm.custom_provider_map
    litellm.custom_provider_map = [
        {"provider": "kimi_toolparse", "custom_handler": KimiK2Provider(engine="sglang", prompt="text")}
    ]
    litellm.utils.custom_llm_setup()
    yield
    litellm.custom_provider_map = before
    litellm.utils.custom_llm_setup()


def calls(message: Any) -> list[tuple[str, str, str]]:
    return [(t.id, t.function.name, t.function.arguments) for t in message.tool_calls or []]


def kwargs(up: StandIn, **more: Any) -> dict[str, Any]:
    return {
        "model": "kimi_toolparse/kimi-k2.5",
        "messages": USER,
        "tools": TOOLS,
        "api_base": up.base_url,
        **more,
    }


def test_completion_and_acompletion_streamed_and_not(registered: None, vocab: Any) -> None:
    """Sync and async, streamed and not: the model's ids, its reasoning, the finish reason and usage;
    SGLang in token-id mode, its ids read from each chunk."""
    with StandIn(lambda r: REASONED, engine="sglang", vocabulary=vocab) as up:
        r = litellm.completion(**kwargs(up))
        msg = r.choices[0].message
        assert calls(msg) == CALLS and r.choices[0].finish_reason == "tool_calls"
        assert (
            msg.reasoning_content == "Two cities, two calls."
            and msg.content == "I'll check the weather in both cities."
        )
        assert r.usage.completion_tokens > 0 and up.requests[-1].body["return_token_ids"] is True
        chunks = list(litellm.completion(**kwargs(up), stream=True))
        built = litellm.stream_chunk_builder(chunks).choices[0]
        assert calls(built.message) == CALLS and built.message.reasoning_content == "Two cities, two calls."
        assert built.finish_reason == "tool_calls"

        async def both() -> tuple[Any, Any]:
            whole = await litellm.acompletion(**kwargs(up))
            streamed = [c async for c in await litellm.acompletion(**kwargs(up), stream=True)]
            return whole, litellm.stream_chunk_builder(streamed)

        whole, streamed = asyncio.run(both())
        assert calls(whole.choices[0].message) == CALLS == calls(streamed.choices[0].message)


def test_per_call_options_engine_profile_and_prompt_ids(registered: None, vocab: Any) -> None:
    """engine / prompt / tokenizer / upstream_model per call; the body is the gateway's for that engine."""
    from kimi_toolparse import render

    with StandIn(lambda r: WEATHER, engine="llamacpp", model="served-name") as up:
        more = {"engine": "llamacpp", "prompt": "ids", "tokenizer": str(VOCAB_FILE), "upstream_model": "x"}
        r = litellm.completion(**kwargs(up, **more), temperature=0.2, max_tokens=300)
        assert calls(r.choices[0].message) == CALLS
        body = up.requests[-1].body
        assert body["prompt"] == vocab.encode(render(USER, TOOLS, model="kimi-k2.5"))
        assert body["model"] == "x" and body["temperature"] == 0.2 and body["max_tokens"] == 300
        assert "<|tool_call_begin|>" in body["preserved_tokens"] and "return_token_ids" not in body
        litellm.completion(**kwargs(up, engine="llamacpp"))  # the model name from its /v1/models
        assert up.requests[-1].body["model"] == "served-name"


def test_failures_are_litellm_errors_with_the_status(registered: None) -> None:
    with StandIn(lambda r: WEATHER, error_status=503) as up:
        with pytest.raises(litellm.exceptions.ServiceUnavailableError) as e:
            litellm.completion(**kwargs(up, upstream_model="m"))
        assert "503" in str(e.value)
    with StandIn(lambda r: WEATHER) as up, pytest.raises(litellm.exceptions.BadRequestError, match="not in"):
        litellm.completion(
            **kwargs(up, upstream_model="m"),
            tool_choice={"type": "function", "function": {"name": "nope"}},
        )
    with pytest.raises(litellm.exceptions.BadRequestError, match="api_base"):
        litellm.completion(model="kimi_toolparse/kimi-k2.5", messages=USER)


def test_a_call_is_sans_io_over_any_cut_of_the_bytes() -> None:
    """The engine's SSE bytes cut anywhere give the same calls (the provider's core has no network)."""
    events = [
        {"choices": [{"index": 0, "text": t, "finish_reason": None}]}
        for t in [
            "I'll check",
            "<|tool_calls_section_begin|>",
            WEATHER.split("<|tool_calls_section_begin|>")[1],
        ]
    ]
    raw = "".join(f"data: {json.dumps(e)}\n\n" for e in events).encode() + b"data: [DONE]\n\n"
    for size in (1, 7, len(raw)):
        call = KimiCall("kimi-k2-instruct", USER, {"tools": TOOLS}, Target())
        for i in range(0, len(raw), size):
            call.feed(raw[i : i + size])
        assert call.done
        call.finish()
        assert calls(call.response().choices[0].message) == CALLS


def test_id_hygiene_rewrites_the_history_for_an_openai_compatible_endpoint() -> None:
    history = [
        *USER,
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [
                {
                    "id": "call_abc",
                    "type": "function",
                    "function": {"name": "get_weather", "arguments": "{}"},
                },
                {"id": "toolu_9", "type": "function", "function": {"name": "get_weather", "arguments": "{}"}},
            ],
        },
        {"role": "tool", "tool_call_id": "toolu_9", "content": "rain"},
        {"role": "tool", "tool_call_id": "call_abc", "content": "sun"},
    ]
    fixed = kimi_messages(history)
    assert [c["id"] for c in fixed[1]["tool_calls"]] == ["functions.get_weather:0", "functions.get_weather:1"]
    assert [m["tool_call_id"] for m in fixed[2:]] == ["functions.get_weather:1", "functions.get_weather:0"]
    assert history[1]["tool_calls"][0]["id"] == "call_abc"  # the caller's list is left alone
    hook = KimiToolCallIds(models=["kimi"])
    data = asyncio.run(
        hook.async_pre_call_hook(None, None, {"model": "kimi", "messages": history}, "completion")
    )
    assert data["messages"] == fixed
    other = asyncio.run(
        hook.async_pre_call_hook(None, None, {"model": "gpt", "messages": history}, "completion")
    )
    assert other["messages"] is history


# ---- the proxy, a real process ----------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextlib.contextmanager
def proxy(config: Path, key: str) -> Iterator[str]:
    """``litellm --config`` on a loopback port; yields its base URL. Skips without the proxy's modules."""
    pytest.importorskip("fastapi", reason="the LiteLLM proxy needs litellm's proxy dependencies")
    port = _free_port()
    env = {
        **os.environ,
        "LITELLM_MASTER_KEY": key,
        "PYTHONPATH": str(ROOT),
        "LITELLM_LOCAL_MODEL_COST_MAP": "True",
    }
    exe = Path(sys.executable).with_name("litellm")
    proc = subprocess.Popen(
        [str(exe), "--config", str(config), "--host", "127.0.0.1", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        import httpx

        deadline = time.monotonic() + 120
        while True:
            if proc.poll() is not None:
                pytest.fail(f"the LiteLLM proxy exited: {proc.stderr.read()[-2000:] if proc.stderr else ''}")
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"{base}/health/liveliness", timeout=2).status_code == 200:
                    break
            assert time.monotonic() < deadline, "the LiteLLM proxy did not start in 120 s"
            time.sleep(0.5)
        yield base
    finally:
        proc.terminate()
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)


class _ChatEndpoint:
    """A bare OpenAI-compatible chat endpoint (ASGI) that keeps every request body and answers "Done."."""

    def __init__(self) -> None:
        self.bodies: list[Any] = []

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        raw = b""
        while True:
            message = await receive()
            raw += message.get("body", b"")
            if not message.get("more_body"):
                break
        if scope["path"].endswith("/chat/completions"):
            self.bodies.append(json.loads(raw))
        body = json.dumps(
            {
                "id": "c",
                "object": "chat.completion",
                "created": 0,
                "model": "kimi",
                "choices": [
                    {
                        "index": 0,
                        "message": {"role": "assistant", "content": "Done."},
                        "finish_reason": "stop",
                    }
                ],
                "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2},
            }
        ).encode()
        headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": body})


def test_the_litellm_proxy_serves_kimi_tool_calls_with_the_models_ids(tmp_path: Path, vocab: Any) -> None:
    """The proxy from a config file: the provider by its dotted path for one model, the id-hygiene callback
    for another behind an OpenAI-compatible Kimi endpoint (which must receive functions.NAME:IDX ids)."""
    openai = pytest.importorskip("openai")
    from tests.serve.conftest import serve_app

    key = "sk-kimi-toolparse-test-0123456789"
    endpoint = _ChatEndpoint()
    with (
        StandIn(lambda r: REASONED, engine="llamacpp", vocabulary=vocab) as raw,
        serve_app(endpoint) as chat_base,
    ):
        config = tmp_path / "config.yaml"
        config.write_text(
            json.dumps(
                {
                    "model_list": [
                        {
                            "model_name": "kimi",
                            "litellm_params": {
                                "model": "kimi_toolparse/kimi-k2.5",
                                "api_base": raw.base_url,
                                "engine": "llamacpp",  # a per-model option of the provider
                            },
                        },
                        {
                            "model_name": "kimi-openai",
                            "litellm_params": {
                                "model": "openai/kimi-k2",
                                "api_base": chat_base + "/v1",
                                "api_key": "none",
                            },
                        },
                    ],
                    "litellm_settings": {
                        "custom_provider_map": [
                            {
                                "provider": "kimi_toolparse",
                                "custom_handler": "kimi_toolparse.integrations.litellm.provider",
                            }
                        ],
                        "callbacks": ["kimi_toolparse.integrations.litellm.id_hygiene"],
                    },
                }
            )
        )
        with proxy(config, key) as base:
            client = openai.OpenAI(base_url=base, api_key=key, max_retries=0, timeout=60)
            r = client.chat.completions.create(model="kimi", messages=USER, tools=TOOLS)
            assert calls(r.choices[0].message) == CALLS and r.choices[0].finish_reason == "tool_calls"
            assert r.choices[0].message.model_extra.get("reasoning_content") == "Two cities, two calls."
            got: dict[int, list[str]] = {}
            finish = None
            for chunk in client.chat.completions.create(
                model="kimi", messages=USER, tools=TOOLS, stream=True
            ):
                for c in chunk.choices:
                    for tc in c.delta.tool_calls or []:
                        slot = got.setdefault(tc.index, ["", "", ""])
                        slot[0] = tc.id or slot[0]
                        slot[1] = (tc.function.name if tc.function else None) or slot[1]
                        slot[2] += (tc.function.arguments if tc.function else None) or ""
                    finish = c.finish_reason or finish
            assert [tuple(got[i]) for i in sorted(got)] == CALLS and finish == "tool_calls"
            assert "<|tool_call_begin|>" in raw.requests[-1].body["preserved_tokens"]
            call = {
                "id": "call_x1",
                "type": "function",
                "function": {"name": "get_weather", "arguments": "{}"},
            }
            history = [
                *USER,
                {"role": "assistant", "content": "", "tool_calls": [call]},
                {"role": "tool", "tool_call_id": "call_x1", "content": "sun"},
            ]
            client.chat.completions.create(model="kimi-openai", messages=history, tools=TOOLS)
            sent = endpoint.bodies[-1]["messages"]
            assert sent[1]["tool_calls"][0]["id"] == "functions.get_weather:0"
            assert sent[2]["tool_call_id"] == "functions.get_weather:0"
