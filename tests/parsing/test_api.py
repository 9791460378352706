"""The public API: its shapes, its errors on misuse, and the streaming contract."""

from __future__ import annotations

import json
from typing import Any

import pytest

import kimi_toolparse
import kimi_toolparse.parsing.schemas
from kimi_toolparse import (
    ArgumentsDelta,
    CallStatus,
    ClosedBy,
    Code,
    ContentDelta,
    Diagnostic,
    ReasoningDelta,
    StreamParser,
    ToolCallEnd,
    ToolCallStart,
    Tools,
    parse,
)

SB, SE = "<|tool_calls_section_begin|>", "<|tool_calls_section_end|>"
CB, AB, CE = "<|tool_call_begin|>", "<|tool_call_argument_begin|>", "<|tool_call_end|>"
WEATHER = [
    {
        "type": "function",
        "function": {
            "name": "get_weather",
            "parameters": {
                "type": "object",
                "properties": {"city": {"type": "string"}},
                "required": ["city"],
            },
        },
    }
]


def test_events_in_order_and_their_openai_deltas() -> None:
    p = StreamParser(thinking=True)
    events = p.feed("Plan.</think>Sure." + SB + CB + "functions.get_weather:0" + AB + '{"city": "Oslo"}')
    events += p.feed(CE + SE)
    events += p.close()
    assert [type(e) for e in events] == [
        ReasoningDelta, ContentDelta, ToolCallStart, ArgumentsDelta, ToolCallEnd,
    ]  # fmt: skip
    assert [e.to_openai() for e in events] == [
        {"reasoning_content": "Plan."},
        {"content": "Sure."},
        {
            "tool_calls": [
                {
                    "index": 0,
                    "id": "functions.get_weather:0",
                    "type": "function",
                    "function": {"name": "get_weather", "arguments": ""},
                }
            ]
        },
        {"tool_calls": [{"index": 0, "function": {"arguments": '{"city": "Oslo"}'}}]},
        None,
    ]
    end = events[-1]
    assert isinstance(end, ToolCallEnd) and end.status is CallStatus.CALL_END and end.call.complete
    assert p.message.to_openai() == {
        "role": "assistant",
        "content": "Sure.",
        "reasoning_content": "Plan.",
        "tool_calls": [
            {
                "id": "functions.get_weather:0",
                "type": "function",
                "function": {"name": "get_weather", "arguments": '{"city": "Oslo"}'},
            }
        ],
    }
    assert p.message.finish_reason == "tool_calls"


def test_events_are_immutable() -> None:
    event = ContentDelta("x")
    with pytest.raises(AttributeError):
        event.text = "y"  # type: ignore[misc]


def test_openai_indexes_skip_calls_without_a_name() -> None:
    raw = SB + CB + "weird@id" + AB + "{}" + CE + CB + "functions.b:1" + AB + "{}" + CE + SE
    events = StreamParser().feed(raw)
    starts = [e for e in events if isinstance(e, ToolCallStart)]
    assert [(s.index, s.openai_index, s.name) for s in starts] == [(1, 0, "b")]
    assert any(isinstance(e, Diagnostic) and e.code is Code.UNRESOLVED_NAME for e in events)
    message = parse(raw)
    assert [c.name for c in message.tool_calls] == [None, "b"]
    assert [c["id"] for c in message.to_openai()["tool_calls"]] == ["functions.b:1"]


def test_drifted_call_is_held_until_its_name_is_known() -> None:
    p = StreamParser(tools=WEATHER)
    early = p.feed(SB + CB + "call_7" + AB + '{"city": "Li')
    assert not [e for e in early if e.to_openai()]
    late = p.feed('ma"}' + CE + SE)
    deltas = [e.to_openai() for e in late if e.to_openai()]
    assert deltas[0]["tool_calls"][0]["function"]["name"] == "get_weather"
    assert deltas[1]["tool_calls"][0]["function"]["arguments"] == '{"city": "Lima"}'


def test_double_encoded_arguments_are_unwrapped_in_the_stream_too() -> None:
    p = StreamParser()
    events = []
    for ch in SB + CB + "functions.f:0" + AB + '"{\\"a\\": 1}"' + CE + SE:
        events += p.feed(ch)
    args = "".join(e.text for e in events if isinstance(e, ArgumentsDelta))
    assert args == '{"a": 1}'
    assert CallStatus.UNWRAPPED in p.message.tool_calls[0].status


def test_whitespace_only_content_is_none_and_not_streamed() -> None:
    p = StreamParser()
    events = p.feed("  \n" + SB + CB + "functions.f:0" + AB + "{}" + CE + SE) + p.close()
    assert not [e for e in events if isinstance(e, ContentDelta)]
    assert p.message.content == "  \n"
    assert p.message.to_openai()["content"] is None


