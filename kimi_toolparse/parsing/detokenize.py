"""Incremental detokenization of ordinary token ids, for feeding a parser ids with no text.

Special ids never come here: the parser takes them by id. A character split across tokens is released
once its last byte arrives; whatever is incomplete when a special token or the end comes is U+FFFD.
"""

from __future__ import annotations

import codecs
import os
from collections.abc import Sequence
from typing import Any, Protocol

from ..tokens import CALL_BEGIN, SPECIAL_IDS
from ..vocab import KimiVocabulary, load_vocabulary

__all__ = ["Detokenizer", "TransformersDetokenizer", "VocabularyDetokenizer", "detokenizer_for"]

#: Ids a split character may span; a longer run ending in U+FFFD is invalid UTF-8 and is released.
_MAX_PENDING = 8


class Detokenizer(Protocol):
    def decode(self, token_ids: Sequence[int]) -> str:
        """The text these ids complete, given all ids fed before."""

    def flush(self) -> str:
        """Whatever is pending, as text; the next decode starts afresh."""


class VocabularyDetokenizer:
    """Bytes per id from the Kimi vocabulary file, decoded by an incremental UTF-8 decoder."""

    def __init__(self, vocabulary: KimiVocabulary) -> None:
        self._token_bytes = vocabulary.token_bytes
        self._decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")

    def decode(self, token_ids: Sequence[int]) -> str:
        token_bytes = self._token_bytes
        text: str = self._decoder.decode(b"".join([token_bytes(t) for t in token_ids]))
        return text

    def flush(self) -> str:
        text: str = self._decoder.decode(b"", final=True)
        self._decoder.reset()
        return text


class TransformersDetokenizer:
    """Any Hugging Face tokenizer of the Kimi family, through its own ``decode``.

    It decodes a short window of recent ids and releases the text the newest ids added, holding back while
    the window ends in an incomplete character (the usual incremental scheme; cost per token is constant).
    """

    def __init__(self, tokenizer: Any) -> None:
        probe = SPECIAL_IDS[CALL_BEGIN]
        try:
            found = tokenizer.convert_ids_to_tokens(probe)
        except Exception:
            found = None
        if found != CALL_BEGIN:
            raise ValueError(
                f"not a Kimi K2 tokenizer: id {probe} should be {CALL_BEGIN}, this tokenizer says {found!r}"
            )
        self._tokenizer = tokenizer
        self._ids: list[int] = []
        self._prefix = 0
        self._read = 0

    def _text(self, start: int, end: int | None) -> str:
        ids = self._ids[start:end]
        if not ids:
            return ""
        text: str = self._tokenizer.decode(ids, skip_special_tokens=False, clean_up_tokenization_spaces=False)
        return text

    def decode(self, token_ids: Sequence[int]) -> str:
        self._ids.extend(token_ids)
        before = self._text(self._prefix, self._read)
        window = self._text(self._prefix, None)
        if window.endswith("\ufffd") and len(self._ids) - self._read < _MAX_PENDING:
            return ""  # wait for the rest of the character (a long run is invalid bytes: release it)
        self._ids = self._ids[self._read :]
        self._prefix, self._read = 0, len(self._ids)
        return window[len(before) :]

    def flush(self) -> str:
        if self._read >= len(self._ids):
            text = ""
        else:
            text = self._text(self._prefix, None)[len(self._text(self._prefix, self._read)) :]
        self._ids, self._prefix, self._read = [], 0, 0
        return text


def detokenizer_for(tokenizer: Any) -> Detokenizer:
    """A fresh detokenizer for a :class:`KimiVocabulary`, a model directory or its ``tiktoken.model``, or a
    HF tokenizer."""
    if isinstance(tokenizer, (str, os.PathLike)):
        tokenizer = load_vocabulary(tokenizer)
    if isinstance(tokenizer, KimiVocabulary):
        return VocabularyDetokenizer(tokenizer)
    if hasattr(tokenizer, "decode") and hasattr(tokenizer, "convert_ids_to_tokens"):
        return TransformersDetokenizer(tokenizer)
    raise TypeError(
        "tokenizer must be a KimiVocabulary, a path to a Kimi model directory or its tiktoken.model, "
        "or a transformers tokenizer, "
        f"not {type(tokenizer).__name__}"
    )
