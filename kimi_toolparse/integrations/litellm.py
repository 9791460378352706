"""Kimi K2 inside LiteLLM: a provider for raw ``/v1/completions`` engines, and tool-call id hygiene.

:class:`KimiK2Provider` is a LiteLLM ``CustomLLM``: it renders the exact Kimi prompt, calls the engine's raw
``/v1/completions`` (with the gateway's engine profiles: special tokens kept, token ids where the engine
returns them, the prompt as token ids where it takes them) and parses the answer, so ``litellm.completion``
/ ``acompletion`` (streamed or not) return the model's tool calls with its own ``functions.NAME:IDX`` ids and
its reasoning as ``reasoning_content``. The request side (rendering, ``tool_choice``, the body) and the
response side (SSE, the parser, OpenAI's shapes) are the gateway's own (:mod:`kimi_toolparse.serve`)::

    import litellm
    from kimi_toolparse.integrations.litellm import KimiK2Provider

    litellm.custom_provider_map = [
        {"provider": "kimi_toolparse", "custom_handler": KimiK2Provider(engine="sglang")}
    ]
    litellm.completion(model="kimi_toolparse/kimi-k2.5", api_base="http://gpu:30000/v1",
                       messages=messages, tools=tools)

The model name after ``kimi_toolparse/`` is the chat template (``kimi-k2.5``, ``kimi-k2-thinking``,
``moonshotai/Kimi-K2.6``...). Per call, ``engine``, ``upstream_model`` (default: the engine's first
``/v1/models`` entry), ``grammar``, ``prompt`` (``auto``/``ids``/``text``) and ``tokenizer`` may be passed as
extra arguments (or in the proxy's ``litellm_params``). In the proxy's config the handler is
``kimi_toolparse.integrations.litellm.provider`` (an instance with the defaults); docs/litellm.md has both.

For LiteLLM users who call an OpenAI-compatible Kimi endpoint instead: :class:`KimiToolCallIds` (a
``CustomLogger`` whose pre-call hook the proxy runs) and :func:`kimi_messages` rewrite the history's
tool-call ids to ``functions.NAME:IDX`` before it is sent, as the renderer does.

Needs the ``litellm`` extra: ``pip install '.[litellm]'`` in a kimi_toolparse clone.
"""

from __future__ import annotations

import functools
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
from litellm.integrations.custom_logger import CustomLogger
from litellm.llms.custom_llm import CustomLLM, CustomLLMError
from litellm.types.utils import (
    Delta,
    GenericStreamingChunk,
    ModelResponse,
    ModelResponseStream,
    StreamingChoices,
)

from kimi_toolparse.call_ids import normalize_tool_call_ids
from kimi_toolparse.serve.chat import DIALECT, ChatRequest, ChoiceStream, parse_request, plan_request
from kimi_toolparse.serve.config import PROMPT_MODES
from kimi_toolparse.serve.engines import profile
from kimi_toolparse.serve.pipeline import Plan, Run
from kimi_toolparse.serve.request import ApiError
from kimi_toolparse.serve.upstream import BrokenStream, SSEDecoder, Target, apply

__all__ = [
    "KimiCall",
    "KimiK2Provider",
    "KimiProviderError",
    "KimiToolCallIds",
    "id_hygiene",
    "kimi_messages",
    "provider",
]

#: Per-call options this provider reads (taken out of LiteLLM's ``optional_params``).
_OPTIONS = ("engine", "upstream_model", "grammar", "prompt", "tokenizer")
#: OpenAI chat fields passed on to the pipeline (the rest of ``optional_params`` is not for the engine).
_CHAT_FIELDS = frozenset(ChatRequest.model_fields) - {"model", "messages", "stream", "stream_options"}


@functools.lru_cache(maxsize=32)
def _target(engine: str, grammar: str | None, prompt: str, tokenizer: str | None) -> Target:
    """The engine profile and prompt form for these options: built once per set of options."""
    from kimi_toolparse.serve.config import ServeConfig

    config = ServeConfig(
        upstream="http://engine/v1", engine=engine, grammar=grammar, prompt=prompt, tokenizer=tokenizer
    )
    return Target.from_config(config)


def _as_dict(message: Any) -> Any:
    """A LiteLLM ``Message`` (from an earlier answer) as the plain dict the renderer takes."""
    if isinstance(message, dict):
        return message
    dump = getattr(message, "model_dump", None)
    return dump(exclude_none=True) if callable(dump) else message


