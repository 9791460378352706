"""``kimi-toolparse render``: print the prompt (or its token ids) for a conversation file.

The file is an OpenAI chat-completions request (``messages``, ``tools``, optionally ``chat_template_kwargs``)
or a bare list of messages. Bad input prints one line, ``kimi-toolparse: ...``, and exits 2.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from .render import encode_prompt, render
from .templates import MODELS

_PROG = "kimi-toolparse"


class _InputError(Exception):
    """Bad input: one line on stderr, exit status 2."""


def add_parser(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Register ``render`` on the ``kimi-toolparse`` command line."""
    p = subparsers.add_parser(
        "render",
        help="render a conversation into the exact Kimi K2 prompt (for raw /completions)",
        description=(
            "Render a conversation (an OpenAI chat request with messages and tools, or a list of messages; "
            "- for stdin) into the prompt text a Kimi K2 model expects, or its token ids."
        ),
    )
    p.add_argument(
        "conversation", metavar="CONVERSATION.json", help="the request or message list; - for stdin"
    )
    p.add_argument(
        "--model",
        default="kimi-k2-instruct",
        metavar="NAME",
        help=f"the model whose template to use: {', '.join(MODELS)} (default kimi-k2-instruct)",
    )
    p.add_argument(
        "--tools", metavar="TOOLS.json", help="the tools (a list, or a request file); overrides the file's"
    )
    p.add_argument(
        "--no-generation-prompt",
        dest="generation_prompt",
        action="store_false",
        help="leave out the opening of the assistant's turn",
    )
    thinking = p.add_mutually_exclusive_group()
    thinking.add_argument(
        "--thinking", dest="thinking", action="store_true", default=None, help="thinking=True"
    )
    thinking.add_argument(
        "--no-thinking", dest="thinking", action="store_false", help="thinking=False (K2.5, K2.6)"
    )
    p.add_argument("--preserve-thinking", action="store_true", default=None, help="keep all reasoning (K2.6)")
    p.add_argument("--normalize-ids", action="store_true", help="rewrite tool-call ids to functions.NAME:IDX")
    p.add_argument(
        "--plain-template", action="store_true", help="as a bare Jinja engine renders it (JSON tools)"
    )
    p.add_argument("--lenient", action="store_true", help="render what the template renders, without checks")
    p.add_argument("--ids", action="store_true", help="print the token ids (a JSON list) instead of the text")
    p.add_argument(
        "--vocab", metavar="PATH", help="with --ids: the Kimi model directory or its tiktoken.model"
    )
    p.set_defaults(handler=run)


def _read_json(path: str) -> Any:
    try:
        if path == "-":
            data = sys.stdin.buffer.read()
        else:
            with open(path, "rb") as f:
                data = f.read()
    except OSError as e:
        raise _InputError(f"cannot read {path}: {e.strerror or e}") from None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as e:
        raise _InputError(f"{path} is not UTF-8 text (byte {e.start} is {data[e.start]:#04x})") from None
    try:
        return json.loads(text)
    except json.JSONDecodeError as e:
        raise _InputError(f"{path} is not valid JSON: {e.msg} at line {e.lineno}, column {e.colno}") from None


def _conversation(path: str) -> tuple[Any, Any, dict[str, Any]]:
    """messages, tools and chat_template_kwargs from a request file or a bare message list."""
    data = _read_json(path)
    if isinstance(data, list):
        return data, None, {}
    if not isinstance(data, dict):
        raise _InputError(f"{path} must hold a request object with messages, or a list of messages")
    if "messages" not in data:
        raise _InputError(f"{path} has no 'messages': want an OpenAI chat request or a list of messages")
    kwargs = data.get("chat_template_kwargs") or {}
    if not isinstance(kwargs, dict):
        raise _InputError(f"{path}: chat_template_kwargs must be an object")
    known = {k: v for k, v in kwargs.items() if k in ("thinking", "preserve_thinking")}
    return data["messages"], data.get("tools"), known


def _tools(path: str) -> Any:
    data = _read_json(path)
    if isinstance(data, dict) and "tools" in data:
        data = data["tools"]
    if not isinstance(data, list):
        raise _InputError(f"{path} must hold a list of tools (or a request with 'tools')")
    return data


def run(args: argparse.Namespace) -> int:
    """The ``render`` handler: 0 on success, 2 (with one line on stderr) on bad input."""
    try:
        return _run(args)
    except (_InputError, ValueError, TypeError, ImportError) as e:
        message = " ".join(str(e).split())
        sys.stderr.write(f"{_PROG}: {message}\n")
        return 2


def _run(args: argparse.Namespace) -> int:
    messages, tools, kwargs = _conversation(args.conversation)
    if args.tools is not None:
        tools = _tools(args.tools)
    if args.thinking is not None:
        kwargs["thinking"] = args.thinking
    if args.preserve_thinking is not None:
        kwargs["preserve_thinking"] = args.preserve_thinking
    if args.ids and not args.vocab:
        raise _InputError("--ids needs --vocab PATH (the Kimi model directory or its tiktoken.model)")
    try:
        text = render(
            messages,
            tools,
            model=args.model,
            add_generation_prompt=args.generation_prompt,
            strict=not args.lenient,
            normalize_ids=args.normalize_ids,
            plain_template=args.plain_template,
            **kwargs,
        )
    except (ValueError, TypeError) as e:
        raise _InputError(f"{args.conversation}: {e}") from None
    if args.ids:
        ids = encode_prompt(text, args.vocab)
        sys.stdout.write(json.dumps(ids) + "\n")
        return 0
    out = getattr(sys.stdout, "buffer", None)
    if out is not None:
        sys.stdout.flush()
        out.write(text.encode("utf-8"))
        out.flush()
    else:
        sys.stdout.write(text)
    return 0
