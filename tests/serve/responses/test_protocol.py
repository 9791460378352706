"""The Responses request side: items to chat messages, tools flattened and mapped back, the 400s."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kimi_toolparse import StreamParser, render
from kimi_toolparse.serve.request import ApiError
from kimi_toolparse.serve.responses.output import ResponseWriter
from kimi_toolparse.serve.responses.protocol import (
    ToolMap,
    flat_name,
    input_items,
    items_to_messages,
    parse_request,
    to_request,
)
from kimi_toolparse.strategies import assistant_outputs

NO_TOOLS = ToolMap.build(None)
WEATHER = {"type": "function", "name": "get_weather", "parameters": {"type": "object"}}

#: A tool loop as a client sends it in full: every kind of item the gateway reads.
LOOP: list[dict[str, Any]] = [
    {"type": "message", "role": "developer", "content": [{"type": "input_text", "text": "Be brief."}]},
    {"role": "user", "content": "Weather in Paris and Rome?"},
    {
        "type": "reasoning",
        "id": "rs_1",
        "summary": [],
        "encrypted_content": "opaque",
        "content": [{"type": "reasoning_text", "text": "Two cities, two calls."}],
    },
    {
        "type": "message",
        "role": "assistant",
        "id": "msg_1",
        "status": "completed",
        "content": [{"type": "output_text", "text": "Checking.", "annotations": []}],
    },
    {
        "type": "function_call",
        "call_id": "functions.get_weather:0",
        "name": "get_weather",
        "arguments": '{"city": "Paris"}',
    },
    {
        "type": "function_call",
        "call_id": "functions.get_weather:1",
        "name": "get_weather",
        "arguments": '{"city": "Rome"}',
    },
    {"type": "function_call_output", "call_id": "functions.get_weather:0", "output": "18C"},
    {
        "type": "function_call_output",
        "call_id": "functions.get_weather:1",
        "output": [{"type": "input_text", "text": "21"}, {"type": "input_text", "text": "C"}],
    },
    {
        "type": "message",
        "role": "assistant",
        "content": [{"type": "output_text", "text": "Paris 18C, Rome 21C."}],
    },
]


def test_a_tool_loop_becomes_chat_messages() -> None:
    messages = items_to_messages(LOOP, NO_TOOLS, "You are a weather bot.")
    assert messages == [
        {"role": "system", "content": "You are a weather bot."},
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "Weather in Paris and Rome?"},
        {
            "role": "assistant",
            "content": "Checking.",
            "reasoning_content": "Two cities, two calls.",
            "tool_calls": [
                {
                    "id": "functions.get_weather:0",
                    "type": "function",
                    "function": {"name": "get_weather", "arguments": '{"city": "Paris"}'},
                },
                {
                    "id": "functions.get_weather:1",
                    "type": "function",
                    "function": {"name": "get_weather", "arguments": '{"city": "Rome"}'},
                },
            ],
        },
        {"role": "tool", "tool_call_id": "functions.get_weather:0", "content": "18C"},
        {"role": "tool", "tool_call_id": "functions.get_weather:1", "content": "21C"},
        {"role": "assistant", "content": "Paris 18C, Rome 21C."},
    ]


def test_developer_message_is_the_system_prompt() -> None:
    """Rendered as the system message, so the template's default Kimi system prompt is not added."""
    items = [{"role": "developer", "content": "You are terse."}, {"role": "user", "content": "hi"}]
    prompt = render(items_to_messages(items, NO_TOOLS), None, model="kimi-k2.5")
    default = render([{"role": "user", "content": "hi"}], None, model="kimi-k2.5")
    assert "You are terse." in prompt
    assert prompt.count("<|im_system|>") == 1
    assert default.split("<|im_user|>")[0] not in prompt.split("<|im_user|>")[0]


