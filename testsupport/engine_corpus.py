"""The conformance corpus as engines see it: token-id steps per vector, and the OpenAI message expected."""

from __future__ import annotations

import json
from typing import Any

from kimi_toolparse import KimiVocabulary
from testsupport.paths import VECTORS
from testsupport.streams import decode_steps, encode


def load() -> list[dict[str, Any]]:
    return [json.loads(line) for line in VECTORS.read_text(encoding="utf-8").splitlines() if line.strip()]


def expected_message(vec: dict[str, Any], *, stream: bool) -> dict[str, Any]:
    """What a client must end with: the spec's OpenAI view of the vector's expected result.

    A stream cannot carry an empty reasoning (no delta is sent for ``""``), so there ``""`` is None.
    """
    want = vec["expected"]
    content = want["content"]
    reasoning = want["reasoning"]
    if stream and reasoning == "":
        reasoning = None
    return {
        "content": content if content and not content.isspace() else None,
        "reasoning_content": reasoning,
        "tool_calls": [
            {"id": c["id"], "type": "function", "function": {"name": c["name"], "arguments": c["arguments"]}}
            for c in want["tool_calls"]
            if c["name"] is not None
        ],
        "finish_reason": want["finish_reason"],
    }


def got_message(message: dict[str, Any], *, stream: bool) -> dict[str, Any]:
    reasoning = message.get("reasoning_content")
    if stream and reasoning == "":
        reasoning = None
    return {
        "content": message.get("content"),
        "reasoning_content": reasoning,
        "tool_calls": message.get("tool_calls") or [],
        "finish_reason": message.get("finish_reason"),
    }


def token_steps(vocab: KimiVocabulary, vec: dict[str, Any], per_step: int) -> list[tuple[str, list[int]]]:
    """The vector's raw output as an engine's decode steps: ``per_step`` tokens (at least) per step."""
    ids = encode(vocab, vec["raw"], vec.get("marker_text_is_data") or ())
    steps = decode_steps(vocab, ids)
    if per_step == 1:
        return steps
    grouped: list[tuple[str, list[int]]] = []
    for i in range(0, len(steps), per_step):
        group = steps[i : i + per_step]
        grouped.append(("".join(t for t, _ in group), [t for _, ids_ in group for t in ids_]))
    return grouped


def _declared(name: str) -> dict[str, Any]:
    """A tool whose schema accepts no arguments, so it never resolves a drifted id by schema (rule 11b)."""
    schema = {"type": "object", "required": ["a"], "properties": {"a": False}}
    return {"type": "function", "function": {"name": name, "parameters": schema}}


def request_tools(vec: dict[str, Any]) -> list[dict[str, Any]]:
    """The tools a request for this vector declares.

    vLLM and SGLang return tool calls only when the request declares tools, and their own parsers drop
    calls to undeclared tools. A vector without tools declares the names its expected calls carry (and a
    placeholder when there are none), each with a schema that accepts nothing; its drifted ids spell none
    of them, so names resolve as with no tools (rule 11).
    """
    if vec.get("tools"):
        return list(vec["tools"])
    names = dict.fromkeys(c["name"] for c in vec.get("expected", {}).get("tool_calls", ()) if c["name"])
    return [_declared(name) for name in names] or [_declared("kimi_toolparse_placeholder_never_called")]
