"""The package's shape: no import cycles, parsing and rendering apart, every module documented with __all__.

Read from the source with ``ast`` (nothing is imported), so a cycle hidden in a function body or behind
``TYPE_CHECKING`` counts as well.
"""

from __future__ import annotations

import ast
import importlib
from pathlib import Path

import pytest

import kimi_toolparse

PACKAGE = Path(kimi_toolparse.__file__).resolve().parent
SHARED_LEAVES = (
    "kimi_toolparse.extras",
    "kimi_toolparse.tokens",
    "kimi_toolparse.vocab",
    "kimi_toolparse.call_ids",
    "kimi_toolparse.tool_shape",
)


def _module_name(path: Path) -> str:
    parts = ("kimi_toolparse", *path.relative_to(PACKAGE).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {_module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def _imports(name: str, path: Path) -> set[str]:
    """The package's modules this module imports, anywhere in its body."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                module = ".".join([*base, node.module] if node.module else base)
            else:
                module = node.module or ""
            # ``from . import x`` may name a submodule
            targets = [module] + [f"{module}.{alias.name}" for alias in node.names]
        else:
            continue
        found.update(t for t in targets if t in MODULES and t != name)
    return found


GRAPH = {name: _imports(name, path) for name, path in MODULES.items()}


def test_the_graph_sees_the_package() -> None:
    assert "kimi_toolparse.parsing.parser" in MODULES and "kimi_toolparse.rendering.prompt" in MODULES
    assert "kimi_toolparse.parsing.states" in GRAPH["kimi_toolparse.parsing.parser"]
    assert "kimi_toolparse.tokens" in GRAPH["kimi_toolparse.parsing.parser"]  # ``from ..tokens import``


def test_no_import_cycles() -> None:
    done: set[str] = set()

    def visit(name: str, path: list[str]) -> None:
        if name in path:
            cycle = [*path[path.index(name) :], name]
            pytest.fail("import cycle: " + " -> ".join(cycle))
        if name in done:
            return
        for target in sorted(GRAPH[name]):
            # a package's __init__ importing its own submodules is not a cycle of the code
            if not (MODULES[name].name == "__init__.py" and target.startswith(name + ".")):
                visit(target, [*path, name])
        done.add(name)

    for name in sorted(GRAPH):
        visit(name, [])


@pytest.mark.parametrize(("one", "other"), [("parsing", "rendering"), ("rendering", "parsing")])
def test_parsing_and_rendering_never_import_each_other(one: str, other: str) -> None:
    for name, targets in GRAPH.items():
        if name.startswith(f"kimi_toolparse.{one}"):
            wrong = sorted(t for t in targets if t.startswith(f"kimi_toolparse.{other}"))
            assert not wrong, f"{name} imports {wrong}"


def test_shared_leaves_import_only_each_other() -> None:
    for leaf in SHARED_LEAVES:
        assert GRAPH[leaf] <= set(SHARED_LEAVES), f"{leaf} imports {sorted(GRAPH[leaf])}"


def test_the_openai_view_is_a_leaf() -> None:
    assert GRAPH["kimi_toolparse.parsing.openai_view"] == set()


def _is_all(target: ast.expr) -> bool:
    return isinstance(target, ast.Name) and target.id == "__all__"


@pytest.mark.parametrize("name", sorted(MODULES))
def test_every_module_says_what_it_holds_and_exports(name: str) -> None:
    tree = ast.parse(MODULES[name].read_text(encoding="utf-8"))
    doc = ast.get_docstring(tree)
    assert doc and doc.splitlines()[0].strip(), f"{name}: no first docstring line"
    exported = [
        node
        for node in tree.body
        if (isinstance(node, ast.Assign) and any(_is_all(t) for t in node.targets))
        or (isinstance(node, ast.AnnAssign) and _is_all(node.target))
    ]
    assert exported, f"{name}: no __all__"


#: Modules that import an inference engine: checked by tests_heavy/integrations in the engine's own venv.
ENGINE_MODULES = {
    engine: sorted(n for n in MODULES if n.startswith(f"kimi_toolparse.integrations.{engine}_"))
    for engine in ("vllm", "sglang")
}
_IMPORTABLE = sorted(
    n for n in MODULES if not n.endswith("__main__") and all(n not in m for m in ENGINE_MODULES.values())
)


def check_exports(name: str) -> None:
    """``__all__`` names only what the module has, and no function shadows the module's path."""
    module = importlib.import_module(name)
    missing = [n for n in module.__all__ if not hasattr(module, n)]
    assert not missing, f"{name}.__all__ names what it lacks: {missing}"
    parent, _, leaf = name.rpartition(".")
    if parent:
        assert getattr(importlib.import_module(parent), leaf) is module, f"{parent}.{leaf} is not {name}"


def test_engine_modules_are_known() -> None:
    assert all(len(names) >= 2 for names in ENGINE_MODULES.values()), ENGINE_MODULES


@pytest.mark.parametrize("name", _IMPORTABLE)
def test_all_names_exist_and_module_paths_are_not_shadowed(name: str) -> None:
    check_exports(name)


def test_parsing_alone_never_loads_the_renderer() -> None:
    import subprocess
    import sys

    code = (
        "import sys, kimi_toolparse\n"
        "kimi_toolparse.parse('hi')\n"
        "print(sorted(m for m in sys.modules if m.startswith('kimi_toolparse.rendering')))\n"
        "kimi_toolparse.render([{'role': 'user', 'content': 'hi'}], model='kimi-k2.5')\n"
        "print('kimi_toolparse.rendering.prompt' in sys.modules)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.split("\n")[:2] == ["[]", "True"]


_FORMAT = PACKAGE.parent / "docs" / "format.md"


@pytest.mark.skipif(not _FORMAT.is_file(), reason="docs/format.md ships with the repository, not the wheel")
def test_every_rule_the_code_cites_is_in_docs_format() -> None:
    """Comments, docstrings and the README cite ``docs/format.md#ANCHOR``: each anchor must exist, and no
    comment cites the numbered rules of a specification the repository does not have."""
    import re

    anchors = set(re.findall(r'<a id="([a-z0-9-]+)"></a>', _FORMAT.read_text(encoding="utf-8")))
    assert {f"rule-{n}" for n in range(1, 14)} <= anchors
    texts = {path: path.read_text(encoding="utf-8") for path in MODULES.values()}
    readme = PACKAGE.parent / "README.md"
    if readme.is_file():
        texts[readme] = readme.read_text(encoding="utf-8")
    for path, text in texts.items():
        for anchor in re.findall(r"docs/format\.md#([a-z0-9-]+)", text):
            assert anchor in anchors, f"{path.name} cites docs/format.md#{anchor}, which does not exist"
        for line in text.splitlines():
            comment = line.strip().startswith(("#", "#:")) and not line.strip().startswith("#!")
            assert not (comment and re.search(r"\b(spec section|[Rr]ules? \d+)", line)), (
                f"{path.name}: cite docs/format.md#rule-N, not a bare rule number: {line.strip()}"
            )
