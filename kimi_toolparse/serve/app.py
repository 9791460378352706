"""The gateway's ASGI app: the routes, and what every served API shares.

Plain Starlette handlers: ``POST /v1/chat/completions``, ``POST /v1/messages`` and ``POST /v1/responses``
(streaming and not), ``POST /v1/messages/count_tokens``, ``GET`` and ``DELETE /v1/responses/{id}``,
``GET /v1/models``, ``GET /health`` and ``GET /metrics``. Each API is a *dialect* (:mod:`.pipeline`
describes the interface); this module does what they share: auth (``Authorization: Bearer`` or
``x-api-key``), the body limit, request ids, the upstream call (:mod:`.upstream`), ``max_tokens`` clamped
to the context, timeouts, client disconnects, pings on silent streams, metrics and the JSON log.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import inspect
import json
import logging
import os
import secrets
import sys
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import prometheus_client as prom
from starlette.applications import Starlette
from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from kimi_toolparse import render

from . import chat, messages
from .config import CONFIG_ENV, ServeConfig
from .engines import engine_mismatch
from .pipeline import Dialect, Plan, Run, clamp_max_tokens, plan
from .request import ApiError
from .upstream import (
    BrokenStream,
    Target,
    Upstream,
    UpstreamStream,
    apply,
    broken_error,
    counter,
    timeout_error,
)

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
    upstream: Upstream
    #: The Kimi vocabulary's encoder (``--tokenizer`` or the packaged one), None without tiktoken.
    encode: Callable[[str], list[int]] | None = None
    metrics: _Metrics = field(default_factory=_Metrics)

    async def count(self, prompt: str | list[int]) -> int | None:
        """The prompt's tokens (special tokens by id), or None without a vocabulary to count with."""
        if isinstance(prompt, list):  # sent as token ids
            return len(prompt)
        if self.encode is None:
            return None
        if len(prompt) < 16384:
            return len(self.encode(prompt))
        return len(await asyncio.to_thread(self.encode, prompt))

    async def clamp(self, p: Plan, request_id: str) -> int | None:
        """Clamp ``max_tokens`` to what the prompt leaves of the context; the prompt's tokens if counted."""
        asked = p.upstream.get("max_tokens")
        if asked is None:
            return None
        limit = self.config.max_model_len or await self.upstream.max_model_len(request_id)
        prompt = p.upstream["prompt"]
        # a token is at least one byte: a prompt that fits by bytes fits (one sent as ids is counted)
        least = len(prompt) if isinstance(prompt, list) else len(prompt.encode())
        if limit is None or least + asked <= limit:
            return None
        count = await self.count(prompt)
        if count is not None:
            clamp_max_tokens(p, limit, count)
        return count

    async def template_for(self, name: str, request_id: str) -> str:
        """The template a requested model name selects: a configured one, or the upstream's own name."""
        if name in self.config.models:
            return name
        with contextlib.suppress(ApiError):
            if name == await self.upstream.resolve_model(request_id):
                return self.config.models[0]
        raise ApiError(
            404,
            f"The model '{name}' does not exist here: use one of {', '.join(self.config.models)}",
            kind="not_found",
            param="model",
            code="model_not_found",
        )

    def authorized(self, request: Request) -> bool:
        """The client sent the key as ``Authorization: Bearer KEY`` or ``x-api-key: KEY`` (or none is set)."""
        key = self.config.api_key
        if key is None:
            return True
        bearer = request.headers.get("authorization", "")
        given = request.headers.get("x-api-key", "")
        return hmac.compare_digest(bearer.encode(), f"Bearer {key}".encode()) or hmac.compare_digest(
            given.encode(), key.encode()
        )


def _json(status: int, body: Any, request_id: str) -> Response:
    return JSONResponse(body, status_code=status, headers=_ids(request_id))


def _ids(request_id: str) -> dict[str, str]:
    """The request id, under OpenAI's header name and Anthropic's."""
    return {"x-request-id": request_id, "request-id": request_id}


def _request_id(request: Request) -> str:
    given = request.headers.get("x-request-id", "")
    if given and len(given) <= 128 and given.isprintable():
        return given
    return uuid.uuid4().hex


