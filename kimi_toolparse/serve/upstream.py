"""The upstream engine: its request body, the HTTP call (aiohttp), its SSE stream and its failures.

Two halves. :func:`completion_body` and :func:`grammar_fields` build what is sent, from the :class:`Target`
chosen once at start-up (its engine profile, :mod:`.engines`, is the one place that knows engine-specific
fields); :class:`Upstream` sends it and reads the answer as a stream (so timeouts apply per
piece and a client that leaves cancels it), and :func:`apply` feeds each piece to the choices.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import sys
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import aiohttp
import orjson

from .config import ServeConfig
from .engines import PROFILES, EngineProfile, profile
from .engines import completion_body as completion_body_for
from .engines import grammar_fields as engine_grammar_fields
from .request import ApiError, Request

__all__ = [
    "BrokenStream",
    "SSEDecoder",
    "Target",
    "Upstream",
    "UpstreamStream",
    "UsageSink",
    "apply",
    "completion_body",
    "grammar_fields",
    "timeout_error",
]


# ---- what is sent: the engine's profile, chosen once ----------------------------------------------------


@dataclass(frozen=True)
class Target:
    """The engine behind the gateway as each request's body sees it, decided once at start-up.

    ``engine``: its profile (:mod:`.engines`: special tokens kept, token ids asked for, how the turn
    stops, where a grammar goes). ``grammar``: the ``--grammar`` format, or None. ``extra``:
    ``--upstream-extra``, merged last. ``encode``: text -> token ids with the Kimi vocabulary when the
    prompt goes as ids, None when it goes as text."""

    engine: EngineProfile = field(default_factory=lambda: PROFILES["vllm"])
    grammar: str | None = None
    extra: tuple[tuple[str, Any], ...] = ()
    encode: Callable[[str], list[int]] | None = None

    @classmethod
    def from_config(cls, config: ServeConfig) -> Target:
        """The target ``config`` describes; ValueError (one line) when ``--prompt ids`` cannot be had."""
        engine = profile(config.engine)
        encode = None
        if engine.prompt_ids and config.prompt != "text":
            encode = counter(config.tokenizer, required=config.prompt == "ids")
        elif config.prompt == "ids":
            raise ValueError(f"--prompt ids: --engine {engine.name} takes the prompt as text only")
        return cls(engine, config.grammar, config.upstream_extra, encode)

    @property
    def prompt_mode(self) -> str:
        """``ids`` or ``text``: how the prompt is sent."""
        return "text" if self.encode is None else "ids"


def counter(path: str | None, *, required: bool = False) -> Callable[[str], list[int]] | None:
    """The Kimi vocabulary's encoder (``--tokenizer``, else the one shipped with the package), special tokens
    by id: what sends a prompt as ids and counts its tokens. None without tiktoken (the serve extra has it)
    unless ``required`` or a ``--tokenizer`` was given: then ValueError, one line."""
    from kimi_toolparse.vocab import load_vocabulary

    try:
        vocabulary = load_vocabulary(path)
        vocabulary.tiktoken_encoding  # noqa: B018 - fails now, not at the first request, without tiktoken
    except (ImportError, OSError, ValueError) as e:
        if required or path is not None:
            raise ValueError(f"--tokenizer: the Kimi vocabulary cannot be used: {e}") from None
        return None
    encode: Callable[[str], list[int]] = vocabulary.encode
    return encode


def completion_body(req: Request, prompt: str, target: Target, constraint: dict[str, Any]) -> dict[str, Any]:
    """The ``/v1/completions`` body for ``req`` (without ``model``): :func:`.engines.completion_body` with
    the request's sampling fields and the prompt as ids or text, as ``target`` says."""
    return completion_body_for(
        target.engine,
        prompt if target.encode is None else target.encode(prompt),
        stop=req.stop,
        n=req.n,
        sampling={
            "max_tokens": req.max_tokens,
            "temperature": req.temperature,
            "top_p": req.top_p,
            "top_k": req.top_k,
            "seed": req.seed,
            "presence_penalty": req.presence_penalty,
            "frequency_penalty": req.frequency_penalty,
        },
        grammar=constraint,
        extra=dict(target.extra),
    )


