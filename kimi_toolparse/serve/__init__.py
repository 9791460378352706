"""An OpenAI chat-completions gateway in front of raw ``/v1/completions`` engines (``kimi-toolparse serve``).

Needs the ``serve`` extra: ``pip install '.[serve]'`` in a clone. :mod:`kimi_toolparse.serve.standin` is
a stand-in engine for tests, benchmarks and fuzzers.
"""

from __future__ import annotations

__all__: list[str] = []
