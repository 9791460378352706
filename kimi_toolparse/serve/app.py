"""The gateway's ASGI app: OpenAI's chat API in front of a raw ``/v1/completions`` engine.

Plain Starlette handlers: ``POST /v1/chat/completions`` (streaming and not), ``GET /v1/models``,
``GET /health`` and ``GET /metrics``. The upstream is always read as a stream (so timeouts apply per piece
and a client that leaves cancels it); each piece goes through
:class:`~kimi_toolparse.serve.chat.ChoiceStream`.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import json
import logging
import os
import sys
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import orjson
import prometheus_client as prom
from starlette.applications import Starlette
from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from kimi_toolparse import render

from .chat import ApiError, ChoiceStream, Plan, SSEDecoder, dumps, error_body, parse_request, plan_request
from .config import CONFIG_ENV, ServeConfig
from .store import ResponseStore, open_store

__all__ = ["LOGGER_NAME", "configure_logging", "create_app", "create_app_from_env"]

#: One JSON line per request goes to this logger.
LOGGER_NAME = "kimi_toolparse.serve"
_log = logging.getLogger(LOGGER_NAME)


class _Metrics:
    """The Prometheus series, in a registry of their own (one per app)."""

    def __init__(self) -> None:
        self.registry = prom.CollectorRegistry()
        r = self.registry
        self.requests = prom.Counter(
            "kimi_gateway_requests",
            "Requests answered, by endpoint and status.",
            ["endpoint", "status"],
            registry=r,
        )
        self.upstream_first = prom.Histogram(
            "kimi_gateway_upstream_first_token_seconds",
            "Time from sending the upstream request to its first piece of output.",
            registry=r,
            buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60),
        )
        self.upstream_total = prom.Histogram(
            "kimi_gateway_upstream_seconds",
            "Time from sending the upstream request to the end of its output.",
            registry=r,
            buckets=(0.01, 0.05, 0.1, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600),
        )
        self.tokens = prom.Counter(
            "kimi_gateway_tokens", "Tokens, as the upstream counted them, by kind.", ["kind"], registry=r
        )
        self.diagnostics = prom.Counter(
            "kimi_gateway_parse_diagnostics",
            "Diagnostics of the model's output (broken calls, missing markers, ...), by code.",
            ["code"],
            registry=r,
        )
        self.active = prom.Gauge("kimi_gateway_active_streams", "Streams being answered now.", registry=r)


@dataclass
class _Gateway:
    config: ServeConfig
    client: aiohttp.ClientSession
    metrics: _Metrics = field(default_factory=_Metrics)
    upstream_model: str | None = None
    store: ResponseStore | None = None
    _model_lock: asyncio.Lock = field(default_factory=asyncio.Lock)

    # ---- helpers ----------------------------------------------------------------------------------

    async def template_for(self, name: str, request_id: str) -> str:
        """The template a requested model name selects: a configured one, or the upstream's own name."""
        if name in self.config.models:
            return name
        with contextlib.suppress(ApiError):
            if name == await self.resolve_upstream_model(request_id):
                return self.config.models[0]
        raise ApiError(
            404,
            f"The model '{name}' does not exist here: use one of {', '.join(self.config.models)}",
            param="model",
            code="model_not_found",
        )

    def upstream_headers(self, request_id: str) -> dict[str, str]:
        headers = {"x-request-id": request_id}
        if self.config.upstream_api_key:
            headers["authorization"] = f"Bearer {self.config.upstream_api_key}"
        return headers

    async def resolve_upstream_model(self, request_id: str) -> str:
        if self.config.upstream_model:
            return self.config.upstream_model
        if self.upstream_model is not None:
            return self.upstream_model
        async with self._model_lock:
            if self.upstream_model is None:
                data = await self._get_json("/models", request_id)
                try:
                    self.upstream_model = str(data["data"][0]["id"])
                except (KeyError, IndexError, TypeError):
                    raise ApiError(
                        502,
                        "the upstream's /v1/models lists no model: set --upstream-model",
                        type="upstream_error",
                        code="upstream_bad_response",
                    ) from None
        return self.upstream_model

    async def _get_json(self, path: str, request_id: str) -> Any:
        try:
            async with self.client.get(
                self.config.upstream_base + path, headers=self.upstream_headers(request_id)
            ) as r:
                status = r.status
                raw = await r.read()
        except aiohttp.ConnectionTimeoutError as e:
            raise _unreachable(e) from None
        except asyncio.TimeoutError:
            raise _timeout() from None
        except (aiohttp.ClientError, OSError) as e:
            raise _unreachable(e) from None
        if status != 200:
            raise ApiError(
                502,
                f"the upstream answered {path} with {status}",
                type="upstream_error",
                code="upstream_error",
            )
        try:
            return orjson.loads(raw)
        except ValueError:
            raise ApiError(
                502, f"the upstream's {path} is not JSON", type="upstream_error", code="upstream_bad_response"
            ) from None

    async def open_upstream(self, plan: Plan, rec: _Record) -> _Upstream:
        """Send the plan's completion request upstream; its streamed answer, or an ApiError."""
        plan.upstream["model"] = await self.resolve_upstream_model(rec.request_id)
        if self.config.log_content:
            rec.prompt = plan.upstream["prompt"]
        headers = self.upstream_headers(rec.request_id)
        headers["content-type"] = "application/json"
        try:
            response = await self.client.post(
                self.config.upstream_base + "/completions", data=orjson.dumps(plan.upstream), headers=headers
            )
        except aiohttp.ConnectionTimeoutError as e:
            raise _unreachable(e) from None
        except asyncio.TimeoutError:
            raise _timeout() from None
        except (aiohttp.ClientError, OSError) as e:
            raise _unreachable(e) from None
        if response.status != 200:
            try:
                text = (await response.read()).decode("utf-8", "replace")
            except (aiohttp.ClientError, OSError, asyncio.TimeoutError):
                text = ""
            finally:
                response.close()
            raise _upstream_status(response.status, text)
        return _Upstream(response)

    async def response_store(self) -> ResponseStore:
        """The store of ``/v1/responses``, opened at its first use (chat-only gateways never make it)."""
        if self.store is None:
            async with self._model_lock:
                if self.store is None:
                    c = self.config
                    try:
                        self.store = open_store(c.store, ttl=c.store_ttl, max_bytes=c.store_max_bytes)
                    except ValueError as e:
                        raise ApiError(500, str(e), type="server_error", code="store_unavailable") from None
                    _log.info(json.dumps({"event": "store_opened", "where": self.store.where}))
        return self.store

    def authorized(self, request: Request) -> bool:
        key = self.config.api_key
        if key is None:
            return True
        given = request.headers.get("authorization", "")
        return hmac.compare_digest(given.encode(), f"Bearer {key}".encode())


