"""A stand-in upstream engine: a real HTTP server speaking raw ``/v1/completions`` with Kimi K2 outputs.

Tests, benchmarks and fuzzers need an engine that answers like vLLM's OpenAI server without a GPU: this
one answers ``POST /v1/completions`` (SSE streaming and not, OpenAI's completion shapes with ``usage``,
``finish_reason`` and vLLM's ``stop_reason``, and ``token_ids`` when asked with ``return_token_ids``) and
``GET /v1/models``, with raw outputs chosen by a Python callable, sent token by token. It records every
request it gets, and has knobs for a delay per token, a delay before answering, an error status, and
dying mid-stream.

    with StandIn(lambda request: RAW_OUTPUT) as upstream:
        upstream.base_url               # "http://127.0.0.1:PORT/v1"
        ...                             # send requests
        upstream.prompts                # every prompt it got, in order

or from a shell: ``python -m kimi_toolparse.serve.standin --output fixtures/outputs/weather.txt``, which
answers a prompt that ends with tool results with a final answer quoting them
(:func:`answering_tool_results`), so a client's tool-call loop ends.

Like vLLM it treats ``<|im_end|>`` as the end-of-sequence token (generation ends there and the token is
not in the text), strips special tokens from the text unless the request sends
``"skip_special_tokens": false``, and puts a space around each special token unless it also sends
``"spaces_between_special_tokens": false``: so a gateway that forgets either is visibly wrong.
"""

from __future__ import annotations

import argparse
import asyncio
import codecs
import contextlib
import importlib
import itertools
import json
import re
import socket
import sys
import threading
import time
from collections.abc import Awaitable, Callable, Iterator, MutableMapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from ..cli_support import HelpFormatter
from ..extras import missing_extra
from ..tokens import IM_END, SPECIAL_IDS

__all__ = [
    "Piece",
    "RecordedRequest",
    "Reply",
    "Responder",
    "StandIn",
    "answering_tool_results",
    "build_parser",
    "main",
    "split_tokens",
    "tool_results",
]

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]

_EOS_ID = SPECIAL_IDS[IM_END]
_SPECIAL_RE = re.compile("|".join(re.escape(t) for t in sorted(SPECIAL_IDS, key=len, reverse=True)))
# Roughly BPE-sized pieces when no vocabulary is given: a word with its leading space, a run of
# punctuation, a run of digits (up to 3), or whitespace.
_WORD_RE = re.compile(r" ?[^\W\d_]+| ?\d{1,3}| ?[^\w\s]+|\s+(?!\S)|\s+|_+")
# The opening of the assistant's turn that ends a rendered prompt (then "<think>" on K2.5 and later), and a
# tool result: a system turn (named "tool", or after the tool) whose text starts with "## Return of ID".
_OPENING = "<|im_assistant|>assistant<|im_middle|>"
_SYSTEM, _MIDDLE, _THINK = "<|im_system|>", "<|im_middle|>", "<think>"
_RESULT_HEAD_RE = re.compile(r"## Return of [^\n]*\n")


@dataclass(frozen=True)
class Piece:
    """One decode step: its text and, optionally, the token ids behind it (one step may hold several)."""

    text: str
    ids: tuple[int, ...] | None = None


@dataclass(frozen=True)
class Reply:
    """A raw output with per-reply knobs; each ``None`` knob falls back to the stand-in's own."""

    output: str | Sequence[str | Piece]
    #: Finish reason to report instead of the computed one (``stop``/``length``).
    finish_reason: str | None = None
    #: Seconds to wait before each token.
    delay: float | None = None
    #: Answer with this HTTP status and an error body instead.
    status: int | None = None
    #: Send this many tokens, then drop the connection without ending the response.
    die_after: int | None = None


#: Request body (the parsed JSON) -> the raw output of one choice: text (cut into tokens by the stand-in),
#: a list of pieces (each one decode step), or a :class:`Reply`. Called once per choice (``n``).
Responder = Callable[[dict[str, Any]], "str | Sequence[str | Piece] | Reply"]


@dataclass(frozen=True)
class RecordedRequest:
    """One request the stand-in received."""

    method: str
    path: str
    headers: dict[str, str]
    #: The parsed JSON body (None when there was none or it was not JSON).
    body: Any
    received_at: float


class _Died(Exception):
    """Raised on purpose to make the server drop a connection mid-response."""


