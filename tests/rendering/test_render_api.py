"""The renderer's API: models and kwargs, strict-mode errors, lenient mode, message models, id hygiene."""

from __future__ import annotations

import copy
import json
import re
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kimi_toolparse.call_ids import normalize_tool_call_ids
from kimi_toolparse.rendering.chat import ChatMessage, Conversation
from kimi_toolparse.rendering.prompt import render
from kimi_toolparse.rendering.templates import MODELS, REVISIONS, resolve_model

WEATHER = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Weather.",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
    },
}


def _call(
    call_id: str | None, name: str = "get_weather", arguments: Any = '{"city": "Paris"}'
) -> dict[str, Any]:
    call: dict[str, Any] = {"type": "function", "function": {"name": name, "arguments": arguments}}
    if call_id is not None:
        call["id"] = call_id
    return call


def _loop(call_id: str = "functions.get_weather:0") -> list[dict[str, Any]]:
    return [
        {"role": "user", "content": "Weather in Paris?"},
        {"role": "assistant", "content": None, "tool_calls": [_call(call_id)]},
        {"role": "tool", "tool_call_id": call_id, "content": "Sunny"},
    ]


# --- models and kwargs -----------------------------------------------------------------------------------


def test_every_model_renders_its_turn_format() -> None:
    for name, template in MODELS.items():
        prompt = render([{"role": "user", "content": "Hi"}], model=name)
        assert "<|im_user|>user<|im_middle|>Hi<|im_end|>" in prompt
        assert prompt.endswith("<|im_assistant|>assistant<|im_middle|>" + template.generation_think)
        assert ("You are Kimi" in prompt) is (template.default_system is not None)


@pytest.mark.parametrize(
    ("alias", "name"),
    [
        ("moonshotai/Kimi-K2-Instruct", "kimi-k2-instruct"),
        ("Kimi-K2-Instruct-0905", "kimi-k2-instruct-0905"),
        (" KIMI-K2.5 ", "kimi-k2.5"),
        ("moonshotai/Kimi-K2.7-Code", "kimi-k2.7-code"),
    ],
)
def test_model_aliases(alias: str, name: str) -> None:
    assert resolve_model(alias).name == name
    assert render([{"role": "user", "content": "x"}], model=alias) == render(
        [{"role": "user", "content": "x"}], model=name
    )


def test_unknown_model_lists_the_known_ones() -> None:
    with pytest.raises(ValueError, match=r"unknown model 'kimi-k3'.*kimi-k2-instruct, .*kimi-k2\.7-code"):
        render([{"role": "user", "content": "x"}], model="kimi-k3")
    with pytest.raises(TypeError, match="model name"):
        render([{"role": "user", "content": "x"}], model=None)  # type: ignore[arg-type]


def test_older_revisions_by_commit() -> None:
    assert resolve_model("kimi-k2-instruct@22bf1395") is REVISIONS["kimi-k2-instruct@22bf1395"]
    assert resolve_model("moonshotai/Kimi-K2-Thinking@652f5f9e").think_open == "◁think▷"
    # the newest by its commit, and a prefix of a commit
    assert resolve_model("kimi-k2-instruct@0102674b") is MODELS["kimi-k2-instruct"]
    assert resolve_model("kimi-k2-instruct@22bf") is REVISIONS["kimi-k2-instruct@22bf1395"]
    with pytest.raises(ValueError, match=r"unknown revision 'deadbeef' of kimi-k2-thinking: use one of 6126"):
        resolve_model("kimi-k2-thinking@deadbeef")
    # the first release's bugs, reproduced: a fixed header per known role, no tool calls rendered
    prompt = render(_loop(), model="kimi-k2-instruct@22bf1395", add_generation_prompt=False)
    assert prompt == (
        "<|im_system|>system<|im_middle|>You are a helpful assistant<|im_end|>"
        "<|im_user|>user<|im_middle|>Weather in Paris?<|im_end|>"
        "<|im_assistant|>assistant<|im_middle|><|im_end|>"
        "<|im_system|>tool<|im_middle|>Sunny<|im_end|>"
    )


