"""The README's streaming recipe end to end: a real HTTP server on 127.0.0.1 streams its chunks, and the
official ``openai`` client's stream accumulator rebuilds the message, which must equal ``to_openai()``."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

import kimi_toolparse as ktp

from ..conftest import FIXTURES

openai = pytest.importorskip(
    "openai", reason="the SDK end-to-end test needs openai (pip install -e '.[test]')"
)

OUTPUTS = sorted((FIXTURES / "outputs").glob("*.txt"))
#: The model each bundled output came from: its prompt decides ``thinking`` (ends_in_reasoning).
#: The model each bundled output was written by (its prompt decides thinking=); any other is K2-Instruct.
MODEL_OF = {"thinking.txt": "kimi-k2.5"}


def recipe_chunks(request: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """The README's streaming recipe, with the engine replaced by a bundled output fed 3 characters a time."""
    prompt = ktp.render(request["messages"], request.get("tools"), model=request["model"])
    raw = (FIXTURES / "outputs" / request["messages"][-1]["content"]).read_text(encoding="utf-8")
    parser = ktp.StreamParser(tools=request.get("tools"), thinking=ktp.ends_in_reasoning(prompt))
    yield {"index": 0, "delta": parser.role_delta(), "finish_reason": None}
    for start in range(0, len(raw), 3):
        for event in parser.feed(raw[start : start + 3]):
            delta = event.to_openai()
            if delta is not None:
                yield {"index": 0, "delta": delta, "finish_reason": None}
    for event in parser.close(stop_reason="stop"):
        if (delta := event.to_openai()) is not None:
            yield {"index": 0, "delta": delta, "finish_reason": None}
    yield {"index": 0, "delta": {}, "finish_reason": parser.message.finish_reason}


class _Handler(BaseHTTPRequestHandler):
    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.end_headers()
        for choice in recipe_chunks(body):
            chunk = {
                "id": "chatcmpl-test",
                "object": "chat.completion.chunk",
                "created": 0,
                "model": body["model"],
                "choices": [choice],
            }
            self.wfile.write(f"data: {json.dumps(chunk)}\n\n".encode())
        self.wfile.write(b"data: [DONE]\n\n")

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture(scope="module")
def client() -> Iterator[Any]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    http = openai.DefaultHttpxClient(trust_env=False)  # loopback only: no proxy from the environment
    try:
        yield openai.OpenAI(
            base_url=f"http://127.0.0.1:{server.server_address[1]}/v1", api_key="test", http_client=http
        )
    finally:
        http.close()
        server.shutdown()
        server.server_close()
        thread.join()


@pytest.mark.parametrize("output", OUTPUTS, ids=[p.name for p in OUTPUTS])
def test_the_sdk_accumulates_the_message_to_openai_gives(client: Any, output: Any) -> None:
    model = MODEL_OF.get(output.name, "kimi-k2-instruct")
    with client.chat.completions.stream(
        model=model, messages=[{"role": "user", "content": output.name}]
    ) as stream:
        for _ in stream:
            pass
        completion = stream.get_final_completion()
    got = completion.choices[0].message
    prompt = ktp.render([{"role": "user", "content": output.name}], model=model)
    want = ktp.parse(output.read_text(encoding="utf-8"), thinking=ktp.ends_in_reasoning(prompt)).to_openai()
    assert got.role == want["role"] == "assistant"
    assert got.content == want["content"]
    assert getattr(got, "reasoning_content", None) == want["reasoning_content"]
    calls = [
        {"id": c.id, "type": c.type, "function": {"name": c.function.name, "arguments": c.function.arguments}}
        for c in got.tool_calls or []
    ]
    assert calls == want.get("tool_calls", [])
    assert completion.choices[0].finish_reason == ktp.parse(output.read_text(encoding="utf-8")).finish_reason
    # The accumulated message goes back into the next prompt as it is.
    history = [{"role": "user", "content": output.name}, got.model_dump(exclude_none=True)]
    assert ktp.render(history, model=model, add_generation_prompt=False)
