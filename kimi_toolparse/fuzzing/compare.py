"""What a target answered, brought to one shape, and the first place it differs from the expected message."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

__all__ = ["accumulate_deltas", "first_difference", "normalize_message", "to_plain"]


def to_plain(obj: Any) -> Any:
    """Dicts, lists and scalars from whatever a target returns: pydantic models, dataclasses, objects."""
    if obj is None or isinstance(obj, (str, int, float, bool)):
        return obj
    if isinstance(obj, Mapping):
        return {str(k): to_plain(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [to_plain(v) for v in obj]
    dump = getattr(obj, "model_dump", None)
    if callable(dump):
        return to_plain(dump())
    if hasattr(obj, "__dict__"):
        return {k: to_plain(v) for k, v in vars(obj).items() if not k.startswith("_")}
    return str(obj)


def accumulate_deltas(chunks: list[Any]) -> dict[str, Any]:
    """Rebuild the message from ``chat.completion.chunk`` objects or bare deltas, the way clients do:
    text fields concatenated, tool calls keyed by ``index``, their arguments concatenated."""
    content: str | None = None
    reasoning: str | None = None
    calls: dict[int, dict[str, Any]] = {}
    for raw in chunks:
        chunk = to_plain(raw)
        if not isinstance(chunk, dict):
            continue
        if "choices" in chunk:
            choices = chunk.get("choices") or []
            if not choices:
                continue
            chunk = choices[0].get("delta") or {}
        if chunk.get("content"):
            content = (content or "") + chunk["content"]
        piece = chunk.get("reasoning_content") or chunk.get("reasoning")
        if piece:
            reasoning = (reasoning or "") + piece
        for i, tc in enumerate(chunk.get("tool_calls") or []):
            index = tc.get("index", i)
            call = calls.setdefault(index, {"id": None, "name": None, "arguments": ""})
            if tc.get("id"):
                call["id"] = tc["id"]
            function = tc.get("function") or {}
            if function.get("name"):
                call["name"] = function["name"]
            if function.get("arguments"):
                call["arguments"] += function["arguments"]
    message: dict[str, Any] = {"role": "assistant", "content": content, "reasoning_content": reasoning}
    if calls:
        message["tool_calls"] = [
            {"id": c["id"], "type": "function", "function": {"name": c["name"], "arguments": c["arguments"]}}
            for _, c in sorted(calls.items())
        ]
    return message


def normalize_message(answer: Any) -> dict[str, Any]:
    """``{content, reasoning_content, tool_calls: [{id, name, arguments}]}`` from a message, a response,
    or a list of stream chunks. Empty or whitespace-only content and reasoning count as none."""
    plain = to_plain(answer)
    if isinstance(plain, list):
        plain = accumulate_deltas(plain)
    if not isinstance(plain, dict):
        raise TypeError(f"the target returned {type(answer).__name__}, not a message or a list of chunks")
    if plain.get("choices"):
        plain = plain["choices"][0].get("message") or plain["choices"][0].get("delta") or {}
    content = plain.get("content")
    if isinstance(content, list):  # content parts
        content = "".join(p.get("text", "") for p in content if isinstance(p, dict))
    reasoning = plain.get("reasoning_content", plain.get("reasoning"))
    calls = []
    for tc in plain.get("tool_calls") or []:
        function = tc.get("function") or {}
        arguments = function.get("arguments")
        if not isinstance(arguments, str) and arguments is not None:
            arguments = json.dumps(arguments, ensure_ascii=False)
        calls.append({"id": tc.get("id"), "name": function.get("name"), "arguments": arguments})
    return {
        "content": content if isinstance(content, str) and content.strip() else None,
        "reasoning_content": reasoning if isinstance(reasoning, str) and reasoning.strip() else None,
        "tool_calls": calls,
    }


def _same_arguments(want: Any, got: Any) -> bool:
    """Byte for byte, or the same JSON value when both are valid JSON (a server may re-serialize)."""
    if want == got:
        return True
    if not isinstance(want, str) or not isinstance(got, str):
        return False
    try:
        return bool(json.loads(want) == json.loads(got))
    except ValueError:
        return False


def first_difference(expected: dict[str, Any], actual: dict[str, Any]) -> str | None:
    """The first field where two normalized messages differ, as ``path: expected X, got Y``; None if equal."""
    for key in ("content", "reasoning_content"):
        if expected[key] != actual[key]:
            return f"{key}: expected {_show(expected[key])}, got {_show(actual[key])}"
    want, got = expected["tool_calls"], actual["tool_calls"]
    for i, (w, g) in enumerate(zip(want, got, strict=False)):
        for key in ("id", "name", "arguments"):
            same = _same_arguments(w[key], g[key]) if key == "arguments" else w[key] == g[key]
            if not same:
                path = f"tool_calls[{i}].{'function.' if key != 'id' else ''}{key}"
                return f"{path}: expected {_show(w[key])}, got {_show(g[key])}"
    if len(want) != len(got):
        extra = got[len(want)] if len(got) > len(want) else want[len(got)]
        which = "an extra call" if len(got) > len(want) else "a missing call"
        return f"tool_calls: expected {len(want)} calls, got {len(got)} ({which}: {_show(extra['name'])})"
    return None


def _show(value: Any, limit: int = 80) -> str:
    text = json.dumps(value, ensure_ascii=False)
    return text if len(text) <= limit else text[: limit - 3] + "..."