def test_message_before_close_is_what_is_decided_so_far() -> None:
    p = StreamParser()
    p.feed("Hi " + SB + CB + "functions.f:0" + AB + "{}" + CE + CB + "functions.g:1" + AB + "{")
    snapshot = p.message
    assert snapshot.content == "Hi " and [c.name for c in snapshot.tool_calls] == ["f"]
    p.close()
    assert [c.name for c in p.message.tool_calls] == ["f", "g"]
    assert p.message is p.message  # final message is built once


def test_stop_reason_length() -> None:
    p = StreamParser()
    p.feed(SB + CB + "functions.f:0" + AB + '{"a": ')
    p.close(stop_reason="length")
    assert p.message.finish_reason == "length"
    assert p.message.stop_reason == "length"
    assert parse("x", stop_reason="stop").finish_reason == "stop"


def test_tool_call_fields() -> None:
    call = parse(SB + CB + "functions.f:0" + AB + '{"a": 1' + SE).tool_calls[0]
    assert call.closed_by is ClosedBy.SECTION_END
    assert not call.complete and not call.json_valid and not call.arg_begin_missing
    assert CallStatus.INVALID_JSON in call.status and CallStatus.SECTION_END in call.status
    assert call.to_openai()["function"] == {"name": "f", "arguments": '{"a": 1'}
    unnamed = parse(SB + CB + "x" + AB + "{}" + CE + SE).tool_calls[0]
    with pytest.raises(ValueError, match="has no name"):
        unnamed.to_openai()


def test_message_serializes_to_json() -> None:
    message = parse("a" + CE + SB + CB + "functions.f:0" + AB + "{" + CE + SE)
    data = json.loads(message.model_dump_json())
    assert data["tool_calls"][0]["status"] == ["call_end", "invalid_json"]
    assert data["diagnostics"][0] == {
        "code": "orphan_marker",
        "message": data["diagnostics"][0]["message"],
        "offset": 1,
        "text": CE,
        "call_index": None,
    }


def test_tools_object_is_reusable() -> None:
    tools = Tools(WEATHER)
    for _ in range(2):
        m = parse(SB + CB + "0" + AB + '{"city": "Rome"}' + CE + SE, tools=tools)
        assert m.tool_calls[0].name == "get_weather"


