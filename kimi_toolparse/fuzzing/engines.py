"""The ``vllm`` and ``sglang`` targets: the engines' own Kimi K2 parsers, driven through their interfaces.

They need the engine installed in the same environment (``pip install --no-deps vllm`` plus what its
import chain needs, no GPU). Token ids come from the Kimi vocabulary (``--vocab``), as an engine has them.
As in a running engine, the parser sees the output only up to ``<|im_end|>`` (generation stops at the
end-of-sequence token), and reasoning parsing is on when the prompt ended with ``<think>`` or the output
opens with it (a thinking model), off otherwise.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from ..tokens import IM_END, SPECIAL_IDS
from .targets import Feed, Target, TargetError

__all__ = ["VocabTokenizer", "engine_target"]

_EOS = SPECIAL_IDS[IM_END]


def _until_eos(feed: Feed, vocab: Any) -> Feed:
    """The feed cut where an engine stops generating: before the first ``<|im_end|>``."""
    case, ids = feed.case, feed.token_ids
    if ids is not None and _EOS in ids:
        ids = ids[: ids.index(_EOS)]
        raw = str(vocab.decode(ids))
    elif ids is None and IM_END in case.raw:
        raw = case.raw[: case.raw.index(IM_END)]
    else:
        return feed
    kept = len(ids or [])
    steps, seen = [], 0
    for text, step_ids in feed.steps or []:
        if seen + len(step_ids) > kept:
            keep = step_ids[: kept - seen]
            if keep:
                steps.append((str(vocab.decode(keep)), keep))
            break
        steps.append((text, step_ids))
        seen += len(step_ids)
    chunks, pos = [], 0
    for chunk in feed.chunks:
        part = chunk[: max(0, len(raw) - pos)]
        pos += len(chunk)
        if part:
            chunks.append(part)
    return dataclasses.replace(
        feed,
        case=dataclasses.replace(case, pieces=((raw, True),)),
        chunks=chunks or [""],
        token_ids=ids,
        steps=steps if feed.steps is not None else None,
    )


def _thinking(feed: Feed) -> bool:
    return feed.case.thinking or feed.case.raw.lstrip().startswith("<think>")


class VocabTokenizer:
    """The bits of a Hugging Face tokenizer the engines' parsers read, over a Kimi vocabulary."""

    def __init__(self, vocab: Any) -> None:
        self._vocab = vocab
        self._table: dict[str, int] | None = None
        self.all_special_tokens = list(SPECIAL_IDS)
        self.all_special_ids = list(SPECIAL_IDS.values())
        self.eos_token_id = SPECIAL_IDS["<|im_end|>"]

    def get_vocab(self) -> dict[str, int]:
        if self._table is None:
            table = {self._vocab.token_bytes(i).decode("latin-1"): i for i in range(163584)}
            table.update(SPECIAL_IDS)
            self._table = table
        return self._table

    @property
    def vocab(self) -> dict[str, int]:
        return self.get_vocab()

    def __len__(self) -> int:
        return len(self._vocab)

    def encode(self, text: str, add_special_tokens: bool = False, **_: Any) -> list[int]:
        return list(self._vocab.encode(text))

    def decode(self, ids: Any, skip_special_tokens: bool = False, **_: Any) -> str:
        return str(self._vocab.decode(list(ids)))

    def convert_tokens_to_ids(self, tokens: Any) -> Any:
        table = self.get_vocab()
        if isinstance(tokens, str):
            return table.get(tokens)
        return [table.get(t) for t in tokens]

    def convert_ids_to_tokens(self, ids: Any, skip_special_tokens: bool = False) -> Any:
        if isinstance(ids, int):
            return self._vocab.token_bytes(ids).decode("latin-1")
        return [self._vocab.token_bytes(i).decode("latin-1") for i in ids]


def engine_target(name: str, vocab: Any) -> Target:
    """``vllm`` or ``sglang``, or a :class:`TargetError` saying what is missing."""
    if name == "vllm":
        return _vllm(vocab)
    return _sglang(vocab)


