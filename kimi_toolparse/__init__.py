"""kimi_toolparse: streaming tool-call parser and prompt renderer for the Kimi K2 model family.

Parse a whole output with :func:`parse`, or stream it through :class:`StreamParser`::

    parser = StreamParser(tools=request_tools, thinking=True)
    for chunk in engine_output:
        for event in parser.feed(chunk):
            delta = event.to_openai()      # None for events a client never sees
    parser.close()
    parser.message.to_openai()

Build the exact prompt for a raw ``/completions`` endpoint with :func:`render`::

    prompt = render(messages, tools, model="kimi-k2.5")
"""

from __future__ import annotations

from .call_ids import ToolCallIds, normalize_tool_call_ids
from .chat import ChatMessage, ChatToolCall, ChatToolCallFunction, Conversation, ToolDefinition
from .diagnostics import Code, Diagnostic
from .events import ArgumentsDelta, ContentDelta, Event, ReasoningDelta, ToolCallEnd, ToolCallStart
from .message import CallStatus, ClosedBy, ParsedMessage, ToolCall
from .parser import StreamParser, parse
from .render import encode_prompt, render, render_ids
from .tools import CallProblem, Tools
from .typescript import ToolDeclarationError, render_tools_typescript
from .vocab import KimiVocabulary

__version__ = "0.1.0"

__all__ = [
    "ArgumentsDelta",
    "CallProblem",
    "CallStatus",
    "ChatMessage",
    "ChatToolCall",
    "ChatToolCallFunction",
    "ClosedBy",
    "Code",
    "ContentDelta",
    "Conversation",
    "Diagnostic",
    "Event",
    "KimiVocabulary",
    "ParsedMessage",
    "ReasoningDelta",
    "StreamParser",
    "ToolCall",
    "ToolCallEnd",
    "ToolCallIds",
    "ToolCallStart",
    "ToolDeclarationError",
    "ToolDefinition",
    "Tools",
    "__version__",
    "encode_prompt",
    "normalize_tool_call_ids",
    "parse",
    "render",
    "render_ids",
    "render_tools_typescript",
]
