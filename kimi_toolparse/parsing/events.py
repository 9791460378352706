"""Streaming events: what one ``feed()`` completed, in order.

Each converts to the ``choices[0].delta`` of an OpenAI ``chat.completion.chunk`` with ``to_openai()``, or
to None for events a client never sees. Tool-call events carry two indexes: ``index``, the call's position
in the parsed message (calls without a name included), and ``openai_index``, its position among the calls a
client sees, which OpenAI clients need dense.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, TypeAlias

from . import openai_view
from .diagnostics import Diagnostic
from .message import CallStatus, ToolCall


@dataclass(frozen=True, slots=True)
class ContentDelta:
    text: str

    def to_openai(self) -> dict[str, Any]:
        return openai_view.content_delta(self.text)


@dataclass(frozen=True, slots=True)
class ReasoningDelta:
    text: str

    def to_openai(self) -> dict[str, Any]:
        return openai_view.reasoning_delta(self.text)


@dataclass(frozen=True, slots=True)
class ToolCallStart:
    """A call whose name is known; sent once, before any of its arguments."""

    index: int
    openai_index: int
    id: str
    name: str

    def to_openai(self) -> dict[str, Any]:
        return openai_view.call_start_delta(self.openai_index, self.id, self.name)


@dataclass(frozen=True, slots=True)
class ArgumentsDelta:
    index: int
    openai_index: int
    text: str

    def to_openai(self) -> dict[str, Any]:
        return openai_view.arguments_delta(self.openai_index, self.text)


@dataclass(frozen=True, slots=True)
class ToolCallEnd:
    """A started call has closed; ``call`` is its final form."""

    index: int
    openai_index: int
    status: CallStatus
    call: ToolCall

    def to_openai(self) -> None:
        return None


Event: TypeAlias = ContentDelta | ReasoningDelta | ToolCallStart | ArgumentsDelta | ToolCallEnd | Diagnostic

__all__ = [
    "ArgumentsDelta",
    "ContentDelta",
    "Diagnostic",
    "Event",
    "ReasoningDelta",
    "ToolCallEnd",
    "ToolCallStart",
]
