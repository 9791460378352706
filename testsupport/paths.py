"""Where the tests' data lives: the repository's fixtures and the workplace's shared reference data."""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["FIXTURES", "REFERENCE", "ROOT", "SHARED", "VECTORS", "VOCAB_FILE"]

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "fixtures"
#: The workplace's shared folder (spec, reference data, conformance corpus); override with KIMI_SHARED.
SHARED = Path(os.environ.get("KIMI_SHARED", ROOT.parent / "shared"))
REFERENCE = SHARED / "reference"
VECTORS = SHARED / "conformance" / "vectors.jsonl"
VOCAB_FILE = REFERENCE / "tokenizer" / "tiktoken.model"