def split_tokens(text: str) -> list[str]:
    """Cut text into token-sized pieces without a vocabulary: each special token alone, words apart."""
    out: list[str] = []
    pos = 0
    for m in _SPECIAL_RE.finditer(text):
        if m.start() > pos:
            out.extend(_WORD_RE.findall(text, pos, m.start()))
        out.append(m.group())
        pos = m.end()
    if pos < len(text):
        out.extend(_WORD_RE.findall(text, pos))
    return out


def tool_results(prompt: str) -> list[str] | None:
    """The results of the tool turns that end a rendered prompt, just before the opening of the assistant's
    turn; None when the prompt's last turn is not a tool result (or it ends otherwise).

    Read backwards from the end, turn by turn, so a long conversation costs only its last turns."""
    end = len(prompt) - (len(_THINK) if prompt.endswith(_THINK) else 0)
    if not prompt.endswith(_OPENING, 0, end):
        return None
    pos = end - len(_OPENING)  # the end of the turn before the opening
    results: list[str] = []
    while prompt.endswith(IM_END, 0, pos):
        start = prompt.rfind(_SYSTEM, 0, pos)
        middle = prompt.find(_MIDDLE, start, pos) if start >= 0 else -1
        text_end = pos - len(IM_END)
        if middle < 0 or prompt.find(IM_END, start, text_end) >= 0:  # the last turn is not a system turn
            break
        head = _RESULT_HEAD_RE.match(prompt, middle + len(_MIDDLE), text_end)
        if head is None:
            break
        results.append(prompt[head.end() : text_end])
        pos = start
    return results[::-1] or None


def answering_tool_results(responder: Responder) -> Responder:
    """``responder``, except that a prompt ending with tool results gets a final answer quoting them.

    The answer closes the reasoning first when the prompt opened it (``<think>``: K2.5 and later), so a
    client sees it as content. Prompts given as token ids go to ``responder``."""

    def respond(request: dict[str, Any]) -> str | Sequence[str | Piece] | Reply:
        prompt = request.get("prompt")
        results = tool_results(prompt) if isinstance(prompt, str) else None
        if results is None:
            return responder(request)
        answer = "The tools returned: " + "; ".join(r.strip() for r in results)
        thinking = prompt.endswith("<think>") if isinstance(prompt, str) else False
        return ("The tool results are in.</think>" if thinking else "") + answer + IM_END

    return respond


@dataclass
class _Choice:
    index: int
    pieces: list[Piece]
    finish_reason: str
    stop_reason: str | int | None
    delay: float
    die_after: int | None