def test_unknown_and_non_bool_kwargs() -> None:
    messages = [{"role": "user", "content": "x"}]
    with pytest.raises(TypeError, match=r"unknown template kwargs 'think'.*thinking, preserve_thinking"):
        render(messages, model="kimi-k2.5", think=False)
    with pytest.raises(TypeError, match="thinking must be True or False"):
        render(messages, model="kimi-k2.5", thinking="no")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="add_generation_prompt must be True or False"):
        render(messages, model="kimi-k2-instruct", add_generation_prompt=1)  # type: ignore[arg-type]


def test_kwargs_a_template_does_not_read_are_ignored() -> None:
    messages = [
        {"role": "user", "content": "x"},
        {"role": "assistant", "content": "y", "reasoning_content": "r"},
    ]
    for model in ("kimi-k2-instruct", "kimi-k2-thinking", "kimi-k2.7-code"):
        assert render(messages, model=model, thinking=False, preserve_thinking=True) == render(
            messages, model=model
        )
    # K2.5 reads thinking but not preserve_thinking
    assert render(messages, model="kimi-k2.5", preserve_thinking=True) == render(messages, model="kimi-k2.5")


def test_thinking_false_empties_kept_reasoning_and_the_prompt() -> None:
    messages = [*_loop(), {"role": "user", "content": "and?"}]
    messages[1]["reasoning_content"] = "call it"
    on = render(messages, model="kimi-k2.6")
    off = render(messages, model="kimi-k2.6", thinking=False)
    assert "<think>call it</think>" in on and on.endswith("<think>")
    assert "<think>call it</think>" not in off and off.endswith("<think></think>")
    # preserve_thinking keeps the reasoning even with thinking off; the prompt still closes the block
    both = render(messages, model="kimi-k2.6", thinking=False, preserve_thinking=True)
    assert "<think>call it</think>" in both and both.endswith("<think></think>")


def test_plain_template_declares_unsorted_json() -> None:
    tools = [{"type": "function", "function": {"parameters": {"type": "object"}, "name": "f"}}]
    messages = [{"role": "user", "content": "x"}]
    for model in MODELS:
        plain = render(messages, tools, model=model, plain_template=True)
        assert (
            '<|im_middle|>[{"type":"function","function":{"parameters":{"type":"object"},"name":"f"}}]'
            in plain
        )
    assert "type f = (_: {}) => any;" in render(messages, tools, model="kimi-k2.5")
    assert '[{"function":{"name":"f","parameters":{"type":"object"}},"type":"function"}]' in render(
        messages, tools, model="kimi-k2-instruct"
    )


def test_render_does_not_touch_its_input() -> None:
    messages = _loop("call_1")
    messages[1]["reasoning"] = None
    tools = [copy.deepcopy(WEATHER)]
    before = copy.deepcopy((messages, tools))
    for model in MODELS:
        render(messages, tools, model=model, normalize_ids=True)
    assert (messages, tools) == before


# --- strict mode ------------------------------------------------------------------------------------------

