"""``kimi-toolparse verify``: send K2VV-style requests to a live OpenAI-compatible endpoint and write a K2VV
results file as answers arrive (bounded concurrency, retries, timeout; a rerun skips what is done).

Each results line is K2VV's: ``data_index`` (the request's line number), the ``request`` as sent, the
``response`` (a ``chat.completion``; a streamed answer is accumulated into one), ``status``
(``success``/``failed``), ``finish_reason``, ``tool_calls_valid``, ``last_run_at``, ``duration_ms`` and
``hash`` (of the request as sent: a rerun skips a line whose ``data_index`` and ``hash`` are done, so other
settings or an edited requests file are not mistaken for done). Needs the
``verify`` extra (httpx).
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import random
import re
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, TextIO

from kimi_toolparse import Tools

from ..extras import missing_extra
from .progress import Progress

__all__ = [
    "VerifyError",
    "VerifySettings",
    "VerifyStats",
    "error_kind",
    "load_requests",
    "request_hash",
    "run_verify",
]

#: Statuses worth another try: rate limits and server-side failures.
RETRY_STATUS = frozenset({408, 409, 425, 429, 500, 502, 503, 504})


class VerifyError(Exception):
    """A problem that stops the run before it starts (unreachable endpoint, unreadable files)."""


@dataclass
class VerifySettings:
    base_url: str
    requests: str
    out: str
    model: str | None = None
    api_key: str | None = None
    concurrency: int = 5
    timeout: float = 600.0
    retries: int = 3
    backoff: float = 0.5


@dataclass
class VerifyStats:
    total: int = 0
    skipped: int = 0
    sent: int = 0
    succeeded: int = 0
    failed: int = 0
    retried: int = 0
    malformed: list[tuple[int, str]] = field(default_factory=list)
    #: The failures by kind (``HTTP 404 model_not_found``, ``ReadTimeout``, ...): how many, and the first
    #: one's line number and error, in the order the kinds were first met.
    errors: dict[str, tuple[int, int, str]] = field(default_factory=dict)

    def add_error(self, number: int, error: str) -> None:
        kind = error_kind(error)
        count, first, text = self.errors.get(kind, (0, number, error))
        self.errors[kind] = (count + 1, first, text)

    @property
    def judged(self) -> int:
        """Answers in the results file that can be judged: answered now, or done by an earlier run."""
        return self.succeeded + self.skipped


_HTTP_STATUS = re.compile(r"HTTP (\d{3}): ")


def error_kind(error: str) -> str:
    """What kind of failure an error is: ``HTTP 404 model_not_found`` (the status, and the error body's
    ``code`` or ``type`` when it has one), an exception's name, or the words before the first colon."""
    m = _HTTP_STATUS.match(error)
    if m is None:
        return error.split(":", 1)[0].strip() or "error"
    kind = f"HTTP {m.group(1)}"
    try:
        body = json.loads(error[m.end() :])
        detail = body["error"] if isinstance(body.get("error"), dict) else body
        names = [detail.get("code"), detail.get("type")]
    except (ValueError, TypeError, AttributeError, KeyError):
        return kind
    name = next((n for n in names if isinstance(n, str) and n), None)
    return f"{kind} {name}" if name else kind


def prepare(request: Mapping[str, Any], model: str | None) -> dict[str, Any]:
    """The request as sent: K2VV's ``_input`` role becomes ``system``; ``--model`` replaces the model."""
    req: dict[str, Any] = json.loads(json.dumps(request))
    for message in req.get("messages") or []:
        if isinstance(message, dict) and message.get("role") == "_input":
            message["role"] = "system"
    if model:
        req["model"] = model
    return req


def request_hash(request: Mapping[str, Any]) -> str:
    """md5 of the request as sent, keys sorted (K2VV's resume key)."""
    return hashlib.md5(json.dumps(request, sort_keys=True, ensure_ascii=False).encode("utf-8")).hexdigest()


def load_requests(
    path: str, model: str | None
) -> tuple[list[tuple[int, dict[str, Any]]], list[tuple[int, str]]]:
    """(line number, prepared request) for every good line, and (line number, error) for the others."""
    good: list[tuple[int, dict[str, Any]]] = []
    bad: list[tuple[int, str]] = []
    try:
        with open(path, encoding="utf-8") as f:
            lines = f.readlines()
    except OSError as e:
        raise VerifyError(f"cannot read {path}: {e.strerror or e}") from None
    except UnicodeDecodeError:
        raise VerifyError(f"{path} is not UTF-8 text") from None
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
            if not isinstance(row, dict):
                raise ValueError("not a JSON object")
            if isinstance(row.get("request"), dict) and "messages" not in row:
                row = row["request"]  # a results line: send its request again
            if not isinstance(row.get("messages"), list):
                raise ValueError("no 'messages' list")
            good.append((number, prepare(row, model)))
        except ValueError as e:
            bad.append((number, " ".join(str(e).split())[:200]))
    return good, bad


