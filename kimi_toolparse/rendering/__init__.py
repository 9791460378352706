"""The renderer: an OpenAI-style conversation to the exact Kimi K2 prompt, as text or token ids.

Reading order: ``prompt`` (``render``, ``render_ids``, ``encode_prompt``: today's templates), ``templates``
(each model and revision as data), ``legacy`` (K2-Instruct's first templates), ``typescript`` (tool lists
declared in TypeScript, K2.5 and later), ``jinja_compat`` (Jinja's behaviour the templates rely on), ``chat``
(typed conversation models). It never imports :mod:`kimi_toolparse.parsing`.
"""

from __future__ import annotations

from .chat import ChatMessage, ChatToolCall, ChatToolCallFunction, Conversation, ToolDefinition
from .prompt import encode_prompt, render, render_ids
from .typescript import ToolDeclarationError, render_tools_typescript

__all__ = [
    "ChatMessage",
    "ChatToolCall",
    "ChatToolCallFunction",
    "Conversation",
    "ToolDeclarationError",
    "ToolDefinition",
    "encode_prompt",
    "render",
    "render_ids",
    "render_tools_typescript",
]
