"""The ``functions.NAME:IDX`` call-id form: its helpers, and the rewrite of a history's ids into it.

Kimi K2 models were trained on ids of the form ``functions.{name}:{idx}``, ``idx`` counting the calls of the
whole conversation from 0. Histories carrying other ids (``call_abc``, ``search:0``) make the model drift
into broken ids, which breaks parsers. :func:`normalize_tool_call_ids` rewrites the ids of the assistant
messages' calls and, to match, the ``tool_call_id`` of the tool results, and keeps the mapping so a server
can translate ids back. This module is the one home of the form; the parser's lenient reading of ids the
model wrote (docs/format.md#rule-10 and #rule-11) builds on :func:`split_call_id`.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from typing import Any, Final

__all__ = [
    "CALL_ID_PREFIX",
    "ToolCallIds",
    "format_call_id",
    "normalize_tool_call_ids",
    "split_call_id",
    "with_prefix",
]

#: What every canonical id starts with: the namespace the tool declarations put the functions in.
CALL_ID_PREFIX: Final = "functions."


def format_call_id(name: str, index: int) -> str:
    """``functions.NAME:IDX``, the id a Kimi template writes and a Kimi model is trained to write."""
    if not isinstance(name, str) or not name:
        raise ValueError(f"a call id needs a non-empty function name, not {name!r}")
    if isinstance(index, bool) or not isinstance(index, int) or index < 0:
        raise ValueError(f"a call id's index counts calls from 0: give an int >= 0, not {index!r}")
    return f"{CALL_ID_PREFIX}{name}:{index}"


def split_call_id(call_id: str, *, require_prefix: bool = True) -> tuple[str, str] | None:
    """``(NAME, IDX)`` of an id in the form, IDX as the digits written (``007`` stays ``007``), or None.

    The split falls on the LAST ``:`` followed only by ASCII digits, so names may hold ``:`` and ``.``
    (``functions.a:b:3`` is ``("a:b", "3")``). With ``require_prefix=False`` a missing ``functions.`` is
    accepted, as the parser accepts ``get_weather:0``. No stripping: callers decide about whitespace.
    """
    head, colon, digits = call_id.rpartition(":")
    if not colon or not digits.isascii() or not digits.isdigit():
        return None
    if head.startswith(CALL_ID_PREFIX):
        head = head[len(CALL_ID_PREFIX) :]
    elif require_prefix:
        return None
    if not head:
        return None
    return head, digits  # not int(): a model may write more digits than int() accepts


def with_prefix(call_id: str) -> str:
    """The id with ``functions.`` in front unless it has it already (older templates write ids so)."""
    return call_id if call_id.startswith(CALL_ID_PREFIX) else CALL_ID_PREFIX + call_id


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
                new_id = format_call_id(name, index)
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
