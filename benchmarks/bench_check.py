"""``kimi-toolparse check`` speed: the 99-line K2VV results file and a generated 100,000-line one.

Baselines measured in the same run:
- reading the file and decoding every line with ``json.loads`` (the floor any checker pays);
- K2VV's own way of judging calls (``jsonschema.validate`` per call, which checks the schema each time),
  on the 99-line file only (on 100,000 lines it would take minutes).

The big file cycles the 99 real lines with fresh ``data_index`` values (about 1 GB; written to a temporary
directory and removed afterwards).

    python benchmarks/bench_check.py [--lines N]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from kimi_toolparse.cli_support import table  # noqa: E402
from kimi_toolparse.verification import check_file  # noqa: E402

RESULTS = ROOT / "fixtures" / "reference" / "k2vv" / "results_openrouter_k2_0905.jsonl"


def floor(path: Path) -> int:
    n = 0
    with open(path, encoding="utf-8") as f:
        for line in f:
            json.loads(line)
            n += 1
    return n


def k2vv_way(path: Path) -> tuple[int, int]:
    """Counts the way K2VV's validator does: jsonschema.validate per call."""
    import jsonschema

    calls = valid = 0
    with open(path, encoding="utf-8") as f:
        for line in f:
            row = json.loads(line)
            choices = (row.get("response") or {}).get("choices") or []
            if not choices or choices[0].get("finish_reason") != "tool_calls":
                continue
            calls += 1
            tools = {t["function"]["name"]: t["function"].get("parameters") for t in row["request"]["tools"]}
            ok = True
            for call in choices[0]["message"].get("tool_calls") or []:
                try:
                    jsonschema.validate(
                        json.loads(call["function"]["arguments"]), tools[call["function"]["name"]]
                    )
                except Exception:
                    ok = False
            valid += ok
    return calls, valid


def timed(fn: Any, repeat: int) -> tuple[float, Any]:
    best, result = float("inf"), None
    for _ in range(repeat):
        t = time.perf_counter()
        result = fn()
        best = min(best, time.perf_counter() - t)
    return best, result


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--lines", type=int, default=100_000, help="lines of the generated file (100,000)")
    args = ap.parse_args()
    rows = []
    t_small, report = timed(lambda: check_file(str(RESULTS)), 5)
    t_floor, _ = timed(lambda: floor(RESULTS), 5)
    try:
        t_k2vv, counts = timed(lambda: k2vv_way(RESULTS), 3)
        k2vv = f"{t_k2vv * 1000:.0f} ms ({counts[1]}/{counts[0]})"
    except ImportError:
        k2vv = "n/a (no jsonschema)"
    rows.append(
        (
            "99 lines (1.1 MB)",
            f"{t_small * 1000:.0f} ms",
            f"{t_floor * 1000:.0f} ms",
            k2vv,
            f"{report.count_successful_tool_call}/{report.count_finish_reason_tool_calls}",
        )
    )

    lines = RESULTS.read_text(encoding="utf-8").splitlines()
    with tempfile.TemporaryDirectory() as tmp:
        big = Path(tmp) / "big.jsonl"
        with open(big, "w", encoding="utf-8") as f:
            for i in range(args.lines):
                row = json.loads(lines[i % len(lines)])
                row["data_index"] = i + 1
                f.write(json.dumps(row, ensure_ascii=False) + "\n")
        size = big.stat().st_size / 1e6
        print(f"generated {args.lines:,} lines ({size:,.0f} MB)", file=sys.stderr)
        t_big, report = timed(lambda: check_file(str(big)), 1)
        t_floor_big, _ = timed(lambda: floor(big), 1)
    rows.append(
        (
            f"{args.lines:,} lines ({size:,.0f} MB)",
            f"{t_big:.1f} s",
            f"{t_floor_big:.1f} s",
            "not run",
            f"{report.count_successful_tool_call}/{report.count_finish_reason_tool_calls}",
        )
    )

    head = (
        "results file",
        "check",
        "json.loads floor",
        "K2VV's way (jsonschema.validate)",
        "valid/tool_calls",
    )
    print(table([head, *rows], markdown=True), end="")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
