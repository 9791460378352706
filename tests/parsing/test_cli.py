"""The command line: the README's command on the bundled fixtures, streaming, and one-line errors."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from kimi_toolparse import parse
from kimi_toolparse.cli import main
from testsupport.streams import replay

from ..conftest import FIXTURES

WEATHER = FIXTURES / "outputs" / "weather.txt"
THINKING = FIXTURES / "outputs" / "thinking.txt"


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_parse_prints_the_openai_message(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, "parse", str(WEATHER))
    assert code == 0 and err == ""
    assert json.loads(out) == parse(WEATHER.read_text(encoding="utf-8")).to_openai()
    assert [c["function"]["name"] for c in json.loads(out)["tool_calls"]] == ["get_weather", "get_weather"]


def test_stream_prints_one_chunk_per_line(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "parse", str(THINKING), "--thinking", "--stream", "--chunk-size", "3")
    assert code == 0
    lines = [json.loads(line) for line in out.splitlines()]
    assert all(set(line) == {"index", "delta", "finish_reason"} for line in lines)
    assert [line["finish_reason"] for line in lines][-1] == "tool_calls"

    class Delta:
        def __init__(self, d: dict[str, object]) -> None:
            self.d = d

        def to_openai(self) -> dict[str, object]:
            return self.d

    rebuilt = replay(Delta(line["delta"]) for line in lines)
    message = parse(THINKING.read_text(encoding="utf-8"), thinking=True)
    assert lines[0]["delta"] == {"role": "assistant"} and rebuilt["role"] == "assistant"
    assert rebuilt["content"] == message.content
    assert rebuilt["reasoning"] == message.reasoning
    assert [c["arguments"] for c in rebuilt["calls"]] == [c.arguments for c in message.tool_calls]


def test_stdin_tools_and_diagnostics_table(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    tools = tmp_path / "request.json"
    tools.write_text(json.dumps({"tools": [{"type": "function", "function": {"name": "exec"}}]}))
    raw = "<|tool_call_begin|>functionsexec5<|tool_call_argument_begin|>{}<|tool_call_end|>[UNK]"

    class Stdin:
        buffer = __import__("io").BytesIO(raw.encode())

    monkeypatch.setattr(sys, "stdin", Stdin)
    code, out, err = run(capsys, "parse", "-", "--tools", str(tools), "--diagnostics")
    assert code == 0
    assert json.loads(out)["tool_calls"][0]["function"]["name"] == "exec"
    header, *rows = err.splitlines()
    assert header.split() == ["offset", "code", "call", "message", "text"]
    assert [r.split()[1] for r in rows] == ["drifted_id", "special_token"]


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (
            ["parse", "no/such/file.txt"],
            "kimi-toolparse: cannot read no/such/file.txt: No such file or directory",
        ),
        (["parse", "{dir}"], "kimi-toolparse: cannot read {dir}: Is a directory"),
        (["parse", "{bin}"], "kimi-toolparse: {bin} is not UTF-8 text (byte 1 is 0xff)"),
        (
            ["parse", str(WEATHER), "--tools", "{bin}"],
            "kimi-toolparse: {bin} is not UTF-8 text (byte 1 is 0xff)",
        ),
        (
            ["parse", str(WEATHER), "--tools", "{badjson}"],
            "kimi-toolparse: {badjson} is not valid JSON: Expecting value at line 1, column 1",
        ),
        (
            ["parse", str(WEATHER), "--tools", "{notools}"],
            "kimi-toolparse: {notools}: tools[0] must be a dict, not int",
        ),
        (["parse", str(WEATHER), "--chunk-size", "0"], "kimi-toolparse: --chunk-size must be at least 1"),
        (
            ["parse", "--bogus"],
            "kimi-toolparse: unrecognized arguments: --bogus (see 'kimi-toolparse --help')",
        ),
        ([], "kimi-toolparse: the following arguments are required: COMMAND (see 'kimi-toolparse --help')"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(
    argv: list[str], message: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    paths = {
        "dir": tmp_path,
        "bin": tmp_path / "bin.txt",
        "badjson": tmp_path / "bad.json",
        "notools": tmp_path / "n.json",
    }
    paths["bin"].write_bytes(b"a\xffb")
    paths["badjson"].write_text("nope")
    paths["notools"].write_text("[1]")
    fmt = {k: str(v) for k, v in paths.items()}
    with pytest.raises(SystemExit) if argv[-1:] == ["--bogus"] or not argv else _nullcontext() as exit_info:
        code = main([a.format(**fmt) for a in argv])
    out, err = capsys.readouterr()
    if exit_info is not None and hasattr(exit_info, "value"):
        code = exit_info.value.code
    assert code == 2 and out == ""
    assert err.splitlines() == [message.format(**fmt)]


class _nullcontext:
    def __enter__(self) -> None:
        return None

    def __exit__(self, *exc: object) -> None:
        return None


SCRIPT = shutil.which("kimi-toolparse", path=str(Path(sys.executable).parent))


@pytest.mark.skipif(SCRIPT is None, reason="the console script is not installed (pip install -e .)")
def test_console_script_runs_the_readme_command() -> None:
    assert SCRIPT is not None
    done = subprocess.run(
        [SCRIPT, "parse", str(WEATHER)], capture_output=True, text=True, check=False, timeout=60
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["content"] == "I'll check the weather in both cities."


def test_python_dash_m_with_a_bad_file_prints_no_traceback() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "kimi_toolparse", "parse", "missing.txt"],
        capture_output=True, text=True, check=False, timeout=60,
    )  # fmt: skip
    assert done.returncode == 2
    assert done.stderr == "kimi-toolparse: cannot read missing.txt: No such file or directory\n"


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    from kimi_toolparse import __version__

    with pytest.raises(SystemExit) as exit_info:
        main(["--version"])
    assert exit_info.value.code == 0
    assert capsys.readouterr().out == f"kimi-toolparse {__version__}\n"


def test_no_diagnostics_header_when_there_is_nothing_to_show(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, "parse", str(WEATHER), "--diagnostics")
    assert code == 0 and json.loads(out)["tool_calls"]
    assert parse(WEATHER.read_text(encoding="utf-8")).diagnostics == ()
    assert err == ""


@pytest.mark.parametrize("stream", [False, True])
def test_the_file_is_read_in_pieces(
    stream: bool, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Pieces of 7 bytes cut the multi-byte characters and the markers; the result is the same."""
    import kimi_toolparse.cli_support as cli_support

    raw = "<think>Météo à Paris 🌦</think>Je regarde." + THINKING.read_text(encoding="utf-8")
    path = tmp_path / "out.txt"
    path.write_bytes(raw.encode("utf-8"))
    monkeypatch.setattr(cli_support, "PIECE_BYTES", 7)  # the command below reads 7 bytes at a time too
    pieces = list(cli_support.read_text_pieces(str(path)))
    assert len(pieces) > 10 and "".join(pieces) == raw
    argv = ["parse", str(path)] + (["--stream", "--chunk-size", "5"] if stream else [])
    code, out, _ = run(capsys, *argv)
    assert code == 0
    message = parse(raw)
    if stream:
        lines = [json.loads(line) for line in out.splitlines()]
        assert lines[-1]["finish_reason"] == message.finish_reason
        deltas = [line["delta"] for line in lines]
        assert "".join(d.get("reasoning_content", "") for d in deltas) == message.reasoning
    else:
        assert json.loads(out) == message.to_openai()


def test_bad_utf8_in_a_later_piece_names_its_byte(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    import kimi_toolparse.cli_support as cli_support

    path = tmp_path / "bad.txt"
    path.write_bytes("é".encode() * 10 + b"\xff")
    with pytest.raises(cli_support.UsageError, match=r"is not UTF-8 text \(byte 20 is 0xff\)"):
        list(cli_support.read_text_pieces(str(path), 3))


@pytest.mark.parametrize(
    ("reason", "finish"),
    [("length", "length"), ("163586", "tool_calls"), ("stop", "tool_calls"), ("eos", None)],
)
def test_stop_reason_option(reason: str, finish: str | None, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, "parse", str(WEATHER), "--stream", "--stop-reason", reason)
    if finish is not None:
        assert code == 0 and err == ""
        assert json.loads(out.splitlines()[-1])["finish_reason"] == finish
    else:
        assert code == 2 and out == ""
        assert err.startswith("kimi-toolparse: --stop-reason 'eos': want the engine's finish reason")
        assert err.count("\n") == 1