async def _read_json(request: Request, limit: int) -> Any:
    """The request body as JSON: 413 above ``limit`` bytes, 400 when it is not JSON."""
    length = request.headers.get("content-length")
    if length is not None and length.isdigit() and int(length) > limit:
        raise ApiError(
            413, f"the request body is larger than {limit} bytes", kind="too_large", code="request_too_large"
        )
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > limit:
            raise ApiError(
                413,
                f"the request body is larger than {limit} bytes",
                kind="too_large",
                code="request_too_large",
            )
    try:
        return json.loads(body)
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
            "ts": _timestamp(),
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


def _timestamp() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


def _start_line(config: ServeConfig) -> str:
    """The log's first line: where the gateway listens, in front of what, for which models."""
    url = f"http://{config.host}:{config.port}/v1"
    return json.dumps(
        {
            "ts": _timestamp(),
            "event": "start",
            "message": f"serving {url} ({', '.join(config.models)}) in front of {config.upstream}",
            "url": url,
            "upstream": config.upstream,
            "models": list(config.models),
            "engine": config.engine,
            "workers": config.workers,
            "pid": os.getpid(),
        }
    )


_Handler = Callable[[Request, _Gateway, _Record], Awaitable[Response]]


async def _check_engine(gw: _Gateway, target: Target) -> None:
    """At start-up, one warning line when the upstream's ``/v1/models`` names another engine than
    ``--engine`` (nothing when it cannot be asked yet)."""
    try:
        models = await gw.upstream.get_json("/models", "startup")
    except ApiError:
        return
    problem = engine_mismatch(target.engine, models)
    if problem is not None:
        _log.warning(json.dumps({"path": "startup", "warning": problem}))


