"""The suites that need a heavy oracle, each run in its own venv by ``.ci/run`` (never by the main suite).

- ``constrain/``, ``serve/``: grammars checked with xgrammar's matcher (xgrammar imports PyTorch), and the
  Redis response store against a real ``redis-server`` (Debian's package, which ``.ci/run`` installs);
- ``parsing/``, ``oracles/``: transformers' tokenizer and chat-template renderer as oracles;
  these two run in ``.venv-oracles`` (``ci/oracles/install.sh``);
- ``integrations/``, ``fuzzing/``: vLLM's and SGLang's own code, in ``.venv-vllm`` and ``.venv-sglang``
  (``ci/engines/install.sh``).

Same data and helpers as the main suite: ``testsupport/paths.py`` and the packaged vocabulary.
"""

from __future__ import annotations

from tests.conftest import FIXTURES, REFERENCE, ROOT, VECTORS, VOCAB_FILE, vocab

__all__ = ["FIXTURES", "REFERENCE", "ROOT", "VECTORS", "VOCAB_FILE", "vocab"]
