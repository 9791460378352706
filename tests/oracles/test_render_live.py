"""Live comparison with the official templates rendered through Jinja (needs jinja2).

The oracle (``scripts/make_render_goldens.py``) renders each model's official ``chat_template.jinja`` in the
Jinja environment transformers uses, with the kwargs the official tokenizer adds. Checked here: the oracle
against the prompts transformers rendered (``rendered_examples.json``; against transformers itself in
``tests_heavy/oracles/test_render_transformers.py``), then
our renderer against the oracle on the K2VV requests and on Hypothesis-generated conversations.
"""

from __future__ import annotations

import copy
import json
from functools import cache
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kimi_toolparse.rendering.prompt import render
from kimi_toolparse.rendering.templates import MODELS, resolve_model
from testsupport import goldens as golden_script
from testsupport.goldens import first_difference as _diff

from ..conftest import REFERENCE

pytest.importorskip("jinja2", reason="the Jinja oracle needs jinja2 (pip install -e '.[test]')")


@cache
def oracle() -> Any:
    return golden_script


@cache
def ts_rows() -> list[dict[str, Any]]:
    with (REFERENCE / "ts_declarations.jsonl").open(encoding="utf-8") as f:
        return [json.loads(line) for line in f]


def _combos() -> list[tuple[str, dict[str, bool]]]:
    return [(m, kw) for m, combos in oracle().KWARG_COMBOS.items() for kw in combos]


# --- the oracle itself -----------------------------------------------------------------------------------

#: rendered_examples.json keys: model and revision -> our model name.
_EXAMPLE_MODELS = {
    "K2-Instruct_v1_2025-07-11": "kimi-k2-instruct@22bf1395",
    "K2-Instruct_2025-07-18": "kimi-k2-instruct@6a1f5e6b",
    "K2-Instruct_latest_2025-10-22": "kimi-k2-instruct",
    "K2-Instruct-0905_latest_2025-10-22": "kimi-k2-instruct-0905",
    "K2-Thinking_latest_2025-11-08": "kimi-k2-thinking",
    "K2.5_2026-01": "kimi-k2.5",
    "K2.6_2026-05": "kimi-k2.6",
    "K2.7-Code_2026-07": "kimi-k2.7-code",
}


def _example_cases(script: Any) -> dict[str, tuple[list[dict[str, Any]], Any, bool]]:
    """The documented cases of rendered_examples.json (see the reference README)."""
    edge = {case["name"]: case for case in script.edge_cases()}
    system = {"role": "system", "content": "You are a helpful assistant."}
    question = {"role": "user", "content": "What's the weather like in Beijing today?"}
    weather = [script.WEATHER_TOOL]
    return {
        "a_system_user": ([system, {"role": "user", "content": "Hello!"}], None, True),
        "a2_user_only_default_system": ([{"role": "user", "content": "Hello!"}], None, True),
        "b_user_with_tools": ([question], weather, True),
        "b2_system_user_tools_deep_sorted(as official tokenizer wrapper does)": (
            [system, question],
            weather,
            True,
        ),
        "c_toolcall_and_result": (edge["tool_call_and_result"]["messages"], weather, True),
        # the first result's content is a string, the second's a list (old revisions print the list raw)
        "c2_parallel_calls_tool_msgs_without_name": (
            [
                *edge["parallel_calls_list_content"]["messages"][:2],
                {"role": "tool", "tool_call_id": "functions.get_weather:0", "content": "Sunny"},
                edge["parallel_calls_list_content"]["messages"][3],
            ],
            weather,
            True,
        ),
        "d_multiturn_reasoning__full": (edge["multiturn_reasoning"]["messages"], None, False),
        "d_multiturn_reasoning__gen": (edge["multiturn_reasoning_open"]["messages"], None, True),
        "e_user_name_field_and_list_content": (
            [{"role": "user", "name": "alice", "content": [{"type": "text", "text": "Hi there"}]}],
            None,
            True,
        ),
    }


