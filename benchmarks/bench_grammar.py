#!/usr/bin/env python3
"""Build the constrained-decoding grammar of each of the 99 K2VV requests: uncached and cached.

Uncached: every request builds its grammar from nothing, the JSON-schema conversion of each tool included
(every cache cleared before each call). Cached: the same requests again, the grammar found by the tool list
and options. Schema conversion alone: the package's converter (schema_grammar.py) against xgrammar's
(``Grammar.from_json_schema(..., any_whitespace=True, strict_mode=True)``, the one the package used before)
on every tool of every request. Where xgrammar is installed, the baselines measured in the same run are
xgrammar's converter and its built-in Kimi structural tag (``get_model_structural_tag("kimi", ...)``, which
converts no schema), and the last column is what an engine then spends compiling the grammar (xgrammar, a
110-token vocabulary: a lower bound). Without xgrammar, only the package's own columns are printed. Best of
several rounds, microseconds per request.

    python benchmarks/bench_grammar.py [--rounds N]
"""

from __future__ import annotations

import argparse
import contextlib
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
from kimi_toolparse.constrain.schema_grammar import schema_rules  # noqa: E402

K2VV = ROOT / "fixtures" / "reference" / "k2vv" / "requests.jsonl"
CASES = ROOT / "fixtures" / "reference" / "json_schema_cases" / "validator_cases"


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
    try:
        import xgrammar as xgr
    except ImportError:
        xgr = None

    requests = [json.loads(line) for line in K2VV.read_text(encoding="utf-8").splitlines() if line.strip()]
    n = len(requests)
    schemas = [t["function"].get("parameters") or {} for r in requests for t in r["tools"]]
    cases = [
        json.loads(line)
        for path in sorted(CASES.glob("*/valid.jsonl"))
        for line in path.read_text(encoding="utf-8").splitlines()
        if line.strip()
    ]

    def ours(schemas: list[Any] = schemas) -> None:
        for schema in schemas:
            with contextlib.suppress(ValueError):
                schema_rules(schema)

    conversion = [("ours (schema_grammar.py)", _best(ours, args.rounds, n), _best(lambda: ours(cases), 3, 1))]
    head = (
        f"{n} K2VV requests, µs per request; the {len(cases)} schema cases, ms in all (best of {args.rounds})"
    )
    if xgr is None:
        print(head + "\n\n| schema conversion | K2VV (µs/request) | schema cases (ms) |\n|---|---:|---:|")
        print(f"| {conversion[0][0]} | {conversion[0][1]:,.1f} | {conversion[0][2] * 1e-3:,.1f} |\n")
        for fmt in ("structural-tag", "ebnf", "gbnf"):

            def build_all(fmt: Any = fmt) -> None:
                for r in requests:
                    _clear()
                    ktp.grammar_for_request(r, format=fmt)

            print(f"{fmt}: uncached {_best(build_all, args.rounds, n):,.1f} µs per request")
        return 0

    def theirs(schemas: list[Any] = schemas) -> None:
        for schema in schemas:
            with contextlib.suppress(Exception):  # the one case it cannot convert
                str(xgr.Grammar.from_json_schema(json.dumps(schema), any_whitespace=True, strict_mode=True))

    conversion.append(
        ("xgrammar's converter (baseline)", _best(theirs, args.rounds, n), _best(lambda: theirs(cases), 3, 1))
    )
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
    print(head + "\n\n| schema conversion | K2VV (µs/request) | schema cases (ms) |\n|---|---:|---:|")
    for name, value, all_cases in conversion:
        print(f"| {name} | {value:,.1f} | {all_cases * 1e-3:,.1f} |")
    ratios = conversion[0][1] / conversion[1][1], conversion[0][2] / conversion[1][2]
    print(f"\nours / xgrammar's: {ratios[0]:.2f} (K2VV), {ratios[1]:.2f} (schema cases)\n")
    print("| format | uncached | cached | xgrammar built-in tag (baseline) | engine compile |")
    print("|---|---:|---:|---:|---:|")
    for fmt, unc, cac, comp in rows:
        print(f"| {fmt} | {unc:,.1f} | {cac:,.1f} | {rows_baseline:,.1f} | {comp:,.0f} |")
    print("\ntargets: uncached < 5,000 µs, cached < 50 µs")
    return 0


if __name__ == "__main__":
    sys.exit(main())
