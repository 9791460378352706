"""Shared test helpers: where the reference data lives, and skipping cleanly when it is absent."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "fixtures"
#: The workplace's shared folder (spec, reference data, conformance corpus); override with KIMI_SHARED.
SHARED = Path(os.environ.get("KIMI_SHARED", ROOT.parent / "shared"))
REFERENCE = SHARED / "reference"
VECTORS = SHARED / "conformance" / "vectors.jsonl"
VOCAB_FILE = REFERENCE / "tokenizer" / "tiktoken.model"


def need_shared(path: Path) -> Path:
    """Return path, or skip the test with the reason when the shared reference data is not there."""
    if not path.exists():
        pytest.skip(f"needs {path} (the workplace's ../shared reference data is not present)")
    return path
