"""``kimi-toolparse fuzz TARGET``: the command line of the differential fuzzer.

Prints each failure once (shrunk) with its quirk, raw text, chunking, expected and actual message and the
first difference, then a table of failures by quirk. Exit status 1 when anything failed, 0 when nothing
did, 2 on a usage error.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import TYPE_CHECKING, Any, TextIO

from ..cli_support import UsageError, table
from ..extras import missing_extra
from .quirks import QUIRKS

if TYPE_CHECKING:
    from .runner import Failure, QuirkResult
    from .targets import Target


__all__ = ["QUIRKS", "add_parser", "run"]


def add_parser(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Register ``fuzz`` on the main command line."""
    p = subparsers.add_parser(
        "fuzz",
        help="fuzz another Kimi K2 parser or server against the spec's answers",
        description=(
            "Differential fuzzing: draw Kimi K2 outputs with real-world quirks, run them through TARGET "
            "and compare with the message the spec says they parse to. TARGET is module:function (takes "
            "the text, or a 'chunks' or 'token_ids' parameter, and returns an OpenAI message or a list of "
            "stream chunks), 'vllm' or 'sglang' (the engine's built-in Kimi K2 parser), or 'url' with "
            "--url (a whole server, given a stand-in /v1/completions upstream on --upstream-port)."
        ),
        epilog="quirks: " + ", ".join(QUIRKS),
    )
    p.add_argument(
        "target", metavar="TARGET", nargs="?", help="module:function, vllm, sglang (or give --url)"
    )
    p.add_argument("--url", metavar="URL", help="a server's base URL, e.g. http://127.0.0.1:8000/v1")
    p.add_argument(
        "--upstream-port", type=int, metavar="P", help="with --url: the port of the stand-in upstream"
    )
    p.add_argument(
        "--model",
        metavar="NAME",
        help="with --url: the model name to request (default: the one model the server's /v1/models lists)",
    )
    p.add_argument(
        "--thinking",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="with --url: the server's prompt ends in <think> (or not); default: read from the model's "
        "template, so a thinking model's cases start inside reasoning",
    )
    p.add_argument("--examples", type=int, default=100, metavar="N", help="examples per quirk")
    p.add_argument("--seed", type=int, default=0, metavar="S", help="random seed")
    p.add_argument("--quirks", metavar="A,B", help=f"only these quirks (of {', '.join(QUIRKS)})")
    p.add_argument(
        "--stream",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="servers and engines: only streaming (--stream) or only not (--no-stream); default both",
    )
    p.add_argument(
        "--vocab",
        metavar="PATH",
        nargs="?",
        const=PACKAGED,
        help="the Kimi model directory or its tiktoken.model: token ids for every target (without PATH: the "
        "vocabulary that ships with the package, which token-id targets and vllm use by default)",
    )
    p.add_argument("--report", metavar="FILE.jsonl", help="also write each failure as one JSON line")
    p.set_defaults(handler=run)


def _quirks(spec: str | None) -> list[str]:
    if spec is None:
        return list(QUIRKS)
    chosen = [q.strip() for q in spec.split(",") if q.strip()]
    for q in chosen:
        if q not in QUIRKS:
            raise UsageError(f"unknown quirk {q!r}: choose from {', '.join(QUIRKS)}")
    if not chosen:
        raise UsageError("--quirks is empty")
    return chosen


#: ``--vocab`` without a path: the vocabulary that ships with the package.
PACKAGED = ""


def _vocab(path: str | None) -> Any:
    if path is None:
        return None
    from ..vocab import load_vocabulary

    try:
        vocab = load_vocabulary(path or None)
        vocab.tiktoken_encoding  # noqa: B018 (fails early when tiktoken is missing)
    except (OSError, ValueError, ImportError) as e:
        named = path or "(the packaged vocabulary)"
        raise UsageError(f"--vocab {named}: {' '.join(str(e).split())}") from None
    return vocab


def _target(args: argparse.Namespace, vocab: Any) -> Target:
    from .targets import callable_target

    if args.url is not None:
        if args.target not in (None, "url"):
            raise UsageError("give either TARGET or --url, not both")
        if args.upstream_port is None:
            raise UsageError("--url needs --upstream-port P: the port your server's upstream points at")
        from .server import url_target

        return url_target(
            args.url,
            args.upstream_port,
            model=args.model,
            vocab=vocab,
            thinking=args.thinking,
            notes=lambda note: print(f"kimi-toolparse: note: {note}", file=sys.stderr),
        )
    for flag, value in (("--upstream-port", args.upstream_port), ("--model", args.model)):
        if value is not None:
            raise UsageError(f"{flag} goes with --url")
    if args.thinking is not None:
        raise UsageError("--thinking goes with --url")
    if args.target is None:
        raise UsageError("give a TARGET (module:function, vllm, sglang) or --url")
    if args.target in ("vllm", "sglang"):
        from .engines import engine_target

        if vocab is None and args.target == "vllm":  # vLLM runs on token ids
            vocab = _vocab(PACKAGED)
        return engine_target(args.target, vocab)
    return callable_target(args.target)


