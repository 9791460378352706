"""The vLLM plug-in through vLLM's real ``OpenAIServingChat``: every corpus vector, streamed and not.

Runs in ``.venv-vllm`` (``ci/engines/install.sh vllm``), from ``.ci/run``; the main suite does not collect it.
"""

from __future__ import annotations

from typing import Any

import pytest

pytest.importorskip("vllm", reason="needs vLLM (ci/engines/install.sh vllm makes .venv-vllm)")

from kimi_toolparse.integrations import vllm_plugin
from kimi_toolparse.integrations.vllm_harness import vllm_chat
from tests.test_layout import ENGINE_MODULES, check_exports
from testsupport.engine_corpus import (
    expected_message,
    got_message,
    load,
    request_tools,
    token_steps,
)

VECS = load()
TEXT_VECS = [v for v in VECS if not v["token_mode"]]
ID = [v["id"] for v in VECS]

TOOLS = [
    {
        "type": "function",
        "function": {
            "name": "get_weather",
            "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
        },
    }
]


def want(vec: dict[str, Any], steps: list[tuple[str, list[int]]], *, stream: bool) -> dict[str, Any]:
    """The spec's answer."""
    return expected_message(vec, stream=stream)


def run(vocab: Any, vec: dict[str, Any], *, per_step: int, stream: bool) -> None:
    steps = token_steps(vocab, vec, per_step)
    got = vllm_chat(
        steps, vocabulary=vocab, tools=request_tools(vec), thinking=vec["thinking"], stream=stream
    )
    assert got_message(got, stream=stream) == want(vec, steps, stream=stream)


@pytest.mark.parametrize("vec", VECS, ids=ID)
def test_stream_one_token_per_step(vocab: Any, vec: dict[str, Any]) -> None:
    run(vocab, vec, per_step=1, stream=True)


@pytest.mark.parametrize("vec", VECS, ids=ID)
def test_stream_several_tokens_per_step(vocab: Any, vec: dict[str, Any]) -> None:
    run(vocab, vec, per_step=5, stream=True)


@pytest.mark.parametrize("vec", TEXT_VECS, ids=[v["id"] for v in TEXT_VECS])
def test_non_streaming(vocab: Any, vec: dict[str, Any]) -> None:
    run(vocab, vec, per_step=1, stream=False)


@pytest.fixture
def unified() -> Any:
    vllm_plugin.use_unified_parser(True)
    yield
    vllm_plugin.use_unified_parser(False)


@pytest.mark.parametrize("vec", VECS, ids=ID)
def test_unified_non_streaming_reads_token_ids(vocab: Any, vec: dict[str, Any], unified: Any) -> None:
    run(vocab, vec, per_step=1, stream=False)


@pytest.mark.parametrize("vec", VECS, ids=ID)
def test_unified_stream(vocab: Any, vec: dict[str, Any], unified: Any) -> None:
    run(vocab, vec, per_step=3, stream=True)


def test_default_non_streaming_reads_text_only(vocab: Any) -> None:
    """vLLM gives a legacy parser no token ids when not streaming: marker text in a string is a marker."""
    vec = next(v for v in VECS if v["token_mode"] and v["expected"]["tool_calls"])
    steps = token_steps(vocab, vec, 1)
    got = vllm_chat(steps, vocabulary=vocab, tools=request_tools(vec), thinking=vec["thinking"], stream=False)
    assert got_message(got, stream=False) != expected_message(vec, stream=False)


def test_keeps_model_ids_and_resolves_drifted_ids(vocab: Any) -> None:
    raw = (
        "<|tool_calls_section_begin|><|tool_call_begin|>functions_get_weather_1<|tool_call_argument_begin|>"
        '{"city": "Paris"}<|tool_call_end|><|tool_calls_section_end|>'
    )
    vec = {"raw": raw}
    for stream in (True, False):
        got = vllm_chat(token_steps(vocab, vec, 1), vocabulary=vocab, tools=TOOLS, stream=stream)
        assert got["tool_calls"] == [
            {
                "id": "functions_get_weather_1",
                "type": "function",
                "function": {"name": "get_weather", "arguments": '{"city": "Paris"}'},
            }
        ]
        assert got["finish_reason"] == "tool_calls"


def test_output_starting_inside_think_and_calls_inside_think(vocab: Any) -> None:
    raw = (
        "Checking the weather.<|tool_calls_section_begin|><|tool_call_begin|>functions.get_weather:0"
        '<|tool_call_argument_begin|>{"city": "Paris"}<|tool_call_end|><|tool_calls_section_end|>'
        "Still thinking.</think>It is sunny."
    )
    for stream in (True, False):
        got = vllm_chat(
            token_steps(vocab, {"raw": raw}, 1), vocabulary=vocab, tools=TOOLS, thinking=True, stream=stream
        )
        assert got["reasoning_content"] == "Checking the weather.Still thinking."
        assert got["content"] == "It is sunny."
        assert [c["id"] for c in got["tool_calls"]] == ["functions.get_weather:0"]


def test_stream_is_flushed_at_the_end(vocab: Any) -> None:
    """A held partial marker and an unclosed call come out when the stream ends."""
    raw = '<|tool_call_begin|>functions.get_weather:0<|tool_call_argument_begin|>{"city": "Par'
    got = vllm_chat(token_steps(vocab, {"raw": raw}, 1), vocabulary=vocab, tools=TOOLS)
    assert got["tool_calls"][0]["function"]["arguments"] == '{"city": "Par'
    got = vllm_chat(token_steps(vocab, {"raw": "a <"}, 1), vocabulary=vocab)
    assert got["content"] == "a <"