def create_app(config: ServeConfig) -> Starlette:
    """The gateway for ``config`` (an ASGI app; serve it with uvicorn or any ASGI server)."""
    for name in config.models:
        try:
            render([{"role": "user", "content": "x"}], None, model=name)
        except ValueError as e:
            raise ValueError(f"--model {name}: {e}") from None
    # The engine's profile, the prompt's form and the vocabulary: chosen once here, never per request.
    target = Target.from_config(config)
    encode = target.encode or counter(config.tokenizer)
    state: dict[str, _Gateway] = {}
    anthropic = messages.Messages(config.signing_key or secrets.token_hex(32))

    from .responses.dialect import ResponsesDialect

    responses = ResponsesDialect(config)

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        connector = aiohttp.TCPConnector(limit=config.max_connections)
        timeout = aiohttp.ClientTimeout(
            total=None, connect=config.connect_timeout, sock_read=config.read_timeout
        )
        async with aiohttp.ClientSession(
            connector=connector, timeout=timeout, auto_decompress=False, raise_for_status=False
        ) as client:
            state["gw"] = gw = _Gateway(config, Upstream(config, client), encode)
            _log.info(_start_line(config))
            await _check_engine(gw, target)
            try:
                yield
            finally:
                await responses.close()
        state.clear()

    def endpoint(
        name: str, dialect: Dialect = chat.DIALECT, needs_auth: bool = True
    ) -> Callable[[_Handler], Callable[[Request], Any]]:
        """A route's handler, with what every route shares: auth, errors in ``dialect``'s shape, the log."""

        def wrap(handler: _Handler) -> Callable[[Request], Any]:
            async def run(request: Request) -> Response:
                gw = state["gw"]
                rec = _Record(_request_id(request), request.url.path)
                response: Response
                try:
                    if needs_auth and not gw.authorized(request):
                        raise ApiError(
                            401,
                            "missing or wrong API key: send 'Authorization: Bearer <key>' "
                            "or 'x-api-key: <key>'",
                            kind="authentication",
                            code="invalid_api_key",
                        )
                    response = await handler(request, gw, rec)
                except ApiError as e:
                    status = dialect.error_status(e)
                    rec.status, rec.error = status, e.code or e.kind
                    response = _json(status, dialect.error_body(e, rec.request_id), rec.request_id)
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

    def generation(dialect: Dialect) -> Callable[[Request], Any]:
        """The handler of a dialect's generation route: read, plan, call upstream, answer."""

        @endpoint(dialect.name, dialect)
        async def handle(request: Request, gw: _Gateway, rec: _Record) -> Response:
            req = dialect.read(await _read_json(request, config.max_body_bytes), config)
            if inspect.isawaitable(req):  # a dialect that reads stored state (the Responses API)
                req = await req
            rec.model, rec.stream = req.model, req.stream
            template = await gw.template_for(req.model, rec.request_id)
            p = plan(req, template, target)
            p.upstream["model"] = await gw.upstream.resolve_model(rec.request_id)
            count = await gw.clamp(p, rec.request_id)
            if count is None and req.stream and dialect.counts_prompt:
                count = await gw.count(p.upstream["prompt"])
            if config.log_content:
                rec.prompt = p.prompt + p.prefill
            up = await gw.upstream.complete(p.upstream, rec.request_id)
            run = Run(rec.request_id, p, [dialect.choice(i, p) for i in range(req.n)], int(time.time()))
            run.prompt_tokens = count
            if req.stream:
                return _SSEResponse(gw, rec, up, dialect.name, _stream(gw, rec, dialect, run, up))
            try:
                await _until_disconnected(request, _consume(up, run, rec))
            except asyncio.TimeoutError:
                raise timeout_error() from None
            except (aiohttp.ClientError, OSError, BrokenStream) as e:
                raise broken_error(e) from None
            finally:
                up.close()
            run.upstream_usage = up.usage
            body = dialect.body(run)
            if inspect.isawaitable(body):  # a dialect that stores the answer first
                body = await body
            _account(gw, rec, run)
            return _json(200, body, rec.request_id)

        return handle

    def stored(handler: Callable[[str], Awaitable[dict[str, Any]]]) -> Callable[[Request], Any]:
        """A route on one stored response (``/v1/responses/{id}``): its JSON, or a 404."""

        @endpoint(responses.name, responses)
        async def handle(request: Request, gw: _Gateway, rec: _Record) -> Response:
            return _json(200, await handler(request.path_params["response_id"]), rec.request_id)

        return handle

    @endpoint("count_tokens", anthropic)
    async def count_tokens(request: Request, gw: _Gateway, rec: _Record) -> Response:
        data = messages.parse_request(await _read_json(request, config.max_body_bytes))
        req = messages.to_request(data, config, count_only=True)
        rec.model = req.model
        template = await gw.template_for(req.model, rec.request_id)
        p = plan(req, template, target)
        count = await gw.count(p.upstream["prompt"])
        if count is None:
            raise ApiError(
                400,
                "this gateway cannot count tokens: install tiktoken (pip install '.[serve]' in the "
                "kimi_toolparse clone) and restart it",
                code="no_vocabulary",
            )
        return _json(200, {"input_tokens": count}, rec.request_id)

    @endpoint("models")
    async def models(request: Request, gw: _Gateway, rec: _Record) -> Response:
        data = [
            {"id": m, "object": "model", "created": 0, "owned_by": "kimi_toolparse"} for m in config.models
        ]
        return _json(200, {"object": "list", "data": data}, rec.request_id)

    @endpoint("health", needs_auth=False)
    async def health(request: Request, gw: _Gateway, rec: _Record) -> Response:
        try:
            await gw.upstream.get_json("/models", rec.request_id)
        except ApiError as e:
            return _json(503, {"status": "unhealthy", "upstream": e.message}, rec.request_id)
        return _json(200, {"status": "ok"}, rec.request_id)

    @endpoint("metrics")
    async def metrics(request: Request, gw: _Gateway, rec: _Record) -> Response:
        return Response(prom.generate_latest(gw.metrics.registry), media_type=prom.CONTENT_TYPE_LATEST)

    routes = [
        Route("/v1/chat/completions", generation(chat.DIALECT), methods=["POST"]),
        Route("/v1/responses", generation(responses), methods=["POST"]),
        Route("/v1/responses/{response_id}", stored(responses.retrieve), methods=["GET"]),
        Route("/v1/responses/{response_id}", stored(responses.delete), methods=["DELETE"]),
        Route("/v1/messages", generation(anthropic), methods=["POST"]),
        Route("/v1/messages/count_tokens", count_tokens, methods=["POST"]),
        Route("/v1/models", models, methods=["GET"]),
        Route("/health", health, methods=["GET"]),
        Route("/metrics", metrics, methods=["GET"]),
    ]
    served = ", ".join(f"{'/'.join(sorted(r.methods or ()))} {r.path}" for r in routes)

    async def not_found(request: Request, exc: Exception) -> Response:
        """An unknown route or a wrong method: answered, logged and counted like any request."""
        status = getattr(exc, "status_code", 404)
        path = request.url.path
        rec = _Record(_request_id(request), path, status=status)
        if status == 405:
            allowed = getattr(exc, "headers", None) or {}
            rec.error = "method_not_allowed"
            message = f"{request.method} {path} is not served: use {allowed.get('Allow', 'another method')}"
        else:
            rec.error = "not_found"
            message = f"no route {path}: the gateway serves {served}"
        gw = state.get("gw")
        if gw is not None:
            gw.metrics.requests.labels("none", str(status)).inc()
        _log.info(rec.line())
        if path.startswith("/v1/messages"):
            kind = "not_found_error" if status == 404 else "invalid_request_error"
            return _json(status, messages.error_body(kind, message), rec.request_id)
        return _json(status, chat.error_body(message, "invalid_request_error", None, None), rec.request_id)

    return Starlette(
        routes=routes,
        exception_handlers={404: not_found, 405: not_found},
        lifespan=lifespan,
    )


