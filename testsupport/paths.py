"""Where the tests' data lives: all of it inside the repository (``fixtures/``, and the package's vocabulary).

``fixtures/reference/`` and ``fixtures/conformance/`` are copies of the team's reference data, each with its
source and licence beside it; ``VOCAB_FILE`` is the vocabulary that ships with the package. Nothing here
points outside ``ROOT``, which ``tests/test_paths.py`` checks.
"""

from __future__ import annotations

from pathlib import Path

from kimi_toolparse.vocab import PACKAGED_VOCABULARY

__all__ = ["FIXTURES", "REFERENCE", "ROOT", "VECTORS", "VOCAB_FILE"]

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "fixtures"
#: Official templates, K2VV requests and responses, JSON-schema cases, TypeScript declarations, examples.
REFERENCE = FIXTURES / "reference"
#: The conformance corpus of the parser.
VECTORS = FIXTURES / "conformance" / "vectors.jsonl"
#: The Kimi vocabulary (``tiktoken.model``), as the package ships it.
VOCAB_FILE = Path(PACKAGED_VOCABULARY)
