"""Id hygiene: give every tool call in a conversation's history the ``functions.NAME:IDX`` id Kimi expects.

Kimi K2 models were trained on ids of the form ``functions.{name}:{idx}``, ``idx`` counting the calls of the
whole conversation from 0. Histories carrying other ids (``call_abc``, ``search:0``) make the model drift
into broken ids, which breaks parsers. This rewrites the ids of the assistant messages' calls and, to match,
the ``tool_call_id`` of the tool results, and keeps the mapping so a server can translate ids back.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from typing import Any

__all__ = ["ToolCallIds", "normalize_tool_call_ids"]


@dataclasses.dataclass(frozen=True)
class ToolCallIds:
    """The rewritten conversation and how its ids map back."""

    #: Copies of the messages, with new ids (messages without calls or results are the same objects).
    messages: list[dict[str, Any]]
    #: New id -> the original id (None where the call had none).
    mapping: dict[str, str | None]
    #: The index the model's next call will get (the number of calls in the history).
    next_index: int

    def original(self, new_id: str) -> str | None:
        """The id a call had before the rewrite; ids the model makes later map to themselves."""
        return self.mapping.get(new_id, new_id)


def normalize_tool_call_ids(messages: Iterable[dict[str, Any]], *, strict: bool = True) -> ToolCallIds:
    """Rewrite call ids to ``functions.NAME:IDX`` (running index) and the matching tool results' ids.

    A tool result answers the most recent call with its id (a repeated id in one assistant message is
    matched in order). ``strict``: a tool result whose id matches no earlier call, or a call without a
    function name, raises ValueError naming the message; otherwise such ids are left as they are.
    """
    out: list[dict[str, Any]] = []
    mapping: dict[str, str | None] = {}
    # original id -> the new ids it was given by the latest assistant message that used it
    pending: dict[Any, list[str]] = {}
    index = 0
    for i, message in enumerate(messages):
        if not isinstance(message, dict):
            raise TypeError(f"messages[{i}] must be a dict, not {type(message).__name__}")
        role = message.get("role")
        calls = message.get("tool_calls")
        if role == "assistant" and calls and isinstance(calls, (list, tuple)):
            new_calls = []
            seen_here: set[Any] = set()
            for k, call in enumerate(calls):
                function = call.get("function") if isinstance(call, dict) else None
                name = function.get("name") if isinstance(function, dict) else None
                if not isinstance(name, str) or not name:
                    if strict:
                        raise ValueError(f"messages[{i}].tool_calls[{k}].function.name is missing")
                    new_calls.append(call)
                    continue
                new_id = f"functions.{name}:{index}"
                index += 1
                old_id = call.get("id")
                mapping[new_id] = old_id
                if isinstance(old_id, (str, int)):  # results can name only such ids (None names no call)
                    if old_id not in seen_here:
                        pending[old_id] = []
                        seen_here.add(old_id)
                    pending[old_id].append(new_id)
                new_calls.append({**call, "id": new_id})
            out.append({**message, "tool_calls": new_calls})
        elif role == "tool":
            old_id = message.get("tool_call_id")
            queue = pending.get(old_id) if isinstance(old_id, (str, int)) else None
            if not queue:
                if strict:
                    raise ValueError(
                        f"messages[{i}].tool_call_id {old_id!r} matches no tool call of an earlier assistant "
                        "message, so it cannot be rewritten consistently"
                    )
                out.append(message)
                continue
            new_id = queue[0]
            if len(queue) > 1:
                queue.pop(0)
            out.append({**message, "tool_call_id": new_id})
        else:
            out.append(message)
    return ToolCallIds(messages=out, mapping=mapping, next_index=index)
