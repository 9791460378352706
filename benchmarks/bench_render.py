#!/usr/bin/env python3
"""Render the 99 K2VV conversations for each model: ours against the official template through Jinja.

The Jinja side is the official ``chat_template.jinja`` compiled once in transformers' environment and
given what the official tokenizer gives it: the tools sorted recursively and, for K2.5+, ``tools_ts_str``.
Two Jinja columns: the template alone (sorted tools and ``tools_ts_str`` prepared outside the timing, its
best case), and the tokenizer's whole path (sort + TypeScript encoding + template, per render, as
``apply_chat_template`` does). Ours does all of it per render (the TypeScript text of a tool list is cached).
Each figure is the best of several rounds, in microseconds per conversation.

    python benchmarks/bench_render.py [--rounds N] [--revisions]
"""

from __future__ import annotations

import argparse
import importlib.util
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from kimi_toolparse.rendering.prompt import render  # noqa: E402
from kimi_toolparse.rendering.typescript import deep_sort, render_tools_typescript  # noqa: E402


def _best(fn: Callable[[], None], rounds: int, n: int) -> float:
    """Best wall time of ``rounds`` runs of ``fn``, in microseconds per item (``n`` items per run)."""
    best = float("inf")
    for _ in range(rounds):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return best / n * 1e6


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rounds", type=int, default=30, help="timing rounds per column (best is kept)")
    ap.add_argument("--revisions", action="store_true", help="also the older template revisions")
    args = ap.parse_args(argv)
    goldens = importlib.import_module("testsupport.goldens")
    conversations = goldens.k2vv_conversations()
    n = len(conversations)

    rows = []
    models = [m for m in goldens.TEMPLATE_FILES if args.revisions or "@" not in m]
    for model in models:
        template = goldens.compiled_template(model)
        prepared = [(c["messages"], goldens.official_tool_kwargs(model, c["tools"])) for c in conversations]
        typescript = model in goldens.TYPESCRIPT_MODELS

        def ours(model: str = model) -> None:
            for c in conversations:
                render(c["messages"], c["tools"], model=model)

        def jinja_template(template: Any = template, prepared: Any = prepared) -> None:
            for messages, kwargs in prepared:
                template.render(messages=messages, add_generation_prompt=True, **kwargs)

        def jinja_tokenizer(template: Any = template, typescript: bool = typescript) -> None:
            for c in conversations:
                tools = deep_sort(c["tools"])
                kwargs: dict[str, Any] = {"tools": tools}
                if typescript and tools:
                    try:
                        kwargs["tools_ts_str"] = render_tools_typescript(tools, sort_keys=False)
                    except Exception:
                        kwargs.pop("tools_ts_str", None)
                template.render(messages=c["messages"], add_generation_prompt=True, **kwargs)

        # the same bytes, or the comparison means nothing
        for c, (messages, kwargs) in zip(conversations, prepared, strict=True):
            expected = template.render(messages=messages, add_generation_prompt=True, **kwargs)
            assert render(c["messages"], c["tools"], model=model) == expected, model
        ours()  # warm the TypeScript cache, as a server's steady state would
        t_ours = _best(ours, args.rounds, n)
        t_template = _best(jinja_template, args.rounds, n)
        t_tokenizer = _best(jinja_tokenizer, args.rounds, n)
        rows.append((model, t_ours, t_template, t_tokenizer))

    header = ("model", "ours µs", "jinja template µs", "speedup", "jinja + tokenizer µs", "speedup")
    table = [header] + [
        (m, f"{o:.1f}", f"{t:.1f}", f"{t / o:.1f}x", f"{k:.1f}", f"{k / o:.1f}x") for m, o, t, k in rows
    ]
    widths = [max(len(r[i]) for r in table) for i in range(len(header))]
    print(f"{n} K2VV conversations per model, best of {args.rounds} rounds, µs per conversation\n")
    for i, r in enumerate(table):
        print(
            "  ".join(
                cell.rjust(w) if j else cell.ljust(w)
                for j, (cell, w) in enumerate(zip(r, widths, strict=True))
            )
        )
        if i == 0:
            print("  ".join("-" * w for w in widths))
    worst = min(t / o for _, o, t, _ in rows)
    print(f"\nslowest model is {worst:.1f}x faster than the template alone through Jinja")
    return 0


if __name__ == "__main__":
    sys.exit(main())