def grammar_fields(req: Request, target: Target, thinking: bool) -> dict[str, Any]:
    """The fields that carry the request's tool-call grammar to ``target``'s engine
    (:mod:`kimi_toolparse.constrain` builds it; :func:`.engines.grammar_fields` says where it goes)."""
    from kimi_toolparse import grammar_for_request

    request = {
        "messages": req.messages,
        "tools": req.tools,
        "tool_choice": req.openai_tool_choice(),
        "parallel_tool_calls": req.parallel_tool_calls,
    }
    try:
        built = grammar_for_request(request, format=target.grammar, thinking=thinking)  # type: ignore[arg-type]
    except (TypeError, ValueError) as e:
        raise ApiError(400, f"cannot build the tool-call grammar: {e}", param="tools") from None
    return engine_grammar_fields(target.engine, built)


# ---- failures --------------------------------------------------------------------------------------------


class BrokenStream(Exception):
    """The upstream's stream broke; becomes an error event (or a 502 before anything was sent)."""


def describe(e: BaseException) -> str:
    return str(e) or type(e).__name__


def timeout_error() -> ApiError:
    return ApiError(504, "the upstream did not answer in time", kind="upstream", code="upstream_timeout")


def _unreachable(e: Exception) -> ApiError:
    return ApiError(
        502, f"cannot reach the upstream: {type(e).__name__}", kind="upstream", code="upstream_unreachable"
    )


def broken_error(e: BaseException) -> ApiError:
    """The error for a stream that broke (or timed out) after it began."""
    if isinstance(e, asyncio.TimeoutError):
        return ApiError(504, "the upstream timed out", kind="upstream", code="upstream_timeout")
    return ApiError(
        502, f"the upstream stream broke: {describe(e)}", kind="upstream", code="upstream_disconnected"
    )


@contextlib.contextmanager
def _connection_errors() -> Iterator[None]:
    """Failures to reach the upstream or to hear from it in time, as the gateway's errors."""
    try:
        yield
    except aiohttp.ConnectionTimeoutError as e:
        raise _unreachable(e) from None
    except asyncio.TimeoutError:
        raise timeout_error() from None
    except (aiohttp.ClientError, OSError) as e:
        raise _unreachable(e) from None


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
        return ApiError(429, f"the upstream is overloaded: {detail}", kind="overloaded", code="upstream_busy")
    return ApiError(502, f"the upstream answered {status}: {detail}", kind="upstream", code="upstream_error")


def _event_error(event: dict[str, Any]) -> str | None:
    if "error" in event:
        err = event["error"]
        return str(err.get("message") if isinstance(err, dict) else err)
    if event.get("object") == "error":
        return str(event.get("message"))
    return None


# ---- the HTTP call ---------------------------------------------------------------------------------------


