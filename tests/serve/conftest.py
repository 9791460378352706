"""Fixtures for the gateway tests: the stand-in engine and the gateway, real servers on loopback."""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest

pytest.importorskip("aiohttp", reason="the serve tests need the serve extra (pip install -e '.[test]')")
pytest.importorskip("uvicorn", reason="the serve tests need the serve extra (pip install -e '.[test]')")
pytest.importorskip("starlette", reason="the serve tests need the serve extra (pip install -e '.[test]')")

import uvicorn

from kimi_toolparse.serve.app import create_app
from kimi_toolparse.serve.config import ServeConfig


@contextlib.contextmanager
def serve_app(app: Any) -> Iterator[str]:
    """Serve an ASGI app with uvicorn in a thread on a free loopback port; yields ``http://127.0.0.1:PORT``."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, log_level="critical", access_log=False, backlog=2048))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "the gateway did not start"
        time.sleep(0.005)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(10)


@contextlib.contextmanager
def gateway(upstream: str, **kwargs: Any) -> Iterator[str]:
    """The gateway in front of ``upstream``; yields its base URL ending in ``/v1``."""
    config = ServeConfig(upstream=upstream, **kwargs)
    with serve_app(create_app(config)) as base:
        yield base + "/v1"
