"""From an OpenAI chat request to a raw completion request, and from the raw output back to chat shapes.

Pure functions and small state objects, no HTTP: :func:`plan_request` validates a request and renders its
prompt (plus the prefill that enforces ``tool_choice``); :class:`ChoiceStream` turns one choice's raw
output into ``chat.completion.chunk`` deltas and the final message.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import orjson
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from kimi_toolparse import ArgumentsDelta, StreamParser, ToolCallStart, Tools, ends_in_reasoning, render
from kimi_toolparse.tokens import ARG_BEGIN, CALL_BEGIN, IM_END, SECTION_BEGIN, SPECIAL_IDS, THINK_END

__all__ = [
    "ApiError",
    "ChatRequest",
    "ChoiceStream",
    "Plan",
    "SSEDecoder",
    "error_body",
    "plan_request",
]

#: Where an id list needs an ordinary token: only the number of ordinary ids between specials matters.
_ORDINARY = 0
_SPECIAL_RE = re.compile("|".join(re.escape(t) for t in sorted(SPECIAL_IDS, key=len, reverse=True)))
#: A call header written as text: the model meant a tool call, but no marker token came with it.
_VISIBLE_CALL = re.compile(r"functions\.[A-Za-z0-9_.\-]+:\d+")


class ApiError(Exception):
    """An error answered with an OpenAI-style body."""

    def __init__(
        self,
        status: int,
        message: str,
        *,
        type: str = "invalid_request_error",
        param: str | None = None,
        code: str | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.type = type
        self.param = param
        self.code = code

    def body(self) -> dict[str, Any]:
        return error_body(self.message, self.type, self.param, self.code)


def error_body(message: str, type: str, param: str | None = None, code: str | None = None) -> dict[str, Any]:
    """OpenAI's error shape."""
    return {"error": {"message": message, "type": type, "param": param, "code": code}}


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


@dataclass
class Plan:
    """What one chat request becomes."""

    request: ChatRequest
    template: str
    prompt: str
    prefill: str
    #: The output starts inside reasoning (the prompt ends in ``<think>``).
    thinking: bool
    tools: Tools | None
    #: ``auto``, ``none``, ``required`` or ``function``.
    choice: str
    parallel: bool
    #: The upstream completion request, without ``model`` (filled in by the caller).
    upstream: dict[str, Any] = field(default_factory=dict)


def _validation_error(e: ValidationError) -> ApiError:
    err = e.errors()[0]
    loc = ".".join(str(p) for p in err["loc"]) or None
    param = str(err["loc"][0]) if err["loc"] else None
    return ApiError(400, f"{loc}: {err['msg']}" if loc else err["msg"], param=param, code="invalid_value")


def parse_request(data: Any) -> ChatRequest:
    """Validate the JSON body, or raise a 400 naming the field."""
    if not isinstance(data, dict):
        raise ApiError(400, "the request body must be a JSON object")
    try:
        return ChatRequest.model_validate(data)
    except ValidationError as e:
        raise _validation_error(e) from None


def _call_count(messages: Sequence[dict[str, Any]]) -> int:
    """Tool calls made so far in the conversation: the next call's ``functions.NAME:IDX`` index."""
    n = 0
    for m in messages:
        calls = m.get("tool_calls") if isinstance(m, dict) else None
        if isinstance(calls, list):
            n += len(calls)
    return n


def _tool_names(tools: Sequence[dict[str, Any]]) -> list[str]:
    names = []
    for t in tools:
        fn = t.get("function") if isinstance(t, dict) else None
        if isinstance(fn, dict) and isinstance(fn.get("name"), str):
            names.append(fn["name"])
    return names


