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
"""

from __future__ import annotations

import importlib
import sys
import types
from typing import TYPE_CHECKING, Any

from .diagnostics import Code, Diagnostic
from .events import ArgumentsDelta, ContentDelta, Event, ReasoningDelta, ToolCallEnd, ToolCallStart
from .message import CallStatus, ClosedBy, FinishReason, ParsedMessage, ToolCall
from .parser import StreamParser, parse
from .prompt_end import ends_in_reasoning
from .tools import Tools
from .vocab import KimiVocabulary

if TYPE_CHECKING:
    from .call_ids import ToolCallIds, normalize_tool_call_ids
    from .chat import ChatMessage, ChatToolCall, ChatToolCallFunction, Conversation, ToolDefinition
    from .render import encode_prompt, render, render_ids
    from .typescript import ToolDeclarationError, render_tools_typescript

#: The renderer's names load on first use: parsing alone never pays for its pydantic models and templates.
_LAZY: dict[str, str] = {
    "ToolCallIds": ".call_ids",
    "normalize_tool_call_ids": ".call_ids",
    "ChatMessage": ".chat",
    "ChatToolCall": ".chat",
    "ChatToolCallFunction": ".chat",
    "Conversation": ".chat",
    "ToolDefinition": ".chat",
    "encode_prompt": ".render",
    "render": ".render",
    "render_ids": ".render",
    "ToolDeclarationError": ".typescript",
    "render_tools_typescript": ".typescript",
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


class _Package(types.ModuleType):
    """Keeps ``kimi_toolparse.render`` the function: importing the submodule of the same name (which the
    import system then sets as the package's attribute) must not shadow it."""

    def __setattr__(self, name: str, value: Any) -> None:
        if name in _LAZY and isinstance(value, types.ModuleType) and hasattr(value, name):
            value = getattr(value, name)
        super().__setattr__(name, value)


sys.modules[__name__].__class__ = _Package

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
    "FinishReason",
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
    "ends_in_reasoning",
    "normalize_tool_call_ids",
    "parse",
    "render",
    "render_ids",
    "render_tools_typescript",
]
