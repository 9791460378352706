"""The Responses API's request side: a ``POST /v1/responses`` body read into the gateway's chat request.

Pure functions, no HTTP. :func:`parse_request` validates the body; :func:`to_chat` turns it (with the
conversation a ``previous_response_id`` continues) into the OpenAI-shaped chat request the renderer takes:

- input items become chat messages: ``instructions`` a leading system message; ``system`` and ``developer``
  messages system messages (the Kimi templates know no developer role); a run of ``reasoning``, assistant
  ``message`` and ``function_call`` items one assistant turn (reasoning, content, calls); each
  ``function_call_output`` a tool message. ``encrypted_content`` is not ours to read and is ignored.
- tools: ``function`` tools as they are; ``namespace`` tools flattened to ``NAMESPACE__NAME`` (the name the
  model sees and calls; :class:`ToolMap` maps it back); hosted tools (``web_search``, ``file_search``,
  ``code_interpreter``, ``mcp``, ...) cannot run in front of a raw engine: they are left out, and the
  response says so in ``kimi_diagnostics``.

A chained request's conversation is the earlier request's items plus its output items, which are exactly
the items a client sending the whole conversation would send: both go through :func:`items_to_messages`,
so both render the same prompt, byte for byte.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from ..request import ApiError, Request

__all__ = [
    "HOSTED_TOOL_TYPES",
    "ResponsesRequest",
    "ToolMap",
    "flat_name",
    "input_items",
    "items_to_messages",
    "parse_request",
    "to_request",
]

#: Tool types OpenAI runs on its own servers; a raw engine cannot, so they are left out of the prompt.
HOSTED_TOOL_TYPES = frozenset(
    {
        "web_search",
        "web_search_preview",
        "web_search_preview_2025_03_11",
        "web_search_2025_08_26",
        "file_search",
        "code_interpreter",
        "computer_use_preview",
        "computer",
        "image_generation",
        "mcp",
        "local_shell",
        "shell",
        "apply_patch",
        "custom",
        "tool_search",
    }
)


class Reasoning(BaseModel):
    model_config = ConfigDict(extra="allow")
    effort: Literal["none", "minimal", "low", "medium", "high", "xhigh"] | None = None


class TextConfig(BaseModel):
    model_config = ConfigDict(extra="allow")
    format: dict[str, Any] | None = None


class ResponsesRequest(BaseModel):
    """The fields of ``POST /v1/responses`` the gateway reads; unknown fields are ignored."""

    model_config = ConfigDict(extra="allow")

    model: str
    input: str | list[dict[str, Any]] = Field(default_factory=list)
    instructions: str | None = None
    tools: list[dict[str, Any]] | None = None
    tool_choice: str | dict[str, Any] | None = None
    parallel_tool_calls: bool | None = None
    max_output_tokens: int | None = Field(None, ge=1)
    temperature: float | None = Field(None, ge=0, le=2)
    top_p: float | None = Field(None, gt=0, le=1)
    reasoning: Reasoning | None = None
    text: TextConfig | None = None
    store: bool = True
    previous_response_id: str | None = None
    stream: bool = False
    metadata: dict[str, str] | None = None
    background: bool | None = None
    conversation: Any = None
    user: str | None = None


def parse_request(data: Any) -> ResponsesRequest:
    """Validate the JSON body, or raise a 400 naming the field."""
    if not isinstance(data, dict):
        raise ApiError(400, "the request body must be a JSON object")
    try:
        req = ResponsesRequest.model_validate(data)
    except ValidationError as e:
        err = e.errors()[0]
        loc = ".".join(str(p) for p in err["loc"])
        raise ApiError(
            400, f"{loc}: {err['msg']}" if loc else err["msg"], param=loc or None, code="invalid_value"
        ) from None
    if req.background:
        raise ApiError(400, "background responses are not supported here", param="background")
    if req.conversation is not None:
        raise ApiError(
            400,
            "conversations are not supported here: chain with previous_response_id",
            param="conversation",
        )
    if req.previous_response_id is not None and not req.previous_response_id:
        raise ApiError(400, "previous_response_id is empty", param="previous_response_id")
    return req


def flat_name(namespace: str, name: str) -> str:
    """The name a namespace's tool is called by: ``NAMESPACE__NAME`` (one ``__`` between them, however many
    underscores the namespace ends in: Codex's ``mcp__server__`` gives ``mcp__server__tool``)."""
    return f"{namespace.rstrip('_')}__{name}"


