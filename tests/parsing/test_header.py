"""The header scanner (``parsing/header.py``) on its own: where the id ends, where split-off arguments
start, and the same answer for any chunking (docs/format.md#rule-6)."""

from __future__ import annotations

from collections.abc import Sequence

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kimi_toolparse.parsing.header import HeaderScanner
from kimi_toolparse.strategies import chunkings


def scan(chunks: Sequence[str]) -> tuple[str, int, str]:
    """Feed the chunks until arguments start, as the parser does in HEADER; (header text, absolute offset
    where arguments start or -1, the text from there on)."""
    scanner = HeaderScanner()
    base = 0
    for n, chunk in enumerate(chunks):
        i = scanner.feed(chunk, 0, len(chunk))
        if i >= 0:
            return scanner.text(), base + i, chunk[i:] + "".join(chunks[n + 1 :])
        base += len(chunk)
    return scanner.text(), -1, ""


@pytest.mark.parametrize(
    ("text", "header", "start"),
    [
        ("functions.get_weather:0", "functions.get_weather:0", -1),
        ("  functions.f:3  ", "functions.f:3", -1),
        ("", "", -1),
        ("   \n ", "", -1),
        # rule 6's examples: ARG_BEGIN forgotten, the arguments written after the id
        ("functions.f:3 {}", "functions.f:3", 14),
        ('functions.get_weather:0{"city": "Paris"}', "functions.get_weather:0", 23),
        ("functions.f:0 [1]", "functions.f:0", 14),
        # anything but whitespace after the id's gap counts: the parser decides later what it was
        ("functions.f:0 and more", "functions.f:0", 14),
        ("\n functions.f:0\n\n{", "functions.f:0", 17),
    ],
)
def test_where_arguments_start(text: str, header: str, start: int) -> None:
    got_header, got_start, rest = scan([text])
    assert (got_header, got_start) == (header, start)
    assert rest == (text[start:] if start >= 0 else "")


def test_arguments_read_after_the_id_stay_header_text() -> None:
    scanner = HeaderScanner()
    text = 'functions.f:0 {"a": 1} '
    i = scanner.feed(text, 0, len(text))
    scanner.append(text[i:])
    assert scanner.text() == 'functions.f:0 {"a": 1}'
    assert HeaderScanner.split(scanner.text()) == ("functions.f:0", ' {"a": 1}')


@pytest.mark.parametrize(
    ("header", "split"),
    [
        ("functions.f:3", ("functions.f:3", "")),
        ("functions.f:3 {}", ("functions.f:3", " {}")),
        ('functions.get_weather:0{"city": "Paris"}', ("functions.get_weather:0", '{"city": "Paris"}')),
        ("get_weather:0\t[1, 2]", ("get_weather:0", "\t[1, 2]")),
        ("", ("", "")),
    ],
)
def test_split(header: str, split: tuple[str, str]) -> None:
    assert HeaderScanner.split(header) == split


_HEADER_CHARS = st.sampled_from(["functions.f:0", "get_weather", ":", "1", " ", "\n", "{", "[", '"a"', "}"])


@settings(max_examples=150, deadline=None)
@given(st.data())
def test_same_answer_for_any_chunking(data: st.DataObject) -> None:
    text = "".join(data.draw(st.lists(_HEADER_CHARS, max_size=10)))
    chunks = data.draw(chunkings(text))
    assert scan(chunks) == scan([text])


@settings(max_examples=100, deadline=None)
@given(st.data())
def test_the_header_is_the_stripped_text_before_the_arguments(data: st.DataObject) -> None:
    text = "".join(data.draw(st.lists(_HEADER_CHARS, max_size=10)))
    header, start, _ = scan(data.draw(chunkings(text)))
    assert header == (text if start < 0 else text[:start]).strip()
    if start >= 0:
        assert not any(c.isspace() for c in header)  # the id, possibly empty (``{`` right away)
        assert header == HeaderScanner.split(text.strip())[0]
