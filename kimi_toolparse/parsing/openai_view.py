"""The OpenAI view: assistant messages and ``chat.completion.chunk`` deltas in OpenAI's shape.

A call without a name cannot be expressed in this shape, so it never appears here (docs/format.md#result).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol

__all__ = ["arguments_delta", "call_start_delta", "content_delta", "message_to_openai", "reasoning_delta"]


class _Call(Protocol):
    """What the view reads of a parsed tool call (a leaf: this module imports no other)."""

    @property
    def name(self) -> str | None: ...

    def to_openai(self) -> dict[str, Any]: ...


class _Message(Protocol):
    """What the view reads of a parsed message."""

    @property
    def content(self) -> str: ...

    @property
    def reasoning(self) -> str | None: ...

    @property
    def tool_calls(self) -> Sequence[_Call]: ...


def message_to_openai(message: _Message) -> dict[str, Any]:
    """``{"role": "assistant", "content", "reasoning_content", "tool_calls"?}``.

    ``content`` is None when empty or only whitespace; ``tool_calls`` is left out when there are none,
    because several servers refuse an empty list in the next request.
    """
    out: dict[str, Any] = {
        "role": "assistant",
        "content": message.content if message.content.strip() else None,
        "reasoning_content": message.reasoning,
    }
    calls = [call.to_openai() for call in message.tool_calls if call.name is not None]
    if calls:
        out["tool_calls"] = calls
    return out


def role_delta() -> dict[str, Any]:
    """The first chunk's delta of an OpenAI stream: it alone carries the role (clients take it from there)."""
    return {"role": "assistant"}


def content_delta(text: str) -> dict[str, Any]:
    return {"content": text}


def reasoning_delta(text: str) -> dict[str, Any]:
    return {"reasoning_content": text}


def call_start_delta(openai_index: int, call_id: str, name: str) -> dict[str, Any]:
    return {
        "tool_calls": [
            {
                "index": openai_index,
                "id": call_id,
                "type": "function",
                "function": {"name": name, "arguments": ""},
            }
        ]
    }


def arguments_delta(openai_index: int, text: str) -> dict[str, Any]:
    return {"tool_calls": [{"index": openai_index, "function": {"arguments": text}}]}
