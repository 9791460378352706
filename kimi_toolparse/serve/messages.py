"""The Messages dialect: Anthropic's ``POST /v1/messages`` (and ``count_tokens``) in and out of the pipeline.

:func:`to_request` reads a Messages request into the pipeline's :class:`~.request.Request` (the system
prompt, content blocks, tools and ``tool_choice`` in OpenAI's shape, as ``render()`` takes them);
:class:`MessageChoice` turns the parser's events into content blocks (``thinking`` with a signature,
``text``, ``tool_use``) and, when streaming, into Anthropic's SSE events; :class:`Messages` writes the
message, the stream and the errors. The choices this makes where Anthropic's API has no Kimi counterpart
are in docs/claude-code.md.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
from typing import Any

import orjson
from pydantic import BaseModel, ConfigDict, Field

from kimi_toolparse import ContentDelta, ReasoningDelta, ToolCallEnd

from .config import ServeConfig
from .pipeline import Choice, Plan, Run
from .request import ApiError, Request, validate_body

__all__ = ["RAW_ARGUMENTS", "MessageChoice", "Messages", "MessagesRequest", "to_request", "tool_input"]

#: The one key of a ``tool_use`` input whose arguments were not a JSON object: it holds the model's text,
#: and goes back into the prompt as that text when the call comes back in the history.
RAW_ARGUMENTS = "kimi_raw_arguments"

#: Anthropic's error type and status for each kind of failure.
_ERRORS: dict[str, tuple[str, int | None]] = {
    "invalid_request": ("invalid_request_error", None),
    "authentication": ("authentication_error", None),
    "not_found": ("not_found_error", None),
    "too_large": ("request_too_large", None),
    "overloaded": ("overloaded_error", 529),
    "upstream": ("api_error", None),
}

_UNSUPPORTED_BLOCKS = ("image", "document", "search_result", "container_upload")
#: A call id of the model's own form; a history with any other makes the gateway rewrite them all.
_KIMI_ID = re.compile(r"functions\.[^:\s]+:\d+")
#: Claude Code's first system block: billing metadata for Anthropic's API, not words for the model (and
#: it may change between requests, which would defeat the engine's prefix cache).
_BILLING_HEADER = "x-anthropic-billing-header:"


def error_body(error_type: str, message: str, request_id: str | None = None) -> dict[str, Any]:
    """Anthropic's error shape."""
    body: dict[str, Any] = {"type": "error", "error": {"type": error_type, "message": message}}
    if request_id is not None:
        body["request_id"] = request_id
    return body


class MessagesRequest(BaseModel):
    """The fields of ``POST /v1/messages`` the gateway reads; others (``metadata``, ``cache_control``,
    ``context_management``, ``output_config``, ...) are accepted and ignored."""

    model_config = ConfigDict(extra="allow")

    model: str
    messages: list[dict[str, Any]] = Field(min_length=1)
    #: Required by ``/v1/messages``, not by ``count_tokens`` (checked in :func:`to_request`).
    max_tokens: int | None = Field(None, ge=1)
    system: str | list[dict[str, Any]] | None = None
    tools: list[dict[str, Any]] | None = None
    tool_choice: dict[str, Any] | None = None
    stop_sequences: list[str] | None = None
    temperature: float | None = Field(None, ge=0, le=1)
    top_p: float | None = Field(None, gt=0, le=1)
    top_k: int | None = Field(None, ge=0)
    thinking: dict[str, Any] | None = None
    stream: bool = False


def _blocks(content: Any, where: str) -> list[dict[str, Any]]:
    """A message's content as a list of blocks (a string is one text block)."""
    if isinstance(content, str):
        return [{"type": "text", "text": content}]
    if not isinstance(content, list):
        raise ApiError(
            400, f"{where}: content must be a string or a list of content blocks", param="messages"
        )
    for block in content:
        if not isinstance(block, dict) or not isinstance(block.get("type"), str):
            raise ApiError(400, f"{where}: every content block is an object with a type", param="messages")
        if block["type"] in _UNSUPPORTED_BLOCKS:
            raise ApiError(
                400,
                f"{where}: {block['type']} blocks are not supported: the Kimi K2 text models read text only",
                param="messages",
            )
    return content