#: What the provider streams to LiteLLM: its plain chunk dicts, or a ModelResponseStream (reasoning).
Chunk = GenericStreamingChunk | ModelResponseStream


def _generic(
    index: int,
    text: str,
    tool_use: Any,
    finish: str | None = None,
    usage: dict[str, int] | None = None,
) -> GenericStreamingChunk:
    return {
        "text": text,
        "tool_use": tool_use,
        "is_finished": finish is not None,
        "finish_reason": finish or "",
        "usage": usage,  # type: ignore[typeddict-item]
        "index": index,
    }


class KimiCall:
    """One completion through the provider, sans-IO: the upstream body, then raw bytes in, LiteLLM out.

    :meth:`feed` takes the engine's SSE bytes however they are cut and returns stream chunks;
    :meth:`finish` the last chunks; :meth:`response` the whole answer once the stream is over."""

    def __init__(self, model: str, messages: list[Any], options: dict[str, Any], target: Target) -> None:
        fields = {k: v for k, v in options.items() if k in _CHAT_FIELDS and v is not None}
        try:
            req = parse_request({"model": model, "messages": [_as_dict(m) for m in messages], **fields})
            self.plan: Plan = plan_request(req, model, target)
        except ApiError as e:
            raise KimiProviderError(e.status, e.message) from None
        self.id = f"chatcmpl-{uuid.uuid4().hex}"
        self.created = int(time.time())
        self.choices = [ChoiceStream(i, self.plan) for i in range(req.n)]
        self.run = Run(self.id, self.plan, self.choices, self.created)
        self.usage: dict[str, Any] | None = None
        self._sse = SSEDecoder()
        self._template: tuple[Delta, StreamingChoices, ModelResponseStream] | None = None

    def body(self, upstream_model: str) -> dict[str, Any]:
        """The ``/v1/completions`` request."""
        return {**self.plan.upstream, "model": upstream_model}

    def _chunks(self, index: int, delta: dict[str, Any]) -> list[Chunk]:
        """LiteLLM's stream chunks for one OpenAI delta: content and tool calls as its plain
        ``GenericStreamingChunk`` dicts (cheap: LiteLLM builds its objects from them), reasoning as a
        ``ModelResponseStream`` (the dicts have no reasoning field), copied from one made per call."""
        reasoning = delta.get("reasoning_content")
        if reasoning:
            if self._template is None:
                d = Delta(content=None)
                self._template = (
                    d,
                    StreamingChoices(index=0, delta=d),
                    ModelResponseStream(id=self.id, created=self.created, model=self.plan.request.model),
                )
            d, c, m = self._template
            choice = c.model_copy(
                update={"index": index, "delta": d.model_copy(update={"reasoning_content": reasoning})}
            )
            return [m.model_copy(update={"choices": [choice]})]
        out: list[Chunk] = []
        content = delta.get("content")
        if content:
            out.append(_generic(index, content, None))
        for call in delta.get("tool_calls") or ():
            fn = call.get("function") or {}
            tool_use = {
                "id": call.get("id"),
                "type": "function",
                "function": {"name": fn.get("name"), "arguments": fn.get("arguments") or ""},
                "index": call.get("index", 0),
            }
            out.append(_generic(index, "", tool_use))
        return out

    def feed(self, raw: bytes) -> list[Chunk]:
        """Stream chunks for a piece of the engine's SSE body."""
        try:
            events = self._sse.feed(raw)
        except ValueError as e:
            raise KimiProviderError(502, str(e)) from None
        if not events:
            return []
        try:
            fed = apply(events, self, self.choices)
        except BrokenStream as e:
            raise KimiProviderError(502, str(e)) from None
        return [c for i, deltas in fed for d in deltas for c in self._chunks(i, d)]

    @property
    def done(self) -> bool:
        """The engine sent ``data: [DONE]``."""
        return self._sse.done

    def finish(self) -> list[Chunk]:
        """The last deltas of each choice, then its finish reason; the usage rides on the last chunk."""
        out = [c for ch in self.choices for d in ch.close() for c in self._chunks(ch.index, d)]
        self.run.upstream_usage = self.usage
        prompt, completion = self.run.usage()
        usage = {
            "prompt_tokens": prompt,
            "completion_tokens": completion,
            "total_tokens": prompt + completion,
        }
        for ch in self.choices:
            last = ch is self.choices[-1]
            out.append(_generic(ch.index, "", None, ch.finish_reason, usage if last else None))
        return out

    def response(self) -> ModelResponse:
        """The whole answer (after the stream ended): the gateway's chat completion as a ModelResponse."""
        for ch in self.choices:
            ch.close()
        self.run.upstream_usage = self.usage
        body = DIALECT.body(self.run)
        body["id"] = self.id
        diagnostics = body.pop("kimi_diagnostics", None)
        response = ModelResponse(**body)
        if diagnostics:
            response._hidden_params["kimi_diagnostics"] = diagnostics
        return response