def test_a_run_of_assistant_items_is_one_turn() -> None:
    """Reasoning, text and calls up to the next user or tool item are one model turn, as one response's
    output is (text after the calls included: the chat message holds it the same way)."""
    items = [
        {"role": "user", "content": "go"},
        {"type": "function_call", "call_id": "functions.a:0", "name": "a", "arguments": "{}"},
        {"type": "message", "role": "assistant", "content": "after the call"},
        {
            "type": "reasoning",
            "summary": [{"type": "summary_text", "text": "s1"}, {"type": "summary_text", "text": "s2"}],
        },
        {"type": "message", "role": "assistant", "content": [{"type": "refusal", "text": " and more"}]},
        {"type": "function_call_output", "call_id": "functions.a:0", "output": "ok"},
        {"type": "reasoning", "summary": [], "encrypted_content": "opaque"},
    ]
    messages = items_to_messages(items, NO_TOOLS)
    assert messages[1] == {
        "role": "assistant",
        "content": "after the call and more",
        "reasoning_content": "s1\n\ns2",  # a summary when there is no reasoning text
        "tool_calls": [
            {"id": "functions.a:0", "type": "function", "function": {"name": "a", "arguments": "{}"}}
        ],
    }
    assert messages[3] == {"role": "assistant", "content": None, "reasoning_content": ""}


def test_namespace_tools_are_flattened_and_mapped_back() -> None:
    tools = ToolMap.build(
        [
            WEATHER,
            {
                "type": "namespace",
                "name": "mcp__files__",
                "description": "files",
                "tools": [
                    {
                        "type": "function",
                        "name": "read",
                        "description": "Read a file",
                        "parameters": {"type": "object", "properties": {"path": {"type": "string"}}},
                    },
                    {"type": "custom", "name": "patch"},
                ],
            },
            {
                "type": "namespace",
                "name": "crm",
                "description": "",
                "tools": [{"type": "function", "name": "find"}],
            },
            {"type": "web_search"},
            {"type": "mcp", "server_label": "x"},
        ]
    )
    assert [t["function"]["name"] for t in tools.chat_tools] == [
        "get_weather",
        "mcp__files__read",
        "crm__find",
    ]
    assert tools.chat_tools[1]["function"]["description"] == "Read a file"
    assert tools.chat_tools[2]["function"]["parameters"] == {"type": "object", "properties": {}}
    assert tools.client_name("mcp__files__read") == ("mcp__files__", "read")
    assert tools.client_name("crm__find") == ("crm", "find")
    assert tools.client_name("get_weather") == (None, "get_weather")
    assert tools.dropped == ["mcp__files__.custom", "web_search", "mcp"]
    # A call sent back with its namespace is the flattened call the model made.
    call = {
        "type": "function_call",
        "call_id": "functions.crm__find:0",
        "name": "find",
        "namespace": "crm",
        "arguments": "{}",
    }
    assert items_to_messages([call], tools)[0]["tool_calls"][0]["function"]["name"] == "crm__find"
    assert flat_name("ns", "x") == "ns__x" and flat_name("ns__", "x") == "ns__x"


@pytest.mark.parametrize(
    ("tools", "message"),
    [
        ([{"type": "rocket"}], "unknown type 'rocket'"),
        ([WEATHER, WEATHER], "two tools are called 'get_weather'"),
        ([{"type": "function"}], "name is missing"),
        ([{"type": "namespace", "name": "x"}], "a namespace needs a name and tools"),
    ],
)
def test_bad_tools_are_400(tools: list[dict[str, Any]], message: str) -> None:
    with pytest.raises(ApiError, match=message) as e:
        ToolMap.build(tools)
    assert e.value.status == 400 and e.value.param == "tools"


@pytest.mark.parametrize(
    ("items", "message"),
    [
        ([{"role": "user", "content": [{"type": "input_image", "image_url": "x"}]}], "is input_image"),
        ([{"type": "item_reference", "id": "msg_1"}], "item references are not supported"),
        ([{"type": "local_shell_call", "call_id": "c"}], "type 'local_shell_call'"),
        ([{"role": "tool", "content": "x"}], "role must be"),
        ([{"type": "function_call", "name": "f"}], "needs name and call_id"),
        ([{"type": "function_call", "name": "f", "call_id": "c", "arguments": {}}], "must be a JSON string"),
        ([{"type": "function_call_output", "output": "x"}], "needs call_id"),
        (["text"], "must be an object"),
    ],
)
def test_bad_items_are_400(items: list[Any], message: str) -> None:
    with pytest.raises(ApiError, match=message) as e:
        items_to_messages(items, NO_TOOLS)
    assert e.value.status == 400


