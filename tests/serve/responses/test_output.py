"""The Responses output side: items and the event sequence, checked against the openai SDK's own types."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kimi_toolparse import StreamParser
from kimi_toolparse.serve.responses.output import ResponseWriter, sse, usage
from kimi_toolparse.serve.responses.protocol import ToolMap
from kimi_toolparse.strategies import assistant_outputs, chunkings, quirky_outputs

openai_types = pytest.importorskip("openai.types.responses", reason="needs the openai SDK (test extra)")
from pydantic import TypeAdapter  # noqa: E402

EVENTS: TypeAdapter[Any] = TypeAdapter(openai_types.ResponseStreamEvent)

RAW = (
    "<think>Two cities.</think>Checking both."
    "<|tool_calls_section_begin|><|tool_call_begin|>functions.get_weather:0<|tool_call_argument_begin|>"
    '{"city": "Paris"}<|tool_call_end|><|tool_call_begin|>functions.crm__find:1<|tool_call_argument_begin|>'
    '{"q": "x"}<|tool_call_end|><|tool_calls_section_end|>'
)
TOOLS = ToolMap.build(
    [
        {"type": "function", "name": "get_weather"},
        {
            "type": "namespace",
            "name": "crm",
            "description": "",
            "tools": [{"type": "function", "name": "find"}],
        },
    ]
)


def skeleton() -> dict[str, Any]:
    return {
        "id": "resp_test",
        "object": "response",
        "created_at": 1,
        "model": "kimi-k2.5",
        "status": "in_progress",
        "output": [],
        "parallel_tool_calls": True,
        "tool_choice": "auto",
        "tools": [],
        "error": None,
        "incomplete_details": None,
    }


def deltas(raw: str, pieces: list[str] | None = None) -> list[list[dict[str, Any]]]:
    parser = StreamParser()
    batches = [parser.feed(p) for p in (pieces or [raw])] + [parser.close()]
    return [[d for d in (e.to_openai() for e in batch) if d is not None] for batch in batches]


def write(raw: str, pieces: list[str] | None = None) -> tuple[ResponseWriter, list[dict[str, Any]]]:
    writer = ResponseWriter(skeleton(), TOOLS.client_name)
    events = writer.start()
    for batch in deltas(raw, pieces):
        events += writer.feed(batch)
    events += writer.finish(None, usage(10, 20))
    return writer, events


def test_the_event_sequence() -> None:
    writer, events = write(RAW)
    kinds = [e["type"] for e in events]
    assert kinds[:2] == ["response.created", "response.in_progress"]
    assert kinds[-1] == "response.completed"
    assert [e["sequence_number"] for e in events] == list(range(len(events)))
    per_item = [(e["type"], e.get("output_index")) for e in events[2:-1] if not e["type"].endswith(".delta")]
    assert per_item == [
        ("response.output_item.added", 0),
        ("response.content_part.added", 0),
        ("response.reasoning_text.done", 0),
        ("response.content_part.done", 0),
        ("response.output_item.done", 0),
        ("response.output_item.added", 1),
        ("response.content_part.added", 1),
        ("response.output_text.done", 1),
        ("response.content_part.done", 1),
        ("response.output_item.done", 1),
        ("response.output_item.added", 2),
        ("response.function_call_arguments.done", 2),
        ("response.output_item.done", 2),
        ("response.output_item.added", 3),
        ("response.function_call_arguments.done", 3),
        ("response.output_item.done", 3),
    ]
    for event in events:  # each is the SDK's own event type, not a fallback
        parsed = EVENTS.validate_python(event)
        assert parsed.type == event["type"]
    final = openai_types.Response.model_validate(events[-1]["response"])
    assert final.status == "completed" and final.usage is not None and final.usage.total_tokens == 30
    reasoning, message, weather, find = writer.output
    assert reasoning["content"] == [{"type": "reasoning_text", "text": "Two cities."}]
    assert message["content"][0]["text"] == "Checking both."
    assert (weather["call_id"], weather["name"], weather["arguments"]) == (
        "functions.get_weather:0",
        "get_weather",
        '{"city": "Paris"}',
    )
    assert "namespace" not in weather
    assert (find["call_id"], find["namespace"], find["name"]) == ("functions.crm__find:1", "crm", "find")
    assert len({item["id"] for item in writer.output}) == 4


def test_done_events_carry_the_whole_text() -> None:
    _, events = write(RAW, list(RAW))
    text = "".join(e["delta"] for e in events if e["type"] == "response.output_text.delta")
    done = [e["text"] for e in events if e["type"] == "response.output_text.done"]
    assert done == [text] == ["Checking both."]
    args = "".join(e["delta"] for e in events if e["type"] == "response.function_call_arguments.delta")
    assert args == '{"city": "Paris"}{"q": "x"}'


def test_incomplete_and_failed() -> None:
    writer = ResponseWriter(skeleton())
    writer.start()
    writer.feed([{"content": "cut he"}])
    end = writer.finish("max_output_tokens", usage(1, 2))
    assert end[-1]["type"] == "response.incomplete"
    response = openai_types.Response.model_validate(end[-1]["response"])
    assert response.status == "incomplete" and response.incomplete_details is not None
    assert response.incomplete_details.reason == "max_output_tokens"
    assert writer.output[0]["status"] == "incomplete"

    writer = ResponseWriter(skeleton())
    writer.start()
    writer.feed([{"content": "half"}])
    end = writer.fail("the upstream stream broke")
    assert [e["type"] for e in end][-2:] == ["response.output_item.done", "response.failed"]
    failed = EVENTS.validate_python(end[-1])
    assert failed.response.status == "failed" and failed.response.error.message == "the upstream stream broke"


def test_an_empty_turn_is_one_empty_message() -> None:
    writer, events = write("")
    assert [item["type"] for item in writer.output] == ["message"]
    assert writer.output[0]["content"][0]["text"] == ""
    assert events[-1]["type"] == "response.completed"


def test_sse_lines() -> None:
    event = {"type": "response.output_text.delta", "sequence_number": 3, "delta": "é"}
    assert sse(event) == (
        'event: response.output_text.delta\ndata: {"type":"response.output_text.delta","sequence_number":3,'
        '"delta":"é"}\n\n'
    )


@settings(max_examples=120, deadline=None)
@given(data=st.data(), output=assistant_outputs())
def test_any_chunking_gives_the_same_items(data: st.DataObject, output: Any) -> None:
    """However the raw output is cut, the items are the same, and the deltas add up to the done texts."""
    whole, _ = write(output.raw)
    cut, events = write(output.raw, data.draw(chunkings(output.raw)))
    strip = [{k: v for k, v in item.items() if k != "id"} for item in whole.output]
    assert [{k: v for k, v in item.items() if k != "id"} for item in cut.output] == strip
    for done_kind, delta_kind in (
        ("response.output_text.done", "response.output_text.delta"),
        ("response.reasoning_text.done", "response.reasoning_text.delta"),
    ):
        for done in (e for e in events if e["type"] == done_kind):
            pieces = [
                e["delta"] for e in events if e["type"] == delta_kind and e["item_id"] == done["item_id"]
            ]
            assert "".join(pieces) == done["text"]


@settings(max_examples=150, deadline=None)
@given(case=quirky_outputs(), data=st.data())
def test_quirky_outputs_give_valid_events_and_the_parsed_calls(case: Any, data: st.DataObject) -> None:
    """Whatever the model wrote (every quirk the fuzzer knows), the writer's events are the SDK's event types
    and its items hold the message the parser made: its calls with their ids, its text, its reasoning."""
    parser = StreamParser(tools=case.tools, thinking=case.thinking)
    writer = ResponseWriter(skeleton())
    events = writer.start()
    for chunk in data.draw(chunkings(case.raw)):
        events += writer.feed([d for d in (e.to_openai() for e in parser.feed(chunk)) if d is not None])
    events += writer.feed([d for d in (e.to_openai() for e in parser.close()) if d is not None])
    events += writer.finish(None, usage(1, 1))
    for event in events:
        assert EVENTS.validate_python(event).type == event["type"]
    expected = parser.message.to_openai()
    calls = [(i["call_id"], i["name"], i["arguments"]) for i in writer.output if i["type"] == "function_call"]
    assert calls == [
        (c["id"], c["function"]["name"], c["function"]["arguments"]) for c in expected.get("tool_calls", [])
    ]
    text = "".join(i["content"][0]["text"] for i in writer.output if i["type"] == "message")
    assert text == (expected["content"] or "")
    reasoning = "".join(i["content"][0]["text"] for i in writer.output if i["type"] == "reasoning")
    assert reasoning == (expected["reasoning_content"] or "")