def test_oracle_and_renderer_reproduce_rendered_examples() -> None:
    script = oracle()
    with (REFERENCE / "rendered_examples.json").open(encoding="utf-8") as f:
        examples: dict[str, str] = json.load(f)
    cases = _example_cases(script)
    checked = 0
    for key, want in examples.items():
        prefix, _, rest = key.partition("__")
        if prefix not in _EXAMPLE_MODELS:
            continue  # a variant no tokenizer makes (sorted tools without tools_ts_str)
        kwargs: dict[str, bool] = {}
        while "=" in rest.split("__", 1)[0]:
            pair, _, rest = rest.partition("__")
            name, value = pair.split("=")
            kwargs[name] = value == "True"
        messages, tools, generation = cases[rest]
        model = _EXAMPLE_MODELS[prefix]
        # the examples without "b2" were rendered without the tokenizer's key sort: the plain template
        plain = tools is not None and not rest.startswith("b2") and not model.startswith("kimi-k2.")
        # transformers (>= 5) made these: it drops null fields before rendering
        got_oracle = script.oracle_render(
            model,
            script.transformers_view(messages),
            tools,
            add_generation_prompt=generation,
            plain_template=plain,
            **kwargs,
        )
        assert got_oracle == want, f"oracle, {key}: {_diff(got_oracle, want)}"
        ours = render(
            messages, tools, model=model, add_generation_prompt=generation, plain_template=plain, **kwargs
        )
        assert ours == want, f"{key}: {_diff(ours, want)}"
        checked += 1
    assert checked == len(examples) - 1


def test_every_template_revision_is_supported() -> None:
    history = sorted((REFERENCE / "templates").glob("*/history/*.jinja"))
    assert len(history) >= 17
    script = oracle()
    for path in history:
        revision = path.name.split("_")[1]
        repo_name = path.parent.parent.name.lower()
        template = resolve_model(f"{repo_name}@{revision}")
        assert template.revision == revision
        # the newest revision's copy in history/ is the model's chat_template.jinja
        assert script.template_path(template.name).read_bytes() == path.read_bytes() or (
            template.name in MODELS
            and (path.parent.parent / "chat_template.jinja").read_bytes() == path.read_bytes()
        )


# --- our renderer against the oracle ------------------------------------------------------------------------


def test_k2vv_requests_live() -> None:
    script = oracle()
    conversations = script.k2vv_conversations()
    assert len(conversations) == 99
    compared = 0
    for model, kwargs in _combos():
        for conv in conversations:
            for generation in (True, False):
                want = script.oracle_render(
                    model, conv["messages"], conv["tools"], add_generation_prompt=generation, **kwargs
                )
                got = render(
                    conv["messages"], conv["tools"], model=model, add_generation_prompt=generation, **kwargs
                )
                assert got == want, f"{conv['source']} {model} {kwargs}: {_diff(got, want)}"
                compared += 1
    assert compared == 99 * len(_combos()) * 2 and len(_combos()) >= 13


_WEATHER = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Weather.",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
    },
}

_text = st.one_of(
    st.text(st.characters(codec="utf-8"), max_size=24),
    st.sampled_from(
        ["", " ", "\n", "None", "<|im_end|>", "</think>", "{{ x }}", "{% if %}", "你好", "🧑🏾‍🤝‍🧑🏾"]
    ),
)
_names = st.from_regex(r"[A-Za-z_][A-Za-z0-9_\-]{0,10}", fullmatch=True)
_json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(10**6), 10**6) | st.floats(allow_nan=False) | _text,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(_text, inner, max_size=3),
    max_leaves=6,
)


@st.composite
def _content(draw: st.DrawFn, model: str) -> Any:
    kinds = ["text", "image_url", "image"] + (["video_url", "video"] if model.startswith("kimi-k2.") else [])
    part = st.sampled_from(kinds).flatmap(
        lambda kind: (
            st.builds(lambda t: {"type": "text", "text": t}, _text)
            if kind == "text"
            else st.just({"type": kind, kind: "https://example.com/x"})
        )
    )
    return draw(st.one_of(_text, st.none(), st.lists(part, max_size=4)))