@dataclass
class StandIn:
    """A stand-in ``/v1/completions`` server; start it with ``with StandIn(...) as s`` or :meth:`start`.

    Knobs are plain attributes, read at each request, so a test may change them between requests.
    """

    responder: Responder | None = None
    #: The model name it serves (``/v1/models``) and accepts (any name is accepted when None).
    model: str = "kimi-k2-standin"
    #: A :class:`kimi_toolparse.KimiVocabulary` to cut text into real tokens and return real token ids;
    #: without one text is cut by :func:`split_tokens` and only special tokens have ids (so
    #: ``return_token_ids`` gets no ``token_ids``, as from an engine that cannot return them).
    vocabulary: Any = None
    #: Seconds before each token, and before the response starts.
    delay: float = 0.0
    first_delay: float = 0.0
    #: Answer every completion with this status and a vLLM-style error body.
    error_status: int | None = None
    #: Send this many tokens of each response, then drop the connection.
    die_after: int | None = None
    #: End generation at ``<|im_end|>`` (the model's end-of-sequence token), as engines do.
    eos: bool = True
    #: Require ``Authorization: Bearer <api_key>`` when set.
    api_key: str | None = None
    host: str = "127.0.0.1"
    port: int = 0
    #: Keep every request in :attr:`requests` (turn off for long benchmark runs).
    record: bool = True
    #: Every request received, in order.
    requests: list[RecordedRequest] = field(default_factory=list)

    #: Streams whose client went away before the end (a gateway cancelling its upstream request).
    disconnects: int = field(default=0, init=False)
    #: Streams being sent now.
    active_streams: int = field(default=0, init=False)

    _server: Any = field(default=None, init=False, repr=False)
    _thread: threading.Thread | None = field(default=None, init=False, repr=False)
    _ids: Iterator[int] = field(default_factory=itertools.count, init=False, repr=False)

    # ---- running it -------------------------------------------------------------------------------

    @property
    def base_url(self) -> str:
        """``http://HOST:PORT/v1`` once started."""
        if self._server is None:
            raise RuntimeError("the stand-in is not running: use 'with StandIn(...) as s' or s.start()")
        return f"http://{self.host}:{self.port}/v1"

    @property
    def prompts(self) -> list[Any]:
        """The ``prompt`` of every completion request received, in order."""
        return [
            r.body.get("prompt")
            for r in self.requests
            if r.path.endswith("/completions") and isinstance(r.body, dict)
        ]

    def start(self, *, log_level: str = "critical") -> StandIn:
        """Serve in a background thread on a loopback port (a free one when ``port`` is 0)."""
        import uvicorn

        if self._server is not None:
            raise RuntimeError("the stand-in is already running")
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((self.host, self.port))
        self.port = sock.getsockname()[1]
        config = uvicorn.Config(
            self, log_level=log_level, access_log=False, lifespan="off", backlog=2048, timeout_keep_alive=30
        )
        server = uvicorn.Server(config)
        self._server = server
        self._thread = threading.Thread(
            target=server.run, kwargs={"sockets": [sock]}, name="kimi-standin", daemon=True
        )
        self._thread.start()
        deadline = time.monotonic() + 10
        while not server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                self._server = None
                raise RuntimeError("the stand-in server did not start")
            time.sleep(0.005)
        return self

    def stop(self) -> None:
        """Stop serving (open streams are cut) and wait for the thread."""
        server, thread = self._server, self._thread
        if server is None or thread is None:
            return
        server.should_exit = True
        server.force_exit = True
        thread.join(10)
        self._server = None
        self._thread = None

    def __enter__(self) -> StandIn:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # ---- the ASGI app -----------------------------------------------------------------------------

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        raw = b""
        more = True
        while more:
            message = await receive()
            raw += message.get("body", b"")
            more = message.get("more_body", False)
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        body: Any = None
        if raw:
            try:
                body = json.loads(raw)
            except ValueError:
                body = None
        path: str = scope["path"]
        method: str = scope["method"]
        if self.record:
            self.requests.append(RecordedRequest(method, path, headers, body, time.time()))

        if self.api_key is not None and headers.get("authorization") != f"Bearer {self.api_key}":
            await _send_json(send, 401, _error("invalid API key", "AuthenticationError", 401))
        elif path == "/health" and method == "GET":
            await _send_json(send, 200, {})
        elif path == "/v1/models" and method == "GET":
            await _send_json(send, 200, self._models())
        elif path == "/v1/completions" and method == "POST":
            await self._completions(body, receive, send)
        elif path in ("/v1/models", "/v1/completions", "/health"):
            await _send_json(send, 405, _error("method not allowed", "BadRequestError", 405))
        else:
            await _send_json(send, 404, _error(f"no route {path}", "NotFoundError", 404))

    def _models(self) -> dict[str, Any]:
        return {
            "object": "list",
            "data": [
                {
                    "id": self.model,
                    "object": "model",
                    "created": 0,
                    "owned_by": "kimi_toolparse-standin",
                    "root": self.model,
                    "parent": None,
                    "max_model_len": 262144,
                }
            ],
        }

    async def _completions(self, body: Any, receive: Receive, send: Send) -> None:
        if self.first_delay:
            await asyncio.sleep(self.first_delay)
        if self.error_status is not None:
            status = self.error_status
            await _send_json(send, status, _error(f"stand-in error {status}", "InternalServerError", status))
            return
        problem = _check_request(body, self.model)
        if problem:
            await _send_json(send, 400, _error(problem, "BadRequestError", 400))
            return
        choices: list[_Choice] = []
        for index in range(int(body.get("n") or 1)):
            reply = self._reply(body)
            if reply.status is not None:
                await _send_json(
                    send, reply.status, _error(f"stand-in error {reply.status}", "InternalServerError", 400)
                )
                return
            choices.append(self._choice(index, reply, body))
        prompt_ids = self._prompt_ids(body["prompt"])
        usage = {
            "prompt_tokens": len(prompt_ids) if prompt_ids is not None else len(split_tokens(body["prompt"])),
            "completion_tokens": sum(_count(c.pieces) for c in choices),
        }
        usage["total_tokens"] = usage["prompt_tokens"] + usage["completion_tokens"]
        with_ids = bool(body.get("return_token_ids")) and all(
            p.ids is not None for c in choices for p in c.pieces
        )
        head = {
            "id": f"cmpl-standin-{next(self._ids)}",
            "object": "text_completion",
            "created": int(time.time()),
            "model": body.get("model") or self.model,
        }
        if body.get("stream"):
            gone = asyncio.ensure_future(receive())
            self.active_streams += 1
            try:
                await self._stream(send, head, choices, usage, body, with_ids, prompt_ids, gone)
            finally:
                self.active_streams -= 1
                gone.cancel()
        else:
            await self._whole(send, head, choices, usage, with_ids, prompt_ids)

    def _reply(self, body: dict[str, Any]) -> Reply:
        out = self.responder(body) if self.responder is not None else ""
        return out if isinstance(out, Reply) else Reply(out)

    def _prompt_ids(self, prompt: Any) -> list[int] | None:
        if isinstance(prompt, list):
            return list(prompt)
        if self.vocabulary is not None:
            ids: list[int] = self.vocabulary.encode(prompt)
            return ids
        return None

    def _pieces(self, output: str | Sequence[str | Piece]) -> list[Piece]:
        if isinstance(output, str):
            if self.vocabulary is not None:
                return self._vocab_pieces(self.vocabulary.encode(output))
            return [Piece(t, (SPECIAL_IDS[t],) if t in SPECIAL_IDS else None) for t in split_tokens(output)]
        pieces: list[Piece] = []
        for p in output:
            if isinstance(p, Piece):
                pieces.append(p)
            elif p in SPECIAL_IDS:
                pieces.append(Piece(p, (SPECIAL_IDS[p],)))
            elif self.vocabulary is not None:
                pieces.append(Piece(p, tuple(self.vocabulary.encode(p, allowed_special=()))))
            else:
                pieces.append(Piece(p))
        return pieces

    def _vocab_pieces(self, ids: list[int]) -> list[Piece]:
        """One piece per token id, text decoded incrementally (a character split over ids comes whole)."""
        decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        return [Piece(decoder.decode(self.vocabulary.token_bytes(i)), (i,)) for i in ids]

    def _choice(self, index: int, reply: Reply, body: dict[str, Any]) -> _Choice:
        """Apply what the engine would: end-of-sequence, max_tokens, stop strings, special-token text."""
        pieces = self._pieces(reply.output)
        keep_special = body.get("skip_special_tokens") is False
        spaces = body.get("spaces_between_special_tokens") is not False
        max_tokens = body.get("max_tokens")
        stops = body.get("stop") or []
        if isinstance(stops, str):
            stops = [stops]
        stop_ids = set(body.get("stop_token_ids") or [])
        out: list[Piece] = []
        text = ""
        count = 0
        finish: str = "stop"
        stop_reason: str | int | None = None
        previous_special = False
        for piece in pieces:
            ids = piece.ids or ()
            if self.eos and (_EOS_ID in ids or (not ids and piece.text == IM_END)):
                break
            hit = next((i for i in ids if i in stop_ids), None)
            if hit is not None:
                stop_reason = hit
                break
            n = len(ids) if ids else 1
            if max_tokens is not None and count + n > max_tokens:
                finish = "length"
                break
            count += n
            is_special = piece.text in SPECIAL_IDS
            shown = piece.text
            if is_special and not keep_special:
                shown = ""
            elif keep_special and spaces and (is_special or previous_special) and (text or out):
                shown = " " + shown
            previous_special = is_special
            cut = _find_stop(text, shown, stops)
            if cut is not None:
                at, stop = cut
                out.append(Piece(shown[:at], piece.ids))
                finish, stop_reason = "stop", stop
                break
            text += shown
            out.append(Piece(shown, piece.ids))
        if reply.finish_reason is not None:
            finish = reply.finish_reason
        delay = self.delay if reply.delay is None else reply.delay
        die = self.die_after if reply.die_after is None else reply.die_after
        return _Choice(index, out, finish, stop_reason, delay, die)

    async def _whole(
        self,
        send: Send,
        head: dict[str, Any],
        choices: list[_Choice],
        usage: dict[str, int],
        with_ids: bool,
        prompt_ids: list[int] | None,
    ) -> None:
        delay = max(c.delay for c in choices)
        if delay:
            await asyncio.sleep(delay * max(len(c.pieces) for c in choices))
        body = {
            **head,
            "choices": [
                {
                    "index": c.index,
                    "text": "".join(p.text for p in c.pieces),
                    "logprobs": None,
                    "finish_reason": c.finish_reason,
                    "stop_reason": c.stop_reason,
                    **({"prompt_token_ids": prompt_ids, "token_ids": _ids(c.pieces)} if with_ids else {}),
                }
                for c in choices
            ],
            "usage": usage,
        }
        data = json.dumps(body).encode()
        die = min((c.die_after for c in choices if c.die_after is not None), default=None)
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(data)).encode()),
                ],
            }
        )
        if die is not None:
            await send({"type": "http.response.body", "body": data[: len(data) // 2], "more_body": True})
            raise _Died("the stand-in was told to die mid-response")
        await send({"type": "http.response.body", "body": data})

    async def _stream(
        self,
        send: Send,
        head: dict[str, Any],
        choices: list[_Choice],
        usage: dict[str, int],
        body: dict[str, Any],
        with_ids: bool,
        prompt_ids: list[int] | None,
        gone: asyncio.Future[Message],
    ) -> None:
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [(b"content-type", b"text/event-stream"), (b"cache-control", b"no-cache")],
            }
        )
        opts = body.get("stream_options") or {}
        first = True
        for step in range(max(max(len(c.pieces) for c in choices), 1)):
            for c in choices:
                if step >= max(len(c.pieces), 1):
                    continue
                if c.die_after is not None and step >= c.die_after:
                    raise _Died("the stand-in was told to die mid-stream")
                if c.delay:
                    await asyncio.sleep(c.delay)
                if gone.done():
                    self.disconnects += 1
                    return
                piece = c.pieces[step] if c.pieces else Piece("", ())
                last = step >= len(c.pieces) - 1
                choice: dict[str, Any] = {
                    "index": c.index,
                    "text": piece.text,
                    "logprobs": None,
                    "finish_reason": c.finish_reason if last else None,
                    "stop_reason": c.stop_reason if last else None,
                }
                if with_ids:
                    choice["token_ids"] = list(piece.ids or ())
                    if first:
                        choice["prompt_token_ids"] = prompt_ids
                first = False
                chunk = {**head, "choices": [choice]}
                if opts.get("include_usage"):
                    chunk["usage"] = None
                await send(_event(chunk))
        if opts.get("include_usage"):
            await send(_event({**head, "choices": [], "usage": usage}))
        await send({"type": "http.response.body", "body": b"data: [DONE]\n\n", "more_body": False})


def _event(obj: Any) -> Message:
    return {
        "type": "http.response.body",
        "body": b"data: " + json.dumps(obj).encode() + b"\n\n",
        "more_body": True,
    }


def _ids(pieces: list[Piece]) -> list[int]:
    return [i for p in pieces for i in (p.ids or ())]


def _count(pieces: list[Piece]) -> int:
    return sum(len(p.ids) if p.ids else 1 for p in pieces)


def _find_stop(before: str, new: str, stops: Sequence[str]) -> tuple[int, str] | None:
    """Where in ``new`` the first stop string that ends in it starts (clamped to 0), if any."""
    if not stops or not new:
        return None
    span = max(len(s) for s in stops)
    window = before[-span:] + new
    best: tuple[int, str] | None = None
    for s in stops:
        i = window.find(s)
        if i >= 0 and (best is None or i < best[0]):
            best = (i, s)
    if best is None:
        return None
    return max(best[0] - (len(window) - len(new)), 0), best[1]


def _check_request(body: Any, model: str) -> str | None:
    if not isinstance(body, dict):
        return "the request body must be a JSON object"
    prompt = body.get("prompt")
    if isinstance(prompt, list) and len(prompt) == 1 and isinstance(prompt[0], str):
        body["prompt"] = prompt = prompt[0]
    if not isinstance(prompt, str) and not (
        isinstance(prompt, list) and all(isinstance(i, int) for i in prompt)
    ):
        return "prompt must be a string or a list of token ids"
    n = body.get("n", 1)
    if n is not None and (not isinstance(n, int) or n < 1):
        return "n must be a positive integer"
    mt = body.get("max_tokens")
    if mt is not None and (not isinstance(mt, int) or mt < 0):
        return "max_tokens must be a non-negative integer"
    return None


def _error(message: str, type_: str, code: int) -> dict[str, Any]:
    """vLLM's error body."""
    return {"object": "error", "message": message, "type": type_, "param": None, "code": code}


async def _send_json(send: Send, status: int, obj: Any) -> None:
    data = json.dumps(obj).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(data)).encode())],
        }
    )
    await send({"type": "http.response.body", "body": data})


