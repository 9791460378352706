"""The Kimi K2 output format as data: the parser's states, and what each marker does in each state.

Read the table top to bottom; the machinery that runs it lives in ``parser.py``. Each entry is the list of
steps a marker triggers. A marker a state does not list is an orphan there: removed and reported
(docs/format.md#rule-7). The table is written out for readers in docs/format.md#states.
"""

from __future__ import annotations

import enum
from typing import Final

from ..tokens import Kind
from .message import ClosedBy

__all__ = ["AT_END_OF_OUTPUT", "CLOSED_BY_STEP", "ORPHAN", "TRANSITIONS", "State", "Step", "steps_for"]


class State(enum.Enum):
    # Members are singletons: identity hashing keeps the per-token handler lookup cheap.
    __hash__ = object.__hash__

    CONTENT = "content"
    #: Inside ``<think>``.
    REASONING = "reasoning"
    #: Inside a tool-call section, between calls.
    SECTION = "section"
    #: After ``<|tool_call_begin|>``: the call id.
    HEADER = "header"
    #: A header that went on past its id with what looks like arguments: ARG_BEGIN is missing (#rule-6).
    HEADER_ARGS = "header_args"
    #: After ``<|tool_call_argument_begin|>``.
    ARGS = "args"
    #: After a section that interrupted reasoning: text held until it is known to be reasoning or content.
    HELD = "held"
    #: After the end of the turn.
    DONE = "done"


class Step(enum.Enum):
    __hash__ = object.__hash__

    ORPHAN = "orphan"
    #: ``</think>`` inside a section that interrupted reasoning: reasoning is over (docs/format.md#rule-8).
    SETTLE_THINK = "settle_think"
    OPEN_REASONING = "open_reasoning"
    CLOSE_REASONING = "close_reasoning"
    #: A section or call opened inside reasoning ends it for now (docs/format.md#rule-8).
    INTERRUPT_REASONING = "interrupt_reasoning"
    OPEN_SECTION = "open_section"
    OPEN_IMPLICIT_SECTION = "open_implicit_section"
    BEGIN_CALL = "begin_call"
    START_ARGS = "start_args"
    #: ARG_BEGIN after a header that looked like it held arguments: all of it was the id.
    HEADER_IS_ID = "header_is_id"
    CLOSE_AT_CALL_END = "close_at_call_end"
    CLOSE_AT_NEXT_CALL = "close_at_next_call"
    CLOSE_AT_SECTION_END = "close_at_section_end"
    CLOSE_AT_END_OF_TURN = "close_at_end_of_turn"
    CLOSE_AT_END_OF_OUTPUT = "close_at_end_of_output"
    CLOSE_SECTION = "close_section"
    HELD_IS_REASONING = "held_is_reasoning"
    HELD_IS_CONTENT = "held_is_content"
    END_TURN = "end_turn"
    END_OUTPUT = "end_output"
    AFTER_END = "after_end"


S = Step
K = Kind

#: In a call: the markers that close it, and what follows the close (docs/format.md#rule-5); ``</think>``
#: settles #rule-8.
_IN_CALL: Final = {
    K.CALL_END: (S.CLOSE_AT_CALL_END,),
    K.CALL_BEGIN: (S.CLOSE_AT_NEXT_CALL, S.BEGIN_CALL),
    K.SECTION_END: (S.CLOSE_AT_SECTION_END, S.CLOSE_SECTION),
    K.END_OF_TURN: (S.CLOSE_AT_END_OF_TURN, S.END_TURN),
    K.THINK_END: (S.ORPHAN, S.SETTLE_THINK),
}

TRANSITIONS: Final[dict[State, dict[Kind, tuple[Step, ...]]]] = {
    State.CONTENT: {
        K.THINK_BEGIN: (S.OPEN_REASONING,),
        K.SECTION_BEGIN: (S.OPEN_SECTION,),
        K.CALL_BEGIN: (S.OPEN_IMPLICIT_SECTION, S.BEGIN_CALL),
        K.END_OF_TURN: (S.END_TURN,),
    },
    State.REASONING: {
        K.THINK_END: (S.CLOSE_REASONING,),
        K.SECTION_BEGIN: (S.INTERRUPT_REASONING, S.OPEN_SECTION),
        K.CALL_BEGIN: (S.INTERRUPT_REASONING, S.OPEN_IMPLICIT_SECTION, S.BEGIN_CALL),
        K.END_OF_TURN: (S.END_TURN,),
    },
    State.SECTION: {
        K.CALL_BEGIN: (S.BEGIN_CALL,),
        K.SECTION_END: (S.CLOSE_SECTION,),
        K.THINK_END: (S.ORPHAN, S.SETTLE_THINK),
        K.END_OF_TURN: (S.END_TURN,),
    },
    State.HEADER: {
        K.ARG_BEGIN: (S.START_ARGS,),
        **_IN_CALL,
    },
    State.HEADER_ARGS: {
        K.ARG_BEGIN: (S.HEADER_IS_ID, S.START_ARGS),
        **_IN_CALL,
    },
    State.ARGS: dict(_IN_CALL),
    State.HELD: {
        K.THINK_END: (S.HELD_IS_REASONING, S.CLOSE_REASONING),
        K.SECTION_BEGIN: (S.HELD_IS_REASONING, S.OPEN_SECTION),
        K.CALL_BEGIN: (S.HELD_IS_REASONING, S.OPEN_IMPLICIT_SECTION, S.BEGIN_CALL),
        K.THINK_BEGIN: (S.HELD_IS_CONTENT, S.OPEN_REASONING),
        K.END_OF_TURN: (S.HELD_IS_CONTENT, S.END_TURN),
    },
    State.DONE: {kind: (S.AFTER_END,) for kind in Kind},
}

#: What the end of the output does in each state.
AT_END_OF_OUTPUT: Final[dict[State, tuple[Step, ...]]] = {
    State.CONTENT: (S.END_OUTPUT,),
    State.REASONING: (S.END_OUTPUT,),
    State.SECTION: (S.END_OUTPUT,),
    State.HEADER: (S.CLOSE_AT_END_OF_OUTPUT, S.END_OUTPUT),
    State.HEADER_ARGS: (S.CLOSE_AT_END_OF_OUTPUT, S.END_OUTPUT),
    State.ARGS: (S.CLOSE_AT_END_OF_OUTPUT, S.END_OUTPUT),
    State.HELD: (S.HELD_IS_CONTENT, S.END_OUTPUT),
    State.DONE: (S.END_OUTPUT,),
}

ORPHAN: Final = (S.ORPHAN,)

#: The steps that close a call, and the closer each records (docs/format.md#rule-5). The one home of the
#: closers: ``CallStatus`` has a flag of the same name for each (``message.closer_flag``).
CLOSED_BY_STEP: Final[dict[Step, ClosedBy]] = {
    S.CLOSE_AT_CALL_END: ClosedBy.CALL_END,
    S.CLOSE_AT_NEXT_CALL: ClosedBy.NEXT_CALL,
    S.CLOSE_AT_SECTION_END: ClosedBy.SECTION_END,
    S.CLOSE_AT_END_OF_TURN: ClosedBy.END_OF_TURN,
    S.CLOSE_AT_END_OF_OUTPUT: ClosedBy.END_OF_OUTPUT,
}


def steps_for(state: State, kind: Kind) -> tuple[Step, ...]:
    return TRANSITIONS[state].get(kind, ORPHAN)
