"""The SGLang plug-in through SGLang's ``ReasoningParser`` and ``FunctionCallParser``: the corpus, all ways.

SGLang's parsers see text only, so the token-mode vectors (marker text inside data) are out of reach and
left out. Runs where SGLang is installed (``ci/engines/install.sh sglang`` makes ``.venv-sglang``).
"""

from __future__ import annotations

from typing import Any

import pytest

pytest.importorskip("sglang", reason="needs SGLang (ci/engines/install.sh sglang makes .venv-sglang)")

from kimi_toolparse import parse
from kimi_toolparse.integrations import sglang_plugin
from kimi_toolparse.integrations.sglang_harness import sglang_chat
from tests.test_layout import ENGINE_MODULES, check_exports
from testsupport.engine_corpus import expected_message, got_message, load, request_tools

VECS = [v for v in load() if not v["token_mode"]]
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


def want(vec: dict[str, Any], *, stream: bool) -> dict[str, Any]:
    """The spec's answer."""
    return expected_message(vec, stream=stream)


def pieces(raw: str, size: int) -> list[str]:
    return [raw[i : i + size] for i in range(0, len(raw), size)] or [""]


def run(vec: dict[str, Any], chunks: list[str], *, stream: bool) -> None:
    got = sglang_chat(chunks, tools=request_tools(vec), thinking=vec["thinking"], stream=stream)
    # SGLang's reasoning results are strings: an empty `<think></think>` and none at all look the same.
    assert got_message(got, stream=True) == want(vec, stream=True)


@pytest.mark.parametrize("vec", VECS, ids=ID)
def test_stream_own_chunks_or_characters(vec: dict[str, Any]) -> None:
    run(vec, vec.get("chunks") or pieces(vec["raw"], 1), stream=True)


@pytest.mark.parametrize("vec", VECS, ids=ID)
def test_stream_several_characters_per_chunk(vec: dict[str, Any]) -> None:
    run(vec, pieces(vec["raw"], 7), stream=True)


@pytest.mark.parametrize("vec", VECS, ids=ID)
def test_non_streaming(vec: dict[str, Any]) -> None:
    run(vec, [vec["raw"]], stream=False)


def test_registered_through_the_entry_point() -> None:
    from sglang.srt.function_call.function_call_parser import FunctionCallParser
    from sglang.srt.parser.reasoning_parser import ReasoningParser
    from sglang.srt.plugins import load_plugins

    load_plugins()
    assert FunctionCallParser.ToolCallParserEnum["kimi_toolparse"] is sglang_plugin.KimiToolparseDetector
    assert ReasoningParser.DetectorMap["kimi_toolparse"] is sglang_plugin.KimiToolparseReasoningDetector


def test_model_ids_kept_and_other_parsers_untouched() -> None:
    raw = (
        "<|tool_calls_section_begin|><|tool_call_begin|>functions_get_weather_1<|tool_call_argument_begin|>"
        '{"city": "Paris"}<|tool_call_end|><|tool_calls_section_end|>'
    )
    for stream in (True, False):
        got = sglang_chat([raw], tools=TOOLS, stream=stream)
        assert [(c["id"], c["function"]["name"]) for c in got["tool_calls"]] == [
            ("functions_get_weather_1", "get_weather")
        ]
    raw = raw.replace("functions_get_weather_1", "functions.get_weather:0")
    got = sglang_chat([raw], tools=TOOLS, stream=False, tool_parser="kimi_k2", reasoning_parser="kimi_k2")
    assert got["tool_calls"][0]["id"] == "functions.get_weather:0"  # SGLang's own maker, not the hook


def test_reasoning_resumes_after_a_section_inside_think() -> None:
    raw = (
        "Checking.<|tool_calls_section_begin|><|tool_call_begin|>functions.get_weather:0"
        '<|tool_call_argument_begin|>{"city": "Paris"}<|tool_call_end|><|tool_calls_section_end|>'
        "Still thinking.</think>It is sunny."
    )
    for stream in (True, False):
        got = sglang_chat(pieces(raw, 3), tools=TOOLS, thinking=True, stream=stream)
        assert got["reasoning_content"] == "Checking.Still thinking."
        assert got["content"] == "It is sunny."
        assert len(got["tool_calls"]) == 1