def plan_request(
    req: ChatRequest, template: str, fields: dict[str, Any], *, grammar: tuple[str, str] | None = None
) -> Plan:
    """Render the prompt, decide the prefill and the parser's settings, and build the upstream body.

    ``grammar`` is (format, engine) to send the request's tool-call grammar (``--grammar``): the engine
    then enforces ``tool_choice`` itself, reasoning first on a thinking prompt, so nothing is prefilled."""
    if req.logprobs:
        raise ApiError(
            400, "logprobs are not supported by this gateway", param="logprobs", code="unsupported"
        )
    tools = req.tools or None
    choice = "auto"
    prefill = ""
    tc = req.tool_choice
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
        if name not in _tool_names(tools or []):
            raise ApiError(400, f"tool_choice names {name!r}, which is not in tools", param="tool_choice")
        choice = "function"
        prefill = f"{SECTION_BEGIN}{CALL_BEGIN}functions.{name}:{_call_count(req.messages)}{ARG_BEGIN}"
    elif tc in ("none", "required"):
        choice = tc
        if tc == "required":
            if not tools:
                raise ApiError(400, 'tool_choice "required" needs tools', param="tool_choice")
            prefill = SECTION_BEGIN
    kwargs = dict(req.chat_template_kwargs or {})
    try:
        prompt = render(req.messages, tools, model=template, **kwargs)
    except TypeError as e:
        raise ApiError(400, str(e), param="chat_template_kwargs") from None
    except ValueError as e:
        msg = str(e)
        param = "tools" if msg.startswith("tools") else "messages"
        raise ApiError(400, msg, param=param) from None
    thinking = ends_in_reasoning(prompt)
    constraint: dict[str, Any] = {}
    if grammar is not None and tools:
        constraint = _grammar_fields(req, grammar, thinking)
        prefill = ""
    if prefill and thinking:
        # A forced call cannot wait for reasoning in one raw request: close <think> at once.
        prefill = THINK_END + prefill
    stops = [req.stop] if isinstance(req.stop, str) else list(req.stop or [])
    body: dict[str, Any] = {
        "prompt": prompt + prefill,
        "stream": True,
        "stream_options": {"include_usage": True},
        # The end of the turn: by token id where the engine takes one (see config.ENGINES), else as text.
        "stop": stops if "stop_token_ids" in fields else [IM_END, *stops],
        "n": req.n,
    }
    max_tokens = req.max_completion_tokens or req.max_tokens
    for key, value in (
        ("max_tokens", max_tokens),
        ("temperature", req.temperature),
        ("top_p", req.top_p),
        ("seed", req.seed),
        ("presence_penalty", req.presence_penalty),
        ("frequency_penalty", req.frequency_penalty),
    ):
        if value is not None:
            body[key] = value
    body.update(fields)
    body.update(constraint)
    return Plan(
        request=req,
        template=template,
        prompt=prompt,
        prefill=prefill,
        thinking=thinking,
        tools=Tools(tools) if tools else None,
        choice=choice,
        parallel=req.parallel_tool_calls is not False,
        upstream=body,
    )


def _grammar_fields(req: ChatRequest, grammar: tuple[str, str], thinking: bool) -> dict[str, Any]:
    """The upstream fields that carry the request's tool-call grammar (built by kimi_toolparse.constrain)."""
    from kimi_toolparse import grammar_for_request

    fmt, engine = grammar
    request = {
        "messages": req.messages,
        "tools": req.tools,
        "tool_choice": req.tool_choice,
        "parallel_tool_calls": req.parallel_tool_calls,
    }
    try:
        built = grammar_for_request(request, format=fmt, thinking=thinking)  # type: ignore[arg-type]
    except (TypeError, ValueError) as e:
        raise ApiError(400, f"cannot build the tool-call grammar: {e}", param="tools") from None
    return built.request_fields(engine)


def _prefill_ids(prefill: str) -> list[int]:
    """Ids standing for the prefill in token-id mode: its specials, and one ordinary id per text run."""
    ids: list[int] = []
    pos = 0
    for m in _SPECIAL_RE.finditer(prefill):
        if m.start() > pos:
            ids.append(_ORDINARY)
        ids.append(SPECIAL_IDS[m.group()])
        pos = m.end()
    if pos < len(prefill):
        ids.append(_ORDINARY)
    return ids


