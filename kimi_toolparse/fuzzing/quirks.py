"""The quirks of real Kimi K2 outputs by name: what ``quirky_outputs`` draws and ``fuzz --quirks`` takes.

A leaf without Hypothesis, so the command line lists them without loading it.
"""

from __future__ import annotations

__all__ = ["QUIRKS", "QUIRK_DESCRIPTIONS"]

#: Every quirk ``quirky_outputs`` can draw; ``canonical`` is the well-formed turn.
QUIRKS: tuple[str, ...] = (
    "canonical",
    "whitespace",
    "singular_section",
    "missing_call_end",
    "missing_section_end",
    "truncated",
    "drifted_id",
    "double_encoded",
    "no_arg_begin",
    "think_calls",
    "text_after_section",
    "stray_markers",
    "end_of_turn",
    "markers_in_strings",
)

#: What each quirk is, one line (for reports and ``--help``).
QUIRK_DESCRIPTIONS: dict[str, str] = {
    "canonical": "well-formed turn: reasoning, content, a section of calls, content",
    "whitespace": "spaces and newlines around every marker, id and arguments",
    "singular_section": "<|tool_call_section_begin|>/<|tool_call_section_end|> spellings",
    "missing_call_end": "a call without <|tool_call_end|> (closed by the next call or the section end)",
    "missing_section_end": "no <|tool_calls_section_end|> (output or turn ends in the section)",
    "truncated": "output cut off anywhere: in reasoning, content, an id or the arguments",
    "drifted_id": "ids such as functionsexec5, functions_get_weather_1, call_3, toolu_…, 0",
    "double_encoded": "arguments written as a JSON string holding the object",
    "no_arg_begin": "a header without <|tool_call_argument_begin|> (functions.f:0 {...})",
    "think_calls": "calls from inside an unclosed <think>, reasoning resuming after the section",
    "text_after_section": "content before and after the tool-call section",
    "stray_markers": "markers where they mean nothing (orphans, other special tokens)",
    "end_of_turn": "<|im_end|>/[EOS]/[EOT], also inside an open call, and text after it",
    "markers_in_strings": "marker text inside JSON string arguments (token ids only)",
}
