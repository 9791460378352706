"""``kimi-toolparse grammar REQUEST.json --format structural-tag|ebnf|gbnf``: a request's grammar on stdout.

Per-tool notes (schemas that fell back or lost keywords) go to stderr as a table.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from ..cli_support import UsageError, read_json, table
from .build import FORMATS, ToolGrammar, grammar_for_request, prompt_thinking

__all__ = ["add_parser", "run"]


def add_parser(subparsers: Any) -> None:
    """Register the ``grammar`` subcommand (``subparsers`` carries cli.py's one-line-error parser class)."""
    p = subparsers.add_parser(
        "grammar",
        help="the constrained-decoding grammar for a chat request (structural tag, EBNF or GBNF)",
        description=(
            "Print the grammar that lets a Kimi K2 model write only well-formed output for an OpenAI chat "
            "request (messages, tools, tool_choice, parallel_tool_calls; - for stdin)."
        ),
    )
    p.add_argument("request", metavar="REQUEST.json", help="the OpenAI chat request; - for stdin")
    p.add_argument(
        "--format",
        choices=FORMATS,
        default="structural-tag",
        help="structural-tag (vLLM/SGLang response_format), ebnf (xgrammar dialect) or gbnf (llama.cpp)",
    )
    thinking = p.add_mutually_exclusive_group()
    thinking.add_argument(
        "--thinking",
        dest="thinking",
        action="store_true",
        default=None,
        help="the prompt ends with <think>: the output starts inside reasoning (default: what the prompt "
        "the request's model renders says, as the gateway reads it; without a model, "
        "chat_template_kwargs.thinking)",
    )
    thinking.add_argument("--no-thinking", dest="thinking", action="store_false", help="it does not")
    p.add_argument("--max-calls", type=int, default=8, metavar="N", help="most calls in one section")
    p.set_defaults(handler=run)


def _notes_table(grammar: ToolGrammar) -> str:
    rows = [("tool", "kind", "note")] + [(n.tool, n.kind, n.message) for n in grammar.notes]
    return table(rows)


def run(args: argparse.Namespace) -> int:
    """Print the grammar; notes about schemas on stderr."""
    request = read_json(args.request)
    if not isinstance(request, dict):
        raise UsageError(f"{args.request} must hold an OpenAI chat request object")
    if args.max_calls < 1:
        raise UsageError("--max-calls must be at least 1")
    try:
        thinking = args.thinking if args.thinking is not None else prompt_thinking(request)
        grammar = grammar_for_request(
            request, format=args.format, thinking=thinking, max_calls=args.max_calls
        )
    except (TypeError, ValueError) as e:
        raise UsageError(f"{args.request}: {' '.join(str(e).split())}") from None
    except ImportError as e:
        raise UsageError(str(e)) from None
    sys.stdout.write(grammar.text if grammar.text.endswith("\n") else grammar.text + "\n")
    if thinking is None:
        model = request.get("model")
        why = "names no model" if model is None else f"model {model!r} is no Kimi model known here"
        sys.stderr.write(
            f"kimi-toolparse: note: the request {why}: thinking read from chat_template_kwargs "
            "(say --thinking or --no-thinking)\n"
        )
    if grammar.notes:
        sys.stderr.write(_notes_table(grammar))
    return 0