def _text(block: dict[str, Any], where: str) -> str:
    text = block.get("text")
    if not isinstance(text, str):
        raise ApiError(400, f"{where}: a text block needs a string text", param="messages")
    return text


def _text_parts(blocks: list[dict[str, Any]], where: str) -> list[dict[str, Any]]:
    """Text blocks as OpenAI content parts (any other block type is refused)."""
    parts = []
    for block in blocks:
        if block["type"] != "text":
            raise ApiError(400, f"{where}: a {block['type']} block cannot be here", param="messages")
        parts.append({"type": "text", "text": _text(block, where)})
    return parts


def _arguments(block: dict[str, Any], where: str) -> str:
    """A ``tool_use`` input as the arguments text the prompt shows (see :data:`RAW_ARGUMENTS`)."""
    value = block.get("input", {})
    if not isinstance(value, dict):
        raise ApiError(400, f"{where}: a tool_use input must be an object", param="messages")
    raw = value.get(RAW_ARGUMENTS)
    if len(value) == 1 and isinstance(raw, str):
        return raw
    return json.dumps(value, ensure_ascii=False)


def _assistant(blocks: list[dict[str, Any]], where: str) -> dict[str, Any]:
    content: list[str] = []
    reasoning: list[str] = []
    calls: list[dict[str, Any]] = []
    for block in blocks:
        kind = block["type"]
        if kind == "text":
            content.append(_text(block, where))
        elif kind == "thinking":
            thinking = block.get("thinking")
            if not isinstance(thinking, str):
                raise ApiError(400, f"{where}: a thinking block needs a string thinking", param="messages")
            reasoning.append(thinking)
        elif kind == "redacted_thinking":
            continue  # opaque to everyone but its signer: nothing to show the model
        elif kind == "tool_use":
            call_id, name = block.get("id"), block.get("name")
            if not isinstance(call_id, str) or not isinstance(name, str):
                raise ApiError(400, f"{where}: a tool_use block needs a string id and name", param="messages")
            arguments = _arguments(block, where)
            calls.append(
                {"id": call_id, "type": "function", "function": {"name": name, "arguments": arguments}}
            )
        else:
            raise ApiError(400, f"{where}: {kind} blocks are not supported", param="messages")
    msg: dict[str, Any] = {"role": "assistant", "content": "".join(content)}
    if reasoning:
        msg["reasoning_content"] = "".join(reasoning)
    if calls:
        msg["tool_calls"] = calls
    return msg


def _user(blocks: list[dict[str, Any]], where: str) -> list[dict[str, Any]]:
    """A user turn: its tool results as ``tool`` messages first, then its text as one user message."""
    out: list[dict[str, Any]] = []
    parts: list[dict[str, Any]] = []
    for block in blocks:
        kind = block["type"]
        if kind == "text":
            parts.append({"type": "text", "text": _text(block, where)})
        elif kind == "tool_result":
            call_id = block.get("tool_use_id")
            if not isinstance(call_id, str):
                raise ApiError(
                    400, f"{where}: a tool_result block needs a string tool_use_id", param="messages"
                )
            result = block.get("content", "")
            content: Any = result if isinstance(result, str) else _text_parts(_blocks(result, where), where)
            out.append({"role": "tool", "tool_call_id": call_id, "content": content})
        else:
            raise ApiError(
                400, f"{where}: {kind} blocks are not supported in a user message", param="messages"
            )
    if parts:
        out.append({"role": "user", "content": parts})
    return out


def openai_messages(
    system: str | list[dict[str, Any]] | None, messages: list[dict[str, Any]]
) -> list[dict[str, Any]]:
    """The conversation in OpenAI's shape, as ``render()`` takes it."""
    out: list[dict[str, Any]] = []
    if isinstance(system, str):
        if system:
            out.append({"role": "system", "content": system})
    elif system:
        texts = [p["text"] for p in _text_parts(_blocks(system, "system"), "system")]
        texts = [t for t in texts if not t.startswith(_BILLING_HEADER)]
        if texts:
            out.append({"role": "system", "content": "\n\n".join(texts)})
    for i, m in enumerate(messages):
        where = f"messages.{i}"
        role = m.get("role") if isinstance(m, dict) else None
        if role not in ("user", "assistant", "system"):
            raise ApiError(400, f"{where}.role must be user, assistant or system", param="messages")
        blocks = _blocks(m.get("content"), where)
        if role == "assistant":
            out.append(_assistant(blocks, where))
        elif role == "system":
            out.append({"role": "system", "content": _text_parts(blocks, where)})
        else:
            out.extend(_user(blocks, where))
    if messages[-1].get("role") == "assistant":
        raise ApiError(
            400,
            "the last message is the assistant's: continuing a prefilled answer is not supported; "
            "end with a user message",
            param="messages",
        )
    return out