def test_adjust_request_keeps_special_tokens() -> None:
    from vllm.entrypoints.openai.chat_completion.protocol import ChatCompletionRequest

    request = ChatCompletionRequest.model_validate({"model": "m", "messages": [], "tools": TOOLS})
    parser = vllm_plugin.KimiToolparseToolParser(None)
    assert parser.adjust_request(request).skip_special_tokens is False


def test_engine_core_reasoning_end_from_token_ids() -> None:
    """In vLLM's engine core (no prompt given to the parser) reasoning ends at ``</think>`` or a section."""
    from kimi_toolparse.tokens import SPECIAL_IDS

    parser = vllm_plugin.KimiToolparseReasoningParser(None)
    think, end = SPECIAL_IDS["<think>"], SPECIAL_IDS["</think>"]
    assert not parser.is_reasoning_end([1, think])
    assert parser.is_reasoning_end([1, think, 5, end])
    assert parser.is_reasoning_end([1, 2])
    assert parser.is_reasoning_end_streaming([think, 5, end], [end])
    assert parser.is_reasoning_end_streaming([5], [SPECIAL_IDS["<|tool_calls_section_begin|>"]])
    assert not parser.is_reasoning_end_streaming([think, 5], [5])


def test_unified_refused_on_untested_version(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(vllm_plugin.vllm, "__version__", "0.0.1")
    with pytest.raises(RuntimeError, match=r"KIMI_TOOLPARSE_VLLM_UNIFIED=1 needs vLLM 0\.33\.0"):
        vllm_plugin.use_unified_parser(True)


def test_path_names_a_file_vllm_can_load_without_shadowing_itself() -> None:
    import os

    path = vllm_plugin.plugin_path()
    assert os.path.isfile(path)
    assert os.path.basename(path) not in ("vllm.py", "sglang.py")
    assert vllm_plugin.main(["--path"]) == 0
    assert vllm_plugin.main([]) == 2


def _tools_for(names: list[str]) -> list[dict[str, Any]]:
    return [{"type": "function", "function": {"name": n, "parameters": {"type": "object"}}} for n in names]


def test_property_any_turn_any_step_size_is_the_parsers_message(vocab: Any) -> None:
    """Whatever the turn and however vLLM steps through it, the client gets the parser's own message."""
    from hypothesis import HealthCheck, given, settings
    from hypothesis import strategies as st

    from kimi_toolparse import parse
    from kimi_toolparse.strategies import assistant_outputs

    @settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
    @given(output=assistant_outputs(data_markers=False), per_step=st.integers(1, 8), stream=st.booleans())
    def check(output: Any, per_step: int, stream: bool) -> None:
        tools = _tools_for(sorted({name for _, name, _ in output.calls}) or ["unused"])
        message = parse(output.raw, tools=tools, thinking=output.thinking)
        steps = token_steps(vocab, {"raw": output.raw}, per_step)
        got = vllm_chat(steps, vocabulary=vocab, tools=tools, thinking=output.thinking, stream=stream)
        view = {**message.to_openai(), "finish_reason": message.finish_reason}
        assert got_message(got, stream=True) == got_message(view, stream=True)

    check()


@pytest.mark.parametrize("stream", [True, False])
def test_each_parser_alone(vocab: Any, stream: bool) -> None:
    """The reasoning parser alone gives reasoning and content (no markup); the tool parser alone gives
    content and calls, and no reasoning (vLLM has no reasoning channel without a reasoning parser)."""
    raw = (
        "<think>hm</think>Sure.<|tool_calls_section_begin|><|tool_call_begin|>functions.get_weather:0"
        "<|tool_call_argument_begin|>{}<|tool_call_end|><|tool_calls_section_end|> Done."
    )
    steps = token_steps(vocab, {"raw": raw}, 2)
    alone = vllm_chat(steps, vocabulary=vocab, tool_parser=None, stream=stream)
    assert (alone["reasoning_content"], alone["content"], alone["tool_calls"]) == ("hm", "Sure. Done.", [])
    alone = vllm_chat(steps, vocabulary=vocab, reasoning_parser=None, tools=TOOLS, stream=stream)
    assert (alone["reasoning_content"], alone["content"]) == (None, "Sure. Done.")
    assert [c["id"] for c in alone["tool_calls"]] == ["functions.get_weather:0"]


@pytest.mark.parametrize("how", ["module", "path"])
def test_vllm_loads_the_plugin_by_module_name_and_by_path(how: str) -> None:
    """What `--tool-parser-plugin` and `--reasoning-parser-plugin` do, in a fresh process."""
    import subprocess
    import sys

    plugin = "kimi_toolparse.integrations.vllm_plugin" if how == "module" else vllm_plugin.plugin_path()
    code = (
        "import sys\n"
        "from vllm.reasoning import ReasoningParserManager\n"
        "from vllm.tool_parsers import ToolParserManager\n"
        "ToolParserManager.import_tool_parser(sys.argv[1])\n"
        "ReasoningParserManager.import_reasoning_parser(sys.argv[1])\n"
        "import vllm.entrypoints.openai.chat_completion.serving\n"
        "print(ToolParserManager.get_tool_parser('kimi_toolparse').__name__,"
        " ReasoningParserManager.get_reasoning_parser('kimi_toolparse').__name__)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code, plugin], capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.split() == ["KimiToolparseToolParser", "KimiToolparseReasoningParser"]


@pytest.mark.parametrize("name", ENGINE_MODULES["vllm"])
def test_the_vllm_modules_export_what_they_name(name: str) -> None:
    check_exports(name)