@st.composite
def _conversation(draw: st.DrawFn, model: str) -> list[dict[str, Any]]:
    messages: list[dict[str, Any]] = []
    calls_made = 0
    for _ in range(draw(st.integers(1, 7))):
        kind = draw(st.sampled_from(["system", "user", "user", "assistant", "calls", "developer"]))
        message: dict[str, Any]
        if kind in ("system", "user", "developer"):
            message = {"role": kind, "content": draw(_content(model))}
        elif kind == "assistant":
            message = {"role": "assistant", "content": draw(_content(model))}
        else:
            calls = []
            for _ in range(draw(st.integers(1, 3))):
                name = draw(_names)
                arguments = draw(
                    st.one_of(
                        st.dictionaries(_text, _json_values, max_size=3),
                        st.dictionaries(_text, _json_values, max_size=3).map(json.dumps),
                        _text,
                    )
                )
                call_id = draw(
                    st.sampled_from([f"functions.{name}:{calls_made}", f"{name}:0", f"call_{calls_made}"])
                )
                calls.append(
                    {"id": call_id, "type": "function", "function": {"name": name, "arguments": arguments}}
                )
                calls_made += 1
            message = {"role": "assistant", "content": draw(st.one_of(st.none(), _text)), "tool_calls": calls}
        if message["role"] == "assistant":
            # "thinking" is the name transformers also aliases to reasoning_content
            for field in draw(st.sets(st.sampled_from(["reasoning_content", "reasoning", "thinking"]))):
                message[field] = draw(_text)
        if draw(st.booleans()) and draw(st.booleans()):
            message["name"] = draw(st.one_of(_names, st.just("")))
        messages.append(message)
        if kind == "calls":
            for call in draw(st.permutations(message["tool_calls"])):
                result = {"role": "tool", "tool_call_id": call["id"], "content": draw(_content(model))}
                if draw(st.booleans()):
                    result["name"] = call["function"]["name"]
                messages.append(result)
    return messages


_MUTATIONS = st.sampled_from(["none", "delete", "int", "empty"])
_FIELDS = st.sampled_from(["name", "reasoning_content", "reasoning", "tool_call_id", "content", "role"])


@st.composite
def _lenient_conversation(draw: st.DrawFn, model: str) -> list[dict[str, Any]]:
    """A conversation with fields set to null, deleted, or of the wrong type: what strict mode refuses."""
    messages = draw(_conversation(model))
    for _ in range(draw(st.integers(1, 4))):
        message = messages[draw(st.integers(0, len(messages) - 1))]
        field, mutation = draw(_FIELDS), draw(_MUTATIONS)
        if mutation == "delete":
            message.pop(field, None)
        else:
            message[field] = {"none": None, "int": 7, "empty": ""}[mutation]
        if "tool_calls" in message and draw(st.booleans()):
            call = message["tool_calls"][0]
            call.pop(draw(st.sampled_from(["id", "type"])), None)
    return messages


@st.composite
def _case(
    draw: st.DrawFn, lenient: bool
) -> tuple[str, dict[str, bool], list[dict[str, Any]], Any, bool, bool]:
    model, kwargs = draw(st.sampled_from(_combos()))
    messages = draw(_lenient_conversation(model) if lenient else _conversation(model))
    rows = ts_rows()
    tools = draw(
        st.one_of(
            st.none(),
            st.just([]),
            st.just([_WEATHER]),
            st.integers(0, len(rows) - 1).map(lambda i: rows[i]["tools"] + [_WEATHER]),
        )
    )
    return model, kwargs, messages, tools, draw(st.booleans()), draw(st.booleans())


@settings(
    max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large]
)
@given(_case(lenient=False))
def test_generated_conversations_strict(case: tuple[str, dict[str, bool], Any, Any, bool, bool]) -> None:
    model, kwargs, messages, tools, generation, plain = case
    script = oracle()
    try:
        want = script.oracle_render(
            model,
            script.transformers_view(copy.deepcopy(messages)),
            copy.deepcopy(tools),
            add_generation_prompt=generation,
            plain_template=plain,
            **kwargs,
        )
    except Exception:  # some early revisions fail on valid input (a list as a tool result): so must we
        assert "@" in model
        with pytest.raises(ValueError):
            render(
                messages, tools, model=model, add_generation_prompt=generation, plain_template=plain, **kwargs
            )
        return
    got = render(
        messages, tools, model=model, add_generation_prompt=generation, plain_template=plain, **kwargs
    )
    assert got == want, _diff(got, want)


@settings(
    max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large]
)
@given(_case(lenient=True))
def test_generated_conversations_lenient(case: tuple[str, dict[str, bool], Any, Any, bool, bool]) -> None:
    model, kwargs, messages, tools, generation, plain = case
    script = oracle()
    try:
        want = script.oracle_render(
            model,
            copy.deepcopy(messages),
            copy.deepcopy(tools),
            add_generation_prompt=generation,
            plain_template=plain,
            **kwargs,
        )
    except Exception:  # the template itself fails (e.g. a call without arguments): so must we
        with pytest.raises((ValueError, TypeError)):
            render(
                messages,
                tools,
                model=model,
                add_generation_prompt=generation,
                plain_template=plain,
                strict=False,
                **kwargs,
            )
        return
    got = render(
        messages,
        tools,
        model=model,
        add_generation_prompt=generation,
        plain_template=plain,
        strict=False,
        **kwargs,
    )
    assert got == want, _diff(got, want)
