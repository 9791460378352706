"""Every message about a missing extra gives the command that works from a clone (``pip install '.[X]'``),
names an extra the project has, and reaches the user as one line from every entry point, never a traceback."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

import kimi_toolparse
from kimi_toolparse.extras import EXTRA_OF_MODULE, ExtraMissing, install_command, missing_extra

from .conftest import FIXTURES, ROOT

PACKAGE = Path(kimi_toolparse.__file__).resolve().parent
EXTRAS: dict[str, list[str]] = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))[
    "project"
]["optional-dependencies"]


def _distribution(requirement: str) -> str:
    """The distribution a requirement names, normalized (``uvicorn[standard]>=0.29`` -> ``uvicorn``)."""
    name = re.match(r"[A-Za-z0-9_.\-]+", requirement)
    assert name, requirement
    return re.sub(r"[-_.]+", "-", name.group(0)).lower()


@pytest.mark.parametrize(("module", "extra"), sorted(EXTRA_OF_MODULE.items()))
def test_each_optional_module_comes_with_the_extra_named_for_it(module: str, extra: str) -> None:
    assert extra in EXTRAS, f"{module}: no extra {extra!r} in pyproject.toml"
    assert re.sub(r"_", "-", module) in {_distribution(r) for r in EXTRAS[extra]}, (module, EXTRAS[extra])


def test_the_message_is_one_line_with_the_clones_command() -> None:
    error = missing_extra("render --ids", "tiktoken")
    assert isinstance(error, ExtraMissing) and isinstance(error, ImportError) and error.name == "tiktoken"
    assert str(error) == (
        "render --ids needs the tiktoken extra (tiktoken is not installed): "
        "pip install '.[tiktoken]' in your kimi_toolparse clone"
    )
    assert install_command("serve") == "pip install '.[serve]'"
    assert "pip install '.[serve]'" in str(missing_extra("x", "uvicorn.config"))  # a submodule: its package


def test_every_install_command_in_the_package_is_one_that_works_from_a_clone() -> None:
    """No message or docstring sends users to ``pip install 'kimi_toolparse[...]'`` (not published), and
    every ``pip install '.[X]'`` names an extra pyproject.toml has. (``extras.py`` alone says how the
    package would install once published.)"""
    seen = 0
    for path in sorted(PACKAGE.rglob("*.py")):
        text = path.read_text(encoding="utf-8")
        if path.name == "extras.py":
            text = text.replace("``pip install 'kimi_toolparse[EXTRA]'``", "")
        assert "kimi_toolparse[" not in text, f"{path.name} gives an install command that fails from a clone"
        for extra in re.findall(r"pip install '\.\[([a-z-]+)\]'", text):
            assert extra in EXTRAS, f"{path.name}: pip install '.[{extra}]' names no extra"
            seen += 1
    assert seen >= 5


def _blocked(modules: list[str], code: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    """Run ``code`` in a fresh interpreter where ``modules`` do not import (as if their extras were
    missing)."""
    block = "".join(f"sys.modules[{m!r}] = None\n" for m in modules)
    return subprocess.run(
        [sys.executable, "-c", "import sys\n" + block + code],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
        env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"},
    )


def _cli(argv: list[str]) -> str:
    return f"from kimi_toolparse.cli import main\nsys.exit(main({argv!r}))\n"


@pytest.fixture
def files(tmp_path: Path) -> dict[str, str]:
    request = {"model": "kimi-k2.5", "messages": [{"role": "user", "content": "hi"}]}
    tools = [{"type": "function", "function": {"name": "f", "parameters": {"type": "object"}}}]
    (tmp_path / "req.json").write_text(json.dumps({**request, "tools": tools}), encoding="utf-8")
    (tmp_path / "reqs.jsonl").write_text(json.dumps(request) + "\n", encoding="utf-8")
    return {"req": str(tmp_path / "req.json"), "reqs": str(tmp_path / "reqs.jsonl"), "dir": str(tmp_path)}


ENTRY_POINTS = [
    # (blocked modules, what to run, the extra the one line must name)
    (["tiktoken"], ["render", "{req}", "--ids"], "tiktoken"),
    (["uvicorn"], ["serve", "--upstream", "http://127.0.0.1:9/v1", "--port", "0"], "serve"),
    (
        ["httpx"],
        ["verify", "--base-url", "http://127.0.0.1:9/v1", "--requests", "{reqs}", "--out", "{dir}/o.jsonl"],
        "verify",
    ),
    (["hypothesis"], ["fuzz", "tests.fuzzing.guide_regex:parse"], "fuzz"),
    (["tiktoken"], ["fuzz", "tests.fuzzing.own_targets:parse_token_ids", "--examples", "1"], "tiktoken"),
]


@pytest.mark.parametrize(
    ("blocked", "argv", "extra"), ENTRY_POINTS, ids=[" ".join(e[1][:1] + e[0]) for e in ENTRY_POINTS]
)
def test_each_subcommand_says_in_one_line_which_extra_to_install(
    files: dict[str, str], blocked: list[str], argv: list[str], extra: str
) -> None:
    done = _blocked(blocked, _cli([a.format(**files) for a in argv]), ROOT)
    assert done.returncode == 2, done.stderr
    assert "Traceback" not in done.stderr and done.stderr.count("\n") == 1, done.stderr
    assert done.stderr.startswith("kimi-toolparse: ")
    assert f"{install_command(extra)} in your kimi_toolparse clone" in done.stderr


def test_grammars_need_no_extra(files: dict[str, str]) -> None:
    """The grammar command builds every format with xgrammar and PyTorch absent (the converter is ours)."""
    for fmt in ("structural-tag", "ebnf", "gbnf"):
        done = _blocked(["xgrammar", "torch"], _cli(["grammar", files["req"], "--format", fmt]), ROOT)
        assert done.returncode == 0 and done.stderr == "", done.stderr
        assert ("functions.f:0" if fmt == "structural-tag" else "args_0_root ::= ") in done.stdout.replace(
            "args-0-root", "args_0_root"
        )


def test_the_standin_says_in_one_line_which_extra_to_install() -> None:
    code = (
        "import runpy\n"
        f"sys.argv = ['standin', '--output', {str(FIXTURES / 'outputs' / 'weather.txt')!r}]\n"
        "runpy.run_module('kimi_toolparse.serve.standin', run_name='__main__')\n"
    )
    done = _blocked(["uvicorn"], code, ROOT)
    assert done.returncode == 2 and "Traceback" not in done.stderr and done.stderr.count("\n") == 1
    assert done.stderr == (
        "standin: the stand-in needs the serve extra (uvicorn is not installed): "
        "pip install '.[serve]' in your kimi_toolparse clone\n"
    )


def test_the_standins_vocab_without_tiktoken_is_one_line() -> None:
    code = (
        "import runpy\n"
        f"sys.argv = ['standin', '--output', {str(FIXTURES / 'outputs' / 'weather.txt')!r}, '--vocab']\n"
        "runpy.run_module('kimi_toolparse.serve.standin', run_name='__main__')\n"
    )
    done = _blocked(["tiktoken"], code, ROOT)
    assert done.returncode == 2 and done.stderr == (
        "standin: encoding text to token ids needs the tiktoken extra (tiktoken is not installed): "
        "pip install '.[tiktoken]' in your kimi_toolparse clone\n"
    )


def test_encoding_without_tiktoken_raises_the_message_from_the_api() -> None:
    code = (
        "import kimi_toolparse as k\n"
        "try:\n"
        "    k.render_ids([{'role': 'user', 'content': 'hi'}], model='kimi-k2.5')\n"
        "except ImportError as e:\n"
        "    print(type(e).__name__, e)\n"
        "m = k.StreamParser()\n"
        "m.feed_ids([19180, 0])\n"  # decoding needs only the packaged file, not tiktoken
        "m.close()\n"
        "print(m.message.content)\n"
    )
    done = _blocked(["tiktoken"], code, ROOT)
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == [
        "ExtraMissing encoding text to token ids needs the tiktoken extra (tiktoken is not installed): "
        "pip install '.[tiktoken]' in your kimi_toolparse clone",
        "Hello!",
    ]
