"""``/v1/responses`` through the official openai SDK's ``client.responses``, against the stand-in engine.

Both servers are real (uvicorn on loopback, in threads); the store is a SQLite file in a temporary folder.
"""

from __future__ import annotations

import contextlib
import json
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

openai = pytest.importorskip(
    "openai", reason="the serve tests need the test extra (pip install -e '.[test]')"
)
import httpx  # noqa: E402

from kimi_toolparse import render  # noqa: E402
from kimi_toolparse.serve.responses.protocol import ToolMap, items_to_messages  # noqa: E402
from kimi_toolparse.serve.standin import Reply, StandIn  # noqa: E402

from ...conftest import FIXTURES  # noqa: E402
from ..conftest import gateway  # noqa: E402

WEATHER = (FIXTURES / "outputs" / "weather.txt").read_text()
#: The first request of ``codex exec`` 0.171.0 (recorded; Codex's prose replaced by placeholders).
CODEX = json.loads((FIXTURES / "serve" / "codex_request.json").read_text())
THINKING = (FIXTURES / "outputs" / "thinking.txt").read_text()
TOOLS: list[dict[str, Any]] = [
    {
        "type": "function",
        "name": "get_weather",
        "description": "Current weather of a city.",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
    }
]
ANSWER = "Beijing is sunny at 21C; Shanghai is rainy at 18C."
#: The raw answer of a thinking prompt (K2.5's starts inside <think>): a short reasoning, then the answer.
RAW_ANSWER = "Both known.</think>" + ANSWER


def script(*outputs: str | Reply) -> Any:
    """A responder that answers the outputs in turn (the last one again after that)."""
    replies = list(outputs)

    def respond(request: dict[str, Any]) -> str | Reply:
        return replies.pop(0) if len(replies) > 1 else replies[0]

    return respond


@contextlib.contextmanager
def setup(*outputs: str | Reply, **config: Any) -> Iterator[tuple[StandIn, Any, str]]:
    """(the stand-in, an openai client on the gateway, the gateway's base URL)."""
    with tempfile.TemporaryDirectory() as tmp, StandIn(script(*outputs)) as upstream:
        config.setdefault("store", str(Path(tmp) / "responses.sqlite3"))
        with gateway(upstream.base_url, models=("kimi-k2.5",), **config) as base:
            client = openai.OpenAI(base_url=base, api_key=config.get("api_key") or "none", max_retries=0)
            yield upstream, client, base


def plain(response: Any) -> dict[str, Any]:
    """A response without what differs between two answers of the same output (ids, times)."""
    data = response.model_dump(exclude_none=True)
    for key in ("id", "created_at", "completed_at"):
        data.pop(key, None)
    for item in data["output"]:
        item.pop("id", None)
    return data


def test_create_and_stream_give_the_same_response() -> None:
    with setup(WEATHER) as (upstream, client, _base):
        # Thinking off (the K2.5 template's switch): the output starts as an answer.
        ask: dict[str, Any] = {
            "model": "kimi-k2.5",
            "input": "Weather?",
            "tools": TOOLS,
            "reasoning": {"effort": "none"},
        }
        made = client.responses.create(**ask)
        with client.responses.stream(**ask) as stream:
            kinds = [event.type for event in stream]
            streamed = stream.get_final_response()
    assert plain(made) == plain(streamed)
    assert made.status == "completed" and made.id.startswith("resp_") and len(made.id) >= 5 + 32
    message, first, second = made.output
    assert message.type == "message" and message.content[0].text == "I'll check the weather in both cities."
    assert (first.type, first.call_id, first.name, json.loads(first.arguments)) == (
        "function_call",
        "functions.get_weather:0",
        "get_weather",
        {"city": "Beijing", "unit": "celsius"},
    )
    assert second.call_id == "functions.get_weather:1"
    assert kinds[:2] == ["response.created", "response.in_progress"] and kinds[-1] == "response.completed"
    assert kinds.count("response.output_item.done") == 3
    assert upstream.prompts[0].endswith("<|im_assistant|>assistant<|im_middle|><think></think>")


def test_a_function_call_loop_and_reasoning() -> None:
    """Reasoning and a call, the call's output sent back in full, then the answer: the second prompt holds
    the reasoning, the call with the model's own id, and the result."""
    with setup(THINKING, RAW_ANSWER) as (upstream, client, _):
        first = client.responses.create(model="kimi-k2.5", input="How big is the project?", tools=TOOLS)
        # The model's order: reasoning, the call (made inside it), the rest of the reasoning, the answer.
        assert [item.type for item in first.output] == ["reasoning", "function_call", "reasoning", "message"]
        reasoning, call, _, message = first.output
        assert reasoning.type == "reasoning" and reasoning.content is not None
        assert reasoning.content[0].text.startswith("The user wants the disk usage")
        assert call.call_id == "functions.bash:7" and call.name == "bash"
        assert message.content[0].text == "Let me measure the folders first."
        history = [{"role": "user", "content": "How big is the project?"}, *first.output]
        second = client.responses.create(
            model="kimi-k2.5",
            input=[*history, {"type": "function_call_output", "call_id": call.call_id, "output": "4.0K ./a"}],
            tools=TOOLS,
            store=False,
        )
        assert second.output_text == ANSWER
    prompt = upstream.prompts[1]
    assert "functions.bash:7<|tool_call_argument_begin|>" in prompt
    assert "<|im_system|>tool<|im_middle|>## Return of functions.bash:7\n4.0K ./a<|im_end|>" in prompt


