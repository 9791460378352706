"""A call header as it streams: where its id ends, and whether arguments follow it (docs/format.md#rule-6).

The header is the text after ``<|tool_call_begin|>``. When ``<|tool_call_argument_begin|>`` is missing, the
model often writes the arguments straight after the id (``functions.f:0 {"a": 1}``); the scanner says where
such arguments would start, so the parser can read them as arguments until an argument marker proves the
whole header was the id. Each piece is searched with compiled regular expressions, never per character.
"""

from __future__ import annotations

import re

__all__ = ["HeaderScanner"]

_NONSPACE = re.compile(r"\S")
#: Where a header's id ends when ARG_BEGIN is missing (docs/format.md#rule-6).
_ID_STOP = re.compile(r"[\s{\[]")
# Phases: leading whitespace, the id, whitespace after the id.
_LEAD, _ID, _GAP = 0, 1, 2


class HeaderScanner:
    """The header text read so far, and the phase its scan is in (before, inside or after the id)."""

    __slots__ = ("_parts", "_phase")

    def __init__(self) -> None:
        self._parts: list[str] = []
        self._phase = _LEAD

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
        return i

    def append(self, piece: str) -> None:
        """Keep text read as arguments after the id: it is header too if an argument marker still comes."""
        self._parts.append(piece)

    def text(self) -> str:
        """The whole header so far, stripped: the call id once the argument marker came."""
        return "".join(self._parts).strip()

    @staticmethod
    def split(header: str) -> tuple[str, str]:
        """A stripped header that never reached the argument marker, as ``(id, rest)`` (#rule-6's split)."""
        m = _ID_STOP.search(header)
        if m is None:
            return header, ""
        return header[: m.start()], header[m.start() :]
