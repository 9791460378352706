"""Outputs for the grammar tests: canonical K2 turns built from real data, and the ways they go wrong."""

from __future__ import annotations

import glob
import json
from collections.abc import Iterator
from typing import Any

from tests.conftest import REFERENCE

SB, SE = "<|tool_calls_section_begin|>", "<|tool_calls_section_end|>"
CB, AB, CE = "<|tool_call_begin|>", "<|tool_call_argument_begin|>", "<|tool_call_end|>"
FORMATS = ("structural-tag", "ebnf", "gbnf")


def call(name: str, idx: int, arguments: str) -> str:
    """One call exactly as Kimi K2 writes it."""
    return f"{CB}functions.{name}:{idx}{AB}{arguments}{CE}"


def section(*calls: str) -> str:
    return SB + "".join(calls) + SE


def k2vv_requests() -> list[dict[str, Any]]:
    path = REFERENCE / "k2vv" / "requests.jsonl"
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def k2vv_responses() -> list[dict[str, Any]]:
    """The assistant message Kimi-K2-0905 answered to each request (same order as the requests)."""
    path = REFERENCE / "k2vv" / "results_openrouter_k2_0905.jsonl"
    out = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.strip():
            result = json.loads(line)
            choices = (result.get("response") or {}).get("choices") or [{}]
            out.append(choices[0].get("message") or {})
    return out


def schema_cases() -> list[tuple[str, Any]]:
    """The 212 real schemas: (suite:line, schema)."""
    root = REFERENCE / "json_schema_cases" / "validator_cases"
    out = []
    for path in sorted(glob.glob(str(root / "*" / "valid.jsonl"))):
        suite = path.split("/")[-2]
        with open(path, encoding="utf-8") as f:
            for n, line in enumerate(f, 1):
                if line.strip():
                    out.append((f"{suite}:{n}", json.loads(line)))
    return out


def strict(schema: Any) -> Any:
    """The schema as a model that writes only declared keys sees it: objects with ``properties`` and no
    say on other keys get ``additionalProperties: false`` (xgrammar's strict mode does the same)."""
    if isinstance(schema, list):
        return [strict(s) for s in schema]
    if not isinstance(schema, dict):
        return schema
    out = {k: strict(v) for k, v in schema.items()}
    if "properties" in out and not {
        "additionalProperties",
        "patternProperties",
        "unevaluatedProperties",
    } & set(out):
        out["additionalProperties"] = False
    return out


def canonical_k2vv() -> Iterator[tuple[int, dict[str, Any], str, list[tuple[str, str]]]]:
    """(request number, request, the model's real reply as raw K2 output, its calls as (id, arguments))."""
    for n, (request, reply) in enumerate(zip(k2vv_requests(), k2vv_responses(), strict=True)):
        history = sum(
            len(m.get("tool_calls") or []) for m in request["messages"] if m.get("role") == "assistant"
        )
        content = reply.get("content") or ""
        calls = []
        for j, c in enumerate(reply.get("tool_calls") or []):
            calls.append((f"functions.{c['function']['name']}:{history + j}", c["function"]["arguments"]))
        raw = content
        if calls:
            raw += section(*(f"{CB}{i}{AB}{a}{CE}" for i, a in calls))
        yield n, request, raw, calls
