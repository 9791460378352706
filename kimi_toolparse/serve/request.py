"""The internal request every dialect reads its wire shape into, and the dialect-neutral error."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

__all__ = ["KINDS", "ApiError", "Request", "ToolChoice"]

#: What went wrong, in words every dialect maps to its own error type.
KINDS = ("invalid_request", "authentication", "not_found", "too_large", "overloaded", "upstream")


class ApiError(Exception):
    """A request the gateway answers with an error: the status, what kind of failure, and where."""

    def __init__(
        self,
        status: int,
        message: str,
        *,
        kind: str = "invalid_request",
        param: str | None = None,
        code: str | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.kind = kind
        self.param = param
        self.code = code


#: ``auto``: the model decides; ``none``: calls are dropped; ``required``: at least one call;
#: ``function``: a call of ``Request.tool_name``.
ToolChoice = Literal["auto", "none", "required", "function"]


@dataclass
class Request:
    """One request, whatever API it came in by: what :func:`plan` needs and nothing of the wire shape."""

    #: The model name the client asked for (echoed back).
    model: str
    #: The conversation in OpenAI's shape, as ``render()`` takes it.
    messages: list[dict[str, Any]]
    #: Tools in OpenAI's shape (``{"type": "function", "function": {...}}``), or None.
    tools: list[dict[str, Any]] | None = None
    tool_choice: ToolChoice = "auto"
    tool_name: str | None = None
    parallel_tool_calls: bool = True
    n: int = 1
    max_tokens: int | None = None
    temperature: float | None = None
    top_p: float | None = None
    top_k: int | None = None
    seed: int | None = None
    presence_penalty: float | None = None
    frequency_penalty: float | None = None
    stop: list[str] = field(default_factory=list)
    stream: bool = False
    #: Turn the template's thinking switch on or off; None leaves the template's default.
    thinking: bool | None = None
    #: More keyword arguments for the template (chat completions' ``chat_template_kwargs``).
    template_kwargs: dict[str, Any] = field(default_factory=dict)
    #: The name of the request field the template keyword arguments came from (for error messages).
    template_kwargs_param: str = "chat_template_kwargs"
    #: The dialect's own parsed request, for its writer (e.g. chat's ``stream_options``); nothing else
    #: reads it.
    wire: Any = None

    def openai_tool_choice(self) -> str | dict[str, Any]:
        """``tool_choice`` in OpenAI's shape (what the grammar builder reads)."""
        if self.tool_choice == "function":
            return {"type": "function", "function": {"name": self.tool_name}}
        return self.tool_choice
