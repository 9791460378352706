"""Hypothesis properties for the invariants the parsing spec states."""

from __future__ import annotations

from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kimi_toolparse import StreamParser, parse
from kimi_toolparse.strategies import Output, assistant_outputs, chunkings, marker_soup
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
