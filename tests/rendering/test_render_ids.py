"""Token ids: the rendered prompt encoded as the official tokenizer encodes it (tiktoken, the Kimi vocabulary
and pre-tokenization pattern, special tokens by id)."""

from __future__ import annotations

import base64
import re
from functools import cache
from pathlib import Path
from typing import Any

import pytest

from kimi_toolparse.rendering.prompt import encode_prompt, render, render_ids
from kimi_toolparse.rendering.templates import MODELS
from kimi_toolparse.tokens import SPECIAL_IDS
from testsupport.goldens import load_committed as goldens

from ..conftest import REFERENCE, VOCAB_FILE

tiktoken = pytest.importorskip("tiktoken", reason="token-id tests need tiktoken (pip install -e '.[test]')")


@cache
def official_encoding() -> Any:
    """tiktoken built from the reference files alone: the vocabulary, and the pattern the README gives."""
    readme = (REFERENCE / "README.md").read_text(encoding="utf-8")
    block = re.search(r"pre-tokenization pattern.*?```\n(.*?)```", readme, re.S)
    assert block, "the reference README lost its pattern block"
    pattern = "|".join(line for line in block.group(1).splitlines() if line)
    ranks = {}
    for line in VOCAB_FILE.read_bytes().splitlines():
        if line.strip():
            token, rank = line.split()
            ranks[base64.b64decode(token)] = int(rank)
    return tiktoken.Encoding(
        name="kimi-reference", pat_str=pattern, mergeable_ranks=ranks, special_tokens=SPECIAL_IDS
    )


def _official_ids(text: str) -> list[int]:
    ids: list[int] = official_encoding().encode(text, allowed_special="all")
    return ids


def test_readme_example(vocab: Any) -> None:
    text = render(
        [
            {"role": "system", "content": "You are a helpful assistant."},
            {"role": "user", "content": "Hello!"},
        ],
        model="kimi-k2.5",
    )
    want = [163594, 14062, 163601, 3900, 554, 261, 13205, 26626, 13, 163586]
    want += [163587, 2482, 163601, 19180, 0, 163586, 163588, 69702, 163601, 163606]
    assert (
        render_ids(
            [
                {"role": "system", "content": "You are a helpful assistant."},
                {"role": "user", "content": "Hello!"},
            ],
            model="kimi-k2.5",
            tokenizer=vocab,
        )
        == want
    )
    assert _official_ids(text) == want


def test_golden_prompts_encode_as_tiktoken_does(vocab: Any) -> None:
    data = goldens()
    for prompt in data["prompts"].values():
        assert encode_prompt(prompt, vocab) == _official_ids(prompt)


def test_render_ids_for_every_model_and_k2vv_conversation(vocab: Any) -> None:
    data = goldens()
    k2vv = [conv for cid, conv in data["conversations"].items() if cid.startswith("k2vv-")]
    for model in MODELS:
        for conv in k2vv:
            ids = render_ids(conv["messages"], conv["tools"], model=model, tokenizer=vocab)
            text = render(conv["messages"], conv["tools"], model=model)
            assert ids == _official_ids(text)
            # every marker of the template is one special id, and the ids decode back to the prompt
            assert ids.count(SPECIAL_IDS["<|im_end|>"]) == text.count("<|im_end|>")
            assert vocab.decode(ids) == text


def test_tokenizer_as_a_path(tmp_path: Path) -> None:
    vocab_file = VOCAB_FILE
    messages = [{"role": "user", "content": "Hello!"}]
    want = _official_ids(render(messages, model="kimi-k2-instruct"))
    assert render_ids(messages, model="kimi-k2-instruct", tokenizer=vocab_file) == want
    assert (
        render_ids(messages, model="kimi-k2-instruct", tokenizer=str(vocab_file.parent)) == want
    )  # a model directory
    with pytest.raises(ValueError, match=r"has no tiktoken\.model"):
        render_ids(messages, model="kimi-k2-instruct", tokenizer=tmp_path)
    with pytest.raises(ValueError, match="does not exist"):
        render_ids(messages, model="kimi-k2-instruct", tokenizer=tmp_path / "missing.model")


def test_tokenizer_as_a_tiktoken_encoding() -> None:
    messages = [{"role": "user", "content": "Hello <|im_end|> there"}]
    text = render(messages, model="kimi-k2.6")
    assert render_ids(messages, model="kimi-k2.6", tokenizer=official_encoding()) == _official_ids(text)


class _HFTokenizer:
    """Stands in for a transformers tokenizer: records how it is called."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, dict[str, Any]]] = []

    def __call__(self, text: str, **kwargs: Any) -> dict[str, list[int]]:
        self.calls.append((text, kwargs))
        return {"input_ids": _official_ids(text)}

    def encode(self, text: str, **kwargs: Any) -> list[int]:  # pragma: no cover - present, not used
        raise AssertionError("apply_chat_template tokenizes through __call__")


def test_tokenizer_as_transformers_tokenizer() -> None:
    tokenizer = _HFTokenizer()
    messages = [{"role": "user", "content": "Hi"}]
    ids = render_ids(messages, model="kimi-k2.7-code", tokenizer=tokenizer)
    text = render(messages, model="kimi-k2.7-code")
    # as apply_chat_template(tokenize=True) does: the whole prompt, no special tokens added
    assert tokenizer.calls == [(text, {"add_special_tokens": False})]
    assert ids == _official_ids(text)


def test_bad_tokenizer() -> None:
    with pytest.raises(TypeError, match=r"must be None \(the packaged vocabulary\), a KimiVocabulary"):
        render_ids([{"role": "user", "content": "x"}], model="kimi-k2-instruct", tokenizer=42)
    with pytest.raises(TypeError, match="as str"):
        encode_prompt(b"bytes", official_encoding())  # type: ignore[arg-type]