def _describe(e: BaseException) -> str:
    return str(e) or type(e).__name__


def _timeout() -> ApiError:
    return ApiError(
        504, "the upstream did not answer in time", type="upstream_error", code="upstream_timeout"
    )


def _unreachable(e: Exception) -> ApiError:
    return ApiError(
        502,
        f"cannot reach the upstream: {type(e).__name__}",
        type="upstream_error",
        code="upstream_unreachable",
    )


def _upstream_status(status: int, text: str) -> ApiError:
    detail = text[:300]
    with contextlib.suppress(ValueError, TypeError, KeyError, AttributeError):
        data = json.loads(text)
        detail = str(
            data.get("message") or data["error"]["message"] if "error" in data else data.get("message")
        )
    if status in (400, 422):
        return ApiError(400, f"the upstream rejected the request: {detail}", code="upstream_rejected")
    if status == 429:
        return ApiError(
            429, f"the upstream is overloaded: {detail}", type="rate_limit_error", code="upstream_busy"
        )
    return ApiError(
        502, f"the upstream answered {status}: {detail}", type="upstream_error", code="upstream_error"
    )


def _json(status: int, body: Any, request_id: str) -> Response:
    return JSONResponse(body, status_code=status, headers={"x-request-id": request_id})


def _request_id(request: Request) -> str:
    given = request.headers.get("x-request-id", "")
    if given and len(given) <= 128 and given.isprintable():
        return given
    return uuid.uuid4().hex


async def _read_body(request: Request, limit: int) -> bytes:
    length = request.headers.get("content-length")
    if length is not None and length.isdigit() and int(length) > limit:
        raise ApiError(413, f"the request body is larger than {limit} bytes", code="request_too_large")
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > limit:
            raise ApiError(413, f"the request body is larger than {limit} bytes", code="request_too_large")
    return bytes(body)