class ChoiceStream:
    """One choice: raw output pieces in, OpenAI deltas out, with ``tool_choice`` and parallel rules."""

    def __init__(self, index: int, plan: Plan) -> None:
        self.index = index
        self.plan = plan
        self.parser = StreamParser(tools=plan.tools, thinking=plan.thinking)
        self.started = False
        self.token_mode = False
        self.upstream_finish: str | None = None
        self.dropped_calls = 0
        self.extra_diagnostics: list[dict[str, str]] = []

    def _filter(self, events: list[Any]) -> list[dict[str, Any]]:
        out = []
        for ev in events:
            delta = ev.to_openai()
            if delta is None:
                continue
            if isinstance(ev, (ToolCallStart, ArgumentsDelta)) and (
                self.plan.choice == "none" or (not self.plan.parallel and ev.openai_index >= 1)
            ):
                if isinstance(ev, ToolCallStart):
                    self.dropped_calls += 1
                continue
            out.append(delta)
        return out

    def feed(self, text: str, token_ids: list[int] | None) -> list[dict[str, Any]]:
        """The deltas for one upstream piece (token ids when the upstream sent them)."""
        events: list[Any] = []
        if not self.started:
            self.started = True
            self.token_mode = token_ids is not None
            if self.plan.prefill:
                ids = _prefill_ids(self.plan.prefill) if self.token_mode else None
                events.extend(self.parser.feed(self.plan.prefill, ids))
        if self.token_mode:
            events.extend(self.parser.feed(text, token_ids or []))
        elif text:
            events.extend(self.parser.feed(text))
        return self._filter(events)

    def close(self) -> list[dict[str, Any]]:
        events: list[Any] = []
        if not self.started:
            self.started = True
            if self.plan.prefill:
                events.extend(self.parser.feed(self.plan.prefill))
        stop = self.upstream_finish if self.upstream_finish in ("length", "content_filter") else None
        events.extend(self.parser.close(stop_reason=stop))
        deltas = self._filter(events)
        self._check()
        return deltas

    def _check(self) -> None:
        msg = self.parser.message
        n = self.dropped_calls
        if n and self.plan.choice == "none":
            text = f'tool_choice is "none": dropped the {n} tool call(s) the model made'
            self.extra_diagnostics.append({"code": "tool_calls_dropped", "message": text})
        elif n:
            text = f"parallel_tool_calls is false: kept the first call, dropped {n}"
            self.extra_diagnostics.append({"code": "parallel_calls_dropped", "message": text})
        if not msg.tool_calls:
            seen = _VISIBLE_CALL.search(msg.content) or _VISIBLE_CALL.search(msg.reasoning or "")
            if seen:
                self.extra_diagnostics.append(
                    {
                        "code": "markers_missing",
                        "message": (
                            f"the output names a tool call ({seen.group()}) but no tool-call marker came: "
                            "the "
                            "upstream strips special tokens; it must keep them (vLLM/SGLang: "
                            "skip_special_tokens=false, sent by --engine vllm or sglang)"
                        ),
                    }
                )

    @property
    def finish_reason(self) -> str:
        reason = self.parser.message.finish_reason
        if reason == "tool_calls" and self.plan.choice == "none":
            return "stop"
        if reason == "tool_calls" and not any(c.name for c in self.parser.message.tool_calls):
            return "stop"
        return reason

    @property
    def diagnostics(self) -> list[dict[str, str]]:
        """Every diagnostic of this choice: the parser's and the gateway's."""
        return [
            {"code": str(d.code.value), "message": d.message} for d in self.parser.message.diagnostics
        ] + (self.extra_diagnostics)

    def message(self) -> dict[str, Any]:
        """The final assistant message in OpenAI's shape."""
        msg: dict[str, Any] = self.parser.message.to_openai()
        calls = msg.get("tool_calls")
        if calls:
            if self.plan.choice == "none":
                del msg["tool_calls"]
            elif not self.plan.parallel:
                msg["tool_calls"] = calls[:1]
        return msg


class SSEDecoder:
    """The ``data:`` events of a server-sent-event byte stream, however the bytes are cut.

    :meth:`feed` returns the JSON events completed by a piece; ``done`` turns true at ``data: [DONE]``.
    An event that is not JSON raises ``ValueError``.
    """

    def __init__(self) -> None:
        self._buf = b""
        self.done = False

    @property
    def pending(self) -> bool:
        """Bytes of an unfinished event are waiting."""
        return bool(self._buf.strip())

    def feed(self, data: bytes) -> list[dict[str, Any]]:
        if self.done:
            return []
        buf = self._buf + data
        if b"\r" in buf:
            buf = buf.replace(b"\r\n", b"\n")
            if buf.endswith(b"\r"):  # maybe the first half of a CRLF: wait for the next piece
                self._buf = buf
                return []
        if b"\n\n" not in buf:
            self._buf = buf
            return []
        *blocks, self._buf = buf.split(b"\n\n")
        out: list[dict[str, Any]] = []
        for block in blocks:
            for line in block.split(b"\n"):
                if not line.startswith(b"data:"):
                    continue
                payload = line[5:].strip()
                if payload == b"[DONE]":
                    self.done = True
                    self._buf = b""
                    return out
                try:
                    event = orjson.loads(payload)
                except orjson.JSONDecodeError:
                    raise ValueError(
                        f"the upstream sent an event that is not JSON: {payload[:80]!r}"
                    ) from None
                if not isinstance(event, dict):
                    raise ValueError(
                        f"the upstream sent an event that is not a JSON object: {payload[:80]!r}"
                    )
                out.append(event)
        return out


def dumps(obj: Any) -> str:
    """Compact JSON, as the chunks are sent."""
    return orjson.dumps(obj).decode()