@dataclass
class ToolMap:
    """The request's tools as the model sees them, and the way back to what the client declared."""

    #: OpenAI chat tools (``{"type": "function", "function": {...}}``), flattened.
    chat_tools: list[dict[str, Any]] = field(default_factory=list)
    #: Flattened name -> (namespace or None, the client's name).
    names: dict[str, tuple[str | None, str]] = field(default_factory=dict)
    #: Hosted tools left out, by type.
    dropped: list[str] = field(default_factory=list)

    @classmethod
    def build(cls, tools: Sequence[dict[str, Any]] | None) -> ToolMap:
        out = cls()
        for i, tool in enumerate(tools or ()):
            kind = tool.get("type")
            if kind == "function":
                out._add(None, tool, f"tools[{i}]")
            elif kind == "namespace":
                ns = tool.get("name")
                inner = tool.get("tools")
                if not isinstance(ns, str) or not ns or not isinstance(inner, list):
                    raise ApiError(400, f"tools[{i}]: a namespace needs a name and tools", param="tools")
                for j, t in enumerate(inner):
                    if not isinstance(t, dict) or t.get("type") != "function":
                        kind_j = t.get("type") if isinstance(t, dict) else type(t).__name__
                        out.dropped.append(f"{ns}.{kind_j}")
                        continue
                    out._add(ns, t, f"tools[{i}].tools[{j}]")
            elif isinstance(kind, str) and kind in HOSTED_TOOL_TYPES:
                out.dropped.append(kind)
            else:
                raise ApiError(400, f"tools[{i}] has an unknown type {kind!r}", param="tools")
        return out

    def _add(self, namespace: str | None, tool: dict[str, Any], where: str) -> None:
        name = tool.get("name")
        if not isinstance(name, str) or not name:
            raise ApiError(400, f"{where}.name is missing", param="tools")
        flat = name if namespace is None else flat_name(namespace, name)
        if flat in self.names:
            raise ApiError(400, f"{where}: two tools are called {flat!r}", param="tools")
        self.names[flat] = (namespace, name)
        function: dict[str, Any] = {"name": flat}
        if tool.get("description"):
            function["description"] = tool["description"]
        function["parameters"] = tool.get("parameters") or {"type": "object", "properties": {}}
        self.chat_tools.append({"type": "function", "function": function})

    def model_name(self, name: str, namespace: str | None) -> str:
        """The flattened name of a call a client sends back (``name`` plus its ``namespace``, if any)."""
        if namespace:
            return flat_name(namespace, name)
        return name

    def client_name(self, flat: str) -> tuple[str | None, str]:
        """(namespace, name) of a call the model made, for the output item."""
        return self.names.get(flat, (None, flat))


