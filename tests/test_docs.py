"""The README and docs/ as a user meets them: every relative link resolves, and every example runs.

- Links: each relative link in README.md, CONTRIBUTING.md and docs/*.md names an existing file, and its
  ``#anchor`` an anchor of that file (a heading, by GitHub's slug rules, or an ``<a id>``).
- Python: each page's ```python blocks run in order in one fresh interpreter from the clone's root, except
  those marked ``<!-- docs-test: ... -->`` just above their fence: ``skip (why)`` for a recipe whose
  names are the reader's own (``engine``, ``send_chunk``), and the serving examples, which run below
  against real processes.
- Shell: each line of a ```sh block that starts with ``kimi-toolparse`` and names a file of fixtures/ (or
  a fuzz target of tests/fuzzing/) runs
  as written (``kimi-toolparse`` being ``python -m kimi_toolparse``) and succeeds (``fuzz``: exit 1 means
  it found what it was pointed at).
- Serving: the ``serve-processes`` commands of the README and docs/serving.md start the stand-in engine and
  the gateway (on free ports instead of 8000 and 9000), and the ``serve-client`` examples and the raw
  ``/completions`` loop of docs/rendering.md run against them to the end.
- Outputs: what docs/verification.md shows ``check`` and ``verify`` print is what they print.
"""

from __future__ import annotations

import os
import re
import shlex
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from .conftest import ROOT

DOCS = ROOT / "docs"
PAGES = sorted([ROOT / "README.md", ROOT / "CONTRIBUTING.md", *DOCS.glob("*.md")])
#: Pages other branches add (the gateway's agent clients and engines): linked now, checked once they land.
PENDING: set[str] = set()
#: The environment the examples run in: this clone's package first.
ENV = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}

_FENCE = re.compile(r"^(?P<indent> *)```(?P<lang>[\w-]*)\s*$")
_MARK = re.compile(r"<!--\s*docs-test:\s*(?P<what>[^>]*?)\s*-->")
_LINK = re.compile(r"(?<!!)\[(?:[^\]\[]|\[[^\]]*\])*\]\((?P<target>[^)\s]+)(?:\s+\"[^\"]*\")?\)")
_INLINE_CODE = re.compile(r"`+[^`]*`+")
_HTML_ANCHOR = re.compile(r"<a\s+(?:id|name)=\"([^\"]+)\"")


@dataclass(frozen=True)
class Block:
    page: Path
    line: int
    lang: str
    code: str
    mark: str | None


def _read(page: Path) -> tuple[list[Block], list[tuple[int, str]]]:
    """A page's fenced blocks, and its prose lines (outside fences)."""
    blocks: list[Block] = []
    prose: list[tuple[int, str]] = []
    lines = page.read_text(encoding="utf-8").splitlines()
    i = 0
    while i < len(lines):
        fence = _FENCE.match(lines[i])
        if fence is None:
            prose.append((i + 1, lines[i]))
            i += 1
            continue
        mark = None
        for back in range(i - 1, -1, -1):  # the nearest non-blank line above the fence
            if lines[back].strip():
                found = _MARK.search(lines[back])
                mark = found.group("what") if found else None
                break
        indent = len(fence.group("indent"))
        body: list[str] = []
        i += 1
        while i < len(lines) and lines[i].strip() != "```":
            body.append(lines[i][indent:])
            i += 1
        blocks.append(Block(page, i - len(body), fence.group("lang"), "\n".join(body) + "\n", mark))
        i += 1
    return blocks, prose


READ = {page: _read(page) for page in PAGES}


# --- links ------------------------------------------------------------------------------------------


def github_slug(heading: str) -> str:
    """The anchor GitHub gives a heading: lower case, inline code marks and punctuation dropped (hyphens
    and underscores kept), each space a hyphen."""
    text = re.sub(r"<[^>]+>", "", heading.strip().lower())
    text = re.sub(r"[^\w\- ]", "", text)
    return text.replace(" ", "-")


def anchors(page: Path) -> set[str]:
    found: set[str] = set()
    seen: dict[str, int] = {}
    for _, line in READ[page][1] if page in READ else _read(page)[1]:
        found.update(_HTML_ANCHOR.findall(line))
        heading = re.match(r"^#{1,6}\s+(.*?)\s*#*\s*$", line)
        if heading:
            slug = github_slug(heading.group(1))
            n = seen.get(slug, 0)
            seen[slug] = n + 1
            found.add(slug if n == 0 else f"{slug}-{n}")
    return found