async def _read_json(request: Request, limit: int) -> Any:
    """The request body as JSON, or a 400 (413 above ``limit`` bytes)."""
    raw = await _read_body(request, limit)
    try:
        return json.loads(raw)
    except ValueError as e:
        raise ApiError(400, f"the request body is not valid JSON: {e}", code="invalid_json") from None


@dataclass
class _Record:
    """What the log line of one request says."""

    request_id: str
    path: str
    started: float = field(default_factory=time.perf_counter)
    status: int = 200
    model: str | None = None
    stream: bool | None = None
    upstream_first: float | None = None
    upstream_done: float | None = None
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    diagnostics: list[str] = field(default_factory=list)
    finish_reasons: list[str] = field(default_factory=list)
    error: str | None = None
    #: The SSE body began (its generator's ``finally`` logs the request).
    streaming: bool = False
    prompt: str | None = None
    outputs: list[dict[str, Any]] | None = None

    def line(self) -> str:
        now = time.perf_counter()
        out: dict[str, Any] = {
            "ts": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "request_id": self.request_id,
            "path": self.path,
            "status": self.status,
            "duration_ms": round((now - self.started) * 1000, 3),
        }
        for key in ("model", "stream", "prompt_tokens", "completion_tokens", "error"):
            value = getattr(self, key)
            if value is not None:
                out[key] = value
        if self.upstream_first is not None:
            out["upstream_first_token_ms"] = round((self.upstream_first - self.started) * 1000, 3)
        if self.upstream_done is not None:
            out["upstream_ms"] = round((self.upstream_done - self.started) * 1000, 3)
        if self.finish_reasons:
            out["finish_reasons"] = self.finish_reasons
        if self.diagnostics:
            out["diagnostics"] = self.diagnostics
        if self.prompt is not None:
            out["prompt"] = self.prompt
        if self.outputs is not None:
            out["outputs"] = self.outputs
        return json.dumps(out, ensure_ascii=False)


class _Upstream:
    """One streamed upstream completion: its SSE events, parsed, with per-read timeouts."""

    def __init__(self, response: aiohttp.ClientResponse) -> None:
        self.response = response
        self.usage: dict[str, Any] | None = None

    async def events(self) -> AsyncIterator[list[dict[str, Any]]]:
        """Lists of parsed events, one list per network read (so a burst is handled at once)."""
        sse = SSEDecoder()
        try:
            async for raw in self.response.content.iter_any():
                out = sse.feed(raw)
                if out:
                    yield out
                if sse.done:
                    return
        except ValueError as e:
            raise _BrokenStream(str(e)) from None
        if sse.pending:
            raise _BrokenStream("the upstream stream ended in the middle of an event")


class _BrokenStream(Exception):
    """The upstream's stream broke; becomes an error event (or a 502 before anything was sent)."""


def _event_error(event: dict[str, Any]) -> str | None:
    if "error" in event:
        err = event["error"]
        return str(err.get("message") if isinstance(err, dict) else err)
    if event.get("object") == "error":
        return str(event.get("message"))
    return None