def input_items(value: str | list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The request's ``input`` as a list of items (a string is one user message)."""
    if isinstance(value, str):
        return [{"type": "message", "role": "user", "content": value}]
    return list(value)


def _text(content: Any, where: str, kinds: Iterable[str]) -> str:
    """A message's or an output's text: a string, or text parts joined (anything else is a 400)."""
    if isinstance(content, str):
        return content
    if not isinstance(content, list):
        raise ApiError(400, f"{where} must be a string or a list of parts", param="input")
    pieces = []
    allowed = tuple(kinds)
    for j, part in enumerate(content):
        kind = part.get("type") if isinstance(part, dict) else None
        if kind in allowed and isinstance(part.get("text"), str):
            pieces.append(part["text"])
        elif kind in ("input_image", "input_file", "input_audio"):
            raise ApiError(
                400,
                f"{where}[{j}] is {kind}: this gateway serves a text model, send text only",
                param="input",
                code="unsupported_content",
            )
        else:
            raise ApiError(400, f"{where}[{j}] has type {kind!r}: expected {' or '.join(allowed)}")
    return "".join(pieces)


_INPUT_PARTS = ("input_text", "text", "output_text")
_OUTPUT_PARTS = ("output_text", "text", "refusal", "input_text")


def _reasoning_text(item: dict[str, Any]) -> str:
    """The reasoning an item holds: its ``content`` texts, else its summary's (encrypted content aside)."""
    for key in ("content", "summary"):
        parts = item.get(key)
        if isinstance(parts, list):
            texts = [p["text"] for p in parts if isinstance(p, dict) and isinstance(p.get("text"), str)]
            if texts:
                return "\n\n".join(texts) if key == "summary" else "".join(texts)
    return ""


def items_to_messages(
    items: Sequence[dict[str, Any]], tools: ToolMap, instructions: str | None = None
) -> list[dict[str, Any]]:
    """The chat messages the items stand for (see the module's docstring for the rules)."""
    messages: list[dict[str, Any]] = []
    if instructions:
        messages.append({"role": "system", "content": instructions})
    turn: dict[str, Any] | None = None

    def close() -> None:
        nonlocal turn
        if turn is not None:
            messages.append(turn)
            turn = None

    def assistant() -> dict[str, Any]:
        nonlocal turn
        if turn is None:
            turn = {"role": "assistant", "content": None}
        return turn

    for i, item in enumerate(items):
        where = f"input[{i}]"
        if not isinstance(item, dict):
            raise ApiError(400, f"{where} must be an object", param="input")
        kind = item.get("type", "message" if "role" in item else None)
        if kind == "message":
            role = item.get("role")
            if role == "assistant":
                text = _text(item.get("content"), f"{where}.content", _OUTPUT_PARTS)
                current = assistant()
                current["content"] = (current["content"] or "") + text
                continue
            close()
            if role in ("user", "system", "developer"):
                text = _text(item.get("content"), f"{where}.content", _INPUT_PARTS)
                messages.append({"role": "user" if role == "user" else "system", "content": text})
            else:
                raise ApiError(
                    400, f"{where}.role must be user, system, developer or assistant", param="input"
                )
        elif kind == "reasoning":
            current = assistant()
            current["reasoning_content"] = current.get("reasoning_content", "") + _reasoning_text(item)
        elif kind == "function_call":
            name, call_id = item.get("name"), item.get("call_id")
            if not isinstance(name, str) or not isinstance(call_id, str):
                raise ApiError(400, f"{where}: a function_call needs name and call_id", param="input")
            arguments = item.get("arguments", "")
            if not isinstance(arguments, str):
                raise ApiError(400, f"{where}.arguments must be a JSON string", param="input")
            call = {
                "id": call_id,
                "type": "function",
                "function": {"name": tools.model_name(name, item.get("namespace")), "arguments": arguments},
            }
            assistant().setdefault("tool_calls", []).append(call)
        elif kind == "function_call_output":
            close()
            call_id = item.get("call_id")
            if not isinstance(call_id, str):
                raise ApiError(400, f"{where}: a function_call_output needs call_id", param="input")
            output = _text(item.get("output", ""), f"{where}.output", _INPUT_PARTS)
            messages.append({"role": "tool", "tool_call_id": call_id, "content": output})
        elif kind == "item_reference":
            raise ApiError(
                400,
                f"{where}: item references are not supported here: send the item, or chain with "
                "previous_response_id",
                param="input",
            )
        else:
            raise ApiError(400, f"{where} has type {kind!r}, which this gateway cannot render", param="input")
    close()
    return messages


def _tool_choice(choice: Any, tools: ToolMap) -> tuple[str, str | None, list[dict[str, Any]]]:
    """(the pipeline's tool choice, the forced tool's name, the tools offered) for a ``tool_choice``."""
    chat_tools = tools.chat_tools
    if choice is None:
        return "auto", None, chat_tools
    if choice in ("auto", "none", "required"):
        return choice, None, chat_tools
    if isinstance(choice, dict):
        kind = choice.get("type")
        if kind == "function" and isinstance(choice.get("name"), str):
            return "function", tools.model_name(choice["name"], choice.get("namespace")), chat_tools
        if kind == "allowed_tools":
            allowed = {
                tools.model_name(t["name"], t.get("namespace"))
                for t in choice.get("tools") or []
                if isinstance(t, dict) and isinstance(t.get("name"), str)
            }
            kept = [t for t in chat_tools if t["function"]["name"] in allowed]
            return ("required" if choice.get("mode") == "required" else "auto"), None, kept
        if isinstance(kind, str) and kind in HOSTED_TOOL_TYPES:
            raise ApiError(
                400, f"tool_choice names the hosted tool {kind!r}, which cannot run here", param="tool_choice"
            )
    raise ApiError(
        400,
        'tool_choice must be "auto", "none", "required", {"type": "function", "name": ...} or '
        '{"type": "allowed_tools", ...}',
        param="tool_choice",
    )


def to_request(
    req: ResponsesRequest, history: Sequence[dict[str, Any]], tools: ToolMap, wire: Any = None
) -> tuple[Request, list[dict[str, Any]]]:
    """(the pipeline's request, the full item list of this turn's input: what is stored for a chain).

    ``history`` is the conversation ``previous_response_id`` continues (empty when there is none);
    ``wire`` is kept on the request for the dialect's writer."""
    items = [*history, *input_items(req.input)]
    if not items:
        raise ApiError(400, "input is empty", param="input")
    messages = items_to_messages(items, tools, req.instructions)
    choice, name, chat_tools = _tool_choice(req.tool_choice, tools)
    if choice in ("required", "function") and not chat_tools:
        raise ApiError(400, f"tool_choice {choice!r} needs tools", param="tool_choice")
    effort = req.reasoning.effort if req.reasoning is not None else None
    request = Request(
        model=req.model,
        messages=messages,
        tools=chat_tools or None,
        tool_choice=choice,  # type: ignore[arg-type]
        tool_name=name,
        parallel_tool_calls=req.parallel_tool_calls is not False,
        max_tokens=req.max_output_tokens,
        temperature=req.temperature,
        top_p=req.top_p,
        stream=req.stream,
        # Thinking on or off where the template has the switch (the others ignore it).
        thinking=None if effort is None else effort != "none",
        wire=wire,
    )
    return request, [dict(item) for item in items]
