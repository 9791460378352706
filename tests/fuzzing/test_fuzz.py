"""``kimi-toolparse fuzz`` end to end: the guide's regexes fail, this project's parser does not, and a
server is fuzzed through a stand-in upstream (a clean one passes, one with a planted fault does not)."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from kimi_toolparse.cli import main
from kimi_toolparse.strategies import QUIRKS
from testsupport.gateway import free_port, gateway

from ..conftest import ROOT, VOCAB_FILE


def fuzz(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(["fuzz", *argv])
    out, err = capsys.readouterr()
    return code, out, err


def test_finds_the_guide_regexes_known_failures_within_the_default_budget(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    report = tmp_path / "failures.jsonl"
    code, out, _ = fuzz(capsys, "tests.fuzzing.guide_regex:parse", "--report", str(report))
    assert code == 1
    rows = [json.loads(line) for line in report.read_text().splitlines()]
    by_quirk = {r["quirk"]: r for r in rows}
    # a call without its end marker is lost; so is a header without ARG_BEGIN, and text after the section
    assert "missing call" in by_quirk["missing_call_end"]["difference"]
    assert "missing call" in by_quirk["no_arg_begin"]["difference"]
    assert by_quirk["text_after_section"]["difference"].startswith("content:")
    assert by_quirk["double_encoded"]["difference"].startswith("tool_calls[0].function.arguments")
    # each failure is printed with its input and both answers, then the table
    for label in ("raw:", "expected:", "actual:"):
        assert label in out
    assert "quirk" in out and "first difference" in out
    assert f"{len(rows)} of 13 quirks failed" in out
    # shrunk: the smallest counterexample, not a random mess
    assert len(by_quirk["missing_call_end"]["raw"]) < 200


ALL = ",".join(QUIRKS)


@pytest.mark.parametrize("function", ["parse_text", "parse_chunks"])
def test_finds_nothing_in_this_projects_parser(capsys: pytest.CaptureFixture[str], function: str) -> None:
    code, out, _ = fuzz(capsys, f"tests.fuzzing.own_targets:{function}", "--examples", "15", "--quirks", ALL)
    assert code == 0, out
    assert "no failures in 13 quirks" in out


@pytest.mark.parametrize(
    ("vocab_args", "examples"), [([], "8"), (["--vocab"], "2"), (["--vocab", str(VOCAB_FILE.parent)], "2")]
)
def test_finds_nothing_in_this_projects_parser_on_token_ids(
    capsys: pytest.CaptureFixture[str], vocab, vocab_args: list[str], examples: str
) -> None:  # type: ignore[no-untyped-def]
    """A token-id target takes the packaged vocabulary by default (no --vocab, or --vocab without a path);
    a model directory given with --vocab is read instead."""
    code, out, _ = fuzz(
        capsys, "tests.fuzzing.own_targets:parse_token_ids", "--examples", examples, *vocab_args
    )
    assert code == 0, out
    assert "no failures in 14 quirks" in out  # markers_in_strings included


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["no_such_module:f"], "cannot import no_such_module"),
        (["tests.fuzzing.guide_regex:nope"], "has no attribute 'nope'"),
        (["justaname"], "is not module:function"),
        (["tests.fuzzing.guide_regex:parse", "--quirks", "canonical,bogus"], "unknown quirk 'bogus'"),
        (["tests.fuzzing.guide_regex:parse", "--examples", "0"], "--examples must be at least 1"),
        (
            ["tests.fuzzing.guide_regex:parse", "--vocab", "/no/such/dir"],
            "--vocab /no/such/dir: /no/such/dir does",
        ),
        (["--url", "http://127.0.0.1:9/v1"], "--url needs --upstream-port"),
        ([], "give a TARGET"),
    ],
)
def test_usage_errors_are_one_line_and_exit_2(
    capsys: pytest.CaptureFixture[str], argv: list[str], message: str
) -> None:
    code, _, err = fuzz(capsys, *argv)
    assert code == 2
    assert err.startswith("kimi-toolparse: ") and err.count("\n") == 1 and message in err


def _server(fault: bool) -> Iterator[tuple[str, int]]:
    port, upstream = free_port(), free_port()
    argv = [sys.executable, "-m", "tests.fuzzing.toy_server", str(port), str(upstream)]
    proc = subprocess.Popen(
        [*argv, *(["--fault"] if fault else [])], cwd=ROOT, stdout=subprocess.PIPE, text=True
    )
    try:
        assert proc.stdout is not None and proc.stdout.readline().strip() == "ready"
        yield f"http://127.0.0.1:{port}/v1", upstream
    finally:
        proc.terminate()
        proc.wait(10)


@pytest.fixture
def server() -> Iterator[tuple[str, int]]:
    pytest.importorskip("uvicorn", reason="the stand-in upstream needs the serve extra")
    yield from _server(fault=False)


@pytest.fixture
def faulty_server() -> Iterator[tuple[str, int]]:
    pytest.importorskip("uvicorn", reason="the stand-in upstream needs the serve extra")
    yield from _server(fault=True)


def test_url_finds_nothing_in_a_right_server(
    capsys: pytest.CaptureFixture[str], server: tuple[str, int]
) -> None:
    url, upstream = server
    code, out, _ = fuzz(
        capsys, "--url", url, "--upstream-port", str(upstream), "--examples", "6", "--quirks", ALL
    )
    assert code == 0, out


def test_url_finds_the_planted_fault(
    capsys: pytest.CaptureFixture[str], faulty_server: tuple[str, int]
) -> None:
    url, upstream = faulty_server
    code, out, _ = fuzz(
        capsys, "--url", url, "--upstream-port", str(upstream), "--quirks", "canonical", "--examples", "20"
    )
    assert code == 1
    # the engine stripped the markers: the call came back as content
    assert 'content: expected null, got "functions.get_weather:0' in out


def test_url_with_token_ids_streams_engine_steps(
    capsys: pytest.CaptureFixture[str],
    server: tuple[str, int],
    vocab,  # type: ignore[no-untyped-def]
) -> None:
    url, upstream = server
    code, out, _ = fuzz(
        capsys,
        "--url",
        url,
        "--upstream-port",
        str(upstream),
        "--examples",
        "4",
        "--stream",
        "--quirks",
        "canonical,markers_in_strings,end_of_turn",
        "--vocab",
    )
    assert code == 0, out


def test_the_command_line_starts_without_hypothesis_and_fuzz_says_what_to_install() -> None:
    script = (
        "import sys\n"
        "class Block:\n"
        "    def find_spec(self, name, path=None, target=None):\n"
        "        if name.split('.')[0] == 'hypothesis': raise ImportError('No module named hypothesis')\n"
        "sys.meta_path.insert(0, Block())\n"
        "from kimi_toolparse.cli import main\n"
        "assert main(['parse', '--help']) == 0\n"
    )
    ok = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True)
    assert "usage: kimi-toolparse parse" in ok.stdout
    failing = script.replace("['parse', '--help']) == 0", "['fuzz', 'm:f']) == 2")
    done = subprocess.run([sys.executable, "-c", failing], cwd=ROOT, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    want = "fuzz needs the fuzz extra (hypothesis is not installed): pip install '.[fuzz]' in your "
    want += "kimi_toolparse clone"
    assert done.stderr == f"kimi-toolparse: {want}\n"


def test_url_fuzzes_a_thinking_models_gateway_with_the_model_it_serves(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Issue 15: no --model: the model is the one the gateway lists (kimi-k2.5), whose prompt ends in
    <think>; every case is drawn and judged as that prompt leaves it, and a right gateway passes."""
    pytest.importorskip("uvicorn", reason="the gateway and the stand-in upstream need the serve extra")
    upstream = free_port()
    with gateway(f"http://127.0.0.1:{upstream}/v1", "kimi-k2.5") as base:
        code, out, err = fuzz(capsys, "--url", base, "--upstream-port", str(upstream), "--examples", "4")
    assert code == 0, out + err
    assert "model kimi-k2.5" in out and "prompt ending in <think>" in out
    assert "no failures in 13 quirks" in out
    # judged as if the prompt did not end in <think> (--no-thinking overrides), the same gateway "fails"
    with gateway(f"http://127.0.0.1:{upstream}/v1", "kimi-k2.5") as base:
        argv = ["--url", base, "--upstream-port", str(upstream), "--no-thinking", "--quirks", "canonical"]
        code, out, _ = fuzz(capsys, *argv, "--examples", "10")
    assert code == 1 and "prompt not ending in <think>" in out


