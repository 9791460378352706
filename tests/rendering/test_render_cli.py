"""``kimi-toolparse render``: the prompt or its ids for a request file; one-line errors, exit 2."""

from __future__ import annotations

import io
import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from kimi_toolparse.cli import main
from kimi_toolparse.rendering.prompt import render

from ..conftest import ROOT, VOCAB_FILE

TOOLS = [
    {
        "type": "function",
        "function": {
            "name": "get_weather",
            "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
        },
    }
]
MESSAGES = [
    {"role": "user", "content": "Weather in Paris?"},
    {
        "role": "assistant",
        "content": None,
        "reasoning_content": "Use the tool.",
        "tool_calls": [
            {"id": "call_1", "type": "function", "function": {"name": "get_weather", "arguments": "{}"}}
        ],
    },
    {"role": "tool", "tool_call_id": "call_1", "content": "Sunny"},
]


def _write(tmp_path: Path, name: str, data: Any) -> str:
    path = tmp_path / name
    path.write_text(json.dumps(data), encoding="utf-8")
    return str(path)


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(["render", *argv])
    out, err = capsys.readouterr()
    return code, out, err


def test_prints_the_prompt_of_a_request_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    request = _write(
        tmp_path, "req.json", {"model": "x", "messages": MESSAGES, "tools": TOOLS, "temperature": 0}
    )
    code, out, err = _run(capsys, request, "--model", "kimi-k2.5")
    assert (code, err) == (0, "")
    assert out == render(MESSAGES, TOOLS, model="kimi-k2.5")  # exactly the prompt, no newline added


def test_options(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    messages = _write(tmp_path, "messages.json", MESSAGES)  # a bare message list works too
    tools = _write(tmp_path, "tools.json", {"tools": TOOLS})
    code, out, _ = _run(
        capsys, messages, "--tools", tools, "--model", "kimi-k2.6", "--no-generation-prompt", "--no-thinking"
    )
    assert code == 0
    assert out == render(MESSAGES, TOOLS, model="kimi-k2.6", add_generation_prompt=False, thinking=False)
    code, out, _ = _run(
        capsys,
        messages,
        "--model",
        "kimi-k2-instruct",
        "--normalize-ids",
        "--plain-template",
        "--preserve-thinking",
    )
    assert out == render(MESSAGES, model="kimi-k2-instruct", normalize_ids=True, plain_template=True)
    assert "functions.get_weather:0" in out


@pytest.mark.parametrize(
    "requested",
    ["moonshotai/Kimi-K2.5", "kimi-k2.5", "Kimi-K2-Instruct@22bf1395", "moonshotai/Kimi-K2-Thinking"],
)
def test_the_request_names_the_model(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], requested: str
) -> None:
    request = _write(tmp_path, "req.json", {"model": requested, "messages": MESSAGES, "tools": TOOLS})
    code, out, err = _run(capsys, request)
    assert (code, err) == (0, "")
    assert out == render(MESSAGES, TOOLS, model=requested)
    assert out != render(MESSAGES, TOOLS, model="kimi-k2-instruct-0905")
    # the flag wins over the file
    _, out, _ = _run(capsys, request, "--model", "kimi-k2-instruct-0905")
    assert out == render(MESSAGES, TOOLS, model="kimi-k2-instruct-0905")


@pytest.mark.parametrize(
    ("request_body", "error"),
    [
        ({"messages": MESSAGES}, r"req\.json names no model: pass --model NAME \(kimi-k2-instruct, "),
        (MESSAGES, r"req\.json names no model: pass --model NAME"),
        ({"model": "gpt-4o", "messages": MESSAGES}, r"asks for model 'gpt-4o', which is not a Kimi model"),
        ({"model": "kimi-k2.5@0000000", "messages": MESSAGES}, r"asks for model 'kimi-k2\.5@0000000'"),
    ],
)
def test_a_missing_or_unknown_model_is_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], request_body: Any, error: str
) -> None:
    code, out, err = _run(capsys, _write(tmp_path, "req.json", request_body))
    assert code == 2 and out == "" and err.count("\n") == 1
    assert re.search(error, err), err


