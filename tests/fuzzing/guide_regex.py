"""Moonshot's reference parser from its tool-call guide, written from the workspace's reference notes.

Two DOTALL regular expressions: the first section, then each complete call in it; the name is
``id.split('.')[1].split(':')[0]``. A fuzz target for the tests and the README.
"""

from __future__ import annotations

import re
from typing import Any

SECTION = re.compile(r"<\|tool_calls_section_begin\|>(.*?)<\|tool_calls_section_end\|>", re.DOTALL)
CALL = re.compile(
    r"<\|tool_call_begin\|>\s*(?P<tool_call_id>[\w\.]+:\d+)\s*<\|tool_call_argument_begin\|>"
    r"\s*(?P<function_arguments>.*?)\s*<\|tool_call_end\|>",
    re.DOTALL,
)


def parse(text: str) -> dict[str, Any]:
    """Content is the text before the section; calls come from the first section only."""
    if "<|tool_calls_section_begin|>" not in text:
        return {"role": "assistant", "content": text, "tool_calls": []}
    calls = []
    section = SECTION.search(text)
    if section is not None:
        for call in CALL.finditer(section.group(1)):
            call_id = call.group("tool_call_id")
            name = call_id.split(".")[1].split(":")[0] if "." in call_id else None
            calls.append(
                {
                    "id": call_id,
                    "type": "function",
                    "function": {"name": name, "arguments": call.group("function_arguments")},
                }
            )
    content = text[: text.index("<|tool_calls_section_begin|>")]
    return {"role": "assistant", "content": content, "tool_calls": calls}
