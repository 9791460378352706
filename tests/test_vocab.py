"""The Kimi vocabulary that ships with the package: the default wherever a vocabulary is taken, read once, and
overridden by a user's own model directory or file (``~`` expanded)."""

from __future__ import annotations

import hashlib
import shutil
from pathlib import Path

import pytest

from kimi_toolparse import KimiVocabulary, StreamParser, render, render_ids
from kimi_toolparse.vocab import PACKAGED_VOCABULARY, load_vocabulary, vocabulary_file

#: The vocabulary of the whole K2 family (the same file in every model's Hugging Face repository).
SHA256 = "b6c497a7469b33ced9c38afb1ad6e47f03f5e5dc05f15930799210ec050c5103"


def test_the_package_ships_the_vocabulary_with_its_licence() -> None:
    path = Path(PACKAGED_VOCABULARY)
    assert hashlib.sha256(path.read_bytes()).hexdigest() == SHA256
    licence = (path.parent / "LICENSE.txt").read_text(encoding="utf-8")
    assert "Moonshot AI" in licence and "Permission is hereby granted" in licence


def test_no_path_is_the_packaged_vocabulary_read_once() -> None:
    vocab = load_vocabulary()
    assert isinstance(vocab, KimiVocabulary) and len(vocab) == 163840
    assert (
        load_vocabulary()
        is vocab
        is load_vocabulary(PACKAGED_VOCABULARY)
        is load_vocabulary(Path(PACKAGED_VOCABULARY).parent)
    )
    assert vocab.decode([19180, 0, 163586]) == "Hello!<|im_end|>"


def test_a_users_own_directory_overrides_it_and_tilde_is_home(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    model = tmp_path / "models" / "Kimi-K2.5"
    model.mkdir(parents=True)
    lines = Path(PACKAGED_VOCABULARY).read_bytes().splitlines(keepends=True)
    # the user's copy differs: ranks 0 and 1 swapped, so what it decodes shows which file was read
    a, b = lines[0].split(), lines[1].split()
    (model / "tiktoken.model").write_bytes(b"%s %s\n%s %s\n" % (b[0], a[1], a[0], b[1]) + b"".join(lines[2:]))
    monkeypatch.setenv("HOME", str(tmp_path))
    assert vocabulary_file("~/models/Kimi-K2.5") == str(model / "tiktoken.model")
    own = load_vocabulary("~/models/Kimi-K2.5")
    assert own is not load_vocabulary()
    assert own.decode([0]) == load_vocabulary().decode([1])
    parser = StreamParser(tokenizer="~/models/Kimi-K2.5")
    parser.feed_ids([0])
    parser.close()
    assert parser.message.content == load_vocabulary().decode([1])
    with pytest.raises(ValueError, match=r"has no tiktoken\.model"):
        load_vocabulary(str(tmp_path))


def test_token_ids_need_no_path_anywhere(vocab: KimiVocabulary) -> None:
    messages = [{"role": "user", "content": "Hello!"}]
    assert render_ids(messages, model="kimi-k2.5") == vocab.encode(render(messages, model="kimi-k2.5"))
    parser = StreamParser()  # feed_ids decodes with the packaged vocabulary
    parser.feed_ids([*vocab.encode("Hi there"), 163586])
    parser.close()
    assert parser.message.content == "Hi there"


def test_a_path_that_is_not_a_path_is_refused() -> None:
    with pytest.raises(TypeError, match="must be a str or a path, not int"):
        load_vocabulary(3)  # type: ignore[arg-type]


def test_a_copy_of_the_file_elsewhere_reads_the_same(tmp_path: Path) -> None:
    copy = tmp_path / "tiktoken.model"
    shutil.copyfile(PACKAGED_VOCABULARY, copy)
    assert load_vocabulary(copy).decode(list(range(200))) == load_vocabulary().decode(list(range(200)))