def test_reasoning_detector_alone_gives_content_without_markup() -> None:
    raw = (
        "<think>hm</think>Sure.<|tool_calls_section_begin|><|tool_call_begin|>functions.f:0<|tool_call_end|>"
    )
    got = sglang_chat(pieces(raw, 4), tools=None, tool_parser=None)
    assert got["reasoning_content"] == "hm"
    assert got["content"] == "Sure."


def test_has_tool_call_only_when_parsing_changes_the_text() -> None:
    detector = sglang_plugin.KimiToolparseDetector()
    assert not detector.has_tool_call("Plain answer.")
    assert detector.has_tool_call("a<|tool_call_begin|>functions.f:0<|tool_call_end|>")


def test_structure_info_for_constrained_decoding() -> None:
    info = sglang_plugin.KimiToolparseDetector().structure_info()("get_weather")
    assert info.begin.endswith("functions.get_weather:0<|tool_call_argument_begin|>")
    assert info.trigger == "<|tool_calls_section_begin|>"
    assert parse(info.begin + '{"city": "Paris"}' + info.end).tool_calls[0].name == "get_weather"


def test_property_any_turn_any_chunking_is_the_parsers_message() -> None:
    """Whatever the turn and however SGLang chunks it, the client gets the parser's own message."""
    from hypothesis import given, settings
    from hypothesis import strategies as st

    from kimi_toolparse.strategies import assistant_outputs

    @settings(max_examples=40, deadline=None)
    @given(output=assistant_outputs(data_markers=False), size=st.integers(1, 12), stream=st.booleans())
    def check(output: Any, size: int, stream: bool) -> None:
        names = sorted({name for _, name, _ in output.calls}) or ["unused"]
        tools = [
            {"type": "function", "function": {"name": n, "parameters": {"type": "object"}}} for n in names
        ]
        message = parse(output.raw, tools=tools, thinking=output.thinking)
        got = sglang_chat(pieces(output.raw, size), tools=tools, thinking=output.thinking, stream=stream)
        view = {**message.to_openai(), "finish_reason": message.finish_reason}
        assert got_message(got, stream=True) == got_message(view, stream=True)

    check()


def test_model_id_hook_through_sglangs_hook_registry() -> None:
    """The id hook, applied by SGLang's own HookRegistry to a server-like id maker."""
    from sglang.srt.plugins.hook_registry import HookRegistry, HookType

    HookRegistry.register(f"{__name__}.FakeServer.make_id", sglang_plugin._model_id_hook, HookType.AROUND)
    HookRegistry.apply_hooks()
    server = FakeServer()
    ours = sglang_plugin.ModelIdToolCallItem(
        tool_index=0, name="f", parameters="{}", model_id="functions.f:7"
    )
    assert server.make_id(ours, 0) == "functions.f:7"
    from sglang.srt.function_call.core_types import ToolCallItem

    assert server.make_id(ToolCallItem(tool_index=0, name="f", parameters="{}"), 0) == "call_from_sglang"


class FakeServer:
    def make_id(self, call_item: Any, history_tool_calls_cnt: int) -> str:
        return "call_from_sglang"


def test_id_hook_target_exists_in_this_sglang() -> None:
    """The hook's target, read from SGLang's source (its module needs torchvision to import here)."""
    import importlib.util
    import inspect

    module, _, method = sglang_plugin._ID_HOOK_TARGET.rpartition(".")
    module, _, cls = module.rpartition(".")
    spec = importlib.util.find_spec(module)
    assert spec is not None and spec.origin is not None
    with open(spec.origin, encoding="utf-8") as source:
        text = source.read()
    assert f"class {cls}(" in text
    assert f"    def {method}(\n        self,\n        call_item: ToolCallItem," in text
    assert list(inspect.signature(sglang_plugin._model_id_hook).parameters)[:3] == [
        "original",
        "self",
        "call_item",
    ]


@pytest.mark.parametrize("name", ENGINE_MODULES["sglang"])
def test_the_sglang_modules_export_what_they_name(name: str) -> None:
    check_exports(name)
