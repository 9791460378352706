"""``kimi-toolparse check`` and ``verify``: figures against an independent count on the K2VV files and on a
copy broken on purpose; ``verify`` against a stand-in OpenAI endpoint (its own process, on 127.0.0.1)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from kimi_toolparse.cli import main
from kimi_toolparse.verification.verify import error_kind
from testsupport.gateway import free_port, gateway

from ..conftest import REFERENCE, ROOT

jsonschema = pytest.importorskip("jsonschema", reason="the independent count needs jsonschema (test extra)")

K2VV = REFERENCE / "k2vv"
RESULTS = K2VV / "results_openrouter_k2_0905.jsonl"


def independent_count(rows: list[dict[str, Any]]) -> dict[str, int]:
    """K2VV's counts, written out here with jsonschema, to hold the command to."""
    out = {"tool_calls": 0, "valid": 0, "failed": 0, "success": 0}
    for row in rows:
        if row["status"] != "success":
            out["failed"] += 1
            continue
        out["success"] += 1
        choice = row["response"]["choices"][0]
        if choice["finish_reason"] != "tool_calls":
            continue
        out["tool_calls"] += 1
        tools = {t["function"]["name"]: t["function"].get("parameters") for t in row["request"]["tools"]}
        ok = bool(choice["message"].get("tool_calls"))
        for call in choice["message"].get("tool_calls") or []:
            name = call["function"]["name"]
            try:
                args = json.loads(call["function"]["arguments"])
            except ValueError:
                ok = False
                continue
            ok = ok and name in tools and isinstance(args, dict)
            ok = ok and jsonschema.Draft202012Validator(tools.get(name) or {}).is_valid(args)
        out["valid"] += ok
    return out


