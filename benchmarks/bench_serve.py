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


if __name__ == "__main__":
    sys.exit(main())
