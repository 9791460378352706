"""``kimi-toolparse check``: K2 Vendor Verifier figures (schema accuracy, tool-call precision/recall/F1)
from a results file, with the failing calls grouped by cause.

A results line is K2VV's (``data_index``, ``request`` with its ``tools``, ``response``, ``status``,
``finish_reason``), or a raw model output with its request (``{"request": {...}, "output": "..."}``, parsed
here with the request's tools). Definitions follow K2VV: a response counts for schema accuracy when its
``finish_reason`` is ``tool_calls``; it is valid when it has calls and every call names a declared tool
with arguments that are a JSON object valid against that tool's schema (:meth:`Tools.check_call`).
"""

from __future__ import annotations

import json
import os
import sys
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, BinaryIO, TextIO

from kimi_toolparse import CallProblem, Code, Tools, parse

from ..cli_support import table
from .progress import Progress

__all__ = ["CheckReport", "Failure", "check_file", "check_lines", "format_table", "read_reference"]

#: Causes of a failing tool-call response, in the order the table lists them.
CAUSES = {
    "no_tool_calls": "finish_reason tool_calls without any call",
    Code.UNKNOWN_TOOL.value: "calls a tool the request did not declare",
    Code.UNRESOLVED_NAME.value: "a call without a function name",
    Code.INVALID_JSON.value: "arguments that are not JSON",
    Code.ARGUMENTS_NOT_OBJECT.value: "arguments that are not an object",
    Code.SCHEMA_VIOLATION.value: "arguments that break the tool's schema",
    Code.SCHEMA_UNCHECKED.value: "a tool schema that cannot be checked",
    "bad_tools": "the request's tools cannot be read",
}


