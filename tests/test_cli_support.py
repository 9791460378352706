"""What every subcommand shares: the one-line error, and --help showing every default."""

from __future__ import annotations

import argparse
import subprocess
import sys

import pytest

from kimi_toolparse.cli import build_parser
from kimi_toolparse.cli_support import ArgumentParser, HelpFormatter
from kimi_toolparse.serve.standin import build_parser as standin_parser


def _parsers() -> dict[str, argparse.ArgumentParser]:
    main = build_parser()
    found = {"kimi-toolparse": main, "standin": standin_parser()}
    for action in main._actions:
        if isinstance(action, argparse._SubParsersAction):
            found.update({f"kimi-toolparse {n}": p for n, p in action.choices.items()})
    return found


PARSERS = _parsers()


def test_every_subcommand_is_seen() -> None:
    assert {"parse", "render", "check", "verify", "serve", "grammar", "fuzz"} <= {
        name.split()[-1] for name in PARSERS
    }


@pytest.mark.parametrize("name", sorted(PARSERS))
def test_every_option_has_help_and_every_default_shows(name: str) -> None:
    parser = PARSERS[name]
    assert parser.formatter_class is HelpFormatter
    formatter = parser._get_formatter()
    for action in parser._actions:
        if isinstance(action, (argparse._HelpAction, argparse._VersionAction, argparse._SubParsersAction)):
            continue
        assert action.help, f"{name}: {action.option_strings or action.dest} has no help"
        default = action.default
        if default is None or isinstance(default, bool):
            continue
        text = formatter._expand_help(action)
        assert "default" in text, f"{name}: {action.option_strings or action.dest} hides its default"


def test_defaults_are_printed_in_help() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "kimi_toolparse", "grammar", "--help"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert "(default: 8)" in " ".join(out.split()) and "(default: structural-tag)" in " ".join(out.split())
    out = subprocess.run(
        [sys.executable, "-m", "kimi_toolparse", "fuzz", "--help"], capture_output=True, text=True, check=True
    ).stdout
    assert "(default: 100)" in " ".join(out.split())


def test_a_help_that_names_its_default_is_left_alone() -> None:
    p = ArgumentParser(prog="x")
    p.add_argument("--a", default=3, help="a number")
    p.add_argument("--b", default=4, help="a number (default four)")
    p.add_argument("--c", action="store_true", help="a flag")
    p.add_argument("--d", help="no default")
    out = " ".join(p.format_help().split())
    assert "a number (default: 3)" in out and "(default four)" in out and "(default: 4)" not in out
    assert "a flag (default" not in out and "no default (default" not in out


def test_a_usage_mistake_is_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as e:
        build_parser().parse_args(["grammar", "--max-calls", "many"])
    assert e.value.code == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("kimi-toolparse: ")