@dataclass
class Upstream:
    """The engine behind the gateway: one aiohttp session, and what the gateway learnt about the engine."""

    config: ServeConfig
    client: aiohttp.ClientSession
    model: str | None = None
    #: The context length the upstream's /v1/models reports (vLLM's ``max_model_len``); 0: it reports none.
    context: int | None = None
    _model_lock: asyncio.Lock = field(default_factory=asyncio.Lock)

    def headers(self, request_id: str) -> dict[str, str]:
        headers = {"x-request-id": request_id}
        if self.config.upstream_api_key:
            headers["authorization"] = f"Bearer {self.config.upstream_api_key}"
        return headers

    async def resolve_model(self, request_id: str) -> str:
        """The model name sent upstream: ``--upstream-model``, or the first of the upstream's /v1/models."""
        if self.config.upstream_model:
            return self.config.upstream_model
        if self.model is not None:
            return self.model
        async with self._model_lock:
            if self.model is None:
                data = await self.get_json("/models", request_id)
                self._read_context(data)
                try:
                    self.model = str(data["data"][0]["id"])
                except (KeyError, IndexError, TypeError):
                    raise ApiError(
                        502,
                        "the upstream's /v1/models lists no model: set --upstream-model",
                        kind="upstream",
                        code="upstream_bad_response",
                    ) from None
        return self.model

    def _read_context(self, data: Any) -> None:
        with contextlib.suppress(KeyError, IndexError, TypeError, ValueError):
            self.context = int(data["data"][0]["max_model_len"])
        if self.context is None or self.context < 1:
            self.context = 0

    async def max_model_len(self, request_id: str) -> int | None:
        """The context length the upstream reports, or None (asked once; an upstream that cannot be
        reached is asked again next time, one that answers without it is not)."""
        if self.context is None:
            try:
                self._read_context(await self.get_json("/models", request_id))
            except ApiError as e:
                if e.code not in ("upstream_unreachable", "upstream_timeout"):
                    self.context = 0
                return None
        return self.context or None

    async def get_json(self, path: str, request_id: str) -> Any:
        with _connection_errors():
            async with self.client.get(
                self.config.upstream_base + path, headers=self.headers(request_id)
            ) as r:
                status = r.status
                raw = await r.read()
        if status != 200:
            raise ApiError(
                502, f"the upstream answered {path} with {status}", kind="upstream", code="upstream_error"
            )
        try:
            return orjson.loads(raw)
        except ValueError:
            raise ApiError(
                502, f"the upstream's {path} is not JSON", kind="upstream", code="upstream_bad_response"
            ) from None

    async def complete(self, body: dict[str, Any], request_id: str) -> UpstreamStream:
        """POST the completion; its stream once the upstream answered 200, else the error it amounts to."""
        headers = self.headers(request_id)
        headers["content-type"] = "application/json"
        with _connection_errors():
            response = await self.client.post(
                self.config.upstream_base + "/completions", data=orjson.dumps(body), headers=headers
            )
        if response.status != 200:
            try:
                text = (await response.read()).decode("utf-8", "replace")
            except (aiohttp.ClientError, OSError, asyncio.TimeoutError):
                text = ""
            finally:
                response.close()
            raise _upstream_status(response.status, text)
        return UpstreamStream(response)


class _Silence:
    """Interrupts the read of a silent stream every ``every`` seconds so that the reader can send a ping.

    One timer per stream, re-armed when it fires (a read only notes the time, so the hot path pays nothing):
    it cancels the reading task, and only while that task waits in :meth:`read`, never while it sends.
    Cancelling ``readany()`` loses nothing: the bytes stay buffered for the next call."""

    def __init__(self, every: float) -> None:
        self.loop = asyncio.get_running_loop()
        self.task = asyncio.current_task()
        self.every = every
        self.last = self.loop.time()
        self.reading = False
        self.fired = False
        self.handle = self.loop.call_at(self.last + every, self._check)

    def _check(self) -> None:
        now = self.loop.time()
        due = self.last + self.every
        if now >= due:
            if self.reading and self.task is not None:
                self.fired = True
                self.task.cancel()
            due = now + self.every
        self.handle = self.loop.call_at(due, self._check)

    async def read(self, content: aiohttp.StreamReader) -> bytes | None:
        """The next bytes, or None when the timer interrupted the wait (time for a ping)."""
        self.reading = True
        try:
            raw = await content.readany()
        except asyncio.CancelledError:
            if not self.fired:
                raise
            self.fired = False
            # a cancellation of our own; another one that came with it still ends the task
            if sys.version_info >= (3, 11) and self.task is not None and self.task.uncancel() > 0:
                raise
            self.last = self.loop.time()
            return None
        finally:
            self.reading = False
        self.last = self.loop.time()
        return raw

    def stop(self) -> None:
        self.handle.cancel()