def _tools(tools: list[dict[str, Any]] | None) -> list[dict[str, Any]] | None:
    if not tools:
        return None
    out = []
    for i, t in enumerate(tools):
        kind = t.get("type") if isinstance(t, dict) else None
        if not isinstance(t, dict) or kind not in (None, "custom") or not isinstance(t.get("name"), str):
            raise ApiError(
                400,
                f"tools.{i}: only client tools (name, description, input_schema) are supported, "
                f"not {kind or 'this'}",
                param="tools",
            )
        fn: dict[str, Any] = {"name": t["name"]}
        if isinstance(t.get("description"), str):
            fn["description"] = t["description"]
        fn["parameters"] = t.get("input_schema") or {"type": "object"}
        out.append({"type": "function", "function": fn})
    return out


def _thinking(value: dict[str, Any] | None) -> bool | None:
    if value is None:
        return None
    kind = value.get("type")
    if kind == "enabled":
        return True
    if kind == "disabled":
        return False
    if kind == "adaptive":
        return None
    raise ApiError(400, 'thinking.type must be "enabled", "disabled" or "adaptive"', param="thinking")


def _tool_choice(
    value: dict[str, Any] | None, tools: list[dict[str, Any]] | None
) -> tuple[Any, str | None, bool]:
    """(internal tool_choice, tool name, parallel) for Anthropic's ``tool_choice``."""
    if value is None:
        return "auto", None, True
    kind = value.get("type")
    parallel = value.get("disable_parallel_tool_use") is not True
    if kind == "auto":
        return "auto", None, parallel
    if kind == "none":
        return "none", None, parallel
    if kind == "any":
        if not tools:
            raise ApiError(400, 'tool_choice "any" needs tools', param="tool_choice")
        return "required", None, parallel
    if kind == "tool":
        name = value.get("name")
        if not isinstance(name, str):
            raise ApiError(400, 'tool_choice "tool" needs a name', param="tool_choice")
        return "function", name, parallel
    raise ApiError(400, 'tool_choice.type must be "auto", "any", "tool" or "none"', param="tool_choice")


def parse_request(data: Any) -> MessagesRequest:
    """Validate the JSON body, or raise a 400 naming the field."""
    return validate_body(MessagesRequest, data)


def to_request(req: MessagesRequest, config: ServeConfig, *, count_only: bool = False) -> Request:
    """The pipeline's request for a Messages request (``count_only``: for ``count_tokens``)."""
    if req.max_tokens is None and not count_only:
        raise ApiError(400, "max_tokens: Field required", param="max_tokens", code="invalid_value")
    tools = _tools(req.tools)
    choice, name, parallel = _tool_choice(req.tool_choice, tools)
    temperature = None if req.temperature is None else req.temperature * config.anthropic_temperature_scale
    messages = openai_messages(req.system, req.messages)
    ids = [c["id"] for m in messages for c in m.get("tool_calls", ())]
    return Request(
        wire=req,
        model=req.model,
        messages=messages,
        tools=tools,
        tool_choice=choice,
        tool_name=name,
        parallel_tool_calls=parallel,
        max_tokens=req.max_tokens,
        temperature=temperature,
        top_p=req.top_p,
        top_k=req.top_k,
        stop=list(req.stop_sequences or []),
        stream=req.stream,
        thinking=_thinking(req.thinking),
        # the model's own ids go back as they were; foreign ones (toolu_...) make K2 stall
        normalize_ids=not all(_KIMI_ID.fullmatch(i) for i in ids),
    )


