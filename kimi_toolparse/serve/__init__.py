"""A gateway in front of raw ``/v1/completions`` engines (``kimi-toolparse serve``): OpenAI's chat completions
and Anthropic's Messages API, one pipeline with a thin dialect for each.

Needs the ``serve`` extra: ``pip install '.[serve]'`` in a clone. :mod:`kimi_toolparse.serve.standin` is
a stand-in engine for tests, benchmarks and fuzzers.
"""

from __future__ import annotations

__all__: list[str] = []