def test_github_slug() -> None:
    assert github_slug("Fuzzing other Kimi K2 stacks (`kimi-toolparse fuzz`)") == (
        "fuzzing-other-kimi-k2-stacks-kimi-toolparse-fuzz"
    )
    assert github_slug("The engines' own parsers (`fuzz vllm`, `fuzz sglang`)") == (
        "the-engines-own-parsers-fuzz-vllm-fuzz-sglang"
    )
    assert github_slug("Compared with the engines' own `kimi_k2` parsers") == (
        "compared-with-the-engines-own-kimi_k2-parsers"
    )
    assert github_slug("Rule 11: drifted ids") == "rule-11-drifted-ids"


def _links() -> list[tuple[Path, int, str]]:
    out = []
    for page in PAGES:
        for number, line in READ[page][1]:
            for m in _LINK.finditer(_INLINE_CODE.sub("", line)):
                target = m.group("target")
                if not re.match(r"^[a-z][a-z0-9+.-]*:", target):  # http:, https:, mailto:
                    out.append((page, number, target))
    return out


LINKS = _links()


def test_the_pages_have_links() -> None:
    assert len(LINKS) > 50
    assert {p.name for p, _, _ in LINKS} >= {"README.md", "CONTRIBUTING.md", "serving.md", "parsing.md"}


@pytest.mark.parametrize(("page", "line", "target"), LINKS, ids=[f"{p.name}:{n}" for p, n, _ in LINKS])
def test_every_relative_link_resolves(page: Path, line: int, target: str) -> None:
    path, _, anchor = target.partition("#")
    file = (page.parent / path).resolve() if path else page
    if file.name in PENDING and file.parent == DOCS and not file.exists():
        return  # another branch adds it (test_pending_pages_are_still_pending keeps this list honest)
    assert file.exists(), f"{page.name}:{line}: {target} names no file"
    assert ROOT in file.parents or file == ROOT, f"{page.name}:{line}: {target} leaves the repository"
    if anchor:
        assert file.suffix == ".md", f"{page.name}:{line}: an anchor into {file.name}"
        assert anchor in anchors(file), f"{page.name}:{line}: {file.name} has no anchor #{anchor}"


def test_pending_pages_are_still_pending() -> None:
    """Once a pending page lands, it leaves PENDING (and its links are checked like any other)."""
    landed = sorted(name for name in PENDING if (DOCS / name).exists())
    assert not landed, f"remove {landed} from PENDING in tests/test_docs.py"


def test_the_readme_is_a_front_door() -> None:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    assert len(text.splitlines()) <= 300
    linked = {t.partition("#")[0] for p, _, t in LINKS if p.name == "README.md"}
    for page in DOCS.glob("*.md"):  # every docs page is reachable from the README
        assert f"docs/{page.name}" in linked, f"the README does not link docs/{page.name}"
    for page in PAGES:  # no workspace paths and no project history in what a user reads
        body = page.read_text(encoding="utf-8")
        assert not re.search(r"\.\./shared", body), page.name
        assert not re.search(r"\b(this session|[Ii]ssue \d+|after the fix)\b", body), page.name


# --- python examples --------------------------------------------------------------------------------

SERVER_MARKS = ("serve-client", "completions-loop")


def _python_pages() -> list[Path]:
    return [p for p in PAGES if any(b.lang == "python" and b.mark is None for b in READ[p][0])]


def _run_python(code: str, *, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=ENV, capture_output=True, text=True, timeout=timeout
    )


#: The Kimi vocabulary that ships with the package: token-id examples need no path.
SHIPPED_VOCABULARY = ROOT / "kimi_toolparse" / "data" / "tiktoken.model"


def _needs_vocabulary(code: str) -> bool:
    return bool(re.search(r"\b(render_ids|feed_ids|encode_prompt)\(|--ids\b", code))


def _skip_without_vocabulary(code: str) -> None:
    if _needs_vocabulary(code):
        pytest.importorskip("tiktoken", reason="encoding needs the tiktoken extra (in the test extra)")
        if not SHIPPED_VOCABULARY.exists():
            pytest.skip(f"needs {SHIPPED_VOCABULARY.relative_to(ROOT)}, the vocabulary the package ships")


@pytest.mark.parametrize("page", _python_pages(), ids=lambda p: p.name)
def test_the_python_examples_run(page: Path) -> None:
    blocks = [b for b in READ[page][0] if b.lang == "python" and b.mark is None]
    _skip_without_vocabulary("".join(b.code for b in blocks))
    for b in READ[page][0]:
        if b.lang == "python" and b.mark is not None:
            assert b.mark.startswith("skip (") or b.mark in SERVER_MARKS, f"{page.name}:{b.line}: {b.mark}"
    code = "\n".join(f"# {page.name}:{b.line}\n{b.code}" for b in blocks)
    result = _run_python(code)
    assert result.returncode == 0, f"{page.name}:\n{result.stderr[-3000:]}"