def test_chat_template_kwargs_from_the_request(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    request = _write(
        tmp_path, "req.json", {"messages": MESSAGES[:1], "chat_template_kwargs": {"thinking": False}}
    )
    _, out, _ = _run(capsys, request, "--model", "kimi-k2.5")
    assert out.endswith("<think></think>")
    _, out, _ = _run(capsys, request, "--model", "kimi-k2.5", "--thinking")  # the flag wins
    assert out.endswith("<think>")


def test_unknown_chat_template_kwargs_are_refused_like_the_api_refuses_them(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    body = {
        "model": "kimi-k2.5",
        "messages": MESSAGES[:1],
        "chat_template_kwargs": {"enable_thinking": False},
    }
    with pytest.raises(TypeError, match="unknown template kwargs 'enable_thinking'"):
        render(body["messages"], model="kimi-k2.5", **body["chat_template_kwargs"])
    for extra in ([], ["--lenient"], ["--no-thinking"]):
        code, out, err = _run(capsys, _write(tmp_path, "req.json", body), *extra)
        assert code == 2 and out == "" and err.count("\n") == 1
        assert "chat_template_kwargs has 'enable_thinking', which no Kimi template reads" in err, err


def test_stdin(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    stdin = io.TextIOWrapper(io.BytesIO(json.dumps({"messages": MESSAGES[:1]}).encode()), encoding="utf-8")
    monkeypatch.setattr(sys, "stdin", stdin)
    code, out, _ = _run(capsys, "-", "--model", "kimi-k2-instruct")
    assert code == 0 and out == render(MESSAGES[:1], model="kimi-k2-instruct")


@pytest.mark.parametrize(
    "vocab_args", [[], ["--vocab", str(VOCAB_FILE.parent)], ["--vocab", str(VOCAB_FILE)]]
)
def test_ids(tmp_path: Path, capsys: pytest.CaptureFixture[str], vocab_args: list[str]) -> None:
    """--ids encodes with the packaged vocabulary unless --vocab names a model directory or a file."""
    request = _write(tmp_path, "req.json", {"model": "moonshotai/Kimi-K2-Instruct", "messages": MESSAGES[:1]})
    code, out, _ = _run(capsys, request, "--ids", *vocab_args)
    assert code == 0
    ids = json.loads(out)
    assert ids[:3] == [163594, 14062, 163601] and ids[-1] == 163601


@pytest.mark.parametrize(
    ("content", "argv", "error"),
    [
        (None, [], "cannot read"),
        ("{not json", [], "is not valid JSON: Expecting property name"),
        ('{"prompt": "x"}', [], "has no 'messages'"),
        ('"text"', [], "must hold a request object"),
        (
            '{"model": "kimi-k2-instruct", "messages": [{"role": "tool", "content": "x"}]}',
            [],
            r"messages\[0\]\.tool_call_id is missing",
        ),
        ('{"messages": [{"role": "user", "content": "x"}]}', ["--model", "gpt-4"], "unknown model 'gpt-4'"),
        (
            '{"model": "kimi-k2.5", "messages": [{"role": "user", "content": "x"}]}',
            ["--ids", "--vocab", "/no/such/dir"],
            "/no/such/dir does not exist: pass the Kimi model directory",
        ),
        ('{"messages": [{"role": "user", "content": "x"}]}', ["--tools", "MISSING"], "cannot read MISSING"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], content: str | None, argv: list[str], error: str
) -> None:
    path = tmp_path / "conv.json"
    if content is not None:
        path.write_text(content, encoding="utf-8")
    code, out, err = _run(capsys, str(path), *argv)
    assert code == 2 and out == ""
    assert err.startswith("kimi-toolparse: ") and err.count("\n") == 1, err
    assert re.search(error, err), err


@pytest.mark.parametrize(
    ("tools", "error"),
    [
        ({"tools": [{"type": "function", "function": {}}]}, r"tools\[0\] has no function name"),
        ([{"name": ""}], r"tools\[0\] has no function name"),
        ([1], r"tools\[0\] must be a dict, not int"),
    ],
)
def test_a_tools_file_is_checked_as_render_checks_tools(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], tools: Any, error: str
) -> None:
    """``--tools`` goes through the same shape check as ``render()`` and ``parse()``: the file is named."""
    request = _write(tmp_path, "req.json", {"messages": MESSAGES[:1]})
    path = _write(tmp_path, "tools.json", tools)
    code, out, err = _run(capsys, request, "--tools", path, "--model", "kimi-k2.5")
    assert code == 2 and out == ""
    assert err.startswith(f"kimi-toolparse: {path}: ") and err.count("\n") == 1, err
    assert re.search(error, err), err
    with pytest.raises(ValueError if tools != [1] else TypeError, match=error):
        render(MESSAGES[:1], tools.get("tools") if isinstance(tools, dict) else tools, model="kimi-k2.5")


def test_a_lenient_render_takes_the_tools_file_as_it_is(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    tools = [{"function": {}}]
    request = _write(tmp_path, "req.json", {"messages": MESSAGES[:1]})
    path = _write(tmp_path, "tools.json", tools)
    code, out, err = _run(capsys, request, "--tools", path, "--model", "kimi-k2.5", "--lenient")
    assert (code, err) == (0, "")
    assert out == render(MESSAGES[:1], tools, model="kimi-k2.5", strict=False)
    code, out, err = _run(capsys, request, "--tools", _write(tmp_path, "t.json", {"x": 1}), "--lenient")
    assert code == 2 and "must hold a list of tools" in err


def test_installed_command(tmp_path: Path) -> None:
    request = _write(tmp_path, "req.json", {"messages": MESSAGES, "tools": TOOLS})
    done = subprocess.run(
        [sys.executable, "-m", "kimi_toolparse", "render", request, "--model", "kimi-k2-thinking"],
        capture_output=True,
        cwd=ROOT,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.decode("utf-8") == render(MESSAGES, TOOLS, model="kimi-k2-thinking")
    done = subprocess.run(
        [sys.executable, "-m", "kimi_toolparse", "render", str(tmp_path / "nope.json")],
        capture_output=True,
        cwd=ROOT,
        check=False,
    )
    assert done.returncode == 2 and done.stderr.decode().startswith("kimi-toolparse: cannot read")
    assert b"Traceback" not in done.stderr


@pytest.mark.parametrize(
    ("messages", "python_hint", "flag", "rendered"),
    [
        ([{"role": "wizard", "content": "x"}], "strict=False renders it", "--lenient", "<|im_system|>wizard"),
        (
            [
                {"role": "user", "content": "x"},
                {
                    "role": "assistant",
                    "content": None,
                    "tool_calls": [{"function": {"name": "f", "arguments": "{}"}}],
                },
            ],
            "normalize_ids=True gives",
            "--normalize-ids",
            "functions.f:0",
        ),
    ],
)
def test_a_refused_conversation_names_the_flag_that_renders_it(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    messages: Any,
    python_hint: str,
    flag: str,
    rendered: str,
) -> None:
    with pytest.raises(ValueError, match=re.escape(python_hint)):  # the library speaks Python
        render(messages, model="kimi-k2.5")
    path = _write(tmp_path, "conv.json", messages)
    code, out, err = _run(capsys, path, "--model", "kimi-k2.5")
    assert code == 2 and out == "" and err.count("\n") == 1
    assert f"({flag} " in err and "=" not in err.split("(")[-1], err  # the command line speaks in flags
    code, out, err = _run(capsys, path, "--model", "kimi-k2.5", flag)  # and the flag does what it says
    assert code == 0 and rendered in out
