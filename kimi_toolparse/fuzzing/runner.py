"""The differential loop: draw quirky outputs, run the target, compare with the spec's answer, shrink.

Each quirk gets its own Hypothesis run; a failing run shrinks to its smallest counterexample, and that
one is what is reported (Hypothesis replays the minimal example last, so it is the last one recorded).
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from hypothesis import HealthCheck, Phase, Verbosity, given, settings
from hypothesis import seed as hypothesis_seed
from hypothesis import strategies as st

from ..strategies import Case, chunkings, marker_cuts, quirky_outputs, token_steps
from .compare import first_difference, normalize_message
from .targets import Feed, Target

__all__ = ["Failure", "QuirkResult", "fuzz"]


@dataclass(frozen=True)
class Failure:
    """One shrunk counterexample: the input, both answers, and where they first differ."""

    quirk: str
    feed: Feed
    expected: dict[str, Any]
    actual: dict[str, Any] | None
    difference: str

    def to_json(self) -> dict[str, Any]:
        case = self.feed.case
        return {
            "quirk": self.quirk,
            "raw": case.raw,
            "chunks": self.feed.chunks,
            "token_ids": self.feed.token_ids,
            "stream": self.feed.stream,
            "tools": case.tools,
            "thinking": case.thinking,
            "expected": self.expected,
            "actual": self.actual,
            "difference": self.difference,
        }


@dataclass
class QuirkResult:
    quirk: str
    examples: int = 0
    failure: Failure | None = None


class _Mismatch(AssertionError):
    pass


@dataclass
class _State:
    examples: int = 0
    last: Failure | None = field(default=None)


def _feeds(target: Target, case: Case, vocab: Any, stream: bool | None) -> st.SearchStrategy[Feed]:
    needs_ids = target.mode == "token_ids" or target.streams
    ids = case.token_ids(vocab) if needs_ids and vocab is not None else None
    cut = (
        st.one_of(marker_cuts(case.raw), chunkings(case.raw))
        if target.mode == "chunks" or target.streams
        else st.just([case.raw])
    )
    steps = token_steps(ids, vocab) if ids is not None and target.streams else st.none()
    streaming = st.booleans() if stream is None else st.just(stream)
    return st.builds(
        lambda chunks, s, flag: Feed(case, chunks, ids, s, flag and target.streams),
        cut,
        steps,
        streaming,
    )


def fuzz(
    target: Target,
    *,
    quirks: Sequence[str],
    examples: int = 100,
    seed: int = 0,
    stream: bool | None = None,
    vocab: Any = None,
    progress: Callable[[str, int, int], None] | None = None,
) -> list[QuirkResult]:
    """Run ``examples`` drawn outputs of each quirk through ``target``; one result per quirk."""
    token_mode = target.mode == "token_ids" or (target.streams and vocab is not None)
    results = []
    for number, quirk in enumerate(quirks, 1):
        if quirk == "markers_in_strings" and not token_mode:
            continue
        state = _State()
        thinking: bool | Literal["always"] = target.takes_thinking
        if target.prompt_thinking is not None:
            thinking = "always" if target.prompt_thinking else False
        cases = quirky_outputs([quirk], tools=target.takes_tools, thinking=thinking, token_ids=token_mode)

        check = _check(target, quirk, number, state, progress)
        check = given(cases.flatmap(lambda c: _feeds(target, c, vocab, stream)))(check)
        check = settings(
            max_examples=examples,
            database=None,
            deadline=None,
            derandomize=False,
            suppress_health_check=list(HealthCheck),
            phases=[Phase.generate, Phase.shrink],
            verbosity=Verbosity.quiet,
            report_multiple_bugs=False,
            print_blob=False,
        )(check)
        check = hypothesis_seed(seed)(check)
        try:
            check()
        except _Mismatch:
            pass
        except Exception as e:  # Flaky and friends: the target answered differently on the same input
            if state.last is None:
                raise
            state.last = Failure(
                quirk,
                state.last.feed,
                state.last.expected,
                state.last.actual,
                f"{state.last.difference} (not reproducible: {type(e).__name__})",
            )
        results.append(QuirkResult(quirk, state.examples, state.last))
    if progress is not None:
        progress("", 0, 0)
    return results


def _check(
    target: Target,
    quirk: str,
    number: int,
    state: _State,
    progress: Callable[[str, int, int], None] | None,
) -> Callable[[Feed], None]:
    def check(feed: Feed) -> None:
        state.examples += 1
        if progress is not None:
            progress(quirk, number, state.examples)
        expected = normalize_message(feed.case.expected)
        try:
            answer = target.run(feed)
        except Exception as e:  # the target's failure is a finding, not ours
            failure = Failure(quirk, feed, feed.case.expected, None, f"raised {type(e).__name__}: {e}")
        else:
            try:
                actual = normalize_message(answer)
            except TypeError as e:
                failure = Failure(quirk, feed, feed.case.expected, None, str(e))
            else:
                diff = first_difference(expected, actual)
                if diff is None:
                    return
                failure = Failure(quirk, feed, feed.case.expected, _openai(actual), diff)
        state.last = failure
        raise _Mismatch(failure.difference)

    return check


def _openai(normalized: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {
        "content": normalized["content"],
        "reasoning_content": normalized["reasoning_content"],
    }
    if normalized["tool_calls"]:
        out["tool_calls"] = [
            {"id": c["id"], "type": "function", "function": {"name": c["name"], "arguments": c["arguments"]}}
            for c in normalized["tool_calls"]
        ]
    return out


def stderr_progress(quirk: str, number: int, count: int) -> None:
    """A one-line progress display on stderr, when it is a terminal."""
    if not sys.stderr.isatty():
        return
    if not quirk:
        sys.stderr.write("\r\x1b[K")
    elif count % 10 == 1:
        sys.stderr.write(f"\r\x1b[Kfuzz: quirk {number} {quirk}: example {count}")
    sys.stderr.flush()