_BAD: list[tuple[str, list[dict[str, Any]], str]] = [
    (
        "no tool_call_id",
        [{"role": "user", "content": "x"}, {"role": "tool", "content": "r"}],
        r"messages\[1\]\.tool_call_id",
    ),
    (
        "no function name",
        [
            {
                "role": "assistant",
                "content": None,
                "tool_calls": [{"id": "a", "function": {"arguments": "{}"}}],
            }
        ],
        r"messages\[0\]\.tool_calls\[0\]\.function\.name",
    ),
    (
        "list arguments",
        [{"role": "assistant", "content": None, "tool_calls": [_call("a", arguments=[1, 2])]}],
        r"messages\[0\]\.tool_calls\[0\]\.function\.arguments is a list",
    ),
    (
        "missing arguments",
        [{"role": "assistant", "content": None, "tool_calls": [_call("a", arguments=None)]}],
        r"messages\[0\]\.tool_calls\[0\]\.function\.arguments is missing",
    ),
    (
        "no call id",
        [{"role": "assistant", "content": "", "tool_calls": [_call(None)]}],
        r"messages\[0\]\.tool_calls\[0\]\.id is missing.*normalize_ids=True",
    ),
    ("no role", [{"content": "x"}], r"messages\[0\]\.role"),
    ("name not a string", [{"role": "user", "name": 3, "content": "x"}], r"messages\[0\]\.name"),
    ("content a number", [{"role": "user", "content": 5}], r"messages\[0\]\.content"),
    ("part not a dict", [{"role": "user", "content": ["x"]}], r"messages\[0\]\.content\[0\]"),
    (
        "unknown part",
        [{"role": "user", "content": [{"type": "input_audio", "input_audio": {}}]}],
        r"messages\[0\]\.content\[0\] has type 'input_audio'",
    ),
    (
        "text part without text",
        [{"role": "user", "content": [{"type": "text"}]}],
        r"messages\[0\]\.content\[0\]\.text",
    ),
    (
        "calls on a user message",
        [{"role": "user", "content": "x", "tool_calls": [_call("a")]}],
        r"messages\[0\] is a user message with tool_calls",
    ),
    (
        "reasoning not a string",
        [{"role": "assistant", "content": "x", "reasoning_content": 1}],
        r"messages\[0\]\.reasoning_content",
    ),
    ("empty conversation", [], "messages is empty"),
]


@pytest.mark.parametrize(("what", "messages", "error"), _BAD, ids=[b[0] for b in _BAD])
def test_strict_mode_names_message_and_field(what: str, messages: list[dict[str, Any]], error: str) -> None:
    for model in MODELS:
        with pytest.raises(ValueError, match=error):
            render(messages, model=model)


def test_lenient_mode_renders_what_the_template_renders() -> None:
    messages = [
        {"role": "user", "content": "x"},
        {"role": "assistant", "content": None, "reasoning_content": None, "tool_calls": [_call(None)]},
        {"role": "tool", "content": "r"},
    ]
    prompt = render(messages, model="kimi-k2.5", strict=False)
    # the raw template prints None, an empty id and an empty tool_call_id: exactly what strict mode refuses
    assert (
        "<think>None</think><|tool_calls_section_begin|><|tool_call_begin|><|tool_call_argument_begin|>"
        in prompt
    )
    assert "<|im_system|>tool<|im_middle|>## Return of \nr<|im_end|>" in prompt
    # strict mode reads the null reasoning as absent instead
    messages[1]["tool_calls"] = [_call("functions.get_weather:0")]
    messages[2]["tool_call_id"] = "functions.get_weather:0"
    assert "<think></think><|tool_calls_section_begin|>" in render(messages, model="kimi-k2.5")


def test_lenient_mode_fails_where_the_template_fails() -> None:
    messages = [
        {"role": "assistant", "content": None, "tool_calls": [{"id": "a", "function": {"name": "f"}}]}
    ]
    with pytest.raises(ValueError, match=r"messages\[0\]: tool_calls\[0\]\.function\.arguments is missing"):
        render(messages, model="kimi-k2-instruct", strict=False)


def test_video_needs_a_model_with_a_video_placeholder() -> None:
    messages = [{"role": "user", "content": [{"type": "video_url", "video_url": {"url": "v.mp4"}}]}]
    assert "<|kimi_k25_video_placeholder|>\n" in render(messages, model="kimi-k2.5")
    with pytest.raises(ValueError, match="kimi-k2-instruct's template has no video placeholder"):
        render(messages, model="kimi-k2-instruct")


@pytest.mark.parametrize(
    ("tools", "error", "kind"),
    [
        ({"type": "function"}, "tools must be a list", TypeError),
        (["get_weather"], r"tools\[0\] must be a dict", TypeError),
        ([{"type": "function", "function": {"description": "x"}}], r"tools\[0\]\.function\.name", ValueError),
    ],
)
def test_bad_tools(tools: Any, error: str, kind: type[Exception]) -> None:
    with pytest.raises(kind, match=error):
        render([{"role": "user", "content": "x"}], tools, model="kimi-k2-instruct")


def test_messages_must_be_a_list_of_dicts() -> None:
    with pytest.raises(TypeError, match="messages must be a list"):
        render({"role": "user", "content": "x"}, model="kimi-k2-instruct")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match=r"messages\[1\] must be a dict"):
        render([{"role": "user", "content": "x"}, "hello"], model="kimi-k2-instruct")


