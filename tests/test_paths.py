"""The test suite reads nothing outside the repository: every data path the tests and benchmarks name lies
inside ``ROOT``, and no source under ``tests/``, ``tests_heavy/``, ``testsupport/`` or ``benchmarks/`` climbs
out of it (``..``) or names the workplace's shared folder."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

from testsupport import paths

ROOT = paths.ROOT
FOLDERS = ("tests", "tests_heavy", "testsupport", "benchmarks")
SOURCES = sorted(p for folder in FOLDERS for p in (ROOT / folder).rglob("*.py"))
#: How a source would reach the workplace's shared folder (spelled in pieces, so this file does not).
_WORD = "sha" + "red"
SHARED_SPELLINGS = tuple(s.format(_WORD) for s in ("KIMI_{}", "KIMI_{}".upper(), "/{}/", '"{}"'))


@pytest.mark.parametrize("name", paths.__all__)
def test_every_data_path_is_inside_the_repository_and_exists(name: str) -> None:
    path = Path(getattr(paths, name)).resolve()
    assert path == ROOT or ROOT in path.parents, f"{name} = {path} is outside {ROOT}"
    assert path.exists(), f"{name} = {path} does not exist"


def test_the_data_the_tests_read_is_there() -> None:
    assert sum(1 for line in paths.VECTORS.read_text(encoding="utf-8").splitlines() if line.strip()) >= 100
    for model in ("Kimi-K2-Instruct", "Kimi-K2-Instruct-0905", "Kimi-K2-Thinking", "Kimi-K2.5", "Kimi-K2.6"):
        assert (paths.REFERENCE / "templates" / model / "chat_template.jinja").is_file()
    assert len(list((paths.REFERENCE / "json_schema_cases" / "validator_cases").glob("*/valid.jsonl"))) >= 15
    for name in ("requests.jsonl", "results_openrouter_k2_0905.jsonl"):
        assert (paths.REFERENCE / "k2vv" / name).stat().st_size > 100_000


def test_every_data_folder_says_where_it_came_from_and_under_which_licence() -> None:
    notes = {
        paths.REFERENCE: "README.md",
        paths.REFERENCE / "k2vv": "SOURCE.md",
        paths.REFERENCE / "json_schema_cases": "SOURCE.md",
        paths.REFERENCE / "templates": "LICENSE.txt",
        paths.VECTORS.parent: "SOURCE.md",
        paths.VOCAB_FILE.parent: "LICENSE.txt",
    }
    for folder, note in notes.items():
        assert (folder / note).is_file(), f"{folder} has no {note}"
    for folder in (paths.REFERENCE, paths.REFERENCE / "k2vv", paths.VECTORS.parent, paths.VOCAB_FILE.parent):
        text = next(folder.glob("*.md")).read_text(encoding="utf-8")
        assert re.search(r"[Ll]icen[cs]e", text), f"{folder}: its note says nothing of the licence"


def _strings(path: Path) -> list[str]:
    return [
        node.value
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8")))
        if isinstance(node, ast.Constant) and isinstance(node.value, str)
    ]


def test_no_test_source_climbs_out_of_the_repository() -> None:
    assert len(SOURCES) > 50
    for path in SOURCES:
        text = path.read_text(encoding="utf-8")
        named = [s for s in SHARED_SPELLINGS if s in text]
        assert not named, f"{path.relative_to(ROOT)} names the shared folder: {named}"
        assert not re.search(r"\.parent\.parent\.parent|ROOT\.parent", text), f"{path.relative_to(ROOT)}"
        for s in _strings(path):
            assert not re.search(r"(^|/)\.\.(/|$)", s), (
                f"{path.relative_to(ROOT)} builds a path through '..': {s!r}"
            )
