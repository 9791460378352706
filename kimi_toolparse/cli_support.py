"""What every ``kimi-toolparse`` subcommand shares: the one-line usage error, an argument parser that
exits 2 with one line and shows every default in ``--help``, and reading input files (``-`` for stdin) as
UTF-8 text or JSON.

A leaf: the subcommands' packages import it, and ``cli.py`` imports them, with no cycle.
"""

from __future__ import annotations

import argparse
import codecs
import json
import sys
from collections.abc import Iterator, Sequence
from typing import Any, BinaryIO, NoReturn

__all__ = [
    "PIECE_BYTES",
    "PROG",
    "ArgumentParser",
    "HelpFormatter",
    "UsageError",
    "read_json",
    "read_text",
    "read_text_pieces",
    "table",
]

PROG = "kimi-toolparse"


class UsageError(Exception):
    """Bad input from the user: one line on stderr, exit status 2."""


class HelpFormatter(argparse.HelpFormatter):
    """Ends each option's help with its default, ``(default: 8)``, unless the help already names it.

    Flags (a default of True or False) and options without a default (None) show none: their help says
    what giving them does. An option without help shows nothing: give every option a help."""

    def _get_help_string(self, action: argparse.Action) -> str | None:
        text = action.help or ""
        default = action.default
        if (
            "default" in text
            or default is None
            or default is argparse.SUPPRESS
            or isinstance(default, bool)
            or (not action.option_strings and action.nargs not in ("?", "*"))
        ):
            return text
        return f"{text} (default: %(default)s)"


class ArgumentParser(argparse.ArgumentParser):
    """Exits 2 with one line naming the mistake, never a usage dump; ``--help`` shows the defaults."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("formatter_class", HelpFormatter)
        super().__init__(*args, **kwargs)

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


#: Bytes read at a time by :func:`read_text_pieces`.
PIECE_BYTES = 1 << 20


def read_text_pieces(path: str, size: int | None = None) -> Iterator[str]:
    """A file's text (``-`` for stdin) as UTF-8, piece by piece, so a large file is never held whole.

    The file is opened at once (a missing file is an error before any output); a byte that is not UTF-8
    raises :class:`UsageError` when its piece is reached. ``size``: bytes a piece (:data:`PIECE_BYTES`)."""
    size = PIECE_BYTES if size is None else size
    if path == "-":
        return _pieces(sys.stdin.buffer, path, size)
    try:
        f = open(path, "rb")  # noqa: SIM115 (closed by _pieces)
    except OSError as e:
        raise UsageError(f"cannot read {path}: {e.strerror or e}") from None
    return _pieces(f, path, size)


def _pieces(f: BinaryIO, path: str, size: int) -> Iterator[str]:
    decoder = codecs.getincrementaldecoder("utf-8")()
    done = 0  # bytes decoded before the current block
    try:
        while True:
            try:
                block = f.read(size)
            except OSError as e:
                raise UsageError(f"cannot read {path}: {e.strerror or e}") from None
            pending = len(decoder.getstate()[0])
            try:
                text = decoder.decode(block, final=not block)
            except UnicodeDecodeError as e:
                where = done - pending + e.start
                raise UsageError(
                    f"{path} is not UTF-8 text (byte {where} is {e.object[e.start]:#04x})"
                ) from None
            done += len(block)
            if text:
                yield text
            if not block:
                return
    finally:
        if f is not sys.stdin.buffer:
            f.close()


def read_json(path: str) -> Any:
    text = read_text(path)
    try:
        return json.loads(text)
    except json.JSONDecodeError as e:
        raise UsageError(f"{path} is not valid JSON: {e.msg} at line {e.lineno}, column {e.colno}") from None


def table(rows: Sequence[Sequence[str]], *, markdown: bool = False) -> str:
    """Rows as aligned columns, the first row the heading; ``markdown`` draws a Markdown table instead."""
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    if not markdown:
        return "".join(
            "  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() + "\n" for r in rows
        )
    lines = ["| " + " | ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)) + " |" for r in rows]
    lines.insert(1, "|" + "|".join("-" * (w + 2) for w in widths) + "|")
    return "\n".join(lines) + "\n"
