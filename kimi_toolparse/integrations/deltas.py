"""One OpenAI delta per engine step: the parser's events of a step merged, and the message they add up to.

Engines stream one ``choices[0].delta`` per decode step, while one step may complete several events.
:func:`merge_events` folds them into one delta (content, reasoning and each call's arguments concatenated
in order), and :class:`MessageAccumulator` adds deltas up into the final OpenAI message, which is what a
client rebuilds and what the engine tests compare with the conformance corpus.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from kimi_toolparse import Event

__all__ = ["MessageAccumulator", "merge_events"]


def merge_events(events: Iterable[Event]) -> dict[str, Any] | None:
    """The single ``delta`` of one step, or None when nothing in it reaches a client."""
    content: list[str] = []
    reasoning: list[str] = []
    calls: list[dict[str, Any]] = []
    for event in events:
        delta = event.to_openai()
        if delta is None:
            continue
        if "content" in delta:
            content.append(delta["content"])
        elif "reasoning_content" in delta:
            reasoning.append(delta["reasoning_content"])
        else:
            for call in delta["tool_calls"]:
                last = calls[-1] if calls else None
                if last is not None and last["index"] == call["index"] and "id" not in call:
                    last["function"]["arguments"] += call["function"]["arguments"]
                else:
                    calls.append({**call, "function": dict(call["function"])})
    if not (content or reasoning or calls):
        return None
    merged: dict[str, Any] = {}
    if content:
        merged["content"] = "".join(content)
    if reasoning:
        merged["reasoning_content"] = "".join(reasoning)
    if calls:
        merged["tool_calls"] = calls
    return merged


class MessageAccumulator:
    """Adds streamed deltas up into the assistant message a client ends with.

    ``content`` and ``reasoning_content`` are the concatenated deltas (None when none came, and content
    that adds up to only whitespace is None, as in :meth:`ParsedMessage.to_openai`); each call's first
    delta gives its id and name, later ones append arguments.
    """

    def __init__(self) -> None:
        self._content: list[str] | None = None
        self._reasoning: list[str] | None = None
        self._calls: dict[int, dict[str, Any]] = {}

    def add(self, delta: Mapping[str, Any] | None) -> None:
        if not delta:
            return
        text = delta.get("content")
        if text:
            self._content = [*(self._content or []), text]
        reasoning = delta.get("reasoning_content", delta.get("reasoning"))
        if reasoning:
            self._reasoning = [*(self._reasoning or []), reasoning]
        for call in delta.get("tool_calls") or ():
            index = call["index"]
            function = call.get("function") or {}
            slot = self._calls.get(index)
            if slot is None:
                slot = {"id": call.get("id"), "type": "function", "function": {"name": None, "arguments": ""}}
                self._calls[index] = slot
            if call.get("id"):
                slot["id"] = call["id"]
            if function.get("name"):
                slot["function"]["name"] = function["name"]
            slot["function"]["arguments"] += function.get("arguments") or ""

    def message(self) -> dict[str, Any]:
        """The message, shaped like :meth:`kimi_toolparse.ParsedMessage.to_openai`."""
        content = "".join(self._content) if self._content is not None else None
        message: dict[str, Any] = {
            "role": "assistant",
            "content": content if content and not content.isspace() else None,
            "reasoning_content": "".join(self._reasoning) if self._reasoning is not None else None,
        }
        if self._calls:
            message["tool_calls"] = [self._calls[i] for i in sorted(self._calls)]
        return message
