"""Every public name: importable from the package top, the same object as in its home subpackage."""

from __future__ import annotations

import kimi_toolparse
import kimi_toolparse.parsing
import kimi_toolparse.rendering

#: The public API, spelled out: removing or renaming one of these is a breaking change.
PUBLIC = {
    "ArgumentsDelta",
    "CallStatus",
    "ChatMessage",
    "ChatToolCall",
    "ChatToolCallFunction",
    "ClosedBy",
    "Code",
    "ContentDelta",
    "Conversation",
    "Diagnostic",
    "Event",
    "CallProblem",
    "FinishReason",
    "KimiVocabulary",
    "ParsedMessage",
    "ReasoningDelta",
    "SchemaNote",
    "StreamParser",
    "ToolCall",
    "ToolCallEnd",
    "ToolCallIds",
    "ToolCallStart",
    "ToolDeclarationError",
    "ToolDefinition",
    "ToolGrammar",
    "Tools",
    "__version__",
    "encode_prompt",
    "ends_in_reasoning",
    "grammar_for",
    "grammar_for_request",
    "normalize_tool_call_ids",
    "parse",
    "render",
    "render_ids",
    "render_tools_typescript",
}


def test_all_is_the_public_api() -> None:
    assert set(kimi_toolparse.__all__) == PUBLIC


def test_every_public_name_imports_from_the_top() -> None:
    namespace: dict[str, object] = {}
    exec("from kimi_toolparse import " + ", ".join(sorted(PUBLIC)), namespace)
    for name in PUBLIC:
        assert namespace[name] is getattr(kimi_toolparse, name)
        assert namespace[name] is not None


def test_star_import_gives_the_public_api() -> None:
    namespace: dict[str, object] = {}
    exec("from kimi_toolparse import *", namespace)
    assert set(namespace) >= PUBLIC


def test_subpackages_export_the_same_objects() -> None:
    for sub in (kimi_toolparse.parsing, kimi_toolparse.rendering):
        for name in sub.__all__:
            assert getattr(kimi_toolparse, name) is getattr(sub, name), f"{sub.__name__}.{name}"
    assert set(kimi_toolparse.parsing.__all__) | set(kimi_toolparse.rendering.__all__) <= PUBLIC


def test_public_modules_keep_their_paths() -> None:
    # other subpackages and users import these by path
    from kimi_toolparse import cli, strategies, tokens  # noqa: F401
    from kimi_toolparse.cli import UsageError, read_json, read_text  # noqa: F401
    from kimi_toolparse.strategies import assistant_outputs  # noqa: F401
