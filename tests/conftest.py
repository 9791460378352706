"""Shared test helpers: where the data lives (inside the repository), and the Kimi vocabulary."""

from __future__ import annotations

import pytest

from testsupport.paths import FIXTURES, REFERENCE, ROOT, VECTORS, VOCAB_FILE

__all__ = ["FIXTURES", "REFERENCE", "ROOT", "VECTORS", "VOCAB_FILE"]


@pytest.fixture(scope="session")
def vocab():  # type: ignore[no-untyped-def]
    """The Kimi vocabulary that ships with the package, with tiktoken for encoding."""
    from kimi_toolparse.vocab import load_vocabulary

    voc = load_vocabulary()
    assert voc.tiktoken_encoding is not None  # build it once for the whole session
    return voc
