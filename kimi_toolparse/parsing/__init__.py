"""The parser: raw Kimi K2 output (text, token ids or both) to OpenAI-shaped messages and stream events.

Reading order: ``states`` (the format as a table of parser states and steps), ``parser`` (``StreamParser``,
the sans-IO machine that walks it), ``header`` (a call's header as it streams), ``arguments`` (the
JSON-argument scanner), ``closing`` (a closed call: name, arguments, status, diagnostics), ``names``
(function names from call ids), ``message``/``events`` (the results), ``openai_view`` (their OpenAI shape),
``tools``/``schemas`` (the request's tool list, its schemas), ``prompt_end`` (where a prompt leaves the
model), ``alignment``/``detokenize`` (token ids in), ``diagnostics`` (what was irregular).
It never imports :mod:`kimi_toolparse.rendering`.
"""

from __future__ import annotations

from .diagnostics import Code, Diagnostic
from .events import ArgumentsDelta, ContentDelta, Event, ReasoningDelta, ToolCallEnd, ToolCallStart
from .message import CallStatus, ClosedBy, FinishReason, ParsedMessage, ToolCall
from .parser import StreamParser, parse
from .prompt_end import ends_in_reasoning
from .tools import CallProblem, Tools

__all__ = [
    "ArgumentsDelta",
    "CallProblem",
    "CallStatus",
    "ClosedBy",
    "Code",
    "ContentDelta",
    "Diagnostic",
    "Event",
    "FinishReason",
    "ParsedMessage",
    "ReasoningDelta",
    "StreamParser",
    "ToolCall",
    "ToolCallEnd",
    "ToolCallStart",
    "Tools",
    "ends_in_reasoning",
    "parse",
]
