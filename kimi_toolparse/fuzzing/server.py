"""The ``--url`` target: a whole server, fed by a stand-in ``/v1/completions`` upstream that we control.

For each drawn output the stand-in (:class:`kimi_toolparse.serve.standin.StandIn` on ``--upstream-port``)
is told what to answer, the server under test is sent a chat request with the case's tools, and its
answer (a response, or the chunks of its SSE stream) is what gets compared.

The model is the one the server lists at ``/v1/models`` unless ``--model`` names it. Its template says
whether the prompt the server renders ends inside reasoning (``ends_in_reasoning``, as a gateway reads
it), and every case is drawn and judged for that prompt: a thinking model's outputs start inside
``<think>``. A first request the server refuses (401, 403, 404) is a usage error, not a finding.
"""

from __future__ import annotations

import itertools
import json
import re
import urllib.error
import urllib.request
from collections.abc import Callable
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


#: Statuses that say the request itself is wrong (a key, a model name, a path), whatever the output.
_REFUSED = (401, 403, 404)
#: The one chat the fuzzer sends; the tools are the drawn case's.
_MESSAGES = [{"role": "user", "content": "Use the tools."}]


class _Refused(Exception):
    """The server refused the request (401, 403, 404): a usage error on the first request."""


def _error_text(e: urllib.error.HTTPError) -> str:
    raw = e.read()[:300].decode("utf-8", "replace")
    try:
        message = json.loads(raw)["error"]["message"]
    except (ValueError, KeyError, TypeError):
        message = raw
    return f"HTTP {e.code}: {' '.join(str(message).split())}"


def _get(url: str) -> Any:
    try:
        with urllib.request.urlopen(url, timeout=30) as response:
            return json.loads(response.read())
    except urllib.error.HTTPError as e:
        raise TargetError(f"GET {url} answered {_error_text(e)}: pass --model NAME") from None
    except (urllib.error.URLError, OSError) as e:
        reason = getattr(e, "reason", e)
        raise TargetError(f"cannot reach {url}: {reason}") from None
    except ValueError:
        raise TargetError(f"GET {url} is not JSON: pass --model NAME") from None


def served_model(base_url: str) -> str:
    """The one model the server lists at ``/v1/models``; TargetError when it lists none or several."""
    url = base_url.rstrip("/") + "/models"
    data = _get(url)
    try:
        names = [str(m["id"]) for m in data["data"]]
    except (KeyError, TypeError):
        raise TargetError(f"GET {url} lists no models (no data[].id): pass --model NAME") from None
    if len(names) == 1:
        return names[0]
    if not names:
        raise TargetError(f"GET {url} lists no models: pass --model NAME")
    raise TargetError(f"the server serves {len(names)} models ({', '.join(names)}): choose one with --model")


def prompt_thinks(model: str) -> bool | None:
    """Whether the prompt a Kimi model's template renders for the fuzzer's chat ends inside reasoning;
    None when the name is no Kimi model this package knows."""
    from .. import ends_in_reasoning, render

    try:
        return ends_in_reasoning(render(_MESSAGES, model=model))
    except (ValueError, TypeError):
        return None


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
        if e.code in _REFUSED:
            raise _Refused(_error_text(e)) from None
        raise RuntimeError(_error_text(e)) from None


def url_target(
    base_url: str,
    upstream_port: int,
    *,
    model: str | None = None,
    vocab: Any = None,
    thinking: bool | None = None,
    notes: Callable[[str], None] | None = None,
) -> Target:
    """A server at ``base_url`` (``http://HOST:PORT/v1``) whose upstream is ``127.0.0.1:upstream_port``.

    ``model``: the name to request (default: the one the server lists). ``thinking``: whether the server's
    prompt ends inside reasoning (default: read from the model's template). ``notes`` is told of choices a
    user should know about (a model whose template is unknown).
    """
    if not re.match(r"^https?://[^/]+", base_url):
        raise TargetError(f"--url {base_url!r} is not an http:// URL such as http://127.0.0.1:8000/v1")
    if model is None:
        model = served_model(base_url)
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
        body: dict[str, Any] = {"model": model, "messages": _MESSAGES, "stream": feed.stream}
        if feed.case.tools:
            body["tools"] = feed.case.tools
        try:
            answer = _post(endpoint, body, feed.stream)
        except _Refused as e:
            raise RuntimeError(str(e)) from None
        if not feed.stream:
            choices = answer.get("choices") if isinstance(answer, dict) else None
            if not choices:
                raise RuntimeError(f"no choices in the response: {json.dumps(answer)[:200]}")
            return choices[0].get("message")
        return answer

    # The first request: one the server refuses (a wrong key, model or path) is a usage error.
    current["pieces"] = ["ok"]
    try:
        _post(endpoint, {"model": model, "messages": _MESSAGES, "stream": False}, False)
    except _Refused as e:
        standin.stop()
        raise TargetError(f"{endpoint} refused the request for model {model!r}: {e}") from None
    except (RuntimeError, OSError, ValueError):
        pass  # anything else is the server's answer to an output: the fuzz run reports it
    if thinking is None:
        thinking = prompt_thinks(model)
        if thinking is None:
            thinking = False
            if notes is not None:
                notes(
                    f"model {model!r} is no Kimi model this package knows: judging as if its prompt does "
                    "not end in <think> (say --thinking if it does)"
                )
    return Target(
        f"{base_url} (model {model}, upstream on port {upstream_port})",
        "chunks",
        run,
        takes_tools=True,
        takes_thinking=False,
        streams=True,
        close=standin.stop,
        prompt_thinking=thinking,
    )