def test_url_asks_for_model_when_the_server_serves_several(capsys: pytest.CaptureFixture[str]) -> None:
    pytest.importorskip("uvicorn", reason="the gateway needs the serve extra")
    upstream = free_port()
    with gateway(f"http://127.0.0.1:{upstream}/v1", "kimi-k2.5", "kimi-k2-instruct") as base:
        code, _, err = fuzz(capsys, "--url", base, "--upstream-port", str(upstream))
    assert code == 2 and err.count("\n") == 1
    assert "serves 2 models (kimi-k2.5, kimi-k2-instruct): choose one with --model" in err


def test_url_with_a_model_the_server_does_not_serve_is_a_usage_error(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """A 404 on the first request is one line and exit status 2, not a failure per quirk."""
    pytest.importorskip("uvicorn", reason="the gateway needs the serve extra")
    upstream = free_port()
    with gateway(f"http://127.0.0.1:{upstream}/v1", "kimi-k2.5") as base:
        code, out, err = fuzz(capsys, "--url", base, "--upstream-port", str(upstream), "--model", "kimi-k2")
    assert code == 2 and out == ""
    assert err.startswith("kimi-toolparse: ") and err.count("\n") == 1
    assert "refused the request for model 'kimi-k2': HTTP 404" in err


def test_url_of_a_server_that_is_not_there_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = fuzz(capsys, "--url", f"http://127.0.0.1:{free_port()}/v1", "--upstream-port", "9")
    assert code == 2 and err.count("\n") == 1 and "cannot reach" in err