def create_app(config: ServeConfig) -> Starlette:
    """The gateway for ``config`` (an ASGI app; serve it with uvicorn or any ASGI server)."""
    for name in config.models:
        try:
            render([{"role": "user", "content": "x"}], None, model=name)
        except ValueError as e:
            raise ValueError(f"--model {name}: {e}") from None
    state: dict[str, _Gateway] = {}

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        connector = aiohttp.TCPConnector(limit=config.max_connections)
        timeout = aiohttp.ClientTimeout(
            total=None, connect=config.connect_timeout, sock_read=config.read_timeout
        )
        async with aiohttp.ClientSession(
            connector=connector, timeout=timeout, auto_decompress=False, raise_for_status=False
        ) as client:
            gw = state["gw"] = _Gateway(config, client)
            try:
                yield
            finally:
                if gw.store is not None:
                    await gw.store.close()
        state.clear()

    def gateway() -> _Gateway:
        return state["gw"]

    def endpoint(name: str, needs_auth: bool = True) -> Callable[[Any], Any]:
        def wrap(handler: Callable[[Request, _Gateway, _Record], Any]) -> Callable[[Request], Any]:
            async def run(request: Request) -> Response:
                gw = gateway()
                rec = _Record(_request_id(request), request.url.path)
                response: Response
                try:
                    if needs_auth and not gw.authorized(request):
                        raise ApiError(
                            401,
                            "missing or wrong API key: send 'Authorization: Bearer <key>'",
                            code="invalid_api_key",
                        )
                    response = await handler(request, gw, rec)
                except ApiError as e:
                    rec.status, rec.error = e.status, e.code or e.type
                    response = _json(e.status, e.body(), rec.request_id)
                except ClientDisconnect:
                    rec.status, rec.error = 499, "client_disconnected"
                    response = Response(status_code=499)
                rec.status = response.status_code if rec.status == 200 else rec.status
                if not isinstance(response, StreamingResponse):
                    gw.metrics.requests.labels(name, str(rec.status)).inc()
                    _log.info(rec.line())
                return response

            return run

        return wrap

    @endpoint("chat")
    async def chat(request: Request, gw: _Gateway, rec: _Record) -> Response:
        req = parse_request(await _read_json(request, config.max_body_bytes))
        rec.model, rec.stream = req.model, req.stream
        template = await gw.template_for(req.model, rec.request_id)
        plan = plan_request(req, template, config.upstream_fields, grammar=config.grammar_engine)
        started = time.perf_counter()
        up = await gw.open_upstream(plan, rec)
        response = up.response
        choices = [ChoiceStream(i, plan) for i in range(req.n)]
        if req.stream:
            return _SSEResponse(gw, rec, up, _stream(gw, rec, plan, up, choices, started))
        try:
            await _until_disconnected(request, _consume(up, choices, rec, started))
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
            response.close()
        body = _completion(rec, plan, up, choices)
        _account(gw, rec, up, choices)
        return _json(200, body, rec.request_id)

    @endpoint("models")
    async def models(request: Request, gw: _Gateway, rec: _Record) -> Response:
        data = [
            {"id": m, "object": "model", "created": 0, "owned_by": "kimi_toolparse"} for m in config.models
        ]
        return _json(200, {"object": "list", "data": data}, rec.request_id)

    @endpoint("health", needs_auth=False)
    async def health(request: Request, gw: _Gateway, rec: _Record) -> Response:
        try:
            await gw._get_json("/models", rec.request_id)
        except ApiError as e:
            return _json(503, {"status": "unhealthy", "upstream": e.message}, rec.request_id)
        return _json(200, {"status": "ok"}, rec.request_id)

    @endpoint("metrics")
    async def metrics(request: Request, gw: _Gateway, rec: _Record) -> Response:
        return Response(prom.generate_latest(gw.metrics.registry), media_type=prom.CONTENT_TYPE_LATEST)

    from .responses import dialect

    responses_create = endpoint("responses")(dialect.create)
    responses_get = endpoint("responses")(dialect.retrieve)
    responses_delete = endpoint("responses")(dialect.delete)

    async def not_found(request: Request, exc: Exception) -> Response:
        status = getattr(exc, "status_code", 404)
        message = "method not allowed" if status == 405 else f"no route {request.url.path}"
        return JSONResponse(error_body(message, "invalid_request_error", None, None), status_code=status)

    return Starlette(
        routes=[
            Route("/v1/chat/completions", chat, methods=["POST"]),
            Route("/v1/responses", responses_create, methods=["POST"]),
            Route("/v1/responses/{response_id}", responses_get, methods=["GET"]),
            Route("/v1/responses/{response_id}", responses_delete, methods=["DELETE"]),
            Route("/v1/models", models, methods=["GET"]),
            Route("/health", health, methods=["GET"]),
            Route("/metrics", metrics, methods=["GET"]),
        ],
        exception_handlers={404: not_found, 405: not_found},
        lifespan=lifespan,
    )


class _SSEResponse(StreamingResponse):
    """The SSE answer; if the client left before its body began, still close the upstream and log."""

    def __init__(
        self, gw: _Gateway, rec: _Record, up: _Upstream, body: AsyncIterator[bytes], endpoint: str = "chat"
    ) -> None:
        super().__init__(
            body,
            media_type="text/event-stream",
            headers={"x-request-id": rec.request_id, "cache-control": "no-cache"},
        )
        self._gw, self._rec, self._up, self._endpoint = gw, rec, up, endpoint

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        try:
            await super().__call__(scope, receive, send)
        finally:
            if not self._rec.streaming:
                self._up.response.close()
                self._rec.status, self._rec.error = 499, "client_disconnected"
                self._gw.metrics.requests.labels(self._endpoint, "499").inc()
                _log.info(self._rec.line())


