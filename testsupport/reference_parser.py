"""Moonshot's reference parser, as its tool-call guide describes it (quoted in the reference notes):
two regular expressions, the first section only, the name cut out of ``functions.NAME:IDX``.

It is the differential oracle for canonical outputs and the speed baseline in ``benchmarks/``.
"""

from __future__ import annotations

import re

SECTION_BEGIN = "<|tool_calls_section_begin|>"
_SECTION = re.compile(r"<\|tool_calls_section_begin\|>(.*?)<\|tool_calls_section_end\|>", re.DOTALL)
_CALL = re.compile(
    r"<\|tool_call_begin\|>\s*(?P<tool_call_id>[\w\.]+:\d+)\s*<\|tool_call_argument_begin\|>\s*"
    r"(?P<function_arguments>.*?)\s*<\|tool_call_end\|>",
    re.DOTALL,
)


def reference_parse(text: str) -> list[dict[str, str]]:
    if SECTION_BEGIN not in text:
        return []
    sections = _SECTION.findall(text)
    if not sections:
        return []
    calls = []
    for m in _CALL.finditer(sections[0]):
        call_id = m.group("tool_call_id")
        calls.append(
            {"id": call_id, "name": call_id.split(".")[1].split(":")[0], "arguments": m["function_arguments"]}
        )
    return calls
