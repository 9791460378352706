"""Feed one raw K2 output through SGLang's own parsers, chained the way its chat server chains them.

:func:`sglang_chat` runs SGLang's ``ReasoningParser`` first (without the request's tools), hands its
normal text to SGLang's ``FunctionCallParser``, flushes both when the stream ends, and names each call with
SGLang's own id maker (``OpenAIServingChat._process_tool_call_id``, with the plug-ins' hooks applied). It
returns the assistant message a client ends with, for any parser names SGLang knows (this project's
``kimi_toolparse`` or SGLang's own ``kimi_k2``).
"""

from __future__ import annotations

import functools
import uuid
from collections.abc import Callable, Sequence
from types import SimpleNamespace
from typing import Any

from sglang.srt.entrypoints.openai.protocol import Tool
from sglang.srt.function_call.function_call_parser import FunctionCallParser
from sglang.srt.parser.reasoning_parser import ReasoningParser

from kimi_toolparse.integrations import sglang_plugin
from kimi_toolparse.integrations.deltas import MessageAccumulator

__all__ = ["real_id_maker", "sglang_chat"]


@functools.cache
def _ensure_plugins() -> None:
    from sglang.srt.plugins import load_plugins

    load_plugins()
    if sglang_plugin.NAME not in FunctionCallParser.ToolCallParserEnum:
        # Not installed as a distribution (no entry point): register by hand, as the entry point would.
        from sglang.srt.plugins.hook_registry import HookRegistry

        sglang_plugin.register()
        HookRegistry.apply_hooks()


def real_id_maker() -> Callable[..., str] | None:
    """SGLang's chat server's id maker (hooks applied), or None where its module cannot be imported.

    ``serving_chat`` imports SGLang's multimodal configs, which need ``torchvision``; the CPU build of
    torch this project tests with has no matching ``torchvision`` on PyPI.
    """
    try:
        from sglang.srt.entrypoints.openai.serving_chat import OpenAIServingChat
    except ImportError:
        return None
    _ensure_plugins()
    maker: Callable[..., str] = OpenAIServingChat._process_tool_call_id
    return maker


def _call_id(tool_call_parser: str, item: Any) -> str:
    """The id SGLang's server gives a call: its own maker when importable, else the same rule restated
    (the model's id from this plug-in's hook, else ``functions.NAME:IDX`` for ``kimi_k2``, else a uuid)."""
    maker = real_id_maker()
    if maker is not None:
        return str(maker(SimpleNamespace(tool_call_parser=tool_call_parser), item, 0))
    model_id = getattr(item, "model_id", None)
    if model_id:
        return str(model_id)
    if tool_call_parser == "kimi_k2":
        return f"functions.{item.name}:{item.tool_index}"
    return f"call_{uuid.uuid4().hex[:24]}"


def sglang_chat(
    chunks: Sequence[str],
    *,
    tools: Sequence[dict[str, Any]] | None = None,
    thinking: bool = False,
    stream: bool = True,
    tool_parser: str | None = sglang_plugin.NAME,
    reasoning_parser: str | None = sglang_plugin.NAME,
) -> dict[str, Any]:
    """Run one output through SGLang's parsers; return the client's message and ``finish_reason``.

    ``chunks`` are the text pieces SGLang's detokenizer streams (joined when not streaming); ``thinking``
    is SGLang's ``force_reasoning`` (the output starts inside ``<think>``).
    """
    _ensure_plugins()
    sglang_tools = [Tool.model_validate(t) for t in tools or ()]
    reasoner = (
        ReasoningParser(
            reasoning_parser,
            stream_reasoning=True,
            force_reasoning=thinking,
            tool_call_parser_active=bool(tool_parser),
        )
        if reasoning_parser
        else None
    )
    caller = FunctionCallParser(sglang_tools, tool_parser) if tool_parser and sglang_tools else None
    if not stream:
        return _whole("".join(chunks), reasoner, caller, tool_parser or "")
    accumulator = MessageAccumulator()
    has_calls = False
    for chunk in [*chunks, None]:
        reasoning, text = "", chunk or ""
        if reasoner is not None:
            if chunk is None:
                reasoning, text = reasoner.parse_stream_end()
            else:
                reasoning, text = reasoner.parse_stream_chunk(chunk)
        accumulator.add({"reasoning_content": reasoning or ""})
        if caller is None:
            accumulator.add({"content": text or ""})
            continue
        normal, calls = caller.parse_stream_chunk(text or "")
        if chunk is None:
            end_text, end_calls = caller.parse_stream_end()
            normal, calls = (normal or "") + end_text, [*calls, *end_calls]
        accumulator.add({"content": normal or ""})
        for item in calls:
            has_calls = True
            delta: dict[str, Any] = {"index": item.tool_index, "function": {"arguments": item.parameters}}
            if item.name:
                delta["id"] = _call_id(tool_parser or "", item)
                delta["function"]["name"] = item.name
            accumulator.add({"tool_calls": [delta]})
    message = accumulator.message()
    message.setdefault("tool_calls", [])
    message["finish_reason"] = "tool_calls" if has_calls else "stop"
    return message


def _whole(text: str, reasoner: Any, caller: Any, tool_parser: str) -> dict[str, Any]:
    reasoning = None
    if reasoner is not None:
        reasoning, text = reasoner.parse_non_stream(text)
    calls: list[dict[str, Any]] = []
    if caller is not None and caller.has_tool_call(text):
        text, items = caller.parse_non_stream(text)
        calls = [
            {
                "id": _call_id(tool_parser, item),
                "type": "function",
                "function": {"name": item.name, "arguments": item.parameters},
            }
            for item in items
        ]
    return {
        "role": "assistant",
        "content": text if text and not text.isspace() else None,
        "reasoning_content": reasoning or None,
        "tool_calls": calls,
        "finish_reason": "tool_calls" if calls else "stop",
    }
