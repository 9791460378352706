"""Hypothesis strategies for Kimi K2 output, to fuzz a parser, a server, or a whole stack.

``assistant_outputs()`` draws well-formed turns in the canonical shape together with what a parser must
return for them; ``marker_soup()`` draws adversarial text built from markers, partial markers, JSON and
unicode; ``chunkings(text)`` draws ways to cut a text into stream chunks. Needs ``hypothesis``
(the ``fuzz`` extra: ``pip install '.[fuzz]'`` in a clone).
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

try:
    from hypothesis import strategies as st
except ImportError as e:  # pragma: no cover
    from .extras import missing_extra

    raise missing_extra("kimi_toolparse.strategies", "hypothesis") from e

import itertools

from .fuzzing.quirks import QUIRK_DESCRIPTIONS, QUIRKS
from .tokens import (
    ARG_BEGIN,
    CALL_BEGIN,
    CALL_END,
    DATA_IN_ARGUMENT_VALUE,
    IM_END,
    KIND_BY_TEXT,
    SECTION_BEGIN,
    SECTION_END,
    SINGULAR_SECTION_BEGIN,
    SINGULAR_SECTION_END,
    THINK_BEGIN,
    THINK_END,
)

__all__ = [
    "CATEGORIES",
    "QUIRKS",
    "QUIRK_DESCRIPTIONS",
    "REAL_TOOL_NAMES",
    "Case",
    "Output",
    "ToolSpec",
    "assistant_outputs",
    "chunkings",
    "conversations",
    "json_arguments",
    "json_text",
    "marker_cuts",
    "marker_soup",
    "plain_text",
    "prose",
    "quirky_outputs",
    "token_steps",
    "tool_names",
    "tool_specs",
]

#: Text that is a marker or could start one: plain text must hold none of it.
_MARKER_STARTS = ("<|", "<think>", "</think>", "[BOS]", "[EOS]", "[EOT]", "[UNK]", "[PAD]")


#: Bracket spellings: data inside a value in text mode only, so kept out when outputs become token ids.
_BRACKETS = ("[BOS]", "[EOS]", "[EOT]", "[UNK]", "[PAD]")


def _is_plain(text: str) -> bool:
    return not any(m in text for m in _MARKER_STARTS)


def plain_text(*, min_size: int = 0, max_size: int = 40) -> st.SearchStrategy[str]:
    """Unicode text that holds no marker: content or reasoning as a model writes it."""
    pieces = st.one_of(
        st.text(max_size=8),
        st.sampled_from([" ", "\n", "  ", "<", "[", "|>", "<|", "think", "{", "}", '"', "🙂", "北京", "é"]),
    )
    return (
        st.lists(pieces, max_size=max_size // 4 + 1)
        .map("".join)
        .map(lambda s: s.replace("<|", "< |"))
        .filter(lambda s: min_size <= len(s) and _is_plain(s))
    )


def tool_names() -> st.SearchStrategy[str]:
    """Function names as they appear in the wild: dotted, hyphenated, MCP-style, non-ASCII."""
    word = st.text(alphabet=st.characters(categories=["L", "Nd"]), min_size=1, max_size=12)
    sep = st.sampled_from(["_", ".", "-", "__", ":"])
    return st.builds(
        lambda first, rest: first + "".join(s + w for s, w in rest),
        word,
        st.lists(st.tuples(sep, word), max_size=3),
    ).filter(lambda n: len(n) <= 64)


def _json_values(data_markers: bool) -> st.SearchStrategy[Any]:
    strings = st.text(max_size=12)
    if data_markers:
        strings = st.one_of(
            strings, st.sampled_from(sorted(DATA_IN_ARGUMENT_VALUE)).map(lambda m: f"a {m} b")
        )
    scalars = st.one_of(
        st.none(),
        st.booleans(),
        st.integers(min_value=-(10**12), max_value=10**12),
        st.floats(allow_nan=False, allow_infinity=False, width=32),
        strings,
    )
    return st.recursive(
        scalars,
        lambda inner: st.one_of(
            st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=8), inner, max_size=4)
        ),
        max_leaves=12,
    )


def json_arguments(*, data_markers: bool = True) -> st.SearchStrategy[str]:
    """A JSON object as a model writes arguments; ``data_markers`` puts ``<think>``/``[EOS]`` in strings."""
    return st.builds(
        lambda obj, ascii_only, compact: json.dumps(
            obj, ensure_ascii=ascii_only, separators=(",", ":") if compact else (", ", ": ")
        ),
        st.dictionaries(st.text(max_size=10), _json_values(data_markers), max_size=5),
        st.booleans(),
        st.booleans(),
    ).filter(lambda s: "<|" not in s and (data_markers or not any(m in s for m in _BRACKETS)))


@dataclass(frozen=True)
class Output:
    """A drawn turn: the raw text and what parsing it must give."""

    raw: str
    content: str
    reasoning: str | None
    #: ``(id, name, arguments)`` per call, in order.
    calls: list[tuple[str, str, str]] = field(default_factory=list)
    #: The prompt ended with ``<think>``: parse with ``thinking=True``.
    thinking: bool = False


_SPACING = st.sampled_from(["", " ", "\n", " \n "])


@st.composite
def _calls(draw: st.DrawFn, data_markers: bool) -> list[tuple[str, str, str]]:
    start = draw(st.integers(min_value=0, max_value=99))
    names = draw(st.lists(tool_names(), min_size=1, max_size=4))
    calls = []
    for i, name in enumerate(names):
        prefix = draw(st.sampled_from(["functions.", "functions.", ""]))
        if name.startswith("functions."):
            prefix = "functions."  # docs/format.md#rule-10 removes one such prefix
        calls.append((f"{prefix}{name}:{start + i}", name, draw(json_arguments(data_markers=data_markers))))
    return calls


@st.composite
def assistant_outputs(draw: st.DrawFn, *, data_markers: bool = True) -> Output:
    """A well-formed turn: optional reasoning, content, an optional section of calls, more content,
    optional ``<|im_end|>``; spacing between markers as spaced detokenizers produce it."""
    thinking = draw(st.booleans())
    has_reasoning = thinking or draw(st.booleans())
    reasoning = draw(plain_text()) if has_reasoning else None
    before = draw(plain_text())
    calls = draw(_calls(data_markers)) if draw(st.booleans()) else []
    after = draw(plain_text()) if calls else ""
    s = _SPACING
    raw = ""
    if has_reasoning:
        raw += ("" if thinking else THINK_BEGIN) + (reasoning or "") + THINK_END
    raw += before
    if calls:
        raw += SECTION_BEGIN + draw(s)
        for call_id, _, arguments in calls:
            raw += CALL_BEGIN + draw(s) + call_id + draw(s) + ARG_BEGIN + draw(s) + arguments + draw(s)
            raw += CALL_END + draw(s)
        raw += SECTION_END + after
    if draw(st.booleans()):
        raw += IM_END
    return Output(raw, before + after, reasoning, calls, thinking)


def marker_soup(*, max_pieces: int = 30) -> st.SearchStrategy[str]:
    """Adversarial output: markers in any order, cut markers, stray brackets, JSON bits, any unicode."""
    markers = sorted(KIND_BY_TEXT)
    piece = st.one_of(
        st.sampled_from(markers),
        st.sampled_from(markers).flatmap(lambda m: st.integers(1, len(m) - 1).map(lambda i: m[:i])),
        st.sampled_from(
            ["functions.f:0", "functions.a.b-c:12", "call_1", " ", "\n", '"', "\\", "{", "}", "[", "]"]
        ),
        st.sampled_from(['{"a": 1}', '{"s": "x}y"}', '"{\\"k\\": 2}"', "[1, [2]]", "{bad", "}}", "abc"]),
        st.text(max_size=6),
    )
    return st.lists(piece, max_size=max_pieces).map("".join)


def chunkings(text: str, *, max_cuts: int = 12) -> st.SearchStrategy[list[str]]:
    """Ways to cut ``text`` into stream chunks (empty chunks included)."""
    return st.lists(st.integers(0, len(text)), max_size=max_cuts).map(
        lambda cuts: [text[a:b] for a, b in zip([0, *sorted(cuts)], [*sorted(cuts), len(text)], strict=True)]
    )


# --- Tools with realistic schemas, and arguments valid against them ---------------------------------------

#: Function names seen in real deployments (none ends in a digit, so docs/format.md#rule-11 (a)
#: never strips one off).
REAL_TOOL_NAMES: tuple[str, ...] = (
    "get_weather",
    "search_web",
    "read_file",
    "write_file",
    "run_command",
    "send_email",
    "create_event",
    "list_files",
    "query_database",
    "fetch_url",
    "translate_text",
    "get_stock_price",
    "mcp__github__create_issue",
    "browser.navigate",
    "code-interpreter",
    "exec",
    "天气查询",
)

_PROPERTY_NAMES = (
    "city",
    "unit",
    "query",
    "path",
    "content",
    "limit",
    "recursive",
    "tags",
    "options",
    "filters",
    "timeout",
    "lang",
    "start",
    "end",
    "attendees",
    "priority",
    "url",
    "symbol",
    "command",
    "to",
    "subject",
    "body",
    "sql",
    "headers",
)

#: A schema node and a strategy for values it accepts.
_Node = tuple[dict[str, Any], st.SearchStrategy[Any]]


def _no_open_bracket_tail(text: str) -> bool:
    """No ``<`` or ``[`` at the end that is still open: the text cannot start a marker with what follows."""
    cut = max(text.rfind("<"), text.rfind("["))
    return cut < 0 or ">" in text[cut:] or "]" in text[cut:]


def prose(*, min_size: int = 0, max_size: int = 40) -> st.SearchStrategy[str]:
    """Plain text that neither holds a marker nor can form one with markup that follows it."""
    return plain_text(min_size=min_size, max_size=max_size).filter(_no_open_bracket_tail)


def _string_values(data_markers: bool) -> st.SearchStrategy[str]:
    words = st.sampled_from(
        ["Paris", "北京", "ls -la /tmp", "SELECT * FROM t", "x}y", 'say "hi"', "a\\b", "\n"]
    )
    parts: list[st.SearchStrategy[str]] = [words, st.text(max_size=10).filter(lambda s: "<|" not in s)]
    if data_markers:
        parts.append(st.sampled_from(sorted(DATA_IN_ARGUMENT_VALUE)).map(lambda m: f"echo {m}"))
    return st.one_of(*parts)


def _leaf(data_markers: bool) -> st.SearchStrategy[_Node]:
    strings = _string_values(data_markers)
    return st.one_of(
        st.just(({"type": "string", "description": "free text"}, strings)),
        st.lists(
            st.sampled_from(["c", "f", "k", "low", "high", "上"]), min_size=1, max_size=3, unique=True
        ).map(lambda e: ({"type": "string", "enum": e}, st.sampled_from(e))),
        st.just(({"type": "integer", "minimum": 0, "maximum": 1000}, st.integers(0, 1000))),
        st.just(
            (
                {"type": "number"},
                st.floats(allow_nan=False, allow_infinity=False, width=32).filter(lambda f: abs(f) < 1e30),
            )
        ),
        st.just(({"type": "boolean"}, st.booleans())),
        st.just(
            (
                {"anyOf": [{"type": "string"}, {"type": "null"}]},
                st.one_of(st.none(), strings),
            )
        ),
    )


def _extend(inner: st.SearchStrategy[_Node]) -> st.SearchStrategy[_Node]:
    def array(node: _Node) -> _Node:
        return {"type": "array", "items": node[0]}, st.lists(node[1], max_size=3)

    @st.composite
    def obj(draw: st.DrawFn) -> _Node:
        keys = draw(st.lists(st.sampled_from(_PROPERTY_NAMES), min_size=1, max_size=3, unique=True))
        nodes = {k: draw(inner) for k in keys}
        required = [k for k in keys if draw(st.booleans())]
        schema = {"type": "object", "properties": {k: n[0] for k, n in nodes.items()}, "required": required}
        values = st.fixed_dictionaries(
            {k: nodes[k][1] for k in required},
            optional={k: nodes[k][1] for k in keys if k not in required},
        )
        return schema, values

    return st.one_of(inner.map(array), obj())


@functools.cache
def _nodes(data_markers: bool) -> st.SearchStrategy[_Node]:
    """Schema nodes up to a few leaves deep (built once: building strategies costs more than drawing)."""
    return st.recursive(_leaf(data_markers), _extend, max_leaves=4)


@st.composite
def _parameters(draw: st.DrawFn, prefix: str, data_markers: bool) -> _Node:
    """A tool's parameters: a strict top-level object with at least one required property."""
    node = _nodes(data_markers)
    keys = draw(st.lists(st.sampled_from(_PROPERTY_NAMES), min_size=1, max_size=4, unique=True))
    keys = [prefix + k for k in keys]
    nodes = {k: draw(node) for k in keys}
    required = [keys[0]] + [k for k in keys[1:] if draw(st.booleans())]
    props = {k: n[0] for k, n in nodes.items()}
    schema: dict[str, Any] = {"type": "object", "properties": props, "required": required}
    if draw(st.booleans()) and len(keys) > 1:
        # a shared definition, referenced from a property ($ref)
        last = keys[-1]
        schema["$defs"] = {"Item": props[last]}
        props[last] = {"$ref": "#/$defs/Item"}
    values = st.fixed_dictionaries(
        {k: nodes[k][1] for k in required}, optional={k: nodes[k][1] for k in keys if k not in required}
    )
    return schema, values


@dataclass(frozen=True)
class ToolSpec:
    """A drawn tool: its OpenAI definition and a strategy for argument objects its schema accepts."""

    name: str
    definition: dict[str, Any]
    arguments: st.SearchStrategy[dict[str, Any]] = field(compare=False, repr=False)


@st.composite
def tool_specs(
    draw: st.DrawFn, *, min_size: int = 1, max_size: int = 3, data_markers: bool = True
) -> list[ToolSpec]:
    """Tools with realistic JSON schemas: nested objects, arrays, enums, ``anyOf``, ``$ref``, optional fields.

    Their top-level property names are disjoint and each has a required property, so any arguments drawn
    for one tool are refused by every other (rule 11(b) then names exactly one tool).
    """
    names = draw(
        st.lists(st.sampled_from(REAL_TOOL_NAMES), min_size=min_size, max_size=max_size, unique=True)
    )
    specs = []
    for i, name in enumerate(names):
        schema, values = draw(_parameters(f"p{i}_" if i else "", data_markers))
        definition = {
            "type": "function",
            "function": {"name": name, "description": f"{name} (drawn)", "parameters": schema},
        }
        specs.append(ToolSpec(name, definition, values))
    return specs


def json_text(value: Any) -> st.SearchStrategy[str]:
    """``value`` as a model writes JSON: compact or spaced, non-ASCII escaped or not."""
    return st.builds(
        lambda ascii_only, compact: json.dumps(
            value, ensure_ascii=ascii_only, separators=(",", ":") if compact else (", ", ": ")
        ),
        st.booleans(),
        st.booleans(),
    )


# --- Quirky outputs with the message a right parser returns ----------------------------------------------


#: Conformance-corpus categories (``../shared/conformance``) a case can belong to.
CATEGORIES: tuple[str, ...] = (
    "basic",
    "names",
    "ids-drifted",
    "content-around",
    "reasoning",
    "malformed",
    "truncation",
    "streaming-splits",
    "whitespace",
    "json-args",
    "markers-in-strings",
    "orphans",
    "end-of-turn",
)


@dataclass(frozen=True)
class Case:
    """A drawn model output with the OpenAI assistant message a right parser must return for it.

    ``pieces`` are the output's parts, each flagged whether special-token text in it is markup (True) or
    ordinary text the model produced token by token (False: argument text, ids); ``raw`` joins them.
    """

    quirk: str
    pieces: tuple[tuple[str, bool], ...]
    #: ``{"role", "content", "reasoning_content", "tool_calls"?}`` as :meth:`ParsedMessage.to_openai`.
    expected: dict[str, Any]
    tools: list[dict[str, Any]] | None = None
    #: The prompt ended with ``<think>``: the output starts inside reasoning.
    thinking: bool = False
    #: The expectation holds only when the output arrives as token ids (marker text inside a string).
    token_only: bool = False
    categories: frozenset[str] = frozenset()

    @property
    def raw(self) -> str:
        return "".join(text for text, _ in self.pieces)

    def token_ids(self, vocab: Any) -> list[int]:
        """The ids a model emits for this output (``vocab``: a :class:`~kimi_toolparse.KimiVocabulary`)."""
        ids: list[int] = []
        for text, markup in _merged(self.pieces):
            ids += vocab.encode(text, allowed_special="all" if markup else ())
        return ids


def _merged(pieces: tuple[tuple[str, bool], ...]) -> list[tuple[str, bool]]:
    out: list[tuple[str, bool]] = []
    for text, markup in pieces:
        if not text:
            continue
        if out and out[-1][1] == markup:
            out[-1] = (out[-1][0] + text, markup)
        else:
            out.append((text, markup))
    return out


class _Builder:
    """Accumulates an output and what it must parse to."""

    def __init__(self) -> None:
        self.pieces: list[tuple[str, bool]] = []
        self.content = ""
        self.reasoning: str | None = None
        self.calls: list[tuple[str, str | None, str]] = []
        self.categories: set[str] = set()

    def mark(self, text: str) -> None:
        self.pieces.append((text, True))

    def data(self, text: str) -> None:
        self.pieces.append((text, False))

    def say(self, text: str) -> None:
        """Content, written and expected."""
        self.pieces.append((text, True))
        self.content += text

    def open_call(self, call_id: str, arguments: str) -> None:
        """A call's header and arguments, as the model writes them; its closer is the caller's."""
        self.pieces += [(CALL_BEGIN, True), (call_id, False), (ARG_BEGIN, True), (arguments, False)]

    def think(self, text: str) -> None:
        self.pieces.append((text, True))
        self.reasoning = (self.reasoning or "") + text

    def call(self, call_id: str, name: str | None, arguments: str) -> None:
        self.calls.append((call_id, name, arguments))

    def case(
        self, quirk: str, tools: list[dict[str, Any]] | None, thinking: bool, token_only: bool = False
    ) -> Case:
        calls = [
            {"id": i, "type": "function", "function": {"name": n, "arguments": a}}
            for i, n, a in self.calls
            if n is not None
        ]
        expected: dict[str, Any] = {
            "role": "assistant",
            "content": self.content if self.content.strip() else None,
            "reasoning_content": self.reasoning,
        }
        if calls:
            expected["tool_calls"] = calls
        if any(
            not i.startswith("functions.") or any(c in n for c in ".-:") or not n.isascii()
            for i, n, _ in self.calls
            if n
        ):
            self.categories.add("names")  # docs/format.md#rule-10: no prefix, dots, hyphens, non-ASCII
        if any(a.count("{") + a.count("[") > 1 for _, _, a in self.calls):
            self.categories.add("json-args")  # nested objects or arrays
        if self.reasoning is not None:
            self.categories.add("reasoning")
        return Case(
            quirk, tuple(self.pieces), expected, tools, thinking, token_only, frozenset(self.categories)
        )


def _name_from_id(call_id: str) -> str:
    """Rule 10 for the ids this module writes (``[functions.]NAME:DIGITS``)."""
    head = call_id.strip().rsplit(":", 1)[0]
    return head[len("functions.") :] if head.startswith("functions.") else head


@dataclass
class _Drawn:
    tools: list[ToolSpec]
    #: (tool, arguments object, arguments text) per call.
    calls: list[tuple[ToolSpec, Any, str]]
    start: int


@st.composite
def _drawn_calls(draw: st.DrawFn, data_markers: bool, min_calls: int = 1) -> _Drawn:
    tools = draw(tool_specs(data_markers=data_markers))
    n = draw(st.integers(min_calls, 3))
    calls = []
    for _ in range(n):
        tool = draw(st.sampled_from(tools))
        value = draw(tool.arguments)
        calls.append((tool, value, draw(json_text(value))))
    return _Drawn(tools, calls, draw(st.integers(0, 40)))


def _canonical_id(draw: st.DrawFn, name: str, idx: int) -> str:
    prefix = draw(st.sampled_from(["functions.", "functions.", ""]))
    return f"{prefix}{name}:{idx}"


_SPACE = st.sampled_from(["", "", " ", "\n", "\n\n", "\t", " \n "])
_NO_SPACE = st.just("")


def _thinks(draw: st.DrawFn, ctx: dict[str, Any]) -> bool:
    """Whether this output's prompt ended with ``<think>``: drawn, never, or always (``ctx["thinking"]``)."""
    if ctx["thinking"] == "always":
        return True
    return bool(ctx["thinking"]) and draw(st.booleans())


def _opening(draw: st.DrawFn, b: _Builder, thinking: bool) -> bool:
    """Optional reasoning and content before the calls; returns ``thinking``, whether the prompt ended with
    ``<think>`` (then the output starts inside reasoning)."""
    if thinking or draw(st.booleans()):
        if not thinking:
            b.mark(THINK_BEGIN)
        b.think(draw(prose()))
        b.mark(THINK_END)
    b.say(draw(prose()))
    return thinking


def _section(
    draw: st.DrawFn,
    b: _Builder,
    d: _Drawn,
    *,
    space: st.SearchStrategy[str] = _NO_SPACE,
    begin: str = SECTION_BEGIN,
    end: str | None = SECTION_END,
) -> None:
    b.mark(begin + draw(space))
    for i, (tool, _, args) in enumerate(d.calls):
        call_id = _canonical_id(draw, tool.name, d.start + i)
        b.mark(CALL_BEGIN + draw(space))
        b.data(call_id)
        b.mark(draw(space) + ARG_BEGIN + draw(space))
        b.data(args)
        b.mark(draw(space) + CALL_END + draw(space))
        b.call(call_id, _name_from_id(call_id), args)
    if end is not None:
        b.mark(end)


def _tools_for(d: _Drawn, with_tools: bool) -> list[dict[str, Any]] | None:
    return [t.definition for t in d.tools] if with_tools else None


@st.composite
def _q_canonical(draw: st.DrawFn, ctx: dict[str, Any]) -> Case:
    b = _Builder()
    thinking = _opening(draw, b, _thinks(draw, ctx))
    d = draw(_drawn_calls(True))
    _section(draw, b, d)
    b.say(draw(prose()))
    if draw(st.booleans()):
        b.mark(IM_END)
    b.categories.add("basic")
    if b.content:
        b.categories.add("content-around")
    return b.case("canonical", _tools_for(d, ctx["tools"] and draw(st.booleans())), thinking)


@st.composite
def _q_whitespace(draw: st.DrawFn, ctx: dict[str, Any]) -> Case:
    b = _Builder()
    thinking = _opening(draw, b, _thinks(draw, ctx))
    b.say(draw(st.sampled_from(["", " ", "\n", "\n\n"])))
    d = draw(_drawn_calls(True))
    _section(draw, b, d, space=st.sampled_from([" ", "\n", "\n\n", "\t", " \n ", "\r\n"]))
    b.say(draw(st.sampled_from(["", " ", "\n"])) + draw(prose()))
    b.categories.add("whitespace")
    return b.case("whitespace", _tools_for(d, ctx["tools"] and draw(st.booleans())), thinking)


@st.composite
def _q_singular(draw: st.DrawFn, ctx: dict[str, Any]) -> Case:
    b = _Builder()
    thinking = _opening(draw, b, _thinks(draw, ctx))
    d = draw(_drawn_calls(True))
    begin, end = draw(
        st.sampled_from(
            [
                (SINGULAR_SECTION_BEGIN, SINGULAR_SECTION_END),
                (SINGULAR_SECTION_BEGIN, SECTION_END),
                (SECTION_BEGIN, SINGULAR_SECTION_END),
            ]
        )
    )
    _section(draw, b, d, begin=begin, end=end)
    b.say(draw(prose()))
    b.categories.add("malformed")
    return b.case("singular_section", _tools_for(d, ctx["tools"] and draw(st.booleans())), thinking)


@st.composite
def _q_missing_call_end(draw: st.DrawFn, ctx: dict[str, Any]) -> Case:
    b = _Builder()
    thinking = _opening(draw, b, _thinks(draw, ctx))
    d = draw(_drawn_calls(True))
    missing = draw(st.lists(st.booleans(), min_size=len(d.calls), max_size=len(d.calls)).filter(any))
    b.mark(SECTION_BEGIN)
    for i, ((tool, _, args), skip) in enumerate(zip(d.calls, missing, strict=True)):
        call_id = _canonical_id(draw, tool.name, d.start + i)
        b.open_call(call_id, args)
        if skip and draw(st.booleans()):
            # the model forgot its markers and went on writing: that prose, up to the closer, is content
            prose_after = draw(
                st.sampled_from([" Let me check.", "\nNow the next one:", " 好的", "\n\nDone 2"])
            )
            b.say(prose_after + draw(_SPACE))
        else:
            b.mark(draw(_SPACE) if skip else CALL_END)
        b.call(call_id, _name_from_id(call_id), args)
    b.mark(SECTION_END)
    b.say(draw(prose()))
    b.categories.add("malformed")
    return b.case("missing_call_end", _tools_for(d, ctx["tools"] and draw(st.booleans())), thinking)


@st.composite
def _q_missing_section_end(draw: st.DrawFn, ctx: dict[str, Any]) -> Case:
    b = _Builder()
    thinking = _opening(draw, b, _thinks(draw, ctx))
    d = draw(_drawn_calls(True))
    _section(draw, b, d, end=None)
    how = draw(st.sampled_from(["end_of_output", "im_end"]))
    if how == "im_end":
        b.mark(IM_END)
        b.categories.add("end-of-turn")
    b.categories.add("truncation")
    return b.case("missing_section_end", _tools_for(d, ctx["tools"] and draw(st.booleans())), thinking)


@st.composite
def _q_truncated(draw: st.DrawFn, ctx: dict[str, Any]) -> Case:
    b = _Builder()
    b.categories.add("truncation")
    tools_on = ctx["tools"] and draw(st.booleans())
    # after a prompt that always ends in <think>, an output that is only content cannot be written
    places = ["reasoning", "content", "id", "arguments", "after_call"]
    if ctx["thinking"] == "always":
        places.remove("content")
    where = draw(st.sampled_from(places))
    thinking = False
    if where == "reasoning":
        thinking = _thinks(draw, ctx)
        if not thinking:
            b.mark(THINK_BEGIN)
        text = draw(prose(min_size=1))
        b.think(text[: draw(st.integers(0, len(text)))])  # a cut-off marker-like tail is still text
        return b.case("truncated", None, thinking)
    if where == "content":
        text = draw(prose(min_size=1))
        b.say(text[: draw(st.integers(0, len(text)))])
        return b.case("truncated", None, thinking)
    thinking = _opening(draw, b, _thinks(draw, ctx))
    d = draw(_drawn_calls(True))
    cut_call = draw(st.integers(0, len(d.calls) - 1))
    b.mark(SECTION_BEGIN)
    for i, (tool, _, args) in enumerate(d.calls[: cut_call + 1]):
        call_id = _canonical_id(draw, tool.name, d.start + i)
        b.mark(CALL_BEGIN)
        if i < cut_call or where == "after_call":
            b.data(call_id)
            b.mark(ARG_BEGIN)
            b.data(args)
            b.mark(CALL_END)
            b.call(call_id, _name_from_id(call_id), args)
        elif where == "id":
            b.data(call_id[: draw(st.integers(0, len(call_id)))])  # a header without arguments: discarded
        else:
            b.data(call_id)
            b.mark(ARG_BEGIN)
            space = draw(_SPACE)
            part = args[: draw(st.integers(0, len(args)))]
            b.data(space + part)
            b.call(call_id, _name_from_id(call_id), (space + part).strip() or "{}")
    return b.case("truncated", _tools_for(d, tools_on), thinking)


_DRIFTED_FORMS = (
    "functions{name}{n}",
    "functions_{name}_{n}",
    "functions.{name}:abc",
    "call_{n}",
    "call{n:05d}",
    "toolu_01{tag}",
    "{n}",
)


@st.composite
def _q_drifted(draw: st.DrawFn, ctx: dict[str, Any]) -> Case:
    b = _Builder()
    thinking = _opening(draw, b, _thinks(draw, ctx))
    d = draw(_drawn_calls(True))
    with_tools = ctx["tools"] and draw(st.integers(0, 3)) > 0
    b.mark(SECTION_BEGIN)
    for i, (tool, value, args) in enumerate(d.calls):
        form = draw(st.sampled_from(_DRIFTED_FORMS))
        tag = draw(
            st.text(alphabet="ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz", min_size=4, max_size=8)
        )
        call_id = form.format(name=tool.name, n=d.start + i, tag=tag)
        b.open_call(call_id, args)
        b.mark(CALL_END)
        name: str | None = None
        if with_tools:
            # docs/format.md#rule-11 (a) for the functions… forms without ':';
            # else 11(b): only this tool accepts the object
            by_prefix = form.startswith("functions") and ":" not in form
            name = tool.name if by_prefix or isinstance(value, dict) else None
        b.call(call_id, name, args)
    b.mark(SECTION_END)
    b.say(draw(prose()))
    b.categories.add("ids-drifted")
    return b.case("drifted_id", _tools_for(d, with_tools), thinking)


@st.composite
def _q_double_encoded(draw: st.DrawFn, ctx: dict[str, Any]) -> Case:
    b = _Builder()
    thinking = _opening(draw, b, _thinks(draw, ctx))
    d = draw(_drawn_calls(True))
    encoded = [draw(st.booleans()) for _ in d.calls]
    encoded[draw(st.integers(0, len(d.calls) - 1))] = True
    b.mark(SECTION_BEGIN)
    for i, ((tool, _, args), twice) in enumerate(zip(d.calls, encoded, strict=True)):
        call_id = _canonical_id(draw, tool.name, d.start + i)
        b.mark(CALL_BEGIN)
        b.data(call_id)
        b.mark(ARG_BEGIN)
        pad = draw(st.sampled_from(["", "", " ", "\n"]))  # inside the string: stripped after unwrapping
        b.data(json.dumps(pad + args + pad, ensure_ascii=draw(st.booleans())) if twice else args)
        b.mark(CALL_END)
        b.call(call_id, _name_from_id(call_id), args)
    b.mark(SECTION_END)
    b.categories.add("json-args")
    return b.case("double_encoded", _tools_for(d, ctx["tools"] and draw(st.booleans())), thinking)


@st.composite
def _q_no_arg_begin(draw: st.DrawFn, ctx: dict[str, Any]) -> Case:
    b = _Builder()
    thinking = _opening(draw, b, _thinks(draw, ctx))
    d = draw(_drawn_calls(True))
    b.mark(SECTION_BEGIN)
    n = len(d.calls)
    for i, (tool, _value, args) in enumerate(d.calls):
        call_id = f"functions.{tool.name}:{d.start + i}"
        b.mark(CALL_BEGIN)
        b.data(call_id)
        shape = draw(st.sampled_from(["args", "empty", "normal"]))
        if shape == "normal":
            b.mark(ARG_BEGIN)
            b.data(args)
            b.mark(CALL_END)
            b.call(call_id, tool.name, args)
        elif shape == "empty":
            b.mark(CALL_END)  # closed by CALL_END: a call with {}
            b.call(call_id, tool.name, "{}")
        else:
            b.data(draw(st.sampled_from(["", " ", "\n"])) + args)
            last = i == n - 1
            closer = draw(st.sampled_from(["call_end", "next"] if not last else ["call_end", "section_end"]))
            if closer == "call_end":
                b.mark(CALL_END)
            b.call(call_id, tool.name, args)
    b.mark(SECTION_END)
    b.say(draw(prose()))
    b.categories.add("malformed")
    return b.case("no_arg_begin", _tools_for(d, ctx["tools"] and draw(st.booleans())), thinking)


@st.composite
def _q_think_calls(draw: st.DrawFn, ctx: dict[str, Any]) -> Case:
    b = _Builder()
    thinking = _thinks(draw, ctx)
    if not thinking:
        b.mark(THINK_BEGIN)
    b.think(draw(prose()))
    d = draw(_drawn_calls(True))
    implicit = draw(st.booleans())
    if implicit:
        _section(draw, b, d, begin="", end=None)
        after = draw(prose(min_size=1).filter(lambda s: not s.isspace()))
    else:
        _section(draw, b, d)
        after = draw(prose())
    ending = draw(st.sampled_from(["think_end", "end_of_output", "im_end"]))
    b.mark(after)
    if ending == "think_end":
        b.reasoning = (b.reasoning or "") + after
        b.mark(THINK_END)
        b.say(draw(prose()))
    else:
        b.content += after
        if ending == "im_end":
            b.mark(IM_END)
    return b.case("think_calls", _tools_for(d, ctx["tools"] and draw(st.booleans())), thinking)


@st.composite
def _q_text_after(draw: st.DrawFn, ctx: dict[str, Any]) -> Case:
    b = _Builder()
    thinking = _opening(draw, b, _thinks(draw, ctx))
    b.say(draw(prose(min_size=1)))
    d = draw(_drawn_calls(True))
    _section(draw, b, d)
    b.say(draw(prose(min_size=1)))
    if draw(st.booleans()):
        b.mark(IM_END)
    b.categories.add("content-around")
    return b.case("text_after_section", _tools_for(d, ctx["tools"] and draw(st.booleans())), thinking)


#: Markers that mean nothing in content: removed, the text on both sides joins (docs/format.md#rule-7).
_STRAY_IN_CONTENT = (
    SECTION_END,
    ARG_BEGIN,
    CALL_END,
    SINGULAR_SECTION_END,
    "<|im_user|>",
    "<|im_assistant|>",
    "<|im_system|>",
    "<|im_middle|>",
    "<|media_pad|>",
    "<|start_header_id|>",
    "<|reserved_token_163700|>",
    "[BOS]",
    "[UNK]",
    "[PAD]",
)
#: Markers that mean nothing between the calls of a section.
_STRAY_IN_SECTION = (SECTION_BEGIN, THINK_BEGIN, THINK_END, ARG_BEGIN, CALL_END, "<|im_middle|>", "[PAD]")
#: Texts that look special but are no token: content (``<|reserved_token_163584|>``: 163584 is ``[BOS]``).
_NOT_SPECIAL = ("<|reserved_token_163584|>", "<|reserved_token_0163700|>", "<|tool_call_begin |>", "<think >")


@st.composite
def _q_stray(draw: st.DrawFn, ctx: dict[str, Any]) -> Case:
    b = _Builder()
    thinking = _opening(draw, b, _thinks(draw, ctx))
    for _ in range(draw(st.integers(1, 3))):
        if draw(st.integers(0, 3)) == 0:
            b.say(draw(st.sampled_from(_NOT_SPECIAL)))
        else:
            b.mark(draw(st.sampled_from(_STRAY_IN_CONTENT)))
        b.say(draw(prose()))
    d = draw(_drawn_calls(True))
    b.mark(SECTION_BEGIN)
    for i, (tool, _, args) in enumerate(d.calls):
        if draw(st.booleans()):
            b.mark(draw(st.sampled_from(_STRAY_IN_SECTION)))
        call_id = _canonical_id(draw, tool.name, d.start + i)
        b.open_call(call_id, args)
        b.mark(CALL_END)
        b.call(call_id, _name_from_id(call_id), args)
    b.mark(SECTION_END)
    b.say(draw(prose()))
    b.categories.add("orphans")
    return b.case("stray_markers", _tools_for(d, ctx["tools"] and draw(st.booleans())), thinking)


@st.composite
def _q_end_of_turn(draw: st.DrawFn, ctx: dict[str, Any]) -> Case:
    b = _Builder()
    thinking = _opening(draw, b, _thinks(draw, ctx))
    end = draw(st.sampled_from([IM_END, IM_END, "[EOS]", "[EOT]"]))
    d = draw(_drawn_calls(True))
    inside_call = draw(st.booleans())
    if inside_call:
        _section(draw, b, _Drawn(d.tools, d.calls[:-1], d.start), end=None)
        tool, _, args = d.calls[-1]
        call_id = _canonical_id(draw, tool.name, d.start + len(d.calls) - 1)
        b.open_call(call_id, args)
        b.call(call_id, _name_from_id(call_id), args)
    else:
        _section(draw, b, d)
        b.say(draw(prose()))
    b.mark(end)
    b.mark(draw(prose()))  # after the end of the turn: reported, not content
    b.categories.add("end-of-turn")
    return b.case("end_of_turn", _tools_for(d, ctx["tools"] and draw(st.booleans())), thinking)


_MARKERS_AS_DATA = (CALL_END, SECTION_END, CALL_BEGIN, ARG_BEGIN, IM_END, SECTION_BEGIN, "<|im_user|>")


@st.composite
def _q_markers_in_strings(draw: st.DrawFn, ctx: dict[str, Any]) -> Case:
    b = _Builder()
    thinking = _opening(draw, b, _thinks(draw, ctx))
    d = draw(_drawn_calls(True))
    tool, _, _ = d.calls[0]
    marker = draw(st.sampled_from(_MARKERS_AS_DATA))
    value = {
        "command": f"grep '{marker}' out.log",
        "note": draw(st.sampled_from(["", marker, "x" + marker + "y"])),
    }
    args = draw(json_text(value))
    b.mark(SECTION_BEGIN)
    call_id = _canonical_id(draw, tool.name, d.start)
    b.open_call(call_id, args)
    b.mark(CALL_END)
    b.call(call_id, _name_from_id(call_id), args)
    b.mark(SECTION_END)
    b.say(draw(prose()))
    b.categories.add("markers-in-strings")
    # the arguments suit no drawn schema: pass no tools, so nothing depends on docs/format.md#rule-11
    return b.case("markers_in_strings", None, thinking, token_only=True)


_BUILDERS: dict[str, Any] = {
    "canonical": _q_canonical,
    "whitespace": _q_whitespace,
    "singular_section": _q_singular,
    "missing_call_end": _q_missing_call_end,
    "missing_section_end": _q_missing_section_end,
    "truncated": _q_truncated,
    "drifted_id": _q_drifted,
    "double_encoded": _q_double_encoded,
    "no_arg_begin": _q_no_arg_begin,
    "think_calls": _q_think_calls,
    "text_after_section": _q_text_after,
    "stray_markers": _q_stray,
    "end_of_turn": _q_end_of_turn,
    "markers_in_strings": _q_markers_in_strings,
}


def quirky_outputs(
    quirks: Iterable[str] | None = None,
    *,
    tools: bool = True,
    thinking: bool | Literal["always"] = True,
    token_ids: bool = False,
) -> st.SearchStrategy[Case]:
    """Model outputs with the quirks real deployments meet, each with the message the spec says it parses to.

    ``quirks``: names from :data:`QUIRKS` (default all). ``tools=False`` draws cases for a target that is
    not given the request's tools (drifted ids then have no name); ``thinking=False`` leaves out outputs
    that start inside reasoning, ``thinking="always"`` draws only those (the prompt of a thinking model
    such as K2.5 ends with ``<think>``); ``token_ids=False`` leaves out the quirks that need token ids.
    """
    if thinking not in (True, False, "always"):
        raise ValueError(f'thinking must be True, False or "always", not {thinking!r}')
    chosen = list(QUIRKS if quirks is None else quirks)
    unknown = [q for q in chosen if q not in _BUILDERS]
    if unknown:
        raise ValueError(f"unknown quirk {unknown[0]!r}: choose from {', '.join(QUIRKS)}")
    if not token_ids:
        chosen = [q for q in chosen if q != "markers_in_strings"]
    if not chosen:
        raise ValueError("no quirk left to draw: markers_in_strings needs token_ids=True")
    ctx = {"tools": tools, "thinking": thinking}
    return st.one_of(*(_BUILDERS[q](ctx) for q in chosen))


# --- Token streams ---------------------------------------------------------------------------------------


def token_steps(ids: Sequence[int], vocab: Any) -> st.SearchStrategy[list[tuple[str, list[int]]]]:
    """Per-step ``(text, ids)`` as an engine emits them: one token per step, or several (speculative
    decoding); a step's text is what decodes completely so far (UTF-8 split across tokens is carried)."""

    def steps(sizes: list[int]) -> list[tuple[str, list[int]]]:
        out: list[tuple[str, list[int]]] = []
        pending, pending_ids, pos, k = b"", [], 0, 0
        while pos < len(ids):
            size = sizes[k % len(sizes)] if sizes else 1
            k += 1
            group = list(ids[pos : pos + size])
            pos += size
            pending += b"".join(vocab.token_bytes(t) for t in group)
            pending_ids += group
            try:
                text = pending.decode("utf-8")
            except UnicodeDecodeError:
                continue
            out.append((text, pending_ids))
            pending, pending_ids = b"", []
        if pending_ids:
            out.append((pending.decode("utf-8", errors="replace"), pending_ids))
        return out

    return st.one_of(st.just([1]), st.lists(st.integers(1, 6), min_size=1, max_size=8)).map(steps)


def marker_cuts(text: str) -> st.SearchStrategy[list[str]]:
    """Chunkings that cut at least one marker in two when ``text`` has one (else any chunking)."""
    spans = [(m.start(), m.end()) for m in _MARKER_RE.finditer(text)]
    if not spans:
        return chunkings(text)
    return st.tuples(st.sampled_from(spans), chunkings(text)).flatmap(
        lambda sc: st.integers(sc[0][0] + 1, sc[0][1] - 1).map(lambda cut: _recut(sc[1], cut))
    )


def _recut(chunks: list[str], cut: int) -> list[str]:
    text = "".join(chunks)
    bounds, pos = {cut}, 0
    for c in chunks:
        pos += len(c)
        bounds.add(pos)
    edges = [0, *sorted(b for b in bounds if 0 < b < len(text)), len(text)]
    return [text[a:b] for a, b in itertools.pairwise(edges)]


_MARKER_RE = re.compile("|".join(re.escape(m) for m in sorted(KIND_BY_TEXT, key=len, reverse=True)))


# --- Conversations for the renderer ------------------------------------------------------------------------


@st.composite
def conversations(draw: st.DrawFn) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """``(messages, tools)`` as clients send them: system and user turns (string or list content, ``name``),
    assistant turns with reasoning and tool calls (dict or string arguments), tool results, in the order
    a tool-call loop produces them."""
    specs = draw(tool_specs(data_markers=False))
    text = prose(max_size=20)
    messages: list[dict[str, Any]] = []
    if draw(st.booleans()):
        messages.append({"role": "system", "content": draw(text)})
    counter = 0
    for _ in range(draw(st.integers(1, 3))):
        user: dict[str, Any] = {"role": "user", "content": draw(text)}
        if draw(st.booleans()):
            user["content"] = [{"type": "text", "text": draw(text)}, {"type": "text", "text": draw(text)}]
        if draw(st.booleans()):
            user["name"] = "alice"
        messages.append(user)
        for _ in range(draw(st.integers(0, 2))):
            calls: list[dict[str, Any]] = []
            for tool in draw(st.lists(st.sampled_from(specs), min_size=1, max_size=2)):
                value = draw(tool.arguments)
                arguments: Any = draw(json_text(value)) if draw(st.booleans()) else value
                calls.append(
                    {
                        "id": f"functions.{tool.name}:{counter}",
                        "type": "function",
                        "function": {"name": tool.name, "arguments": arguments},
                    }
                )
                counter += 1
            assistant: dict[str, Any] = {"role": "assistant", "content": draw(text), "tool_calls": calls}
            if draw(st.booleans()):
                assistant["reasoning_content"] = draw(text)
            messages.append(assistant)
            for call in calls:
                result: dict[str, Any] = {"role": "tool", "tool_call_id": call["id"], "content": draw(text)}
                if draw(st.booleans()):
                    result["name"] = call["function"]["name"]
                messages.append(result)
        final: dict[str, Any] = {"role": "assistant", "content": draw(text)}
        if draw(st.booleans()):
            final["reasoning_content"] = draw(text)
        messages.append(final)
    return messages, [s.definition for s in specs]