async def _until_disconnected(request: Request, work: Awaitable[None]) -> None:
    """Run ``work``, cancelling it (and raising ClientDisconnect) if the client goes away first."""
    task = asyncio.ensure_future(work)
    gone = asyncio.ensure_future(request.receive())
    try:
        await asyncio.wait((task, gone), return_when=asyncio.FIRST_COMPLETED)
    except BaseException:
        task.cancel()
        gone.cancel()
        raise
    if task.done():
        gone.cancel()
        task.result()
        return
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
    raise ClientDisconnect()


def _apply(
    batch: list[dict[str, Any]], up: _Upstream, choices: list[ChoiceStream]
) -> list[tuple[int, list[dict[str, Any]]]]:
    """Feed a batch of upstream events to their choices; the deltas each produced, in order."""
    out = []
    n = len(choices)
    for event in batch:
        usage = event.get("usage")
        if usage and isinstance(usage, dict):
            up.usage = usage
        pieces = event.get("choices")
        if not pieces or not isinstance(pieces, list):
            err = _event_error(event)
            if err is not None:
                raise _BrokenStream(f"the upstream reported: {err}")
            continue
        for piece in pieces:
            index = piece.get("index", 0) if isinstance(piece, dict) else None
            if type(index) is not int or not 0 <= index < n:
                continue
            ch = choices[index]
            finish = piece.get("finish_reason")
            if finish:
                ch.upstream_finish = str(finish)
            text = piece.get("text") or ""
            ids = piece.get("token_ids")
            try:
                deltas = ch.feed(text, ids if isinstance(ids, list) else None)
            except (TypeError, ValueError):
                raise _BrokenStream(
                    "the upstream sent a piece whose text or token_ids are malformed"
                ) from None
            if deltas:
                out.append((index, deltas))
    return out


async def _consume(up: _Upstream, choices: list[ChoiceStream], rec: _Record, started: float) -> None:
    """Read the whole upstream output into the choices (non-streaming answers)."""
    async for batch in up.events():
        if rec.upstream_first is None:
            rec.upstream_first = time.perf_counter()
        _apply(batch, up, choices)
    rec.upstream_done = time.perf_counter()
    for ch in choices:
        ch.close()


def _usage(up: _Upstream, choices: list[ChoiceStream]) -> dict[str, int]:
    p = c = 0
    if up.usage:
        with contextlib.suppress(TypeError, ValueError):
            p = int(up.usage.get("prompt_tokens") or 0)
            c = int(up.usage.get("completion_tokens") or 0)
    return {"prompt_tokens": p, "completion_tokens": c, "total_tokens": p + c}


def _completion(rec: _Record, plan: Plan, up: _Upstream, choices: list[ChoiceStream]) -> dict[str, Any]:
    body: dict[str, Any] = {
        "id": f"chatcmpl-{rec.request_id}",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": plan.request.model,
        "system_fingerprint": None,
        "choices": [
            {"index": ch.index, "message": ch.message(), "logprobs": None, "finish_reason": ch.finish_reason}
            for ch in choices
        ],
        "usage": _usage(up, choices),
    }
    diags = [{**d, "choice": ch.index} for ch in choices for d in ch.diagnostics]
    if diags:
        body["kimi_diagnostics"] = diags
    return body


def _account(gw: _Gateway, rec: _Record, up: _Upstream, choices: list[ChoiceStream]) -> None:
    """Metrics and the log record's summary, once a completion is done."""
    m = gw.metrics
    usage = _usage(up, choices)
    rec.prompt_tokens, rec.completion_tokens = usage["prompt_tokens"], usage["completion_tokens"]
    m.tokens.labels("prompt").inc(usage["prompt_tokens"])
    m.tokens.labels("completion").inc(usage["completion_tokens"])
    if rec.upstream_first is not None:
        m.upstream_first.observe(rec.upstream_first - rec.started)
    if rec.upstream_done is not None:
        m.upstream_total.observe(rec.upstream_done - rec.started)
    for ch in choices:
        rec.finish_reasons.append(ch.finish_reason)
        for d in ch.diagnostics:
            rec.diagnostics.append(d["code"])
            m.diagnostics.labels(d["code"]).inc()
    if gw.config.log_content:
        rec.outputs = [ch.message() for ch in choices]


