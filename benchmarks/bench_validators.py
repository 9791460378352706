"""Which JSON-schema validator: candidates measured side by side on the 212 real tool schemas.

For every schema of ``fixtures/reference/json_schema_cases/`` the run generates instances that are valid
(guided by the schema, as in the tests) and mutated copies of them (a value of the wrong type, a required key
dropped, an unknown key added), plus a few fixed probes of the rules that matter here (``1.0`` is an
integer, boolean schemas, recursive ``$ref``). The reference verdict is ``jsonschema``'s
``Draft202012Validator``; every candidate is scored on agreement, then on compile and validation time,
import time, installed size and dependencies.

    python benchmarks/bench_validators.py [--examples N]
"""

from __future__ import annotations

import argparse
import contextlib
import copy
import importlib.metadata as md
import json
import subprocess
import sys
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

from kimi_toolparse.cli_support import table

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
CASES = ROOT / "fixtures" / "reference" / "json_schema_cases" / "validator_cases"

#: Fixed probes: (schema, instance, expected verdict under Draft 2020-12).
PROBES: list[tuple[Any, Any, bool]] = [
    ({"type": "integer"}, 1.0, True),
    ({"type": "integer"}, 1.5, False),
    ({"type": "object", "properties": {"n": {"type": "integer"}}}, {"n": 3.0}, True),
    (True, {"a": 1}, True),
    (False, {}, False),
    ({"properties": {"a": False}}, {"a": 1}, False),
    (
        {"$defs": {"n": {"type": "object", "properties": {"c": {"$ref": "#/$defs/n"}}}}, "$ref": "#/$defs/n"},
        {"c": {"c": {"c": 1}}},
        False,
    ),
    (
        {"definitions": {"s": {"type": "string"}}, "properties": {"a": {"$ref": "#/definitions/s"}}},
        {"a": 1},
        False,
    ),
    ({"prefixItems": [{"type": "string"}], "items": False}, ["a", "b"], False),
    ({"properties": {"a": {}}, "unevaluatedProperties": False}, {"b": 1}, False),
    ({"oneOf": [{"type": "integer"}, {"type": "number"}]}, 2, False),
    ({"dependentRequired": {"a": ["b"]}}, {"a": 1}, False),
]


def load_schemas() -> list[tuple[str, Any]]:
    out: list[tuple[str, Any]] = []
    for f in sorted(CASES.glob("*/valid.jsonl")):
        for i, line in enumerate(f.read_text(encoding="utf-8").splitlines()):
            if line.strip():
                out.append((f"{f.parent.name}:{i + 1}", json.loads(line)))
    return out


