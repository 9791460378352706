"""Streaming events: what one ``feed()`` completed, in order.

Each converts to the ``choices[0].delta`` of an OpenAI ``chat.completion.chunk`` with ``to_openai()``, or
to None for events a client never sees. Tool-call events carry two indexes: ``index``, the call's position
in the parsed message (calls without a name included), and ``openai_index``, its position among the calls a
client sees, which OpenAI clients need dense.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, fields
from typing import Any, TypeAlias, TypeVar

from . import openai_view
from .diagnostics import Diagnostic
from .message import CallStatus, ToolCall

_Delta = TypeVar("_Delta")


def _writes_slots(cls: type[_Delta]) -> type[_Delta]:
    """Give a delta event an ``__init__`` that writes its slots directly; it is still a frozen dataclass.

    A frozen dataclass's own ``__init__`` assigns each field through ``object.__setattr__``: for the
    three-field ``ArgumentsDelta``, nearly half a streamed token's cost (docs/format.md#fast-path). The slot
    descriptors' setters make the same assignment for less; the parameters keep the fields' names, so
    keyword arguments and ``dataclasses.replace`` work as before.
    """
    slots = [getattr(cls, f.name) for f in fields(cls)]  # type: ignore[arg-type]
    setters: list[Callable[[object, object], None]] = [slot.__set__ for slot in slots]
    init: Callable[..., None]
    if len(setters) == 1:
        (set_text,) = setters

        def init(self: object, text: str) -> None:
            set_text(self, text)

    else:
        set_index, set_openai_index, set_text = setters

        def init(self: object, index: int, openai_index: int, text: str) -> None:
            set_index(self, index)
            set_openai_index(self, openai_index)
            set_text(self, text)

    init.__qualname__ = f"{cls.__qualname__}.__init__"
    cls.__init__ = init  # type: ignore[method-assign,assignment]
    return cls


@_writes_slots
@dataclass(frozen=True, slots=True)
class ContentDelta:
    """Content text, verbatim; the pieces add up to ``message.content``.

    Content that is only whitespace so far is held back (the OpenAI view makes it None) and sent with the
    first text that is not."""

    text: str

    def to_openai(self) -> dict[str, Any]:
        return openai_view.content_delta(self.text)


@_writes_slots
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


@_writes_slots
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
