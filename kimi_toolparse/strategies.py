"""Hypothesis strategies for Kimi K2 output, to fuzz a parser, a server, or a whole stack.

``assistant_outputs()`` draws well-formed turns in the canonical shape together with what a parser must
return for them; ``marker_soup()`` draws adversarial text built from markers, partial markers, JSON and
unicode; ``chunkings(text)`` draws ways to cut a text into stream chunks. Needs ``hypothesis``
(``pip install 'kimi_toolparse[test]'``).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

try:
    from hypothesis import strategies as st
except ImportError as e:  # pragma: no cover
    raise ImportError("kimi_toolparse.strategies needs hypothesis: pip install hypothesis") from e

from .tokens import (
    ARG_BEGIN,
    CALL_BEGIN,
    CALL_END,
    DATA_IN_ARGUMENT_VALUE,
    IM_END,
    KIND_BY_TEXT,
    SECTION_BEGIN,
    SECTION_END,
    THINK_BEGIN,
    THINK_END,
)

__all__ = [
    "Output",
    "assistant_outputs",
    "chunkings",
    "json_arguments",
    "marker_soup",
    "plain_text",
    "tool_names",
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
