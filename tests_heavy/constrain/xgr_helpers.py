"""Run grammars with xgrammar's matcher on the CPU: compile once per grammar, accept or reject outputs."""

from __future__ import annotations

import functools
import re
from typing import Any

import pytest

xgr = pytest.importorskip("xgrammar", reason="the grammar oracle needs xgrammar: bash ci/oracles/install.sh")

from kimi_toolparse import ToolGrammar  # noqa: E402
from kimi_toolparse.constrain.ebnf import quote  # noqa: E402
from kimi_toolparse.tokens import SPECIAL_TOKENS  # noqa: E402

MARKERS = [
    "<|im_end|>",
    "<|tool_calls_section_begin|>",
    "<|tool_calls_section_end|>",
    "<|tool_call_begin|>",
    "<|tool_call_argument_begin|>",
    "<|tool_call_end|>",
    "<think>",
    "</think>",
]
#: A small vocabulary: the stop token, the markers as whole tokens, and every printable ASCII character.
VOCAB = MARKERS + [chr(c) for c in range(32, 127)] + ["\n", "é", "界"]
STOP = 0
TOKENIZER = xgr.TokenizerInfo(VOCAB, stop_token_ids=[STOP])
COMPILER = xgr.GrammarCompiler(TOKENIZER, max_threads=1, cache_enabled=False)


#: llama.cpp's token syntax, ``<[ID]>``: one special token.
TOKEN_ID = re.compile(r"<\[(\d+)\]>")


def marker_text(text: str) -> str:
    """GBNF with each ``<[ID]>`` written as the special token's text (what a string matcher can read)."""
    return TOKEN_ID.sub(lambda m: quote(SPECIAL_TOKENS[int(m.group(1))]), text)


def gbnf_to_xgrammar(text: str) -> str:
    """GBNF's ``{m,}`` repetition spelled as xgrammar's ``{m, -1}``, and token ids as the tokens' text
    (the rest of GBNF is xgrammar EBNF)."""
    return marker_text(re.sub(r"\{(\d+),\}", r"{\1, -1}", text))


@functools.lru_cache(maxsize=512)
def _compile(fmt: str, text: str) -> Any:
    if fmt == "structural-tag":
        return COMPILER.compile_structural_tag(text)
    if fmt == "gbnf":
        text = gbnf_to_xgrammar(text)
    return COMPILER.compile_grammar(text)


def compiled(grammar: ToolGrammar) -> Any:
    return _compile(grammar.format, grammar.text)


def accepts(grammar: ToolGrammar, output: str) -> bool:
    """Whether the grammar lets the model write exactly ``output`` and then stop."""
    return accepts_text(grammar.format, grammar.text, output)


def accepts_text(fmt: str, text: str, output: str) -> bool:
    """:func:`accepts` for a grammar given as its format and text (as an engine receives it)."""
    matcher = xgr.GrammarMatcher(_compile(fmt, text))
    return bool(matcher.accept_string(output)) and bool(matcher.accept_token(STOP))
