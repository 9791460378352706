"""Feed one raw K2 output through vLLM's real chat serving code, with no GPU and no model.

:func:`vllm_chat` builds vLLM's own ``OpenAIServingChat`` around a stub engine client whose generator
yields ``RequestOutput`` objects carrying the output's text and token ids, one engine step at a time,
and runs vLLM's streaming or non-streaming generator with the tool and reasoning parsers you name. It
returns the assistant message a client ends with, so any parser vLLM knows (this project's
``kimi_toolparse`` or vLLM's own ``kimi_k2``) can be checked against the same expectations. The tests
use it on the conformance corpus, and a fuzzer can use it on generated outputs.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Sequence
from types import SimpleNamespace
from typing import Any

from vllm.entrypoints.generate.base.protocol import RequestResponseMetadata
from vllm.entrypoints.openai.chat_completion.protocol import ChatCompletionRequest
from vllm.entrypoints.openai.chat_completion.serving import OpenAIServingChat
from vllm.outputs import CompletionOutput, RequestOutput

from kimi_toolparse import KimiVocabulary
from kimi_toolparse.integrations import vllm_plugin
from kimi_toolparse.integrations.deltas import MessageAccumulator
from kimi_toolparse.tokens import SPECIAL_IDS, SPECIAL_TOKENS, THINK_BEGIN

__all__ = ["VocabularyTokenizer", "vllm_chat"]

MODEL = "kimi-k2"
# The end of a K2 prompt: `<|im_assistant|>assistant<|im_middle|>`, with `<think>` when thinking (K2.5).
_PROMPT_END = [SPECIAL_IDS["<|im_assistant|>"], 77091, SPECIAL_IDS["<|im_middle|>"]]


class VocabularyTokenizer:
    """The little of a tokenizer vLLM's parsers use, over a :class:`~kimi_toolparse.KimiVocabulary`."""

    def __init__(self, vocabulary: KimiVocabulary) -> None:
        self._vocabulary = vocabulary
        self._vocab: dict[str, int] | None = None
        self.all_special_tokens = list(SPECIAL_TOKENS.values())
        self.all_special_ids = list(SPECIAL_TOKENS)
        self.eos_token_id = SPECIAL_IDS["<|im_end|>"]
        self.chat_template = None

    def get_vocab(self) -> dict[str, int]:
        if self._vocab is None:
            vocab = {
                self._vocabulary.token_bytes(i).decode("utf-8", errors="replace"): i
                for i in range(len(self._vocabulary))
                if i not in SPECIAL_TOKENS
            }
            vocab.update(SPECIAL_IDS)
            self._vocab = vocab
        return self._vocab

    @property
    def vocab(self) -> dict[str, int]:
        return self.get_vocab()

    def __len__(self) -> int:
        return len(self._vocabulary)

    def encode(self, text: str, add_special_tokens: bool = False, **kwargs: Any) -> list[int]:
        return self._vocabulary.encode(text)

    def decode(self, token_ids: Sequence[int], skip_special_tokens: bool = False, **kwargs: Any) -> str:
        if skip_special_tokens:
            token_ids = [t for t in token_ids if t not in SPECIAL_TOKENS]
        return self._vocabulary.decode(list(token_ids))

    def convert_tokens_to_ids(self, tokens: str | list[str]) -> int | list[int]:
        vocab = self.get_vocab()
        if isinstance(tokens, str):
            return vocab.get(tokens, 0)
        return [vocab.get(t, 0) for t in tokens]

    def convert_ids_to_tokens(self, ids: int | list[int], skip_special_tokens: bool = False) -> Any:
        if isinstance(ids, int):
            return SPECIAL_TOKENS.get(ids) or self._vocabulary.decode([ids])
        return [self.convert_ids_to_tokens(i) for i in ids]


def _serving(
    tokenizer: VocabularyTokenizer, tool_parser: str | None, reasoning_parser: str | None
) -> OpenAIServingChat:
    model_config = SimpleNamespace(
        model=MODEL,
        hf_config=SimpleNamespace(model_type="kimi_k2"),
        get_diff_sampling_param=lambda: {},
        generation_config="auto",
        max_model_len=262144,
        hf_text_config=SimpleNamespace(model_type="kimi_k2"),
        tokenizer=MODEL,
        served_model_name=MODEL,
        logits_processors=None,
    )
    engine_client = SimpleNamespace(
        model_config=model_config,
        renderer=SimpleNamespace(tokenizer=tokenizer),
        input_processor=None,
        vllm_config=None,
    )
    models = SimpleNamespace(model_name=lambda lora_request=None: MODEL, is_base_model=lambda name: True)
    return OpenAIServingChat(
        engine_client,
        models,
        "assistant",
        online_renderer=SimpleNamespace(reasoning_effort_map=None),
        request_logger=None,
        chat_template=None,
        chat_template_content_format="auto",
        reasoning_parser=reasoning_parser or "",
        enable_auto_tools=tool_parser is not None,
        tool_parser=tool_parser,
    )


