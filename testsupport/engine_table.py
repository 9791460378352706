"""The README's comparison table: the conformance corpus through an engine's built-in Kimi parsers and ours.

Run in an engine's venv, from the repository root::

    .venv-vllm/bin/python -m testsupport.engine_table vllm
    .venv-sglang/bin/python -m testsupport.engine_table sglang

A vector passes a column when the client's message (content, reasoning, every call's id, name and
arguments, finish reason) is the spec's, in every run of that column: streamed one token per step and five
per step (vLLM) or one character and seven per chunk (SGLang), and not streamed. Prints one row per corpus
category, as a Markdown table. Ours runs with its tool and reasoning parsers on every vector; the engine's
``kimi_k2`` reasoning parser is only turned on for vectors with reasoning (it reads output without
``<think>`` as reasoning, so a K2-Instruct deployment would not use it).
"""

from __future__ import annotations

import sys
from collections import defaultdict
from collections.abc import Callable
from typing import Any

from testsupport.engine_corpus import expected_message, got_message, load, request_tools, token_steps


def _reasoning_parser(vec: dict[str, Any], parser: str) -> str | None:
    if parser == "kimi_toolparse" or vec["thinking"] or vec["expected"]["reasoning"] is not None:
        return parser
    return None


def _vllm_runs() -> tuple[dict[str, Callable[[dict[str, Any], str], bool]], list[dict[str, Any]]]:
    from kimi_toolparse import KimiVocabulary
    from kimi_toolparse.integrations.vllm_harness import vllm_chat
    from testsupport.paths import VOCAB_FILE

    vocab = KimiVocabulary.from_file(VOCAB_FILE)

    def check(vec: dict[str, Any], parser: str, per_step: int, stream: bool) -> bool:
        try:
            got = vllm_chat(
                token_steps(vocab, vec, per_step),
                vocabulary=vocab,
                tools=request_tools(vec),
                thinking=vec["thinking"],
                stream=stream,
                tool_parser=parser,
                reasoning_parser=_reasoning_parser(vec, parser),
            )
        except Exception:
            return False
        return got_message(got, stream=stream) == expected_message(vec, stream=stream)

    runs = {
        "streamed": lambda v, p: check(v, p, 1, True) and check(v, p, 5, True),
        "not streamed": lambda v, p: check(v, p, 1, False),
    }
    return runs, load()


def _sglang_runs() -> tuple[dict[str, Callable[[dict[str, Any], str], bool]], list[dict[str, Any]]]:
    from kimi_toolparse.integrations.sglang_harness import sglang_chat

    def check(vec: dict[str, Any], parser: str, size: int, stream: bool) -> bool:
        raw = vec["raw"]
        chunks = [raw] if size == 0 else [raw[i : i + size] for i in range(0, len(raw), size)]
        try:
            got = sglang_chat(
                chunks,
                tools=request_tools(vec),
                thinking=vec["thinking"],
                stream=stream,
                tool_parser=parser,
                reasoning_parser=_reasoning_parser(vec, parser),
            )
        except Exception:
            return False
        # SGLang's reasoning results are strings: an empty `<think></think>` and none look the same.
        return got_message(got, stream=True) == expected_message(vec, stream=True)

    runs = {
        "streamed": lambda v, p: check(v, p, 1, True) and check(v, p, 7, True),
        "not streamed": lambda v, p: check(v, p, 0, False),
    }
    return runs, [v for v in load() if not v["token_mode"]]


def main(argv: list[str]) -> int:
    if argv not in (["vllm"], ["sglang"]):
        print("usage: python -m testsupport.engine_table vllm|sglang", file=sys.stderr)
        return 2
    engine = argv[0]
    runs, vectors = _vllm_runs() if engine == "vllm" else _sglang_runs()
    parsers = ["kimi_k2", "kimi_toolparse"]
    passed: dict[tuple[str, str, str], int] = defaultdict(int)
    counts: dict[str, int] = defaultdict(int)
    for n, vec in enumerate(vectors, 1):
        print(f"\r{n}/{len(vectors)} {vec['id'][:50]:50}", end="", file=sys.stderr, flush=True)
        counts[vec["category"]] += 1
        for parser in parsers:
            for run, check in runs.items():
                if check(vec, parser):
                    passed[(vec["category"], parser, run)] += 1
    print(file=sys.stderr)
    head = ["category", "vectors"] + [f"{p}, {r}" for p in parsers for r in runs]
    print("| " + " | ".join(head) + " |")
    print("|---|" + "---:|" * (len(head) - 1))
    for category in [*sorted(counts), "all"]:
        total = sum(counts.values()) if category == "all" else counts[category]
        cells = [
            str(sum(passed[(c, p, r)] for c in counts) if category == "all" else passed[(category, p, r)])
            for p in parsers
            for r in runs
        ]
        print(f"| {category} | {total} | " + " | ".join(cells) + " |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