class _SSEResponse(StreamingResponse):
    """The SSE answer; if the client left before its body began, still close the upstream and log."""

    def __init__(
        self, gw: _Gateway, rec: _Record, up: UpstreamStream, name: str, body: AsyncIterator[bytes]
    ) -> None:
        super().__init__(
            body,
            media_type="text/event-stream",
            headers={**_ids(rec.request_id), "cache-control": "no-cache"},
        )
        self._gw, self._rec, self._up, self._name = gw, rec, up, name

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        try:
            await super().__call__(scope, receive, send)
        finally:
            if not self._rec.streaming:
                self._up.close()
                self._rec.status, self._rec.error = 499, "client_disconnected"
                self._gw.metrics.requests.labels(self._name, "499").inc()
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


async def _consume(up: UpstreamStream, run: Run, rec: _Record) -> None:
    """Read the whole upstream output into the choices (non-streaming answers)."""
    async for batch in up.events():
        if rec.upstream_first is None:
            rec.upstream_first = time.perf_counter()
        if batch:
            apply(batch, up, run.choices)
    rec.upstream_done = time.perf_counter()
    for ch in run.choices:
        ch.close()


def _account(gw: _Gateway, rec: _Record, run: Run) -> None:
    """Metrics and the log record's summary, once a completion is done."""
    m = gw.metrics
    rec.prompt_tokens, rec.completion_tokens = run.usage()
    m.tokens.labels("prompt").inc(rec.prompt_tokens)
    m.tokens.labels("completion").inc(rec.completion_tokens)
    if rec.upstream_first is not None:
        m.upstream_first.observe(rec.upstream_first - rec.started)
    if rec.upstream_done is not None:
        m.upstream_total.observe(rec.upstream_done - rec.started)
    for ch in run.choices:
        rec.finish_reasons.append(ch.finish_reason)
        for d in ch.diagnostics:
            rec.diagnostics.append(d["code"])
            m.diagnostics.labels(d["code"]).inc()
    if gw.config.log_content:
        rec.outputs = [ch.message() for ch in run.choices]


async def _stream(
    gw: _Gateway, rec: _Record, dialect: Dialect, run: Run, up: UpstreamStream
) -> AsyncIterator[bytes]:
    """The SSE body: the dialect's head, its pieces as the upstream's arrive, its tail (or error event)."""
    writer = dialect.writer(run)
    rec.streaming = True
    gw.metrics.active.inc()
    finished = False
    try:
        yield writer.head()
        try:
            ping = writer.ping()
            async for batch in up.events(None if ping is None else gw.config.ping_interval):
                if batch is None:  # the upstream is silent: keep the client's connection alive
                    if ping is not None:
                        yield ping
                    continue
                if rec.upstream_first is None:
                    rec.upstream_first = time.perf_counter()
                sent = b"".join([writer.pieces(index, got) for index, got in apply(batch, up, run.choices)])
                if sent:
                    yield sent
            rec.upstream_done = time.perf_counter()
        except (aiohttp.ClientError, OSError, asyncio.TimeoutError, BrokenStream) as e:
            err = broken_error(e)
            rec.status, rec.error = err.status, err.code
            yield writer.error(err)
            return
        run.upstream_usage = up.usage
        last = writer.tail()
        if inspect.isawaitable(last):  # a dialect that stores the answer before its last event
            last = await last
        _account(gw, rec, run)
        yield last
        finished = True
    finally:
        if not finished and rec.error is None:
            rec.status, rec.error = 499, "client_disconnected"
        gw.metrics.active.dec()
        gw.metrics.requests.labels(dialect.name, str(rec.status)).inc()
        _log.info(rec.line())
        up.close()


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