# --- message models -----------------------------------------------------------------------------------


def test_pydantic_models_render_like_dicts() -> None:
    messages = _loop("call_7")
    messages[1]["reasoning_content"] = "think"
    request = {"model": "kimi", "temperature": 0.6, "messages": messages, "tools": [WEATHER]}
    conversation = Conversation.model_validate(request)
    for model in MODELS:
        want = render(messages, [WEATHER], model=model)
        assert render(conversation.messages, conversation.tools, model=model) == want
        assert render(conversation.message_dicts(), [WEATHER], model=model) == want
        assert render([ChatMessage.model_validate(m) for m in messages], [WEATHER], model=model) == want


def test_parsed_messages_can_be_appended_as_they_are() -> None:
    parse = pytest.importorskip("kimi_toolparse").parse
    output = (
        "Checking.<|tool_calls_section_begin|><|tool_call_begin|>functions.get_weather:0"
        '<|tool_call_argument_begin|>{"city": "Paris"}<|tool_call_end|><|tool_calls_section_end|>'
    )
    parsed = parse(output)
    messages = [{"role": "user", "content": "Weather?"}, parsed]
    assert render(messages, model="kimi-k2-instruct", add_generation_prompt=False) == render(
        [messages[0], parsed.to_openai()], model="kimi-k2-instruct", add_generation_prompt=False
    )
    assert render(messages, model="kimi-k2-instruct", add_generation_prompt=False).endswith(
        "<|im_assistant|>assistant<|im_middle|>" + output + "<|im_end|>"
    )


# --- id hygiene ----------------------------------------------------------------------------------------


def test_normalize_ids_rewrites_calls_and_results_consistently() -> None:
    messages = [
        {"role": "user", "content": "two cities, then one"},
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [_call("search:0", "search"), _call("call_b", "get_weather")],
        },
        {"role": "tool", "tool_call_id": "call_b", "content": "b"},
        {"role": "tool", "tool_call_id": "search:0", "content": "a"},
        {"role": "assistant", "content": None, "tool_calls": [_call("search:0", "search")]},
        {"role": "tool", "tool_call_id": "search:0", "content": "c"},
    ]
    result = normalize_tool_call_ids(messages)
    ids = [c["id"] for m in result.messages for c in m.get("tool_calls") or []]
    assert ids == ["functions.search:0", "functions.get_weather:1", "functions.search:2"]
    results = [m["tool_call_id"] for m in result.messages if m["role"] == "tool"]
    # a result answers the latest call with its id
    assert results == ["functions.get_weather:1", "functions.search:0", "functions.search:2"]
    assert result.mapping == {
        "functions.search:0": "search:0",
        "functions.get_weather:1": "call_b",
        "functions.search:2": "search:0",
    }
    assert result.next_index == 3
    assert result.original("functions.search:2") == "search:0"
    assert result.original("functions.x:9") == "functions.x:9"
    assert render(messages, model="kimi-k2-instruct", normalize_ids=True) == render(
        result.messages, model="kimi-k2-instruct"
    )
    assert messages[1]["tool_calls"][0]["id"] == "search:0"  # not touched


def test_normalize_ids_matches_repeated_ids_in_order() -> None:
    messages = [
        {"role": "assistant", "content": "", "tool_calls": [_call("x"), _call("x")]},
        {"role": "tool", "tool_call_id": "x", "content": "1"},
        {"role": "tool", "tool_call_id": "x", "content": "2"},
    ]
    out = normalize_tool_call_ids(messages).messages
    assert [m.get("tool_call_id") for m in out[1:]] == ["functions.get_weather:0", "functions.get_weather:1"]


def test_normalize_ids_refuses_a_result_without_its_call() -> None:
    messages = [{"role": "user", "content": "x"}, {"role": "tool", "tool_call_id": "ghost", "content": "r"}]
    with pytest.raises(ValueError, match=r"messages\[1\]\.tool_call_id 'ghost' matches no tool call"):
        normalize_tool_call_ids(messages)
    assert normalize_tool_call_ids(messages, strict=False).messages[1]["tool_call_id"] == "ghost"