def test_chaining_renders_the_conversation_sent_in_full() -> None:
    with setup(THINKING, RAW_ANSWER, "</think>Done.") as (upstream, client, _):
        first = client.responses.create(
            model="kimi-k2.5", input="How big is the project?", tools=TOOLS, instructions="Be exact."
        )
        output = {"type": "function_call_output", "call_id": "functions.bash:7", "output": "4.0K ./a"}
        chained = client.responses.create(
            model="kimi-k2.5",
            previous_response_id=first.id,
            input=[output],
            tools=TOOLS,
            instructions="Be exact.",
        )
        full = [{"role": "user", "content": "How big is the project?"}, *first.output, output]
        client.responses.create(
            model="kimi-k2.5", input=[*full], tools=TOOLS, instructions="Be exact.", store=False
        )
        assert chained.previous_response_id == first.id
        # A second link: the chain of a chain.
        third = client.responses.create(
            model="kimi-k2.5",
            previous_response_id=chained.id,
            input="thanks",
            tools=TOOLS,
            instructions="Be exact.",
        )
        assert third.output_text == "Done."
    prompts = upstream.prompts
    assert prompts[1] == prompts[2]
    assert "The user wants the disk usage" in prompts[1]  # the reasoning of the earlier turn
    expected = render(
        items_to_messages(
            [
                full[0],
                *first.model_dump()["output"],
                output,
                *chained.model_dump()["output"],
                {"role": "user", "content": "thanks"},
            ],
            ToolMap.build(TOOLS),
            "Be exact.",
        ),
        ToolMap.build(TOOLS).chat_tools,
        model="kimi-k2.5",
    )
    assert prompts[3] == expected


def test_retrieve_delete_and_store_false() -> None:
    with setup(RAW_ANSWER) as (_, client, _):
        kept = client.responses.create(model="kimi-k2.5", input="hi")
        assert plain(client.responses.retrieve(kept.id)) == plain(kept)
        gone = client.responses.create(model="kimi-k2.5", input="hi", store=False)
        assert gone.store is False
        with pytest.raises(openai.NotFoundError):
            client.responses.retrieve(gone.id)
        with pytest.raises(openai.NotFoundError) as e:
            client.responses.create(model="kimi-k2.5", input="x", previous_response_id=gone.id)
        assert e.value.body["code"] == "previous_response_not_found"  # type: ignore[index]
        assert e.value.body["param"] == "previous_response_id"  # type: ignore[index]
        client.responses.delete(kept.id)
        with pytest.raises(openai.NotFoundError):
            client.responses.retrieve(kept.id)
        with pytest.raises(openai.NotFoundError):
            client.responses.delete(kept.id)


def test_expired_responses_are_404() -> None:
    import time

    with setup(RAW_ANSWER, store_ttl=0.5) as (_, client, _):
        made = client.responses.create(model="kimi-k2.5", input="hi")
        client.responses.retrieve(made.id)
        time.sleep(0.7)
        with pytest.raises(openai.NotFoundError):
            client.responses.create(model="kimi-k2.5", input="x", previous_response_id=made.id)


def test_the_key_guards_create_retrieve_delete_and_chain() -> None:
    with setup(RAW_ANSWER, api_key="sekrit") as (_, client, base):
        made = client.responses.create(model="kimi-k2.5", input="hi")
        for method, path, body in (
            ("GET", f"/responses/{made.id}", None),
            ("DELETE", f"/responses/{made.id}", None),
            (
                "POST",
                "/responses",
                {"model": "kimi-k2.5", "input": "x", "previous_response_id": made.id},
            ),
        ):
            r = httpx.request(method, base + path, json=body, headers={"authorization": "Bearer wrong"})
            assert r.status_code == 401 and r.json()["error"]["code"] == "invalid_api_key"
        assert client.responses.retrieve(made.id).id == made.id


def test_errors_in_openai_shape() -> None:
    with setup(RAW_ANSWER) as (_, _client, base):
        for body, status, param in (
            (
                {
                    "model": "kimi-k2.5",
                    "input": [{"role": "user", "content": [{"type": "input_image", "image_url": "data:,"}]}],
                },
                400,
                "input",
            ),
            ({"model": "kimi-k2.5", "input": "x", "tools": [{"type": "rocket"}]}, 400, "tools"),
            ({"model": "no-such-model", "input": "x"}, 404, "model"),
            ({"model": "kimi-k2.5", "input": "x", "max_output_tokens": -1}, 400, "max_output_tokens"),
        ):
            r = httpx.post(base + "/responses", json=body)
            assert r.status_code == status, r.text
            error = r.json()["error"]
            assert set(error) == {"message", "type", "param", "code"} and error["param"] == param
        r = httpx.post(base + "/responses", content=b"{nope", headers={"content-type": "application/json"})
        assert r.status_code == 400 and r.json()["error"]["code"] == "invalid_json"


