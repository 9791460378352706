"""Responders for stand-in engines started as processes (``--responder tests.serve.responders:NAME``)."""

from __future__ import annotations

import re
from typing import Any

_NUMBER = re.compile(r"request (\d+)")


def numbered(request: dict[str, Any]) -> str:
    """An answer and a call that both carry the number the user's message gave: streams can be told apart."""
    m = _NUMBER.search(request["prompt"])
    n = m.group(1) if m else "none"
    return (
        f"Looking up city {n} now."
        "<|tool_calls_section_begin|><|tool_call_begin|>functions.get_weather:0<|tool_call_argument_begin|>"
        f'{{"city": "city-{n}", "unit": "celsius"}}<|tool_call_end|><|tool_calls_section_end|><|im_end|>'
    )


def long_answer(request: dict[str, Any]) -> str:
    """Many tokens, for streams that are cut while running."""
    return "word " * 5000