def _done(path: str) -> dict[tuple[Any, str], dict[str, Any]]:
    """The successful results already in the output file, by (data_index, hash); a torn line is ignored.

    Both keys matter: K2VV repeats identical requests to sample the model, so a hash alone is not a request.
    """
    done: dict[tuple[Any, str], dict[str, Any]] = {}
    if not os.path.exists(path):
        return done
    with open(path, encoding="utf-8") as f:
        for line in f:
            try:
                row = json.loads(line)
            except ValueError:
                continue
            if isinstance(row, dict) and row.get("status") == "success" and isinstance(row.get("hash"), str):
                done[(row.get("data_index"), row["hash"])] = row
    return done


def _accumulate_stream(lines: list[str], request: Mapping[str, Any]) -> dict[str, Any]:
    """A ``chat.completion`` from the ``data:`` lines of a streamed answer."""
    content: list[str] = []
    reasoning: list[str] = []
    calls: dict[int, dict[str, Any]] = {}
    finish: str | None = None
    meta: dict[str, Any] = {}
    usage = None
    for line in lines:
        if not line.startswith("data:"):
            continue
        data = line[5:].strip()
        if data == "[DONE]":
            break
        chunk = json.loads(data)
        if not isinstance(chunk, dict):
            continue
        if isinstance(chunk.get("error"), (dict, str)):
            raise _StreamError(json.dumps(chunk["error"], ensure_ascii=False))
        for key in ("id", "created", "model"):
            if chunk.get(key) is not None:
                meta[key] = chunk[key]
        if chunk.get("usage"):
            usage = chunk["usage"]
        for choice in chunk.get("choices") or []:
            delta = choice.get("delta") or {}
            if isinstance(delta.get("content"), str):
                content.append(delta["content"])
            if isinstance(delta.get("reasoning_content"), str):
                reasoning.append(delta["reasoning_content"])
            for tc in delta.get("tool_calls") or []:
                idx = tc.get("index", 0)
                slot = calls.setdefault(
                    idx, {"id": None, "type": "function", "function": {"name": "", "arguments": ""}}
                )
                if tc.get("id"):
                    slot["id"] = tc["id"]
                fn = tc.get("function") or {}
                if fn.get("name"):
                    slot["function"]["name"] = fn["name"]
                if isinstance(fn.get("arguments"), str):
                    slot["function"]["arguments"] += fn["arguments"]
            if choice.get("finish_reason"):
                finish = choice["finish_reason"]
    message: dict[str, Any] = {"role": "assistant", "content": "".join(content)}
    if reasoning:
        message["reasoning_content"] = "".join(reasoning)
    message["tool_calls"] = [calls[i] for i in sorted(calls)] or None
    return {
        "id": meta.get("id"),
        "object": "chat.completion",
        "created": meta.get("created"),
        "model": meta.get("model", request.get("model", "")),
        "choices": [{"index": 0, "message": message, "finish_reason": finish or "stop"}],
        "usage": usage,
    }


class _StreamError(Exception):
    pass


class _Retryable(Exception):
    pass


def _tool_calls_valid(request: Mapping[str, Any], response: Mapping[str, Any]) -> bool | None:
    """K2VV's per-response verdict: None unless it ends in tool calls; else every call valid."""
    choices = response.get("choices") or []
    if not choices or choices[0].get("finish_reason") != "tool_calls":
        return None
    calls = (choices[0].get("message") or {}).get("tool_calls") or []
    if not calls:
        return None
    try:
        tools = Tools(request.get("tools") or [])
    except (TypeError, ValueError):
        return False
    for call in calls:
        fn = call.get("function") or {}
        args = fn.get("arguments")
        try:
            ok, value = True, json.loads(args) if isinstance(args, str) else args
        except (ValueError, RecursionError):
            ok, value = False, None
        if tools.check_call(fn.get("name") or None, ok, value):
            return False
    return True


