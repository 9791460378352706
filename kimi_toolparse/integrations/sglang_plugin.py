"""SGLang plug-in: this project's parser as SGLang's ``kimi_toolparse`` function-call and reasoning parsers.

Installed with this package, the ``sglang.srt.plugins`` entry point ``kimi_toolparse`` runs :func:`register`
in every SGLang process, so ``--tool-call-parser kimi_toolparse --reasoning-parser kimi_toolparse`` works
with no patching. SGLang's parsers see text only (no token ids), so marker text inside a JSON string is
a marker here.

How the two detectors share the work: SGLang runs the reasoning detector first, without the request's
tools, and feeds its normal text to the function-call detector. When a function-call parser follows,
:class:`KimiToolparseReasoningDetector` reports the reasoning and passes the whole raw output on
(prefixed with ``<think>`` when the output starts inside reasoning), and
:class:`KimiToolparseDetector` parses that with the tools and gives content and calls. So calls inside
``<think>`` and reasoning that resumes after a section come out right. Alone, each detector does its
whole job on its own part.

SGLang makes the call ids itself; a hook on its chat server's id maker (registered through SGLang's
``HookRegistry``) returns the model's own id for the calls this detector reports.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sglang.srt.function_call.base_format_detector import BaseFormatDetector
from sglang.srt.function_call.core_types import StreamingParseResult, StructureInfo, ToolCallItem
from sglang.srt.function_call.function_call_parser import FunctionCallParser
from sglang.srt.parser import reasoning_parser as sglang_reasoning

from kimi_toolparse import ParsedMessage, StreamParser, parse
from kimi_toolparse.integrations.deltas import merge_events
from kimi_toolparse.tokens import ARG_BEGIN, CALL_BEGIN, CALL_END, SECTION_BEGIN, THINK_BEGIN

__all__ = [
    "NAME",
    "KimiToolparseDetector",
    "KimiToolparseReasoningDetector",
    "ModelIdToolCallItem",
    "register",
]

NAME = "kimi_toolparse"
_ID_HOOK_TARGET = "sglang.srt.entrypoints.openai.serving_chat.OpenAIServingChat._process_tool_call_id"


class ModelIdToolCallItem(ToolCallItem):  # type: ignore[misc]
    """A call as SGLang expects it, carrying the id the model wrote."""

    model_id: str | None = None


def _tools(tools: Any) -> list[dict[str, Any]] | None:
    if not tools:
        return None
    return [tool.model_dump() if hasattr(tool, "model_dump") else dict(tool) for tool in tools]


def _items(delta: dict[str, Any] | None) -> tuple[str, list[ToolCallItem]]:
    if delta is None:
        return "", []
    items: list[ToolCallItem] = [
        ModelIdToolCallItem(
            tool_index=call["index"],
            name=call["function"].get("name"),
            parameters=call["function"].get("arguments") or "",
            model_id=call.get("id"),
        )
        for call in delta.get("tool_calls", ())
    ]
    return delta.get("content", ""), items


class KimiToolparseDetector(BaseFormatDetector):  # type: ignore[misc]
    """SGLang function-call detector ``kimi_toolparse``: a :class:`~kimi_toolparse.StreamParser` a stream."""

    def __init__(self) -> None:
        super().__init__()
        self.bot_token = SECTION_BEGIN
        self.eot_token = "<|tool_calls_section_end|>"
        self._stream: StreamParser | None = None
        self._last: tuple[str, Any, ParsedMessage] | None = None

    @classmethod
    def parses_without_tools(cls) -> bool:
        return True

    def _parse(self, text: str, tools: Any) -> ParsedMessage:
        if self._last is None or self._last[0] != text or self._last[1] is not tools:
            self._last = (text, tools, parse(text, tools=_tools(tools)))
        return self._last[2]

    def has_tool_call(self, text: str) -> bool:
        """True when parsing changes the text: it holds calls or markup that must not reach the client."""
        message = self._parse(text, None)
        return bool(message.tool_calls) or message.content != text or message.reasoning is not None

    def detect_and_parse(self, text: str, tools: Any) -> StreamingParseResult:
        view = self._parse(text, tools).to_openai()
        calls = [
            ModelIdToolCallItem(
                tool_index=n,
                name=call["function"]["name"],
                parameters=call["function"]["arguments"],
                model_id=call["id"],
            )
            for n, call in enumerate(view.get("tool_calls", ()))
        ]
        return StreamingParseResult(normal_text=view["content"] or "", calls=calls)

    def parse_streaming_increment(self, new_text: str, tools: Any) -> StreamingParseResult:
        if self._stream is None:
            self._stream = StreamParser(tools=_tools(tools))
        if self._stream.closed:
            return StreamingParseResult()
        text, calls = _items(merge_events(self._stream.feed(new_text)))
        return StreamingParseResult(normal_text=text, calls=calls)

    def finish(self, tools: Any) -> StreamingParseResult:
        if self._stream is None or self._stream.closed:
            return StreamingParseResult()
        text, calls = _items(merge_events(self._stream.close()))
        return StreamingParseResult(normal_text=text, calls=calls)

    def supports_structural_tag(self) -> bool:
        return False

    def structure_info(self) -> Callable[[str], StructureInfo]:
        """Begin and end of one call to ``name``, for SGLang's constrained decoding (index 0 in the id)."""

        def info(name: str) -> StructureInfo:
            return StructureInfo(
                begin=f"{SECTION_BEGIN}{CALL_BEGIN}functions.{name}:0{ARG_BEGIN}",
                end=f"{CALL_END}<|tool_calls_section_end|>",
                trigger=SECTION_BEGIN,
            )

        return info


