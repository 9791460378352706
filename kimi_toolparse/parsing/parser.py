"""The streaming parser: one object that holds the state and runs the table in ``states.py``.

It does no I/O (sans-IO, like h11): ``feed()`` takes text (and, when the server has them, the token ids
behind it) and returns the events it completed. One-shot ``parse()`` is the same machine fed everything at
once (docs/format.md#rule-1). Each feed costs time proportional to the chunk (#rule-2): the scan buffer
only ever holds a possible partial marker; everything held longer is kept in lists and joined once, when
it is decided. The common decode step, text in a field no marker can interrupt, skips the table: after
each step the table takes, ``_open_lane`` says which field the next one may go straight to, and ``feed()``
takes a step in that lane itself, returning what the table would; the rule for the split is
docs/format.md#fast-path.
"""

from __future__ import annotations

import operator
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from ..tokens import (
    DATA_IN_ARGUMENT_VALUE,
    FIRST_SPECIAL_ID,
    KIND_BY_ID,
    KIND_BY_TEXT,
    LAST_SPECIAL_ID,
    MAX_MARKER_LEN,
    SPECIAL_TOKENS,
    TEXT_ONLY_MARKERS,
    Kind,
)
from . import openai_view
from .alignment import align_specials
from .arguments import ArgumentScanner
from .closing import OpenCall, close_call
from .diagnostics import Code, Diagnostic
from .events import (
    ArgumentsDelta,
    ContentDelta,
    Event,
    ReasoningDelta,
    ToolCallEnd,
    ToolCallStart,
    arguments_delta,
    content_delta,
    reasoning_delta,
)
from .header import HeaderMark
from .message import ClosedBy, ParsedMessage, ToolCall, stop_reason_from
from .states import AT_END_OF_OUTPUT, CLOSED_BY_STEP, State, Step, steps_for
from .tools import Tools, as_tools

__all__ = ["StreamParser", "parse"]

# --- Finding markers in text -------------------------------------------------------------------------------
# A finder matches marker-shaped text; a match counts only when it is a known marker (KIND_BY_TEXT).
# The prefix sets say which text at the end of a chunk might still become a marker and must be held back.

_ALL_FINDER = re.compile(r"<\|[a-z_0-9]+\|>|</?think>|\[(?:BOS|EOS|EOT|UNK|PAD)\]")
#: Inside an argument value in text mode: ``<think>`` and the bracket spellings are data (#rule-7).
_VALUE_FINDER = re.compile(r"<\|[a-z_0-9]+\|>")
#: In token-id mode only the spellings that have no id are found in text (docs/format.md#rule-4).
_TOKEN_FINDER = re.compile(r"<\|tool_call_section_(?:begin|end)\|>")


def _prefixes(texts: Iterable[str]) -> frozenset[str]:
    return frozenset(t[:i] for t in texts for i in range(1, len(t)))


_ALL_PREFIXES = _prefixes(KIND_BY_TEXT)
_VALUE_PREFIXES = _prefixes(t for t in KIND_BY_TEXT if t not in DATA_IN_ARGUMENT_VALUE)
_TOKEN_PREFIXES = _prefixes(TEXT_ONLY_MARKERS)

_NONSPACE = re.compile(r"\S")

_TEXT_MODE, _TOKEN_MODE = 1, 2
#: Pieces of decided text joined into one block at a time (bounded memory per character streamed).
_COMPACT = 1024
_NO_SECTION, _EXPLICIT, _IMPLICIT = 0, 1, 2

#: Whether feed() takes the fast path (docs/format.md#fast-path). Tests switch it off to check that the
#: general machine gives the same events and message; it is read where a lane opens, not per step.
FAST_PATH = True
#: The fast path's lanes: the field that the next step, if no marker can be in it, goes straight to.
_NO_LANE, _CONTENT_LANE, _REASONING_LANE, _VALUE_LANE = range(4)
#: The states the lanes serve. CPython 3.11 reads an enum member through its class slowly (as long as the
#: rest of a step), so the code that opens a lane compares against these names.
_CONTENT, _REASONING, _ARGS = State.CONTENT, State.REASONING, State.ARGS