class UpstreamStream:
    """One streamed upstream completion: its SSE events, parsed, with per-read timeouts."""

    def __init__(self, response: aiohttp.ClientResponse) -> None:
        self.response = response
        self.usage: dict[str, Any] | None = None

    async def events(self, ping_every: float | None = None) -> AsyncIterator[list[dict[str, Any]] | None]:
        """Lists of parsed events, one list per network read (so a burst is handled at once); with
        ``ping_every``, a None each time that many seconds pass without a read (for keep-alive events)."""
        sse = SSEDecoder()
        content = self.response.content
        silence = None if ping_every is None else _Silence(ping_every)
        try:
            while True:
                if silence is None:
                    raw = await content.readany()
                else:
                    got = await silence.read(content)
                    if got is None:
                        yield None
                        continue
                    raw = got
                if not raw:
                    break
                out = sse.feed(raw)
                if out:
                    yield out
                if sse.done:
                    return
        except ValueError as e:
            raise BrokenStream(str(e)) from None
        finally:
            if silence is not None:
                silence.stop()
        if sse.pending:
            raise BrokenStream("the upstream stream ended in the middle of an event")

    def close(self) -> None:
        self.response.close()


class UsageSink(Protocol):
    """Where :func:`apply` keeps the upstream's last ``usage`` object (an :class:`UpstreamStream`)."""

    usage: dict[str, Any] | None


def apply(batch: list[dict[str, Any]], up: UsageSink, choices: Sequence[Any]) -> list[tuple[int, Any]]:
    """Feed a batch of upstream events to their choices; what each ``feed`` returned, in order."""
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
                raise BrokenStream(f"the upstream reported: {err}")
            continue
        for piece in pieces:
            index = piece.get("index", 0) if isinstance(piece, dict) else None
            if type(index) is not int or not 0 <= index < n:
                continue
            ch = choices[index]
            finish = piece.get("finish_reason")
            if finish:
                ch.upstream_finish = str(finish)
                stop = piece.get("stop_reason", piece.get("matched_stop"))  # SGLang: matched_stop
                if isinstance(stop, (str, int)) and not isinstance(stop, bool):
                    ch.upstream_stop = stop
            text = piece.get("text") or ""
            ids = piece.get("token_ids")
            try:
                got = ch.feed(text, ids if isinstance(ids, list) else None)
            except (TypeError, ValueError):
                raise BrokenStream(
                    "the upstream sent a piece whose text or token_ids are malformed"
                ) from None
            if got:
                out.append((index, got))
    return out


class SSEDecoder:
    """The ``data:`` events of a server-sent-event byte stream, however the bytes are cut.

    :meth:`feed` returns the JSON events completed by a piece; ``done`` turns true at ``data: [DONE]``.
    An event that is not JSON raises ``ValueError``.

    The usual read (nothing held back, the piece exactly one ``data: {...}`` event on one line) is parsed
    at once, without joining, splitting and scanning lines; it gives what the general path would.
    """

    def __init__(self) -> None:
        self._buf = b""
        self.done = False

    @property
    def pending(self) -> bool:
        """Bytes of an unfinished event are waiting."""
        return bool(self._buf.strip())

    def feed(self, data: bytes) -> list[dict[str, Any]]:
        if self.done:
            return []
        if (
            not self._buf
            and data.startswith(b"data: {")
            and data.find(b"\n") == len(data) - 2
            and data.endswith(b"}\n\n")
        ):
            try:
                return [orjson.loads(data[6:-2])]
            except orjson.JSONDecodeError:
                pass  # not JSON: the general path says so
        buf = self._buf + data
        if b"\r" in buf:
            buf = buf.replace(b"\r\n", b"\n")
            if buf.endswith(b"\r"):  # maybe the first half of a CRLF: wait for the next piece
                self._buf = buf
                return []
        if b"\n\n" not in buf:
            self._buf = buf
            return []
        *blocks, self._buf = buf.split(b"\n\n")
        out: list[dict[str, Any]] = []
        for block in blocks:
            for line in block.split(b"\n"):
                if not line.startswith(b"data:"):
                    continue
                payload = line[5:].strip()
                if payload == b"[DONE]":
                    self.done = True
                    self._buf = b""
                    return out
                try:
                    event = orjson.loads(payload)
                except orjson.JSONDecodeError:
                    raise ValueError(
                        f"the upstream sent an event that is not JSON: {payload[:80]!r}"
                    ) from None
                if not isinstance(event, dict):
                    raise ValueError(
                        f"the upstream sent an event that is not a JSON object: {payload[:80]!r}"
                    )
                out.append(event)
        return out
