"""The public conformance corpus (fixtures/conformance/vectors.jsonl), in every way a server can feed it.

Text vectors: one shot, their own chunks, one character at a time, and as token ids. Token-mode vectors
(marker text inside data) only as token ids. Token ids are fed per decode step, all at once, with the text
of skipped special tokens left out, and raw through feed_ids() with the parser detokenizing.
Results are compared exactly: content and reasoning are not stripped.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from kimi_toolparse import Code, ParsedMessage, parse
from kimi_toolparse.tokens import SPECIAL_IDS
from testsupport.streams import (
    assert_stream_matches,
    decode_steps,
    encode,
    message_dict,
    run_ids,
    run_steps,
    run_text,
)

from ..conftest import VECTORS


def _load() -> list[dict[str, Any]]:
    return [json.loads(line) for line in VECTORS.read_text(encoding="utf-8").splitlines() if line.strip()]


VECS = _load()
TEXT_VECS = [v for v in VECS if not v["token_mode"]]
CHUNKED = [v for v in TEXT_VECS if v.get("chunks")]
TOKEN_VECS = [v for v in VECS if not v.get("text_mode_only")]


def ids(vectors: list[dict[str, Any]]) -> list[str]:
    return [v["id"] for v in vectors]


def check(message: ParsedMessage, vec: dict[str, Any]) -> None:
    want = vec["expected"]
    assert message.content == want["content"]
    assert message.reasoning == want["reasoning"]
    assert message.finish_reason == want["finish_reason"]
    got = [
        {
            "index": c.index,
            "id": c.id,
            "name": c.name,
            "arguments": c.arguments,
            "json_valid": c.json_valid,
            "closed_by": c.closed_by.value,
            **({"arg_begin_missing": True} if c.arg_begin_missing else {}),
        }
        for c in message.tool_calls
    ]
    assert got == want["tool_calls"]
    # The statuses the corpus README asks for are reported as diagnostics too.
    codes = {(d.code, d.call_index) for d in message.diagnostics}
    for c in message.tool_calls:
        assert (Code.INVALID_JSON, c.index) in codes or c.json_valid
        assert (Code.UNRESOLVED_NAME, c.index) in codes or c.name is not None
        assert (Code.ARG_BEGIN_MISSING, c.index) in codes or not c.arg_begin_missing


def kwargs(vec: dict[str, Any]) -> dict[str, Any]:
    return {"tools": vec["tools"], "thinking": vec["thinking"]}


@pytest.mark.parametrize("vec", TEXT_VECS, ids=ids(TEXT_VECS))
def test_one_shot(vec: dict[str, Any]) -> None:
    check(parse(vec["raw"], **kwargs(vec)), vec)


@pytest.mark.parametrize("vec", CHUNKED, ids=ids(CHUNKED))
def test_own_chunks(vec: dict[str, Any]) -> None:
    message, events = run_text(vec["chunks"], **kwargs(vec))
    check(message, vec)
    assert_stream_matches(events, message)
    assert message_dict(message) == message_dict(parse(vec["raw"], **kwargs(vec)))


@pytest.mark.parametrize("vec", TEXT_VECS, ids=ids(TEXT_VECS))
def test_one_character_at_a_time(vec: dict[str, Any]) -> None:
    message, events = run_text(list(vec["raw"]), **kwargs(vec))
    check(message, vec)
    assert_stream_matches(events, message)
    # Diagnostics too are the same however the text was cut (rule 1).
    assert message_dict(message) == message_dict(parse(vec["raw"], **kwargs(vec)))


def token_ids(vocab: Any, vec: dict[str, Any]) -> list[int]:
    return encode(vocab, vec["raw"], vec.get("marker_text_is_data") or [])


@pytest.mark.parametrize("vec", TOKEN_VECS, ids=ids(TOKEN_VECS))
def test_token_steps(vec: dict[str, Any], vocab: Any) -> None:
    message, events = run_steps(decode_steps(vocab, token_ids(vocab, vec)), **kwargs(vec))
    check(message, vec)
    assert_stream_matches(events, message)


@pytest.mark.parametrize("vec", TOKEN_VECS, ids=ids(TOKEN_VECS))
def test_token_ids_all_at_once(vec: dict[str, Any], vocab: Any) -> None:
    all_ids = token_ids(vocab, vec)
    message, events = run_steps([(vec["raw"], all_ids)], **kwargs(vec))
    check(message, vec)
    assert_stream_matches(events, message)


def splits_no_special_token(vec: dict[str, Any]) -> bool:
    """Whether every special token's text lies inside one chunk: only then can the chunks be tokenized
    one by one, because a special token is one id and cannot be cut (the streaming-splits vectors cut
    markers on purpose, which only text mode can do)."""
    bounds, pos = set(), 0
    for chunk in vec["chunks"][:-1]:
        pos += len(chunk)
        bounds.add(pos)
    raw = vec["raw"]
    for literal in SPECIAL_IDS:
        start = raw.find(literal)
        while start >= 0:
            if any(start < b < start + len(literal) for b in bounds):
                return False
            start = raw.find(literal, start + 1)
    return True


TOKEN_CHUNKED = [v for v in TOKEN_VECS if v.get("chunks") and splits_no_special_token(v)]


@pytest.mark.parametrize("vec", TOKEN_CHUNKED, ids=ids(TOKEN_CHUNKED))
def test_token_ids_per_chunk(vec: dict[str, Any], vocab: Any) -> None:
    spans = list(vec.get("marker_text_is_data") or [])
    steps = []
    for chunk in vec["chunks"]:
        inside = [s for s in spans if s in chunk]
        steps.append((chunk, encode(vocab, chunk, inside)))
        spans = [s for s in spans if s not in inside]
    message, events = run_steps(steps, **kwargs(vec))
    check(message, vec)
    assert_stream_matches(events, message)


@pytest.mark.parametrize("vec", TOKEN_VECS, ids=ids(TOKEN_VECS))
def test_token_steps_with_skipped_special_text(vec: dict[str, Any], vocab: Any) -> None:
    """A server that detokenizes with skip_special_tokens=True: the ids still carry every marker."""
    message, events = run_steps(decode_steps(vocab, token_ids(vocab, vec), skip_special=True), **kwargs(vec))
    check(message, vec)
    assert_stream_matches(events, message)


@pytest.mark.parametrize("vec", TOKEN_VECS, ids=ids(TOKEN_VECS))
def test_feed_ids_detokenized_by_the_parser(vec: dict[str, Any], vocab: Any) -> None:
    all_ids = token_ids(vocab, vec)
    one_by_one, events = run_ids([[t] for t in all_ids], vocab, **kwargs(vec))
    check(one_by_one, vec)
    assert_stream_matches(events, one_by_one)
    at_once, _ = run_ids([all_ids], vocab, **kwargs(vec))
    assert message_dict(at_once) == message_dict(one_by_one)
