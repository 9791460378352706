"""The chat-completions dialect: OpenAI's ``POST /v1/chat/completions`` in and out of the pipeline.

:func:`parse_request` validates the body (:class:`ChatRequest`), :func:`to_request` turns it into the
pipeline's :class:`~.pipeline.Request`, and :class:`ChoiceStream` turns a choice's parser events into
``chat.completion.chunk`` deltas; :data:`DIALECT` writes the completion, the chunks and the errors.
"""

from __future__ import annotations

from typing import Any, Literal

import orjson
from pydantic import BaseModel, ConfigDict, Field

from kimi_toolparse import ContentDelta

from .config import ServeConfig
from .pipeline import Choice, Plan, Run, plan
from .request import ApiError, Request, validate_body
from .upstream import Target

__all__ = [
    "DIALECT",
    "ApiError",
    "ChatRequest",
    "ChoiceStream",
    "error_body",
    "parse_request",
    "plan_request",
    "to_request",
]


def error_body(message: str, type: str, param: str | None = None, code: str | None = None) -> dict[str, Any]:
    """OpenAI's error shape."""
    return {"error": {"message": message, "type": type, "param": param, "code": code}}


#: OpenAI's error type for each kind of failure (the rest are ``invalid_request_error``).
_TYPES = {"upstream": "upstream_error", "overloaded": "rate_limit_error"}


class StreamOptions(BaseModel):
    model_config = ConfigDict(extra="allow")
    include_usage: bool = False


class ChatRequest(BaseModel):
    """The fields of ``POST /v1/chat/completions`` the gateway reads; unknown fields are ignored."""

    model_config = ConfigDict(extra="allow")

    model: str
    messages: list[dict[str, Any]] = Field(min_length=1)
    tools: list[dict[str, Any]] | None = None
    tool_choice: Literal["auto", "none", "required"] | dict[str, Any] | None = None
    parallel_tool_calls: bool | None = None
    n: int = Field(1, ge=1, le=16)
    temperature: float | None = Field(None, ge=0, le=2)
    top_p: float | None = Field(None, gt=0, le=1)
    max_tokens: int | None = Field(None, ge=1)
    max_completion_tokens: int | None = Field(None, ge=1)
    stop: str | list[str] | None = None
    seed: int | None = None
    presence_penalty: float | None = Field(None, ge=-2, le=2)
    frequency_penalty: float | None = Field(None, ge=-2, le=2)
    stream: bool = False
    stream_options: StreamOptions | None = None
    chat_template_kwargs: dict[str, Any] | None = None
    logprobs: bool | None = None


def parse_request(data: Any) -> ChatRequest:
    """Validate the JSON body, or raise a 400 naming the field."""
    return validate_body(ChatRequest, data)


def to_request(req: ChatRequest) -> Request:
    """The pipeline's request for a chat request (400 for what the gateway cannot serve)."""
    if req.logprobs:
        raise ApiError(
            400, "logprobs are not supported by this gateway", param="logprobs", code="unsupported"
        )
    tc = req.tool_choice
    choice: Any = "auto"
    name = None
    if isinstance(tc, dict):
        fn = tc.get("function")
        name = fn.get("name") if isinstance(fn, dict) else None
        if tc.get("type") != "function" or not isinstance(name, str):
            raise ApiError(
                400,
                'tool_choice must be "auto", "none", "required" or '
                '{"type": "function", "function": {"name": ...}}',
                param="tool_choice",
            )
        choice = "function"
    elif tc in ("none", "required"):
        choice = tc
    return Request(
        wire=req,
        model=req.model,
        messages=req.messages,
        tools=req.tools or None,
        tool_choice=choice,
        tool_name=name,
        parallel_tool_calls=req.parallel_tool_calls is not False,
        n=req.n,
        max_tokens=req.max_completion_tokens or req.max_tokens,
        temperature=req.temperature,
        top_p=req.top_p,
        seed=req.seed,
        presence_penalty=req.presence_penalty,
        frequency_penalty=req.frequency_penalty,
        stop=[req.stop] if isinstance(req.stop, str) else list(req.stop or []),
        stream=req.stream,
        template_kwargs=dict(req.chat_template_kwargs or {}),
    )


def plan_request(req: ChatRequest, template: str, target: Target) -> Plan:
    """The pipeline's plan for a chat request (see :func:`.pipeline.plan`)."""
    return plan(to_request(req), template, target)


def _deltas(events: list[Any]) -> list[dict[str, Any]]:
    out = []
    for ev in events:
        if type(ev) is ContentDelta:  # the usual event: its delta without the method call
            out.append({"content": ev.text})
            continue
        delta = ev.to_openai()
        if delta is not None:
            out.append(delta)
    return out


