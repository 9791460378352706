"""One call's argument text as it streams: where its JSON value ends, and what follows it.

The rules are docs/format.md#rule-12 (the value's end, unwrapping) and #rule-7 (markers inside a value).

The boundary comes from a scanner that counts brackets of either kind and knows strings and escapes, so
invalid JSON still gets a boundary. Long strings and runs without brackets are skipped by compiled regular
expressions, never character by character in Python.
"""

from __future__ import annotations

import json
import re
from typing import Any

__all__ = ["ArgumentScanner", "decode_json", "unwrap_double_encoded"]

_NONSPACE = re.compile(r"\S")
#: Inside a string: everything up to the closing quote or a backslash that ends the chunk.
_STRING_BODY = re.compile(r'[^"\\]*(?:\\.[^"\\]*)*', re.DOTALL)
#: Outside strings: text without brackets, and whole strings, up to the next bracket or unfinished string.
_OUTSIDE = re.compile(r'(?:[^"{}\[\]]+|"[^"\\]*(?:\\.[^"\\]*)*")*', re.DOTALL)

START, JSON, RAW, TRAILING = range(4)


class ArgumentScanner:
    """Fed the text after ``<|tool_call_argument_begin|>`` piece by piece; releases argument text.

    Leading whitespace is skipped and trailing whitespace held back, so the released pieces add up to the
    stripped arguments. Text after a closed JSON value is kept apart as ``trailing``.
    """

    __slots__ = (
        "depth",
        "escape",
        "in_string",
        "mode",
        "parts",
        "quoted",
        "trailing",
        "trailing_offset",
        "ws",
    )

    def __init__(self) -> None:
        self.mode = START
        self.depth = 0
        self.in_string = False
        self.escape = False
        self.quoted = False
        self.parts: list[str] = []
        self.ws: list[str] = []
        self.trailing: list[str] = []
        self.trailing_offset = -1

    @property
    def in_value(self) -> bool:
        """Inside the argument value, where ``<think>`` and ``[EOS]`` are data (docs/format.md#rule-7).

        The value begins right after ARG_BEGIN, its leading whitespace included, and ends where its JSON
        value closes."""
        return self.mode != TRAILING

    def feed(self, text: str, pos: int, end: int, base: int) -> tuple[int, str]:
        """Consume ``text[pos:end]``; return where it stopped and the argument text to release now.

        It stops early where the value starts or closes, because the markers that count change there.
        """
        mode = self.mode
        if mode == JSON:
            close = self._scan(text, pos, end)
            if close < 0:
                return end, self._release(text[pos:end])
            self.mode = TRAILING
            self.trailing_offset = base + close
            return close, self._release(text[pos:close])
        if mode == RAW:
            return end, self._release(text[pos:end])
        if mode == TRAILING:
            self.trailing.append(text[pos:end])
            return end, ""
        m = _NONSPACE.search(text, pos, end)
        if m is None:
            return end, ""
        i = m.start()
        first = text[i]
        if first == "{" or first == "[":
            self.mode = JSON
        else:
            self.mode = RAW
            self.quoted = first == '"'
        return i, ""

    @property
    def in_json_value(self) -> bool:
        """Inside a JSON value that has begun and not closed: where :meth:`feed_inside` may take text."""
        return self.mode == JSON

    def feed_inside(self, text: str) -> str | None:
        """The parser's fast path (docs/format.md#fast-path), inside a JSON value (:attr:`in_json_value`):
        consume all of ``text`` when it cannot end the value, and return the argument text to release now;
        None, having changed nothing, when the value might end in ``text`` (then :meth:`feed` decides).

        A value ends only at a closing bracket outside a string, so text with neither ``}`` nor ``]``
        cannot end it, and neither can text that stays inside a string (no ``"``). The common token, a
        piece of a long string with no quote or backslash, leaves the scanner as it was.
        """
        if self.in_string and '"' not in text:
            if self.escape or "\\" in text:
                self._escapes_in_string(text)
        elif "}" in text or "]" in text:
            return None
        else:
            self._scan(text, 0, len(text))
        if self.ws or text.rstrip() is not text:
            return self._release(text)
        self.parts.append(text)  # nothing held, nothing to hold: all of it goes out
        return text

    def _escapes_in_string(self, text: str) -> None:
        """Inside a string, text with no quote: only whether it ends in an unfinished escape changes. That
        is so when the run of backslashes it ends with is odd, after the character an escape left pending
        at its start (a run's first backslash escapes the second, and so on)."""
        if self.escape:
            text = text[1:]
        self.escape = (len(text) - len(text.rstrip("\\"))) % 2 == 1

    def _release(self, piece: str) -> str:
        """The piece without its trailing whitespace, which waits: it may turn out to end the arguments.
        Whitespace is kept as a list of pieces, so a long run of it costs no re-copying."""
        body = piece.rstrip()
        if not body:
            if piece:
                self.ws.append(piece)
            return ""
        tail = piece[len(body) :]
        if self.ws:
            body = "".join(self.ws) + body
            self.ws = []
        if tail:
            self.ws.append(tail)
        self.parts.append(body)
        return body

    def _scan(self, text: str, pos: int, end: int) -> int:
        """Advance the bracket scanner over ``text[pos:end]``; the index after the value's end, or -1."""
        depth = self.depth
        i = pos
        while i < end:
            if self.in_string:
                if self.escape:
                    self.escape = False
                    i += 1
                    continue
                i = _STRING_BODY.match(text, i, end).end()  # type: ignore[union-attr]
                if i >= end:
                    break
                if text[i] == '"':
                    self.in_string = False
                    i += 1
                elif i + 1 < end:
                    i += 2
                else:
                    self.escape = True
                    i = end
                continue
            i = _OUTSIDE.match(text, i, end).end()  # type: ignore[union-attr]
            if i >= end:
                break
            c = text[i]
            i += 1
            if c == '"':
                self.in_string = True
            elif c == "{" or c == "[":
                depth += 1
            else:
                depth -= 1
                if depth == 0:
                    self.depth = 0
                    return i
        self.depth = depth
        return -1

    def finish(self) -> tuple[str, str]:
        """The arguments (``{}`` when empty) and the trailing text after a closed value."""
        return "".join(self.parts) or "{}", "".join(self.trailing)


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


