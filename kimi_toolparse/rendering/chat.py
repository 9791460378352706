"""Pydantic models of an OpenAI chat conversation, as the renderer takes it.

Plain dicts work everywhere too; these models are for servers that validate a request once and want
typed access. They keep unknown fields (``extra="allow"``), so nothing a template might read is lost, and
:func:`kimi_toolparse.render` reads only the fields that were set.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

__all__ = ["ChatMessage", "ChatToolCall", "ChatToolCallFunction", "Conversation", "ToolDefinition"]


class _Model(BaseModel):
    model_config = ConfigDict(extra="allow")


class ChatToolCallFunction(_Model):
    """The function a tool call invokes: its name and its arguments (a JSON string, or a dict)."""

    name: str
    arguments: str | dict[str, Any]


class ChatToolCall(_Model):
    """One entry of an assistant message's ``tool_calls``."""

    id: str | None = None
    type: Literal["function"] = "function"
    function: ChatToolCallFunction


class ChatMessage(_Model):
    """One message: ``role`` and ``content``, plus the fields the Kimi templates read."""

    role: str
    #: A string, None, or a list of parts (``{"type": "text", "text": ...}``, ``image_url``, ``video_url``).
    content: str | list[dict[str, Any]] | None = None
    #: Replaces the role name in the turn header (``<|im_system|>get_weather<|im_middle|>``).
    name: str | None = None
    tool_calls: list[ChatToolCall] | None = None
    tool_call_id: str | None = None
    reasoning_content: str | None = None
    reasoning: str | None = None


class ToolDefinition(_Model):
    """An entry of the request's ``tools``: ``{"type": "function", "function": {name, description, ...}}``."""

    type: str = "function"
    function: dict[str, Any] | None = None


class Conversation(_Model):
    """An OpenAI chat-completions request, as far as the prompt goes: ``messages`` and ``tools``.

    A whole request validates as it is; its other fields (``model``, ``temperature``, ...) are kept.
    ``chat_template_kwargs`` (as vLLM and SGLang take it) carries ``thinking`` and ``preserve_thinking``.
    """

    messages: list[ChatMessage]
    tools: list[ToolDefinition] | None = None
    chat_template_kwargs: dict[str, Any] = Field(default_factory=dict)

    @classmethod
    def from_messages(
        cls, messages: Iterable[Mapping[str, Any]], tools: Iterable[Mapping[str, Any]] | None = None
    ) -> Conversation:
        return cls.model_validate(
            {"messages": list(messages), "tools": None if tools is None else list(tools)}
        )

    def message_dicts(self) -> list[dict[str, Any]]:
        """The messages as plain dicts, with only the fields that were set."""
        return [m.model_dump(exclude_unset=True) for m in self.messages]

    def tool_dicts(self) -> list[dict[str, Any]] | None:
        """The tools as plain dicts, as they were given."""
        if self.tools is None:
            return None
        return [t.model_dump(exclude_unset=True) for t in self.tools]
