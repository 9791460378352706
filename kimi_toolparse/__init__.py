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

Constrain an engine's decoding to well-formed calls with :func:`grammar_for` (the ``constrain`` extra)::

    grammar = grammar_for(tools, messages=messages, tool_choice="required", format="ebnf")
"""

from __future__ import annotations

from .call_ids import ToolCallIds, normalize_tool_call_ids
from .chat import ChatMessage, ChatToolCall, ChatToolCallFunction, Conversation, ToolDefinition
from .constrain import SchemaNote, ToolGrammar, grammar_for, grammar_for_request
from .diagnostics import Code, Diagnostic
from .events import ArgumentsDelta, ContentDelta, Event, ReasoningDelta, ToolCallEnd, ToolCallStart
from .message import CallStatus, ClosedBy, ParsedMessage, ToolCall
from .parser import StreamParser, parse
from .render import encode_prompt, render, render_ids
from .tools import Tools
from .typescript import ToolDeclarationError, render_tools_typescript
from .vocab import KimiVocabulary

__version__ = "0.1.0"

__all__ = [
    "ArgumentsDelta",
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
    "SchemaNote",
    "StreamParser",
    "ToolCall",
    "ToolCallEnd",
    "ToolCallIds",
    "ToolCallStart",
    "ToolDeclarationError",
    "ToolDefinition",
    "ToolGrammar",
    "Tools",
    "__version__",
    "encode_prompt",
    "grammar_for",
    "grammar_for_request",
    "normalize_tool_call_ids",
    "parse",
    "render",
    "render_ids",
    "render_tools_typescript",
]
