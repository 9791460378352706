"""The Responses API dialect: ``POST /v1/responses`` on the pipeline, ``GET``/``DELETE`` of stored ones.

:mod:`.protocol` reads the request (continuing the stored conversation of ``previous_response_id``) into
the pipeline's request; each choice writes its items with :class:`~.output.ResponseWriter`, fed by the
chat deltas of the parsed output. A completed or incomplete response is stored (unless ``store`` is
false) *before* its body or its last event is sent, so a client that chains at once, through any worker
or gateway sharing the store, finds it. The store opens at the first request that needs it.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from typing import Any

from ..chat import DIALECT as CHAT
from ..chat import ChoiceStream
from ..config import ServeConfig
from ..pipeline import Plan, Run
from ..request import ApiError, Request
from ..store import ResponseStore, new_response_id, open_store
from .output import Event, ResponseWriter, sse_bytes, usage
from .protocol import ResponsesRequest, ToolMap, parse_request, to_request

__all__ = ["ResponsesDialect"]

#: The chat finish reasons that leave a response incomplete, and the reason the Responses API gives.
_INCOMPLETE = {"length": "max_output_tokens", "content_filter": "content_filter"}


@dataclass
class Wire:
    """What the writer needs of the request: the response so far, the tool names, what to store."""

    request: ResponsesRequest
    tools: ToolMap
    #: The conversation this response continues, input included (stored beside its output).
    items: list[dict[str, Any]]
    response: dict[str, Any]
    notes: list[dict[str, str]] = field(default_factory=list)


def _skeleton(req: ResponsesRequest) -> dict[str, Any]:
    """The response object before any output: the request's settings echoed as OpenAI echoes them."""
    fmt = req.text.format if req.text is not None and req.text.format else {"type": "text"}
    return {
        "id": new_response_id(),
        "object": "response",
        "created_at": int(time.time()),
        "status": "in_progress",
        "model": req.model,
        "output": [],
        "instructions": req.instructions,
        "previous_response_id": req.previous_response_id,
        "tools": req.tools or [],
        "tool_choice": req.tool_choice if req.tool_choice is not None else "auto",
        "parallel_tool_calls": req.parallel_tool_calls is not False,
        "temperature": req.temperature,
        "top_p": req.top_p,
        "max_output_tokens": req.max_output_tokens,
        "reasoning": {"effort": req.reasoning.effort if req.reasoning else None, "summary": None},
        "text": {"format": fmt},
        "store": req.store,
        "metadata": req.metadata or {},
        "truncation": "disabled",
        "user": req.user,
        "error": None,
        "incomplete_details": None,
        "usage": None,
    }


def _notes(req: ResponsesRequest, tools: ToolMap) -> list[dict[str, str]]:
    """What the gateway left undone, said in the response (``kimi_diagnostics``) and in the log line."""
    notes = []
    if tools.dropped:
        message = f"left out tools a raw engine cannot run: {', '.join(tools.dropped)}"
        notes.append({"code": "tools_left_out", "message": message})
    fmt = req.text.format if req.text is not None else None
    if fmt and fmt.get("type") not in (None, "text"):
        message = (
            f"text.format {fmt.get('type')} is not enforced by this gateway: ask for the format in the "
            "instructions"
        )
        notes.append({"code": "text_format_not_enforced", "message": message})
    return notes


class ResponsesChoice(ChoiceStream):
    """The one choice of a response: the chat deltas of each piece, written as items and events."""

    def __init__(self, index: int, plan: Plan) -> None:
        super().__init__(index, plan)
        wire: Wire = plan.request.wire
        self.wire = wire
        self.writer = ResponseWriter(wire.response, wire.tools.client_name)
        # What the gateway left undone counts as the choice's diagnostics: in the response, the log line
        # and the metrics.
        self.extra_diagnostics.extend(wire.notes)

    def feed(self, text: str, token_ids: list[int] | None) -> list[Event]:
        return self.writer.feed(super().feed(text, token_ids))

    def close(self) -> list[Event]:
        return self.writer.feed(super().close())