def _ids_list(token_ids: Iterable[int]) -> Sequence[int]:
    """The ids as a sequence of ints; numpy and torch integers are accepted through ``__index__``."""
    if type(token_ids) is list or type(token_ids) is tuple:
        ids: Sequence[int] = token_ids
    elif isinstance(token_ids, (str, bytes)) or not isinstance(token_ids, Iterable):
        raise TypeError(f"token_ids must be a sequence of ints, not {type(token_ids).__name__}")
    else:
        ids = list(token_ids)
    for t in ids:
        if type(t) is not int:
            break
    else:
        return _in_vocabulary(ids)
    out = []
    for t in ids:
        if isinstance(t, bool):
            raise TypeError(f"token_ids must hold ints, found a bool: {t!r}")
        try:
            out.append(operator.index(t))
        except TypeError:
            raise TypeError(f"token_ids must hold ints, found {type(t).__name__}: {t!r}") from None
    return _in_vocabulary(out)


def _in_vocabulary(ids: Sequence[int]) -> Sequence[int]:
    """Ids outside the Kimi vocabulary are API misuse (a wrong tokenizer, or a padding value)."""
    if ids and (min(ids) < 0 or max(ids) > LAST_SPECIAL_ID):
        bad = next(t for t in ids if not 0 <= t <= LAST_SPECIAL_ID)
        raise ValueError(
            f"token id {bad} is outside the Kimi vocabulary (0..{LAST_SPECIAL_ID}); "
            "pass the ids the Kimi tokenizer produced"
        )
    return ids


class _Pieces:
    """Decided text (content or reasoning) as pieces; every _COMPACT pieces are joined into one block, so a
    long stream of small chunks holds a few large strings rather than millions of small ones."""

    __slots__ = ("blocks", "pieces")

    def __init__(self) -> None:
        self.pieces: list[str] = []
        self.blocks: list[str] = []

    def add(self, text: str) -> None:
        pieces = self.pieces
        pieces.append(text)
        if len(pieces) >= _COMPACT:
            self.compact()

    def compact(self) -> None:
        self.blocks.append("".join(self.pieces))
        self.pieces.clear()

    def text(self) -> str:
        return "".join(self.blocks) + "".join(self.pieces)