class KimiToolparseReasoningDetector(sglang_reasoning.BaseReasoningFormatDetector):  # type: ignore[misc]
    """SGLang reasoning detector ``kimi_toolparse``.

    ``force_reasoning``: the output starts inside ``<think>`` (SGLang sets it from the request).
    """

    def __init__(
        self,
        stream_reasoning: bool = True,
        force_reasoning: bool = False,
        continue_final_message: bool = False,
        previous_content: str = "",
        force_nonempty_content: bool = False,
        tool_call_parser_active: bool = False,
    ) -> None:
        super().__init__(
            THINK_BEGIN,
            "</think>",
            force_reasoning=force_reasoning,
            stream_reasoning=stream_reasoning,
            continue_final_message=continue_final_message,
            previous_content=previous_content,
        )
        self._thinking = bool(force_reasoning)
        self._pass_through = tool_call_parser_active
        self._stream: StreamParser | None = None
        self._started = False

    def _raw(self, text: str) -> str:
        if not self._started and text:
            self._started = True
            if self._thinking:
                return THINK_BEGIN + text
        return text

    def _result(self, delta: dict[str, Any] | None, raw: str) -> Any:
        reasoning = (delta or {}).get("reasoning_content", "")
        normal = raw if self._pass_through else (delta or {}).get("content", "")
        return sglang_reasoning.StreamingParseResult(normal_text=normal, reasoning_text=reasoning)

    def detect_and_parse(self, text: str) -> Any:
        message = parse(text, thinking=self._thinking)
        view = message.to_openai()
        normal = self._raw(text) if self._pass_through else (view["content"] or "")
        return sglang_reasoning.StreamingParseResult(
            normal_text=normal, reasoning_text=message.reasoning or ""
        )

    def parse_streaming_increment(self, new_text: str) -> Any:
        if self._stream is None:
            self._stream = StreamParser(thinking=self._thinking)
        if self._stream.closed:
            return sglang_reasoning.StreamingParseResult()
        return self._result(merge_events(self._stream.feed(new_text)), self._raw(new_text))

    def finish(self) -> Any:
        if self._stream is None or self._stream.closed:
            return sglang_reasoning.StreamingParseResult()
        return self._result(merge_events(self._stream.close()), "")


def _model_id_hook(original: Callable[..., str], self: Any, call_item: Any, *args: Any, **kwargs: Any) -> str:
    """SGLang's id maker, except for calls that carry the model's own id."""
    model_id = getattr(call_item, "model_id", None)
    if model_id:
        return str(model_id)
    return original(self, call_item, *args, **kwargs)


def register() -> None:
    """The ``sglang.srt.plugins`` entry point: register both detectors and the id hook. Idempotent."""
    FunctionCallParser.ToolCallParserEnum[NAME] = KimiToolparseDetector
    sglang_reasoning.ReasoningParser.DetectorMap[NAME] = KimiToolparseReasoningDetector
    try:
        from sglang.srt.plugins.hook_registry import HookRegistry, HookType
    except ImportError:  # an SGLang without the hook registry: SGLang makes the ids
        return
    HookRegistry.register(_ID_HOOK_TARGET, _model_id_hook, HookType.AROUND)
