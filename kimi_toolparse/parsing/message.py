"""The parse result: a message with content, reasoning, tool calls and diagnostics."""

from __future__ import annotations

import enum
from typing import Annotated, Any, Literal, TypeAlias

from pydantic import BaseModel, BeforeValidator, ConfigDict, PlainSerializer, WithJsonSchema, field_serializer

from .diagnostics import Diagnostic
from .openai_view import message_to_openai
from .tools import CallProblem

__all__ = ["CallStatus", "ClosedBy", "ParsedMessage", "ToolCall", "closer_flag"]


class ClosedBy(str, enum.Enum):
    """What ended a tool call (docs/format.md#rule-5)."""

    CALL_END = "call_end"
    NEXT_CALL = "next_call"
    SECTION_END = "section_end"
    END_OF_TURN = "end_of_turn"
    END_OF_OUTPUT = "end_of_output"


class CallStatus(enum.Flag):
    """How a call ended, plus what was irregular about it; test with ``in``."""

    CALL_END = enum.auto()
    NEXT_CALL = enum.auto()
    SECTION_END = enum.auto()
    END_OF_TURN = enum.auto()
    END_OF_OUTPUT = enum.auto()
    #: The header never reached ``<|tool_call_argument_begin|>`` (docs/format.md#rule-6).
    ARG_BEGIN_MISSING = enum.auto()
    #: The arguments are not valid JSON (kept byte for byte).
    INVALID_JSON = enum.auto()
    #: The arguments were a JSON string holding an object, unwrapped one level.
    UNWRAPPED = enum.auto()
    #: No name could be determined; the call is not in the OpenAI view.
    UNRESOLVED_NAME = enum.auto()

    @property
    def names(self) -> list[str]:
        return [m.name.lower() for m in CallStatus if m in self and m.name]


def closer_flag(closed_by: ClosedBy) -> CallStatus:
    """The status flag of a closer: each ``ClosedBy`` member has a ``CallStatus`` flag of its name."""
    return CallStatus[closed_by.name]


def _status_from(value: Any) -> Any:
    """Accept the serialized form (a list of flag names) as well as a CallStatus or its int value."""
    if isinstance(value, (list, tuple)):
        status = CallStatus(0)
        for name in value:
            if not isinstance(name, str) or name.upper() not in CallStatus.__members__:
                raise ValueError(f"unknown call status {name!r}")
            status |= CallStatus[name.upper()]
        return status
    return value


#: Serialized as the list of its flag names, e.g. ``["next_call", "invalid_json"]``.
StatusField = Annotated[
    CallStatus,
    BeforeValidator(_status_from),
    PlainSerializer(lambda status: status.names, return_type=list[str]),
    WithJsonSchema(
        {"type": "array", "items": {"type": "string", "enum": [m.name.lower() for m in CallStatus if m.name]}}
    ),
]


class ToolCall(BaseModel):
    """One tool call, in order of appearance; ``index`` is its position in this message."""

    model_config = ConfigDict(frozen=True)

    index: int
    #: The header as the model wrote it, surrounding whitespace removed; goes back verbatim into history.
    id: str
    #: None when the name could not be determined (docs/format.md#rule-10, #rule-11).
    name: str | None
    #: The arguments text: valid JSON when ``json_valid``, else exactly what the model wrote.
    arguments: str
    status: StatusField
    #: Per-call validation against the request's tools: None when no tools were given, ``()`` when the call
    #: names a declared tool and its arguments are a JSON object valid against its schema, else the problems
    #: (code, JSON path, schema keyword, message). Not part of the OpenAI view.
    problems: tuple[CallProblem, ...] | None = None

    @field_serializer("problems")
    def _problem_dicts(self, problems: tuple[CallProblem, ...] | None) -> list[dict[str, Any]] | None:
        return None if problems is None else [p.to_dict() for p in problems]

    @property
    def valid(self) -> bool | None:
        """True or False when tools were given (see ``problems``), None when the call was not validated."""
        return None if self.problems is None else not self.problems

    @property
    def closed_by(self) -> ClosedBy:
        for closed_by in ClosedBy:
            if CallStatus[closed_by.name] in self.status:
                return closed_by
        raise AssertionError("every call has a closer")  # pragma: no cover

    @property
    def complete(self) -> bool:
        """Closed by ``<|tool_call_end|>`` with all its markers in place."""
        return CallStatus.CALL_END in self.status and CallStatus.ARG_BEGIN_MISSING not in self.status

    @property
    def json_valid(self) -> bool:
        return CallStatus.INVALID_JSON not in self.status

    @property
    def arg_begin_missing(self) -> bool:
        return CallStatus.ARG_BEGIN_MISSING in self.status

    def to_openai(self) -> dict[str, Any]:
        """The call in OpenAI's ``tool_calls[]`` shape; only for calls that have a name."""
        if self.name is None:
            raise ValueError(
                f"call {self.index} ({self.id!r}) has no name and cannot be expressed in OpenAI's shape; "
                "check ToolCall.name before converting"
            )
        return {
            "id": self.id,
            "type": "function",
            "function": {"name": self.name, "arguments": self.arguments},
        }


