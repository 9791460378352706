"""Stored responses outlive the process that answered: the real ``kimi-toolparse serve`` command, twice or
with two workers, on one SQLite file or one Redis server, in front of the stand-in engine.

Each test chains a response stored through one gateway process from another (or from the same command
restarted), and checks that the chained prompt equals the prompt of the same conversation sent in full.
"""

from __future__ import annotations

import contextlib
import stat
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

openai = pytest.importorskip(
    "openai", reason="the serve tests need the test extra (pip install -e '.[test]')"
)

from kimi_toolparse.serve.standin import StandIn  # noqa: E402

from ..test_process import serve  # noqa: E402

CALL = (
    "Need the time.</think><|tool_calls_section_begin|><|tool_call_begin|>functions.clock:0"
    '<|tool_call_argument_begin|>{"zone": "UTC"}<|tool_call_end|><|tool_calls_section_end|>'
)
ANSWER = "Noted.</think>It is noon."
TOOLS: list[dict[str, Any]] = [{"type": "function", "name": "clock", "parameters": {"type": "object"}}]
OUTPUT = {"type": "function_call_output", "call_id": "functions.clock:0", "output": "12:00"}


def answer(request: dict[str, Any]) -> str:
    """A call on the first turn, the answer once the call's result is in the prompt."""
    return ANSWER if "## Return of functions.clock:0" in request["prompt"] else CALL


def client(base: str) -> Any:
    return openai.OpenAI(base_url=base + "/v1", api_key="none", max_retries=0)


def first_turn(base: str) -> Any:
    return client(base).responses.create(model="kimi-k2.5", input="What time is it?", tools=TOOLS)


def chain_and_compare(upstream: StandIn, first: Any, base: str) -> None:
    """Chain ``first`` through ``base``, send the same conversation in full, compare the two prompts."""
    c = client(base)
    chained = c.responses.create(
        model="kimi-k2.5", previous_response_id=first.id, input=[OUTPUT], tools=TOOLS
    )
    assert chained.output_text == "It is noon."
    full = [{"role": "user", "content": "What time is it?"}, *first.output, OUTPUT]
    c.responses.create(model="kimi-k2.5", input=full, tools=TOOLS, store=False)
    assert upstream.prompts[-2] == upstream.prompts[-1]
    assert "functions.clock:0<|tool_call_argument_begin|>" in upstream.prompts[-1]
    assert "Need the time." in upstream.prompts[-1]  # the earlier turn's reasoning came along


@contextlib.contextmanager
def state_dir() -> Iterator[Path]:
    with tempfile.TemporaryDirectory() as tmp:
        yield Path(tmp)


def test_two_processes_and_a_restart_share_one_sqlite_file() -> None:
    with state_dir() as tmp, StandIn(answer) as upstream:
        db = str(tmp / "state" / "responses.sqlite3")
        common = ("--upstream", upstream.base_url, "--model", "kimi-k2.5", "--store", db)
        with serve(*common) as (_, a), serve(*common) as (_, b):
            first = first_turn(a)
            chain_and_compare(upstream, first, b)
        for p in (tmp / "state").iterdir():
            assert stat.S_IMODE(p.stat().st_mode) == 0o600, p
        with serve(*common) as (_, restarted):  # a new process on the same file
            chain_and_compare(upstream, first, restarted)
            assert client(restarted).responses.retrieve(first.id).id == first.id


def test_workers_share_the_default_state_directory() -> None:
    """``--workers 2`` with no ``--store``: the default file under $XDG_STATE_HOME, which both use."""
    with state_dir() as tmp, StandIn(answer) as upstream:
        env = {"XDG_STATE_HOME": str(tmp)}
        args = ("--upstream", upstream.base_url, "--model", "kimi-k2.5", "--workers", "2")
        with serve(*args, env=env) as (_, base):
            firsts = [first_turn(base) for _ in range(6)]  # each on a new connection: both workers answer
            for first in firsts:
                chain_and_compare(upstream, first, base)
        assert (tmp / "kimi-toolparse" / "responses.sqlite3").exists()
