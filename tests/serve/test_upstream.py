"""The upstream side without HTTP: the SSE decoder (any cut of the bytes)."""

from __future__ import annotations

import json

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kimi_toolparse.serve.upstream import SSEDecoder

EVENTS = [{"choices": [{"index": 0, "text": t}]} for t in ["a", "b\n\nc", "<|tool_call_end|>", "é"]]
STREAM = "".join(f"data: {json.dumps(e)}\n\n" for e in EVENTS).encode() + b"data: [DONE]\n\n"


@settings(max_examples=200, deadline=None)
@given(st.sampled_from([STREAM, STREAM.replace(b"\n", b"\r\n")]), st.data())
def test_sse_decoder_any_cut_gives_the_same_events(stream: bytes, data: st.DataObject) -> None:
    cuts = sorted(data.draw(st.lists(st.integers(0, len(stream)), max_size=12)))
    dec = SSEDecoder()
    got = []
    for a, b in zip([0, *cuts], [*cuts, len(stream)], strict=True):
        got += dec.feed(stream[a:b])
    assert got == EVENTS and dec.done and not dec.pending


def test_sse_decoder_rejects_non_json_and_ignores_comments() -> None:
    dec = SSEDecoder()
    assert dec.feed(b': keep-alive\n\nevent: x\ndata: {"a": 1}\n\n') == [{"a": 1}]
    with pytest.raises(ValueError, match="not JSON"):
        dec.feed(b"data: {broken\n\n")
    with pytest.raises(ValueError, match="not a JSON object"):
        SSEDecoder().feed(b"data: [1, 2]\n\n")
    half = SSEDecoder()
    half.feed(b'data: {"a"')
    assert half.pending and not half.done


def test_sse_decoder_one_event_reads_still_refuse_what_is_not_json() -> None:
    # Pieces shaped as the one-event shortcut takes them, but not one JSON object: the general path's errors.
    with pytest.raises(ValueError, match="not JSON"):
        SSEDecoder().feed(b'data: {"a": 1} {"b": 2}\n\n')
    with pytest.raises(ValueError, match="not JSON"):
        SSEDecoder().feed(b"data: {broken}\n\n")
    dec = SSEDecoder()
    assert dec.feed(b'data: {"a": 1}\n\n') == [{"a": 1}]
    assert dec.feed(b'data: {"b"') == [] and dec.pending
    assert dec.feed(b": 2}\n\n") == [{"b": 2}] and not dec.pending


def _reference(stream: bytes) -> tuple[list[object], bool]:
    """The events of a whole stream by the decoder's rules, read at once: blocks, their data lines."""
    out: list[object] = []
    for block in stream.replace(b"\r\n", b"\n").split(b"\n\n")[:-1]:
        for line in block.split(b"\n"):
            if line.startswith(b"data:"):
                payload = line[5:].strip()
                if payload == b"[DONE]":
                    return out, True
                out.append(orjson.loads(payload))  # the decoder's JSON reader (big integers as it reads them)
    return out, False


_VALUES = st.one_of(st.integers(), st.text(max_size=8), st.none(), st.lists(st.integers(), max_size=3))
_OBJECTS = st.dictionaries(st.text(max_size=6), _VALUES, max_size=4)


@st.composite
def _sse_event(draw: st.DrawFn) -> bytes:
    """One SSE block as engines and proxies write them: mostly ``data: {...}``, sometimes not."""
    body = json.dumps(draw(_OBJECTS), separators=draw(st.sampled_from([(",", ":"), (", ", ": ")])))
    shape = draw(st.sampled_from(["plain", "plain", "plain", "nospace", "padded", "named", "two", "comment"]))
    if shape == "nospace":
        return f"data:{body}\n\n".encode()
    if shape == "padded":
        return f"data:  {body} \n\n".encode()
    if shape == "named":
        return f"event: completion\ndata: {body}\n\n".encode()
    if shape == "two":
        return f"data: {body}\ndata: {body}\n\n".encode()
    if shape == "comment":
        return b": keep-alive\n\n"
    return f"data: {body}\n\n".encode()


@settings(max_examples=300, deadline=None)
@given(st.lists(_sse_event(), max_size=8), st.booleans(), st.booleans(), st.data())
def test_sse_decoder_any_cut_of_any_events_gives_the_events_of_the_whole(
    events: list[bytes], crlf: bool, done: bool, data: st.DataObject
) -> None:
    # Pieces cut at event boundaries (the one-event shortcut) and anywhere else (the general path), mixed.
    stream = b"".join(events) + (b"data: [DONE]\n\n" if done else b"")
    if crlf:
        stream = stream.replace(b"\n", b"\r\n")
    bounds, pos = [], 0
    for ev in events:
        pos += len(ev.replace(b"\n", b"\r\n")) if crlf else len(ev)
        bounds.append(pos)
    anywhere = st.integers(0, len(stream))
    at_events = st.sampled_from(bounds) if bounds else anywhere
    cuts = sorted(data.draw(st.lists(st.one_of(at_events, anywhere), max_size=12)))
    dec = SSEDecoder()
    got: list[object] = []
    for a, b in zip([0, *cuts], [*cuts, len(stream)], strict=True):
        got += dec.feed(stream[a:b])
    assert (got, dec.done) == _reference(stream)
    assert not dec.pending
