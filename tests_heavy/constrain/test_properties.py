"""Whatever the grammar lets a model write parses, with this project's parser, to calls that pass validation.

A stand-in model walks the grammar with xgrammar's token mask over a small vocabulary (markers as whole
tokens, single characters), choosing at random among the allowed tokens, the way constrained sampling does.
Inside a call's arguments it writes no marker but the call's end, and that only once the arguments are
complete JSON: xgrammar's JSON grammar lets a string hold any text, marker text included (a limit the
README states), and a parser takes that text for a marker.
"""

from __future__ import annotations

import json
import random
from typing import Any

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

import kimi_toolparse as ktp
from tests_heavy.constrain.cases import FORMATS
from tests_heavy.constrain.xgr_helpers import MARKERS, STOP, VOCAB, compiled, xgr

jsonschema = pytest.importorskip("jsonschema")
torch = pytest.importorskip("torch")

TOOLS: list[dict[str, Any]] = [
    {
        "type": "function",
        "function": {
            "name": "search",
            "parameters": {
                "type": "object",
                "properties": {"queries": {"type": "array", "items": {"type": "string"}, "maxItems": 3}},
                "required": ["queries"],
            },
        },
    },
    {
        "type": "function",
        "function": {
            "name": "get_weather",
            "parameters": {
                "type": "object",
                "properties": {
                    "city": {"type": "string", "maxLength": 12},
                    "unit": {"enum": ["C", "F"]},
                    "days": {"type": "integer", "minimum": 1, "maximum": 7},
                },
                "required": ["city"],
                "additionalProperties": False,
            },
        },
    },
    {
        "type": "function",
        "function": {"name": "my.ns-do_thing", "parameters": {"type": "object", "properties": {}}},
    },
    {
        "type": "function",
        "function": {
            "name": "pick",
            "parameters": {
                "type": "object",
                "properties": {"choice": {"anyOf": [{"type": "boolean"}, {"type": "null"}, {"const": 3}]}},
                "required": ["choice"],
            },
        },
    },
]
SCHEMAS = {t["function"]["name"]: t["function"]["parameters"] for t in TOOLS}
MARKER_IDS = [VOCAB.index(m) for m in MARKERS if m != "<|im_end|>"]
CLOSERS = [VOCAB.index(c) for c in '"}]'] + MARKER_IDS
ARG_BEGIN = VOCAB.index("<|tool_call_argument_begin|>")
CALL_END = VOCAB.index("<|tool_call_end|>")


def allowed(matcher: Any, mask: Any) -> list[int]:
    matcher.fill_next_token_bitmask(mask)
    words = mask[0].tolist()
    return [i for i in range(len(VOCAB)) if (words[i // 32] >> (i % 32)) & 1]


def walk(grammar: ktp.ToolGrammar, rng: random.Random, limit: int = 400) -> str | None:
    """A random output the grammar allows, or None when the walk does not stop within ``limit`` tokens."""
    matcher = xgr.GrammarMatcher(compiled(grammar))
    mask = xgr.allocate_token_bitmask(1, len(VOCAB))
    out = ""
    for step in range(limit):
        ok = allowed(matcher, mask)
        assert ok, "the grammar left the model no token"
        if STOP in ok and (len(ok) == 1 or rng.random() < 0.05 or step > limit // 2):
            return out
        begin = out.rfind(VOCAB[ARG_BEGIN])  # markers may also be spelled out character by character
        if begin > out.rfind(VOCAB[CALL_END]):
            done = _complete_json(out[begin + len(VOCAB[ARG_BEGIN]) :])
            ok = [t for t in ok if t not in MARKER_IDS or (t == CALL_END and done)]
            if not ok:
                return None
        markers = [t for t in ok if t in MARKER_IDS]
        closers = [t for t in ok if t in CLOSERS]
        if markers and rng.random() < 0.3:
            token = rng.choice(markers)
        elif closers and step > limit // 3 and rng.random() < 0.7:
            token = rng.choice(closers)
        else:
            token = rng.choice([t for t in ok if t != STOP])
        assert matcher.accept_token(token)
        out += VOCAB[token]
    return None


def _complete_json(text: str) -> bool:
    try:
        json.loads(text)
    except ValueError:
        return False
    return True


@pytest.mark.parametrize("fmt", FORMATS)
@settings(max_examples=50, deadline=None, suppress_health_check=list(HealthCheck), database=None)
@given(
    rng=st.randoms(use_true_random=False),
    history=st.integers(0, 3),
    choice=st.sampled_from(["auto", "required", "none", "get_weather", "pick"]),
    parallel=st.booleans(),
    thinking=st.booleans(),
)
def test_what_the_grammar_allows_parses_to_valid_calls(
    fmt: str, rng: random.Random, history: int, choice: str, parallel: bool, thinking: bool
) -> None:
    messages = [
        {
            "role": "assistant",
            "tool_calls": [{"id": f"c{i}", "function": {"name": "search", "arguments": "{}"}}],
        }
        for i in range(history)
    ]
    tool_choice: Any = choice if choice in ("auto", "required", "none") else {"function": {"name": choice}}
    grammar = ktp.grammar_for(
        TOOLS,
        messages=messages,
        tool_choice=tool_choice,
        parallel_tool_calls=parallel,
        thinking=thinking,
        format=fmt,  # type: ignore[arg-type]
        max_calls=3,
    )
    raw = walk(grammar, rng)
    assume(raw is not None)
    assert raw is not None
    message = ktp.parse(raw, tools=TOOLS, thinking=thinking)
    calls = message.tool_calls
    for k, c in enumerate(calls):
        assert c.complete and not c.arg_begin_missing, (raw, c)
        assert c.id == f"functions.{c.name}:{history + k}", raw
        assert c.name in grammar.tool_names
        jsonschema.Draft202012Validator(SCHEMAS[c.name]).validate(json.loads(c.arguments))
    if choice == "none":
        assert not calls
    elif choice != "auto":
        assert calls and (choice == "required" or {c.name for c in calls} == {choice})
    if not parallel:
        assert len(calls) <= 1
    if thinking:
        assert message.reasoning is not None
    for marker in MARKERS:
        assert marker not in message.content and marker not in (message.reasoning or "")
    assert {d.code.value for d in message.diagnostics} <= {"drifted_id"}, message.diagnostics
