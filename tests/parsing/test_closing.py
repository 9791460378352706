"""Closing a call (``parsing/closing.py``) on its own: each closer in each call state, the header split and
discard, prose or trailing text after the value, unwrapping, invalid JSON, and naming by rules 10 and 11
(docs/format.md#rule-5, #rule-6, #rule-10, #rule-11, #rule-12)."""

from __future__ import annotations

from typing import Any

import pytest

from kimi_toolparse import CallStatus, ClosedBy, Code, Tools, parse
from kimi_toolparse.parsing.closing import Effect, OpenCall, close_call, name_call, resolve_by_schema
from kimi_toolparse.parsing.diagnostics import Diagnostic
from kimi_toolparse.parsing.states import State

CB, AB, CE = "<|tool_call_begin|>", "<|tool_call_argument_begin|>", "<|tool_call_end|>"
CALL_STATES = (State.HEADER, State.HEADER_ARGS, State.ARGS)
TOOLS = Tools(
    [
        {
            "type": "function",
            "function": {
                "name": "get_weather",
                "parameters": {
                    "type": "object",
                    "properties": {"city": {"type": "string"}},
                    "required": ["city"],
                    "additionalProperties": False,
                },
            },
        },
        {
            "type": "function",
            "function": {
                "name": "search",
                "parameters": {
                    "type": "object",
                    "properties": {"query": {"type": "string"}},
                    "required": ["query"],
                    "additionalProperties": False,
                },
            },
        },
    ]
)


def open_call(header: str, args: str | None = None, tools: Tools | None = None) -> tuple[OpenCall, State]:
    """A call read as the parser reads it: the header, then (with ``args``) the text after ARG_BEGIN.

    Without ``args``, a header that goes on past its id ends in HEADER_ARGS with the rest read as arguments.
    """
    call = OpenCall(0, 7)
    start = call.header.feed(header, 0, len(header))
    if args is None:
        if start < 0:
            return call, State.HEADER
        pos = start
        while pos < len(header):
            stop = call.args.feed(header, pos, len(header), 0)[0]
            call.header.append(header[pos:stop])
            pos = stop
        return call, State.HEADER_ARGS
    call.id = call.header.text()
    call.take_name(tools, 0)
    pos = 0
    while pos < len(args):
        pos = call.args.feed(args, pos, len(args), 100)[0]
    return call, State.ARGS


def codes(effects: list[Effect]) -> list[Code]:
    return [e.code for e in effects if isinstance(e, Diagnostic)]


def prose(effects: list[Effect]) -> list[str]:
    return [e for e in effects if isinstance(e, str)]


@pytest.mark.parametrize("closed_by", list(ClosedBy))
@pytest.mark.parametrize("state", CALL_STATES)
def test_each_closer_in_each_call_state(state: State, closed_by: ClosedBy) -> None:
    if state is State.ARGS:
        call, got_state = open_call("functions.f:0", '{"a": 1}')
    elif state is State.HEADER_ARGS:
        call, got_state = open_call('functions.f:0 {"a": 1}')
    else:
        call, got_state = open_call("functions.f:0")
    assert got_state is state
    result, effects = close_call(call, state, closed_by, 50, None)
    found = codes(effects)
    if state is State.HEADER and closed_by is not ClosedBy.CALL_END:
        assert result is None
        assert found == [Code.HEADER_DISCARDED]
        return
    assert (Code.CALL_NOT_CLOSED in found) is (closed_by is not ClosedBy.CALL_END)
    assert result is not None
    assert result.closed_by is closed_by
    assert (result.id, result.name) == ("functions.f:0", "f")
    assert result.arguments == ("{}" if state is State.HEADER else '{"a": 1}')
    missing = state is not State.ARGS
    assert (CallStatus.ARG_BEGIN_MISSING in result.status) is missing
    assert (Code.ARG_BEGIN_MISSING in found) is missing
    assert result.problems is None  # no tools: nothing validated
    if closed_by is not ClosedBy.CALL_END:
        not_closed = next(e for e in effects if isinstance(e, Diagnostic) and e.code is Code.CALL_NOT_CLOSED)
        assert not_closed.offset == 50  # where the closer sits, not where the call began


@pytest.mark.parametrize("header", ["", "   \n"])
@pytest.mark.parametrize("closed_by", list(ClosedBy))
def test_an_empty_header_is_discarded_whatever_closes_it(header: str, closed_by: ClosedBy) -> None:
    call, state = open_call(header)
    result, effects = close_call(call, state, closed_by, 50, None)
    assert result is None
    assert codes(effects) == [Code.HEADER_DISCARDED]
    assert effects[0].offset == 7  # type: ignore[union-attr]


