"""Diagnostics: every irregularity the parser meets, with a stable code, so nothing is dropped silently."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Any

__all__ = ["Code", "Diagnostic"]


class Code(str, enum.Enum):
    """Stable diagnostic codes. The message text may change between releases; the codes do not."""

    #: A marker where it means nothing (docs/format.md#rule-7); removed.
    ORPHAN_MARKER = "orphan_marker"
    #: A special token that is not part of the output grammar (``<|im_user|>``, ``[UNK]``, ...); removed.
    SPECIAL_TOKEN = "special_token"
    #: Non-whitespace text between the markers of a section; not content.
    TEXT_IN_SECTION = "text_in_section"
    #: A call header cut off before it had arguments (docs/format.md#rule-6); no call.
    HEADER_DISCARDED = "header_discarded"
    #: A call whose header never reached ``<|tool_call_argument_begin|>`` (docs/format.md#rule-6); kept.
    ARG_BEGIN_MISSING = "arg_begin_missing"
    #: A call closed by something other than ``<|tool_call_end|>`` (docs/format.md#rule-5); the call is kept.
    CALL_NOT_CLOSED = "call_not_closed"
    #: Text after a call's JSON value, removed (docs/format.md#rule-12).
    TRAILING_TEXT = "trailing_text"
    #: Prose after a call's JSON value, made content: the model forgot its markers (docs/format.md#rule-12).
    PROSE_AFTER_ARGUMENTS = "prose_after_arguments"
    #: Arguments that are not valid JSON; kept byte for byte.
    INVALID_JSON = "invalid_json"
    #: Arguments that were a JSON string holding a JSON object, unwrapped one level (docs/format.md#rule-12).
    UNWRAPPED_ARGUMENTS = "unwrapped_arguments"
    #: A call id not of the form ``functions.NAME:IDX`` whose name was recovered from the tools
    #: (docs/format.md#rule-11).
    DRIFTED_ID = "drifted_id"
    #: A call whose name could not be determined; it is left out of the OpenAI view
    #: (docs/format.md#rule-10, #rule-11).
    UNRESOLVED_NAME = "unresolved_name"
    #: Schema resolution (docs/format.md#rule-11, b) was needed but ``jsonschema-rs`` does not import.
    SCHEMA_CHECK_UNAVAILABLE = "schema_check_unavailable"
    #: A tool's schema check could not complete (a ``$ref`` that resolves nowhere, an unknown type, a
    #: limit); for schema resolution (docs/format.md#rule-11, b) that tool is a candidate, and a call naming
    #: it cannot be validated.
    SCHEMA_UNCHECKED = "schema_unchecked"
    #: Validation (tools given): the call names a tool the request did not declare.
    UNKNOWN_TOOL = "unknown_tool"
    #: Validation (tools given): the arguments are valid JSON but not an object.
    ARGUMENTS_NOT_OBJECT = "arguments_not_object"
    #: Validation (tools given): the arguments break the tool's schema (one diagnostic per violation).
    SCHEMA_VIOLATION = "schema_violation"
    #: A tool-call section still open when the turn or the output ended.
    UNCLOSED_SECTION = "unclosed_section"
    #: Reasoning still open when the turn or the output ended.
    UNCLOSED_REASONING = "unclosed_reasoning"
    #: Text after the end of the turn (docs/format.md#rule-9); not content.
    TEXT_AFTER_END_OF_TURN = "text_after_end_of_turn"


@dataclass(frozen=True, slots=True)
class Diagnostic:
    """One irregularity: where it was (character offset in the whole output) and the text concerned."""

    code: Code
    message: str
    offset: int
    text: str = ""
    #: The index of the tool call concerned, when there is one.
    call_index: int | None = None

    def to_openai(self) -> None:
        """Diagnostics are for the server's logs; a client never sees them."""
        return None

    def to_dict(self) -> dict[str, Any]:
        return {
            "code": self.code.value,
            "message": self.message,
            "offset": self.offset,
            "text": self.text,
            "call_index": self.call_index,
        }
