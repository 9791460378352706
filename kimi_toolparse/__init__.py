"""kimi_toolparse: streaming tool-call parser and prompt renderer for the Kimi K2 model family.

Parse a whole output with :func:`parse`, or stream it through :class:`StreamParser`::

    parser = StreamParser(tools=request_tools, thinking=True)
    for chunk in engine_output:
        for event in parser.feed(chunk):
            delta = event.to_openai()      # None for events a client never sees
    parser.close()
    parser.message.to_openai()
"""

from __future__ import annotations

from .diagnostics import Code, Diagnostic
from .events import ArgumentsDelta, ContentDelta, Event, ReasoningDelta, ToolCallEnd, ToolCallStart
from .message import CallStatus, ClosedBy, ParsedMessage, ToolCall
from .parser import StreamParser, parse
from .tools import Tools
from .vocab import KimiVocabulary

__version__ = "0.1.0"

__all__ = [
    "ArgumentsDelta",
    "CallStatus",
    "ClosedBy",
    "Code",
    "ContentDelta",
    "Diagnostic",
    "Event",
    "KimiVocabulary",
    "ParsedMessage",
    "ReasoningDelta",
    "StreamParser",
    "ToolCall",
    "ToolCallEnd",
    "ToolCallStart",
    "Tools",
    "__version__",
    "parse",
]
