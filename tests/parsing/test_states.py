"""The state table (``parsing/states.py``) on its own: complete, every step dispatched, every state ended.

The table is the format written as data (docs/format.md#states); these tests check the table itself, and
that the parser can be brought into each state and closed there without losing what it read.
"""

from __future__ import annotations

import pytest

from kimi_toolparse import CallStatus, ClosedBy, Code, StreamParser, ToolCall
from kimi_toolparse.parsing import parser as parser_module
from kimi_toolparse.parsing.message import closer_flag
from kimi_toolparse.parsing.states import (
    AT_END_OF_OUTPUT,
    CLOSED_BY_STEP,
    ORPHAN,
    TRANSITIONS,
    State,
    Step,
    steps_for,
)
from kimi_toolparse.tokens import Kind

SB, SE = "<|tool_calls_section_begin|>", "<|tool_calls_section_end|>"
CB, AB, CE = "<|tool_call_begin|>", "<|tool_call_argument_begin|>", "<|tool_call_end|>"
CALL_STATES = (State.HEADER, State.HEADER_ARGS, State.ARGS)


def test_every_state_has_a_row_and_an_end_of_output() -> None:
    assert set(TRANSITIONS) == set(State)
    assert set(AT_END_OF_OUTPUT) == set(State)


def test_the_end_of_output_always_ends_the_output_last() -> None:
    for state, steps in AT_END_OF_OUTPUT.items():
        assert steps[-1] is Step.END_OUTPUT, state
        assert Step.END_OUTPUT not in steps[:-1], state


def test_an_open_call_is_closed_first_at_the_end_of_output() -> None:
    for state in CALL_STATES:
        assert AT_END_OF_OUTPUT[state][0] is Step.CLOSE_AT_END_OF_OUTPUT
    for state in set(State) - set(CALL_STATES):
        assert Step.CLOSE_AT_END_OF_OUTPUT not in AT_END_OF_OUTPUT[state]


def test_every_step_is_reachable_from_the_table() -> None:
    used = {step for row in TRANSITIONS.values() for steps in row.values() for step in steps}
    used |= {step for steps in AT_END_OF_OUTPUT.values() for step in steps}
    used |= set(ORPHAN)
    assert used == set(Step)


def test_every_step_has_exactly_one_action_in_the_parser() -> None:
    actions = set(parser_module._STEPS)
    closers = set(CLOSED_BY_STEP)
    assert not actions & closers
    assert actions | closers == set(Step)


def test_the_closers_are_named_alike_in_the_steps_the_closed_by_and_the_status() -> None:
    """One spelling of the closers: ``Step.CLOSE_AT_X`` records ``ClosedBy.X``, flagged ``CallStatus.X``."""
    step_names = {step.name.removeprefix("CLOSE_AT_") for step in Step if step.name.startswith("CLOSE_AT_")}
    closed_by_names = {closed_by.name for closed_by in ClosedBy}
    status_names = {flag.name for flag in CallStatus if flag.name in closed_by_names}
    assert step_names == closed_by_names == status_names
    assert {step.name.removeprefix("CLOSE_AT_"): c.name for step, c in CLOSED_BY_STEP.items()} == {
        n: n for n in closed_by_names
    }
    for closed_by in ClosedBy:
        assert closer_flag(closed_by) is CallStatus[closed_by.name]
        assert (
            ToolCall(index=0, id="i", name="f", arguments="{}", status=closer_flag(closed_by)).closed_by
            is closed_by
        )


def test_every_state_has_a_text_handler() -> None:
    assert set(StreamParser()._text_handlers) == set(State)


def test_a_marker_a_state_does_not_list_is_an_orphan() -> None:
    for state, row in TRANSITIONS.items():
        for kind in Kind:
            assert steps_for(state, kind) == row.get(kind, ORPHAN)
    assert steps_for(State.CONTENT, Kind.CALL_END) == ORPHAN
    assert steps_for(State.CONTENT, Kind.OTHER_SPECIAL) == ORPHAN


def test_the_states_in_a_call_close_alike() -> None:
    """Rule 5: a call closes the same way whether it is in its header or its arguments."""
    closers = (Kind.CALL_END, Kind.CALL_BEGIN, Kind.SECTION_END, Kind.END_OF_TURN)
    for kind in closers:
        rows = {TRANSITIONS[state][kind] for state in CALL_STATES}
        assert len(rows) == 1, kind
        assert next(iter(rows))[0].name.startswith("CLOSE_AT_"), kind


def test_after_the_end_of_turn_every_marker_is_after_the_end() -> None:
    assert all(steps_for(State.DONE, kind) == (Step.AFTER_END,) for kind in Kind)


#: Text that leaves a parser in each state.
INTO = {
    State.CONTENT: "Hello",
    State.REASONING: "<think>pondering",
    State.SECTION: SB + " ",
    State.HEADER: SB + CB + "functions.f:0",
    State.HEADER_ARGS: SB + CB + 'functions.f:0 {"a": 1}',
    State.ARGS: SB + CB + "functions.f:0" + AB + '{"a": 1',
    State.HELD: "<think>plan" + SB + CB + "functions.f:0" + AB + "{}" + CE + SE + "more",
    State.DONE: "Bye<|im_end|>after",
}


def test_the_cases_cover_every_state() -> None:
    assert set(INTO) == set(State)


@pytest.mark.parametrize("state", list(State), ids=lambda s: s.value)
def test_closing_in_each_state(state: State) -> None:
    parser = StreamParser()
    parser.feed(INTO[state])
    assert parser._state is state
    parser.close()
    message = parser.message
    codes = {d.code for d in message.diagnostics}
    if state is State.CONTENT:
        assert (message.content, message.reasoning, message.tool_calls) == ("Hello", None, ())
    elif state is State.REASONING:
        assert (message.content, message.reasoning) == ("", "pondering")
    elif state is State.SECTION:
        assert message.tool_calls == () and Code.UNCLOSED_SECTION in codes
    elif state is State.HEADER:  # rule 6: a header without arguments cut off by the end is dropped
        assert message.tool_calls == () and Code.HEADER_DISCARDED in codes
    elif state is State.HELD:  # rule 8: the output ended first, so the held text was content
        assert (message.reasoning, message.content) == ("plan", "more")
        assert [c.name for c in message.tool_calls] == ["f"]
    elif state is State.DONE:
        assert message.content == "Bye" and message.diagnostics  # what follows the turn is reported
    else:
        (call,) = message.tool_calls
        assert call.name == "f" and CallStatus.END_OF_OUTPUT in call.status
        if state is State.HEADER_ARGS:
            assert call.arguments == '{"a": 1}' and CallStatus.ARG_BEGIN_MISSING in call.status
        else:
            assert call.arguments == '{"a": 1' and CallStatus.INVALID_JSON in call.status
