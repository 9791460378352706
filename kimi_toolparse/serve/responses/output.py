"""The Responses API's output side: one choice's deltas in, output items and stream events out.

Sans-IO. :class:`ResponseWriter` takes the chat deltas the gateway's parser produces (``reasoning_content``,
``content``, ``tool_calls``) and keeps the output items (``reasoning`` with its text, ``message`` with one
``output_text`` part, ``function_call`` with ``call_id`` = the model's ``functions.NAME:IDX``), returning the
stream events each delta makes, in the order the openai SDK's ``responses.stream`` accumulator and Codex
read them: ``response.output_item.added``, ``response.content_part.added``, the deltas, their ``.done``
events, ``response.content_part.done``, ``response.output_item.done``; then ``response.completed``,
``response.incomplete`` or ``response.failed``. Every event carries its ``sequence_number``.

A streamed and a non-streamed response are the same writer fed the same deltas, so they are equal.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable
from typing import Any

import orjson

__all__ = ["Event", "ResponseWriter", "sse", "sse_bytes", "usage"]

Event = dict[str, Any]


def sse_bytes(event: Event) -> bytes:
    """One event as server-sent-event bytes, with its ``event:`` line (as the stream sends it)."""
    kind: str = event["type"]
    return b"event: " + kind.encode() + b"\ndata: " + orjson.dumps(event) + b"\n\n"


def sse(event: Event) -> str:
    """One event as server-sent-event text, with its ``event:`` line."""
    return sse_bytes(event).decode()


def usage(prompt_tokens: int, completion_tokens: int, reasoning_tokens: int = 0) -> dict[str, Any]:
    """The Responses ``usage`` object."""
    return {
        "input_tokens": prompt_tokens,
        "input_tokens_details": {"cached_tokens": 0, "cache_write_tokens": 0},
        "output_tokens": completion_tokens,
        "output_tokens_details": {"reasoning_tokens": reasoning_tokens},
        "total_tokens": prompt_tokens + completion_tokens,
    }


class ResponseWriter:
    """One response being written; ``response`` is its object (``output`` filled in as items close)."""

    def __init__(
        self,
        response: dict[str, Any],
        client_name: Callable[[str], tuple[str | None, str]] = lambda flat: (None, flat),
    ) -> None:
        self.response = response
        self.output: list[dict[str, Any]] = response.setdefault("output", [])
        self._client_name = client_name
        self._seq = 0
        self._ids = secrets.token_hex(8)
        #: The item being written, its kind ("reasoning", "message", "function_call") and its text (or
        #: arguments) so far, in pieces.
        self._open: dict[str, Any] | None = None
        self._kind = ""
        self._text: list[str] = []
        #: OpenAI call index -> (output index, item) of the calls started.
        self._calls: dict[int, tuple[int, dict[str, Any]]] = {}

    # ---- events ---------------------------------------------------------------------------------

    def _event(self, kind: str, **fields: Any) -> Event:
        event = {"type": kind, "sequence_number": self._seq, **fields}
        self._seq += 1
        return event

    def _part_event(self, kind: str, item: dict[str, Any], index: int, **fields: Any) -> Event:
        return self._event(kind, item_id=item["id"], output_index=index, content_index=0, **fields)

    def _snapshot(self) -> dict[str, Any]:
        return {**self.response, "output": [dict(item) for item in self.output]}

    def start(self) -> list[Event]:
        """``response.created`` and ``response.in_progress``."""
        self.response["status"] = "in_progress"
        return [
            self._event("response.created", response=self._snapshot()),
            self._event("response.in_progress", response=self._snapshot()),
        ]

    # ---- items ----------------------------------------------------------------------------------

    def _item_id(self, prefix: str) -> str:
        return f"{prefix}_{self._ids}{len(self.output):04x}"

    def _begin(self, kind: str, out: list[Event]) -> dict[str, Any]:
        self._close(out, "completed")
        index = len(self.output)
        item: dict[str, Any]
        if kind == "message":
            item = {
                "id": self._item_id("msg"),
                "type": "message",
                "status": "in_progress",
                "role": "assistant",
            }
            item["content"] = []
            part: dict[str, Any] = {"type": "output_text", "text": "", "annotations": [], "logprobs": []}
        else:
            item = {"id": self._item_id("rs"), "type": "reasoning", "summary": [], "content": []}
            part = {"type": "reasoning_text", "text": ""}
        self.output.append(item)
        out.append(self._event("response.output_item.added", output_index=index, item=_public(item)))
        out.append(
            self._event(
                "response.content_part.added",
                item_id=item["id"],
                output_index=index,
                content_index=0,
                part=part,
            )
        )
        self._open, self._kind, self._text = item, kind, []
        return item

    def _close(self, out: list[Event], status: str) -> None:
        item = self._open
        if item is None:
            return
        self._open = None
        index = len(self.output) - 1 if item is self.output[-1] else self.output.index(item)
        if self._kind == "function_call":
            item["arguments"] += "".join(self._text)
            item["status"] = status
            out.append(
                self._event(
                    "response.function_call_arguments.done",
                    item_id=item["id"],
                    output_index=index,
                    name=item["name"],
                    arguments=item["arguments"],
                )
            )
        else:
            text = "".join(self._text)
            if self._kind == "message":
                part: dict[str, Any] = {
                    "type": "output_text",
                    "text": text,
                    "annotations": [],
                    "logprobs": [],
                }
                done = "response.output_text.done"
                out.append(
                    self._event(
                        done, item_id=item["id"], output_index=index, content_index=0, text=text, logprobs=[]
                    )
                )
                item["status"] = status
            else:
                part = {"type": "reasoning_text", "text": text}
                out.append(
                    self._event(
                        "response.reasoning_text.done",
                        item_id=item["id"],
                        output_index=index,
                        content_index=0,
                        text=text,
                    )
                )
            item["content"] = [part]
            out.append(
                self._event(
                    "response.content_part.done",
                    item_id=item["id"],
                    output_index=index,
                    content_index=0,
                    part=part,
                )
            )
        out.append(self._event("response.output_item.done", output_index=index, item=_public(item)))

    # ---- deltas ---------------------------------------------------------------------------------

    def feed(self, deltas: list[dict[str, Any]]) -> list[Event]:
        """The events for a list of chat deltas."""
        out: list[Event] = []
        for delta in deltas:
            text = delta.get("content")
            if text:
                item = self._open if self._kind == "message" else None
                if item is None:
                    item = self._begin("message", out)
                self._text.append(text)
                out.append(  # the usual event, built at once (as _event builds it)
                    {
                        "type": "response.output_text.delta",
                        "sequence_number": self._seq,
                        "item_id": item["id"],
                        "output_index": len(self.output) - 1,
                        "content_index": 0,
                        "delta": text,
                        "logprobs": [],
                    }
                )
                self._seq += 1
                continue
            text = delta.get("reasoning_content")
            if text:
                item = self._open if self._kind == "reasoning" else None
                if item is None:
                    item = self._begin("reasoning", out)
                self._text.append(text)
                out.append(
                    self._event(
                        "response.reasoning_text.delta",
                        item_id=item["id"],
                        output_index=len(self.output) - 1,
                        content_index=0,
                        delta=text,
                    )
                )
                continue
            for call in delta.get("tool_calls") or ():
                self._call(call, out)
        return out

    def _call(self, call: dict[str, Any], out: list[Event]) -> None:
        index = call["index"]
        function = call.get("function") or {}
        if index not in self._calls:
            self._close(out, "completed")
            namespace, name = self._client_name(function.get("name", ""))
            item: dict[str, Any] = {
                "id": self._item_id("fc"),
                "type": "function_call",
                "status": "in_progress",
                "call_id": call.get("id", ""),
                "name": name,
                "arguments": "",
            }
            if namespace is not None:
                item["namespace"] = namespace
            position = len(self.output)
            self.output.append(item)
            self._calls[index] = (position, item)
            out.append(self._event("response.output_item.added", output_index=position, item=_public(item)))
            self._open, self._kind, self._text = item, "function_call", []
        position, item = self._calls[index]
        piece = function.get("arguments") or ""
        if piece:
            if item is self._open:
                self._text.append(piece)  # joined when the call closes: no copy per token
            else:
                item["arguments"] += piece
            out.append(
                self._event(
                    "response.function_call_arguments.delta",
                    item_id=item["id"],
                    output_index=position,
                    delta=piece,
                )
            )

    # ---- the end --------------------------------------------------------------------------------

    def finish(self, incomplete_reason: str | None, usage: dict[str, Any] | None) -> list[Event]:
        """Close the open item and end with ``response.completed`` or ``response.incomplete``."""
        out: list[Event] = []
        if not self.output:
            # An empty turn is still a turn: one empty message, so a chained request renders it.
            self._begin("message", out)
        self._close(out, "incomplete" if incomplete_reason else "completed")
        self.response["usage"] = usage
        self.response["completed_at"] = int(time.time())
        if incomplete_reason:
            self.response["status"] = "incomplete"
            self.response["incomplete_details"] = {"reason": incomplete_reason}
            out.append(self._event("response.incomplete", response=self._snapshot()))
        else:
            self.response["status"] = "completed"
            out.append(self._event("response.completed", response=self._snapshot()))
        return out

    def fail(self, message: str, code: str = "server_error") -> list[Event]:
        """Close the open item as incomplete and end with ``response.failed`` (the upstream broke)."""
        out: list[Event] = []
        self._close(out, "incomplete")
        self.response["status"] = "failed"
        self.response["error"] = {"code": code, "message": message}
        out.append(self._event("response.failed", response=self._snapshot()))
        return out


def _text_part(text: str) -> dict[str, Any]:
    return {"type": "output_text", "text": text, "annotations": [], "logprobs": []}


def _public(item: dict[str, Any]) -> dict[str, Any]:
    """A copy of an item as it stands (events must not change when the item grows later)."""
    copy = dict(item)
    if "content" in copy:
        copy["content"] = list(copy["content"])
    return copy