def tool_input(arguments: str, json_valid: bool) -> dict[str, Any]:
    """A call's ``input``: its arguments when they are a JSON object, ``{}`` when there are none, else
    ``{RAW_ARGUMENTS: the text as the model wrote it}``."""
    if not arguments.strip():
        return {}
    if json_valid:
        try:
            value = json.loads(arguments)
        except ValueError:
            value = None
        if isinstance(value, dict):
            return value
    return {RAW_ARGUMENTS: arguments}


def _sse(event: str, data: dict[str, Any]) -> str:
    return f"event: {event}\ndata: {orjson.dumps(data).decode()}\n\n"


def _stop(index: int) -> str:
    return f'event: content_block_stop\ndata: {{"type":"content_block_stop","index":{index}}}\n\n'


def _delta(index: int, delta: str) -> str:
    return (
        'event: content_block_delta\ndata: {"type":"content_block_delta","index":'
        f'{index},"delta":{delta}}}\n\n'
    )


class MessageChoice(Choice):
    """The answer as Anthropic content blocks; :meth:`feed` and :meth:`close` return its SSE events
    (an empty string when the request is not streamed: the blocks are built either way)."""

    def __init__(self, index: int, plan: Plan, key: bytes) -> None:
        super().__init__(index, plan)
        self.key = key
        self.stream = plan.request.stream
        self.blocks: list[dict[str, Any]] = []
        #: The type of the block still open (``thinking`` or ``text``), or None.
        self.open: str | None = None
        #: The open block's text so far, in pieces (joined when it closes: no copy per token).
        self._parts: list[str] = []

    def sign(self, thinking: str) -> str:
        """The signature of a thinking block: HMAC-SHA256 of its text under the gateway's key, base64."""
        return base64.b64encode(hmac.new(self.key, thinking.encode(), hashlib.sha256).digest()).decode()

    def _close_block(self, out: list[str]) -> None:
        index = len(self.blocks) - 1
        block = self.blocks[index]
        text = "".join(self._parts)
        self._parts = []
        if self.open == "text":
            block["text"] = text
        elif self.open == "thinking":
            block["thinking"] = text
            block["signature"] = self.sign(text)
            if self.stream:
                out.append(
                    _delta(
                        index,
                        orjson.dumps({"type": "signature_delta", "signature": block["signature"]}).decode(),
                    )
                )
        if self.stream:
            out.append(_stop(index))
        self.open = None

    def _start(self, block: dict[str, Any], out: list[str]) -> int:
        if self.open is not None:
            self._close_block(out)
        self.blocks.append(block)
        index = len(self.blocks) - 1
        if self.stream:
            out.append(
                _sse(
                    "content_block_start",
                    {"type": "content_block_start", "index": index, "content_block": block},
                )
            )
        return index

    def _write(self, events: list[Any]) -> str:
        out: list[str] = []
        for ev in events:
            if isinstance(ev, ContentDelta):
                if self.open != "text":
                    self._start({"type": "text", "text": ""}, out)
                    self.open = "text"
                self._parts.append(ev.text)
                if self.stream:
                    text = orjson.dumps(ev.text).decode()
                    out.append(_delta(len(self.blocks) - 1, f'{{"type":"text_delta","text":{text}}}'))
            elif isinstance(ev, ReasoningDelta):
                if not ev.text:
                    continue
                if self.open != "thinking":
                    self._start({"type": "thinking", "thinking": "", "signature": ""}, out)
                    self.open = "thinking"
                self._parts.append(ev.text)
                if self.stream:
                    text = orjson.dumps(ev.text).decode()
                    out.append(_delta(len(self.blocks) - 1, f'{{"type":"thinking_delta","thinking":{text}}}'))
            elif isinstance(ev, ToolCallEnd):
                call = ev.call
                value = tool_input(call.arguments, call.json_valid)
                index = self._start({"type": "tool_use", "id": call.id, "name": call.name, "input": {}}, out)
                self.blocks[index]["input"] = value
                if self.stream:
                    partial = orjson.dumps(json.dumps(value, ensure_ascii=False)).decode()
                    out.append(_delta(index, f'{{"type":"input_json_delta","partial_json":{partial}}}'))
                    out.append(_stop(index))
        return "".join(out)

    def feed(self, text: str, token_ids: list[int] | None) -> str:
        return self._write(self.events(text, token_ids))

    def close(self) -> str:
        out = self._write(self.end())
        if self.open is not None:
            tail: list[str] = []
            self._close_block(tail)
            out += "".join(tail)
        return out

    def stop(self) -> tuple[str, str | None]:
        """Anthropic's (stop_reason, stop_sequence)."""
        reason = self.finish_reason
        if reason == "tool_calls":
            return "tool_use", None
        if reason == "length":
            return "max_tokens", None
        if reason == "content_filter":
            return "refusal", None
        stop = self.upstream_stop
        if isinstance(stop, str) and stop in self.plan.request.stop:
            return "stop_sequence", stop
        return "end_turn", None


