"""Differential test against Moonshot's reference parser, on the outputs it handles: one section of
calls with plain ``functions.NAME:IDX`` ids. There both must find the same calls."""

from __future__ import annotations

import json

from hypothesis import given, settings
from hypothesis import strategies as st

from kimi_toolparse import parse
from kimi_toolparse.strategies import json_arguments, plain_text
from testsupport.reference_parser import reference_parse

names = st.from_regex(r"[A-Za-z_][A-Za-z0-9_]{0,24}", fullmatch=True)


@settings(max_examples=200, deadline=None)
@given(
    plain_text(),
    st.lists(st.tuples(names, json_arguments(data_markers=False)), min_size=1, max_size=4),
    st.sampled_from(["", " ", "\n"]),
)
def test_same_calls_as_the_reference_parser(content: str, calls: list[tuple[str, str]], space: str) -> None:
    raw = content + "<|tool_calls_section_begin|>" + space
    for i, (name, arguments) in enumerate(calls):
        raw += f"<|tool_call_begin|>{space}functions.{name}:{i}{space}<|tool_call_argument_begin|>{space}"
        raw += arguments + space + "<|tool_call_end|>" + space
    raw += "<|tool_calls_section_end|>"
    ours = [{"id": c.id, "name": c.name, "arguments": c.arguments} for c in parse(raw).tool_calls]
    assert ours == reference_parse(raw)
    assert [json.loads(c["arguments"]) for c in ours] == [json.loads(a) for _, a in calls]
