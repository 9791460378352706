"""The internal request every dialect reads its wire shape into, and the dialect-neutral error."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal, TypeVar

from pydantic import BaseModel, ValidationError

__all__ = ["KINDS", "ApiError", "Request", "ToolChoice", "validate_body", "validation_error"]

_Model = TypeVar("_Model", bound=BaseModel)

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
    #: Rewrite the history's call ids to ``functions.NAME:IDX`` where they are not (render's normalize_ids).
    normalize_ids: bool = False
    #: The dialect's own parsed request, for its writer (e.g. chat's ``stream_options``); nothing else
    #: reads it.
    wire: Any = None

    def openai_tool_choice(self) -> str | dict[str, Any]:
        """``tool_choice`` in OpenAI's shape (what the grammar builder reads)."""
        if self.tool_choice == "function":
            return {"type": "function", "function": {"name": self.tool_name}}
        return self.tool_choice


def validation_error(e: ValidationError) -> ApiError:
    """A pydantic validation error as a 400 naming the first field at fault."""
    err = e.errors()[0]
    loc = ".".join(str(p) for p in err["loc"]) or None
    param = str(err["loc"][0]) if err["loc"] else None
    return ApiError(400, f"{loc}: {err['msg']}" if loc else err["msg"], param=param, code="invalid_value")


def validate_body(model: type[_Model], data: Any) -> _Model:
    """A JSON body read into a dialect's request model, or a 400 naming the field."""
    if not isinstance(data, dict):
        raise ApiError(400, "the request body must be a JSON object")
    try:
        return model.model_validate(data)
    except ValidationError as e:
        raise validation_error(e) from None
