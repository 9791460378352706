"""Hypothesis properties for the invariants the parsing spec states."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kimi_toolparse import StreamParser, parse
from kimi_toolparse.parsing import parser as parser_module
from kimi_toolparse.strategies import Output, assistant_outputs, chunkings, marker_soup
from kimi_toolparse.tokens import ARG_BEGIN as AB
from kimi_toolparse.tokens import CALL_BEGIN as CB
from kimi_toolparse.tokens import CALL_END as CE
from kimi_toolparse.tokens import FIRST_SPECIAL_ID, LAST_SPECIAL_ID
from testsupport.streams import (
    assert_stream_matches,
    decode_steps,
    encode,
    message_dict,
    run_ids,
    run_steps,
    run_text,
)

SETTINGS = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def expect(message: Any, output: Output) -> None:
    assert message.content == output.content
    assert message.reasoning == output.reasoning
    assert [(c.id, c.name, c.arguments) for c in message.tool_calls] == output.calls
    assert all(c.complete and c.json_valid for c in message.tool_calls)
    assert message.diagnostics == ()


@SETTINGS
@given(assistant_outputs())
def test_canonical_calls_round_trip(output: Output) -> None:
    """Rendering calls into the canonical format and parsing them back returns them unchanged."""
    expect(parse(output.raw, thinking=output.thinking), output)


@SETTINGS
@given(st.data(), assistant_outputs())
def test_canonical_output_any_chunking(data: st.DataObject, output: Output) -> None:
    chunks = data.draw(chunkings(output.raw))
    message, events = run_text(chunks, thinking=output.thinking)
    expect(message, output)
    assert_stream_matches(events, message)


@SETTINGS
@given(st.data(), marker_soup(), st.booleans())
def test_any_chunking_gives_the_same_message(data: st.DataObject, raw: str, thinking: bool) -> None:
    """Rule 1: identical result (diagnostics included) however the text is cut; deltas add up."""
    chunks = data.draw(chunkings(raw))
    message, events = run_text(chunks, thinking=thinking)
    assert message_dict(message) == message_dict(parse(raw, thinking=thinking))
    assert_stream_matches(events, message)


@SETTINGS
@given(st.text(), st.booleans())
def test_any_text_never_raises(raw: str, thinking: bool) -> None:
    message = parse(raw, thinking=thinking)
    message.to_openai()
    assert message.finish_reason in ("stop", "tool_calls")


TOOLS = [
    {
        "type": "function",
        "function": {"name": "f", "parameters": {"type": "object", "properties": {"a": {}}}},
    },
    {"type": "function", "function": {"name": "exec"}},
]


@SETTINGS
@given(marker_soup(max_pieces=60), st.booleans())
def test_marker_soup_with_tools_never_raises(raw: str, thinking: bool) -> None:
    message, events = run_text([raw[: len(raw) // 2], raw[len(raw) // 2 :]], tools=TOOLS, thinking=thinking)
    assert_stream_matches(events, message)
    for i, call in enumerate(message.tool_calls):
        assert call.index == i


special_ids = st.integers(FIRST_SPECIAL_ID, LAST_SPECIAL_ID)


@SETTINGS
@given(
    st.lists(
        st.tuples(st.text(max_size=6), st.lists(st.one_of(special_ids, st.integers(0, 1000)), max_size=4))
    )
)
def test_token_steps_never_raise(steps: list[tuple[str, list[int]]]) -> None:
    """Token mode with text and ids that do not even agree: never raises, stream still adds up."""
    message, events = run_steps(steps)
    assert_stream_matches(events, message)


@settings(max_examples=150, deadline=None)
@given(assistant_outputs(data_markers=False))
def test_token_ids_give_the_text_result(vocab: Any, output: Output) -> None:
    """Fed as ids (per step, all at once, detokenized by the parser) a canonical turn parses the same."""
    ids = encode(vocab, output.raw)
    want = message_dict(parse(output.raw, thinking=output.thinking))
    per_step, events = run_steps(decode_steps(vocab, ids), thinking=output.thinking)
    assert message_dict(per_step) == want
    assert_stream_matches(events, per_step)
    at_once, _ = run_steps([(output.raw, ids)], thinking=output.thinking)
    assert message_dict(at_once) == want
    by_ids, _ = run_ids([[t] for t in ids], vocab, thinking=output.thinking)
    assert message_dict(by_ids) == want


@SETTINGS
@given(st.lists(st.one_of(special_ids, st.integers(0, FIRST_SPECIAL_ID - 1)), max_size=40), st.data())
def test_feed_ids_any_split(vocab: Any, ids: list[int], data: st.DataObject) -> None:
    """Raw ids, UTF-8 split anywhere: one id at a time and any grouping give the same message."""
    one_by_one, events = run_ids([[t] for t in ids], vocab)
    assert_stream_matches(events, one_by_one)
    cuts = sorted(data.draw(st.lists(st.integers(0, len(ids)), max_size=6)))
    groups = [ids[a:b] for a, b in zip([0, *cuts], [*cuts, len(ids)], strict=True)]
    grouped, _ = run_ids(groups, vocab)
    assert message_dict(grouped) == message_dict(one_by_one)


def test_streaming_holds_only_what_it_must() -> None:
    """Content is released as it comes; only a possible marker prefix waits."""
    parser = StreamParser()
    assert [e.to_openai() for e in parser.feed("Hello wor")] == [{"content": "Hello wor"}]
    assert [e.to_openai() for e in parser.feed("ld <|tool_ca")] == [{"content": "ld "}]
    assert parser.feed("lls_section_begin|>") == []
    assert parser.message.content == "Hello world "


# --- The fast path (docs/format.md#fast-path) changes nothing ------------------------------------------


@contextmanager
def general_machine_only() -> Iterator[None]:
    """Switch the parser's fast path off: every step goes through the state table."""
    saved = parser_module.FAST_PATH
    parser_module.FAST_PATH = False
    try:
        yield
    finally:
        parser_module.FAST_PATH = saved