async def _send(
    client: Any, url: str, request: dict[str, Any], settings: VerifySettings, stats: VerifyStats
) -> tuple[str, dict[str, Any]]:
    """POST with retries; (status, response or {"error": ...})."""
    import httpx

    last = ""
    for attempt in range(settings.retries + 1):
        if attempt:
            stats.retried += 1
            await asyncio.sleep(settings.backoff * (2 ** (attempt - 1)) * (0.5 + random.random()))
        try:
            if request.get("stream"):
                async with client.stream("POST", url, json=request) as r:
                    if r.status_code != 200:
                        body = (await r.aread()).decode("utf-8", "replace")
                        last = f"HTTP {r.status_code}: {body[:500]}"
                        if r.status_code in RETRY_STATUS:
                            continue
                        return "failed", {"error": last}
                    lines = [line async for line in r.aiter_lines()]
                return "success", _accumulate_stream(lines, request)
            r = await client.post(url, json=request)
            if r.status_code != 200:
                last = f"HTTP {r.status_code}: {r.text[:500]}"
                if r.status_code in RETRY_STATUS:
                    continue
                return "failed", {"error": last}
            body = r.json()
            if not isinstance(body, dict) or not isinstance(body.get("choices"), list):
                return "failed", {"error": f"not a chat.completion: {r.text[:300]}"}
            return "success", body
        except (httpx.TimeoutException, httpx.TransportError) as e:
            last = f"{type(e).__name__}: {e}" if str(e) else type(e).__name__
        except (ValueError, _StreamError) as e:
            last = f"bad answer: {' '.join(str(e).split())[:300]}"
            return "failed", {"error": last}
    return "failed", {"error": last}


async def _preflight(client: Any, base_url: str) -> None:
    """Any HTTP answer from the server will do; no answer at all stops the run with one clear line."""
    import httpx

    try:
        await client.get(base_url.rstrip("/") + "/models")
    except (httpx.TimeoutException, httpx.TransportError) as e:
        raise VerifyError(f"cannot reach {base_url}: {type(e).__name__} {e}".strip()) from None


async def _run(settings: VerifySettings, progress_to: TextIO | None) -> VerifyStats:
    import httpx

    requests, malformed = load_requests(settings.requests, settings.model)
    stats = VerifyStats(total=len(requests), malformed=malformed)
    done = _done(settings.out)
    kept: dict[int, dict[str, Any]] = {}
    todo: list[tuple[int, dict[str, Any], str]] = []
    for number, request in requests:
        h = request_hash(request)
        if (number, h) in done:
            stats.skipped += 1
            kept[number] = done[(number, h)]
        else:
            todo.append((number, request, h))
    headers = {"Authorization": f"Bearer {settings.api_key}"} if settings.api_key else {}
    url = settings.base_url.rstrip("/") + "/chat/completions"
    limits = httpx.Limits(
        max_connections=settings.concurrency, max_keepalive_connections=settings.concurrency
    )
    progress = Progress("verify", progress_to, total=len(todo))
    out_dir = os.path.dirname(os.path.abspath(settings.out))
    os.makedirs(out_dir, exist_ok=True)
    async with httpx.AsyncClient(headers=headers, timeout=settings.timeout, limits=limits) as client:
        if todo:
            await _preflight(client, settings.base_url)
        sem = asyncio.Semaphore(settings.concurrency)
        lock = asyncio.Lock()
        with open(settings.out, "a", encoding="utf-8") as out:

            async def one(number: int, request: dict[str, Any], h: str) -> None:
                async with sem:
                    start = time.monotonic()
                    stats.sent += 1
                    status, response = await _send(client, url, request, settings, stats)
                    ms = int((time.monotonic() - start) * 1000)
                choices = response.get("choices") if status == "success" else None
                finish = choices[0].get("finish_reason") if choices else None
                row = {
                    "data_index": number,
                    "request": request,
                    "response": response,
                    "status": status,
                    "finish_reason": finish,
                    "tool_calls_valid": _tool_calls_valid(request, response) if status == "success" else None,
                    "last_run_at": datetime.now().isoformat(),
                    "duration_ms": ms,
                    "hash": h,
                }
                async with lock:
                    out.write(json.dumps(row, ensure_ascii=False) + "\n")
                    out.flush()
                    kept[number] = row
                    if status == "success":
                        stats.succeeded += 1
                    else:
                        stats.failed += 1
                        stats.add_error(number, str(response.get("error")))
                    progress.extra = f"failed {stats.failed}, retried {stats.retried}"
                    progress.step(stats.succeeded + stats.failed)

            await asyncio.gather(*(one(*t) for t in todo))
    if todo:
        progress.done()
    # The final file: one line per request, newest answer, in request order (written whole, then renamed).
    tmp = settings.out + ".tmp"
    with open(tmp, "w", encoding="utf-8") as f:
        for number in sorted(kept):
            f.write(json.dumps(kept[number], ensure_ascii=False) + "\n")
    os.replace(tmp, settings.out)
    return stats


def run_verify(settings: VerifySettings, progress_to: TextIO | None = None) -> VerifyStats:
    """Run the whole verification; raises :class:`VerifyError` for problems that stop it before it starts."""
    if settings.concurrency < 1:
        raise VerifyError("--concurrency must be at least 1")
    if settings.retries < 0:
        raise VerifyError("--retries must be 0 or more")
    if settings.timeout <= 0:
        raise VerifyError("--timeout must be positive")
    try:
        import httpx  # noqa: F401
    except ImportError:
        raise VerifyError(str(missing_extra("verify", "httpx"))) from None
    return asyncio.run(_run(settings, progress_to))
