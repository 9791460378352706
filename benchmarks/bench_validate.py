"""Per-call validation cost next to parsing cost, on the real calls of the K2 vendor-verifier results.

Every tool call of ``fixtures/reference/k2vv/results_openrouter_k2_0905.jsonl`` is written back in the
model's raw format (``<|tool_call_begin|>id<|tool_call_argument_begin|>args<|tool_call_end|>``) with its
request's tools. Measured in the same run, per call:

- parsing it (``parse(raw)``, no tools): the baseline;
- validating it (``Tools.check_call`` on the decoded arguments, schemas compiled once per tool list);
- parsing it with the tools (``parse(raw, tools=...)``: parse plus validation).

    python benchmarks/bench_validate.py [--repeat N]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from kimi_toolparse import Tools, parse  # noqa: E402

RESULTS = ROOT / "fixtures" / "reference" / "k2vv" / "results_openrouter_k2_0905.jsonl"
SB, SE = "<|tool_calls_section_begin|>", "<|tool_calls_section_end|>"
CB, AB, CE = "<|tool_call_begin|>", "<|tool_call_argument_begin|>", "<|tool_call_end|>"


def calls() -> list[tuple[str, Tools, str, Any]]:
    """(raw call text, compiled tools, name, decoded arguments) for every call in the results file."""
    out = []
    for line in RESULTS.read_text(encoding="utf-8").splitlines():
        row = json.loads(line)
        choices = (row.get("response") or {}).get("choices") or []
        if not choices:
            continue
        tools = Tools(row["request"].get("tools") or [])
        for call in choices[0]["message"].get("tool_calls") or []:
            fn = call["function"]
            raw = SB + CB + call["id"] + AB + fn["arguments"] + CE + SE
            out.append((raw, tools, fn["name"], json.loads(fn["arguments"])))
    return out


def best_us(fn: Any, repeat: int) -> float:
    best = float("inf")
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t)
    return best * 1e6


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=20)
    args = ap.parse_args()
    work = calls()
    for _, tools, name, value in work:  # compile once per tool list, outside the timing
        tools.check_call(name, True, value)
    rows = []
    for raw, tools, name, value in work:
        t_parse = best_us(lambda raw=raw: parse(raw), args.repeat)
        t_check = best_us(lambda t=tools, n=name, v=value: t.check_call(n, True, v), args.repeat)
        t_both = best_us(lambda raw=raw, t=tools: parse(raw, tools=t), args.repeat)
        rows.append((len(raw), t_parse, t_check, t_both))
    med = [statistics.median(r[i] for r in rows) for i in range(4)]
    worst = max(r[2] / r[1] for r in rows)
    print(f"{len(rows)} real calls, {med[0]:.0f} characters each (median)\n")
    print("| per call (median)            | µs      | vs parsing |")
    print("|------------------------------|---------|------------|")
    print(f"| parse, no tools (baseline)   | {med[1]:7.1f} | 1.00x      |")
    print(f"| validate (compiled tools)    | {med[2]:7.1f} | {med[2] / med[1]:.2f}x      |")
    print(f"| parse with tools (both)      | {med[3]:7.1f} | {med[3] / med[1]:.2f}x      |")
    print(f"\nworst call: validation costs {worst:.2f}x its parse")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