def test_schema_check_unavailable_is_reported(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(kimi_toolparse.parsing.schemas, "_rs", None)
    m = parse(SB + CB + "0" + AB + '{"city": "Rome"}' + CE + SE, tools=WEATHER)
    assert m.tool_calls[0].name is None
    assert Code.SCHEMA_CHECK_UNAVAILABLE in [d.code for d in m.diagnostics]


def test_malformed_tool_schema_is_a_candidate_never_a_refusal() -> None:
    bad = [{"type": "function", "function": {"name": "f", "parameters": {"type": "nonsense"}}}]
    m = parse(SB + CB + "0" + AB + "{}" + CE + SE, tools=bad)
    assert m.tool_calls[0].name == "f"  # the only candidate
    unchecked = [d for d in m.diagnostics if d.code is Code.SCHEMA_UNCHECKED]
    assert unchecked and "'f'" in unchecked[0].message
    ok = [{"type": "function", "function": {"name": "g", "parameters": {"type": "object"}}}]
    m = parse(SB + CB + "0" + AB + "{}" + CE + SE, tools=bad + ok)
    assert m.tool_calls[0].name is None  # two candidates: never a guess


@pytest.mark.parametrize(
    ("call", "error", "match"),
    [
        (lambda: StreamParser().feed(b"bytes"), TypeError, "takes the decoded text as str"),
        (lambda: StreamParser().feed("x", ["1"]), TypeError, "must hold ints"),
        (lambda: StreamParser().feed("x", 5), TypeError, "sequence of ints"),
        (lambda: StreamParser().feed_ids([10**9]), ValueError, "outside the Kimi vocabulary"),
        (lambda: StreamParser(thinking="yes"), TypeError, "thinking must be True or False"),
        (lambda: StreamParser(tools={"name": "f"}), TypeError, "list of OpenAI tool dicts"),
        (lambda: StreamParser(tools=[{"type": "function"}]), ValueError, "no function name"),
        (lambda: StreamParser(tools=["f"]), TypeError, r"tools\[0\] must be a dict"),
        (lambda: StreamParser(tokenizer=3.5), TypeError, "tokenizer must be"),
        (lambda: StreamParser().close(stop_reason=1.5), TypeError, "stop_reason must be a str"),
        (lambda: StreamParser().close(stop_reason=True), TypeError, "stop_reason must be a str"),
        (lambda: StreamParser().close(stop_reason="eos"), ValueError, "'stop', 'length', 'tool_calls'"),
        (lambda: parse("x", stop_reason="</answer>"), ValueError, "pass its finish_reason instead"),
        (lambda: StreamParser().feed("x", [-1]), ValueError, r"outside the Kimi vocabulary \(0\.\.163839\)"),
        (lambda: StreamParser().feed("x", [10**9]), ValueError, "outside the Kimi vocabulary"),
        (lambda: StreamParser().feed("x", [True]), TypeError, "found a bool"),
        (lambda: StreamParser().feed("x", (5, 163840)), ValueError, "token id 163840 is outside"),
        (lambda: parse(None), TypeError, "takes the model output as str"),
    ],
)
def test_misuse_raises_a_clear_error(call: Any, error: type[Exception], match: str) -> None:
    with pytest.raises(error, match=match):
        call()


def test_feed_after_close_and_mixed_modes() -> None:
    p = StreamParser()
    p.feed("a")
    with pytest.raises(ValueError, match="token_ids on some calls and not others"):
        p.feed("b", [33])
    assert p.close() != [] or True
    assert p.close() == []  # closing twice is harmless
    with pytest.raises(ValueError, match=r"feed\(\) after close\(\)"):
        p.feed("c")


@pytest.mark.parametrize(
    ("start", "thinking"),
    [
        ("plain content ", False),  # content lane
        ("", True),  # reasoning lane
        (SB + CB + "functions.f:0" + AB + '{"a": "', False),  # argument value lane
    ],
)
def test_misuse_is_caught_in_every_lane_of_the_fast_path(start: str, thinking: bool) -> None:
    """A step the fast path would take still raises on misuse (docs/format.md#fast-path)."""
    p = StreamParser(thinking=thinking)
    p.feed(start + "x", [5, 6, 7] if start else [5])
    assert p._ids_lane  # the lane is open: a plain step would go straight to its field
    with pytest.raises(TypeError, match="takes the decoded text as str"):
        p.feed(b"bytes", [5])  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="found a bool"):
        p.feed("y", [True])
    with pytest.raises(TypeError, match="must hold ints, found float"):
        p.feed("y", [5.0])  # type: ignore[list-item]
    with pytest.raises(ValueError, match="outside the Kimi vocabulary"):
        p.feed("y", [-1])
    with pytest.raises(ValueError, match="token_ids on some calls and not others"):
        p.feed("y")
    assert p.feed("", [5]) == []  # a token that decodes to nothing yet (part of a UTF-8 character)
    p.close()
    with pytest.raises(ValueError, match=r"feed\(\) after close\(\)"):
        p.feed("y", [5])
    q = StreamParser(thinking=thinking)
    q.feed(start + "x")
    assert q._text_lane
    assert q.feed("") == []
    with pytest.raises(ValueError, match="token_ids on some calls and not others"):
        q.feed("y", [5])


def test_empty_feeds_are_harmless() -> None:
    p = StreamParser()
    assert p.feed("") == [] and p.feed("", []) == []
    p.feed("ok", [1])  # token mode still possible: empty feeds set no mode
    p.close()
    assert p.message.content == "ok"


def test_public_names() -> None:
    for name in ("parse", "StreamParser", "ParsedMessage", "ToolCall", "Event", "KimiVocabulary", "Tools"):
        assert hasattr(kimi_toolparse, name)


def test_message_json_round_trip() -> None:
    message = parse(
        "<think>x</think>a" + SB + CB + "functions.f:0" + AB + '{"a": 1' + CB + "g" + AB + "{}" + CE
    )
    again = kimi_toolparse.ParsedMessage.model_validate_json(message.model_dump_json())
    assert again == message
    assert again.tool_calls[0].status == CallStatus.NEXT_CALL | CallStatus.INVALID_JSON
    schema = kimi_toolparse.ParsedMessage.model_json_schema()
    assert "invalid_json" in schema["$defs"]["ToolCall"]["properties"]["status"]["items"]["enum"]


def test_numpy_style_integer_ids() -> None:
    class Int:
        def __init__(self, v: int) -> None:
            self.v = v

        def __index__(self) -> int:
            return self.v

    p = StreamParser()
    p.feed("<|tool_calls_section_begin|>", [Int(163595)])  # type: ignore[list-item]
    p.feed("hi", (Int(6), Int(7)))  # type: ignore[arg-type]
    p.close()
    assert [d.code.value for d in p.message.diagnostics] == ["text_in_section", "unclosed_section"]
