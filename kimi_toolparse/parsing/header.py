"""A call header as it streams: where its id ends, and whether arguments follow it (docs/format.md#rule-6).

The header is the text after ``<|tool_call_begin|>``. When ``<|tool_call_argument_begin|>`` is missing, the
model often writes the arguments straight after the id (``functions.f:0 {"a": 1}``); the scanner says where
such arguments would start, so the parser can read them as arguments until an argument marker proves the
whole header was the id. Each piece is searched with compiled regular expressions, never per character.

A marker met after the id, once such arguments have begun, is held in the header as a :class:`HeaderMark`:
whether it was noise or data is known only when the header closes (docs/format.md#rule-7).
"""

from __future__ import annotations

import re
from typing import NamedTuple

from ..tokens import Kind

__all__ = ["HeaderMark", "HeaderScanner"]

_NONSPACE = re.compile(r"\S")
#: Where a header's id ends when ARG_BEGIN is missing (docs/format.md#rule-6).
_ID_STOP = re.compile(r"[\s{\[]")
_THINK_TAGS = (Kind.THINK_BEGIN, Kind.THINK_END)
# Phases: leading whitespace, the id, whitespace after the id.
_LEAD, _ID, _GAP = 0, 1, 2


class HeaderMark(NamedTuple):
    """A marker after a header's id, decided when the header closes (docs/format.md#rule-7)."""

    kind: Kind
    literal: str
    offset: int
    #: Read as data of the split-off arguments meanwhile: it is data if ARG_BEGIN never comes.
    data: bool
    #: How many header pieces came before it.
    at: int


class HeaderScanner:
    """The header text read so far, the phase its scan is in (before, inside or after the id), and the
    markers held after the id."""

    __slots__ = ("_args_at", "_parts", "_phase", "marks")

    def __init__(self) -> None:
        self._parts: list[str] = []
        self._phase = _LEAD
        #: Where the split-off arguments begin among the pieces.
        self._args_at = -1
        self.marks: list[HeaderMark] = []

    def feed(self, text: str, pos: int, end: int) -> int:
        """Read ``text[pos:end]``; where arguments start after the id, or -1 when all of it is header.

        Arguments start at a ``{`` or ``[`` that ends the id, or at the first non-space after the
        whitespace that ends it. Text before that point is kept as header; the caller reads the rest.
        """
        i = pos
        if self._phase == _LEAD:
            m = _NONSPACE.search(text, i, end)
            if m is None:
                self._parts.append(text[pos:end])
                return -1
            i = m.start()
            self._phase = _ID
        if self._phase == _ID:
            m = _ID_STOP.search(text, i, end)
            if m is None:
                self._parts.append(text[pos:end])
                return -1
            i = m.start()
            if text[i] != "{" and text[i] != "[":
                self._phase = _GAP
        if self._phase == _GAP:
            m = _NONSPACE.search(text, i, end)
            if m is None:
                self._parts.append(text[pos:end])
                return -1
            i = m.start()
        self._parts.append(text[pos:i])
        self._args_at = len(self._parts)
        return i

    def append(self, piece: str) -> None:
        """Keep text read as arguments after the id: it is header too if an argument marker still comes."""
        self._parts.append(piece)

    def hold(self, kind: Kind, literal: str, offset: int, data: bool) -> None:
        """Keep a marker met after the id until the header closes; it is never header text (#rule-7)."""
        self.marks.append(HeaderMark(kind, literal, offset, data, len(self._parts)))

    def turn_end(self) -> int:
        """The position among :attr:`marks` of the first end-of-turn spelling read as data, or -1.

        If the header reaches ARG_BEGIN after all, that spelling was a header's marker: the turn ended there.
        """
        for n, mark in enumerate(self.marks):
            if mark.kind is Kind.END_OF_TURN and mark.data:
                return n
        return -1

    def cut(self, n: int) -> tuple[str, str]:
        """End the header at ``marks[n]``: (the split-off argument text before it with its data marks, the
        text after it as written). The header keeps only what came before the mark, marks included.

        The header reached ARG_BEGIN, so the bracket spellings before the mark were markers too (they stay
        with ``data`` false); think tags stay data of the arguments, as their ids would (#rule-7).
        """
        marks = self.marks
        at = marks[n].at
        self.marks = [m._replace(data=False) if m.kind not in _THINK_TAGS else m for m in marks[:n]]
        args = self._interleave(self._args_at, at, self.marks, data_only=True)
        after = self._interleave(at, len(self._parts), marks[n + 1 :], data_only=False)
        del self._parts[at:]
        return args, after

    def _interleave(self, lo: int, hi: int, marks: list[HeaderMark], *, data_only: bool) -> str:
        """The pieces ``lo:hi`` with the marks' text where each was met."""
        out: list[str] = []
        i = lo
        for mark in marks:
            if data_only and not mark.data:
                continue
            out += self._parts[i : mark.at]
            i = max(i, mark.at)
            out.append(mark.literal)
        out += self._parts[i:hi]
        return "".join(out)

    def text(self) -> str:
        """The whole header so far, stripped, without the markers held in it: the call id once the argument
        marker came."""
        return "".join(self._parts).strip()

    def written(self) -> str:
        """The header as written, with the markers read as argument data, stripped (for diagnostics)."""
        return self._interleave(0, len(self._parts), self.marks, data_only=True).strip()

    @staticmethod
    def split(header: str) -> tuple[str, str]:
        """A stripped header that never reached the argument marker, as ``(id, rest)`` (#rule-6's split)."""
        m = _ID_STOP.search(header)
        if m is None:
            return header, ""
        return header[: m.start()], header[m.start() :]