def test_hosted_tools_are_left_out_and_said() -> None:
    with setup(RAW_ANSWER) as (upstream, client, _):
        made = client.responses.create(
            model="kimi-k2.5",
            input="hi",
            tools=[*TOOLS, {"type": "web_search"}],  # type: ignore[list-item]
        )
    notes = made.model_dump()["kimi_diagnostics"]
    assert notes == [
        {"code": "tools_left_out", "message": "left out tools a raw engine cannot run: web_search"}
    ]
    assert "get_weather" in upstream.prompts[0] and "web_search" not in upstream.prompts[0]


def test_max_output_tokens_gives_an_incomplete_response() -> None:
    with setup(Reply("cut here", finish_reason="length")) as (upstream, client, _):
        made = client.responses.create(model="kimi-k2.5", input="hi", max_output_tokens=2)
        with client.responses.stream(model="kimi-k2.5", input="hi", max_output_tokens=2) as stream:
            kinds = [e.type for e in stream]
    assert made.status == "incomplete" and made.incomplete_details.reason == "max_output_tokens"  # type: ignore[union-attr]
    assert kinds[-1] == "response.incomplete"
    assert upstream.requests[-1].body["max_tokens"] == 2


def test_an_upstream_failure_mid_stream_is_response_failed() -> None:
    with (
        setup(Reply(ANSWER, die_after=3)) as (_, _client, base),
        httpx.stream(
            "POST", base + "/responses", json={"model": "kimi-k2.5", "input": "hi", "stream": True}
        ) as r,
    ):
        text = r.read().decode()
    events = [json.loads(line[6:]) for line in text.splitlines() if line.startswith("data: ")]
    names = [line[7:] for line in text.splitlines() if line.startswith("event: ")]
    assert names == [e["type"] for e in events]
    assert events[-1]["type"] == "response.failed"
    assert events[-1]["response"]["error"]["code"] == "server_error"
    assert "upstream" in events[-1]["response"]["error"]["message"]


def sse_events(text: str) -> list[dict[str, Any]]:
    return [json.loads(line[6:]) for line in text.splitlines() if line.startswith("data: ")]


def test_codex_requests_round_trip() -> None:
    """Codex's own request shape (developer messages, a namespace tool, the hosted web_search, store false):
    the namespaced call comes back with its namespace, and the history Codex sends back renders the calls
    with the model's ids and their outputs."""
    calls = (
        "Two things to do.</think><|tool_calls_section_begin|><|tool_call_begin|>functions.exec_command:0"
        '<|tool_call_argument_begin|>{"cmd": "ls"}<|tool_call_end|><|tool_call_begin|>'
        "functions.multi_agent_v1__spawn_agent:1<|tool_call_argument_begin|>{}<|tool_call_end|>"
        "<|tool_calls_section_end|>"
    )
    with setup(calls, "</think>Done.") as (upstream, _, base):
        with httpx.stream("POST", base + "/responses", json=CODEX) as r:
            first = sse_events(r.read().decode())
        done = [e["item"] for e in first if e["type"] == "response.output_item.done"]
        assert [item["type"] for item in done] == ["reasoning", "function_call", "function_call"]
        exec_call, spawn = done[1], done[2]
        assert (exec_call["name"], exec_call["call_id"], "namespace" in exec_call) == (
            "exec_command",
            "functions.exec_command:0",
            False,
        )
        assert (spawn["namespace"], spawn["name"]) == ("multi_agent_v1", "spawn_agent")
        final = first[-1]["response"]
        assert final["store"] is False
        assert final["kimi_diagnostics"] == [
            {"code": "tools_left_out", "message": "left out tools a raw engine cannot run: web_search"}
        ]
        prompt = upstream.prompts[0]
        assert "multi_agent_v1__spawn_agent" in prompt and "web_search" not in prompt
        assert prompt.count("<|im_system|>") == 3  # Codex's two developer messages, and the tool list
        outputs = [
            {"type": "function_call_output", "call_id": exec_call["call_id"], "output": "main.py"},
            {"type": "function_call_output", "call_id": spawn["call_id"], "output": "spawned"},
        ]
        again = {**CODEX, "input": [*CODEX["input"], *done, *outputs]}
        second = sse_events(httpx.post(base + "/responses", json=again).text)
        assert second[-1]["response"]["output"][-1]["content"][0]["text"] == "Done."
        with pytest.raises(openai.NotFoundError):  # store false: nothing kept
            openai.OpenAI(base_url=base, api_key="none", max_retries=0).responses.retrieve(final["id"])
    prompt = upstream.prompts[1]
    assert "## Return of functions.exec_command:0\nmain.py<|im_end|>" in prompt
    assert "functions.multi_agent_v1__spawn_agent:1<|tool_call_argument_begin|>{}" in prompt
    assert "Two things to do." in prompt
