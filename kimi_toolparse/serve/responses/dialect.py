"""The Responses API's handlers: ``POST /v1/responses`` (streamed and not), ``GET`` and ``DELETE`` by id.

A request is read by :mod:`.protocol` into the gateway's chat request (continuing the stored conversation
of ``previous_response_id``), planned, rendered and sent upstream like a chat completion; the parsed
deltas are written by :mod:`.output` as items and events. A completed or incomplete response is stored
(unless ``store`` is false) *before* its last event or its body is sent, so a client that chains at once,
through any worker or gateway sharing the store, finds it.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import aiohttp
from starlette.requests import Request
from starlette.responses import Response

from ..app import (
    _account,
    _apply,
    _BrokenStream,
    _describe,
    _Gateway,
    _json,
    _log,
    _read_json,
    _Record,
    _SSEResponse,
    _timeout,
    _until_disconnected,
    _Upstream,
    _usage,
)
from ..chat import ApiError, ChoiceStream, parse_request, plan_request
from ..store import new_response_id
from .output import ResponseWriter, sse, usage
from .protocol import ResponsesRequest, ToolMap, to_chat
from .protocol import parse_request as parse_responses_request

__all__ = ["create", "delete", "retrieve"]

#: The chat finish reasons that leave a response incomplete, and the reason the Responses API gives.
_INCOMPLETE = {"length": "max_output_tokens", "content_filter": "content_filter"}


def _not_found(response_id: str, param: str | None = None) -> ApiError:
    what = "Previous response" if param else "Response"
    return ApiError(
        404,
        f"{what} with id {response_id!r} not found (it was never stored, was deleted, or has expired)",
        param=param,
        code="previous_response_not_found" if param else "response_not_found",
    )


def _skeleton(req: ResponsesRequest, response_id: str) -> dict[str, Any]:
    """The response object before any output: the request's settings echoed as OpenAI echoes them."""
    fmt = req.text.format if req.text is not None and req.text.format else {"type": "text"}
    return {
        "id": response_id,
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


async def create(request: Request, gw: _Gateway, rec: _Record) -> Response:
    config = gw.config
    req = parse_responses_request(await _read_json(request, config.max_body_bytes))
    rec.model, rec.stream = req.model, req.stream
    history: list[dict[str, Any]] = []
    if req.previous_response_id is not None:
        stored = await (await gw.response_store()).get(req.previous_response_id)
        if stored is None:
            raise _not_found(req.previous_response_id, "previous_response_id")
        history = [*stored["conversation"], *stored["response"]["output"]]
    tools = ToolMap.build(req.tools)
    chat_body, items = to_chat(req, history, tools)
    chat = parse_request(chat_body)
    template = await gw.template_for(req.model, rec.request_id)
    plan = plan_request(chat, template, config.upstream_fields, grammar=config.grammar_engine)
    notes = _notes(req, tools)
    store = await gw.response_store() if req.store else None
    started = time.perf_counter()
    up = await gw.open_upstream(plan, rec)
    choice = ChoiceStream(0, plan)
    writer = ResponseWriter(_skeleton(req, new_response_id()), tools.client_name)

    async def finish() -> list[dict[str, Any]]:
        """Close the choice, write the last items and store the response; the closing events."""
        events = writer.feed(choice.close())
        _account(gw, rec, up, [choice])
        counts = _usage(up, [choice])
        diagnostics = choice.diagnostics + notes
        if diagnostics:
            writer.response["kimi_diagnostics"] = diagnostics
            rec.diagnostics += [d["code"] for d in notes]
        reason = _INCOMPLETE.get(choice.finish_reason)
        events += writer.finish(reason, usage(counts["prompt_tokens"], counts["completion_tokens"]))
        if store is not None:
            await store.put(writer.response["id"], {"response": writer.response, "conversation": items})
        return events

    if req.stream:
        return _SSEResponse(gw, rec, up, _stream(gw, rec, up, choice, writer, finish), "responses")
    try:
        await _until_disconnected(request, _consume(rec, up, choice, writer, started))
    except asyncio.TimeoutError:
        raise _timeout() from None
    except (aiohttp.ClientError, OSError, _BrokenStream) as e:
        raise ApiError(
            502,
            f"the upstream stream broke: {_describe(e)}",
            type="upstream_error",
            code="upstream_disconnected",
        ) from None
    finally:
        up.response.close()
    await finish()
    return _json(200, writer.response, rec.request_id)


def _notes(req: ResponsesRequest, tools: ToolMap) -> list[dict[str, str]]:
    """What the gateway left undone, said in the response (``kimi_diagnostics``) and the log line."""
    notes = []
    if tools.dropped:
        notes.append(
            {
                "code": "tools_left_out",
                "message": f"left out tools a raw engine cannot run: {', '.join(tools.dropped)}",
            }
        )
    fmt = req.text.format if req.text is not None else None
    if fmt and fmt.get("type") not in (None, "text"):
        notes.append(
            {
                "code": "text_format_not_enforced",
                "message": f"text.format {fmt.get('type')} is not enforced by this gateway: "
                "ask for the format in the instructions",
            }
        )
    return notes


async def _consume(
    rec: _Record, up: _Upstream, choice: ChoiceStream, writer: ResponseWriter, started: float
) -> None:
    async for batch in up.events():
        if rec.upstream_first is None:
            rec.upstream_first = time.perf_counter()
        for _, deltas in _apply(batch, up, [choice]):
            writer.feed(deltas)
    rec.upstream_done = time.perf_counter()


async def _stream(
    gw: _Gateway,
    rec: _Record,
    up: _Upstream,
    choice: ChoiceStream,
    writer: ResponseWriter,
    finish: Callable[[], Awaitable[list[dict[str, Any]]]],
) -> AsyncIterator[bytes]:
    """The SSE body; an upstream failure mid-stream ends in ``response.failed``."""
    rec.streaming = True
    gw.metrics.active.inc()
    finished = False
    try:
        yield b"".join(map(sse, writer.start()))
        try:
            async for batch in up.events():
                if rec.upstream_first is None:
                    rec.upstream_first = time.perf_counter()
                out = [sse(e) for _, deltas in _apply(batch, up, [choice]) for e in writer.feed(deltas)]
                if out:
                    yield b"".join(out)
            rec.upstream_done = time.perf_counter()
        except (aiohttp.ClientError, OSError, asyncio.TimeoutError, _BrokenStream) as e:
            timeout = isinstance(e, asyncio.TimeoutError)
            rec.status = 504 if timeout else 502
            rec.error = "upstream_timeout" if timeout else "upstream_disconnected"
            message = "the upstream timed out" if timeout else f"the upstream stream broke: {_describe(e)}"
            yield b"".join(map(sse, writer.fail(message)))
            return
        yield b"".join(map(sse, await finish()))
        finished = True
    finally:
        if not finished and rec.error is None:
            rec.status, rec.error = 499, "client_disconnected"
        up.response.close()
        gw.metrics.active.dec()
        gw.metrics.requests.labels("responses", str(rec.status)).inc()
        _log.info(rec.line())


async def retrieve(request: Request, gw: _Gateway, rec: _Record) -> Response:
    response_id = request.path_params["response_id"]
    stored = await (await gw.response_store()).get(response_id)
    if stored is None:
        raise _not_found(response_id)
    return _json(200, stored["response"], rec.request_id)


async def delete(request: Request, gw: _Gateway, rec: _Record) -> Response:
    response_id = request.path_params["response_id"]
    if not await (await gw.response_store()).delete(response_id):
        raise _not_found(response_id)
    return _json(200, {"id": response_id, "object": "response.deleted", "deleted": True}, rec.request_id)
