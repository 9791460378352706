"""feed_ids() with a transformers tokenizer as the detokenizer: a real fast tokenizer converted from the
packaged vocabulary file by transformers itself (runs in .venv-oracles)."""

from __future__ import annotations

from typing import Any

import pytest

from kimi_toolparse import parse
from kimi_toolparse.parsing.detokenize import TransformersDetokenizer, VocabularyDetokenizer
from kimi_toolparse.tokens import SPECIAL_TOKENS
from tests.parsing.test_detokenize import RAW
from testsupport.streams import assert_stream_matches, encode, message_dict, run_ids

from ..conftest import VOCAB_FILE


@pytest.fixture(scope="module")
def hf_tokenizer() -> Any:
    from transformers import PreTrainedTokenizerFast
    from transformers.convert_slow_tokenizer import TikTokenConverter

    specials = [SPECIAL_TOKENS[i] for i in sorted(SPECIAL_TOKENS)]
    converter = TikTokenConverter(vocab_file=str(VOCAB_FILE), pattern=r"\s+", extra_special_tokens=specials)
    return PreTrainedTokenizerFast(tokenizer_object=converter.converted())


def test_transformers_detokenizer_matches_the_vocabulary(vocab: Any, hf_tokenizer: Any) -> None:
    ids = [t for t in encode(vocab, RAW) if t < 163584]
    a, b = VocabularyDetokenizer(vocab), TransformersDetokenizer(hf_tokenizer)
    got_a = "".join(a.decode([t]) for t in ids) + a.flush()
    got_b = "".join(b.decode([t]) for t in ids) + b.flush()
    assert got_a == got_b == vocab.decode(ids)


def test_feed_ids_one_at_a_time(vocab: Any, hf_tokenizer: Any) -> None:
    ids = encode(vocab, RAW)
    message, events = run_ids([[t] for t in ids], hf_tokenizer)
    assert message_dict(message) == message_dict(parse(RAW))
    assert message.tool_calls[0].arguments == '{"city": "北京", "note": "🌧️ <think> ok"}'
    assert_stream_matches(events, message)
