#!/usr/bin/env python3
"""Build the constrained-decoding grammar of each of the 99 K2VV requests: uncached and cached.

Uncached: every request builds its grammar from nothing, xgrammar's JSON-schema conversion of each tool
included (both caches cleared before each call). Cached: the same requests again, the grammar found by the
tool list and options. The baseline, measured in the same run, is xgrammar's own built-in Kimi structural
tag (``xgrammar.get_model_structural_tag("kimi", ...)``, which converts no schema). Also shown: what an
engine then spends compiling the grammar (xgrammar, a 110-token vocabulary: a lower bound). Best of several
rounds, microseconds per request.

    python benchmarks/bench_grammar.py [--rounds N]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import kimi_toolparse as ktp  # noqa: E402
from kimi_toolparse.constrain import build  # noqa: E402

K2VV = ROOT / "fixtures" / "reference" / "k2vv" / "requests.jsonl"


def _best(fn: Callable[[], None], rounds: int, n: int) -> float:
    best = float("inf")
    for _ in range(rounds):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return best / n * 1e6


def _clear() -> None:
    build._build_cached.cache_clear()
    build._convert.cache_clear()
    build._embedded.cache_clear()


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rounds", type=int, default=7, help="timing rounds per column (best is kept)")
    args = ap.parse_args(argv)
    import xgrammar as xgr

    requests = [json.loads(line) for line in K2VV.read_text(encoding="utf-8").splitlines() if line.strip()]
    n = len(requests)
    tokenizer = xgr.TokenizerInfo([chr(c) for c in range(32, 127)] + ["<|im_end|>"], stop_token_ids=[95])
    compiler = xgr.GrammarCompiler(tokenizer, max_threads=1, cache_enabled=False)

    def builtin() -> None:
        for r in requests:
            xgr.get_model_structural_tag("kimi", tools=r["tools"], reasoning=False).model_dump_json()

    rows: list[tuple[str, float, float, float]] = []
    rows_baseline = _best(builtin, args.rounds, n)
    for fmt in ("structural-tag", "ebnf", "gbnf"):

        def uncached(fmt: Any = fmt) -> None:
            for r in requests:
                _clear()
                ktp.grammar_for_request(r, format=fmt)

        def cached(fmt: Any = fmt) -> None:
            for r in requests:
                ktp.grammar_for_request(r, format=fmt)

        grammars = [ktp.grammar_for_request(r, format=fmt) for r in requests]

        def compile_all(grammars: list[ktp.ToolGrammar] = grammars) -> None:
            for g in grammars:
                if g.format == "structural-tag":
                    compiler.compile_structural_tag(g.text)
                else:
                    compiler.compile_grammar(g.text.replace(",}", ", -1}"))

        rows.append(
            (
                fmt,
                _best(uncached, args.rounds, n),
                _best(cached, args.rounds, n),
                _best(compile_all, max(1, args.rounds // 3), n),
            )
        )
    print(f"{n} K2VV requests, µs per request (best of {args.rounds} rounds)\n")
    print("| format | uncached | cached | xgrammar built-in tag (baseline) | engine compile |")
    print("|---|---:|---:|---:|---:|")
    for fmt, unc, cac, comp in rows:
        print(f"| {fmt} | {unc:,.1f} | {cac:,.1f} | {rows_baseline:,.1f} | {comp:,.0f} |")
    print("\ntargets: uncached < 5,000 µs, cached < 50 µs")
    return 0


if __name__ == "__main__":
    sys.exit(main())
