"""The upstream side without HTTP: the SSE decoder (any cut of the bytes)."""

from __future__ import annotations

import json

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