class KimiProviderError(CustomLLMError):
    """A failed call, with the HTTP status LiteLLM reports (400: the request; 502: the engine)."""

    def __init__(self, status_code: int, message: str) -> None:
        super().__init__(status_code, message)  # type: ignore[no-untyped-call]


def _error(status: int, text: str) -> KimiProviderError:
    return KimiProviderError(status, f"the engine answered {status}: {text[:300]}")


class KimiK2Provider(CustomLLM):
    """LiteLLM's custom provider for Kimi K2 on a raw ``/v1/completions`` engine (see the module's text).

    ``engine``: the profile (``vllm``, ``sglang``, ``trtllm``, ``llamacpp``, ``plain``); ``upstream_model``:
    the name the engine serves (None: its first ``/v1/models`` entry); ``grammar``: send each request's
    tool-call grammar in this format; ``prompt``: ``auto`` (token ids where the engine takes them and a
    vocabulary is at hand), ``ids`` or ``text``; ``tokenizer``: the Kimi vocabulary for id prompts (None:
    the package's). Each may be overridden per call."""

    def __init__(
        self,
        *,
        engine: str = "vllm",
        upstream_model: str | None = None,
        grammar: str | None = None,
        prompt: str = "auto",
        tokenizer: str | None = None,
    ) -> None:
        super().__init__()
        profile(engine)
        if prompt not in PROMPT_MODES:
            raise ValueError(f"prompt must be one of {', '.join(PROMPT_MODES)}, not {prompt!r}")
        self.defaults: dict[str, Any] = {
            "engine": engine,
            "upstream_model": upstream_model,
            "grammar": grammar,
            "prompt": prompt,
            "tokenizer": tokenizer,
        }
        self._models: dict[str, str] = {}
        self._client = httpx.Client(timeout=httpx.Timeout(600.0, connect=10.0))

    # ---- the parts every entry point shares ------------------------------------------------------------

    def _prepare(
        self, model: str, messages: list[Any], api_base: str | None, optional_params: dict[str, Any]
    ) -> tuple[KimiCall, dict[str, Any], str]:
        if not api_base:
            raise KimiProviderError(
                400, "kimi_toolparse needs api_base: the engine's URL, http://HOST:PORT/v1"
            )
        params = dict(optional_params)
        opts = {k: params.pop(k, None) or self.defaults[k] for k in _OPTIONS}
        try:
            target = _target(opts["engine"], opts["grammar"], opts["prompt"], opts["tokenizer"])
        except ValueError as e:
            raise KimiProviderError(400, str(e)) from None
        return KimiCall(model, messages, params, target), opts, api_base.rstrip("/")

    @staticmethod
    def _headers(api_key: str | None, headers: dict[str, str] | None) -> dict[str, str]:
        out = dict(headers or {})
        if api_key:
            out["authorization"] = f"Bearer {api_key}"
        return out

    @staticmethod
    def _first_model(data: Any, base: str) -> str:
        try:
            return str(data["data"][0]["id"])
        except (KeyError, IndexError, TypeError):
            raise KimiProviderError(502, f"{base}/models lists no model: pass upstream_model") from None

    def _model(self, opts: dict[str, Any], base: str, headers: dict[str, str]) -> str:
        name = opts["upstream_model"] or self._models.get(base)
        if name is None:
            r = self._client.get(f"{base}/models", headers=headers)
            name = self._models[base] = self._first_model(r.json() if r.status_code == 200 else None, base)
        return str(name)

    async def _amodel(
        self, client: httpx.AsyncClient, opts: dict[str, Any], base: str, headers: dict[str, str]
    ) -> str:
        name = opts["upstream_model"] or self._models.get(base)
        if name is None:
            r = await client.get(f"{base}/models", headers=headers)
            name = self._models[base] = self._first_model(r.json() if r.status_code == 200 else None, base)
        return str(name)

    # ---- sync (LiteLLM passes everything by keyword: model, messages, api_base, api_key, headers,
    # optional_params, ...) ------------------------------------------------------------------------------

    def _sync_stream(self, kw: dict[str, Any]) -> tuple[KimiCall, Iterator[Chunk]]:
        call, opts, base = self._prepare(
            kw["model"], kw["messages"], kw.get("api_base"), kw["optional_params"]
        )
        headers = self._headers(kw.get("api_key"), kw.get("headers"))
        body = call.body(self._model(opts, base, headers))

        def chunks() -> Iterator[Chunk]:
            try:
                with self._client.stream("POST", f"{base}/completions", json=body, headers=headers) as r:
                    if r.status_code != 200:
                        raise _error(r.status_code, r.read().decode("utf-8", "replace"))
                    for raw in r.iter_raw():
                        yield from call.feed(raw)
                        if call.done:
                            break
            except httpx.HTTPError as e:
                raise KimiProviderError(502, f"cannot reach the engine: {type(e).__name__}") from None
            yield from call.finish()

        return call, chunks()

    def completion(self, *args: Any, **kw: Any) -> ModelResponse:
        call, chunks = self._sync_stream(kw)
        for _ in chunks:
            pass
        return call.response()

    def streaming(self, *args: Any, **kw: Any) -> Iterator[Chunk]:  # type: ignore[override]
        return self._sync_stream(kw)[1]

    # ---- async ------------------------------------------------------------------------------------------

    async def _async_chunks(self, kw: dict[str, Any], calls: list[KimiCall]) -> AsyncIterator[Chunk]:
        call, opts, base = self._prepare(
            kw["model"], kw["messages"], kw.get("api_base"), kw["optional_params"]
        )
        calls.append(call)
        headers = self._headers(kw.get("api_key"), kw.get("headers"))
        try:
            async with httpx.AsyncClient(timeout=httpx.Timeout(600.0, connect=10.0)) as client:
                body = call.body(await self._amodel(client, opts, base, headers))
                async with client.stream("POST", f"{base}/completions", json=body, headers=headers) as r:
                    if r.status_code != 200:
                        raise _error(r.status_code, (await r.aread()).decode("utf-8", "replace"))
                    async for raw in r.aiter_raw():
                        for chunk in call.feed(raw):
                            yield chunk
                        if call.done:
                            break
        except httpx.HTTPError as e:
            raise KimiProviderError(502, f"cannot reach the engine: {type(e).__name__}") from None
        for chunk in call.finish():
            yield chunk

    async def acompletion(self, *args: Any, **kw: Any) -> ModelResponse:
        calls: list[KimiCall] = []
        async for _ in self._async_chunks(kw, calls):
            pass
        return calls[0].response()

    async def astreaming(self, *args: Any, **kw: Any) -> AsyncIterator[Chunk]:  # type: ignore[override]
        async for chunk in self._async_chunks(kw, []):
            yield chunk


