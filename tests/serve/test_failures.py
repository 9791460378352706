"""Every failure the gateway answers: its status and its OpenAI-style body; auth on and off."""

from __future__ import annotations

import socket
from typing import Any

import httpx
import pytest

from kimi_toolparse.serve.standin import StandIn

from .conftest import gateway

OK = {"model": "kimi-k2-instruct", "messages": [{"role": "user", "content": "hi"}]}


def error_of(r: httpx.Response) -> dict[str, Any]:
    body = r.json()
    assert set(body) == {"error"}
    assert set(body["error"]) == {"message", "type", "param", "code"}
    assert isinstance(body["error"]["message"], str) and body["error"]["message"]
    return body["error"]  # type: ignore[no-any-return]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def served() -> Any:
    with (
        StandIn(lambda r: "hello") as up,
        gateway(up.base_url, models=("kimi-k2-instruct",), max_body_bytes=4096) as base,
    ):
        yield up, base


@pytest.mark.parametrize(
    ("body", "param", "words"),
    [
        ({"model": "kimi-k2-instruct"}, "messages", "messages"),
        ({**OK, "messages": []}, "messages", "messages"),
        ({**OK, "n": 0}, "n", "n"),
        ({**OK, "temperature": 7}, "temperature", "temperature"),
        ({**OK, "stream": "sometimes"}, "stream", "stream"),
        ({**OK, "tool_choice": "always"}, "tool_choice", "tool_choice"),
        ({**OK, "tool_choice": "required"}, "tool_choice", "needs tools"),
        (
            {**OK, "tool_choice": {"type": "function", "function": {"name": "nope"}}},
            "tool_choice",
            "not in tools",
        ),
        ({**OK, "messages": [{"role": "tool", "content": "x"}]}, "messages", "tool_call_id"),
        ({**OK, "chat_template_kwargs": {"colour": True}}, "chat_template_kwargs", "colour"),
        ({**OK, "logprobs": True}, "logprobs", "logprobs"),
        ({"messages": OK["messages"]}, "model", "model"),
    ],
)
def test_invalid_requests_are_400_naming_the_field(
    served: Any, body: dict[str, Any], param: str, words: str
) -> None:
    _, base = served
    r = httpx.post(f"{base}/chat/completions", json=body)
    assert r.status_code == 400
    err = error_of(r)
    assert err["param"] == param and err["type"] == "invalid_request_error"
    assert words in err["message"]


def test_malformed_json_and_wrong_shapes(served: Any) -> None:
    _, base = served
    r = httpx.post(
        f"{base}/chat/completions", content=b'{"model": ', headers={"content-type": "application/json"}
    )
    assert r.status_code == 400 and error_of(r)["code"] == "invalid_json"
    r = httpx.post(f"{base}/chat/completions", json=[1, 2])
    assert r.status_code == 400 and "JSON object" in error_of(r)["message"]


def test_unknown_model_is_404(served: Any) -> None:
    _, base = served
    r = httpx.post(f"{base}/chat/completions", json={**OK, "model": "gpt-4o"})
    assert r.status_code == 404
    err = error_of(r)
    assert (err["param"], err["code"]) == ("model", "model_not_found") and "kimi-k2-instruct" in err[
        "message"
    ]


def test_the_upstreams_own_name_is_accepted(served: Any) -> None:
    up, base = served
    r = httpx.post(f"{base}/chat/completions", json={**OK, "model": up.model})
    assert r.status_code == 200 and r.json()["choices"][0]["message"]["content"] == "hello"


def test_body_too_large_is_413(served: Any) -> None:
    _, base = served
    big = {**OK, "messages": [{"role": "user", "content": "x" * 5000}]}
    r = httpx.post(f"{base}/chat/completions", json=big)
    assert r.status_code == 413 and error_of(r)["code"] == "request_too_large"

    def chunks() -> Any:  # no content-length: the limit holds while reading
        yield b'{"model": "kimi-k2-instruct", "messages": [{"role": "user", "content": "'
        for _ in range(10):
            yield b"y" * 1000
        yield b'"}]}'

    r = httpx.post(f"{base}/chat/completions", content=chunks())
    assert r.status_code == 413


def test_unknown_route_and_method(served: Any) -> None:
    _, base = served
    r = httpx.get(f"{base}/nothing")
    assert r.status_code == 404 and error_of(r)
    r = httpx.get(f"{base}/chat/completions")
    assert r.status_code == 405 and error_of(r)


def test_models_and_health(served: Any) -> None:
    _, base = served
    assert [m["id"] for m in httpx.get(f"{base}/models").json()["data"]] == ["kimi-k2-instruct"]
    assert httpx.get(base.removesuffix("/v1") + "/health").json() == {"status": "ok"}


