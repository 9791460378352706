"""The real ``kimi-toolparse serve`` command as a process, in front of a stand-in engine process: a chat, the
engine killed mid-stream, and 500 concurrent streams with no cross-talk and bounded memory."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import aiohttp
import httpx
import pytest

openai = pytest.importorskip(
    "openai", reason="the serve tests need the test extra (pip install -e '.[test]')"
)

from ..conftest import ROOT, VOCAB_FILE  # noqa: E402
from .responders import BASH_COMMANDS  # noqa: E402

KIMI = str(Path(sys.executable).with_name("kimi-toolparse"))
TOOLS = [{"type": "function", "function": {"name": "get_weather", "parameters": {"type": "object"}}}]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextlib.contextmanager
def standin(responder: str, *extra: str) -> Iterator[tuple[subprocess.Popen[str], str]]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "kimi_toolparse.serve.standin",
            "--responder",
            f"tests.serve.responders:{responder}",
            *extra,
        ],
        stdout=subprocess.PIPE,
        text=True,
        cwd=ROOT,
        env=env,
    )
    try:
        assert proc.stdout is not None
        yield proc, proc.stdout.readline().strip()
    finally:
        proc.kill()
        proc.wait(10)


@contextlib.contextmanager
def serve(*args: str, env: dict[str, str] | None = None) -> Iterator[tuple[subprocess.Popen[str], str]]:
    """``kimi-toolparse serve`` as a process; its log (stderr) goes to a file, read back as ``proc.log``."""
    port = free_port()
    log = tempfile.TemporaryFile("w+")  # noqa: SIM115 (closed with the process)
    proc = subprocess.Popen(
        [KIMI, "serve", "--port", str(port), *args],
        stderr=log,
        text=True,
        env={**os.environ, **(env or {})},
    )
    proc.log = log  # type: ignore[attr-defined]
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 20
        while True:
            assert proc.poll() is None, "kimi-toolparse serve exited"
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"{base}/health", timeout=1).status_code in (200, 503):
                    break
            assert time.monotonic() < deadline, "kimi-toolparse serve did not start"
            time.sleep(0.05)
        yield proc, base
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise AssertionError("no VmRSS")


def test_the_command_serves_with_a_key_from_the_environment() -> None:
    with (
        standin("numbered") as (_, up),
        serve("--upstream", up, "--model", "kimi-k2-instruct", env={"KIMI_TOOLPARSE_API_KEY": "k3y"}) as (
            proc,
            base,
        ),
    ):
        with pytest.raises(openai.AuthenticationError):
            openai.OpenAI(base_url=f"{base}/v1", api_key="wrong", max_retries=0).models.list()
        c = openai.OpenAI(base_url=f"{base}/v1", api_key="k3y", max_retries=0)
        r = c.chat.completions.create(
            model="kimi-k2-instruct", messages=[{"role": "user", "content": "request 42"}], tools=TOOLS
        )
        assert r.choices[0].message.content == "Looking up city 42 now."
        assert json.loads(r.choices[0].message.tool_calls[0].function.arguments)["city"] == "city-42"
    proc.log.seek(0)  # type: ignore[attr-defined]
    log = [json.loads(ln) for ln in proc.log.read().splitlines() if ln.startswith("{")]  # type: ignore[attr-defined]
    assert any(ln.get("path") == "/v1/chat/completions" and ln["status"] == 200 for ln in log)
    assert log[0]["event"] == "start" and log[0]["url"] == f"{base}/v1"  # the start-up line comes first
    assert not any("k3y" in json.dumps(ln) for ln in log)


def test_bad_flags_print_one_line_and_exit_2() -> None:
    r = subprocess.run(
        [KIMI, "serve", "--upstream", "ftp://x", "--port", "0"], capture_output=True, text=True
    )
    assert r.returncode == 2 and r.stderr.startswith("kimi-toolparse: ") and len(r.stderr.splitlines()) == 1
    r = subprocess.run(
        [KIMI, "serve", "--upstream", "http://127.0.0.1:1/v1", "--model", "gpt-4"],
        capture_output=True,
        text=True,
    )
    assert r.returncode == 2 and "unknown model 'gpt-4'" in r.stderr and "Traceback" not in r.stderr
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = str(busy.getsockname()[1])
        r = subprocess.run(
            [
                KIMI,
                "serve",
                "--upstream",
                "http://127.0.0.1:1/v1",
                "--model",
                "kimi-k2-instruct",
                "--port",
                port,
            ],
            capture_output=True,
            text=True,
        )
    assert (
        r.returncode == 2
        and r.stderr == f"kimi-toolparse: cannot listen on 127.0.0.1:{port}: Address already in use\n"
    )


def test_engine_killed_mid_stream_ends_the_stream() -> None:
    with (
        standin("long_answer", "--delay", "0.002") as (engine, up),
        serve("--upstream", up, "--model", "kimi-k2-instruct") as (_, base),
    ):
        body = {"model": "kimi-k2-instruct", "messages": [{"role": "user", "content": "x"}], "stream": True}
        started = time.monotonic()
        with httpx.stream("POST", f"{base}/v1/chat/completions", json=body, timeout=10) as r:
            lines = r.iter_lines()
            seen = [next(lines) for _ in range(10)]
            engine.kill()
            rest = list(lines)
        assert seen[0].startswith("data: ") and '"role":"assistant"' in seen[0]
        last = [ln for ln in rest if ln.startswith("data: ")][-1]
        assert '"error"' in last and "upstream_disconnected" in last
        assert time.monotonic() - started < 8


async def _one_stream(client: aiohttp.ClientSession, base: str, n: int) -> tuple[int, str, str]:
    body = {
        "model": "kimi-k2-instruct",
        "messages": [{"role": "user", "content": f"request {n}"}],
        "tools": TOOLS,
        "stream": True,
    }
    content, args = "", ""
    async with client.post(f"{base}/v1/chat/completions", json=body) as r:
        assert r.status == 200
        async for raw in r.content:
            line = raw.decode().strip()
            if not line.startswith("data: ") or line == "data: [DONE]":
                continue
            for choice in json.loads(line[6:])["choices"]:
                delta = choice["delta"]
                content += delta.get("content") or ""
                for tc in delta.get("tool_calls") or []:
                    args += tc["function"].get("arguments") or ""
    return n, content, args


async def _round(base: str, start: int, count: int) -> list[tuple[int, str, str]]:
    # aiohttp as the client: httpx's connection pool slows down badly with hundreds of open streams
    connector = aiohttp.TCPConnector(limit=count + 10)
    async with aiohttp.ClientSession(connector=connector, timeout=aiohttp.ClientTimeout(total=60)) as client:
        return await asyncio.gather(*(_one_stream(client, base, n) for n in range(start, start + count)))


def test_500_concurrent_streams_no_cross_talk_bounded_memory() -> None:
    with (
        standin("numbered") as (_, up),
        serve("--upstream", up, "--model", "kimi-k2-instruct") as (proc, base),
    ):
        results = asyncio.run(_round(base, 0, 500))
        after_first = rss_mb(proc.pid)
        results += asyncio.run(_round(base, 500, 500))
        after_second = rss_mb(proc.pid)
        for n, content, args in results:
            assert content == f"Looking up city {n} now."
            assert json.loads(args) == {"city": f"city-{n}", "unit": "celsius"}
        assert len(results) == 1000
        # a second round of 500 streams costs no more memory than the first left behind
        assert after_second - after_first < 25, (after_first, after_second)
        assert after_second < 400
        metrics = httpx.get(f"{base}/metrics").text
        assert 'kimi_gateway_requests_total{endpoint="chat",status="200"} 1000.0' in metrics
        assert "kimi_gateway_active_streams 0.0" in metrics


def test_two_workers_serve_the_same_port() -> None:
    with (
        standin("numbered") as (_, up),
        serve("--upstream", up, "--model", "kimi-k2-instruct", "--workers", "2") as (_, base),
    ):
        c = openai.OpenAI(base_url=f"{base}/v1", api_key="x", max_retries=0)
        for n in range(4):
            r = c.chat.completions.create(
                model="kimi-k2-instruct", messages=[{"role": "user", "content": f"request {n}"}], tools=TOOLS
            )
            assert r.choices[0].message.content == f"Looking up city {n} now."


def test_the_command_serves_the_messages_api_with_two_workers() -> None:
    """``kimi-toolparse serve --workers 2`` with the Messages flags: two Bash tool round trips through the
    anthropic SDK (the model's own ids, functions.Bash:0 then :1), one thinking signature whichever worker
    answers, Claude Code's max_tokens of 64000 taken by a 4000-token context, count_tokens equal to usage."""
    anthropic = pytest.importorskip("anthropic")
    vocab = VOCAB_FILE
    bash = [{"name": "Bash", "description": "Run a command.", "input_schema": {"type": "object"}}]
    flags = ["--model", "kimi-k2.5", "--workers", "2", "--tokenizer", str(vocab), "--max-model-len", "4000"]
    with (
        standin("claude_code_bash", "--vocab", str(vocab)) as (_, up),
        serve("--upstream", up, *flags, "--api-key", "k") as (_, base),
    ):
        c = anthropic.Anthropic(base_url=base, api_key="k", max_retries=0, timeout=20)
        messages: list[Any] = [{"role": "user", "content": "run it"}]
        signatures = set()
        for _ in range(4):
            first = c.messages.create(model="kimi-k2.5", max_tokens=64000, messages=messages, tools=bash)
            signatures.add(first.content[0].signature)
        assert len(signatures) == 1 and first.stop_reason == "tool_use"
        reply = first
        for n, command in enumerate(BASH_COMMANDS):  # two Bash turns, then the answer
            call = reply.content[-1]
            assert (call.id, call.name, call.input["command"]) == (f"functions.Bash:{n}", "Bash", command)
            messages += [
                {"role": "assistant", "content": [b.model_dump(exclude_none=True) for b in reply.content]},
                {
                    "role": "user",
                    "content": [{"type": "tool_result", "tool_use_id": call.id, "content": f"out-{n}"}],
                },
            ]
            with c.messages.stream(
                model="kimi-k2.5", max_tokens=64000, messages=messages, tools=bash
            ) as stream:
                reply = stream.get_final_message()
        assert reply.content[-1].text == "It printed: out-0 | out-1" and reply.stop_reason == "end_turn"
        counted = c.messages.count_tokens(model="kimi-k2.5", messages=messages, tools=bash).input_tokens
        assert counted == reply.usage.input_tokens


def test_a_bad_tokenizer_is_one_line() -> None:
    r = subprocess.run(
        [KIMI, "serve", "--upstream", "http://127.0.0.1:1/v1", "--tokenizer", "/nonexistent/tiktoken.model"],
        capture_output=True,
        text=True,
    )
    assert (
        r.returncode == 2
        and r.stderr.startswith("kimi-toolparse: --tokenizer")
        and len(r.stderr.splitlines()) == 1
    )
