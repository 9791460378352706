"""A stand-in OpenAI-compatible chat endpoint for the ``verify`` tests, run as its own process on 127.0.0.1.

    python testsupport/standin_openai.py [--replay RESULTS.jsonl]

Prints ``PORT <n>`` once it listens. What it answers depends on a tag in the last user message:

- ``[good]`` a valid ``get_weather`` call; ``[stop]`` plain text;
- ``[unknown-tool]``, ``[cut-json]``, ``[wrong-type]`` a broken call;
- ``[flaky]`` HTTP 500 the first time a given request is seen, then a valid call;
- ``[rate-limited]`` always HTTP 429; ``[bad-request]`` always HTTP 400;
- ``[slow]`` a valid call after 0.3 s.

Requests with ``"stream": true`` are answered as server-sent events, the arguments in several pieces.
With ``--replay``, a request whose messages match results lines gets one of their recorded responses,
each used once (K2VV repeats conversations: which request gets which depends on arrival order, the counts
do not).
``GET /stats`` returns the most requests ever in flight at once, the hits per tag and the Authorization
headers seen.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import json
import re
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

LOCK = threading.Lock()
STATE: dict[str, Any] = {"in_flight": 0, "max_in_flight": 0, "hits": {}, "seen": set(), "auth": set()}
REPLAY: dict[str, list[Any]] = {}
TAG = re.compile(r"\[([a-z-]+)\]")


def messages_key(messages: Any) -> str:
    return hashlib.md5(json.dumps(messages, sort_keys=True, ensure_ascii=False).encode()).hexdigest()


def call(name: str, arguments: str) -> dict[str, Any]:
    return {
        "id": f"functions.{name}:0",
        "type": "function",
        "function": {"name": name, "arguments": arguments},
    }


def completion(message: dict[str, Any], finish: str) -> dict[str, Any]:
    return {
        "id": "chatcmpl-standin",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": "standin",
        "choices": [{"index": 0, "message": message, "finish_reason": finish}],
        "usage": None,
    }


def answer_for(tag: str) -> tuple[int, dict[str, Any]]:
    good = {"role": "assistant", "content": "", "tool_calls": [call("get_weather", '{"city": "Rome"}')]}
    if tag in ("good", "slow", "flaky"):
        return 200, completion(good, "tool_calls")
    if tag == "stop":
        return 200, completion({"role": "assistant", "content": "It is sunny."}, "stop")
    broken = {
        "unknown-tool": call("get_wether", '{"city": "Rome"}'),
        "cut-json": call("get_weather", '{"city": "Ro'),
        "wrong-type": call("get_weather", '{"city": 42}'),
    }
    if tag in broken:
        return 200, completion(
            {"role": "assistant", "content": "", "tool_calls": [broken[tag]]}, "tool_calls"
        )
    if tag == "rate-limited":
        return 429, {"error": {"message": "slow down", "type": "rate_limit", "param": None, "code": 429}}
    return 400, {
        "error": {"message": "bad request", "type": "invalid_request_error", "param": None, "code": None}
    }


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def _json(self, status: int, body: Any) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self) -> None:
        if self.path.endswith("/stats"):
            with LOCK:
                stats = {
                    "max_in_flight": STATE["max_in_flight"],
                    "hits": STATE["hits"],
                    "auth": sorted(STATE["auth"]),
                }
                self._json(200, stats)
        elif self.path.endswith("/models"):
            self._json(200, {"object": "list", "data": [{"id": "standin", "object": "model"}]})
        else:
            self._json(
                404, {"error": {"message": "not found", "type": "not_found", "param": None, "code": None}}
            )

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length", "0"))
        request = json.loads(self.rfile.read(length))
        with LOCK:
            STATE["auth"].add(self.headers.get("Authorization", ""))
            STATE["in_flight"] += 1
            STATE["max_in_flight"] = max(STATE["max_in_flight"], STATE["in_flight"])
        try:
            self._answer(request)
        finally:
            with LOCK:
                STATE["in_flight"] -= 1

    def _answer(self, request: dict[str, Any]) -> None:
        messages = request.get("messages") or []
        key = messages_key(messages)
        with LOCK:
            recorded = REPLAY[key].pop(0) if REPLAY.get(key) else None
        if recorded is not None:
            status, body = 200, recorded
            tag = "replay"
        else:
            text = ""
            for m in messages:
                if m.get("role") == "user" and isinstance(m.get("content"), str):
                    text = m["content"]
            found = TAG.search(text)
            tag = found.group(1) if found else "stop"
            time.sleep(0.3 if tag == "slow" else 0.05)
            status, body = answer_for(tag)
            with LOCK:
                first = key not in STATE["seen"]
                STATE["seen"].add(key)
            if tag == "flaky" and first:
                status, body = (
                    500,
                    {"error": {"message": "try again", "type": "server_error", "param": None, "code": None}},
                )
        with LOCK:
            STATE["hits"][tag] = STATE["hits"].get(tag, 0) + 1
        if status != 200 or not request.get("stream"):
            self._json(status, body)
            return
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Connection", "close")
        self.end_headers()
        for chunk in stream_chunks(body):
            self.wfile.write(f"data: {json.dumps(chunk)}\n\n".encode())
            self.wfile.flush()
        self.wfile.write(b"data: [DONE]\n\n")
        self.wfile.flush()
        self.close_connection = True


def stream_chunks(body: dict[str, Any]) -> list[dict[str, Any]]:
    """The completion as chunks: role, content, each call's header then its arguments in 3 pieces, finish."""
    choice = body["choices"][0]
    message = choice["message"]
    base = {
        "id": body.get("id"),
        "object": "chat.completion.chunk",
        "created": body.get("created"),
        "model": "standin",
    }
    out = [{**base, "choices": [{"index": 0, "delta": {"role": "assistant"}, "finish_reason": None}]}]
    if message.get("content"):
        out.append(
            {
                **base,
                "choices": [{"index": 0, "delta": {"content": message["content"]}, "finish_reason": None}],
            }
        )
    for i, tc in enumerate(message.get("tool_calls") or []):
        head = {
            "index": i,
            "id": tc["id"],
            "type": "function",
            "function": {"name": tc["function"]["name"], "arguments": ""},
        }
        out.append(
            {**base, "choices": [{"index": 0, "delta": {"tool_calls": [head]}, "finish_reason": None}]}
        )
        args = tc["function"]["arguments"]
        step = max(1, len(args) // 3)
        for start in range(0, len(args), step):
            piece = {"index": i, "function": {"arguments": args[start : start + step]}}
            out.append(
                {**base, "choices": [{"index": 0, "delta": {"tool_calls": [piece]}, "finish_reason": None}]}
            )
    out.append({**base, "choices": [{"index": 0, "delta": {}, "finish_reason": choice["finish_reason"]}]})
    return out


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--replay", help="a K2VV results file whose responses to replay")
    args = ap.parse_args()
    if args.replay:
        with open(args.replay, encoding="utf-8") as f:
            for line in f:
                row = json.loads(line)
                if row.get("status") == "success":
                    REPLAY.setdefault(messages_key(row["request"]["messages"]), []).append(row["response"])
    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    print(f"PORT {server.server_address[1]}", flush=True)
    with contextlib.suppress(KeyboardInterrupt):
        server.serve_forever()
    return 0


if __name__ == "__main__":
    sys.exit(main())
