"""Every quirk strategy's expected message is what the parser returns: one shot, in chunks, as token ids."""

from __future__ import annotations

import json
import re

import pytest
from hypothesis import HealthCheck, Phase, find, given, settings
from hypothesis import strategies as st

from kimi_toolparse import StreamParser, parse, render
from kimi_toolparse.strategies import (
    CATEGORIES,
    QUIRKS,
    Case,
    conversations,
    marker_cuts,
    quirky_outputs,
    token_steps,
    tool_specs,
)
from kimi_toolparse.tokens import KIND_BY_TEXT
from testsupport.streams import assert_stream_matches

from ..conftest import VECTORS

_SETTINGS = settings(max_examples=30, deadline=None, database=None, suppress_health_check=list(HealthCheck))
TEXT_QUIRKS = [q for q in QUIRKS if q != "markers_in_strings"]

#: Double-encoded arguments padded inside the string: stripped after unwrapping.
_PADDED_DOUBLE_ENCODING = re.compile(r'<\|tool_call_argument_begin\|>"(?: |\\n)')


def padded_double_encoding(case: Case) -> bool:
    return case.quirk == "double_encoded" and bool(_PADDED_DOUBLE_ENCODING.search(case.raw))


@pytest.mark.parametrize("quirk", TEXT_QUIRKS)
def test_expected_message_matches_parser_in_text(quirk: str) -> None:
    @_SETTINGS
    @given(quirky_outputs([quirk]), st.data())
    def check(case: Case, data: st.DataObject) -> None:
        assert case.quirk == quirk
        assert parse(case.raw, tools=case.tools, thinking=case.thinking).to_openai() == case.expected
        parser = StreamParser(tools=case.tools, thinking=case.thinking)
        events = []
        for chunk in data.draw(marker_cuts(case.raw)):
            events += parser.feed(chunk)
        events += parser.close()
        assert parser.message.to_openai() == case.expected
        assert_stream_matches(events, parser.message)

    check()


@pytest.mark.parametrize("quirk", QUIRKS)
def test_expected_message_matches_parser_with_token_ids(quirk: str, vocab) -> None:  # type: ignore[no-untyped-def]
    @settings(_SETTINGS, max_examples=12)
    @given(quirky_outputs([quirk], token_ids=True), st.data())
    def check(case: Case, data: st.DataObject) -> None:
        ids = case.token_ids(vocab)
        parser = StreamParser(tools=case.tools, thinking=case.thinking)
        for text, step_ids in data.draw(token_steps(ids, vocab)):
            parser.feed(text, step_ids)
        parser.close()
        assert parser.message.to_openai() == case.expected
        by_ids = StreamParser(tools=case.tools, thinking=case.thinking, tokenizer=vocab)
        by_ids.feed_ids(ids)
        by_ids.close()
        assert by_ids.message.to_openai() == case.expected

    check()


def test_padded_double_encoding_is_stripped_after_unwrapping() -> None:
    case = find(quirky_outputs(["double_encoded"]), padded_double_encoding)
    assert parse(case.raw, tools=case.tools, thinking=case.thinking).to_openai() == case.expected


def test_markers_in_strings_differ_in_text_mode() -> None:
    """The token-only quirk is token-only for a reason: as text, its marker text is markup."""
    case = find(quirky_outputs(["markers_in_strings"], token_ids=True), lambda c: True)
    assert case.token_only
    assert parse(case.raw, tools=case.tools, thinking=case.thinking).to_openai() != case.expected


def test_switches_leave_out_what_the_target_cannot_take() -> None:
    @settings(_SETTINGS, max_examples=40)
    @given(quirky_outputs(tools=False, thinking=False))
    def check(case: Case) -> None:
        assert case.tools is None and not case.thinking and not case.token_only

    check()
    with pytest.raises(ValueError, match="unknown quirk 'nope'"):
        quirky_outputs(["nope"])


@pytest.mark.parametrize("quirk", TEXT_QUIRKS)
def test_a_thinking_prompt_draws_every_quirk_inside_reasoning(quirk: str) -> None:
    """``thinking="always"``: the outputs a thinking model's prompt (ending in ``<think>``) leaves, every
    quirk included, each with the message the parser gives for such a prompt."""

    @settings(_SETTINGS, max_examples=15)
    @given(quirky_outputs([quirk], thinking="always"))
    def check(case: Case) -> None:
        assert case.thinking
        assert parse(case.raw, tools=case.tools, thinking=True).to_openai() == case.expected

    check()
    with pytest.raises(ValueError, match="thinking must be"):
        quirky_outputs(thinking="sometimes")  # type: ignore[arg-type]


def test_drifted_ids_without_tools_have_no_name() -> None:
    case = find(
        quirky_outputs(["drifted_id"], tools=False),
        lambda c: "call_" in c.raw or "toolu_" in c.raw,
    )
    assert "tool_calls" not in case.expected
    assert all(c.name is None for c in parse(case.raw).tool_calls)


def test_tool_arguments_satisfy_their_schemas() -> None:
    jsonschema = pytest.importorskip("jsonschema")

    @settings(_SETTINGS, max_examples=40)
    @given(tool_specs(), st.data())
    def check(specs: list, data: st.DataObject) -> None:  # type: ignore[type-arg]
        for spec in specs:
            schema = spec.definition["function"]["parameters"]
            jsonschema.Draft202012Validator.check_schema(schema)
            jsonschema.validate(data.draw(spec.arguments), schema, cls=jsonschema.Draft202012Validator)

    check()


def _cuts_a_marker(chunks: list[str]) -> bool:
    raw, bounds, pos = "".join(chunks), set(), 0
    for c in chunks[:-1]:
        pos += len(c)
        bounds.add(pos)
    spans = [(m.start(), m.end()) for m in re.finditer("|".join(map(re.escape, KIND_BY_TEXT)), raw)]
    return any(a < b < e for a, e in spans for b in bounds)


def test_each_corpus_category_is_reachable_from_some_quirk() -> None:
    with open(VECTORS, encoding="utf-8") as f:
        corpus = {json.loads(line)["category"] for line in f if line.strip()}
    assert corpus == set(CATEGORIES)
    seen: set[str] = set()

    @settings(_SETTINGS, max_examples=400, derandomize=True, phases=[Phase.generate])
    @given(quirky_outputs(token_ids=True), st.data())
    def draw(case: Case, data: st.DataObject) -> None:
        seen.update(case.categories)
        # streaming-splits: reached by the chunkings the fuzzer draws for every case
        if _cuts_a_marker(data.draw(marker_cuts(case.raw))):
            seen.add("streaming-splits")

    draw()
    assert corpus - seen == set(), f"never drawn: {sorted(corpus - seen)}"


def test_conversations_render_with_every_call_and_result() -> None:
    @settings(_SETTINGS, max_examples=25)
    @given(conversations(), st.sampled_from(["kimi-k2-instruct", "kimi-k2-thinking", "kimi-k2.5"]))
    def check(conversation: tuple, model: str) -> None:  # type: ignore[type-arg]
        messages, tools = conversation
        prompt = render(messages, tools, model=model)
        for message in messages:
            for call in message.get("tool_calls") or []:
                assert f"<|tool_call_begin|>{call['id']}<|tool_call_argument_begin|>" in prompt
            if message["role"] == "tool":
                assert f"## Return of {message['tool_call_id']}\n{message['content']}" in prompt

    check()
