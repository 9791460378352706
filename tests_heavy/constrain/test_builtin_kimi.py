"""Ours against xgrammar's built-in Kimi structural tag (``get_model_structural_tag("kimi", ...)``) on the
cases where they differ. Only ours is asserted; the built-in's answers are printed (the README's table)."""

from __future__ import annotations

import pytest

import kimi_toolparse as ktp
from tests_heavy.constrain.cases import call, k2vv_requests, section
from tests_heavy.constrain.xgr_helpers import accepts, xgr

ARGS = '{"queries": ["Kimi"]}'
#: (case, tool_choice, output, whether ours accepts it)
CASES = [
    ("content, then a call", "auto", "Sure." + section(call("search", 0, ARGS)), True),
    ("reasoning, content, a call", "auto", "<think>hm</think>Sure." + section(call("search", 0, ARGS)), True),
    ("a call under tool_choice none", "none", section(call("search", 0, ARGS)), False),
    ("text after the section", "auto", section(call("search", 0, ARGS)) + "Done.", False),
    ("a second section", "auto", section(call("search", 0, ARGS)) + section(call("search", 1, ARGS)), False),
    ("a call with the wrong IDX", "auto", section(call("search", 7, ARGS)), False),
    ("content, then a call, under required", "required", "Sure." + section(call("search", 0, ARGS)), True),
    ("content only, under required", "required", "No call.", False),
    ("special-token text in content", "auto", "a <|im_user|> b", False),
]


@pytest.mark.parametrize(("case", "choice", "output", "ours"), CASES, ids=[c[0] for c in CASES])
def test_ours_against_xgrammars_builtin(case: str, choice: str, output: str, ours: bool) -> None:
    tools = k2vv_requests()[0]["tools"]
    grammar = ktp.grammar_for(tools, tool_choice=choice)
    assert accepts(grammar, output) is ours
    tag = xgr.get_model_structural_tag("kimi", tools=tools, tool_choice=choice, reasoning=False)
    builtin = ktp.ToolGrammar("structural-tag", tag.model_dump_json(), (), 0, ())
    print(f"\n| {case} | {choice} | {'accepts' if ours else 'rejects'} | ", end="")
    print(f"{'accepts' if accepts(builtin, output) else 'rejects'} |")