def test_a_header_with_arguments_is_split_at_the_end_of_its_id() -> None:
    call, state = open_call('functions.get_weather:0{"city": "Paris"}')
    result, effects = close_call(call, state, ClosedBy.CALL_END, 50, None)
    assert result is not None
    assert (result.id, result.name, result.arguments) == (
        "functions.get_weather:0",
        "get_weather",
        '{"city": "Paris"}',
    )
    assert codes(effects) == [Code.ARG_BEGIN_MISSING]
    assert effects[0].text == 'functions.get_weather:0{"city": "Paris"}'  # type: ignore[union-attr]


@pytest.mark.parametrize("closed_by", [ClosedBy.NEXT_CALL, ClosedBy.SECTION_END, ClosedBy.END_OF_OUTPUT])
def test_prose_after_the_value_is_kept_as_prose(closed_by: ClosedBy) -> None:
    call, state = open_call("functions.f:0", '{"a": 1} Let me check that.')
    result, effects = close_call(call, state, closed_by, 50, None)
    assert result is not None and result.arguments == '{"a": 1}'
    assert codes(effects)[0] is Code.PROSE_AFTER_ARGUMENTS
    assert prose(effects) == [" Let me check that."]
    # the prose comes right after its diagnostic, before anything closing reports later
    assert effects[1] == " Let me check that."
    assert effects[0].offset == 108  # type: ignore[union-attr]


def test_text_after_the_value_is_removed_at_a_call_end_or_when_it_has_no_words() -> None:
    for closed_by, args in [(ClosedBy.CALL_END, '{"a": 1} words'), (ClosedBy.NEXT_CALL, '{"a": 1} }')]:
        call, state = open_call("functions.f:0", args)
        result, effects = close_call(call, state, closed_by, 50, None)
        assert result is not None and result.arguments == '{"a": 1}'
        assert codes(effects)[0] is Code.TRAILING_TEXT
        assert prose(effects) == []


def test_the_prose_message_says_when_reasoning_was_interrupted() -> None:
    messages = []
    for in_think in (False, True):
        call, state = open_call("functions.f:0", '{"a": 1} Now the next step.')
        _, effects = close_call(call, state, ClosedBy.NEXT_CALL, 50, None, in_think=in_think)
        messages.append(effects[0].message)  # type: ignore[union-attr]
    assert "rule 8" not in messages[0] and "rule 8" in messages[1]


def test_double_encoded_arguments_are_unwrapped() -> None:
    call, state = open_call("functions.f:0", '"{\\"a\\": 1}"')
    result, effects = close_call(call, state, ClosedBy.CALL_END, 50, None)
    assert result is not None
    assert result.arguments == '{"a": 1}'
    assert CallStatus.UNWRAPPED in result.status
    assert codes(effects) == [Code.UNWRAPPED_ARGUMENTS]


def test_a_plain_json_string_is_not_unwrapped() -> None:
    call, state = open_call("functions.f:0", '"just text"')
    result, effects = close_call(call, state, ClosedBy.CALL_END, 50, None)
    assert result is not None and result.arguments == '"just text"'
    assert CallStatus.UNWRAPPED not in result.status and codes(effects) == []


def test_invalid_json_is_kept_byte_for_byte() -> None:
    call, state = open_call("functions.f:0", '{"a": 1,, "b"')
    result, effects = close_call(call, state, ClosedBy.END_OF_OUTPUT, 50, None)
    assert result is not None
    assert result.arguments == '{"a": 1,, "b"'
    assert CallStatus.INVALID_JSON in result.status
    assert codes(effects) == [Code.INVALID_JSON, Code.CALL_NOT_CLOSED]


def test_an_id_with_no_name_leaves_the_call_unresolved() -> None:
    call, state = open_call("call_abc123", '{"a": 1}')
    result, effects = close_call(call, state, ClosedBy.CALL_END, 50, None)
    assert result is not None and result.name is None
    assert CallStatus.UNRESOLVED_NAME in result.status
    assert codes(effects) == [Code.UNRESOLVED_NAME]


@pytest.mark.parametrize(
    ("call_id", "tools", "named"),
    [
        ("functions.get_weather:0", None, ("get_weather", False)),
        ("get_weather:12", None, ("get_weather", False)),
        ("functions.a:b:3", None, ("a:b", False)),
        ("functions.get_weather", None, (None, False)),
        ("functions.get_weather", TOOLS, ("get_weather", True)),
        ("functions_get_weather_0", TOOLS, ("get_weather", True)),
        ("get_weather", TOOLS, ("get_weather", True)),
        ("call_abc", TOOLS, (None, False)),
    ],
)
def test_name_call(call_id: str, tools: Tools | None, named: tuple[str | None, bool]) -> None:
    assert name_call(call_id, tools) == named


