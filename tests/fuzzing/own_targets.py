"""This project's parser as fuzz targets: the text, the stream chunks (answering with deltas), token ids."""

from __future__ import annotations

from functools import cache
from typing import Any

from kimi_toolparse import KimiVocabulary, StreamParser, parse
from testsupport.paths import VOCAB_FILE  # not conftest: a fuzz target runs without pytest


def parse_text(text: str, tools: Any = None, thinking: bool = False) -> dict[str, Any]:
    return parse(text, tools=tools, thinking=thinking).to_openai()


def parse_chunks(chunks: list[str], tools: Any = None, thinking: bool = False) -> list[dict[str, Any]]:
    """The ``chat.completion.chunk`` deltas a server would send."""
    parser = StreamParser(tools=tools, thinking=thinking)
    deltas = []
    for chunk in chunks:
        deltas += [e.to_openai() for e in parser.feed(chunk)]
    deltas += [e.to_openai() for e in parser.close()]
    return [{"choices": [{"index": 0, "delta": d}]} for d in deltas if d is not None]


@cache
def _vocab() -> KimiVocabulary:
    return KimiVocabulary.from_file(VOCAB_FILE)


def parse_token_ids(token_ids: list[int], tools: Any = None, thinking: bool = False) -> dict[str, Any]:
    parser = StreamParser(tools=tools, thinking=thinking, tokenizer=_vocab())
    parser.feed_ids(token_ids)
    parser.close()
    return parser.message.to_openai()
