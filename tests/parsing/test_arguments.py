"""The argument scanner (``parsing/arguments.py``) on its own: where a JSON value ends, what is released
when, and the same answer for any chunking (docs/format.md#rule-12)."""

from __future__ import annotations

import json
from collections.abc import Sequence

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kimi_toolparse.parsing.arguments import ArgumentScanner, decode_json, unwrap_double_encoded
from kimi_toolparse.strategies import json_arguments


def scan(chunks: Sequence[str]) -> tuple[list[str], str, str, int, bool]:
    """Feed the chunks as the parser does; (released pieces, arguments, trailing, trailing offset, in_value
    at the end)."""
    scanner = ArgumentScanner()
    released: list[str] = []
    base = 0
    for chunk in chunks:
        pos = 0
        while pos < len(chunk):
            pos, out = scanner.feed(chunk, pos, len(chunk), base)
            if out:
                released.append(out)
        base += len(chunk)
    arguments, trailing = scanner.finish()
    return released, arguments, trailing, scanner.trailing_offset, scanner.in_value


def whole(text: str) -> tuple[str, str, int]:
    _, arguments, trailing, offset, _ = scan([text])
    return arguments, trailing, offset


@pytest.mark.parametrize(
    ("text", "arguments", "trailing"),
    [
        ("", "{}", ""),  # empty means {}
        ("   \n ", "{}", ""),
        (' {"city": "Rome"} ', '{"city": "Rome"}', " "),  # what follows is kept raw: the parser decides
        ('{"a": "}"} and then prose', '{"a": "}"}', " and then prose"),  # brackets in strings do not count
        ('{"a": "\\"}"}x', '{"a": "\\"}"}', "x"),  # nor escaped quotes
        ('[1, {"b": [2]}]}', '[1, {"b": [2]}]', "}"),  # either kind of bracket nests
        ('{"a": [1, 2', '{"a": [1, 2', ""),  # a value that never closes is taken whole
        ('"{\\"a\\": 1}"  ', '"{\\"a\\": 1}"', ""),  # not { or [: taken whole, stripped
        ("ls -la  ", "ls -la", ""),
    ],
)
def test_where_the_arguments_end(text: str, arguments: str, trailing: str) -> None:
    got_arguments, got_trailing, _ = whole(text)
    assert (got_arguments, got_trailing) == (arguments, trailing)


def test_the_trailing_offset_is_where_the_value_closed() -> None:
    text = '  {"a": 1} tail'
    _, trailing, offset = whole(text)
    assert offset == text.index("}") + 1 and text[offset:] == trailing
    assert whole("{}")[2] == 2
    assert whole("raw")[2] == -1  # no JSON value, no trailing part


def test_in_value_follows_the_value() -> None:
    assert scan(['{"cmd": "<think>'])[4] is True  # inside the value: markers there are data (rule 7)
    assert scan(['{"cmd": 1} '])[4] is False  # after it: markers again
    assert scan(["   "])[4] is True  # the value starts right after ARG_BEGIN, whitespace included (rule 7)
    assert scan(["echo"])[4] is True  # raw arguments are a value to their end


def test_trailing_whitespace_waits_until_it_is_known_not_to_end_the_arguments() -> None:
    released, arguments, *_ = scan(['{"a": ', "  ", " 1}"])
    assert "".join(released) == arguments == '{"a":    1}'
    released, arguments, *_ = scan(["echo  ", "  "])
    assert released == ["echo"] and arguments == "echo"


@settings(max_examples=300, deadline=None)
@given(text=st.one_of(json_arguments(), st.text()), data=st.data())
def test_any_chunking_gives_the_same_result(text: str, data: st.DataObject) -> None:
    cuts = sorted(data.draw(st.sets(st.integers(min_value=1, max_value=max(len(text) - 1, 1)))))
    cuts = [c for c in cuts if c < len(text)]
    chunks = [text[i:j] for i, j in zip([0, *cuts], [*cuts, len(text)], strict=True)]
    released, arguments, trailing, offset, in_value = scan(chunks)
    released_whole, *rest = scan([text])
    assert (arguments, trailing, offset, in_value) == tuple(rest)
    assert (
        "".join(released)
        == "".join(released_whole)
        == (arguments if arguments != "{}" or text.strip() else "")
    )


@settings(max_examples=200, deadline=None)
@given(encoded=json_arguments(), tail=st.text(max_size=20))
def test_a_json_object_ends_where_json_says(encoded: str, tail: str) -> None:
    assert isinstance(json.loads(encoded), dict)
    arguments, trailing, offset = whole(" " + encoded + tail)
    assert arguments == encoded and trailing == tail and offset == len(encoded) + 1


def test_decode_json_is_strict() -> None:
    assert decode_json('{"a": 1}') == (True, {"a": 1})
    assert decode_json("NaN") == (False, None)
    assert decode_json('{"a": Infinity}') == (False, None)
    assert decode_json("[" * 100_000) == (False, None)  # never raises, however deep


def test_unwrap_double_encoded_takes_one_level_of_objects_only() -> None:
    assert unwrap_double_encoded('{"a": 1}') == '{"a": 1}'
    assert unwrap_double_encoded("[1]") is None
    assert unwrap_double_encoded('"{}"') is None
    assert unwrap_double_encoded({"a": 1}) is None


@settings(max_examples=500, deadline=None)
@given(text=st.text("\\ab\n ", min_size=1, max_size=12), escape=st.booleans())
def test_escapes_in_a_string_are_counted_as_the_scanner_reads_them(text: str, escape: bool) -> None:
    """The fast path's shortcut inside a string (text with no quote) leaves the escape state where the
    character-by-character scanner does (docs/format.md#fast-path)."""
    counted, scanned = ArgumentScanner(), ArgumentScanner()
    for scanner in (counted, scanned):
        scanner.feed('{"k": "', 0, 1, 0)
        scanner.feed('{"k": "', 1, 7, 0)
        scanner.escape = escape
    assert counted.in_json_value and counted.in_string
    counted._escapes_in_string(text)
    assert scanned._scan(text, 0, len(text)) == -1
    assert (counted.escape, counted.in_string, counted.depth) == (scanned.escape, True, scanned.depth)