def valid_examples(schema: Any, n: int) -> list[Any]:
    """Up to n instances the tests' schema-guided strategy draws (deterministic); mostly valid."""
    from hypothesis import HealthCheck, given, settings

    from testsupport.schema_instances import instances

    found: list[Any] = []

    @settings(
        max_examples=n,
        database=None,
        derandomize=True,
        deadline=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(instances(schema))
    def collect(value: Any) -> None:
        found.append(value)

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        collect()
    return found


def mutations(value: Any) -> list[Any]:
    """Copies a validator should usually reject: wrong types, a dropped key, an unknown key."""
    out: list[Any] = [None, "x", 1.0, [], {"__unknown__": 1}]
    if isinstance(value, dict):
        for key in list(value)[:4]:
            dropped = copy.deepcopy(value)
            del dropped[key]
            out.append(dropped)
            for wrong in (123, "s", None, [1], {"k": 1}, 1.0, True):
                changed = copy.deepcopy(value)
                changed[key] = wrong
                out.append(changed)
        extra = copy.deepcopy(value)
        extra["__unknown__"] = "v"
        out.append(extra)
    return out


def _refuse(uri: str) -> Any:
    raise ValueError(f"remote $ref {uri} is not fetched")


#: fastjsonschema would fetch a remote "$id"/"$ref" over the network; never let it.
NO_REMOTE = {"http": _refuse, "https": _refuse}


def candidates() -> dict[str, Callable[[Any], Callable[[Any], bool]]]:
    """name -> compile(schema) -> is_valid(instance); a candidate that is not installed is left out."""
    out: dict[str, Callable[[Any], Callable[[Any], bool]]] = {}
    try:
        import jsonschema

        def js(schema: Any) -> Callable[[Any], bool]:
            return jsonschema.Draft202012Validator(schema).is_valid  # type: ignore[no-any-return]

        out["jsonschema"] = js
    except ImportError:
        pass
    try:
        import jsonschema_rs

        def rs(schema: Any) -> Callable[[Any], bool]:
            return jsonschema_rs.Draft202012Validator(schema).is_valid  # type: ignore[no-any-return]

        out["jsonschema-rs"] = rs
    except ImportError:
        pass
    try:
        import fastjsonschema

        def fast(schema: Any) -> Callable[[Any], bool]:
            check = fastjsonschema.compile(schema, handlers=NO_REMOTE)

            def is_valid(instance: Any) -> bool:
                try:
                    check(instance)
                except fastjsonschema.JsonSchemaValueException:
                    return False
                return True

            return is_valid

        out["fastjsonschema"] = fast
    except ImportError:
        pass
    try:
        from kimi_toolparse.parsing.schemas import CompiledSchema

        def ours(schema: Any) -> Callable[[Any], bool]:
            compiled = CompiledSchema(schema)
            if compiled.broken:
                raise ValueError(compiled.broken)
            return compiled.is_valid

        out["kimi_toolparse.schemas"] = ours
    except ImportError:
        pass
    return out


def dist_facts(dist: str) -> tuple[float, list[str]]:
    """Installed size (MB) of a distribution and its runtime dependencies (names)."""
    d = md.distribution(dist)
    size = sum((f.size or 0) for f in d.files or [])
    deps = sorted(
        {
            r.split(";")[0].split("[")[0].split(">")[0].split("=")[0].split("<")[0].strip()
            for r in d.requires or []
            if "extra ==" not in r
        }
    )
    return size / 1e6, deps


def closure_size(dist: str) -> float:
    seen: set[str] = set()
    todo = [dist]
    total = 0.0
    while todo:
        name = todo.pop()
        key = name.lower().replace("_", "-")
        if key in seen:
            continue
        seen.add(key)
        try:
            size, deps = dist_facts(name)
        except md.PackageNotFoundError:
            continue
        total += size
        todo.extend(deps)
    return total


def import_ms(module: str) -> float:
    """Cumulative import time of the module in a fresh interpreter (``-X importtime``), best of 5."""
    best = float("inf")
    for _ in range(5):
        out = subprocess.run(
            [sys.executable, "-X", "importtime", "-c", f"import {module}"],
            check=True,
            capture_output=True,
            text=True,
        ).stderr
        for line in out.splitlines():
            parts = [p.strip() for p in line.split("|")]
            if len(parts) == 3 and parts[2] == module:
                best = min(best, int(parts[1]) / 1000)
    return best


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--examples", type=int, default=12, help="valid instances generated per schema")
    args = ap.parse_args()
    schemas = load_schemas()
    cands = candidates()
    if "jsonschema" not in cands:
        print("needs jsonschema (the reference verdict)", file=sys.stderr)
        return 2

    print(f"generating instances for {len(schemas)} schemas ...", file=sys.stderr)
    work: list[tuple[str, Any, list[Any]]] = []
    for name, schema in schemas:
        good = valid_examples(schema, args.examples)
        insts = list(good)
        for g in good[:3]:
            insts.extend(mutations(g))
        if not good:
            insts.extend(mutations({}))
        work.append((name, schema, insts))
    n_inst = sum(len(w[2]) for w in work)
    ref = cands["jsonschema"]
    verdicts = [[ref(s)(i) for i in insts] for _, s, insts in work]
    n_false = sum(v.count(False) for v in verdicts)
    print(f"{n_inst} instances ({n_inst - n_false} valid, {n_false} invalid by jsonschema)\n")

    dists = {
        "jsonschema": "jsonschema",
        "jsonschema-rs": "jsonschema_rs",
        "fastjsonschema": "fastjsonschema",
        "kimi_toolparse.schemas": "jsonschema_rs",
    }
    modules = {**dists, "kimi_toolparse.schemas": "jsonschema_rs", "jsonschema-rs": "jsonschema_rs"}
    rows = []
    for cname, compile_ in cands.items():
        agree_schemas = 0
        disagreements = 0
        compile_errors = 0
        examples: list[str] = []
        t_compile = 0.0
        t_validate = 0.0
        for (name, schema, insts), ref_v in zip(work, verdicts, strict=False):
            try:
                t = time.perf_counter()
                check = compile_(schema)
                t_compile += time.perf_counter() - t
            except Exception as e:
                compile_errors += 1
                examples.append(f"{name}: compile error {type(e).__name__}")
                continue
            ok = True
            best = float("inf")
            for _ in range(5):  # best of 5: the machine is shared
                t = time.perf_counter()
                got = []
                for inst in insts:
                    try:
                        got.append(check(inst))
                    except Exception:
                        got.append(None)
                best = min(best, time.perf_counter() - t)
            t_validate += best
            for inst, g, r in zip(insts, got, ref_v, strict=False):
                if g != r:
                    ok = False
                    disagreements += 1
                    if len(examples) < 4:
                        examples.append(f"{name}: {json.dumps(inst)[:60]} ref={r} got={g}")
            agree_schemas += ok
        probes_ok = 0
        for schema, inst, expected in PROBES:
            with contextlib.suppress(Exception):
                probes_ok += compile_(schema)(inst) == expected
        size, deps = dist_facts(dists[cname])
        rows.append(
            (
                cname,
                f"{agree_schemas}/{len(work)}",
                str(disagreements),
                str(compile_errors),
                f"{probes_ok}/{len(PROBES)}",
                f"{t_compile / len(work) * 1e6:.0f}",
                f"{t_validate / n_inst * 1e6:.1f}",
                f"{import_ms(modules[cname]):.0f}",
                f"{size:.2f}",
                f"{closure_size(dists[cname]):.2f}",
                ", ".join(deps) or "none",
            )
        )
        for e in examples[:4]:
            print(f"  {cname}: {e}", file=sys.stderr)

    head = (
        "validator",
        "schemas agreeing",
        "instances differing",
        "compile errors",
        "probes",
        "compile µs",
        "validate µs",
        "import ms",
        "size MB",
        "with deps MB",
        "dependencies",
    )
    print(table([head, *rows], markdown=True), end="")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