def run_cli(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = main(args)
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def load_rows() -> list[dict[str, Any]]:
    return [json.loads(line) for line in RESULTS.read_text(encoding="utf-8").splitlines()]


def test_check_k2vv_results_matches_an_independent_count(capsys: pytest.CaptureFixture[str]) -> None:
    rows = load_rows()
    want = independent_count(rows)
    code, out, err = run_cli(["check", str(RESULTS), "--json"], capsys)
    assert code == 0 and err == ""
    got = json.loads(out)  # nothing but JSON on stdout
    assert got["count_finish_reason_tool_calls"] == want["tool_calls"] == 30
    assert got["count_successful_tool_call"] == want["valid"]
    assert got["schema_accuracy"] == want["valid"] / want["tool_calls"]
    assert got["success_count"] == want["success"] and got["failure_count"] == want["failed"]
    assert got["finish_tool_calls"] + got["finish_stop"] + got["finish_others"] == want["success"]
    assert "tool_call_f1" not in got  # only with a reference


def break_copy(rows: list[dict[str, Any]], path: Path) -> dict[str, Any]:
    """Three tool-call responses broken (unknown name, cut JSON, wrong type), one line of garbage."""
    rows = json.loads(json.dumps(rows))
    calls = [
        r
        for r in rows
        if r["status"] == "success" and r["response"]["choices"][0]["finish_reason"] == "tool_calls"
    ]
    unknown, cut, wrong = calls[0], calls[1], None
    unknown["response"]["choices"][0]["message"]["tool_calls"][0]["function"]["name"] = "no_such_tool"
    fn = cut["response"]["choices"][0]["message"]["tool_calls"][0]["function"]
    fn["arguments"] = fn["arguments"][: len(fn["arguments"]) // 2]
    for r in calls[2:]:
        tc = r["response"]["choices"][0]["message"]["tool_calls"][0]["function"]
        params = next(
            t["function"]["parameters"] for t in r["request"]["tools"] if t["function"]["name"] == tc["name"]
        )
        args = json.loads(tc["arguments"])
        typed = {k: params.get("properties", {}).get(k, {}).get("type") for k in args}
        key = next((k for k, t in typed.items() if isinstance(t, str)), None)
        if key is not None:
            args[key] = 12345 if typed[key] == "string" else "not the right type"
            tc["arguments"] = json.dumps(args)
            wrong = (r, key)
            break
    assert wrong is not None
    lines = [json.dumps(r, ensure_ascii=False) for r in rows]
    lines.insert(5, "{this is not json")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return {
        "unknown": unknown["data_index"],
        "cut": cut["data_index"],
        "wrong": wrong[0]["data_index"],
        "key": wrong[1],
    }


def test_check_on_a_copy_broken_on_purpose(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rows = load_rows()
    broken = tmp_path / "broken.jsonl"
    which = break_copy(rows, broken)
    code, out, _ = run_cli(["check", str(broken), "--json"], capsys)
    got = json.loads(out)
    want = independent_count([json.loads(x) for x in broken.read_text().splitlines() if x.startswith('{"')])
    assert code == 0
    assert got["count_finish_reason_tool_calls"] == want["tool_calls"] == 30
    assert got["count_successful_tool_call"] == want["valid"] == 27
    assert got["malformed_lines"] == [{"line": 6, "error": got["malformed_lines"][0]["error"]}]
    causes = {f["data_index"]: f for f in got["failures"]}
    assert causes[which["unknown"]]["cause"] == "unknown_tool"
    assert causes[which["cut"]]["cause"] == "invalid_json"
    wrong = causes[which["wrong"]]
    assert wrong["cause"] == "schema_violation"
    assert wrong["calls"][0]["path"] == f"$.{which['key']}" and wrong["calls"][0]["keyword"] == "type"
    # the table groups the same causes, and names the malformed line
    code, table, _ = run_cli(["check", str(broken)], capsys)
    assert "| schema_accuracy" in table and "90.00%" in table
    for cause in ("unknown_tool", "invalid_json", "schema_violation"):
        assert f"| {cause}" in table
    assert "malformed lines" in table and "| 6 " in table


def test_check_with_a_reference_gives_trigger_figures(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rows = load_rows()
    mine = json.loads(json.dumps(rows))
    to_stop = next(r for r in mine if r["finish_reason"] == "tool_calls")
    to_stop["response"]["choices"][0]["finish_reason"] = "stop"  # a missed call: FN
    to_calls = next(r for r in mine if r["finish_reason"] == "stop")
    to_calls["response"]["choices"][0]["finish_reason"] = "tool_calls"  # a call out of nowhere: FP, no calls
    path = tmp_path / "mine.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in mine), encoding="utf-8")
    _code, out, _ = run_cli(["check", str(path), "--reference", str(RESULTS), "--json"], capsys)
    got = json.loads(out)
    assert (got["tp"], got["fp"], got["fn"]) == (29, 1, 1)
    assert got["tool_call_precision"] == pytest.approx(29 / 30)
    assert got["tool_call_recall"] == pytest.approx(29 / 30)
    assert got["tool_call_f1"] == pytest.approx(29 / 30)
    assert got["compared"] == 98  # the failed request is compared with nothing
    assert [f["cause"] for f in got["failures"]] == ["no_tool_calls"]


def test_check_reads_raw_outputs_with_their_request(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    tools = [
        {
            "type": "function",
            "function": {
                "name": "get_weather",
                "parameters": {
                    "type": "object",
                    "properties": {"city": {"type": "string"}},
                    "required": ["city"],
                },
            },
        }
    ]
    call = (
        "<|tool_calls_section_begin|><|tool_call_begin|>functions.get_weather:0<|tool_call_argument_begin|>"
        "{}<|tool_call_end|><|tool_calls_section_end|>"
    )
    lines = [
        {"request": {"tools": tools}, "output": call.replace("{}", '{"city": "Rome"}')},
        {"request": {"tools": tools}, "output": call},  # misses "city"
        {"request": {"tools": tools}, "output": "Sunny."},
        {"request": {"tools": tools}},  # neither response nor output
    ]
    path = tmp_path / "raw.jsonl"
    path.write_text("".join(json.dumps(x) + "\n" for x in lines), encoding="utf-8")
    _, out, _ = run_cli(["check", str(path), "--json"], capsys)
    got = json.loads(out)
    assert (got["count_finish_reason_tool_calls"], got["count_successful_tool_call"]) == (2, 1)
    assert got["failures"][0]["calls"][0]["keyword"] == "required"
    assert [m["line"] for m in got["malformed_lines"]] == [4]


def test_check_missing_file_is_one_line(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    code, out, err = run_cli(["check", str(tmp_path / "nope.jsonl")], capsys)
    assert code == 2 and out == ""
    assert err.startswith("kimi-toolparse: cannot read") and err.count("\n") == 1


# --- verify against a stand-in endpoint --------------------------------------------------------------------

pytest.importorskip("httpx", reason="verify needs httpx (the verify extra, in the test extra)")

TOOLS = [
    {
        "type": "function",
        "function": {
            "name": "get_weather",
            "parameters": {
                "type": "object",
                "properties": {"city": {"type": "string"}},
                "required": ["city"],
            },
        },
    }
]
TAGS = [
    "good",
    "good",
    "stop",
    "unknown-tool",
    "cut-json",
    "wrong-type",
    "flaky",
    "rate-limited",
    "bad-request",
    "slow",
    "slow",
    "slow",
    "slow",
]


class Standin:
    def __init__(self, *extra: str) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, str(ROOT / "testsupport" / "standin_openai.py"), *extra],
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        assert line.startswith("PORT "), line
        self.url = f"http://127.0.0.1:{int(line.split()[1])}/v1"

    def stats(self) -> dict[str, Any]:
        import httpx

        return httpx.get(self.url + "/stats").json()  # type: ignore[no-any-return]

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(timeout=10)


@pytest.fixture
def standin() -> Iterator[Standin]:
    server = Standin()
    yield server
    server.stop()


def write_requests(path: Path) -> None:
    lines = []
    for i, tag in enumerate(TAGS):
        lines.append(
            json.dumps(
                {
                    "model": "kimi",
                    "stream": i % 2 == 0,
                    "tools": TOOLS,
                    "messages": [
                        {"role": "_input", "content": "be brief"},
                        {"role": "user", "content": f"weather? #{i} [{tag}]"},
                    ],
                }
            )
        )
    lines.insert(3, "not json at all")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def test_verify_against_a_standin_endpoint(
    standin: Standin, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("STANDIN_KEY", "sk-test")
    requests, out = tmp_path / "requests.jsonl", tmp_path / "results.jsonl"
    write_requests(requests)
    args = [
        "verify",
        "--base-url",
        standin.url,
        "--requests",
        str(requests),
        "--out",
        str(out),
        "--concurrency",
        "3",
        "--retries",
        "1",
        "--api-key-env",
        "STANDIN_KEY",
        "--model",
        "kimi-k2",
        "--json",
    ]
    code, stdout, err = run_cli(args, capsys)
    assert code == 0
    figures = json.loads(stdout)
    assert "line 4 skipped" in err
    # 13 requests: 2 failed (429 after the retry, 400); 11 answered, of which 10 end in tool calls
    assert (figures["success_count"], figures["failure_count"]) == (11, 2)
    assert figures["count_finish_reason_tool_calls"] == 10
    assert figures["count_successful_tool_call"] == 7  # good x2, flaky (after a retry), slow x4
    assert sorted(f["cause"] for f in figures["failures"]) == [
        "invalid_json",
        "schema_violation",
        "unknown_tool",
    ]
    rows = [json.loads(x) for x in out.read_text().splitlines()]
    assert [r["data_index"] for r in rows] == [n for n in range(1, 15) if n != 4]
    assert all(r["request"]["model"] == "kimi-k2" for r in rows)
    assert all(m["role"] != "_input" for r in rows for m in r["request"]["messages"])
    by_tag: dict[str, dict[str, Any]] = {}
    for r in rows:  # the first request of each tag
        by_tag.setdefault(r["request"]["messages"][-1]["content"].split("[")[1].rstrip("]"), r)
    assert by_tag["flaky"]["status"] == "success" and by_tag["flaky"]["tool_calls_valid"] is True
    assert (
        by_tag["rate-limited"]["status"] == "failed" and "429" in by_tag["rate-limited"]["response"]["error"]
    )
    assert by_tag["wrong-type"]["tool_calls_valid"] is False
    streamed = by_tag["good"]  # index 0: streamed, accumulated into one completion
    assert streamed["request"]["stream"] is True
    assert (
        streamed["response"]["choices"][0]["message"]["tool_calls"][0]["function"]["arguments"]
        == '{"city": "Rome"}'
    )
    stats = standin.stats()
    assert 2 <= stats["max_in_flight"] <= 3  # bounded, and used
    assert stats["auth"] == ["Bearer sk-test"]
    assert (
        stats["hits"]["rate-limited"] == 2
        and stats["hits"]["bad-request"] == 1
        and stats["hits"]["flaky"] == 2
    )

    # A rerun skips what succeeded and sends only the failures again.
    code, stdout, err = run_cli(args, capsys)
    assert code == 0 and "11 already done" in err
    after = standin.stats()["hits"]
    assert after["good"] == stats["hits"]["good"] and after["slow"] == stats["hits"]["slow"]
    assert after["rate-limited"] == 4 and after["bad-request"] == 2
    assert json.loads(stdout)["count_successful_tool_call"] == 7
    assert len(out.read_text().splitlines()) == 13


def test_verify_resumes_after_an_interrupted_run(
    standin: Standin, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    requests, out = tmp_path / "requests.jsonl", tmp_path / "results.jsonl"
    write_requests(requests)
    args = [
        "verify",
        "--base-url",
        standin.url,
        "--requests",
        str(requests),
        "--out",
        str(out),
        "--retries",
        "0",
        "--json",
    ]
    run_cli(args, capsys)
    rows = out.read_text().splitlines()
    out.write_text(
        "\n".join(rows[:5]) + "\n" + rows[5][:40], encoding="utf-8"
    )  # cut mid-line, as a kill would
    before = sum(standin.stats()["hits"].values())
    code, _, err = run_cli(args, capsys)
    assert code == 0
    done = sum(1 for r in rows[:5] if json.loads(r)["status"] == "success")
    assert f"{done} already done" in err
    assert sum(standin.stats()["hits"].values()) - before == 13 - done
    assert len(out.read_text().splitlines()) == 13


def test_verify_unreachable_endpoint_is_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    import socket

    with socket.socket() as s:  # a port nothing listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    requests = tmp_path / "requests.jsonl"
    write_requests(requests)
    code, out, err = run_cli(
        [
            "verify",
            "--base-url",
            f"http://127.0.0.1:{port}/v1",
            "--requests",
            str(requests),
            "--out",
            str(tmp_path / "r.jsonl"),
            "--retries",
            "0",
        ],
        capsys,
    )
    assert code == 2 and out == ""
    assert err.startswith("kimi-toolparse: cannot reach") and err.count("\n") == 1


def test_verify_against_a_dead_model_name_says_why_and_fails(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Issue 15: every request refused (404 model_not_found from a real gateway): the first error of that
    kind on stderr, no table, exit status 1."""
    pytest.importorskip("uvicorn", reason="the gateway needs the serve extra")
    requests, out = tmp_path / "requests.jsonl", tmp_path / "results.jsonl"
    write_requests(requests)
    # the gateway serves kimi-k2.5; its upstream is never reached, since the model name is refused first
    with gateway(f"http://127.0.0.1:{free_port()}/v1", "kimi-k2.5") as base:
        argv = ["verify", "--base-url", base, "--requests", str(requests), "--out", str(out)]
        code, stdout, err = run_cli([*argv, "--model", "kimi-k2", "--retries", "0"], capsys)
    assert code == 1 and stdout == ""
    lines = err.splitlines()
    refused = [line for line in lines if "failed with" in line]
    assert refused == [
        "kimi-toolparse: 13 requests failed with HTTP 404 model_not_found; the first, line 1: HTTP 404: "
        + refused[0].split("HTTP 404: ", 1)[1]
    ]
    assert "The model 'kimi-k2' does not exist here" in refused[0]
    assert (
        lines[-1]
        == "kimi-toolparse: no answer to judge: every request failed (above: the first error of each kind)"
    )
    rows = [json.loads(x) for x in out.read_text().splitlines()]
    assert len(rows) == 13 and all(r["status"] == "failed" for r in rows)


@pytest.mark.parametrize(
    ("error", "kind"),
    [
        (
            'HTTP 404: {"error": {"message": "no", "type": "invalid_request_error", '
            '"code": "model_not_found"}}',
            "HTTP 404 model_not_found",
        ),
        (
            'HTTP 401: {"error": {"message": "no key", "type": "authentication_error"}}',
            "HTTP 401 authentication_error",
        ),
        ("HTTP 502: <html>Bad gateway</html>", "HTTP 502"),
        (
            'HTTP 400: {"object": "error", "message": "bad", "type": "BadRequestError", "code": 400}',
            "HTTP 400 BadRequestError",
        ),
        ("ReadTimeout", "ReadTimeout"),
        ("ConnectError: [Errno 111] refused", "ConnectError"),
        ("bad answer: Expecting value", "bad answer"),
    ],
)
def test_error_kinds(error: str, kind: str) -> None:
    assert error_kind(error) == kind


def test_verify_mixed_failures_list_each_kind_once_and_still_check(
    standin: Standin, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    requests, out = tmp_path / "requests.jsonl", tmp_path / "results.jsonl"
    write_requests(requests)
    argv = ["verify", "--base-url", standin.url, "--requests", str(requests), "--out", str(out)]
    code, stdout, err = run_cli([*argv, "--retries", "0", "--json"], capsys)
    assert code == 0 and json.loads(stdout)["failure_count"] == 3  # 429, 400 and the flaky 500
    kinds = [
        line.split(" failed with ")[1].split(";")[0] for line in err.splitlines() if " failed with " in line
    ]
    assert sorted(kinds) == ["HTTP 400 invalid_request_error", "HTTP 429 rate_limit", "HTTP 500 server_error"]


def test_verify_help_says_what_each_exit_status_means(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["verify", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    for status in ("0 the answers were checked", "1 no answer could be judged", "2 bad usage"):
        assert status in text


def test_verify_missing_requests_file_is_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run_cli(
        [
            "verify",
            "--base-url",
            "http://127.0.0.1:9/v1",
            "--requests",
            str(tmp_path / "x"),
            "--out",
            str(tmp_path / "r.jsonl"),
        ],
        capsys,
    )
    assert code == 2 and err.startswith("kimi-toolparse: cannot read") and err.count("\n") == 1


def test_verify_replays_k2vv_into_the_same_figures(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The whole loop on the shared K2VV files: a stand-in replays the recorded answers."""
    rows = load_rows()
    requests = tmp_path / "requests.jsonl"
    requests.write_text(
        "".join(json.dumps(r["request"], ensure_ascii=False) + "\n" for r in rows), encoding="utf-8"
    )
    server = Standin("--replay", str(RESULTS))
    args = [
        "verify",
        "--base-url",
        server.url,
        "--requests",
        str(requests),
        "--out",
        str(tmp_path / "r.jsonl"),
    ]
    try:
        code, out, _ = run_cli([*args, "--concurrency", "8", "--json"], capsys)
        # K2VV repeats identical requests: a rerun must keep each line's own answer, not one per request text
        code2, out2, err2 = run_cli([*args, "--json"], capsys)
    finally:
        server.stop()
    assert code == code2 == 0
    got = json.loads(out)
    want = independent_count(rows)
    assert got["count_finish_reason_tool_calls"] == want["tool_calls"]
    assert got["count_successful_tool_call"] == want["valid"]
    assert "99 already done" in err2
    assert json.loads(out2)["count_finish_reason_tool_calls"] == want["tool_calls"]
    assert os.path.getsize(tmp_path / "r.jsonl") > 0


def test_progress_shows_on_a_terminal_only(tmp_path: Path) -> None:
    import io

    from kimi_toolparse.verification import check_file

    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    term, pipe = Terminal(), io.StringIO()
    path = tmp_path / "r.jsonl"
    path.write_text(RESULTS.read_text(encoding="utf-8"), encoding="utf-8")
    check_file(str(path), progress_to=term)
    check_file(str(path), progress_to=pipe)
    assert "check: [" in term.getvalue() and "100.0%" in term.getvalue()
    assert pipe.getvalue() == ""


def test_check_counts_a_line_that_is_not_utf8(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "r.jsonl"
    path.write_bytes(RESULTS.read_bytes() + b'{"request": "\xff\xfe"}\n')
    code, out, _ = run_cli(["check", str(path), "--json"], capsys)
    got = json.loads(out)
    assert code == 0 and [m["line"] for m in got["malformed_lines"]] == [100]
    assert got["count_finish_reason_tool_calls"] == 30


SAMPLES = ROOT / "fixtures" / "verification"


def _sample(name: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in (SAMPLES / name).read_text(encoding="utf-8").splitlines()]


def test_the_sample_results_check_as_docs_verification_says(capsys: pytest.CaptureFixture[str]) -> None:
    """fixtures/verification/: the figures docs/verification.md shows, held to an independent count."""
    results, reference = _sample("results.jsonl"), _sample("reference.jsonl")
    assert {r["status"] for r in results} == {"success", "failed"}
    code, out, _ = run_cli(
        ["check", str(SAMPLES / "results.jsonl"), "--reference", str(SAMPLES / "reference.jsonl"), "--json"],
        capsys,
    )
    assert code == 0
    got = json.loads(out)
    want = independent_count(results)
    assert (got["count_finish_reason_tool_calls"], got["count_successful_tool_call"]) == (4, 1)
    assert (want["tool_calls"], want["valid"], want["failed"]) == (4, 1, 1)
    assert {f["cause"] for f in got["failures"]} == {"schema_violation", "unknown_tool", "invalid_json"}
    # the trigger figures, by data_index, over the requests answered in both files
    mine = {r["data_index"]: r["finish_reason"] == "tool_calls" for r in results if r["status"] == "success"}
    theirs = {r["data_index"]: r["finish_reason"] == "tool_calls" for r in reference}
    pairs = [(mine[i], theirs[i]) for i in mine]
    assert (
        [got[k] for k in ("tp", "fp", "fn", "tn")]
        == [pairs.count(p) for p in ((True, True), (True, False), (False, True), (False, False))]
        == [3, 1, 1, 1]
    )


def test_the_sample_raw_outputs_are_parsed_with_their_request(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run_cli(["check", str(SAMPLES / "outputs.jsonl"), "--json"], capsys)
    got = json.loads(out)
    assert code == 0 and (got["count_finish_reason_tool_calls"], got["count_successful_tool_call"]) == (3, 2)
    assert [(f["data_index"], f["calls"][0]["path"], f["calls"][0]["keyword"]) for f in got["failures"]] == [
        (4, "$.unit", "enum")
    ]


def test_verify_sends_the_sample_requests(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """fixtures/verification/requests.jsonl through verify, answered with the sample results' responses."""
    requests = _sample("requests.jsonl")
    assert [{k: v for k, v in r.items() if k != "stream"} for r in requests] == [
        r["request"] for r in _sample("results.jsonl")
    ]
    server = Standin("--replay", str(SAMPLES / "results.jsonl"))
    try:
        code, out, err = run_cli(
            [
                "verify",
                "--base-url",
                server.url,
                "--requests",
                str(SAMPLES / "requests.jsonl"),
                "--out",
                str(tmp_path / "results.jsonl"),
                "--json",
            ],
            capsys,
        )
    finally:
        server.stop()
    assert code == 0 and "7 requests, 0 already done, 7 answered, 0 failed" in err
    got = json.loads(out)
    # the replayed answers, streamed and accumulated: the same calls as the sample file (the failed request
    # got a plain answer from the stand-in)
    assert (got["count_finish_reason_tool_calls"], got["count_successful_tool_call"]) == (4, 1)
    written = [json.loads(line) for line in (tmp_path / "results.jsonl").read_text().splitlines()]
    assert [r["data_index"] for r in written] == list(range(1, 8))
    assert {r["status"] for r in written} == {"success"} and all(len(r["hash"]) == 32 for r in written)