def test_request_fields_become_the_chat_request() -> None:
    req = parse_request(
        {
            "model": "kimi-k2.5",
            "input": "hi",
            "instructions": "sys",
            "tools": [
                WEATHER,
                {
                    "type": "namespace",
                    "name": "crm",
                    "description": "",
                    "tools": [{"type": "function", "name": "find"}],
                },
            ],
            "tool_choice": {"type": "function", "name": "find", "namespace": "crm"},
            "parallel_tool_calls": False,
            "max_output_tokens": 99,
            "temperature": 0.5,
            "top_p": 0.9,
            "reasoning": {"effort": "none"},
            "store": False,
        }
    )
    body, items = to_request(req, [], ToolMap.build(req.tools))
    assert items == [{"type": "message", "role": "user", "content": "hi"}]
    assert body.messages == [{"role": "system", "content": "sys"}, {"role": "user", "content": "hi"}]
    assert (body.tool_choice, body.tool_name) == ("function", "crm__find")
    assert (body.parallel_tool_calls, body.max_tokens, body.temperature, body.top_p) == (
        False,
        99,
        0.5,
        0.9,
    )
    assert body.thinking is False and body.stream is False
    req.reasoning.effort = "high"  # type: ignore[union-attr]
    assert to_request(req, [], ToolMap.build(req.tools))[0].thinking is True
    req.reasoning = None
    assert to_request(req, [], ToolMap.build(req.tools))[0].thinking is None  # the template's default


def test_allowed_tools_keep_the_listed_ones() -> None:
    tools = ToolMap.build([WEATHER, {"type": "function", "name": "other"}])
    req = parse_request(
        {
            "model": "m",
            "input": "x",
            "tool_choice": {
                "type": "allowed_tools",
                "mode": "required",
                "tools": [{"type": "function", "name": "other"}],
            },
        }
    )
    body, _ = to_request(req, [], tools)
    assert body.tool_choice == "required"
    assert [t["function"]["name"] for t in body.tools or []] == ["other"]


@pytest.mark.parametrize(
    ("data", "param"),
    [
        ([], None),
        ({"input": "x"}, "model"),
        ({"model": "m", "input": "x", "max_output_tokens": 0}, "max_output_tokens"),
        ({"model": "m", "input": "x", "background": True}, "background"),
        ({"model": "m", "input": "x", "conversation": "conv_1"}, "conversation"),
        ({"model": "m", "input": "x", "reasoning": {"effort": "huge"}}, "reasoning.effort"),
    ],
)
def test_bad_requests_are_400(data: Any, param: str | None) -> None:
    with pytest.raises(ApiError) as e:
        parse_request(data)
    assert e.value.status == 400 and e.value.param == param


@pytest.mark.parametrize(
    ("choice", "message"),
    [
        ({"type": "web_search_preview"}, "hosted tool"),
        ({"type": "nonsense"}, "tool_choice must be"),
        ("required", "needs tools"),
    ],
)
def test_bad_tool_choice(choice: Any, message: str) -> None:
    req = parse_request({"model": "m", "input": "x", "tool_choice": choice})
    with pytest.raises(ApiError, match=message):
        to_request(req, [], NO_TOOLS)


def test_empty_input_is_400() -> None:
    with pytest.raises(ApiError, match="input is empty"):
        to_request(parse_request({"model": "m", "input": []}), [], NO_TOOLS)
    assert input_items("x") == [{"type": "message", "role": "user", "content": "x"}]


@settings(max_examples=150, deadline=None)
@given(output=assistant_outputs(data_markers=False), split=st.integers(0, len(LOOP)))
def test_output_items_render_like_the_chat_message(output: Any, split: int) -> None:
    """The output items of a parsed turn, sent back (in full or chained at any point), render the same
    prompt as the chat-completions message of the same turn."""
    parser = StreamParser(thinking=output.thinking)
    writer = ResponseWriter({"id": "resp_x"})
    events = parser.feed(output.raw) + parser.close()
    writer.feed([d for d in (e.to_openai() for e in events) if d is not None])
    writer.finish(None, None)
    user = {"role": "user", "content": "go"}
    items = [*LOOP[:split], user, *writer.output]
    full = items_to_messages(items, NO_TOOLS)
    chained, _ = to_request(
        parse_request({"model": "m", "input": [user, *writer.output]}), LOOP[:split], NO_TOOLS
    )
    chat = [*items_to_messages(LOOP[:split], NO_TOOLS), user, parser.message.to_openai()]
    for model in ("kimi-k2-thinking", "kimi-k2.5"):
        expected = render(chat, None, model=model)
        assert render(full, None, model=model) == expected
        assert render(chained.messages, None, model=model) == expected
