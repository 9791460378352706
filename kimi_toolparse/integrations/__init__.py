"""Drop-in parsers for inference engines: this project's parser inside vLLM's and SGLang's serving code.

Nothing here imports an engine until you import its module:

- :mod:`kimi_toolparse.integrations.vllm_plugin` registers the ``kimi_toolparse`` tool and reasoning
  parsers with vLLM (``--tool-parser-plugin kimi_toolparse.integrations.vllm_plugin``);
- :mod:`kimi_toolparse.integrations.sglang_plugin` registers the ``kimi_toolparse`` function-call and
  reasoning detectors with SGLang (through its ``sglang.srt.plugins`` entry point);
- :mod:`kimi_toolparse.integrations.deltas` merges the parser's events into one OpenAI delta per engine
  step, the shape both engines stream.
"""

from __future__ import annotations

__all__: list[str] = []
