"""``kimi-toolparse serve`` as a real process on 127.0.0.1, for the tests of the tools that talk to it."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator

from .paths import ROOT

__all__ = ["free_port", "gateway"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextlib.contextmanager
def gateway(upstream: str, *models: str) -> Iterator[str]:
    """The gateway in front of ``upstream`` (a base URL, which need not answer yet), serving ``models``;
    yields its base URL (``http://127.0.0.1:PORT/v1``) once it answers, and stops it afterwards."""
    port = free_port()
    argv = [sys.executable, "-m", "kimi_toolparse", "serve", "--port", str(port), "--upstream", upstream]
    argv += ["--log-level", "warning"]
    for model in models:
        argv += ["--model", model]
    proc = subprocess.Popen(argv, cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)})
    base = f"http://127.0.0.1:{port}/v1"
    try:
        deadline = time.monotonic() + 30
        while True:
            assert proc.poll() is None, "kimi-toolparse serve exited"
            with contextlib.suppress(OSError), urllib.request.urlopen(f"{base}/models", timeout=1) as r:
                if r.status == 200:
                    break
            assert time.monotonic() < deadline, "kimi-toolparse serve did not start"
            time.sleep(0.1)
        yield base
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
