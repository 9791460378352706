"""feed_ids(): token ids with no text, detokenized by the parser with the Kimi vocabulary or a
transformers tokenizer (a real fast tokenizer converted from the same vocabulary file)."""

from __future__ import annotations

from typing import Any

import pytest

from kimi_toolparse import StreamParser, parse
from kimi_toolparse.parsing.detokenize import TransformersDetokenizer, VocabularyDetokenizer, detokenizer_for
from kimi_toolparse.tokens import SPECIAL_TOKENS
from testsupport.streams import assert_stream_matches, encode, message_dict, run_ids

from ..conftest import VOCAB_FILE, need_shared

RAW = (
    "天气不错 😀 let me check.<|tool_calls_section_begin|><|tool_call_begin|>functions.get_weather:0"
    '<|tool_call_argument_begin|>{"city": "北京", "note": "🌧️ <think> ok"}<|tool_call_end|>'
    "<|tool_calls_section_end|><|im_end|>"
)


@pytest.fixture(scope="module")
def hf_tokenizer() -> Any:
    pytest.importorskip("transformers", reason="needs transformers (pip install -e '.[test]')")
    from transformers import PreTrainedTokenizerFast
    from transformers.convert_slow_tokenizer import TikTokenConverter

    specials = [SPECIAL_TOKENS[i] for i in sorted(SPECIAL_TOKENS)]
    converter = TikTokenConverter(
        vocab_file=str(need_shared(VOCAB_FILE)), pattern=r"\s+", extra_special_tokens=specials
    )
    return PreTrainedTokenizerFast(tokenizer_object=converter.converted())


def test_vocabulary_detokenizer_joins_split_characters(vocab: Any) -> None:
    ids = vocab.encode("😀")
    assert len(ids) > 1  # the emoji is split across byte tokens
    d = VocabularyDetokenizer(vocab)
    assert [d.decode([t]) for t in ids] == [""] * (len(ids) - 1) + ["😀"]
    d.decode(ids[:1])
    assert d.flush() == "\ufffd"  # an incomplete character at the end is U+FFFD, not an error


@pytest.mark.parametrize("which", ["vocabulary", "path", "transformers"])
def test_feed_ids_one_at_a_time(which: str, vocab: Any, request: pytest.FixtureRequest) -> None:
    tokenizer = {
        "vocabulary": lambda: vocab,
        "path": lambda: str(VOCAB_FILE),
        "transformers": lambda: request.getfixturevalue("hf_tokenizer"),
    }[which]()
    ids = encode(vocab, RAW)
    message, events = run_ids([[t] for t in ids], tokenizer)
    assert message_dict(message) == message_dict(parse(RAW))
    assert message.tool_calls[0].arguments == '{"city": "北京", "note": "🌧️ <think> ok"}'
    assert_stream_matches(events, message)


def test_transformers_detokenizer_matches_the_vocabulary(vocab: Any, hf_tokenizer: Any) -> None:
    ids = [t for t in encode(vocab, RAW) if t < 163584]
    a, b = VocabularyDetokenizer(vocab), TransformersDetokenizer(hf_tokenizer)
    got_a = "".join(a.decode([t]) for t in ids) + a.flush()
    got_b = "".join(b.decode([t]) for t in ids) + b.flush()
    assert got_a == got_b == vocab.decode(ids)


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

    directory = need_shared(VOCAB_FILE).parent  # the reference tokenizer is laid out as a model directory
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
