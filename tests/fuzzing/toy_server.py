"""A small chat-completions server around StreamParser, for the end-to-end fuzz test.

``python -m tests.fuzzing.toy_server PORT UPSTREAM_PORT [--fault]``: answers ``POST /v1/chat/completions``
(streaming and not) by asking the raw ``/v1/completions`` upstream for the output and parsing it, and lists
one model (``kimi-k2-instruct``) at ``GET /v1/models``. It asks for the token ids, so marker text the
model wrote inside a string stays data.
``--fault`` plants one bug: it forgets ``skip_special_tokens: false``, so the engine strips the markers.
"""

from __future__ import annotations

import json
import sys
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from kimi_toolparse import StreamParser


def main() -> None:
    port, upstream = int(sys.argv[1]), int(sys.argv[2])
    fault = "--fault" in sys.argv

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: Any) -> None:
            pass

        def do_GET(self) -> None:
            if self.path != "/v1/models":
                self.send_error(404)
                return
            listing = json.dumps({"object": "list", "data": [{"id": "kimi-k2-instruct", "object": "model"}]})
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(listing)))
            self.end_headers()
            self.wfile.write(listing.encode())

        def do_POST(self) -> None:
            request = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            body = {
                "model": "kimi",
                "prompt": "p",
                "stream": True,
                "spaces_between_special_tokens": False,
                "return_token_ids": True,
            }
            if not fault:
                body["skip_special_tokens"] = False
            upstream_request = urllib.request.Request(
                f"http://127.0.0.1:{upstream}/v1/completions",
                data=json.dumps(body).encode(),
                headers={"Content-Type": "application/json"},
            )
            parser = StreamParser(tools=request.get("tools"))
            stream = bool(request.get("stream"))
            if stream:
                self.send_response(200)
                self.send_header("Content-Type", "text/event-stream")
                self.end_headers()

            def send(delta: dict[str, Any]) -> None:
                chunk = {"object": "chat.completion.chunk", "choices": [{"index": 0, "delta": delta}]}
                self.wfile.write(b"data: " + json.dumps(chunk).encode() + b"\n\n")

            with urllib.request.urlopen(upstream_request) as response:
                for line in response:
                    line = line.strip()
                    if not line.startswith(b"data:") or line == b"data: [DONE]":
                        continue
                    choice = json.loads(line[5:])["choices"][0]
                    ids = choice.get("token_ids")  # present when the engine has a vocabulary
                    for event in parser.feed(choice["text"], ids):
                        delta = event.to_openai()
                        if stream and delta is not None:
                            send(delta)
            for event in parser.close():
                delta = event.to_openai()
                if stream and delta is not None:
                    send(delta)
            if stream:
                self.wfile.write(b"data: [DONE]\n\n")
                return
            answer = json.dumps(
                {
                    "object": "chat.completion",
                    "choices": [{"index": 0, "message": parser.message.to_openai()}],
                }
            )
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(answer.encode())))
            self.end_headers()
            self.wfile.write(answer.encode())

    server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    print("ready", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