async def _outputs(
    prompt_ids: list[int], steps: Sequence[tuple[str, Sequence[int]]], finish_reason: str, whole: bool
) -> AsyncIterator[RequestOutput]:
    if whole:
        steps = [("".join(t for t, _ in steps), [i for _, ids in steps for i in ids])]
    for n, (text, ids) in enumerate(steps):
        last = n == len(steps) - 1
        output = CompletionOutput(
            index=0,
            text=text,
            token_ids=list(ids),
            cumulative_logprob=None,
            logprobs=None,
            finish_reason=finish_reason if last else None,
        )
        yield RequestOutput("req", None, prompt_ids, None, [output], finished=last)


def vllm_chat(
    steps: Sequence[tuple[str, Sequence[int]]],
    *,
    vocabulary: KimiVocabulary,
    tools: Sequence[dict[str, Any]] | None = None,
    thinking: bool = False,
    stream: bool = True,
    tool_parser: str | None = vllm_plugin.NAME,
    reasoning_parser: str | None = vllm_plugin.NAME,
    finish_reason: str = "stop",
) -> dict[str, Any]:
    """Run one output through vLLM's ``OpenAIServingChat``; return the client's message.

    ``steps`` are the engine's decode steps, each its text and token ids (one step per token, or several
    tokens per step); non-streaming joins them into one final output. ``thinking`` ends the prompt with
    ``<think>``. The result is the OpenAI assistant message (``content``, ``reasoning_content``,
    ``tool_calls``) plus ``finish_reason``: the streamed deltas added up, or the non-streaming message.
    """
    tokenizer = VocabularyTokenizer(vocabulary)
    serving = _serving(tokenizer, tool_parser, reasoning_parser)
    body: dict[str, Any] = {
        "model": MODEL,
        "messages": [{"role": "user", "content": "hi"}],
        "stream": stream,
    }
    if tools:
        body["tools"] = list(tools)
        body["tool_choice"] = "auto"
    request = ChatCompletionRequest.model_validate(body)
    parser = None
    if serving.parser_cls is not None:
        parser = serving._make_parser(request, tokenizer, {})
        request = parser.adjust_request(request)
    prompt_ids = _PROMPT_END + ([SPECIAL_IDS[THINK_BEGIN]] if thinking else [])
    outputs = _outputs(prompt_ids, steps, finish_reason, whole=not stream)
    metadata = RequestResponseMetadata(request_id="req")
    if stream:
        return asyncio.run(_collect_stream(serving, request, outputs, tokenizer, metadata))
    response = asyncio.run(
        serving.chat_completion_full_generator(
            request,
            outputs,
            "req",
            MODEL,
            [],
            tokenizer,
            metadata,
            parser=parser,
        )
    )
    data = json.loads(response.model_dump_json())
    if "error" in data:
        raise RuntimeError(f"vLLM answered an error: {data['error']}")
    choice = data["choices"][0]
    message = choice["message"]
    return {
        "role": "assistant",
        "content": message.get("content"),
        "reasoning_content": message.get("reasoning", message.get("reasoning_content")),
        "tool_calls": [
            {"id": c["id"], "type": "function", "function": c["function"]}
            for c in message.get("tool_calls") or ()
        ],
        "finish_reason": choice["finish_reason"],
    }


async def _collect_stream(
    serving: OpenAIServingChat,
    request: ChatCompletionRequest,
    outputs: AsyncIterator[RequestOutput],
    tokenizer: VocabularyTokenizer,
    metadata: Any,
) -> dict[str, Any]:
    accumulator = MessageAccumulator()
    finish_reason = None
    async for frame in serving.chat_completion_stream_generator(
        request,
        outputs,
        "req",
        MODEL,
        [],
        tokenizer,
        metadata,
        chat_template_kwargs={},
    ):
        payload = frame.removeprefix("data: ").strip()
        if not payload or payload == "[DONE]":
            continue
        chunk = json.loads(payload)
        if "error" in chunk:
            raise RuntimeError(f"vLLM streamed an error: {chunk['error']}")
        for choice in chunk.get("choices", ()):
            accumulator.add(choice.get("delta"))
            finish_reason = choice.get("finish_reason") or finish_reason
    message = accumulator.message()
    message.setdefault("tool_calls", [])
    message["finish_reason"] = finish_reason
    return message