class StreamParser:
    """Incremental parser for one assistant turn of Kimi K2 output.

    ``tools``: the request's tools (OpenAI shape), to resolve drifted call ids (docs/format.md#rule-11).
    ``thinking``: the prompt ended with ``<think>``, so the output starts inside reasoning.
    ``tokenizer``: a :class:`~kimi_toolparse.KimiVocabulary`, a Kimi model directory or its
    ``tiktoken.model``, or a ``transformers`` tokenizer, for :meth:`feed_ids` (token ids with no text);
    without one, :meth:`feed_ids` decodes with the Kimi vocabulary that ships with the package.
    """

    __slots__ = (
        "_after_end",
        "_after_end_offset",
        "_call",
        "_calls",
        "_closed",
        "_content",
        "_content_visible",
        "_content_ws",
        "_detokenizer",
        "_diagnostics",
        "_events",
        "_has_reasoning",
        "_held",
        "_hold",
        "_ids_lane",
        "_in_think",
        "_message",
        "_mode",
        "_openai_count",
        "_reasoning",
        "_reasoning_sent",
        "_received",
        "_section",
        "_section_text",
        "_section_text_offset",
        "_state",
        "_stop_reason",
        "_text_handlers",
        "_text_lane",
        "_tools",
    )

    def __init__(
        self,
        *,
        tools: Tools | Iterable[Mapping[str, Any]] | None = None,
        thinking: bool = False,
        tokenizer: Any = None,
    ) -> None:
        if not isinstance(thinking, bool):
            raise TypeError(f"thinking must be True or False, not {thinking!r}")
        self._tools = as_tools(tools)
        self._detokenizer: Any = None
        if tokenizer is not None:
            from .detokenize import detokenizer_for

            self._detokenizer = detokenizer_for(tokenizer)
        self._state = State.REASONING if thinking else State.CONTENT
        self._content = _Pieces()
        #: The stream holds back content that is only whitespace so far (its OpenAI view would be None).
        self._content_visible = False
        self._content_ws: list[str] = []
        self._reasoning = _Pieces()
        #: A reasoning block was seen: the message's reasoning is a str, not None.
        self._has_reasoning = thinking
        self._reasoning_sent = False
        self._calls: list[ToolCall] = []
        self._diagnostics: list[Diagnostic] = []
        self._events: list[Event] = []
        self._section = _NO_SECTION
        #: Text between the markers of a section, reported (explicit) or dropped (whitespace) at the marker.
        self._section_text: list[str] = []
        self._section_text_offset = 0
        #: A section interrupted reasoning; text after it is held until decided (docs/format.md#rule-8).
        self._in_think = False
        self._held: list[str] = []
        self._after_end: list[str] = []
        self._after_end_offset = 0
        self._call: OpenCall | None = None
        self._openai_count = 0
        #: A possible partial marker at the end of what was fed.
        self._hold = ""
        self._received = 0
        self._mode = 0
        #: The lane the next step may take in each mode (docs/format.md#fast-path); opened after each step
        #: the table takes, closed by close().
        self._text_lane = _NO_LANE
        self._ids_lane = _NO_LANE
        self._closed = False
        self._stop_reason: str | None = None
        self._message: ParsedMessage | None = None
        self._text_handlers: dict[State, Callable[[str, int, int, int], int]] = {
            State.CONTENT: self._text_content,
            State.REASONING: self._text_reasoning,
            State.SECTION: self._text_section,
            State.HEADER: self._text_header,
            State.HEADER_ARGS: self._text_args,
            State.ARGS: self._text_args,
            State.HELD: self._text_held,
            State.DONE: self._text_done,
        }

    # --- Public API ----------------------------------------------------------------------------------------

    def feed(self, text: str, token_ids: Sequence[int] | None = None) -> list[Event]:
        """Feed the next piece of output; returns the events it completed.

        Pass ``token_ids`` (the ids this piece was decoded from) when you have them: then a marker counts
        only where its id is present, and marker-looking text produced by ordinary tokens is data
        (docs/format.md#rule-4).
        """
        # The fast path (docs/format.md#fast-path): a step in an open lane that no marker can be in goes
        # straight to the lane's field; every other step, and any misuse, goes to the table in _feed().
        if token_ids is None:
            lane = self._text_lane
            if not (lane and type(text) is str and text and "<" not in text):
                return self._feed(text, token_ids)
            if "[" in text and lane != _VALUE_LANE:
                return self._feed(text, token_ids)
        else:
            lane = self._ids_lane
            if not (
                lane
                and type(token_ids) is list  # one ordinary id: the usual decode step
                and len(token_ids) == 1
                and type(token_ids[0]) is int
                and -1 < token_ids[0] < FIRST_SPECIAL_ID
                and type(text) is str
                and text
                and "<" not in text
            ):
                return self._feed(text, token_ids)
        if lane == _VALUE_LANE:
            call = self._call
            assert call is not None
            piece = call.args.feed_inside(text)
            if piece is None:  # the value might end here: the table decides
                return self._feed(text, token_ids)
            self._received += len(text)
            if piece and call.started:
                call.streamed = True
                return [arguments_delta(call.index, call.openai_index, piece)]
            return []
        self._received += len(text)
        # What _Pieces.add does, written out: the method call would cost about 5% of the step.
        if lane == _REASONING_LANE:
            pieces = self._reasoning.pieces
            pieces.append(text)
            if len(pieces) >= _COMPACT:
                self._reasoning.compact()
            self._reasoning_sent = True
            return [reasoning_delta(text)]
        pieces = self._content.pieces
        pieces.append(text)
        if len(pieces) >= _COMPACT:
            self._content.compact()
        return [content_delta(text)]

    def _feed(self, text: str, token_ids: Sequence[int] | None) -> list[Event]:
        """A step through the state table, and the checks of feed()'s arguments."""
        if self._closed:
            raise ValueError("feed() after close(): create a new StreamParser for the next output")
        if not isinstance(text, str):
            raise TypeError(
                f"feed() takes the decoded text as str, not {type(text).__name__}; "
                "to feed token ids without text, use feed_ids()"
            )
        events: list[Event] = []
        self._events = events
        if token_ids is None:
            if text:
                if self._mode != _TEXT_MODE:
                    self._set_mode(_TEXT_MODE)
                self._feed_text(text)
                self._text_lane = self._open_lane()
        else:
            ids = _ids_list(token_ids)
            if text or ids:
                if self._mode != _TOKEN_MODE:
                    self._set_mode(_TOKEN_MODE)
                self._feed_step(text, ids)
                self._ids_lane = self._open_lane()
        return events

    def feed_ids(self, token_ids: Sequence[int]) -> list[Event]:
        """Feed token ids with no text; the parser detokenizes them (UTF-8 split across tokens included)."""
        if self._closed:
            raise ValueError("feed_ids() after close(): create a new StreamParser for the next output")
        if self._detokenizer is None:
            from ..vocab import load_vocabulary
            from .detokenize import detokenizer_for

            self._detokenizer = detokenizer_for(load_vocabulary())
        ids = _ids_list(token_ids)
        events: list[Event] = []
        self._events = events
        if ids:
            self._set_mode(_TOKEN_MODE)
            run: list[int] = []
            for t in ids:
                if FIRST_SPECIAL_ID <= t <= LAST_SPECIAL_ID:
                    if run:
                        self._token_text(self._detokenizer.decode(run))
                        run = []
                    self._token_text(self._detokenizer.flush())
                    literal = SPECIAL_TOKENS[t]
                    self._token_marker(KIND_BY_ID[t], literal, self._received)
                    self._received += len(literal)
                else:
                    run.append(t)
            if run:
                self._token_text(self._detokenizer.decode(run))
            self._ids_lane = self._open_lane()
        return events

    def close(self, *, stop_reason: str | int | None = None) -> list[Event]:
        """End of output: settle everything still open.

        ``stop_reason`` is the engine's finish reason (``"stop"``, ``"length"``, ``"tool_calls"``,
        ``"content_filter"``) or a stop token id (an int, as vLLM reports it: means ``"stop"``); another
        string raises ValueError rather than being guessed.
        """
        reason = stop_reason_from(stop_reason)
        events: list[Event] = []
        if self._closed:
            return events
        self._events = events
        if self._detokenizer is not None:
            self._token_text(self._detokenizer.flush())
        if self._hold:
            self._flush_hold()
        if self._section_text:
            self._flush_section_text()
        for step in AT_END_OF_OUTPUT[self._state]:
            self._run(step, None, "", self._received)
        self._closed = True
        self._text_lane = self._ids_lane = _NO_LANE
        self._stop_reason = reason
        return events

    @property
    def message(self) -> ParsedMessage:
        """The parsed message: complete after close(); before that, what is decided so far."""
        if self._message is not None:
            return self._message
        msg = ParsedMessage.model_construct(
            content=self._content.text(),
            reasoning=self._reasoning.text() if self._has_reasoning else None,
            tool_calls=tuple(self._calls),
            diagnostics=tuple(self._diagnostics),
            stop_reason=self._stop_reason,
        )
        if self._closed:
            self._message = msg
        return msg

    @property
    def closed(self) -> bool:
        return self._closed

    @staticmethod
    def role_delta() -> dict[str, Any]:
        """``{"role": "assistant"}``: send it as the delta of the stream's first chunk, before any event's.

        OpenAI streams carry the role only there; a client's accumulated message (the ``openai`` SDK's
        stream helpers) has no role without it, and the next request built from it is refused.
        """
        return openai_view.role_delta()

    # --- Feeding -------------------------------------------------------------------------------------------

    def _set_mode(self, mode: int) -> None:
        if self._mode != mode:
            if self._mode:
                raise ValueError(
                    "feed() was given token_ids on some calls and not others: pass them always or never"
                )
            self._mode = mode

    def _open_lane(self) -> int:
        """The lane the next step may take, after a step the table took (docs/format.md#fast-path): visible
        content, reasoning, or a call's JSON argument value; none while text is held back."""
        if self._hold or not FAST_PATH:
            return _NO_LANE
        state = self._state
        if state is _ARGS:
            call = self._call
            assert call is not None
            return _VALUE_LANE if call.args.in_json_value else _NO_LANE
        if state is _REASONING:
            return _REASONING_LANE
        if state is _CONTENT and self._content_visible:
            return _CONTENT_LANE
        return _NO_LANE

    def _feed_text(self, chunk: str) -> None:
        hold = self._hold
        base = self._received - len(hold)
        self._received += len(chunk)
        if hold:
            self._hold = ""
        self._scan(hold + chunk, base, 0)

    def _feed_step(self, text: str, ids: Sequence[int]) -> None:
        """One decode step in token-id mode: split the text at the special tokens among the ids."""
        base = self._received
        self._received += len(text)
        if len(ids) == 1 and not FIRST_SPECIAL_ID <= ids[0] <= LAST_SPECIAL_ID:
            self._token_text_at(text, base)
            return
        cursor = 0
        for t, pos, width in align_specials(text, ids):
            if pos > cursor:
                self._token_text_at(text[cursor:pos], base + cursor)
            self._token_marker(KIND_BY_ID[t], SPECIAL_TOKENS[t], base + pos)
            cursor = pos + width
        if cursor < len(text):
            self._token_text_at(text[cursor:], base + cursor)

    def _token_text(self, text: str) -> None:
        if text:
            base = self._received
            self._received += len(text)
            self._token_text_at(text, base)

    def _token_text_at(self, text: str, base: int) -> None:
        hold = self._hold
        if hold:
            self._hold = ""
            self._scan(hold + text, base - len(hold), 0)
        elif "<" in text:
            self._scan(text, base, 0)
        else:
            self._text_all(text, base)

    def _token_marker(self, kind: Kind, literal: str, offset: int) -> None:
        if (
            (kind is Kind.THINK_BEGIN or kind is Kind.THINK_END)
            and self._state is State.ARGS
            and self._call_in_value()
        ):
            # Inside an argument value the think tokens are data, as ids too (docs/format.md#rule-7).
            self._token_text_at(literal, offset)
            return
        if self._hold:
            self._flush_hold()
        self._marker(kind, literal, offset)

    def _flush_hold(self) -> None:
        """A held partial marker that cannot complete any more is ordinary text (docs/format.md#rule-3)."""
        hold = self._hold
        self._hold = ""
        self._text_all(hold, self._received - len(hold))

    def _text_all(self, text: str, base: int) -> None:
        pos, end = 0, len(text)
        while pos < end:
            pos = self._text_handlers[self._state](text, pos, end, base)

    def _scan(self, text: str, base: int, pos: int) -> None:
        """Split text at the markers that count in the current state, and hold back a partial one."""
        n = len(text)
        while pos < n:
            if self._mode == _TOKEN_MODE:
                finder, prefixes = _TOKEN_FINDER, _TOKEN_PREFIXES
            elif self._state is State.ARGS and self._call_in_value():
                finder, prefixes = _VALUE_FINDER, _VALUE_PREFIXES
            else:
                finder, prefixes = _ALL_FINDER, _ALL_PREFIXES
            m = finder.search(text, pos)
            while m is not None and m.group() not in KIND_BY_TEXT:
                m = finder.search(text, m.start() + 1)
            if m is None:
                end = n
                lo = max(pos, n - MAX_MARKER_LEN + 1)
                i = max(text.rfind("<", lo), text.rfind("[", lo))
                if i >= 0 and text[i:] in prefixes:
                    end = i
            else:
                end = m.start()
            if pos < end:
                pos = self._text_handlers[self._state](text, pos, end, base)
                if pos < end:
                    continue  # what counts as a marker changed here: search again
            if m is None:
                self._hold = text[end:]
                return
            self._marker(KIND_BY_TEXT[m.group()], m.group(), base + end)
            pos = m.end()

    def _call_in_value(self) -> bool:
        return self._call is not None and self._call.args.in_value

    # --- Text in each state --------------------------------------------------------------------------------

    def _text_content(self, text: str, pos: int, end: int, base: int) -> int:
        self._emit_content(text[pos:end])
        return end

    def _text_reasoning(self, text: str, pos: int, end: int, base: int) -> int:
        self._emit_reasoning(text[pos:end])
        return end

    def _text_held(self, text: str, pos: int, end: int, base: int) -> int:
        self._held.append(text[pos:end])
        return end

    def _text_done(self, text: str, pos: int, end: int, base: int) -> int:
        if not self._after_end:
            self._after_end_offset = base + pos
        self._after_end.append(text[pos:end])
        return end

    def _text_section(self, text: str, pos: int, end: int, base: int) -> int:
        if self._section == _IMPLICIT:
            # An implicit section ends at the first text after a call that is not whitespace (#rule-6).
            m = _NONSPACE.search(text, pos, end)
            if m is None:
                self._section_text.append(text[pos:end])
                return end
            i = m.start()
            before = "".join(self._section_text) + text[pos:i]
            self._section_text = []
            self._section = _NO_SECTION
            self._state = State.HELD if self._in_think else State.CONTENT
            if before:
                self._free_text(before)
            return i
        if not self._section_text:
            self._section_text_offset = base + pos
        self._section_text.append(text[pos:end])
        return end

    def _text_header(self, text: str, pos: int, end: int, base: int) -> int:
        call = self._call
        assert call is not None
        i = call.header.feed(text, pos, end)
        if i < 0:
            return end
        # Something follows the id: arguments, unless an ARG_BEGIN still comes (docs/format.md#rule-6).
        self._state = State.HEADER_ARGS
        return i

    def _text_args(self, text: str, pos: int, end: int, base: int) -> int:
        call = self._call
        assert call is not None
        stop, piece = call.args.feed(text, pos, end, base)
        if self._state is State.HEADER_ARGS:
            call.header.append(text[pos:stop])
        elif piece and call.started and not call.args.quoted:
            call.streamed = True
            self._events.append(ArgumentsDelta(call.index, call.openai_index, piece))
        return stop

    # --- Output --------------------------------------------------------------------------------------------

    def _emit_content(self, text: str) -> None:
        self._content.add(text)
        if self._content_visible:
            self._events.append(ContentDelta(text))
        elif text.isspace():
            self._content_ws.append(text)
        else:
            self._content_visible = True
            if self._content_ws:
                text = "".join(self._content_ws) + text
                self._content_ws = []
            self._events.append(ContentDelta(text))

    def _emit_reasoning(self, text: str) -> None:
        self._has_reasoning = True
        self._reasoning.add(text)
        self._reasoning_sent = True
        self._events.append(ReasoningDelta(text))

    def _reasoning_known(self) -> None:
        """An empty reasoning block is ``""`` in the view, so the stream says so too (docs/format.md#rule-1):
        once the block is over, an empty delta goes out if no reasoning delta did."""
        if self._has_reasoning and not self._reasoning_sent:
            self._emit_reasoning("")

    def _free_text(self, text: str) -> None:
        """Text outside any section: content, or held while a section may have interrupted reasoning."""
        if self._in_think:
            self._held.append(text)
        else:
            self._emit_content(text)

    def _report(
        self, code: Code, message: str, offset: int, text: str = "", call_index: int | None = None
    ) -> None:
        self._add_diagnostic(Diagnostic(code, message, offset, text, call_index))

    def _add_diagnostic(self, d: Diagnostic) -> None:
        self._diagnostics.append(d)
        self._events.append(d)

    # --- Markers -------------------------------------------------------------------------------------------

    def _marker(self, kind: Kind, literal: str, offset: int) -> None:
        if self._section_text:
            self._flush_section_text()
        if self._state is State.HEADER_ARGS and self._held_in_header(kind, literal, offset):
            return
        for step in steps_for(self._state, kind):
            self._run(step, kind, literal, offset)

    def _held_in_header(self, kind: Kind, literal: str, offset: int) -> bool:
        """A marker after a header's id is decided when the header closes (docs/format.md#rule-7): the
        spellings that are data in a value are read as argument data meanwhile, orphans wait to be reported.
        """
        call = self._call
        assert call is not None
        data = (
            literal in DATA_IN_ARGUMENT_VALUE
            and (self._mode == _TEXT_MODE or kind is Kind.THINK_BEGIN or kind is Kind.THINK_END)
            and call.args.in_value
        )
        if not data and steps_for(State.HEADER_ARGS, kind)[0] is not Step.ORPHAN:
            if kind is Kind.ARG_BEGIN and call.header.turn_end() >= 0:
                self._header_ended_turn(literal, offset)
                return True
            return False
        if data:
            pos = 0
            while pos < len(literal):
                pos = call.args.feed(literal, pos, len(literal), offset)[0]
        call.header.hold(kind, literal, offset, data)
        return True

    def _report_header_marks(self, marks: Iterable[HeaderMark]) -> None:
        """The markers held after a header's id that were not argument data: removed and reported."""
        for mark in marks:
            if not mark.data:
                self._header_orphan(mark)

    def _header_orphan(self, mark: HeaderMark) -> None:
        self._orphan(mark.kind, mark.literal, mark.offset)
        if mark.kind is Kind.THINK_END:
            self._settle_think(mark.kind, mark.literal, mark.offset)

    def _header_ended_turn(self, literal: str, offset: int) -> None:
        """ARG_BEGIN came after an end-of-turn spelling read as argument data: the whole header was a
        header, so that spelling was its marker and ended the turn there (docs/format.md#rule-7). What
        followed it, this ARG_BEGIN included, is text after the end of the turn (#rule-9)."""
        call = self._call
        assert call is not None
        n = call.header.turn_end()
        eot = call.header.marks[n]
        args, after = call.header.cut(n)
        call.args = ArgumentScanner()
        pos = 0
        while pos < len(args):
            pos = call.args.feed(args, pos, len(args), call.offset)[0]
        for step in steps_for(State.HEADER_ARGS, Kind.END_OF_TURN):
            self._run(step, eot.kind, eot.literal, eot.offset)
        after += literal
        self._text_done(after, 0, len(after), eot.offset + len(eot.literal))

    def _flush_section_text(self) -> None:
        text = "".join(self._section_text)
        self._section_text = []
        if self._section == _EXPLICIT and not text.isspace():
            self._report(
                Code.TEXT_IN_SECTION,
                "text between the markers of a tool-call section is not content",
                self._section_text_offset,
                text,
            )

    def _run(self, step: Step, kind: Kind | None, literal: str, offset: int) -> None:
        closed_by = CLOSED_BY_STEP.get(step)
        if closed_by is not None:
            self._close_call(closed_by, offset)
            return
        _STEPS[step](self, kind, literal, offset)

    def _orphan(self, kind: Kind | None, literal: str, offset: int) -> None:
        if kind is Kind.OTHER_SPECIAL:
            self._report(Code.SPECIAL_TOKEN, f"special token {literal} removed", offset, literal)
        else:
            where = self._state.value
            self._report(Code.ORPHAN_MARKER, f"{literal} means nothing in {where}; removed", offset, literal)

    def _settle_think(self, kind: Kind | None, literal: str, offset: int) -> None:
        if self._in_think:
            self._in_think = False
            self._held_is_reasoning(kind, literal, offset)

    def _open_reasoning(self, kind: Kind | None, literal: str, offset: int) -> None:
        self._has_reasoning = True
        self._in_think = False
        self._state = State.REASONING

    def _close_reasoning(self, kind: Kind | None, literal: str, offset: int) -> None:
        self._in_think = False
        self._state = State.CONTENT
        self._reasoning_known()

    def _interrupt_reasoning(self, kind: Kind | None, literal: str, offset: int) -> None:
        self._in_think = True
        self._reasoning_known()

    def _open_section(self, kind: Kind | None, literal: str, offset: int) -> None:
        self._section = _EXPLICIT
        self._state = State.SECTION

    def _open_implicit_section(self, kind: Kind | None, literal: str, offset: int) -> None:
        self._section = _IMPLICIT
        self._state = State.SECTION

    def _begin_call(self, kind: Kind | None, literal: str, offset: int) -> None:
        self._call = OpenCall(len(self._calls), offset)
        self._state = State.HEADER

    def _header_is_id(self, kind: Kind | None, literal: str, offset: int) -> None:
        call = self._call
        assert call is not None
        call.args = ArgumentScanner()
        # Markers in a header are never part of the id (docs/format.md#rule-7).
        marks, call.header.marks = call.header.marks, []
        for mark in marks:
            self._header_orphan(mark)

    def _start_args(self, kind: Kind | None, literal: str, offset: int) -> None:
        call = self._call
        assert call is not None
        call.id = call.header.text()
        self._state = State.ARGS
        drifted = call.take_name(self._tools, offset)
        if drifted is not None:
            self._add_diagnostic(drifted)
        if call.name is not None:
            self._start_call(call)

    def _start_call(self, call: OpenCall) -> None:
        assert call.name is not None
        call.started = True
        call.openai_index = self._openai_count
        self._openai_count += 1
        self._events.append(ToolCallStart(call.index, call.openai_index, call.id, call.name))

    def _close_section(self, kind: Kind | None, literal: str, offset: int) -> None:
        self._section = _NO_SECTION
        self._state = State.HELD if self._in_think else State.CONTENT

    def _held_is_reasoning(self, kind: Kind | None, literal: str, offset: int) -> None:
        if self._held:
            text = "".join(self._held)
            self._held = []
            self._emit_reasoning(text)

    def _held_is_content(self, kind: Kind | None, literal: str, offset: int) -> None:
        self._in_think = False
        if self._held:
            text = "".join(self._held)
            self._held = []
            self._emit_content(text)

    def _end_turn(self, kind: Kind | None, literal: str, offset: int) -> None:
        self._held_is_content(kind, literal, offset)
        self._note_unclosed(offset)
        self._reasoning_known()
        self._state = State.DONE

    def _end_output(self, kind: Kind | None, literal: str, offset: int) -> None:
        # Held text is never lost: if the turn or the output ends first, it was content (#rule-8).
        self._held_is_content(kind, literal, offset)
        self._note_unclosed(offset)
        self._reasoning_known()
        if self._after_end:
            text = "".join(self._after_end)
            self._report(
                Code.TEXT_AFTER_END_OF_TURN, "text after the end of the turn", self._after_end_offset, text
            )

    def _note_unclosed(self, offset: int) -> None:
        if self._section == _EXPLICIT:
            self._report(Code.UNCLOSED_SECTION, "the tool-call section was never closed", offset)
        if self._state is State.REASONING:
            self._report(Code.UNCLOSED_REASONING, "the reasoning was never closed with </think>", offset)
        self._section = _NO_SECTION

    def _after_end_marker(self, kind: Kind | None, literal: str, offset: int) -> None:
        self._text_done(literal, 0, len(literal), offset)

    # --- Closing a call: decided in closing.py (docs/format.md#rule-5, #rule-6, #rule-11, #rule-12) --------

    def _close_call(self, closed_by: ClosedBy, offset: int) -> None:
        """Closing is decided in ``closing.py``; here its effects are replayed in order, then the events."""
        call = self._call
        assert call is not None
        # A header that never reached ARG_BEGIN: the orphans held after its id are reported now (#rule-7).
        self._report_header_marks(call.header.marks)
        self._call = None
        state = self._state
        self._state = State.SECTION
        result, effects = close_call(call, state, closed_by, offset, self._tools, in_think=self._in_think)
        for effect in effects:
            if isinstance(effect, Diagnostic):
                self._add_diagnostic(effect)
            else:
                self._prose_after_arguments(effect, closed_by)
        if result is None:
            return
        self._calls.append(result)
        if call.name is not None:
            if not call.started:
                self._start_call(call)
            if not call.streamed:
                self._events.append(ArgumentsDelta(call.index, call.openai_index, result.arguments))
            self._events.append(ToolCallEnd(call.index, call.openai_index, result.status, result))

    def _prose_after_arguments(self, text: str, closed_by: ClosedBy) -> None:
        """Prose after the arguments is content (docs/format.md#rule-12), unless reasoning was interrupted:
        then #rule-8 decides, and what closed the call may already say (the next call: reasoning; the end:
        content)."""
        if not self._in_think:
            self._emit_content(text)
            return
        self._held.append(text)
        if closed_by is ClosedBy.NEXT_CALL:
            self._held_is_reasoning(None, "", 0)
        elif closed_by is ClosedBy.END_OF_TURN or closed_by is ClosedBy.END_OF_OUTPUT:
            self._held_is_content(None, "", 0)
        # SECTION_END: the state becomes HELD and the next marker or the end decides.


