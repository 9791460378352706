"""The spec's rules one by one, on the project's own cases (fixtures/parsing/rules.json).

Each case says the exact content, reasoning, calls with their status flags, finish reason, and the
diagnostic codes in order. Every case runs one-shot, one character at a time, and (unless it holds a
bracket spelling that only text mode reads as data) as token ids.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from kimi_toolparse import ParsedMessage, parse
from testsupport.streams import assert_stream_matches, decode_steps, encode, message_dict, run_steps

from ..conftest import FIXTURES

CASES: list[dict[str, Any]] = json.loads((FIXTURES / "parsing" / "rules.json").read_text(encoding="utf-8"))
IDS = [f"rule{c['rule']}-{c['id']}" for c in CASES]


def kwargs(case: dict[str, Any]) -> dict[str, Any]:
    return {"tools": case.get("tools"), "thinking": case.get("thinking", False)}


def check(message: ParsedMessage, case: dict[str, Any]) -> None:
    want = case["expected"]
    assert message.content == want["content"]
    assert message.reasoning == want["reasoning"]
    got = [
        {"index": c.index, "id": c.id, "name": c.name, "arguments": c.arguments, "status": c.status.names}
        for c in message.tool_calls
    ]
    for g, c, w in zip(got, message.tool_calls, want["tool_calls"], strict=False):
        if "problems" in w:  # per-call validation, listed by code where a case states it
            g["problems"] = None if c.problems is None else [p.code.value for p in c.problems]
    assert got == want["tool_calls"]
    assert message.finish_reason == want["finish_reason"]
    assert [d.code.value for d in message.diagnostics] == want["diagnostics"]


def test_every_rule_has_cases() -> None:
    assert {c["rule"] for c in CASES} >= {2, 3, 5, 6, 7, 8, 9, 10, 11, 12}


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_one_shot(case: dict[str, Any]) -> None:
    check(parse(case["raw"], stop_reason=case.get("stop_reason"), **kwargs(case)), case)


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_one_character_at_a_time(case: dict[str, Any]) -> None:
    from kimi_toolparse import StreamParser

    parser = StreamParser(**kwargs(case))
    events = []
    for ch in case["raw"]:
        events += parser.feed(ch)
    events += parser.close(stop_reason=case.get("stop_reason"))
    check(parser.message, case)
    assert_stream_matches(events, parser.message)
    one_shot = parse(case["raw"], stop_reason=case.get("stop_reason"), **kwargs(case))
    assert message_dict(parser.message) == message_dict(one_shot)


TOKEN_CASES = [c for c in CASES if not c.get("text_mode_only") and not c.get("stop_reason")]


@pytest.mark.parametrize("case", TOKEN_CASES, ids=[f"rule{c['rule']}-{c['id']}" for c in TOKEN_CASES])
def test_token_ids(case: dict[str, Any], vocab: Any) -> None:
    message, events = run_steps(decode_steps(vocab, encode(vocab, case["raw"])), **kwargs(case))
    check(message, case)
    assert_stream_matches(events, message)


def test_diagnostics_carry_offset_and_text() -> None:
    raw = "ab<|tool_call_end|>cd<|im_user|>"
    m = parse(raw)
    assert [(d.code.value, d.offset, d.text) for d in m.diagnostics] == [
        ("orphan_marker", 2, "<|tool_call_end|>"),
        ("special_token", 21, "<|im_user|>"),
    ]
    assert raw[2:].startswith("<|tool_call_end|>") and raw[21:].startswith("<|im_user|>")


def test_text_mode_reads_marker_text_as_markers_token_mode_as_data(vocab: Any) -> None:
    """Rule 4: the same text, with and without the ids behind it."""
    value = '{"cmd": "echo <|tool_call_end|> done"}'
    raw = "<|tool_calls_section_begin|><|tool_call_begin|>functions.sh:0<|tool_call_argument_begin|>"
    raw += value + "<|tool_call_end|><|tool_calls_section_end|>"
    as_text = parse(raw)
    assert as_text.tool_calls[0].arguments == '{"cmd": "echo'
    assert not as_text.tool_calls[0].json_valid
    ids = encode(vocab, raw, ['"echo <|tool_call_end|> done"'])
    as_tokens, _ = run_steps([(raw, ids)])
    assert as_tokens.tool_calls[0].arguments == value
    assert as_tokens.tool_calls[0].complete
    assert as_tokens.diagnostics == ()
