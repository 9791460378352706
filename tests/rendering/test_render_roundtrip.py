"""Round trip: render an assistant turn with tool calls, parse the rendered turn back, get the same turn."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import assume, example, given, settings
from hypothesis import strategies as st

from kimi_toolparse.rendering.prompt import render
from kimi_toolparse.rendering.templates import MODELS, Reasoning

try:
    from kimi_toolparse import parse
except ImportError:  # pragma: no cover - the parser lands separately
    pytest.skip("parser not yet available", allow_module_level=True)

_ASSISTANT = "<|im_assistant|>assistant<|im_middle|>"

# text without the markers that delimit a turn, a think block or a tool call
_text = st.text(st.characters(codec="utf-8", exclude_characters="<|>"), max_size=40)
_names = st.from_regex(r"[A-Za-z_][A-Za-z0-9_\-]{0,15}", fullmatch=True)
_json = st.recursive(
    st.none() | st.booleans() | st.integers(-(10**9), 10**9) | _text,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(_text, inner, max_size=3),
    max_leaves=8,
)


@st.composite
def _assistant_turn(draw: st.DrawFn) -> dict[str, Any]:
    calls = []
    for _ in range(draw(st.integers(1, 4))):
        arguments = draw(st.dictionaries(_text, _json, max_size=4))
        calls.append(
            {
                "id": "",  # set by normalize_ids
                "type": "function",
                "function": {
                    "name": draw(_names),
                    "arguments": draw(st.sampled_from([arguments, json.dumps(arguments)])),
                },
            }
        )
    message: dict[str, Any] = {
        "role": "assistant",
        "content": draw(st.one_of(st.none(), _text)),
        "tool_calls": calls,
    }
    if draw(st.booleans()):
        message["reasoning_content"] = draw(_text)
    return message


def _rendered_turn(model: str, message: dict[str, Any], history: list[dict[str, Any]]) -> tuple[str, bool]:
    """The text the model would have generated for this turn, and whether the prompt opened a think block."""
    prompt = render([*history, message], model=model, add_generation_prompt=False, normalize_ids=True)
    opening = render(history, model=model, normalize_ids=True)  # the same history with the generation prompt
    assert prompt.startswith(opening.removesuffix(MODELS[model].generation_think))
    body = prompt[len(opening.removesuffix(MODELS[model].generation_think)) : -len("<|im_end|>")]
    assert prompt.endswith("<|im_end|>")
    think = MODELS[model].generation_think
    if think and body.startswith(think):
        return body[len(think) :], True  # the model continues after the prompt's <think>
    return body, False


@settings(max_examples=150, deadline=None)
@given(st.sampled_from(list(MODELS)), _assistant_turn(), st.integers(0, 3))
@example(
    "kimi-k2.5",
    {
        "role": "assistant",
        "content": " \n",
        "tool_calls": [{"id": "", "function": {"name": "a", "arguments": "{}"}}],
    },
    0,
)
def test_render_then_parse_gives_the_same_message(
    model: str, message: dict[str, Any], earlier_calls: int
) -> None:
    history: list[dict[str, Any]] = [{"role": "user", "content": "go"}]
    for k in range(earlier_calls):  # earlier calls shift the running index of the ids
        call = {"id": f"c{k}", "type": "function", "function": {"name": "prior", "arguments": "{}"}}
        history += [
            {"role": "assistant", "content": None, "tool_calls": [call]},
            {"role": "tool", "tool_call_id": f"c{k}", "content": "ok"},
        ]
    text, opened_think = _rendered_turn(model, message, history)
    parsed = parse(text, thinking=opened_think)

    assert parsed.content == (message["content"] or "")
    if MODELS[model].reasoning is Reasoning.NONE:
        assert parsed.reasoning is None
    else:
        assert parsed.reasoning == message.get("reasoning_content", "")
    assert [c.name for c in parsed.tool_calls] == [c["function"]["name"] for c in message["tool_calls"]]
    assert [c.id for c in parsed.tool_calls] == [
        f"functions.{c['function']['name']}:{earlier_calls + k}" for k, c in enumerate(message["tool_calls"])
    ]
    for call, original in zip(parsed.tool_calls, message["tool_calls"], strict=True):
        arguments = original["function"]["arguments"]
        assert call.arguments == (
            arguments if isinstance(arguments, str) else json.dumps(arguments, ensure_ascii=False)
        )
        assert json.loads(call.arguments) == json.loads(
            json.dumps(arguments) if isinstance(arguments, dict) else arguments
        )
    # and the OpenAI view of the parsed turn renders to the same prompt again (that view drops content that is
    # only whitespace, so such a turn comes back without it)
    if message["content"] is not None and not message["content"].strip():
        return
    again = {**parsed.to_openai()}
    if "reasoning_content" not in message:
        again.pop("reasoning_content", None)
    history_prompt = render([*history, message], model=model, add_generation_prompt=False, normalize_ids=True)
    assert (
        render([*history, again], model=model, add_generation_prompt=False, normalize_ids=True)
        == history_prompt
    )


def test_round_trip_of_a_k2vv_style_turn() -> None:
    message = {
        "role": "assistant",
        "content": "",
        "reasoning_content": "需要搜索",
        "tool_calls": [
            {
                "id": "search:0",
                "type": "function",
                "function": {"name": "search", "arguments": '{"queries":["CORBA"]}'},
            }
        ],
    }
    for model in MODELS:
        text, opened = _rendered_turn(model, message, [{"role": "user", "content": "搜一下"}])
        parsed = parse(text, thinking=opened)
        assert [(c.id, c.name, c.arguments) for c in parsed.tool_calls] == [
            ("functions.search:0", "search", '{"queries":["CORBA"]}')
        ]


@settings(max_examples=100, deadline=None)
@given(st.sampled_from(list(MODELS)), _assistant_turn())
def test_next_prompt_extends_the_last_one(model: str, message: dict[str, Any]) -> None:
    """In a tool-call loop, each prompt starts with the previous prompt and the model's output (a prefix-cache
    hit for the server): parse the output, append it and the results, render again."""
    assume(message["content"] is None or message["content"].strip() or not message["content"])
    history: list[dict[str, Any]] = [{"role": "user", "content": "go"}]
    output, opened_think = _rendered_turn(model, message, history)  # what the model generated
    prompt = render(history, model=model, normalize_ids=True)
    parsed = parse(output, thinking=opened_think)
    results = [
        {"role": "tool", "tool_call_id": call.id, "name": call.name, "content": "ok"}
        for call in parsed.tool_calls
    ]
    following = render([*history, parsed.to_openai(), *results], model=model, normalize_ids=True)
    assert following.startswith(prompt + output + "<|im_end|>")