_STEPS: dict[Step, Callable[[StreamParser, Kind | None, str, int], None]] = {
    Step.ORPHAN: StreamParser._orphan,
    Step.SETTLE_THINK: StreamParser._settle_think,
    Step.OPEN_REASONING: StreamParser._open_reasoning,
    Step.CLOSE_REASONING: StreamParser._close_reasoning,
    Step.INTERRUPT_REASONING: StreamParser._interrupt_reasoning,
    Step.OPEN_SECTION: StreamParser._open_section,
    Step.OPEN_IMPLICIT_SECTION: StreamParser._open_implicit_section,
    Step.BEGIN_CALL: StreamParser._begin_call,
    Step.START_ARGS: StreamParser._start_args,
    Step.HEADER_IS_ID: StreamParser._header_is_id,
    Step.CLOSE_SECTION: StreamParser._close_section,
    Step.HELD_IS_REASONING: StreamParser._held_is_reasoning,
    Step.HELD_IS_CONTENT: StreamParser._held_is_content,
    Step.END_TURN: StreamParser._end_turn,
    Step.END_OUTPUT: StreamParser._end_output,
    Step.AFTER_END: StreamParser._after_end_marker,
}


def parse(
    text: str,
    *,
    tools: Tools | Iterable[Mapping[str, Any]] | None = None,
    thinking: bool = False,
    stop_reason: str | int | None = None,
) -> ParsedMessage:
    """Parse a whole output: the streaming parser fed it in one piece (docs/format.md#rule-1)."""
    if not isinstance(text, str):
        raise TypeError(f"parse() takes the model output as str, not {type(text).__name__}")
    stop_reason_from(stop_reason)  # misuse raises before any work
    parser = StreamParser(tools=tools, thinking=thinking)
    parser.feed(text)
    parser.close(stop_reason=stop_reason)
    return parser.message
