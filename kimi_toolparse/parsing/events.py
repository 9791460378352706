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
    """Content text, verbatim; the pieces add up to ``message.content``.

    Content that is only whitespace so far is held back (the OpenAI view makes it None) and sent with the
    first text that is not."""

    text: str

    def to_openai(self) -> dict[str, Any]:
        return openai_view.content_delta(self.text)


@dataclass(frozen=True, slots=True)
class ReasoningDelta:
    """Reasoning text (inside ``<think>``); the pieces add up to ``message.reasoning``.

    An empty reasoning block comes as one ``ReasoningDelta("")`` when it ends, so a client's
    ``reasoning_content`` is ``""`` exactly when the message's is."""

    text: str

    def to_openai(self) -> dict[str, Any]:
        return openai_view.reasoning_delta(self.text)


@dataclass(frozen=True, slots=True)
class ToolCallStart:
    """A call whose name is known; sent once, before any of its arguments.

    A call whose name waits for its arguments (a drifted id, docs/format.md#rule-11 b) starts when it
    closes; a call that never gets a name never starts, and is not in the stream."""

    index: int
    openai_index: int
    id: str
    name: str

    def to_openai(self) -> dict[str, Any]:
        return openai_view.call_start_delta(self.openai_index, self.id, self.name)


@dataclass(frozen=True, slots=True)
class ArgumentsDelta:
    """A piece of a started call's arguments; the pieces add up to ``ToolCall.arguments``."""

    index: int
    openai_index: int
    text: str

    def to_openai(self) -> dict[str, Any]:
        return openai_view.arguments_delta(self.openai_index, self.text)


@dataclass(frozen=True, slots=True)
class ToolCallEnd:
    """A started call has closed; ``call`` is its final form and ``status`` says how it ended.

    A client never sees it (``to_openai()`` is None); a server may use it to act on a call early."""

    index: int
    openai_index: int
    status: CallStatus
    call: ToolCall

    def to_openai(self) -> None:
        return None


# --- Made per streamed token -------------------------------------------------------------------------------
# A frozen dataclass's __init__ writes each field through object.__setattr__, the costliest part of a
# streamed token (docs/format.md#fast-path). The parser's fast path makes its deltas as drafts instead: a
# plain class with the same slots, written with plain stores, then given the event's class. Same slots,
# same layout, so Python allows the switch; the result is the frozen event, equal to one made the usual way.

_new = object.__new__


class _ContentDraft:
    __slots__ = ("text",)
    text: str


class _ReasoningDraft:
    __slots__ = ("text",)
    text: str


class _ArgumentsDraft:
    __slots__ = ("index", "openai_index", "text")
    index: int
    openai_index: int
    text: str


def content_delta(text: str) -> ContentDelta:
    """``ContentDelta(text)``, made as a draft."""
    event = _new(_ContentDraft)
    event.text = text
    event.__class__ = ContentDelta  # type: ignore[assignment]
    return event  # type: ignore[return-value]


def reasoning_delta(text: str) -> ReasoningDelta:
    """``ReasoningDelta(text)``, made as a draft."""
    event = _new(_ReasoningDraft)
    event.text = text
    event.__class__ = ReasoningDelta  # type: ignore[assignment]
    return event  # type: ignore[return-value]


def arguments_delta(index: int, openai_index: int, text: str) -> ArgumentsDelta:
    """``ArgumentsDelta(index, openai_index, text)``, made as a draft."""
    event = _new(_ArgumentsDraft)
    event.index = index
    event.openai_index = openai_index
    event.text = text
    event.__class__ = ArgumentsDelta  # type: ignore[assignment]
    return event  # type: ignore[return-value]


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
