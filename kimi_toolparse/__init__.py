"""kimi_toolparse: streaming tool-call parser and prompt renderer for the Kimi K2 model family.

Parse a whole output with :func:`parse`, or stream it through :class:`StreamParser`::

    parser = StreamParser(tools=request_tools, thinking=ends_in_reasoning(prompt))
    send(parser.role_delta())              # {"role": "assistant"}: the first chunk's delta
    for chunk in engine_output:
        for event in parser.feed(chunk):
            delta = event.to_openai()      # None for events a client never sees
    parser.close(stop_reason=engine_finish_reason)
    parser.message.to_openai()

Build the exact prompt for a raw ``/completions`` endpoint with :func:`render`::

    prompt = render(messages, tools, model="kimi-k2.5")

Constrain an engine's decoding to well-formed calls with :func:`grammar_for` (the ``constrain`` extra)::

    grammar = grammar_for(tools, messages=messages, tool_choice="required", format="ebnf")

The layout: :mod:`.parsing` holds the parser, :mod:`.rendering` the renderer (neither imports the other);
:mod:`.tokens`, :mod:`.vocab` and :mod:`.call_ids` are the leaves both share. The renderer's names load on
first use: a program that only parses never imports :mod:`.rendering`.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from .parsing import (
    ArgumentsDelta,
    CallProblem,
    CallStatus,
    ClosedBy,
    Code,
    ContentDelta,
    Diagnostic,
    Event,
    FinishReason,
    ParsedMessage,
    ReasoningDelta,
    StreamParser,
    ToolCall,
    ToolCallEnd,
    ToolCallStart,
    Tools,
    ends_in_reasoning,
    parse,
)
from .vocab import KimiVocabulary

if TYPE_CHECKING:
    from .call_ids import ToolCallIds, normalize_tool_call_ids
    from .constrain import SchemaNote, ToolGrammar, grammar_for, grammar_for_request
    from .rendering import (
        ChatMessage,
        ChatToolCall,
        ChatToolCallFunction,
        Conversation,
        ToolDeclarationError,
        ToolDefinition,
        encode_prompt,
        render,
        render_ids,
        render_tools_typescript,
    )

#: The renderer's and the grammar builder's names load on first use, so a server that only parses never
#: imports them.
_LAZY: dict[str, str] = {
    "ToolCallIds": ".call_ids",
    "normalize_tool_call_ids": ".call_ids",
    "ChatMessage": ".rendering",
    "ChatToolCall": ".rendering",
    "ChatToolCallFunction": ".rendering",
    "Conversation": ".rendering",
    "ToolDeclarationError": ".rendering",
    "ToolDefinition": ".rendering",
    "encode_prompt": ".rendering",
    "render": ".rendering",
    "render_ids": ".rendering",
    "render_tools_typescript": ".rendering",
    "SchemaNote": ".constrain",
    "ToolGrammar": ".constrain",
    "grammar_for": ".constrain",
    "grammar_for_request": ".constrain",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(module, __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))


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
    "FinishReason",
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
    "ends_in_reasoning",
    "grammar_for",
    "grammar_for_request",
    "normalize_tool_call_ids",
    "parse",
    "render",
    "render_ids",
    "render_tools_typescript",
]
