"""Responders for stand-in engines started as processes (``--responder tests.serve.responders:NAME``)."""

from __future__ import annotations

import json
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


_BASH_RESULT = re.compile(r"## Return of functions\.Bash:\d+\n(.*?)<\|im_end\|>", re.S)
#: The commands of the scripted Bash turns, in order.
BASH_COMMANDS = ("echo kimi-roundtrip && ls", "echo second-call")


def claude_code_bash(request: dict[str, Any]) -> str:
    """A scripted agent for Claude Code: a Bash call (``functions.Bash:0``), once its result is in the
    prompt a second one (``functions.Bash:1``), then an answer quoting both results; any other request
    (titles, side questions) gets a short text. Reasoning first on a thinking prompt."""
    prompt = request["prompt"]
    results = [r.strip() for r in _BASH_RESULT.findall(prompt)]
    if "type Bash" not in prompt and '"name":"Bash"' not in prompt:
        out = "OK<|im_end|>"
    elif len(results) < len(BASH_COMMANDS):
        n = len(results)
        command = json.dumps({"command": BASH_COMMANDS[n], "description": f"Step {n + 1}"})
        out = (
            f"Step {n + 1}.<|tool_calls_section_begin|><|tool_call_begin|>functions.Bash:{n}"
            f"<|tool_call_argument_begin|>{command}<|tool_call_end|><|tool_calls_section_end|><|im_end|>"
        )
    else:
        out = "It printed: " + " | ".join(r[:200] for r in results) + "<|im_end|>"
    return "The user wants commands run.</think>" + out if prompt.endswith("<think>") else out
