#!/usr/bin/env python3
"""Streamed tokens through ``kimi-toolparse serve`` (chat completions and the Messages API), against the same
client reading the stand-in directly.

Processes on loopback: the stand-in engine (``python -m kimi_toolparse.serve.standin``, sending a raw Kimi K2
output token by token as fast as it can), the gateway (``kimi-toolparse serve --workers N``) and this
process as the client (aiohttp, C concurrent streams). The baseline, measured in the same run, is the same
client streaming ``/v1/completions`` from the stand-in directly: the difference is what the gateway adds.

Columns, per concurrency C: tokens/s in total, direct and through the gateway; the added wall time per
streamed token for one stream (gateway time per token minus direct time per token); and the gateway's own
CPU time per token (all its processes). Best of ``--rounds`` runs.

A second table sets the Messages API (``POST /v1/messages``, streamed) beside chat completions on the same
gateway, the two taking turns in each round: throughput and its ratio, the wall time and the gateway CPU
time per token the Messages dialect adds over chat completions (CPU: the least per token over the rounds).

    python benchmarks/bench_serve.py [--tokens 200] [--concurrency 1,64,500] [--workers 1,2] [--rounds 3]

``responses`` measures the Responses API instead (:func:`responses_main`): its streams beside chat
completions on one gateway (throughput, wall and gateway CPU per token added), the two dialects' own work
per token in this process, and what storing a response costs (the SQLite store alone, with 200 requests
ending over one second and all at once, and end to end through the gateway):

    python benchmarks/bench_serve.py responses [--tokens 200] [--concurrency 1,64] [--stored 200] [--rounds 5]

``inproc`` measures the gateway's own per-token work in this process, without HTTP (:func:`inproc_main`):
a recorded upstream stream (one vLLM-shaped ``data:`` event per token, read one event per ``feed`` as the
socket usually hands them over) through the SSE decoder, the dialect's choice and its stream writer, for
chat completions, the Messages API and the Responses API. µs per token, best of ``--rounds``; under
``valgrind --tool=callgrind`` (``--instructions``) the instruction counts, which a loaded machine leaves
stable:

    python benchmarks/bench_serve.py inproc [--tokens 8000] [--rounds 5] [--dialects chat,messages,responses]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import aiohttp

ROOT = Path(__file__).resolve().parent.parent
KIMI = str(Path(sys.executable).with_name("kimi-toolparse"))
CLK = os.sysconf("SC_CLK_TCK")


def raw_output(tokens: int) -> str:
    """A realistic turn of about ``tokens`` tokens: prose, then two calls with JSON arguments."""
    calls = (
        "<|tool_calls_section_begin|><|tool_call_begin|>functions.get_weather:0<|tool_call_argument_begin|>"
        '{"city": "Beijing", "unit": "celsius"}<|tool_call_end|><|tool_call_begin|>functions.bash:1'
        '<|tool_call_argument_begin|>{"command": "ls -la /tmp"}<|tool_call_end|><|tool_calls_section_end|>'
    )
    words = max(tokens - 44, 1)
    prose = ("Let me check the weather there first " * (words // 7 + 1)).split()[:words]
    return " ".join(prose) + "." + calls


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _children(pid: int) -> list[int]:
    out = []
    for d in os.listdir("/proc"):
        if d.isdigit():
            with contextlib.suppress(OSError):
                stat = Path(f"/proc/{d}/stat").read_text()
                if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                    out.append(int(d))
    return out


def cpu_seconds(pid: int) -> float:
    """CPU time of a process and its children (the uvicorn workers)."""
    total = 0.0
    for p in [pid, *_children(pid)]:
        with contextlib.suppress(OSError):
            fields = Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()
            total += (int(fields[11]) + int(fields[12])) / CLK
    return total


def wait_http(url: str, proc: subprocess.Popen[bytes], timeout: float = 30) -> None:
    import urllib.request

    deadline = time.monotonic() + timeout
    while True:
        if proc.poll() is not None:
            raise RuntimeError(f"{proc.args} exited")
        with contextlib.suppress(OSError):
            urllib.request.urlopen(url, timeout=1).read()
            return
        if time.monotonic() > deadline:
            raise RuntimeError(f"{url} did not answer")
        time.sleep(0.05)


@contextlib.contextmanager
def standin(output_file: str) -> Iterator[str]:
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "kimi_toolparse.serve.standin",
            "--output",
            output_file,
            "--log-level",
            "error",
        ],
        stdout=subprocess.PIPE,
        text=True,
        cwd=ROOT,
    )
    try:
        assert proc.stdout is not None
        base = proc.stdout.readline().strip()
        yield base
    finally:
        proc.terminate()
        proc.wait(10)


@contextlib.contextmanager
def gateway(upstream: str, workers: int) -> Iterator[tuple[str, int]]:
    port = free_port()
    proc = subprocess.Popen(
        [
            KIMI,
            "serve",
            "--upstream",
            upstream,
            "--model",
            "kimi-k2-instruct",
            "--port",
            str(port),
            "--workers",
            str(workers),
            "--log-level",
            "warning",
        ],
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        wait_http(f"{base}/health", proc)
        yield base, proc.pid
    finally:
        proc.terminate()
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


async def _direct(session: aiohttp.ClientSession, base: str) -> int:
    body = {
        "prompt": "hi",
        "stream": True,
        "skip_special_tokens": False,
        "spaces_between_special_tokens": False,
    }
    n = 0
    async with session.post(f"{base}/completions", json=body) as r:
        async for line in r.content:
            if line.startswith(b"data: {"):
                n += 1
    return n


async def _usage_of_stream(
    session: aiohttp.ClientSession, url: str, body: dict[str, object], marker: bytes
) -> int:
    """Stream ``url`` to the end; the output tokens of the usage in the (last) event that holds ``marker``."""
    tokens = 0
    async with session.post(url, json=body) as r:
        async for line in r.content:
            if line.startswith(b"data: {") and marker in line:
                usage = json.loads(line[6:])["usage"]
                tokens = usage.get("completion_tokens") or usage.get("output_tokens") or 0
    return tokens


async def _chat(session: aiohttp.ClientSession, base: str) -> int:
    body: dict[str, object] = {
        "model": "kimi-k2-instruct",
        "messages": [{"role": "user", "content": "hi"}],
        "stream": True,
        "stream_options": {"include_usage": True},
    }
    return await _usage_of_stream(session, f"{base}/v1/chat/completions", body, b'"usage":{')


async def _messages(session: aiohttp.ClientSession, base: str) -> int:
    body: dict[str, object] = {
        "model": "kimi-k2-instruct",
        "max_tokens": 4096,
        "messages": [{"role": "user", "content": "hi"}],
        "stream": True,
    }
    return await _usage_of_stream(session, f"{base}/v1/messages", body, b'"message_delta"')


CLIENTS = {"direct": _direct, "gateway": _chat, "messages": _messages}


async def _run(kind: str, base: str, concurrency: int) -> tuple[float, int]:
    """C concurrent streams, in waves (64 // C of them, so that few streams still make a long run)."""
    connector = aiohttp.TCPConnector(limit=concurrency + 10)
    async with aiohttp.ClientSession(connector=connector, timeout=aiohttp.ClientTimeout(total=600)) as s:
        one = CLIENTS[kind]
        await one(s, base)  # warm the connection and the caches
        start = time.perf_counter()
        total = 0
        for _ in range(max(1, 64 // concurrency)):
            total += sum(await asyncio.gather(*(one(s, base) for _ in range(concurrency))))
        return time.perf_counter() - start, total


def measure(kind: str, base: str, concurrency: int, rounds: int, pid: int | None) -> tuple[float, int, float]:
    """Best (wall seconds, tokens, gateway CPU seconds) over rounds."""
    return measure_alternating([kind], base, concurrency, rounds, pid)[kind]


def measure_alternating(
    kinds: list[str], base: str, concurrency: int, rounds: int, pid: int | None
) -> dict[str, tuple[float, int, float]]:
    """Per kind, the best (wall seconds, tokens) and the least gateway CPU seconds per token (scaled to those
    tokens) over rounds; the kinds take turns in each round, so a load that drifts hits them alike."""
    best: dict[str, tuple[float, int, float]] = {}
    for _ in range(rounds):
        for kind in kinds:
            cpu0 = cpu_seconds(pid) if pid else 0.0
            wall, tokens = asyncio.run(_run(kind, base, concurrency))
            cpu = (cpu_seconds(pid) - cpu0) if pid else 0.0
            old = best.get(kind)
            if old is None:
                best[kind] = (wall, tokens, cpu)
                continue
            w, t = (wall, tokens) if wall / tokens < old[0] / old[1] else (old[0], old[1])
            best[kind] = (w, t, min(cpu / tokens, old[2] / old[1]) * t)
    return best


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--tokens", type=int, default=200, help="tokens per streamed answer (200)")
    ap.add_argument("--concurrency", default="1,64,500", help="concurrent streams, comma-separated")
    ap.add_argument("--workers", default="1,2", help="gateway worker counts, comma-separated")
    ap.add_argument("--rounds", type=int, default=3, help="runs per cell; the best is kept")
    args = ap.parse_args(argv)
    levels = [int(x) for x in args.concurrency.split(",")]
    workers = [int(x) for x in args.workers.split(",")]
    with tempfile.NamedTemporaryFile("w", suffix=".txt", delete=False) as f:
        f.write(raw_output(args.tokens))
    rows = []
    dialects = []
    try:
        with standin(f.name) as up:
            direct = {}
            for c in levels:
                print(f"direct, {c} streams ...", file=sys.stderr, flush=True)
                direct[c] = measure("direct", up, c, args.rounds, None)
            for w in workers:
                with gateway(up, w) as (base, pid):
                    for c in levels:
                        print(f"gateway --workers {w}, {c} streams ...", file=sys.stderr, flush=True)
                        got = measure_alternating(["gateway", "messages"], base, c, args.rounds, pid)
                        wall, tokens, cpu = got["gateway"]
                        dwall, dtokens, _ = direct[c]
                        per_stream_added = (wall / tokens - dwall / dtokens) * c * 1e6
                        rows.append(
                            (w, c, dtokens / dwall, tokens / wall, per_stream_added, cpu / tokens * 1e6)
                        )
                        mwall, mtokens, mcpu = got["messages"]
                        dialects.append(
                            (
                                w,
                                c,
                                tokens / wall,
                                mtokens / mwall,
                                (mwall / mtokens - wall / tokens) * c * 1e6,
                                (mcpu / mtokens - cpu / tokens) * 1e6,
                            )
                        )
    finally:
        os.unlink(f.name)
    load = os.getloadavg()[0]
    print(
        f"\n{args.tokens}-token answers, best of {args.rounds}; direct = the same client on the stand-in; "
        f"{os.cpu_count()} cores, load average {load:.1f} at the end\n"
    )
    print(
        "| workers | streams | direct tokens/s | gateway tokens/s "
        "| added µs/token (per stream) | gateway CPU µs/token |"
    )
    print("|---:|---:|---:|---:|---:|---:|")
    for w, c, d, g, added, cpu in rows:
        print(f"| {w} | {c} | {d:,.0f} | {g:,.0f} | {added:,.1f} | {cpu:.1f} |")
    print("\nThe Messages API beside chat completions (same gateway, same run):\n")
    print(
        "| workers | streams | chat tokens/s | messages tokens/s | messages / chat "
        "| added µs/token (per stream) | added CPU µs/token |"
    )
    print("|---:|---:|---:|---:|---:|---:|---:|")
    for w, c, chat, msgs, added, cpu in dialects:
        print(f"| {w} | {c} | {chat:,.0f} | {msgs:,.0f} | {msgs / chat:.2f} | {added:,.1f} | {cpu:.1f} |")
    return 0


# ---- the Responses API (python benchmarks/bench_serve.py responses) --------------------------------------


async def _read_tail(response: aiohttp.ClientResponse) -> bytes:
    """Read a stream as it comes, in network pieces (the same client work for every dialect), keeping its
    last few KiB, where the usage is."""
    tail = b""
    async for piece in response.content.iter_any():
        tail = (tail + piece)[-8192:]
    return tail


async def _chat_pieces(session: aiohttp.ClientSession, base: str) -> int:
    """One streamed chat completion; its completion tokens (from the usage chunk)."""
    body = {
        "model": "kimi-k2-instruct",
        "messages": [{"role": "user", "content": "hi"}],
        "stream": True,
        "stream_options": {"include_usage": True},
    }
    async with session.post(f"{base}/v1/chat/completions", json=body) as r:
        tail = await _read_tail(r)
    usage = tail[tail.rindex(b'"usage":{') + 8 :]
    return int(json.loads(usage[: usage.index(b"}") + 1])["completion_tokens"])


async def _responses(session: aiohttp.ClientSession, base: str) -> int:
    """One streamed ``POST /v1/responses`` (not stored); its output tokens (from ``response.completed``)."""
    body = {"model": "kimi-k2-instruct", "input": "hi", "stream": True, "store": False}
    async with session.post(f"{base}/v1/responses", json=body) as r:
        tail = await _read_tail(r)
    usage = tail[tail.rindex(b'"output_tokens":') + 16 :]
    return int(usage[: usage.index(b",")])


async def _stream_rounds(one: Any, base: str, concurrency: int) -> tuple[float, int]:
    connector = aiohttp.TCPConnector(limit=concurrency + 10)
    async with aiohttp.ClientSession(connector=connector, timeout=aiohttp.ClientTimeout(total=600)) as s:
        await one(s, base)
        start = time.perf_counter()
        total = 0
        for _ in range(max(1, 64 // concurrency)):
            total += sum(await asyncio.gather(*(one(s, base) for _ in range(concurrency))))
        return time.perf_counter() - start, total


async def _latencies(base: str, store: bool, concurrency: int) -> list[float]:
    """Wall seconds of each of ``concurrency`` non-streamed responses sent at once."""
    body = {"model": "kimi-k2-instruct", "input": "hi", "store": store}
    connector = aiohttp.TCPConnector(limit=concurrency + 10)
    async with aiohttp.ClientSession(connector=connector, timeout=aiohttp.ClientTimeout(total=600)) as s:

        async def one() -> float:
            t = time.perf_counter()
            async with s.post(f"{base}/v1/responses", json=body) as r:
                await r.read()
                assert r.status == 200, r.status
            return time.perf_counter() - t

        await asyncio.gather(*(one() for _ in range(concurrency)))  # warm up (and open the store)
        return list(await asyncio.gather(*(one() for _ in range(concurrency))))


def _p90(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[max(0, int(len(ordered) * 0.9) - 1)]


def responses_main(argv: list[str]) -> int:
    """The Responses dialect beside chat completions on one gateway, and what storing a response costs."""
    ap = argparse.ArgumentParser(prog="bench_serve.py responses", description=responses_main.__doc__)
    ap.add_argument("--tokens", type=int, default=200, help="tokens per streamed answer (200)")
    ap.add_argument("--concurrency", default="1,64", help="concurrent streams, comma-separated (1,64)")
    ap.add_argument("--stored", type=int, default=200, help="concurrent requests for the store cost (200)")
    ap.add_argument("--rounds", type=int, default=5, help="runs per cell; the best is kept (5)")
    args = ap.parse_args(argv)
    levels = [int(x) for x in args.concurrency.split(",")]
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "out.txt"
        out.write_text(raw_output(args.tokens))
        short = Path(tmp) / "short.txt"
        short.write_text("Sure.")
        stream_rows = []
        with standin(str(out)) as up, _gateway_with(up, Path(tmp) / "s.sqlite3") as (base, pid):
            for c in levels:
                print(f"chat vs responses, {c} streams ...", file=sys.stderr, flush=True)
                best: dict[str, tuple[float, int, float]] = {}
                for _ in range(args.rounds):
                    for kind, one in (("chat", _chat_pieces), ("responses", _responses)):
                        cpu0 = cpu_seconds(pid)
                        wall, tokens = asyncio.run(_stream_rounds(one, base, c))
                        cpu = cpu_seconds(pid) - cpu0
                        if kind not in best or wall / tokens < best[kind][0] / best[kind][1]:
                            best[kind] = (wall, tokens, cpu)
                (cw, ct, cc), (rw, rt, rc) = best["chat"], best["responses"]
                stream_rows.append(
                    (c, ct / cw, rt / rw, (rw / rt - cw / ct) * c * 1e6, (rc / rt - cc / ct) * 1e6)
                )
        store_rows = []
        with standin(str(short)) as up, _gateway_with(up, Path(tmp) / "r.sqlite3") as (base, _):
            print(f"store: {args.stored} concurrent requests ...", file=sys.stderr, flush=True)
            p90 = {True: [], False: []}  # type: dict[bool, list[float]]
            for _ in range(args.rounds):
                for store in (False, True):
                    p90[store].append(_p90(asyncio.run(_latencies(base, store, args.stored))))
            off, on = min(p90[False]), min(p90[True])
            store_rows.append((args.stored, off * 1e3, on * 1e3, (on - off) * 1e3))
    writer_row = _writer_cost(args.tokens)
    put_row = asyncio.run(_store_cost(args.stored, args.rounds))
    load = os.getloadavg()[0]
    print(
        f"\n{args.tokens}-token answers, best of {args.rounds}, one gateway process; "
        f"{os.cpu_count()} cores, load average {load:.1f} at the end\n"
    )
    print(
        "| streams | chat tokens/s | responses tokens/s | ratio "
        "| added µs/token (per stream) | added gateway CPU µs/token |"
    )
    print("|---:|---:|---:|---:|---:|---:|")
    for c, ctp, rtp, added, cpu in stream_rows:
        print(f"| {c} | {ctp:,.0f} | {rtp:,.0f} | {rtp / ctp:.2f} | {added:,.1f} | {cpu:,.1f} |")
    chat_us, resp_us = writer_row
    print("\nIn this process, the dialects' own work per streamed token (parsing excluded, best of 20):\n")
    print("| chat pieces µs/token | responses events µs/token | added µs/token |")
    print("|---:|---:|---:|")
    print(f"| {chat_us:.2f} | {resp_us:.2f} | {resp_us - chat_us:.2f} |")
    print(
        f"\nThe SQLite store alone: the puts of {args.stored} requests (18 KiB records, "
        f"best of {args.rounds}):\n"
    )
    print("| case | p50 ms | p90 ms | max ms |")
    print("|---|---:|---:|---:|")
    for case, p50, p90, worst in put_row:
        print(f"| {case} | {p50:.2f} | {p90:.2f} | {worst:.2f} |")
    print("\nEnd to end through the gateway (the request's whole latency; noisy on a loaded machine):\n")
    print("| concurrent requests | p90 store:false ms | p90 store:true (SQLite) ms | added ms |")
    print("|---:|---:|---:|---:|")
    for n, off_ms, on_ms, added_ms in store_rows:
        print(f"| {n} | {off_ms:,.1f} | {on_ms:,.1f} | {added_ms:,.2f} |")
    return 0


def _writer_cost(tokens: int) -> tuple[float, float]:
    """µs per content delta: chat's SSE pieces, and the Responses writer's events as SSE."""
    from kimi_toolparse.serve import chat
    from kimi_toolparse.serve.pipeline import Plan, Run
    from kimi_toolparse.serve.request import Request
    from kimi_toolparse.serve.responses.output import ResponseWriter, sse_bytes

    deltas = [[{"content": f" word{i}"}] for i in range(tokens)]
    req = Request(model="m", messages=[{"role": "user", "content": "hi"}], stream=True)
    run = Run("id", Plan(req, "kimi-k2-instruct", "", "", False, None), [], 0)
    stream = chat.DIALECT.writer(run)
    stream.prefixes = [(stream.head_text + '0,"delta":').encode()]

    def chat_side() -> None:
        for d in deltas:
            stream.pieces(0, d)

    def responses_side() -> None:
        writer = ResponseWriter({"id": "resp_x"})
        for d in deltas:
            b"".join(map(sse_bytes, writer.feed(d)))

    out = []
    for fn in (chat_side, responses_side):
        best = min(_timed(fn) for _ in range(20))
        out.append(best / tokens * 1e6)
    return out[0], out[1]


def _timed(fn: Any) -> float:
    t = time.perf_counter()
    fn()
    return time.perf_counter() - t


async def _store_cost(n: int, rounds: int) -> list[tuple[str, float, float, float]]:
    """Latency of the puts of ``n`` concurrent requests into a fresh SQLite store, (case, p50, p90, max ms):
    requests in flight together that end over one second (as streams do), and all ending at once."""
    from kimi_toolparse.serve.store import SQLiteStore, new_response_id

    # A Codex-sized turn: a long system prompt, a few messages, a call and its output.
    record = {
        "response": {"id": "resp_x", "output": [{"type": "message", "content": [{"text": "x" * 500}]}]},
        "conversation": [
            {"role": "developer", "content": "y" * 17000},
            {"role": "user", "content": "z" * 300},
        ],
    }
    out = []
    with tempfile.TemporaryDirectory() as tmp:
        store = SQLiteStore(Path(tmp) / "bench.sqlite3")
        await store.put("warm", record)
        for case, spread in ((f"{n} streams ending over 1 s", 1.0), (f"{n} ending at the same instant", 0.0)):
            best: tuple[float, float, float] | None = None
            for _ in range(rounds):

                async def put(i: int, spread: float = spread) -> float:
                    await asyncio.sleep(spread * ((i * 7919) % n) / n)
                    t = time.perf_counter()
                    await store.put(new_response_id(), record)
                    return time.perf_counter() - t

                times = sorted(await asyncio.gather(*(put(i) for i in range(n))))
                row = (times[len(times) // 2], _p90(times), times[-1])
                if best is None or row[1] < best[1]:
                    best = row
            assert best is not None
            out.append((case, best[0] * 1e3, best[1] * 1e3, best[2] * 1e3))
        await store.close()
    return out


@contextlib.contextmanager
def _gateway_with(upstream: str, store: Path) -> Iterator[tuple[str, int]]:
    """One gateway process whose responses are stored in ``store`` (SQLite)."""
    port = free_port()
    proc = subprocess.Popen(
        [
            KIMI,
            "serve",
            "--upstream",
            upstream,
            "--model",
            "kimi-k2-instruct",
            "--port",
            str(port),
            "--store",
            str(store),
            "--log-level",
            "warning",
        ],
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        wait_http(f"{base}/health", proc)
        yield base, proc.pid
    finally:
        proc.terminate()
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


# ---- the gateway's own work per token, in process (python benchmarks/bench_serve.py inproc) -------------


def recorded_stream(tokens: int) -> list[bytes]:
    """What a vLLM-shaped engine sends for :func:`raw_output`: one ``data:`` event per token, then [DONE]."""
    import orjson

    from kimi_toolparse.serve.standin import split_tokens

    pieces = split_tokens(raw_output(tokens))
    head = {"id": "cmpl-1", "object": "text_completion", "created": 1, "model": "kimi-k2"}
    out = []
    for i, text in enumerate(pieces):
        last = i == len(pieces) - 1
        choice = {
            "index": 0,
            "text": text,
            "logprobs": None,
            "finish_reason": "tool_calls" if last else None,
            "stop_reason": None,
        }
        out.append(b"data: " + orjson.dumps({**head, "choices": [choice]}) + b"\n\n")
    out.append(b"data: [DONE]\n\n")
    return out


def _inproc_run(dialect_name: str) -> tuple[Any, Any]:
    """A streamed request's run and writer for one dialect, as the app builds them (no upstream yet)."""
    from kimi_toolparse.serve import chat, messages
    from kimi_toolparse.serve.config import ServeConfig
    from kimi_toolparse.serve.pipeline import Run, plan
    from kimi_toolparse.serve.responses.dialect import ResponsesDialect
    from kimi_toolparse.serve.upstream import Target

    config = ServeConfig(upstream="http://127.0.0.1:9/v1")
    tools = [
        {"type": "function", "function": {"name": n, "parameters": {"type": "object"}}}
        for n in ("get_weather", "bash")
    ]
    user = [{"role": "user", "content": "What is the weather in Beijing?"}]
    dialect: Any
    if dialect_name == "chat":
        dialect, body = chat.DIALECT, {"model": "m", "messages": user, "tools": tools, "stream": True}
    elif dialect_name == "messages":
        dialect = messages.Messages("bench-signing-key")
        mtools = [{"name": t["function"]["name"], "input_schema": {"type": "object"}} for t in tools]
        body = {"model": "m", "max_tokens": 9000, "messages": user, "tools": mtools, "stream": True}
    else:
        dialect = ResponsesDialect(config)
        rtools = [
            {"type": "function", "name": t["function"]["name"], "parameters": {"type": "object"}}
            for t in tools
        ]
        body = {"model": "m", "input": user[0]["content"], "tools": rtools, "stream": True, "store": False}
    req = dialect.read(body, config)
    if asyncio.iscoroutine(req):
        req = asyncio.run(req)
    p = plan(req, "kimi-k2-instruct", Target())
    run = Run("bench", p, [dialect.choice(0, p)], 0, prompt_tokens=10)
    return run, dialect.writer(run)


def _inproc_once(dialect_name: str, stream: list[bytes]) -> float:
    """Seconds for one stream's gateway work: decode, feed the choice, write the pieces, the tail."""
    from kimi_toolparse.serve.upstream import SSEDecoder, apply

    class _Sink:
        usage: dict[str, Any] | None = None

    run, writer = _inproc_run(dialect_name)
    sink = _Sink()
    t = time.perf_counter()
    writer.head()
    decoder = SSEDecoder()
    pieces = writer.pieces
    choices = run.choices
    for data in stream:
        batch = decoder.feed(data)
        if batch:
            for index, got in apply(batch, sink, choices):
                pieces(index, got)
    last = writer.tail()
    if asyncio.iscoroutine(last):
        asyncio.run(last)
    return time.perf_counter() - t


def _instructions(name: str, tokens: int, rounds: int, per_read: int) -> int:
    """Instructions callgrind counts for a whole ``inproc`` run of one dialect (``rounds`` streams)."""
    with tempfile.TemporaryDirectory() as tmp:
        cmd = ["valgrind", "--tool=callgrind", f"--callgrind-out-file={tmp}/out", sys.executable]
        cmd += [__file__, "inproc", "--tokens", str(tokens), "--rounds", str(rounds), "--dialects", name]
        cmd += ["--per-read", str(per_read)]
        done = subprocess.run(cmd, capture_output=True, text=True, check=True)
    for line in done.stderr.splitlines():
        if "Collected :" in line:
            return int(line.rsplit(":", 1)[1])
    raise RuntimeError(f"no instruction count from callgrind: {done.stderr[-300:]}")


def inproc_main(argv: list[str]) -> int:
    """The gateway's per-token work in process: decoder, choice and writer on a recorded stream."""
    ap = argparse.ArgumentParser(prog="bench_serve.py inproc", description=inproc_main.__doc__)
    ap.add_argument("--tokens", type=int, default=8000, help="tokens in the recorded stream (8000)")
    ap.add_argument("--rounds", type=int, default=5, help="runs per dialect; the best is kept (5)")
    ap.add_argument("--dialects", default="chat,messages,responses", help="comma-separated")
    ap.add_argument(
        "--per-read", type=int, default=1, help="events per network read (1: an engine's pace; more: a burst)"
    )
    ap.add_argument(
        "--callgrind",
        action="store_true",
        help="instructions per token instead of time: a run of one stream and one of three per dialect "
        "under valgrind, the difference over the two streams' tokens (start-up and recording cancel out)",
    )
    args = ap.parse_args(argv)
    names = args.dialects.split(",")
    if args.callgrind:
        n = len(recorded_stream(args.tokens)) - 1
        print(
            f"\ninstructions per streamed token (callgrind, 3 streams minus 1 of {n} tokens, "
            f"{args.per_read} per read)\n"
        )
        print("| dialect | instructions/token |")
        print("|---|---:|")
        for name in names:
            three, one = (_instructions(name, args.tokens, r, args.per_read) for r in (3, 1))
            per = (three - one) / (2 * n)
            print(f"| {name} | {per:,.0f} |", flush=True)
        return 0
    events = recorded_stream(args.tokens)
    n = len(events) - 1
    k = args.per_read
    stream = [b"".join(events[i : i + k]) for i in range(0, len(events), k)]
    print(f"\n{n} streamed tokens, {k} per read, in process, best of {args.rounds}\n")
    print("| dialect | µs/token |")
    print("|---|---:|")
    for name in names:
        best = min(_inproc_once(name, stream) for _ in range(args.rounds))
        print(f"| {name} | {best / n * 1e6:.2f} |")
    return 0


if __name__ == "__main__":
    _MODES = {"responses": responses_main, "inproc": inproc_main}
    sys.exit(_MODES[sys.argv[1]](sys.argv[2:]) if sys.argv[1:2] and sys.argv[1] in _MODES else main())
