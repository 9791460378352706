"""feed_ids(): token ids with no text, detokenized by the parser with the Kimi vocabulary (a transformers
tokenizer as the detokenizer: tests_heavy/parsing/test_detokenize_transformers.py)."""

from __future__ import annotations

from typing import Any

import pytest

from kimi_toolparse import StreamParser, parse
from kimi_toolparse.parsing.detokenize import VocabularyDetokenizer, detokenizer_for
from testsupport.streams import assert_stream_matches, encode, message_dict, run_ids

from ..conftest import VOCAB_FILE

RAW = (
    "天气不错 😀 let me check.<|tool_calls_section_begin|><|tool_call_begin|>functions.get_weather:0"
    '<|tool_call_argument_begin|>{"city": "北京", "note": "🌧️ <think> ok"}<|tool_call_end|>'
    "<|tool_calls_section_end|><|im_end|>"
)


def test_vocabulary_detokenizer_joins_split_characters(vocab: Any) -> None:
    ids = vocab.encode("😀")
    assert len(ids) > 1  # the emoji is split across byte tokens
    d = VocabularyDetokenizer(vocab)
    assert [d.decode([t]) for t in ids] == [""] * (len(ids) - 1) + ["😀"]
    d.decode(ids[:1])
    assert d.flush() == "\ufffd"  # an incomplete character at the end is U+FFFD, not an error


@pytest.mark.parametrize("which", ["vocabulary", "path", "packaged"])
def test_feed_ids_one_at_a_time(which: str, vocab: Any) -> None:
    tokenizer = {"vocabulary": vocab, "path": str(VOCAB_FILE), "packaged": None}[which]
    ids = encode(vocab, RAW)
    message, events = run_ids([[t] for t in ids], tokenizer)
    assert message_dict(message) == message_dict(parse(RAW))
    assert message.tool_calls[0].arguments == '{"city": "北京", "note": "🌧️ <think> ok"}'
    assert_stream_matches(events, message)


def test_a_tokenizer_of_another_family_is_refused() -> None:
    class Other:
        def decode(self, ids: list[int]) -> str:
            return ""

        def convert_ids_to_tokens(self, i: int) -> str:
            return "<unk>"

    with pytest.raises(ValueError, match="not a Kimi K2 tokenizer"):
        detokenizer_for(Other())


def test_special_ids_are_markers_even_unseen_in_text(vocab: Any) -> None:
    p = StreamParser(tokenizer=vocab)
    ids = [*vocab.encode("Hi"), 163586, *vocab.encode("ignored")]
    p.feed_ids(ids)
    p.close()
    assert p.message.content == "Hi"
    assert [d.code.value for d in p.message.diagnostics] == ["text_after_end_of_turn"]


def test_a_model_directory_works_wherever_a_vocabulary_file_does(vocab: Any, tmp_path: Any) -> None:
    from kimi_toolparse import KimiVocabulary

    directory = VOCAB_FILE.parent  # the reference tokenizer is laid out as a model directory
    ids = encode(vocab, RAW)
    from_directory = KimiVocabulary.from_file(directory)
    assert from_directory.decode(ids) == vocab.decode(ids) == RAW
    for tokenizer in (directory, str(directory)):
        message, _ = run_ids([ids], tokenizer)
        assert message_dict(message) == message_dict(parse(RAW))
    with pytest.raises(ValueError, match=r"has no tiktoken\.model: pass the Kimi model directory"):
        StreamParser(tokenizer=tmp_path)
    with pytest.raises(ValueError, match="does not exist"):
        KimiVocabulary.from_file(tmp_path / "missing.model")
