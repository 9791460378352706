"""The command line: ``kimi-toolparse parse`` (raw output to OpenAI JSON) and ``kimi-toolparse render``
(a conversation file to the exact prompt, or its token ids).

Bad input prints one line, ``kimi-toolparse: ...``, and exits 2; never a traceback.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from typing import Any, NoReturn, TextIO

from .message import ParsedMessage
from .parser import StreamParser
from .render import encode_prompt, render
from .templates import MODELS
from .tools import Tools

PROG = "kimi-toolparse"


class UsageError(Exception):
    """Bad input from the user: one line on stderr, exit status 2."""


class _ArgumentParser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{PROG}: {message} (see '{PROG} --help')\n")


def read_text(path: str) -> str:
    """A file's text (``-`` for stdin) as UTF-8, or a UsageError naming what is wrong."""
    try:
        if path == "-":
            data = sys.stdin.buffer.read()
        else:
            with open(path, "rb") as f:
                data = f.read()
    except OSError as e:
        raise UsageError(f"cannot read {path}: {e.strerror or e}") from None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as e:
        raise UsageError(f"{path} is not UTF-8 text (byte {e.start} is {data[e.start]:#04x})") from None


def read_json(path: str) -> Any:
    text = read_text(path)
    try:
        return json.loads(text)
    except json.JSONDecodeError as e:
        raise UsageError(f"{path} is not valid JSON: {e.msg} at line {e.lineno}, column {e.colno}") from None


def _read_tool_list(path: str) -> list[Any]:
    """The tools in a file: a list, or a request file that has ``tools``."""
    data = read_json(path)
    if isinstance(data, dict) and "tools" in data:
        data = data["tools"]
    if not isinstance(data, list):
        raise UsageError(f"{path} must hold a list of tools (or a request with 'tools')")
    return data


def _read_tools(path: str | None) -> Tools | None:
    if path is None:
        return None
    try:
        return Tools(_read_tool_list(path))
    except (TypeError, ValueError) as e:
        raise UsageError(f"{path}: {e}") from None


def _print_json(obj: Any, out: TextIO) -> None:
    out.write(json.dumps(obj, ensure_ascii=False) + "\n")


def _diagnostics_table(message: ParsedMessage, out: TextIO) -> None:
    rows = [("offset", "code", "call", "message", "text")]
    for d in message.diagnostics:
        text = d.text if len(d.text) <= 40 else d.text[:37] + "..."
        call = "" if d.call_index is None else str(d.call_index)
        rows.append((str(d.offset), d.code.value, call, d.message, json.dumps(text, ensure_ascii=False)))
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    for r in rows:
        out.write("  ".join(cell.ljust(w) for cell, w in zip(r, widths, strict=True)).rstrip() + "\n")


def cmd_parse(args: argparse.Namespace) -> int:
    text = read_text(args.file)
    tools = _read_tools(args.tools)
    if args.chunk_size < 1:
        raise UsageError("--chunk-size must be at least 1")
    parser = StreamParser(tools=tools, thinking=args.thinking)
    out: TextIO = sys.stdout
    if args.stream:
        size = args.chunk_size
        for start in range(0, len(text), size):
            for event in parser.feed(text[start : start + size]):
                delta = event.to_openai()
                if delta is not None:
                    _print_json({"index": 0, "delta": delta, "finish_reason": None}, out)
        for event in parser.close(stop_reason=args.stop_reason):
            delta = event.to_openai()
            if delta is not None:
                _print_json({"index": 0, "delta": delta, "finish_reason": None}, out)
        _print_json({"index": 0, "delta": {}, "finish_reason": parser.message.finish_reason}, out)
    else:
        parser.feed(text)
        parser.close(stop_reason=args.stop_reason)
        out.write(json.dumps(parser.message.to_openai(), ensure_ascii=False, indent=2) + "\n")
    if args.diagnostics:
        _diagnostics_table(parser.message, sys.stderr)
    return 0


def _conversation(path: str) -> tuple[Any, Any, dict[str, Any]]:
    """messages, tools and chat_template_kwargs from a request file or a bare message list."""
    data = read_json(path)
    if isinstance(data, list):
        return data, None, {}
    if not isinstance(data, dict):
        raise UsageError(f"{path} must hold a request object with messages, or a list of messages")
    if "messages" not in data:
        raise UsageError(f"{path} has no 'messages': want an OpenAI chat request or a list of messages")
    kwargs = data.get("chat_template_kwargs") or {}
    if not isinstance(kwargs, dict):
        raise UsageError(f"{path}: chat_template_kwargs must be an object")
    known = {k: v for k, v in kwargs.items() if k in ("thinking", "preserve_thinking")}
    return data["messages"], data.get("tools"), known


def cmd_render(args: argparse.Namespace) -> int:
    messages, tools, kwargs = _conversation(args.conversation)
    if args.tools is not None:
        tools = _read_tool_list(args.tools)
    if args.thinking is not None:
        kwargs["thinking"] = args.thinking
    if args.preserve_thinking is not None:
        kwargs["preserve_thinking"] = args.preserve_thinking
    if args.ids and not args.vocab:
        raise UsageError("--ids needs --vocab PATH (the Kimi model directory or its tiktoken.model)")
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
        raise UsageError(f"{args.conversation}: {' '.join(str(e).split())}") from None
    if args.ids:
        try:
            ids = encode_prompt(text, args.vocab)
        except (OSError, ValueError, ImportError) as e:
            raise UsageError(" ".join(str(e).split())) from None
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


def _add_render(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
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
    p.set_defaults(handler=cmd_render)


def build_parser() -> argparse.ArgumentParser:
    ap = _ArgumentParser(prog=PROG, description="Parse and render Kimi K2 raw output and prompts.")
    sub = ap.add_subparsers(dest="command", metavar="COMMAND", parser_class=_ArgumentParser)
    sub.required = True
    p = sub.add_parser(
        "parse",
        help="parse raw model output into an OpenAI assistant message",
        description="Parse raw Kimi K2 output (a file, or - for stdin) into an OpenAI assistant message.",
    )
    p.add_argument("file", nargs="?", default="-", metavar="FILE", help="raw output; - or nothing for stdin")
    p.add_argument("--thinking", action="store_true", help="the prompt ended with <think>")
    p.add_argument("--stream", action="store_true", help="print the stream's chunks, one per line")
    p.add_argument("--chunk-size", type=int, default=4, metavar="N", help="characters per fed chunk (4)")
    p.add_argument("--tools", metavar="TOOLS.json", help="the request's tools (a list, or a request file)")
    p.add_argument("--stop-reason", metavar="REASON", help="the engine's stop reason, e.g. length")
    p.add_argument("--diagnostics", action="store_true", help="print a table of diagnostics on stderr")
    p.set_defaults(handler=cmd_parse)
    _add_render(sub)
    from .serve.cli import add_parser as add_serve

    add_serve(sub)
    from .fuzzing.cli import add_parser as add_fuzz

    add_fuzz(sub)
    return ap


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        code: int = args.handler(args)
    except UsageError as e:
        sys.stderr.write(f"{PROG}: {e}\n")
        return 2
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        return 0
    return code


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
