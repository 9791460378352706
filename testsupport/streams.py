"""Ways to feed a parser, and what a client rebuilds from the stream: shared by the test modules."""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from typing import Any

from kimi_toolparse import KimiVocabulary, ParsedMessage, StreamParser
from kimi_toolparse.tokens import SKIPPED_BY_DETOKENIZERS


def encode(vocab: KimiVocabulary, text: str, data_spans: Sequence[str] = ()) -> list[int]:
    """Token ids for text; the listed substrings (in order) are encoded as ordinary text."""
    ids: list[int] = []
    rest = text
    for span in data_spans:
        i = rest.index(span)
        ids += vocab.encode(rest[:i])
        ids += vocab.encode(span, allowed_special=())
        rest = rest[i + len(span) :]
    return ids + vocab.encode(rest)


def decode_steps(
    vocab: KimiVocabulary, ids: Sequence[int], *, skip_special: bool = False
) -> list[tuple[str, list[int]]]:
    """(text, ids) per step as a server's incremental detokenizer yields them: a step ends where the text
    decodes completely. With skip_special, the text of tokens a detokenizer skips is left out."""
    steps: list[tuple[str, list[int]]] = []
    pending = b""
    pending_ids: list[int] = []
    for t in ids:
        if not (skip_special and t in SKIPPED_BY_DETOKENIZERS):
            pending += vocab.token_bytes(t)
        pending_ids.append(t)
        try:
            text = pending.decode("utf-8")
        except UnicodeDecodeError:
            continue
        steps.append((text, pending_ids))
        pending, pending_ids = b"", []
    if pending_ids:
        steps.append((pending.decode("utf-8", errors="replace"), pending_ids))
    return steps


def run_text(chunks: Iterable[str], **kwargs: Any) -> tuple[ParsedMessage, list[Any]]:
    parser = StreamParser(**kwargs)
    events = []
    for chunk in chunks:
        events += parser.feed(chunk)
    events += parser.close()
    return parser.message, events


def run_steps(steps: Iterable[tuple[str, Sequence[int]]], **kwargs: Any) -> tuple[ParsedMessage, list[Any]]:
    parser = StreamParser(**kwargs)
    events = []
    for text, ids in steps:
        events += parser.feed(text, ids)
    events += parser.close()
    return parser.message, events


def run_ids(
    pieces: Iterable[Sequence[int]], tokenizer: Any, **kwargs: Any
) -> tuple[ParsedMessage, list[Any]]:
    parser = StreamParser(tokenizer=tokenizer, **kwargs)
    events = []
    for ids in pieces:
        events += parser.feed_ids(ids)
    events += parser.close()
    return parser.message, events


def replay(events: Iterable[Any]) -> dict[str, Any]:
    """Accumulate the OpenAI deltas the way a client does."""
    content, reasoning, role = "", None, None
    calls: dict[int, dict[str, str]] = {}
    first = True
    for event in events:
        delta = event.to_openai()
        if delta is None:
            continue
        assert set(delta) <= {"role", "content", "reasoning_content", "tool_calls"}, delta
        if "role" in delta:
            assert first and delta == {"role": "assistant"}, "the role comes alone, in the first delta"
            role = delta["role"]
        first = False
        content += delta.get("content", "")
        if "reasoning_content" in delta:
            reasoning = (reasoning or "") + delta["reasoning_content"]
        for tc in delta.get("tool_calls", []):
            if "id" in tc:
                assert tc["index"] not in calls, "a call started twice"
                assert tc["type"] == "function" and tc["function"]["arguments"] == ""
                calls[tc["index"]] = {"id": tc["id"], "name": tc["function"]["name"], "arguments": ""}
            else:
                assert tc["index"] in calls, "arguments before the call started"
                calls[tc["index"]]["arguments"] += tc["function"]["arguments"]
    assert sorted(calls) == list(range(len(calls))), "OpenAI indexes must be dense"
    return {
        "role": role,
        "content": content,
        "reasoning": reasoning,
        "calls": [calls[i] for i in sorted(calls)],
    }


def assert_stream_matches(events: list[Any], message: ParsedMessage) -> None:
    """Rule 1: what a client rebuilds from the deltas is exactly the message's OpenAI view."""
    rebuilt = replay(events)
    view = message.to_openai()
    assert (rebuilt["content"] or None) == view["content"]
    assert rebuilt["reasoning"] == view["reasoning_content"]
    want = [
        {"id": c["id"], "name": c["function"]["name"], "arguments": c["function"]["arguments"]}
        for c in view.get("tool_calls", [])
    ]
    assert rebuilt["calls"] == want


def message_dict(message: ParsedMessage) -> dict[str, Any]:
    """Everything a message holds, for comparing runs (diagnostics included)."""
    return json.loads(message.model_dump_json())
