"""What a server built on the library needs: the role delta, empty reasoning in the stream, whether a
prompt ends inside reasoning, the engine's stop reason, and a light import for parsing alone."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kimi_toolparse import StreamParser, ends_in_reasoning, parse, render
from testsupport.streams import replay

USER = [{"role": "user", "content": "What's the weather in Paris?"}]


def stream(raw: str, **kwargs: Any) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """The deltas a server sends (role first), one character per feed, and the final OpenAI view."""
    parser = StreamParser(**kwargs)
    deltas = [parser.role_delta()]
    events = []
    for ch in raw:
        events += parser.feed(ch)
    events += parser.close()
    deltas += [d for d in (e.to_openai() for e in events) if d is not None]
    return deltas, parser.message.to_openai()


def test_role_delta_is_the_first_chunk_of_an_openai_stream() -> None:
    deltas, view = stream("Hello.")
    assert deltas[0] == {"role": "assistant"}
    assert StreamParser.role_delta() is not StreamParser.role_delta()  # a fresh dict: safe to mutate
    rebuilt = replay(_Delta(d) for d in deltas)
    assert rebuilt["role"] == view["role"] == "assistant"


@pytest.mark.parametrize(
    ("raw", "thinking"),
    [("<think></think>Answer.", False), ("</think>Answer.", True), ("<think>", False), ("", True)],
)
def test_empty_reasoning_reaches_the_stream(raw: str, thinking: bool) -> None:
    deltas, view = stream(raw, thinking=thinking)
    assert view["reasoning_content"] == ""
    assert {"reasoning_content": ""} in deltas
    assert replay(_Delta(d) for d in deltas)["reasoning"] == ""


def test_no_reasoning_means_no_reasoning_delta() -> None:
    deltas, view = stream("Answer.")
    assert view["reasoning_content"] is None
    assert not any("reasoning_content" in d for d in deltas)


PIECES = ["<think>", "</think>", "a", " ", "<|tool_call_begin|>", "f:0", "<|tool_call_argument_begin|>", "{}"]


@given(st.lists(st.sampled_from(PIECES), max_size=12).map("".join))
def test_reasoning_deltas_add_up_to_the_view(raw: str) -> None:
    """Rule 1 for reasoning: None exactly when no delta carried it, else the concatenation."""
    for thinking in (False, True):
        deltas, view = stream(raw, thinking=thinking)
        assert replay(_Delta(d) for d in deltas)["reasoning"] == view["reasoning_content"]


class _Delta:
    def __init__(self, d: dict[str, Any]) -> None:
        self.d = d

    def to_openai(self) -> dict[str, Any]:
        return self.d


@pytest.mark.parametrize(
    ("model", "kwargs", "expected"),
    [
        ("kimi-k2-instruct", {}, False),
        ("kimi-k2-thinking", {}, False),
        ("kimi-k2.5", {}, True),
        ("kimi-k2.5", {"thinking": False}, False),
        ("kimi-k2.6", {}, True),
        ("kimi-k2.6", {"thinking": False}, False),
    ],
)
def test_ends_in_reasoning_on_rendered_prompts(model: str, kwargs: dict[str, Any], expected: bool) -> None:
    prompt = render(USER, model=model, **kwargs)
    assert ends_in_reasoning(prompt) is expected


def test_ends_in_reasoning_on_token_ids(vocab: Any) -> None:
    for kwargs, expected in (({}, True), ({"thinking": False}, False)):
        ids = vocab.encode(render(USER, model="kimi-k2.5", **kwargs))
        assert ends_in_reasoning(ids) is expected
        assert ends_in_reasoning(tuple(ids)) is expected
        assert ends_in_reasoning(iter(ids)) is expected


def test_ends_in_reasoning_looks_only_at_the_last_assistant_turn() -> None:
    quoted = "<|im_user|>user<|im_middle|>what does <think> do?<|im_end|>"
    assert not ends_in_reasoning(quoted + "<|im_assistant|>assistant<|im_middle|>")
    assert ends_in_reasoning("<|im_assistant|>assistant<|im_middle|><think>Let me see")
    assert not ends_in_reasoning("<|im_assistant|>assistant<|im_middle|><think>a</think>b")
    assert not ends_in_reasoning("")
    assert ends_in_reasoning([163588, 163606, 1, 2]) and not ends_in_reasoning([163606, 163588])


@pytest.mark.parametrize("bad", [b"<think>", 3, [1.5], ["<think>"]])
def test_ends_in_reasoning_misuse(bad: Any) -> None:
    with pytest.raises(TypeError, match=r"prompt text|token ids must be ints"):
        ends_in_reasoning(bad)


@pytest.mark.parametrize(
    ("stop_reason", "finish_reason"),
    [(None, "tool_calls"), (163586, "tool_calls"), ("stop", "tool_calls"), ("length", "length")],
)
def test_stop_reason_accepts_a_stop_token_id(stop_reason: Any, finish_reason: str) -> None:
    raw = "<|tool_call_begin|>functions.f:0<|tool_call_argument_begin|>{}<|tool_call_end|>"
    message = parse(raw, stop_reason=stop_reason)
    assert message.finish_reason == finish_reason
    assert message.stop_reason == (
        None if stop_reason is None else "stop" if stop_reason == 163586 else stop_reason
    )
    assert parse("Hi.", stop_reason=stop_reason).finish_reason == (
        "length" if stop_reason == "length" else "stop"
    )


def test_unknown_attribute_is_an_attribute_error() -> None:
    import kimi_toolparse

    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        kimi_toolparse.nope  # noqa: B018


MARKERS = [
    "<think>",
    "</think>",
    "<|tool_calls_section_begin|>",
    "<|tool_calls_section_end|>",
    "<|tool_call_begin|>",
    "<|tool_call_argument_begin|>",
    "<|tool_call_end|>",
    "<|im_end|>",
    "[EOS]",
    "<|im_user|>",
    " ",
    "{",
    "}",
    '"',
    ":0",
    "{}",
    "<|tool_call_begin|>f:0<|tool_call_argument_begin|>",
]


@settings(max_examples=600, deadline=None)
@given(st.lists(st.one_of(st.sampled_from(MARKERS), st.just(None)), max_size=16), st.booleans())
def test_no_written_word_is_lost(pieces: list[str | None], thinking: bool) -> None:
    """Rules 2 and 8: every word the model wrote ends up in the content, the reasoning, a call's id or
    arguments, or the text of a diagnostic that removed it; held text included, whatever ends the output
    (prose after arguments is reported but kept, so its diagnostic does not count)."""
    words = [f"q{i}z" for i in range(len(pieces))]
    raw = "".join(words[i] if p is None else p for i, p in enumerate(pieces))
    message = parse(raw, thinking=thinking)
    places = [message.content, message.reasoning or ""]
    places += [c.id + "\x00" + c.arguments for c in message.tool_calls]
    places += [d.text for d in message.diagnostics if d.code.value != "prose_after_arguments"]
    everything = "\x00".join(places)
    for i, p in enumerate(pieces):
        if p is None:
            assert words[i] in everything, (raw, words[i])
