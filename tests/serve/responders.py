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


_BASH_RESULT = re.compile(r"## Return of (functions\.Bash:\d+)\n(.*?)<\|im_end\|>", re.S)


def claude_code_bash(request: dict[str, Any]) -> str:
    """A scripted agent turn for Claude Code: a Bash call (the model's own id), then an answer quoting its
    result; any other request (titles, side questions) gets a short text. Reasoning first on a thinking
    prompt."""
    prompt = request["prompt"]
    results = _BASH_RESULT.findall(prompt)
    if results:
        _, output = results[-1]
        out = f"It printed: {output.strip()[:200]}<|im_end|>"
    elif "type Bash" in prompt or '"name":"Bash"' in prompt:
        out = (
            "I'll run it.<|tool_calls_section_begin|><|tool_call_begin|>functions.Bash:0"
            '<|tool_call_argument_begin|>{"command": "echo kimi-roundtrip && ls", '
            '"description": "Print a marker and list the files"}<|tool_call_end|><|tool_calls_section_end|>'
            "<|im_end|>"
        )
    else:
        out = "OK<|im_end|>"
    return "The user wants a command run.</think>" + out if prompt.endswith("<think>") else out
