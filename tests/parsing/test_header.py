"""The header scanner (``parsing/header.py``) on its own: where the id ends, where split-off arguments
start, and the same answer for any chunking (docs/format.md#rule-6)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kimi_toolparse import parse
from kimi_toolparse.parsing.header import HeaderScanner
from kimi_toolparse.strategies import chunkings
from kimi_toolparse.tokens import IM_USER, KIND_BY_TEXT
from testsupport.streams import decode_steps, encode, message_dict, run_steps, run_text


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


def held(text: str, marks: Sequence[tuple[str, bool]]) -> HeaderScanner:
    """A header whose arguments split off after the id, with marks held between pieces of ``text``:
    ``text`` is cut at each ``|``, and one mark (its spelling, and whether it is data) goes in each cut."""
    scanner = HeaderScanner()
    pieces = text.split("|")
    i = scanner.feed(pieces[0], 0, len(pieces[0]))
    assert i >= 0
    scanner.append(pieces[0][i:])
    for (literal, data), piece in zip(marks, pieces[1:], strict=True):
        scanner.hold(KIND_BY_TEXT[literal], literal, 0, data)
        scanner.append(piece)
    return scanner


def test_held_marks_are_never_header_text() -> None:
    scanner = held("functions.f:0 Berlin|x|", [("[PAD]", True), ("<|im_user|>", False)])
    assert scanner.text() == "functions.f:0 Berlinx"
    # for diagnostics, the header as written keeps what was read as argument data
    assert scanner.written() == "functions.f:0 Berlin[PAD]x"
    assert scanner.turn_end() == -1


def test_cut_at_an_end_of_turn_spelling() -> None:
    marks = [("</think>", True), ("<|im_user|>", False), ("[EOS]", True), ("[PAD]", True)]
    scanner = held("functions.f:0 a|b|c|d|e", marks)
    n = scanner.turn_end()
    assert n == 2
    # the split-off arguments up to the spelling, with the data read in them; the rest as written
    assert scanner.cut(n) == ("a</think>bc", "d[PAD]e")
    assert [(m.literal, m.data) for m in scanner.marks] == [("</think>", True), ("<|im_user|>", False)]
    assert scanner.text() == "functions.f:0 abc"
    assert scanner.written() == "functions.f:0 a</think>bc"
    # a bracket spelling before it was a marker, as its id would be: the header reached ARG_BEGIN
    scanner = held("functions.f:0 a|b|c", [("[UNK]", True), ("[EOS]", True)])
    assert scanner.cut(scanner.turn_end()) == ("ab", "c")
    assert [(m.literal, m.data) for m in scanner.marks] == [("[UNK]", False)]


def test_only_an_end_of_turn_read_as_data_can_end_the_turn_later() -> None:
    assert held("f:0 a|b", [("[EOT]", True)]).turn_end() == 0
    assert held("f:0 a|b", [("[PAD]", True)]).turn_end() == -1


#: Marker spellings that do not close a header (``<|im_end|>`` would: then ARG_BEGIN never comes).
SPELLINGS = st.sampled_from(["[PAD]", "[UNK]", "[BOS]", "[EOS]", "[EOT]", "<think>", "</think>", IM_USER])
#: Text after the id; no value closes in it, so every spelling there stays inside the split-off value until
#: ARG_BEGIN comes (after a closed value the bracket spellings are markers in both modes: see rules.json).
PIECES = st.sampled_from(["x", " ", "Berlin", '{"a": "', '"', "1", "\n"])


@settings(max_examples=150, deadline=None)
@given(data=st.data())
def test_a_header_reaching_arg_begin_reads_markers_as_token_ids_do(data: st.DataObject, vocab: Any) -> None:
    """Rule 7: in a header that reaches ARG_BEGIN, every marker spelling after the id is a marker, so text
    mode gives what token ids give, and the id never holds a marker spelling."""
    body = "".join(data.draw(st.lists(st.one_of(SPELLINGS, PIECES), max_size=8)))
    raw = "<|tool_call_begin|>functions.f:0 " + body + '<|tool_call_argument_begin|>{"a": 1}<|tool_call_end|>'
    as_text = parse(raw)
    as_ids, _ = run_steps(decode_steps(vocab, encode(vocab, raw)))
    assert message_dict(as_text) == message_dict(as_ids)
    assert [d.code for d in as_text.diagnostics] == [d.code for d in as_ids.diagnostics]
    for call in as_text.tool_calls:
        assert not any(s in call.id for s in ("[PAD]", "[UNK]", "[BOS]", "[EOS]", "[EOT]", "think>", "<|"))
    chars, _ = run_text(list(raw))
    assert message_dict(chars) == message_dict(as_text)