# --- shell examples ---------------------------------------------------------------------------------


def _commands() -> list[tuple[Path, int, str]]:
    out = []
    for page in PAGES:
        for b in READ[page][0]:
            if b.lang != "sh":
                continue
            for k, line in enumerate(b.code.splitlines()):
                command = re.split(r"\s{2,}#", line)[0].strip()
                if command.startswith("kimi-toolparse ") and re.search(
                    r"fixtures/|tests\.fuzzing\.", command
                ):
                    assert not command.endswith("\\"), f"{page.name}:{b.line + k}: continued line"
                    out.append((page, b.line + k, command))
    return out


COMMANDS = _commands()


def test_the_pages_have_commands_to_run() -> None:
    assert {c.split()[1] for _, _, c in COMMANDS} >= {"parse", "render", "check", "grammar", "fuzz"}


@pytest.mark.parametrize(("page", "line", "command"), COMMANDS, ids=[f"{p.name}:{n}" for p, n, _ in COMMANDS])
def test_the_shell_examples_run(page: Path, line: int, command: str) -> None:
    _skip_without_vocabulary(command)
    python = shlex.quote(sys.executable)
    shell = python + " -m kimi_toolparse " + command.removeprefix("kimi-toolparse ")
    result = subprocess.run(
        ["bash", "-c", shell], cwd=ROOT, env=ENV, capture_output=True, text=True, timeout=300
    )
    allowed = (0, 1) if command.split()[1] == "fuzz" else (0,)
    assert result.returncode in allowed, f"{page.name}:{line}: {command}\n{result.stderr[-2000:]}"
    assert result.stdout, f"{page.name}:{line}: {command} printed nothing"


# --- serving, against real processes ----------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _marked(page: Path, mark: str) -> list[Block]:
    return [b for b in READ[page][0] if b.mark == mark]


def _wait_for(url: str, seconds: float = 20) -> None:
    deadline = time.monotonic() + seconds
    while True:
        try:
            with urllib.request.urlopen(url, timeout=2) as r:
                if r.status == 200:
                    return
        except OSError:
            pass
        if time.monotonic() > deadline:
            raise AssertionError(f"{url} did not answer within {seconds} s")
        time.sleep(0.1)


@pytest.fixture(scope="module")
def served() -> Iterator[dict[str, str]]:
    """The README's two serve commands, as written but on free ports: the stand-in and the gateway."""
    pytest.importorskip("uvicorn", reason="the gateway needs the serve extra")
    (block,) = _marked(ROOT / "README.md", "serve-processes")
    ports = {"8000": str(_free_port()), "9000": str(_free_port())}
    procs = []
    state = tempfile.TemporaryDirectory()  # the gateway's stored responses, not the user's state directory
    env = {**ENV, "XDG_STATE_HOME": state.name}
    try:
        for line in block.code.strip().splitlines():
            argv = shlex.split(re.sub(r"\b(8000|9000)\b", lambda m: ports[m.group(1)], line))
            if argv[0] == "kimi-toolparse":
                argv = [sys.executable, "-m", "kimi_toolparse", *argv[1:]]
            else:
                assert argv[0] == "python"
                argv[0] = sys.executable
            procs.append(
                subprocess.Popen(
                    argv, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
                )
            )
        _wait_for(f"http://127.0.0.1:{ports['8000']}/v1/models")
        _wait_for(f"http://127.0.0.1:{ports['9000']}/health")
        yield ports
    finally:
        for proc in procs:
            proc.terminate()
        for proc in procs:
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:  # pragma: no cover
                proc.kill()
                proc.wait(10)
        state.cleanup()


def test_the_serving_pages_start_the_same_processes() -> None:
    (readme,) = _marked(ROOT / "README.md", "serve-processes")
    (serving,) = _marked(DOCS / "serving.md", "serve-processes")
    assert readme.code == serving.code


def _with_ports(code: str, ports: dict[str, str]) -> str:
    return re.sub(r"(?<=127\.0\.0\.1:)(8000|9000)\b", lambda m: ports[m.group(1)], code)


def test_the_readme_client_gets_the_calls(served: dict[str, str]) -> None:
    pytest.importorskip("openai", reason="the client example needs the openai package (test extra)")
    (block,) = _marked(ROOT / "README.md", "serve-client")
    result = _run_python(_with_ports(block.code, served), timeout=60)
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.strip() == (
        'tool_calls [\'{"city": "Beijing", "unit": "celsius"}\', \'{"city": "Shanghai", "unit": "celsius"}\']'
    )