def run(args: argparse.Namespace) -> int:
    """Fuzz the target; print failures and the summary table; 1 when anything failed."""
    if args.examples < 1:
        raise UsageError("--examples must be at least 1")
    try:
        from .runner import fuzz, stderr_progress
        from .targets import TargetError
    except ImportError as e:
        raise UsageError(str(missing_extra("fuzz", e.name or "hypothesis"))) from None
    quirks = _quirks(args.quirks)
    vocab = _vocab(args.vocab)
    try:
        target = _target(args, vocab)
    except TargetError as e:
        raise UsageError(str(e)) from None
    if vocab is None and target.mode == "token_ids":
        vocab = _vocab(PACKAGED)  # a target that takes token ids: the packaged vocabulary by default
    out = sys.stdout
    prompt = ""
    if target.prompt_thinking is not None:
        prompt = ", prompt ending in <think>" if target.prompt_thinking else ", prompt not ending in <think>"
    out.write(
        f"fuzzing {target.name} ({target.mode}{prompt}), {args.examples} examples per quirk, "
        f"seed {args.seed}\n\n"
    )
    try:
        results = fuzz(
            target,
            quirks=quirks,
            examples=args.examples,
            seed=args.seed,
            stream=args.stream,
            vocab=vocab,
            progress=stderr_progress,
        )
    except TargetError as e:
        raise UsageError(str(e)) from None
    finally:
        if target.close is not None:
            target.close()
    failures = _distinct([r.failure for r in results if r.failure is not None])
    for number, (failure, quirks_hit) in enumerate(failures, 1):
        _print_failure(number, failure, quirks_hit, target.streams, out)
    _print_table(results, out)
    if args.report:
        try:
            with open(args.report, "w", encoding="utf-8") as f:
                for r in results:
                    if r.failure is not None:
                        f.write(json.dumps(r.failure.to_json(), ensure_ascii=False) + "\n")
        except OSError as e:
            raise UsageError(f"cannot write {args.report}: {e.strerror or e}") from None
    failed = sum(r.failure is not None for r in results)
    out.write(
        f"\n{failed} of {len(results)} quirks failed\n"
        if failed
        else f"\nno failures in {len(results)} quirks\n"
    )
    return 1 if failed else 0


def _distinct(failures: list[Failure]) -> list[tuple[Failure, list[str]]]:
    """Each distinct failure once: the same input with the same difference (or the same error, whatever
    the input) is shown once for all its quirks."""
    seen: dict[tuple[str, str], tuple[Failure, list[str]]] = {}
    for f in failures:
        # the same error for every input (a wrong model name, say) is one failure
        key = ("", f.difference) if f.actual is None else (f.feed.case.raw, f.difference)
        if key in seen:
            seen[key][1].append(f.quirk)
        else:
            seen[key] = (f, [f.quirk])
    return list(seen.values())


def _json(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False)


def _print_failure(number: int, failure: Failure, quirks: list[str], streams: bool, out: TextIO) -> None:
    feed = failure.feed
    out.write(f"FAIL {number} [{', '.join(quirks)}] {failure.difference}\n")
    out.write(f"  raw:      {_json(feed.case.raw)}\n")
    if feed.stream and feed.steps is not None:
        out.write(f"  steps:    {_json([ids for _, ids in feed.steps])}\n")
    elif len(feed.chunks) > 1 and (feed.stream or not streams):
        out.write(f"  chunks:   {_json(feed.chunks)}\n")
    if feed.token_ids is not None and not (feed.stream and feed.steps is not None):
        out.write(f"  token ids: {_json(feed.token_ids)}\n")
    extras = []
    if feed.case.thinking:
        extras.append("thinking=True")
    if feed.case.tools is not None:
        extras.append("tools=" + ",".join(t["function"]["name"] for t in feed.case.tools))
    if feed.stream:
        extras.append("stream=True")
    if extras:
        out.write(f"  input:    {' '.join(extras)}\n")
    out.write(f"  expected: {_json(failure.expected)}\n")
    out.write(f"  actual:   {_json(failure.actual) if failure.actual is not None else '(no message)'}\n\n")


def _print_table(results: list[QuirkResult], out: TextIO) -> None:
    rows = [("quirk", "runs", "result", "first difference")]
    for r in results:
        diff = "" if r.failure is None else r.failure.difference
        if len(diff) > 70:
            diff = diff[:67] + "..."
        rows.append((r.quirk, str(r.examples), "FAIL" if r.failure else "ok", diff))
    out.write(table(rows))
