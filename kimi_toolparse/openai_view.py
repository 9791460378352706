"""The OpenAI view: assistant messages and ``chat.completion.chunk`` deltas in OpenAI's shape.

A call without a name cannot be expressed in this shape, so it never appears here (spec section 2).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .message import ParsedMessage


def message_to_openai(message: ParsedMessage) -> dict[str, Any]:
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