def test_the_serving_loop_ends_with_the_final_answer(served: dict[str, str]) -> None:
    """docs/serving.md's tool-call loop, then its thinking-off request: both as written, to the end."""
    pytest.importorskip("openai", reason="the client example needs the openai package (test extra)")
    blocks = _marked(DOCS / "serving.md", "serve-client")
    assert len(blocks) == 2
    result = _run_python("\n".join(_with_ports(b.code, served) for b in blocks), timeout=60)
    assert result.returncode == 0, result.stderr[-3000:]
    final, thinking_off = result.stdout.strip().splitlines()
    assert final == (
        'The tools returned: {"city": "Beijing", "temperature": 21, "unit": "celsius"}; '
        '{"city": "Shanghai", "temperature": 21, "unit": "celsius"}'
    )
    assert thinking_off == "I'll check the weather in both cities."


def test_the_anthropic_sdk_loop_ends(served: dict[str, str]) -> None:
    """docs/claude-code.md's tool loop through the Messages API, as written, to the final answer."""
    pytest.importorskip("anthropic", reason="the example needs the anthropic package (test extra)")
    (block,) = _marked(DOCS / "claude-code.md", "serve-client")
    result = _run_python(_with_ports(block.code, served), timeout=60)
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.strip() == (
        'The tools returned: {"city": "Beijing", "temperature": 21, "unit": "celsius"}; '
        '{"city": "Shanghai", "temperature": 21, "unit": "celsius"}'
    )


def test_the_responses_example_chains(served: dict[str, str]) -> None:
    """docs/responses.md's calls, chained result and stream through the Responses API, as written."""
    (block,) = _marked(DOCS / "responses.md", "serve-client")
    result = _run_python(_with_ports(block.code, served), timeout=60)
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.strip().splitlines() == [
        'functions.get_weather:0 get_weather {"city": "Beijing", "unit": "celsius"}',
        'functions.get_weather:1 get_weather {"city": "Shanghai", "unit": "celsius"}',
        "The tools returned: 21C, sunny; 21C, sunny",
    ]


def test_the_completions_loop_ends(served: dict[str, str]) -> None:
    """docs/rendering.md's loop against the stand-in's raw /v1/completions."""
    (block,) = _marked(DOCS / "rendering.md", "completions-loop")
    result = _run_python(_with_ports(block.code, served), timeout=60)
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.startswith("The tools returned: ")


# --- outputs the pages show -------------------------------------------------------------------------


def _shown(page: Path, command: str) -> Block:
    (block,) = [b for b in READ[page][0] if b.lang == "" and f"$ {command}" in b.code]
    return block


def _kimi(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "kimi_toolparse", *args], cwd=cwd, env=ENV, capture_output=True, text=True
    )


def test_the_check_output_shown_is_what_check_prints() -> None:
    command = (
        "kimi-toolparse check fixtures/verification/results.jsonl"
        " --reference fixtures/verification/reference.jsonl"
    )
    shown = _shown(DOCS / "verification.md", command).code.split("\n", 1)[1]
    result = _kimi(*shlex.split(command)[1:])
    assert result.returncode == 0 and result.stdout == shown


def test_the_verify_run_shown_is_what_verify_prints(served: dict[str, str], tmp_path: Path) -> None:
    """docs/verification.md's verify against the gateway of the serving example, then its rerun and check."""
    pytest.importorskip("httpx", reason="verify needs the verify extra (in the test extra)")
    block = _shown(DOCS / "verification.md", "kimi-toolparse verify --base-url http://127.0.0.1:9000/v1")
    requests = str(ROOT / "fixtures" / "verification" / "requests.jsonl")
    reference = str(ROOT / "fixtures" / "verification" / "reference.jsonl")
    args = ["verify", "--base-url", f"http://127.0.0.1:{served['9000']}/v1", "--requests", requests]
    first = _kimi(*args, "--out", "results.jsonl", cwd=tmp_path)
    again = _kimi(*args, "--out", "results.jsonl", cwd=tmp_path)
    checked = _kimi("check", "results.jsonl", "--reference", reference, cwd=tmp_path)
    assert first.returncode == again.returncode == checked.returncode == 0, first.stderr + again.stderr
    printed = set((first.stderr + first.stdout + again.stderr + checked.stdout).splitlines())
    for line in block.code.splitlines():
        if line.startswith(("verify:", "| ")):
            assert line in printed, line
