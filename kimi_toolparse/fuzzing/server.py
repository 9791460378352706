"""The ``--url`` target: a whole server, fed by a stand-in ``/v1/completions`` upstream that we control.

For each drawn output the stand-in (:class:`kimi_toolparse.serve.standin.StandIn` on ``--upstream-port``)
is told what to answer, the server under test is sent a chat request with the case's tools, and its
answer (a response, or the chunks of its SSE stream) is what gets compared.
"""

from __future__ import annotations

import itertools
import json
import re
import urllib.error
import urllib.request
from typing import Any

from ..extras import missing_extra
from ..tokens import KIND_BY_TEXT, SPECIAL_IDS
from .targets import Feed, Target, TargetError

__all__ = ["url_target"]

_SPECIAL_RE = re.compile(
    "(" + "|".join(re.escape(t) for t in sorted(SPECIAL_IDS, key=len, reverse=True)) + ")"
)
assert set(SPECIAL_IDS) <= set(KIND_BY_TEXT)


def _pieces_from_chunks(feed: Feed) -> list[Any]:
    """Decode steps from the text: every special token alone (an engine never splits one), the text
    between cut where the drawn chunking cuts it."""
    from ..serve.standin import Piece

    bounds, pos = set(), 0
    for chunk in feed.chunks:
        pos += len(chunk)
        bounds.add(pos)
    pieces: list[Any] = []
    pos = 0
    for part in _SPECIAL_RE.split(feed.case.raw):
        if not part:
            continue
        if part in SPECIAL_IDS:
            pieces.append(Piece(part, (SPECIAL_IDS[part],)))
        else:
            cuts = [0, *sorted(b - pos for b in bounds if pos < b < pos + len(part)), len(part)]
            pieces += [Piece(part[a:b]) for a, b in itertools.pairwise(cuts) if b > a]
        pos += len(part)
    return pieces


def _pieces_from_steps(feed: Feed, vocab: Any) -> list[Any]:
    """The engine's decode steps, with each special id a step of its own."""
    from ..serve.standin import Piece

    pieces: list[Any] = []
    for _, ids in feed.steps or []:
        run: list[int] = []
        for t in [*ids, None]:
            if t is None or t in _SPECIAL_ID_SET:
                if run:
                    data = b"".join(vocab.token_bytes(i) for i in run)
                    pieces.append(Piece(data.decode("utf-8", errors="replace"), tuple(run)))
                    run = []
                if t is not None:
                    pieces.append(Piece(vocab.decode([t]), (t,)))
            else:
                run.append(t)
    return pieces


_SPECIAL_ID_SET = frozenset(SPECIAL_IDS.values())


def _post(url: str, body: dict[str, Any], stream: bool) -> Any:
    request = urllib.request.Request(
        url, data=json.dumps(body).encode(), headers={"Content-Type": "application/json"}, method="POST"
    )
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            if not stream:
                return json.loads(response.read())
            chunks = []
            for line in response:
                line = line.strip()
                if not line.startswith(b"data:"):
                    continue
                data = line[5:].strip()
                if data == b"[DONE]":
                    break
                chunks.append(json.loads(data))
            return chunks
    except urllib.error.HTTPError as e:
        raise RuntimeError(f"HTTP {e.code}: {e.read()[:300].decode('utf-8', 'replace')}") from None


def url_target(base_url: str, upstream_port: int, *, model: str = "kimi-k2", vocab: Any = None) -> Target:
    """A server at ``base_url`` (``http://HOST:PORT/v1``) whose upstream is ``127.0.0.1:upstream_port``."""
    if not re.match(r"^https?://[^/]+", base_url):
        raise TargetError(f"--url {base_url!r} is not an http:// URL such as http://127.0.0.1:8000/v1")
    try:
        from ..serve.standin import StandIn
    except ImportError as e:
        what = "fuzz --url (the stand-in upstream)"
        raise TargetError(str(missing_extra(what, e.name or "uvicorn"))) from None
    current: dict[str, list[Any]] = {"pieces": []}
    standin = StandIn(lambda body: current["pieces"], port=upstream_port, vocabulary=vocab, record=False)
    try:
        standin.start()
    except (OSError, RuntimeError) as e:
        raise TargetError(f"cannot serve the stand-in upstream on port {upstream_port}: {e}") from None
    endpoint = base_url.rstrip("/") + "/chat/completions"

    def run(feed: Feed) -> Any:
        current["pieces"] = (
            _pieces_from_steps(feed, vocab) if vocab is not None and feed.steps else _pieces_from_chunks(feed)
        )
        body: dict[str, Any] = {
            "model": model,
            "messages": [{"role": "user", "content": "Use the tools."}],
            "stream": feed.stream,
        }
        if feed.case.tools:
            body["tools"] = feed.case.tools
        answer = _post(endpoint, body, feed.stream)
        if not feed.stream:
            choices = answer.get("choices") if isinstance(answer, dict) else None
            if not choices:
                raise RuntimeError(f"no choices in the response: {json.dumps(answer)[:200]}")
            return choices[0].get("message")
        return answer

    return Target(
        f"{base_url} (upstream on port {upstream_port})",
        "chunks",
        run,
        takes_tools=True,
        takes_thinking=False,
        streams=True,
        close=standin.stop,
    )
