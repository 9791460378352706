"""The command line: ``kimi-toolparse parse`` (and ``render``, when the renderer is installed).

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


def _read_tools(path: str | None) -> Tools | None:
    if path is None:
        return None
    data = read_json(path)
    if isinstance(data, dict) and "tools" in data:
        data = data["tools"]  # a whole request file works too
    try:
        return Tools(data)
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
    try:
        from . import cli_render
    except ImportError:  # pragma: no cover - the renderer ships with the package
        pass
    else:
        cli_render.add_parser(sub)
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