#: An instance with the defaults (``engine="vllm"``), for the proxy's config:
#: ``custom_handler: kimi_toolparse.integrations.litellm.provider``.
provider = KimiK2Provider()


# ---- id hygiene for OpenAI-compatible Kimi endpoints ------------------------------------------------------


def kimi_messages(messages: list[Any]) -> list[dict[str, Any]]:
    """The history with every tool-call id as ``functions.NAME:IDX`` (running index) and each tool result's
    ``tool_call_id`` following its call, as Kimi K2 was trained to see them. Ids that cannot be placed (a
    result without a matching call) are left as they are."""
    return normalize_tool_call_ids([_as_dict(m) for m in messages], strict=False).messages


class KimiToolCallIds(CustomLogger):
    """A LiteLLM callback that rewrites the history's tool-call ids (:func:`kimi_messages`) before each
    call (the proxy runs it: ``litellm_settings: callbacks: kimi_toolparse.integrations.litellm.id_hygiene``).
    ``models``: only requests for these model names (None: every request with messages)."""

    def __init__(self, models: list[str] | None = None) -> None:
        super().__init__()
        self.models = None if models is None else frozenset(models)

    async def async_pre_call_hook(
        self, user_api_key_dict: Any, cache: Any, data: dict[str, Any], call_type: Any
    ) -> dict[str, Any]:
        messages = data.get("messages")
        if isinstance(messages, list) and (self.models is None or data.get("model") in self.models):
            data["messages"] = kimi_messages(messages)
        return data


#: A :class:`KimiToolCallIds` for every model, for the proxy's config.
id_hygiene = KimiToolCallIds()