def both_ways(run: Callable[[], tuple[Any, list[Any]]]) -> None:
    """The same feeds through the fast path and through the general machine: same events, same message."""
    fast_message, fast_events = run()
    with general_machine_only():
        message, events = run()
    assert fast_events == events
    assert message_dict(fast_message) == message_dict(message)


def punctuated_call(value: str, array: bool, after: str) -> str:
    """A call whose arguments are dense in what the JSON scanner must follow: quotes, escapes, brackets;
    an object or an array, and text after it (#rule-12)."""
    nested = [value, {"x": [value]}]
    arguments = json.dumps(nested if array else {"k": value, "n": nested}, ensure_ascii=False)
    return f"<think>{value}</think>{value}{CB}functions.f:0{AB}{arguments}{after}{CE}"


def any_output() -> st.SearchStrategy[tuple[str, bool]]:
    """Canonical turns (markers as data in argument strings included), arguments dense in JSON punctuation,
    and marker soup; and ``thinking``."""
    punctuation = '"\\{}[]a <\n'
    return st.one_of(
        assistant_outputs().map(lambda o: (o.raw, o.thinking)),
        st.builds(
            punctuated_call,
            st.text(punctuation, max_size=30),
            st.booleans(),
            st.text(punctuation, max_size=3),
        ).map(lambda raw: (raw, False)),
        st.tuples(marker_soup(), st.booleans()),
    )


@SETTINGS
@given(st.data(), any_output(), st.sampled_from([None, TOOLS]))
def test_fast_path_changes_nothing_in_text_mode(
    data: st.DataObject, output: tuple[str, bool], tools: Any
) -> None:
    raw, thinking = output
    token_sized = st.integers(1, 4).map(lambda k: [raw[i : i + k] for i in range(0, len(raw), k)])
    chunks = data.draw(st.one_of(chunkings(raw, max_cuts=len(raw)), token_sized))
    both_ways(lambda: run_text(chunks, thinking=thinking, tools=tools))


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data(), any_output(), st.booleans(), st.sampled_from([None, TOOLS]))
def test_fast_path_changes_nothing_in_token_mode(
    vocab: Any, data: st.DataObject, output: tuple[str, bool], specials: bool, tools: Any
) -> None:
    """Token ids decoded one step per token, steps merged anywhere; marker text as its special id or, with
    ``specials`` off, as ordinary tokens (data, docs/format.md#rule-4)."""
    raw, thinking = output
    ids = vocab.encode(raw) if specials else vocab.encode(raw, allowed_special=())
    steps = decode_steps(vocab, ids)
    cuts = sorted(set(data.draw(st.lists(st.integers(1, max(1, len(steps) - 1)), max_size=len(steps)))))
    merged = [
        ("".join(t for t, _ in steps[a:b]), [i for _, ids in steps[a:b] for i in ids])
        for a, b in zip([0, *cuts], [*cuts, len(steps)], strict=True)
        if a < b
    ]
    both_ways(lambda: run_steps(merged, thinking=thinking, tools=tools))