class TooDeep(dict):  # type: ignore[type-arg]
    """Stands for valid JSON nested deeper than Python can decode: an empty dict that says so.

    ``json_valid`` does not depend on depth (docs/format.md#rule-12); schema resolution (#rule-11, b) and
    validation count such arguments as a check that cannot complete.
    """

    __slots__ = ("is_object",)

    def __init__(self, is_object: bool) -> None:
        super().__init__()
        self.is_object = is_object


def decode_json(text: str) -> tuple[bool, Any]:
    """Strict JSON: (True, value) or (False, None). NaN and Infinity are not JSON.

    Validity is the grammar's, however deep the value nests or however long its numbers are: where
    ``json.loads`` gives up on valid JSON (its recursion limit, Python's limit on integer digits), a
    stack-based check decides, and the value is (True, TooDeep(...)).
    """
    try:
        return True, json.loads(text, parse_constant=_reject_constant)
    except json.JSONDecodeError:
        return False, None
    except (ValueError, RecursionError):
        if is_json_text(text):
            return True, TooDeep(text.lstrip(" \t\n\r").startswith("{"))
        return False, None


_JSON_TOKEN = re.compile(
    r'[ \t\n\r]*(?:("(?:[^"\\\x00-\x1f]|\\(?:["\\/bfnrt]|u[0-9a-fA-F]{4}))*")'
    r"|(-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?|true|false|null)|([{}\[\]:,]))"
)


def is_json_text(text: str) -> bool:
    """Whether text is one JSON value by the grammar, at any depth (no recursion; for the rare deep case)."""
    stack: list[str] = []  # "{" or "["
    expect = "value"  # value | key | colon | next | end | value_or_close | key_or_close
    pos = 0
    n = len(text)
    while True:
        m = _JSON_TOKEN.match(text, pos)
        if m is None:
            return expect == "end" and text[pos:].strip(" \t\n\r") == ""
        pos = m.end()
        string, scalar, punct = m.group(1), m.group(2), m.group(3)
        if expect in ("value", "value_or_close"):
            if string is not None or scalar is not None:
                expect = "next" if stack else "end"
            elif punct in "{[":
                stack.append(punct)
                expect = "key_or_close" if punct == "{" else "value_or_close"
            elif punct == "]" and expect == "value_or_close":
                stack.pop()
                expect = "next" if stack else "end"
            else:
                return False
        elif expect in ("key", "key_or_close"):
            if string is not None:
                expect = "colon"
            elif punct == "}" and expect == "key_or_close":
                stack.pop()
                expect = "next" if stack else "end"
            else:
                return False
        elif expect == "colon":
            if punct != ":":
                return False
            expect = "value"
        elif expect == "next":
            if punct == ",":
                expect = "key" if stack[-1] == "{" else "value"
            elif punct is not None and punct in "}]" and {"}": "{", "]": "["}[punct] == stack[-1]:
                stack.pop()
                expect = "next" if stack else "end"
            else:
                return False
        else:  # a second value after the end
            return False
        if pos >= n and expect != "end":
            return False


def unwrap_double_encoded(value: Any) -> str | None:
    """The inner text when a JSON string holds a JSON object (K2 sometimes double-encodes), else None."""
    if not isinstance(value, str):
        return None
    ok, inner = decode_json(value)
    return value if ok and isinstance(inner, dict) else None
