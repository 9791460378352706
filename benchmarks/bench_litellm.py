#!/usr/bin/env python3
"""The LiteLLM provider's cost per streamed token, beside the gateway's own path, in one process.

Both read the same engine answer (a realistic Kimi K2 turn, one SSE event per token, as vLLM streams it with
``return_token_ids``) and do the same work for it, without a network:

- gateway: ``upstream.apply`` feeds each event to a chat ``ChoiceStream`` and the chat dialect's writer makes
  the SSE text it sends (what ``kimi-toolparse serve`` does per token);
- provider: ``KimiCall.feed`` (the same SSE decoder, ``apply`` and ``ChoiceStream``) makes LiteLLM's
  ``ModelResponseStream`` chunks (what ``litellm.completion(..., stream=True)`` receives from the provider).

Printed: µs per streamed token for each, and the provider's added µs per token (the goal: at most 15). Also,
for scale, LiteLLM's own ``CustomStreamWrapper`` per token on top (LiteLLM's cost, not the provider's).
Best of ``--rounds``.

    python benchmarks/bench_litellm.py [--tokens 400] [--rounds 7]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")

from benchmarks.bench_serve import raw_output  # noqa: E402
from kimi_toolparse.serve.chat import DIALECT, ChoiceStream, parse_request, plan_request  # noqa: E402
from kimi_toolparse.serve.pipeline import Run  # noqa: E402
from kimi_toolparse.serve.standin import split_tokens  # noqa: E402
from kimi_toolparse.serve.upstream import SSEDecoder, Target, apply  # noqa: E402
from kimi_toolparse.tokens import SPECIAL_IDS  # noqa: E402

TOOLS = [
    {"type": "function", "function": {"name": n, "parameters": {"type": "object"}}}
    for n in ("get_weather", "bash")
]
MESSAGES = [{"role": "user", "content": "Weather in Beijing, then list /tmp."}]


def engine_events(tokens: int, reasoning: bool = False) -> list[bytes]:
    """The engine's SSE body cut as it arrives: one event per token (text and its ids), then usage.
    ``reasoning``: the same turn with its prose as reasoning (``...</think>`` before the calls)."""
    out = []
    text = raw_output(tokens)
    if reasoning:
        text = text.replace("<|tool_calls_section_begin|>", "</think><|tool_calls_section_begin|>", 1)
    for piece in split_tokens(text):
        ids = [SPECIAL_IDS[piece]] if piece in SPECIAL_IDS else [1] * max(1, len(piece) // 4)
        choice = {"index": 0, "text": piece, "token_ids": ids, "finish_reason": None}
        event = {"id": "c", "object": "text_completion", "created": 0, "model": "m", "choices": [choice]}
        out.append(f"data: {json.dumps(event)}\n\n".encode())
    usage = {"choices": [], "usage": {"prompt_tokens": 10, "completion_tokens": len(out), "total_tokens": 0}}
    out.append(f"data: {json.dumps(usage)}\n\ndata: [DONE]\n\n".encode())
    return out


class _Sink:
    usage: dict[str, Any] | None = None


def gateway_path(events: list[bytes], model: str = "kimi-k2-instruct") -> float:
    """Seconds for the gateway's per-token work over the whole answer."""
    req = parse_request({"model": model, "messages": MESSAGES, "tools": TOOLS, "stream": True})
    plan = plan_request(req, model, Target())
    started = time.perf_counter()
    choices = [ChoiceStream(0, plan)]
    run = Run("r", plan, choices, 0)
    writer = DIALECT.writer(run)
    sse, sink = SSEDecoder(), _Sink()
    sent = [writer.head()]
    for raw in events:
        for index, deltas in apply(sse.feed(raw), sink, choices):
            sent.append(writer.pieces(index, deltas))
    run.upstream_usage = sink.usage
    sent.append(writer.tail())
    return time.perf_counter() - started


def provider_path(events: list[bytes], model: str = "kimi-k2-instruct") -> float:
    """Seconds for the provider's per-token work over the whole answer."""
    from kimi_toolparse.integrations.litellm import KimiCall

    started = time.perf_counter()
    call = KimiCall(model, MESSAGES, {"tools": TOOLS}, Target())
    chunks = []
    for raw in events:
        chunks.extend(call.feed(raw))
    chunks.extend(call.finish())
    return time.perf_counter() - started


def wrapper_path(events: list[bytes]) -> float:
    """Seconds for LiteLLM's CustomStreamWrapper over the provider's chunks (LiteLLM's own cost)."""
    import litellm
    from litellm.litellm_core_utils.litellm_logging import Logging

    from kimi_toolparse.integrations.litellm import KimiCall

    call = KimiCall("kimi-k2-instruct", MESSAGES, {"tools": TOOLS}, Target())
    chunks = [c for raw in events for c in call.feed(raw)] + call.finish()
    logging = Logging(
        model="kimi-k2-instruct", messages=MESSAGES, stream=True, call_type="completion",
        start_time=time.time(), litellm_call_id="bench", function_id="bench",
    )  # fmt: skip
    params = {"custom_llm_provider": "kimi_toolparse"}
    logging.update_environment_variables(
        model="kimi-k2-instruct", user=None, optional_params={}, litellm_params=params
    )
    litellm.custom_provider_map = [{"provider": "kimi_toolparse", "custom_handler": object()}]
    litellm._custom_providers = ["kimi_toolparse"]
    started = time.perf_counter()
    wrapper = litellm.CustomStreamWrapper(
        completion_stream=iter(chunks), model="kimi-k2-instruct", custom_llm_provider="kimi_toolparse",
        logging_obj=logging,
    )  # fmt: skip
    for _ in wrapper:
        pass
    return time.perf_counter() - started


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    ap.add_argument("--tokens", type=int, default=400)
    ap.add_argument("--rounds", type=int, default=7)
    ap.add_argument("--no-wrapper", action="store_true", help="skip LiteLLM's own stream wrapper")
    args = ap.parse_args(argv)
    events = engine_events(args.tokens)
    thinking = engine_events(args.tokens, reasoning=True)  # kimi-k2.5 opens <think>: prose is reasoning
    n = len(events) - 1
    provider_path(events)  # imports and first-use costs out of the way
    gateway_path(events)
    rows: list[tuple[str, Any]] = [
        ("gateway (chat SSE text)", lambda: gateway_path(events)),
        ("LiteLLM provider (LiteLLM's chunks)", lambda: provider_path(events)),
        ("gateway, the turn as reasoning", lambda: gateway_path(thinking, "kimi-k2.5")),
        ("LiteLLM provider, the turn as reasoning", lambda: provider_path(thinking, "kimi-k2.5")),
    ]
    if not args.no_wrapper:
        rows.append(("  + LiteLLM's CustomStreamWrapper (LiteLLM's own)", lambda: wrapper_path(events)))
    best = {name: min(fn() for _ in range(args.rounds)) / n * 1e6 for name, fn in rows}
    print(f"{n} streamed tokens, best of {args.rounds}")
    print(f"{'path':<50} {'µs/token':>9}")
    for name, us in best.items():
        print(f"{name:<50} {us:>9.2f}")
    for label, gw_row, prov_row in (
        ("provider added over the gateway (goal <= 15)", 0, 1),
        ("  the same, reasoning tokens", 2, 3),
    ):
        gw, prov = best[rows[gw_row][0]], best[rows[prov_row][0]]
        print(f"{label:<50} {prov - gw:>9.2f}   (ratio {prov / gw:.2f})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