_ID_RE = re.compile(r"functions\.([A-Za-z0-9_\-]+):(\d+)")


@settings(max_examples=100, deadline=None)
@given(
    st.lists(
        st.lists(
            st.tuples(
                st.sampled_from(["a", "b", "call_1", "search:0", "functions.x:9"]),
                st.sampled_from(["f", "g-h"]),
            ),
            min_size=1,
            max_size=3,
        ),
        min_size=1,
        max_size=4,
    ),
    st.randoms(use_true_random=False),
)
def test_normalized_ids_are_canonical_and_consistent(turns: list[list[tuple[str, str]]], rnd: Any) -> None:
    messages: list[dict[str, Any]] = [{"role": "user", "content": "go"}]
    for turn in turns:
        messages.append({"role": "assistant", "content": None, "tool_calls": [_call(i, n) for i, n in turn]})
        results = [{"role": "tool", "tool_call_id": i, "content": f"{i}"} for i, _ in turn]
        rnd.shuffle(results)
        messages += results
    result = normalize_tool_call_ids(messages)
    seen: list[str] = []
    for message in result.messages:
        for call in message.get("tool_calls") or []:
            match = _ID_RE.fullmatch(call["id"])
            assert match and match.group(1) == call["function"]["name"] and int(match.group(2)) == len(seen)
            seen.append(call["id"])
        if message["role"] == "tool":
            assert message["tool_call_id"] in seen  # every result answers a call made before it
            assert result.mapping[message["tool_call_id"]] == message["content"]  # and the one it answered
    assert result.next_index == len(seen) == sum(len(t) for t in turns)
    # rendering after the rewrite never trips strict mode, and the prompt carries only canonical ids
    prompt = render(messages, model="kimi-k2.5", normalize_ids=True)
    assert sorted(re.findall(r"<\|tool_call_begin\|>(.*?)<\|tool_call_argument_begin\|>", prompt)) == sorted(
        seen
    )


def test_k2vv_ids_become_canonical() -> None:
    messages = [
        {"role": "user", "content": "search"},
        {
            "role": "assistant",
            "content": "",
            "tool_calls": [_call("search:0", "search", json.dumps({"q": ["x"]}))],
        },
        {"role": "tool", "name": "search", "tool_call_id": "search:0", "content": "results"},
    ]
    prompt = render(messages, model="kimi-k2-instruct-0905", normalize_ids=True)
    assert "<|tool_call_begin|>functions.search:0<|tool_call_argument_begin|>" in prompt
    assert "## Return of functions.search:0\nresults" in prompt


# --- the model is always named -------------------------------------------------------------------------


def test_no_model_is_an_error_that_lists_the_models() -> None:
    from kimi_toolparse import render_ids

    messages = [{"role": "user", "content": "x"}]
    with pytest.raises(
        TypeError, match=r"render\(\) needs model= \(the model name\).*kimi-k2-instruct, .*kimi-k2\.5"
    ):
        render(messages)
    with pytest.raises(TypeError, match=r"render_ids\(\) needs model=.*kimi-k2\.6"):
        render_ids(messages, tokenizer=object())


# --- strict mode refuses what parse() refuses and what the templates do not know ---------------------------


@pytest.mark.parametrize(
    ("tools", "error"),
    [
        (
            [{"function": {}}],
            r"tools\[0\] has no function name \(tools\[0\]\.function\.name\): a tool is \{'type': 'function'",
        ),
        ([WEATHER, {"type": "function"}], r"tools\[1\] has no function name \(tools\[1\]\.function\.name\)"),
        (
            [{"type": "function", "function": "get_weather"}],
            r"tools\[0\] has no function name \(tools\[0\]\.function\.name\)",
        ),
        ([{"description": "no name"}], r"tools\[0\] has no function name \(tools\[0\]\.function\.name\)"),
    ],
)
def test_malformed_tools_are_refused_by_render_and_parse_alike(tools: Any, error: str) -> None:
    from kimi_toolparse import parse

    messages = [{"role": "user", "content": "x"}]
    with pytest.raises(ValueError, match=error) as rendering:
        render(messages, tools, model="kimi-k2.5")
    with pytest.raises(ValueError, match=error) as parsing:
        parse("x", tools=tools)
    assert str(rendering.value) == str(parsing.value)
    # lenient mode renders what the template renders
    assert render(messages, tools, model="kimi-k2.5", strict=False).startswith(
        "<|im_system|>tool_declare<|im_middle|>"
    )


