"""Vendor verification: ``kimi-toolparse check`` (K2VV figures from a results file) and ``verify`` (collect
a results file from a live OpenAI-compatible endpoint, then check it).

The commands register through :func:`add_parser`; the work is in :mod:`.check` and :mod:`.verify`.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from typing import Any

from ..cli_support import UsageError
from .check import CheckReport, check_file, format_table, read_reference
from .verify import VerifyError, VerifySettings, run_verify

__all__ = ["CheckReport", "add_parser", "check_file", "run_check", "run_verify_command"]


def _reference(path: str | None) -> dict[Any, str] | None:
    if path is None:
        return None
    try:
        return read_reference(path)
    except OSError as e:
        raise UsageError(f"cannot read {path}: {e.strerror or e}") from None
    except UnicodeDecodeError:
        raise UsageError(f"{path} is not UTF-8 text") from None


def _report(report: CheckReport, as_json: bool, source: str) -> None:
    if as_json:
        sys.stdout.write(json.dumps(report.to_dict(), ensure_ascii=False) + "\n")
    else:
        format_table(report, sys.stdout, source)


def run_check(args: argparse.Namespace) -> int:
    """``check``: figures of a results file; exit 0 (the figures are the answer, whatever they are)."""
    reference = _reference(args.reference)
    try:
        report = check_file(args.results, reference, progress_to=sys.stderr)
    except OSError as e:
        raise UsageError(f"cannot read {args.results}: {e.strerror or e}") from None
    except UnicodeDecodeError:
        raise UsageError(f"{args.results} is not UTF-8 text") from None
    _report(report, args.json, os.path.basename(args.results))
    return 0


def run_verify_command(args: argparse.Namespace) -> int:
    """``verify``: send the requests, write the results file, then print the ``check`` table; the first
    error of each kind on stderr. Exit status 1 when no answer could be judged (no table then)."""
    api_key = None
    if args.api_key_env:
        api_key = os.environ.get(args.api_key_env)
        if api_key is None and args.api_key_env != "OPENAI_API_KEY":
            raise UsageError(f"the environment variable {args.api_key_env} is not set")
    reference = _reference(args.reference)
    settings = VerifySettings(
        base_url=args.base_url,
        requests=args.requests,
        out=args.out,
        model=args.model,
        api_key=api_key,
        concurrency=args.concurrency,
        timeout=args.timeout,
        retries=args.retries,
    )
    try:
        stats = run_verify(settings, progress_to=sys.stderr)
    except VerifyError as e:
        raise UsageError(str(e)) from None
    for number, error in stats.malformed:
        sys.stderr.write(f"kimi-toolparse: {args.requests} line {number} skipped: {error}\n")
    for kind, (count, number, error) in stats.errors.items():
        first = " ".join(error.split())
        first = first if len(first) <= 300 else first[:297] + "..."
        sys.stderr.write(
            f"kimi-toolparse: {count} {'request' if count == 1 else 'requests'} failed with {kind}; "
            f"the first, line {number}: {first}\n"
        )
    sys.stderr.write(
        f"verify: {stats.total} requests, {stats.skipped} already done, {stats.succeeded} answered, "
        f"{stats.failed} failed, {stats.retried} retries, {len(stats.malformed)} malformed lines\n"
    )
    if not stats.judged:
        why = "every request failed (above: the first error of each kind)"
        if not stats.total:
            why = f"{args.requests} holds no request"
        sys.stderr.write(f"kimi-toolparse: no answer to judge: {why}\n")
        return 1
    report = check_file(settings.out, reference)
    _report(report, args.json, os.path.basename(settings.out))
    return 0


def add_parser(subparsers: Any) -> None:
    """Register ``check`` and ``verify`` (the parser class comes from the ``subparsers`` action)."""
    p = subparsers.add_parser(
        "check",
        help="K2 Vendor Verifier figures of a results file (schema accuracy, tool-call F1)",
        description=(
            "Read a K2VV results file (one JSON object per line: request with tools, response) or raw "
            "outputs with their request ({'request': ..., 'output': '...'}), and print schema accuracy, "
            "and with --reference the tool-call precision, recall and F1, plus the failing calls by cause."
        ),
    )
    p.add_argument("results", metavar="RESULTS.jsonl", help="the results file")
    p.add_argument(
        "--reference", metavar="REF.jsonl", help="a reference results file (e.g. the official API's)"
    )
    p.add_argument("--json", action="store_true", help="print the figures as one JSON object (K2VV's names)")
    p.set_defaults(handler=run_check)

    v = subparsers.add_parser(
        "verify",
        help="send K2VV requests to an OpenAI-compatible endpoint and check the answers",
        description=(
            "Send the chat requests of FILE (K2VV's requests.jsonl, or any file of chat requests) to a live "
            "endpoint, write a K2VV results file as answers arrive (a rerun skips what is done), then print "
            "the check table. Needs the verify extra (httpx). The first error of each kind (an HTTP "
            "status with its error code, a timeout, ...) is printed on stderr."
        ),
        epilog=(
            "exit status: 0 the answers were checked and the table printed (requests that failed are "
            "counted in it and listed on stderr); 1 no answer could be judged (every request failed, or "
            "the file holds none): no table; 2 bad usage (an argument, an unreadable file, an endpoint "
            "that does not answer at all)."
        ),
    )
    v.add_argument("--base-url", required=True, metavar="URL", help="e.g. http://127.0.0.1:8000/v1")
    v.add_argument("--requests", required=True, metavar="FILE", help="the requests, one JSON object per line")
    v.add_argument("--out", required=True, metavar="FILE", help="the results file (appended, then rewritten)")
    v.add_argument("--model", metavar="M", help="the model name to send (replaces the requests')")
    v.add_argument(
        "--api-key-env",
        default="OPENAI_API_KEY",
        metavar="VAR",
        help="the environment variable holding the API key (default OPENAI_API_KEY; none sent if unset)",
    )
    v.add_argument("--concurrency", type=int, default=5, metavar="N", help="requests in flight at most")
    v.add_argument("--timeout", type=float, default=600.0, metavar="S", help="seconds per request")
    v.add_argument("--retries", type=int, default=3, metavar="N", help="retries on errors, 429 and 5xx")
    v.add_argument(
        "--reference", metavar="REF.jsonl", help="a reference results file for precision/recall/F1"
    )
    v.add_argument("--json", action="store_true", help="print the figures as one JSON object")
    v.set_defaults(handler=run_verify_command)
