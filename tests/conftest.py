"""Shared test helpers: where the reference data lives, and skipping cleanly when it is absent."""

from __future__ import annotations

from pathlib import Path

import pytest

from testsupport.paths import FIXTURES, REFERENCE, ROOT, SHARED, VECTORS, VOCAB_FILE

__all__ = ["FIXTURES", "REFERENCE", "ROOT", "SHARED", "VECTORS", "VOCAB_FILE", "need_shared"]


def need_shared(path: Path) -> Path:
    """Return path, or skip the test with the reason when the shared reference data is not there."""
    if not path.exists():
        pytest.skip(f"needs {path} (the workplace's ../shared reference data is not present)")
    return path


@pytest.fixture(scope="session")
def vocab():  # type: ignore[no-untyped-def]
    """The Kimi vocabulary from the shared reference data, with tiktoken for encoding."""
    pytest.importorskip("tiktoken", reason="token-id tests need tiktoken (pip install -e '.[test]')")
    from kimi_toolparse import KimiVocabulary

    voc = KimiVocabulary.from_file(need_shared(VOCAB_FILE))
    assert voc.tiktoken_encoding is not None  # build it once for the whole session
    return voc
