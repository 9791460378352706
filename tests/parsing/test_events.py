"""The streaming events (``parsing/events.py``): the drafts the fast path makes its deltas from give the
same frozen events as their constructors (docs/format.md#fast-path)."""

from __future__ import annotations

import copy
import dataclasses
import pickle
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kimi_toolparse.parsing import events
from kimi_toolparse.parsing.events import ArgumentsDelta, ContentDelta, ReasoningDelta

DRAFTED: list[tuple[type[Any], Any, type[Any]]] = [
    (ContentDelta, events.content_delta, events._ContentDraft),
    (ReasoningDelta, events.reasoning_delta, events._ReasoningDraft),
    (ArgumentsDelta, events.arguments_delta, events._ArgumentsDraft),
]


@pytest.mark.parametrize(("cls", "make", "draft"), DRAFTED)
def test_a_draft_has_its_events_slots(cls: type[Any], make: Any, draft: type[Any]) -> None:
    """The class switch needs the same slots in the same order; a field added to an event fails here."""
    assert draft.__slots__ == cls.__slots__ == tuple(f.name for f in dataclasses.fields(cls))
    assert draft.__basicsize__ == cls.__basicsize__


@given(index=st.integers(0, 2**40), openai_index=st.integers(-1, 2**40), text=st.text())
def test_drafted_events_are_the_events(index: int, openai_index: int, text: str) -> None:
    made = [
        (events.content_delta(text), ContentDelta(text)),
        (events.reasoning_delta(text), ReasoningDelta(text)),
        (events.arguments_delta(index, openai_index, text), ArgumentsDelta(index, openai_index, text)),
    ]
    for drafted, constructed in made:
        assert type(drafted) is type(constructed)
        assert drafted == constructed and hash(drafted) == hash(constructed)
        assert repr(drafted) == repr(constructed)
        assert drafted.to_openai() == constructed.to_openai()
        assert dataclasses.asdict(drafted) == dataclasses.asdict(constructed)
        assert pickle.loads(pickle.dumps(drafted)) == constructed
        assert copy.copy(drafted) == dataclasses.replace(drafted) == constructed


@pytest.mark.parametrize(("cls", "make", "draft"), DRAFTED)
def test_drafted_events_are_frozen(cls: type[Any], make: Any, draft: type[Any]) -> None:
    event = make(0, 0, "x") if cls is ArgumentsDelta else make("x")
    with pytest.raises(dataclasses.FrozenInstanceError):
        event.text = "y"
    with pytest.raises(dataclasses.FrozenInstanceError):
        del event.text
    assert event.text == "x"