class ResponsesDialect:
    """The Responses API (see :mod:`..pipeline` for the dialect interface)."""

    name = "responses"
    #: The stream needs no prompt token count before the upstream answers.
    counts_prompt = False

    def __init__(self, config: ServeConfig) -> None:
        self.config = config
        self._store: ResponseStore | None = None
        self._lock = asyncio.Lock()

    # ---- the store ------------------------------------------------------------------------------

    async def store(self) -> ResponseStore:
        """The store, opened at its first use (a chat-only gateway never makes the file)."""
        if self._store is None:
            async with self._lock:
                if self._store is None:
                    c = self.config
                    try:
                        self._store = open_store(c.store, ttl=c.store_ttl, max_bytes=c.store_max_bytes)
                    except ValueError as e:
                        raise ApiError(500, str(e), kind="upstream", code="store_unavailable") from None
        return self._store

    async def close(self) -> None:
        if self._store is not None:
            await self._store.close()
            self._store = None

    async def retrieve(self, response_id: str) -> dict[str, Any]:
        stored = await (await self.store()).get(response_id)
        if stored is None:
            raise _not_found(response_id)
        response: dict[str, Any] = stored["response"]
        return response

    async def delete(self, response_id: str) -> dict[str, Any]:
        if not await (await self.store()).delete(response_id):
            raise _not_found(response_id)
        return {"id": response_id, "object": "response.deleted", "deleted": True}

    # ---- the dialect ----------------------------------------------------------------------------

    async def read(self, data: Any, config: ServeConfig) -> Request:
        req = parse_request(data)
        history: list[dict[str, Any]] = []
        if req.previous_response_id is not None:
            stored = await (await self.store()).get(req.previous_response_id)
            if stored is None:
                raise _not_found(req.previous_response_id, "previous_response_id")
            history = [*stored["conversation"], *stored["response"]["output"]]
        tools = ToolMap.build(req.tools)
        wire = Wire(req, tools, [], _skeleton(req), _notes(req, tools))
        request, wire.items = to_request(req, history, tools, wire)
        if req.store:
            await self.store()  # a store that cannot open fails the request now, not after the answer
        return request

    def choice(self, index: int, plan: Plan) -> ResponsesChoice:
        return ResponsesChoice(index, plan)

    def error_status(self, error: ApiError) -> int:
        return CHAT.error_status(error)

    def error_body(self, error: ApiError, request_id: str | None = None) -> dict[str, Any]:
        """OpenAI's error shape, as chat completions answer it."""
        return CHAT.error_body(error, request_id)

    async def finish(self, run: Run) -> list[Event]:
        """End the response (the choice is closed): its last events, once it is stored."""
        choice: ResponsesChoice = run.choices[0]
        wire = choice.wire
        diagnostics = choice.diagnostics
        if diagnostics:
            wire.response["kimi_diagnostics"] = diagnostics
        prompt, completion = run.usage()
        events = choice.writer.finish(_INCOMPLETE.get(choice.finish_reason), usage(prompt, completion))
        if wire.request.store and self._store is not None:
            await self._store.put(
                wire.response["id"], {"response": wire.response, "conversation": wire.items}
            )
        return events

    async def body(self, run: Run) -> dict[str, Any]:
        await self.finish(run)
        response: dict[str, Any] = run.choices[0].wire.response
        return response

    def writer(self, run: Run) -> _Stream:
        return _Stream(self, run)


class _Stream:
    """One streamed response: ``response.created`` ... the items' events ... the closing event."""

    def __init__(self, dialect: ResponsesDialect, run: Run) -> None:
        self.dialect, self.run = dialect, run
        self.choice: ResponsesChoice = run.choices[0]

    def head(self) -> bytes:
        return b"".join(map(sse_bytes, self.choice.writer.start()))

    def pieces(self, index: int, events: list[Event]) -> bytes:
        return b"".join(map(sse_bytes, events))

    async def tail(self) -> bytes:
        events = self.choice.close()
        events += await self.dialect.finish(self.run)
        return b"".join(map(sse_bytes, events))

    def error(self, error: ApiError) -> bytes:
        return b"".join(map(sse_bytes, self.choice.writer.fail(error.message)))

    def ping(self) -> bytes | None:
        return None


def _not_found(response_id: str, param: str | None = None) -> ApiError:
    what = "Previous response" if param else "Response"
    return ApiError(
        404,
        f"{what} with id {response_id!r} not found (never stored, deleted, or expired)",
        kind="not_found",
        param=param,
        code="previous_response_not_found" if param else "response_not_found",
    )