#: What ``ParsedMessage.finish_reason`` can be: OpenAI's values for a chat completion.
FinishReason: TypeAlias = Literal["stop", "length", "tool_calls", "content_filter"]

#: The engine finish reasons ``stop_reason=`` accepts; ``stop`` and ``tool_calls`` leave it to the parse.
STOP_REASONS: tuple[str, ...] = ("stop", "length", "tool_calls", "content_filter")


def stop_reason_from(value: object) -> str | None:
    """The engine's stop reason as a finish reason: None, one of :data:`STOP_REASONS`, or an int.

    An int is a stop token id (vLLM's ``CompletionOutput.stop_reason`` when a stop token matched), so the
    model stopped: ``"stop"``. Any other string is refused rather than guessed, because only the engine
    knows whether it means the output was cut.
    """
    if value is None:
        return None
    if isinstance(value, bool):
        raise TypeError(
            f"stop_reason must be a str such as 'stop' or 'length', or a stop token id; not {value!r}"
        )
    if isinstance(value, int):
        return "stop"
    if not isinstance(value, str):
        raise TypeError(
            f"stop_reason must be a str such as 'stop' or 'length', or a stop token id (int); not {value!r}"
        )
    if value not in STOP_REASONS:
        accepted = ", ".join(repr(r) for r in STOP_REASONS)
        raise ValueError(
            f"unknown stop_reason {value!r}: pass the engine's finish reason ({accepted}) "
            "or a stop token id; vLLM's CompletionOutput.stop_reason holds the matched stop string, "
            "pass its finish_reason instead"
        )
    return value


class ParsedMessage(BaseModel):
    """Everything one assistant turn said, split into its parts."""

    model_config = ConfigDict(frozen=True)

    content: str = ""
    #: The text inside ``<think>…</think>``; ``""`` for an empty block, None when there was no reasoning.
    reasoning: str | None = None
    tool_calls: tuple[ToolCall, ...] = ()
    diagnostics: tuple[Diagnostic, ...] = ()
    #: The engine's own stop reason, as passed by the caller (``"length"`` when cut by the token limit).
    stop_reason: str | None = None

    @field_serializer("diagnostics")
    def _diagnostics_dicts(self, diagnostics: tuple[Diagnostic, ...]) -> list[dict[str, Any]]:
        return [d.to_dict() for d in diagnostics]

    @property
    def finish_reason(self) -> FinishReason:
        """``tool_calls`` when any call has a name, else ``stop``; the engine's ``length`` wins."""
        if self.stop_reason == "length":
            return "length"
        if self.stop_reason == "content_filter":
            return "content_filter"
        if any(call.name is not None for call in self.tool_calls):
            return "tool_calls"
        return "stop"

    def to_openai(self) -> dict[str, Any]:
        """The assistant message as an OpenAI chat completion returns it."""
        return message_to_openai(self)