def test_a_drifted_id_that_spells_a_tool_is_named_when_the_arguments_begin() -> None:
    call = OpenCall(3, 7)
    call.id = "functions_get_weather_0"
    drifted = call.take_name(TOOLS, 40)
    assert drifted is not None and drifted.code is Code.DRIFTED_ID
    assert (drifted.offset, drifted.call_index, call.name, call.pending) == (40, 3, "get_weather", False)
    call.id = "call_abc"
    assert call.take_name(TOOLS, 40) is None
    assert (call.name, call.pending) == (None, True)
    assert call.take_name(None, 40) is None
    assert (call.name, call.pending) == (None, False)  # without tools there is nothing to wait for


needs_schemas = pytest.mark.skipif(not TOOLS.schema_check_available, reason="jsonschema-rs does not import")


@needs_schemas
def test_the_one_tool_whose_schema_passes_names_the_call() -> None:
    call, state = open_call("call_abc", '{"city": "Paris"}', TOOLS)
    assert call.pending
    result, effects = close_call(call, state, ClosedBy.CALL_END, 50, TOOLS)
    assert result is not None and result.name == "get_weather"
    assert CallStatus.UNRESOLVED_NAME not in result.status
    assert codes(effects) == [Code.DRIFTED_ID]
    assert result.problems == ()


@needs_schemas
@pytest.mark.parametrize("args", ['{"x": 1}', "[1, 2]", '{"city": "Paris",'])
def test_no_passing_schema_leaves_the_call_unresolved(args: str) -> None:
    call, state = open_call("call_abc", args, TOOLS)
    result, effects = close_call(call, state, ClosedBy.CALL_END, 50, TOOLS)
    assert result is not None and result.name is None
    assert CallStatus.UNRESOLVED_NAME in result.status
    assert Code.DRIFTED_ID not in codes(effects)
    assert Code.UNRESOLVED_NAME in codes(effects)


@needs_schemas
def test_two_passing_schemas_are_no_answer() -> None:
    loose = Tools([{"name": "a", "parameters": {"type": "object"}}, {"name": "b", "parameters": {}}])
    assert resolve_by_schema("call_1", {"x": 1}, loose, 0, 0) == (None, [])
    name, found = resolve_by_schema("call_1", {"city": "Paris"}, TOOLS, 7, 2)
    assert name == "get_weather"
    assert [(d.code, d.offset, d.call_index) for d in found] == [(Code.DRIFTED_ID, 7, 2)]


@needs_schemas
def test_a_named_call_is_validated_against_its_tool() -> None:
    call, state = open_call("functions.get_weather:0", '{"city": 3}', TOOLS)
    result, effects = close_call(call, state, ClosedBy.CALL_END, 50, TOOLS)
    assert result is not None and result.problems
    assert result.valid is False
    assert codes(effects) and all(c is not Code.INVALID_JSON for c in codes(effects))


@pytest.mark.parametrize(
    ("text", "tools"),
    [
        (f'{CB}functions.f:0{AB}{{"a": 1}} then prose{CB}functions.g:1{AB}{{}}{CE}', None),
        (f'{CB}functions.f:0 {{"a": 1}}{CE}', None),
        (f'{CB}call_abc{AB}{{"city": "Paris"}}{CE}', TOOLS),
        (f'{CB}functions.get_weather:0{AB}"{{\\"city\\": 3}}"', TOOLS),
    ],
)
def test_close_call_is_what_parse_reports(text: str, tools: Any) -> None:
    """The parser only replays what closing decided: the same call and the same diagnostics, in order."""
    message = parse(text, tools=tools)
    first = message.tool_calls[0]
    header, _, args = text[len(CB) :].partition(AB)
    end = min(i for i in (args.find(CB), args.find(CE), len(args)) if i >= 0)
    closed_by = (
        ClosedBy.NEXT_CALL
        if args[end:].startswith(CB)
        else ClosedBy.CALL_END
        if end < len(args)
        else ClosedBy.END_OF_OUTPUT
    )
    if args:
        call, state = open_call(header, args[:end], tools)
    else:
        end = header.find(CE)
        call, state = open_call(header[:end])
        closed_by = ClosedBy.CALL_END
    result, effects = close_call(call, state, closed_by, 0, tools)
    assert result is not None
    assert (result.id, result.name, result.arguments, result.status) == (
        first.id,
        first.name,
        first.arguments,
        first.status,
    )
    theirs = [d.code for d in message.diagnostics if d.call_index == 0]
    assert [c for c in codes(effects) if c is not Code.HEADER_DISCARDED] == theirs
