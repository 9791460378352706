"""Constrained decoding: the Kimi K2 tool-call grammar of a request, for vLLM, SGLang and llama.cpp.

``grammar_for(tools, messages=..., tool_choice=..., format=...)`` returns a :class:`ToolGrammar` whose
``text`` an engine takes as a structural tag (vLLM, SGLang), an EBNF grammar in xgrammar's dialect
(vLLM, SGLang) or a GBNF grammar (llama.cpp), so the model cannot write a broken call. Needs no extra:
the JSON-schema converter is the package's own (schema_grammar.py).
"""

from __future__ import annotations

from .build import FORMATS, GrammarFormat, SchemaNote, ToolGrammar, grammar_for, grammar_for_request

__all__ = ["FORMATS", "GrammarFormat", "SchemaNote", "ToolGrammar", "grammar_for", "grammar_for_request"]