@pytest.mark.parametrize("tools", ["get_weather", {"type": "function"}, 3])
def test_a_tool_list_that_is_no_list_is_refused_alike(tools: Any) -> None:
    from kimi_toolparse import parse

    with pytest.raises(TypeError, match="tools must be a list of OpenAI tool dicts") as rendering:
        render([{"role": "user", "content": "x"}], tools, model="kimi-k2.5")
    with pytest.raises(TypeError, match="tools must be a list of OpenAI tool dicts") as parsing:
        parse("x", tools=tools)
    assert str(rendering.value) == str(parsing.value)


def test_tools_of_other_types_and_bare_functions_pass_both() -> None:
    from kimi_toolparse import parse

    tools = [{"type": "_plugin", "_plugin": {"name": "browser"}}, {"name": "f", "parameters": {}}]
    assert "tool_declare" in render([{"role": "user", "content": "x"}], tools, model="kimi-k2.5")
    assert parse("x", tools=tools).content == "x"


@pytest.mark.parametrize("model", ["kimi-k2-instruct", "kimi-k2.5", "kimi-k2-instruct@22bf1395"])
def test_unknown_roles(model: str) -> None:
    messages = [{"role": "user", "content": "x"}, {"role": "wizard", "content": "abracadabra"}]
    with pytest.raises(ValueError, match=r"messages\[1\]\.role is 'wizard': the roles are system, developer"):
        render(messages, model=model)
    lenient = render(messages, model=model, strict=False)
    assert "abracadabra" in lenient
    messages[1]["role"] = "developer"  # OpenAI's role: rendered as the template renders it
    assert render(messages, model=model) == render(messages, model=model, strict=False)


def test_a_tool_result_must_answer_an_earlier_call() -> None:
    messages = _loop("functions.get_weather:0")
    render(messages, model="kimi-k2.5")
    messages[2]["tool_call_id"] = "functions.get_weather:1"
    with pytest.raises(
        ValueError, match=r"messages\[2\]\.tool_call_id is 'functions\.get_weather:1', which names no earlier"
    ):
        render(messages, model="kimi-k2.5")
    # a result before its call names no earlier call either
    with pytest.raises(ValueError, match=r"messages\[1\]\.tool_call_id"):
        render([messages[0], {"role": "tool", "tool_call_id": "x", "content": "y"}], model="kimi-k2.5")
    assert "## Return of functions.get_weather:1" in render(messages, model="kimi-k2.5", strict=False)


_NAMES = st.one_of(st.none(), st.integers(), st.just(""), st.text(min_size=1, max_size=8))
_FUNCTIONS = st.one_of(
    st.none(),
    st.text(max_size=4),
    st.fixed_dictionaries({}, optional={"name": _NAMES, "description": st.text(max_size=4)}),
)
_TOOLS = st.one_of(
    st.text(max_size=4),
    st.fixed_dictionaries(
        {},
        optional={
            "type": st.sampled_from(["function", "_plugin", "builtin_function", ""]),
            "function": _FUNCTIONS,
            "name": _NAMES,
        },
    ),
)


@settings(max_examples=150, deadline=None)
@given(st.lists(_TOOLS, min_size=1, max_size=3))
def test_strict_render_and_parse_accept_the_same_tools(tools: list[Any]) -> None:
    from kimi_toolparse import parse

    def outcome(run: Any) -> str:
        try:
            run()
        except (TypeError, ValueError) as e:
            return f"{type(e).__name__}: {e}"
        return "ok"

    rendered = outcome(lambda: render([{"role": "user", "content": "x"}], tools, model="kimi-k2.5"))
    parsed = outcome(lambda: parse("x", tools=tools))
    assert rendered == parsed
