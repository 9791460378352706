"""The ``functions.NAME:IDX`` helpers in ``kimi_toolparse.call_ids``: one rule each, and round trips."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kimi_toolparse.call_ids import CALL_ID_PREFIX, format_call_id, split_call_id, with_prefix


def test_format_writes_the_trained_form() -> None:
    assert format_call_id("get_weather", 0) == "functions.get_weather:0"
    assert format_call_id("my.ns.do_thing", 12) == "functions.my.ns.do_thing:12"


@pytest.mark.parametrize(("name", "index"), [("", 0), (None, 0), ("f", -1), ("f", True), ("f", 1.0)])
def test_format_refuses_misuse_with_a_message(name: object, index: object) -> None:
    with pytest.raises(ValueError, match="call id"):
        format_call_id(name, index)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("call_id", "want"),
    [
        ("functions.get_weather:0", ("get_weather", "0")),
        ("functions.a:b:3", ("a:b", "3")),  # the split falls on the last colon before digits
        ("functions.my.ns.do_thing:007", ("my.ns.do_thing", "007")),
        ("functions.functions.f:1", ("functions.f", "1")),  # one prefix removed
        ("functions.:17", None),  # no name
        ("functions.get_weather:abc", None),
        ("functions.get_weather:1²", None),  # digits are ASCII digits
        ("functions.get_weather", None),
        ("get_weather:0", None),  # the prefix is required by default
        ("functionsexec5", None),
    ],
)
def test_split(call_id: str, want: tuple[str, str] | None) -> None:
    assert split_call_id(call_id) == want


def test_split_without_the_prefix_and_with_huge_counters() -> None:
    assert split_call_id("get_weather:0", require_prefix=False) == ("get_weather", "0")
    assert split_call_id(":0", require_prefix=False) is None
    huge = "9" * 10_000  # more digits than int() converts: must not raise
    assert split_call_id(f"functions.f:{huge}") == ("f", huge)


def test_with_prefix_adds_it_once() -> None:
    assert with_prefix("search:0") == "functions.search:0"
    assert with_prefix("functions.search:0") == "functions.search:0"


@settings(max_examples=200, deadline=None)
@given(name=st.text(min_size=1), index=st.integers(min_value=0, max_value=10**12))
def test_split_inverts_format(name: str, index: int) -> None:
    call_id = format_call_id(name, index)
    assert call_id.startswith(CALL_ID_PREFIX)
    assert split_call_id(call_id) == (name, str(index))
    assert with_prefix(call_id) == call_id