class ChoiceStream(Choice):
    """One choice as chat-completion deltas."""

    def feed(self, text: str, token_ids: list[int] | None) -> list[dict[str, Any]]:
        """The deltas for one upstream piece (token ids when the upstream sent them)."""
        return _deltas(self.events(text, token_ids))

    def close(self) -> list[dict[str, Any]]:
        return _deltas(self.end())


def _usage(run: Run) -> dict[str, int]:
    p, c = run.usage()
    return {"prompt_tokens": p, "completion_tokens": c, "total_tokens": p + c}


def dumps(obj: Any) -> str:
    """Compact JSON, as the chunks are sent."""
    return orjson.dumps(obj).decode()


class _Chat:
    """The chat-completions dialect (see :mod:`.pipeline` for the interface)."""

    name = "chat"
    #: The stream needs the prompt's token count before the upstream answers (the Messages API does).
    counts_prompt = False

    def read(self, data: Any, config: ServeConfig) -> Request:
        return to_request(parse_request(data))

    def choice(self, index: int, plan: Plan) -> ChoiceStream:
        return ChoiceStream(index, plan)

    def error_status(self, error: ApiError) -> int:
        return error.status

    def error_body(self, error: ApiError, request_id: str | None = None) -> dict[str, Any]:
        return error_body(
            error.message, _TYPES.get(error.kind, "invalid_request_error"), error.param, error.code
        )

    def body(self, run: Run) -> dict[str, Any]:
        body: dict[str, Any] = {
            "id": f"chatcmpl-{run.request_id}",
            "object": "chat.completion",
            "created": run.created,
            "model": run.request.model,
            "system_fingerprint": None,
            "choices": [
                {
                    "index": ch.index,
                    "message": ch.message(),
                    "logprobs": None,
                    "finish_reason": ch.finish_reason,
                }
                for ch in run.choices
            ],
            "usage": _usage(run),
        }
        diags = [{**d, "choice": ch.index} for ch in run.choices for d in ch.diagnostics]
        if diags:
            body["kimi_diagnostics"] = diags
        return body

    def writer(self, run: Run) -> _ChatStream:
        return _ChatStream(self, run)


class _ChatStream:
    """One streamed chat completion: a role chunk per choice, the deltas, the finish chunks, usage, [DONE]."""

    def __init__(self, dialect: _Chat, run: Run) -> None:
        self.dialect, self.run = dialect, run
        wire = run.request.wire
        self.include_usage = bool(
            isinstance(wire, ChatRequest) and wire.stream_options and wire.stream_options.include_usage
        )
        self.start = (
            f'data: {{"id":"chatcmpl-{run.request_id}","object":"chat.completion.chunk",'
            f'"created":{run.created},"model":{dumps(run.request.model)},"system_fingerprint":null,'
        )
        self.head_text = self.start + '"choices":[{"index":'
        self.tail_text = '"finish_reason":null}]' + (',"usage":null' if self.include_usage else "") + "}\n\n"
        self.post = (',"logprobs":null,' + self.tail_text).encode()
        self.prefixes = [f'{self.head_text}{ch.index},"delta":'.encode() for ch in run.choices]

    def head(self) -> bytes:
        return "".join(
            f'{self.head_text}{ch.index},"delta":{{"role":"assistant","content":""}},"logprobs":null,'
            f"{self.tail_text}"
            for ch in self.run.choices
        ).encode()

    def pieces(self, index: int, deltas: list[dict[str, Any]]) -> bytes:
        pre, post = self.prefixes[index], self.post
        if len(deltas) == 1:
            return pre + orjson.dumps(deltas[0]) + post
        return b"".join([pre + orjson.dumps(delta) + post for delta in deltas])

    def tail(self) -> bytes:
        out = []
        for ch in self.run.choices:
            for delta in ch.close():
                out.append(
                    f'{self.head_text}{ch.index},"delta":{dumps(delta)},"logprobs":null,{self.tail_text}'
                )
        for ch in self.run.choices:
            final: dict[str, Any] = {
                "index": ch.index,
                "delta": {},
                "logprobs": None,
                "finish_reason": ch.finish_reason,
            }
            extra = ',"usage":null' if self.include_usage else ""
            diags = ch.diagnostics
            if diags:
                extra += f',"kimi_diagnostics":{dumps(diags)}'
            out.append(f'{self.start}"choices":[{dumps(final)}]{extra}}}\n\n')
        if self.include_usage:
            out.append(f'{self.start}"choices":[],"usage":{dumps(_usage(self.run))}}}\n\n')
        out.append("data: [DONE]\n\n")
        return "".join(out).encode()

    def error(self, error: ApiError) -> bytes:
        return f"data: {dumps(self.dialect.error_body(error))}\n\n".encode()

    def ping(self) -> bytes | None:
        return None


#: The chat-completions dialect.
DIALECT = _Chat()
