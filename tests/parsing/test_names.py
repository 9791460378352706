"""Function names from call ids (``parsing/names.py``) on their own (docs/format.md#rule-10, #rule-11)."""

from __future__ import annotations

import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kimi_toolparse.call_ids import format_call_id, split_call_id
from kimi_toolparse.parsing.names import name_from_drifted_id, name_from_id


@pytest.mark.parametrize(
    ("call_id", "name"),
    [
        ("functions.get_weather:0", "get_weather"),
        ("functions.my.ns.do_thing:0", "my.ns.do_thing"),  # dots are kept
        ("functions.a:b:3", "a:b"),  # the split is on the last colon that only digits follow
        ("get_weather:0", "get_weather"),  # the prefix is optional
        ("  functions.f:1\n", "f"),  # surrounding whitespace is removed
        ("functions.mcp__server__tool-x:12", "mcp__server__tool-x"),
        ("functions.functions.f:1", "functions.f"),  # one prefix is removed, not more
        ("functions.:17", None),  # nothing left
        ("functions.get weather:0", None),  # whitespace inside
        ("functions.get_weather:abc", None),  # drifted
        ("functions.get_weather", None),
        ("functionsexec5", None),
        ("call_3", None),
        ("0", None),
    ],
)
def test_name_from_id(call_id: str, name: str | None) -> None:
    assert name_from_id(call_id) == name


DECLARED = {"exec", "get_weather", "search"}


@pytest.mark.parametrize(
    ("call_id", "name"),
    [
        ("functionsexec5", "exec"),
        ("functions_get_weather_1", "get_weather"),
        ("functions.search", "search"),
        ("search_2", "search"),
        ("get_weather:7", "get_weather"),
        ("Search_2", None),  # case-sensitive
        ("call_3", None),  # names nothing declared
        ("toolu_01abc", None),
        ("0", None),
    ],
)
def test_name_from_drifted_id(call_id: str, name: str | None) -> None:
    assert name_from_drifted_id(call_id, DECLARED) == name


def test_a_declared_name_ending_in_digits_is_tried_with_its_counter_too() -> None:
    assert name_from_drifted_id("functions_v2", {"v2"}) == "v2"
    assert name_from_drifted_id("functions_v2", {"v"}) == "v"


NAMES = st.text(st.sampled_from("abcXYZ019_.-:"), min_size=1).filter(lambda n: any(c.isalnum() for c in n))


@settings(max_examples=200, deadline=None)
@given(name=NAMES, index=st.integers(min_value=0, max_value=10**6))
def test_the_canonical_form_gives_its_name_back(name: str, index: int) -> None:
    assert name_from_id(format_call_id(name, index)) == name


IDS = st.lists(st.sampled_from(["functions.", "f", ".", ":", "0", "7", " ", "\n", "_", "é"]), max_size=12)


@settings(max_examples=300, deadline=None)
@given(call_id=IDS.map("".join))
def test_names_agree_with_the_forms_split(call_id: str) -> None:
    """Rule 10 reads the same NAME as ``call_ids.split_call_id``, plus its checks on the name."""
    name = name_from_id(call_id)
    split = split_call_id(call_id.strip(), require_prefix=False)
    if name is not None:
        assert split is not None and split[0] == name
    elif split is not None:
        assert any(c.isspace() for c in split[0]) or not any(c.isalnum() or c == "_" for c in split[0])


#: Rule 10 as a regular expression, independent of ``call_ids``: the greedy group puts the split on the LAST
#: ``:`` that only ASCII digits follow; one leading ``functions.`` is removed from the name.
_RULE_10 = re.compile(r"(?:functions\.)?(.*):[0-9]+", re.DOTALL)


@settings(max_examples=300, deadline=None)
@given(call_id=IDS.map("".join))
def test_names_agree_with_rule_10_written_as_a_regex(call_id: str) -> None:
    m = _RULE_10.fullmatch(call_id.strip())
    want = None
    if m is not None and m.group(1) and not any(c.isspace() for c in m.group(1)):
        want = m.group(1) if any(c.isalnum() or c == "_" for c in m.group(1)) else None
    assert name_from_id(call_id) == want