@dataclass
class Failure:
    """One failing tool-call response: where it is, its cause, and each failing call's problems."""

    line: int
    data_index: Any
    cause: str
    calls: list[dict[str, Any]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {"line": self.line, "data_index": self.data_index, "cause": self.cause, "calls": self.calls}


@dataclass
class CheckReport:
    """K2VV's counts and figures for one results file (names as K2VV's summary and README use them)."""

    lines: int = 0
    malformed: list[tuple[int, str]] = field(default_factory=list)
    success_count: int = 0
    failure_count: int = 0
    finish_reasons: Counter[str] = field(default_factory=Counter)
    count_finish_reason_tool_calls: int = 0
    count_successful_tool_call: int = 0
    failures: list[Failure] = field(default_factory=list)
    #: data_index -> finish reason of the successful responses (for the trigger comparison).
    finish_by_index: dict[Any, str] = field(default_factory=dict)
    tp: int = 0
    fp: int = 0
    fn: int = 0
    tn: int = 0
    compared: int | None = None

    @property
    def schema_accuracy(self) -> float | None:
        if not self.count_finish_reason_tool_calls:
            return None
        return self.count_successful_tool_call / self.count_finish_reason_tool_calls

    @property
    def tool_call_precision(self) -> float | None:
        return self.tp / (self.tp + self.fp) if self.compared is not None and self.tp + self.fp else None

    @property
    def tool_call_recall(self) -> float | None:
        return self.tp / (self.tp + self.fn) if self.compared is not None and self.tp + self.fn else None

    @property
    def tool_call_f1(self) -> float | None:
        p, r = self.tool_call_precision, self.tool_call_recall
        if p is None or r is None or p + r == 0:
            return None
        return 2 * p * r / (p + r)

    def compare(self, reference: Mapping[Any, str]) -> None:
        """Trigger similarity against a reference's finish reasons, matched by ``data_index``.

        Only indexes answered successfully in both files count; ``tool_calls`` is positive, anything else
        (``stop``, ``length``, ...) negative, as K2VV defines TP, FP, FN and TN.
        """
        self.tp = self.fp = self.fn = self.tn = 0
        self.compared = 0
        for index, mine in self.finish_by_index.items():
            theirs = reference.get(index)
            if theirs is None:
                continue
            self.compared += 1
            a, b = mine == "tool_calls", theirs == "tool_calls"
            if a and b:
                self.tp += 1
            elif a:
                self.fp += 1
            elif b:
                self.fn += 1
            else:
                self.tn += 1

    def to_dict(self) -> dict[str, Any]:
        others = {k: v for k, v in self.finish_reasons.items() if k not in ("stop", "tool_calls")}
        out: dict[str, Any] = {
            "schema_accuracy": self.schema_accuracy,
            "count_finish_reason_tool_calls": self.count_finish_reason_tool_calls,
            "count_successful_tool_call": self.count_successful_tool_call,
            "schema_validation_error_count": self.count_finish_reason_tool_calls
            - self.count_successful_tool_call,
            "success_count": self.success_count,
            "failure_count": self.failure_count,
            "finish_stop": self.finish_reasons.get("stop", 0),
            "finish_tool_calls": self.finish_reasons.get("tool_calls", 0),
            "finish_others": sum(others.values()),
            "finish_others_detail": others,
            "lines": self.lines,
            "malformed_lines": [{"line": n, "error": e} for n, e in self.malformed],
        }
        if self.compared is not None:
            out.update(
                {
                    "tool_call_precision": self.tool_call_precision,
                    "tool_call_recall": self.tool_call_recall,
                    "tool_call_f1": self.tool_call_f1,
                    "tp": self.tp,
                    "fp": self.fp,
                    "fn": self.fn,
                    "tn": self.tn,
                    "compared": self.compared,
                }
            )
        out["failures"] = [f.to_dict() for f in self.failures]
        return out


class _ToolCache:
    """Compiled tool lists, shared by the lines that declare the same tools (compile once per list)."""

    def __init__(self) -> None:
        self._cache: dict[str, Tools] = {}

    def get(self, tools: Any) -> Tools:
        key = json.dumps(tools, sort_keys=True, ensure_ascii=False)
        found = self._cache.get(key)
        if found is None:
            if len(self._cache) > 4096:
                self._cache.clear()
            found = self._cache[key] = Tools(tools or [])
        return found


def _decode_arguments(arguments: Any) -> tuple[bool, Any]:
    if not isinstance(arguments, str):  # K2VV accepts an already-decoded object
        return True, arguments
    try:
        return True, json.loads(arguments)
    except (ValueError, RecursionError):
        return False, None


def _problem_dict(index: int, name: Any, problem: CallProblem) -> dict[str, Any]:
    return {"index": index, "name": name, **problem.to_dict()}


def _response_calls(row: Mapping[str, Any]) -> tuple[str | None, list[Any]]:
    """finish_reason and tool calls of a K2VV result line's response."""
    response = row.get("response")
    choices = response.get("choices") if isinstance(response, Mapping) else None
    if not isinstance(choices, list) or not choices or not isinstance(choices[0], Mapping):
        finish = row.get("finish_reason")
        return (finish if isinstance(finish, str) else None), []
    choice = choices[0]
    finish = choice.get("finish_reason")
    message = choice.get("message")
    calls = message.get("tool_calls") if isinstance(message, Mapping) else None
    return (finish if isinstance(finish, str) else None), (calls if isinstance(calls, list) else [])


def _check_row(row: Mapping[str, Any], line: int, report: CheckReport, cache: _ToolCache) -> None:
    request = row.get("request")
    if not isinstance(request, Mapping):
        raise ValueError("no 'request' object")
    data_index = row.get("data_index", line)
    raw = row.get("output", row.get("raw"))
    if isinstance(raw, str):  # a raw model output: parse it with the request's tools
        status = "success"
        try:
            tools: Tools | None = cache.get(request.get("tools") or [])
        except (TypeError, ValueError):
            tools = None
        message = parse(raw, tools=tools, thinking=bool(row.get("thinking", False)))
        finish: str | None = message.finish_reason
        calls: list[Any] = [c.to_openai() for c in message.tool_calls if c.name is not None]
        unnamed = [c for c in message.tool_calls if c.name is None]
    elif "response" in row:
        status = row.get("status", "success")
        finish, calls = _response_calls(row)
        unnamed = []
    else:
        raise ValueError("neither a 'response' nor a raw 'output'")

    if status != "success":
        report.failure_count += 1
        return
    report.success_count += 1
    report.finish_reasons[finish or "none"] += 1
    report.finish_by_index[data_index] = finish or "none"
    if finish != "tool_calls":
        return
    report.count_finish_reason_tool_calls += 1
    if not calls:
        report.failures.append(Failure(line, data_index, "no_tool_calls"))
        return
    try:
        tools = cache.get(request.get("tools") or [])
    except (TypeError, ValueError) as e:
        report.failures.append(Failure(line, data_index, "bad_tools", [{"message": str(e)}]))
        return
    problems: list[dict[str, Any]] = []
    for i, call in enumerate(calls):
        fn = call.get("function") if isinstance(call, Mapping) else None
        name = fn.get("name") if isinstance(fn, Mapping) else None
        ok, value = _decode_arguments(fn.get("arguments") if isinstance(fn, Mapping) else None)
        found = tools.check_call(name if isinstance(name, str) and name else None, ok, value)
        problems.extend(_problem_dict(i, name, p) for p in found)
    for c in unnamed:
        problems.append(_problem_dict(c.index, None, CallProblem(Code.UNRESOLVED_NAME, f"id {c.id!r}")))
    if not problems:
        report.count_successful_tool_call += 1
        return
    cause = min((p["code"] for p in problems), key=list(CAUSES).index)
    report.failures.append(Failure(line, data_index, cause, problems))


def check_lines(
    lines: Iterable[str | bytes], total: int | None = None, progress: Progress | None = None
) -> CheckReport:
    """Check results lines; a malformed line is counted with its number and never stops the run."""
    report = CheckReport()
    cache = _ToolCache()
    for number, text in enumerate(lines, 1):
        if progress is not None:
            progress.step(number, total)
        if not text.strip():
            continue
        report.lines += 1
        try:
            row = json.loads(text)
            if not isinstance(row, Mapping):
                raise ValueError("not a JSON object")
            _check_row(row, number, report, cache)
        except (ValueError, TypeError, AttributeError, RecursionError) as e:
            report.malformed.append((number, _one_line(e)))
    if progress is not None:
        progress.done()
    return report


def _one_line(e: BaseException) -> str:
    text = " ".join(str(e).split())
    return text[:200] or type(e).__name__


def check_file(
    path: str, reference: Mapping[Any, str] | None = None, progress_to: TextIO | None = None
) -> CheckReport:
    """Check a results file (read line by line; a progress bar on ``progress_to`` when it is a terminal).

    Lines are decoded one by one, so a line that is not UTF-8 is a malformed line like any other.
    """
    with open(path, "rb") as f:
        size = os.fstat(f.fileno()).st_size
        progress = Progress("check", progress_to, total_bytes=size) if progress_to is not None else None
        report = check_lines(_tracked(f, progress), None, progress)
    if reference is not None:
        report.compare(reference)
    return report


def _tracked(f: BinaryIO, progress: Progress | None) -> Iterator[bytes]:
    read = 0
    for line in f:
        read += len(line)
        if progress is not None:
            progress.bytes_read = read
        yield line


def read_reference(path: str) -> dict[Any, str]:
    """The finish reasons of a reference results file's successful responses, by ``data_index``."""
    report = check_file(path)
    return report.finish_by_index


def _pct(value: float | None) -> str:
    return "n/a" if value is None else f"{value * 100:.2f}%"


def format_table(report: CheckReport, out: TextIO = sys.stdout, source: str = "") -> None:
    """The figures, then the failing responses grouped by cause, as tables a person reads."""
    rows = [
        ("responses (lines)", str(report.lines)),
        ("requests that failed (status)", str(report.failure_count)),
        ("malformed lines", str(len(report.malformed))),
        (
            "finish_reason tool_calls (count_finish_reason_tool_calls)",
            str(report.count_finish_reason_tool_calls),
        ),
        ("valid tool-call responses (count_successful_tool_call)", str(report.count_successful_tool_call)),
        ("schema_accuracy", _pct(report.schema_accuracy)),
    ]
    if report.compared is not None:
        rows += [
            ("compared with the reference (by data_index)", str(report.compared)),
            ("TP / FP / FN / TN", f"{report.tp} / {report.fp} / {report.fn} / {report.tn}"),
            ("tool_call_precision", _pct(report.tool_call_precision)),
            ("tool_call_recall", _pct(report.tool_call_recall)),
            ("tool_call_f1", _pct(report.tool_call_f1)),
        ]
    finishes = ", ".join(f"{k} {v}" for k, v in report.finish_reasons.most_common())
    rows.append(("finish reasons", finishes or "none"))
    _table(("figure", source or "value"), rows, out)
    if report.failures:
        out.write("\nfailing tool-call responses by cause\n")
        by_cause: dict[str, list[Failure]] = {}
        for f in report.failures:
            by_cause.setdefault(f.cause, []).append(f)
        _table(
            ("cause", "responses", "what"),
            [(c, str(len(by_cause[c])), CAUSES.get(c, c)) for c in CAUSES if c in by_cause],
            out,
        )
        out.write("\n")
        detail = []
        for f in report.failures:
            for p in f.calls or [{"message": CAUSES[f.cause]}]:
                where = f"{p.get('path', '')} {p.get('keyword', '')}".strip()
                detail.append(
                    (
                        str(f.data_index),
                        str(f.line),
                        str(p.get("name", "")),
                        str(p.get("code", f.cause)),
                        where,
                        _short(str(p.get("message", ""))),
                    )
                )
        _table(("data_index", "line", "tool", "code", "where", "message"), detail, out)
    if report.malformed:
        out.write("\nmalformed lines\n")
        _table(("line", "error"), [(str(n), e) for n, e in report.malformed], out)


def _short(text: str, width: int = 70) -> str:
    text = " ".join(text.split())
    return text if len(text) <= width else text[: width - 3] + "..."


def _table(head: tuple[str, ...], rows: Sequence[tuple[str, ...]], out: TextIO) -> None:
    out.write(table([head, *rows], markdown=True))