def _vllm(vocab: Any) -> Target:
    try:
        from vllm.entrypoints.openai.chat_completion.protocol import ChatCompletionRequest
        from vllm.parser.kimi_k2 import KimiK2Parser
    except Exception as e:  # ImportError, or an import chain that fails part way
        raise TargetError(f"cannot load vLLM's Kimi K2 parser: {type(e).__name__}: {e}") from None
    tokenizer = VocabTokenizer(vocab)
    tokenizer.get_vocab()

    def run(feed: Feed) -> Any:
        feed = _until_eos(feed, vocab)
        case, thinking = feed.case, _thinking(feed)
        request = ChatCompletionRequest(
            model="kimi-k2",
            messages=[{"role": "user", "content": "Use the tools."}],
            tools=case.tools,
            chat_template_kwargs={"thinking": thinking},
        )
        parser = KimiK2Parser(tokenizer, request.tools, chat_template_kwargs={"thinking": thinking})
        if not feed.stream or not feed.steps:
            reasoning, content, calls = parser.parse(
                case.raw, request, enable_auto_tools=True, model_output_token_ids=feed.token_ids or ()
            )
            return {
                "content": content,
                "reasoning_content": reasoning,
                "tool_calls": [
                    {"id": c.id, "type": "function", "function": {"name": c.name, "arguments": c.arguments}}
                    for c in calls or []
                ],
            }
        deltas = []
        for n, (text, ids) in enumerate(feed.steps, 1):
            delta = parser.parse_delta(text, list(ids), request, finished=n == len(feed.steps))
            if delta is not None:
                deltas.append(delta)
        return deltas

    return Target("vllm (KimiK2Parser)", "token_ids", run, True, True, streams=True)


def _sglang(vocab: Any) -> Target:
    try:
        from sglang.srt.entrypoints.openai.protocol import Tool
        from sglang.srt.function_call.kimik2_detector import KimiK2Detector
        from sglang.srt.parser.reasoning_parser import ReasoningParser
    except Exception as e:
        raise TargetError(f"cannot load SGLang's Kimi K2 detector: {type(e).__name__}: {e}") from None

    def run(feed: Feed) -> Any:
        feed = _until_eos(feed, vocab)
        case = feed.case
        tools = [Tool.model_validate(t) for t in case.tools or []]
        reasoner = ReasoningParser("kimi_k2", stream_reasoning=True, force_reasoning=case.thinking)
        detector = KimiK2Detector()
        if not feed.stream:
            reasoning, text = reasoner.parse_non_stream(case.raw)
            result = detector.detect_and_parse(text or "", tools)
            return {
                "content": result.normal_text,
                "reasoning_content": reasoning,
                "tool_calls": [_sglang_call(c, i) for i, c in enumerate(result.calls)],
            }
        deltas: list[dict[str, Any]] = []
        for chunk in [*feed.chunks, None]:
            reasoning, text = (
                reasoner.parse_stream_chunk(chunk) if chunk is not None else reasoner.parse_stream_end()
            )
            if reasoning:
                deltas.append({"reasoning_content": reasoning})
            if text:
                result = detector.parse_streaming_increment(text, tools)
                if result.normal_text:
                    deltas.append({"content": result.normal_text})
                for c in result.calls:
                    deltas.append({"tool_calls": [_sglang_delta(c)]})
        return deltas

    return Target("sglang (KimiK2Detector)", "chunks", run, True, True, streams=True)


def _sglang_call(call: Any, index: int) -> dict[str, Any]:
    # SGLang's serving layer writes Kimi ids as functions.NAME:INDEX itself; the detector drops the model's
    return {
        "id": f"functions.{call.name}:{index}",
        "type": "function",
        "function": {"name": call.name, "arguments": call.parameters},
    }


def _sglang_delta(call: Any) -> dict[str, Any]:
    out: dict[str, Any] = {"index": call.tool_index, "function": {"arguments": call.parameters or ""}}
    if call.name:
        out["id"] = f"functions.{call.name}:{call.tool_index}"
        out["function"]["name"] = call.name
    return out