async def _stream(
    gw: _Gateway, rec: _Record, plan: Plan, up: _Upstream, choices: list[ChoiceStream], started: float
) -> AsyncIterator[bytes]:
    """The SSE body: a role chunk per choice, the deltas, the finish chunks, usage, ``[DONE]``."""
    req = plan.request
    include_usage = bool(req.stream_options and req.stream_options.include_usage)
    head = (
        f'data: {{"id":"chatcmpl-{rec.request_id}","object":"chat.completion.chunk",'
        f'"created":{int(time.time())},"model":{dumps(req.model)},"system_fingerprint":null,"choices":[{{"index":'
    )
    tail = '"finish_reason":null}]' + (',"usage":null' if include_usage else "") + "}\n\n"
    prefixes = [f'{head}{ch.index},"delta":' for ch in choices]
    post = ',"logprobs":null,' + tail
    rec.streaming = True
    gw.metrics.active.inc()
    finished = False
    try:
        first = "".join(
            f'{head}{ch.index},"delta":{{"role":"assistant","content":""}},"logprobs":null,{tail}'
            for ch in choices
        )
        yield first.encode()
        try:
            async for batch in up.events():
                if rec.upstream_first is None:
                    rec.upstream_first = time.perf_counter()
                out: list[str] = []
                for index, deltas in _apply(batch, up, choices):
                    pre = prefixes[index]
                    for delta in deltas:
                        out.append(pre + dumps(delta) + post)
                if out:
                    yield "".join(out).encode()
            rec.upstream_done = time.perf_counter()
        except (aiohttp.ClientError, OSError, asyncio.TimeoutError, _BrokenStream) as e:
            kind = "upstream_timeout" if isinstance(e, asyncio.TimeoutError) else "upstream_disconnected"
            rec.status, rec.error = (504 if kind == "upstream_timeout" else 502), kind
            message = (
                f"the upstream stream broke: {_describe(e)}"
                if kind != "upstream_timeout"
                else "the upstream timed out"
            )
            yield f"data: {dumps(error_body(message, 'upstream_error', None, kind))}\n\n".encode()
            return
        out = []
        for ch in choices:
            for delta in ch.close():
                out.append(f'{head}{ch.index},"delta":{dumps(delta)},"logprobs":null,{tail}')
        _account(gw, rec, up, choices)
        for ch in choices:
            final: dict[str, Any] = {
                "index": ch.index,
                "delta": {},
                "logprobs": None,
                "finish_reason": ch.finish_reason,
            }
            extra = ',"usage":null' if include_usage else ""
            diags = ch.diagnostics
            if diags:
                extra += f',"kimi_diagnostics":{dumps(diags)}'
            out.append(
                f'data: {{"id":"chatcmpl-{rec.request_id}","object":"chat.completion.chunk",'
                f'"created":{int(time.time())},"model":{dumps(req.model)},"system_fingerprint":null,'
                f'"choices":[{dumps(final)}]{extra}}}\n\n'
            )
        if include_usage:
            out.append(
                f'data: {{"id":"chatcmpl-{rec.request_id}","object":"chat.completion.chunk",'
                f'"created":{int(time.time())},"model":{dumps(req.model)},"system_fingerprint":null,'
                f'"choices":[],"usage":{dumps(_usage(up, choices))}}}\n\n'
            )
        out.append("data: [DONE]\n\n")
        yield "".join(out).encode()
        finished = True
    finally:
        if not finished and rec.error is None:
            rec.status, rec.error = 499, "client_disconnected"
        gw.metrics.active.dec()
        gw.metrics.requests.labels("chat", str(rec.status)).inc()
        _log.info(rec.line())
        up.response.close()


def configure_logging(level: str) -> None:
    """Send the request log lines, bare JSON, to stderr."""
    log = logging.getLogger(LOGGER_NAME)
    if not any(getattr(h, "_kimi_serve", False) for h in log.handlers):
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("%(message)s"))
        handler._kimi_serve = True  # type: ignore[attr-defined]
        log.addHandler(handler)
    log.setLevel(level.upper())
    log.propagate = False


def create_app_from_env() -> Starlette:
    """The app for a worker process: the configuration comes from ``KIMI_TOOLPARSE_SERVE_CONFIG``."""
    text = os.environ.get(CONFIG_ENV)
    if not text:
        raise RuntimeError(f"{CONFIG_ENV} is not set: start workers with 'kimi-toolparse serve --workers N'")
    config = ServeConfig.from_json(text)
    configure_logging(config.log_level)
    return create_app(config)