def test_upstream_unreachable_is_502() -> None:
    dead = f"http://127.0.0.1:{free_port()}/v1"
    with gateway(dead, models=("kimi-k2-instruct",), upstream_model="m") as base:
        r = httpx.post(f"{base}/chat/completions", json=OK)
        assert r.status_code == 502 and error_of(r)["code"] == "upstream_unreachable"
        h = httpx.get(base.removesuffix("/v1") + "/health")
        assert h.status_code == 503 and h.json()["status"] == "unhealthy"


def test_upstream_timeout_is_504() -> None:
    with (
        StandIn(lambda r: "late", first_delay=2.0) as up,
        gateway(up.base_url, models=("kimi-k2-instruct",), upstream_model="m", read_timeout=0.3) as base,
    ):
        r = httpx.post(f"{base}/chat/completions", json=OK, timeout=10)
        assert r.status_code == 504 and error_of(r)["code"] == "upstream_timeout"
        r = httpx.post(f"{base}/chat/completions", json={**OK, "stream": True}, timeout=10)
        assert r.status_code == 504


def test_a_stalled_stream_times_out_with_an_error_event() -> None:
    with (
        StandIn(lambda r: "a b c d e f", delay=1.0) as up,
        gateway(up.base_url, models=("kimi-k2-instruct",), upstream_model="m", read_timeout=0.3) as base,
    ):
        r = httpx.post(f"{base}/chat/completions", json={**OK, "stream": True}, timeout=10)
        assert r.status_code == 200
        last = [ln for ln in r.text.splitlines() if ln.startswith("data: ")][-1]
        assert '"code":"upstream_timeout"' in last and "[DONE]" not in r.text


@pytest.mark.parametrize(
    ("upstream_status", "status", "code"),
    [(500, 502, "upstream_error"), (400, 400, "upstream_rejected"), (429, 429, "upstream_busy")],
)
def test_upstream_errors_are_mapped(upstream_status: int, status: int, code: str) -> None:
    with (
        StandIn(lambda r: "x", error_status=upstream_status) as up,
        gateway(up.base_url, models=("kimi-k2-instruct",)) as base,
    ):
        for stream in (False, True):
            r = httpx.post(f"{base}/chat/completions", json={**OK, "stream": stream})
            assert r.status_code == status and error_of(r)["code"] == code
            assert f"stand-in error {upstream_status}" in error_of(r)["message"]


def test_auth_on_every_endpoint_but_health() -> None:
    with (
        StandIn(lambda r: "fine", api_key="upstream-secret") as up,
        gateway(
            up.base_url, models=("kimi-k2-instruct",), api_key="s3cret", upstream_api_key="upstream-secret"
        ) as base,
    ):
        root = base.removesuffix("/v1")
        for method, url in (
            ("POST", f"{base}/chat/completions"),
            ("GET", f"{base}/models"),
            ("GET", f"{root}/metrics"),
        ):
            for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": "s3cret"}):
                r = httpx.request(method, url, json=OK, headers=headers)
                assert r.status_code == 401, (url, headers)
                assert error_of(r)["code"] == "invalid_api_key"
        good = {"Authorization": "Bearer s3cret"}
        r = httpx.post(f"{base}/chat/completions", json=OK, headers=good)
        assert r.status_code == 200 and r.json()["choices"][0]["message"]["content"] == "fine"
        assert httpx.get(f"{base}/models", headers=good).status_code == 200
        assert httpx.get(f"{root}/metrics", headers=good).status_code == 200
        assert httpx.get(f"{root}/health").status_code == 200
        # the upstream got its own key, never the client's
        assert {r.headers.get("authorization") for r in up.requests} == {"Bearer upstream-secret"}


def test_auth_off_lets_anyone_in(served: Any) -> None:
    _, base = served
    assert httpx.post(f"{base}/chat/completions", json=OK).status_code == 200
    assert (
        httpx.post(f"{base}/chat/completions", json=OK, headers={"Authorization": "Bearer x"}).status_code
        == 200
    )


@pytest.mark.parametrize(
    ("body", "param", "words"),
    [
        (
            {**OK, "chat_template_kwargs": {"enable_thinking": True}},
            "chat_template_kwargs",
            "chat_template_kwargs has 'enable_thinking', which no Kimi template reads "
            "(they read thinking, preserve_thinking)",
        ),
        (
            {**OK, "messages": [{"role": "wizard", "content": "x"}]},
            "messages",
            "messages[0].role is 'wizard': the roles are system, developer, user, assistant, tool",
        ),
    ],
)
def test_refusals_speak_the_request_not_the_library(
    served: Any, body: dict[str, Any], param: str, words: str
) -> None:
    """What render() says to a Python caller (its keywords, strict=False) is not what a client hears."""
    _, base = served
    err = error_of(httpx.post(f"{base}/chat/completions", json=body))
    assert err["param"] == param and err["message"] == words
    assert "render()" not in err["message"] and "strict=" not in err["message"]