def _load_responder(spec: str) -> Responder:
    module, _, name = spec.partition(":")
    if not name:
        raise ValueError(f"--responder wants MODULE:FUNCTION, not {spec!r}")
    fn: Responder = getattr(importlib.import_module(module), name)
    return fn


def build_parser() -> argparse.ArgumentParser:
    """The command line of ``python -m kimi_toolparse.serve.standin``."""
    ap = argparse.ArgumentParser(
        prog="python -m kimi_toolparse.serve.standin",
        formatter_class=HelpFormatter,
        description="A stand-in /v1/completions engine answering with raw Kimi K2 outputs.",
    )
    src = ap.add_mutually_exclusive_group(required=True)
    src.add_argument("--output", metavar="FILE", help="answer every request with this raw output")
    src.add_argument("--responder", metavar="MODULE:FUNCTION", help="a Python callable: request -> output")
    ap.add_argument(
        "--no-final-answer",
        dest="final_answer",
        action="store_false",
        help="with --output: answer prompts that end with tool results with the file too (by default they "
        "get a final answer quoting the results, so a tool-call loop ends; a --responder decides itself)",
    )
    ap.add_argument("--host", default="127.0.0.1", help="address to listen on")
    ap.add_argument("--port", type=int, default=0, help="0 picks a free port (printed on stdout)")
    ap.add_argument("--model", default="kimi-k2-standin", help="the model name it serves")
    ap.add_argument(
        "--vocab",
        metavar="PATH",
        nargs="?",
        const="",
        help="real tokens and ids from a Kimi model directory or its tiktoken.model (without PATH: the "
        "vocabulary that ships with the package; needs tiktoken); without --vocab: word-sized pieces, no ids",
    )
    ap.add_argument("--delay", type=float, default=0.0, help="seconds before each token")
    ap.add_argument("--first-delay", type=float, default=0.0, help="seconds before answering")
    ap.add_argument("--error-status", type=int, help="answer every completion with this status")
    ap.add_argument("--die-after", type=int, help="drop each response after this many tokens")
    ap.add_argument("--api-key", help="require this bearer token")
    ap.add_argument("--log-level", default="warning", help="uvicorn's log level")
    return ap


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m kimi_toolparse.serve.standin``: serve one raw output (or a responder) until stopped."""
    args = build_parser().parse_args(argv)
    try:
        import uvicorn  # noqa: F401 (the server needs it: say so before anything else)
    except ImportError as e:
        print(f"standin: {missing_extra('the stand-in', e.name or 'uvicorn')}", file=sys.stderr)
        return 2
    try:
        if args.output:
            with open(args.output, encoding="utf-8") as f:
                text = f.read()
            responder: Responder = lambda request: text  # noqa: E731
            if args.final_answer:
                responder = answering_tool_results(responder)
        else:  # a responder decides for itself what a prompt ending in tool results gets
            responder = _load_responder(args.responder)
        vocabulary = None
        if args.vocab is not None:
            from ..vocab import load_vocabulary

            vocabulary = load_vocabulary(args.vocab or None)
            vocabulary.tiktoken_encoding  # noqa: B018 (fails now, not at the first request, without tiktoken)
    except (OSError, ValueError, ImportError, AttributeError) as e:
        print(f"standin: {e}", file=sys.stderr)
        return 2
    standin = StandIn(
        responder,
        model=args.model,
        vocabulary=vocabulary,
        delay=args.delay,
        first_delay=args.first_delay,
        error_status=args.error_status,
        die_after=args.die_after,
        api_key=args.api_key,
        host=args.host,
        port=args.port,
    )
    standin.start(log_level=args.log_level)
    print(standin.base_url, flush=True)
    with contextlib.suppress(KeyboardInterrupt):
        assert standin._thread is not None
        while standin._thread.is_alive():
            standin._thread.join(0.5)
    standin.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