class Messages:
    """The Messages dialect (see :mod:`.pipeline` for the interface)."""

    name = "messages"
    #: ``message_start`` carries the prompt's tokens, counted by the gateway (the upstream tells at the end).
    counts_prompt = True

    def __init__(self, signing_key: str) -> None:
        self.key = signing_key.encode()

    def read(self, data: Any, config: ServeConfig) -> Request:
        return to_request(parse_request(data), config)

    def choice(self, index: int, plan: Plan) -> MessageChoice:
        return MessageChoice(index, plan, self.key)

    def error_status(self, error: ApiError) -> int:
        return _ERRORS.get(error.kind, ("api_error", None))[1] or error.status

    def error_body(self, error: ApiError, request_id: str | None = None) -> dict[str, Any]:
        return error_body(_ERRORS.get(error.kind, ("api_error", None))[0], error.message, request_id)

    def body(self, run: Run) -> dict[str, Any]:
        ch: MessageChoice = run.choices[0]
        reason, sequence = ch.stop()
        return {
            **_message_head(run),
            "content": ch.blocks,
            "stop_reason": reason,
            "stop_sequence": sequence,
            "usage": _usage(run, *_tokens(run)),
        }

    def writer(self, run: Run) -> _MessagesStream:
        return _MessagesStream(self, run)


def _message_head(run: Run) -> dict[str, Any]:
    return {"id": f"msg_{run.request_id}", "type": "message", "role": "assistant", "model": run.request.model}


def _tokens(run: Run) -> tuple[int, int]:
    """(input, output) tokens: the upstream's count, or the gateway's own for the prompt when it gave none."""
    p, c = run.usage()
    return (p or run.prompt_tokens or 0), c


def _usage(run: Run, input_tokens: int, output_tokens: int) -> dict[str, Any]:
    return {
        "input_tokens": input_tokens,
        "output_tokens": output_tokens,
        "cache_creation_input_tokens": 0,
        "cache_read_input_tokens": 0,
    }


_PING = b'event: ping\ndata: {"type":"ping"}\n\n'


class _MessagesStream:
    """One streamed message: message_start, ping, the blocks' events, message_delta, message_stop."""

    def __init__(self, dialect: Messages, run: Run) -> None:
        self.dialect, self.run = dialect, run

    def head(self) -> bytes:
        message = {
            **_message_head(self.run),
            "content": [],
            "stop_reason": None,
            "stop_sequence": None,
            "usage": _usage(self.run, self.run.prompt_tokens or 0, 0),
        }
        return _sse("message_start", {"type": "message_start", "message": message}).encode() + _PING

    def pieces(self, index: int, out: str) -> bytes:
        return out.encode()

    def tail(self) -> bytes:
        ch: MessageChoice = self.run.choices[0]
        last = ch.close()
        reason, sequence = ch.stop()
        p, c = _tokens(self.run)
        delta = {
            "type": "message_delta",
            "delta": {"stop_reason": reason, "stop_sequence": sequence},
            "usage": {"input_tokens": p, "output_tokens": c},
        }
        end = 'event: message_stop\ndata: {"type":"message_stop"}\n\n'
        return (last + _sse("message_delta", delta) + end).encode()

    def error(self, error: ApiError) -> bytes:
        return _sse("error", self.dialect.error_body(error, self.run.request_id)).encode()

    def ping(self) -> bytes | None:
        return _PING
