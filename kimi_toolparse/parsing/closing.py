"""Closing a tool call: its id, name, arguments, status and diagnostics, decided in one place.

The parser hands over the call it was reading and what closed it (docs/format.md#rule-5); :func:`close_call`
applies the header split (#rule-6), the naming rules (#rule-10, #rule-11), the end of the JSON value
(#rule-12) and the validation against the request's tools, and returns the finished :class:`ToolCall` with
the effects in the order they happened, so the parser's event stream stays in that order. It does no
output itself, which is why it can be tested without a parser.
"""

from __future__ import annotations

import re
from typing import Any, TypeAlias

from .arguments import ArgumentScanner, decode_json, unwrap_double_encoded
from .diagnostics import Code, Diagnostic
from .header import HeaderScanner
from .message import CallStatus, ClosedBy, ToolCall, closer_flag
from .names import name_from_drifted_id, name_from_id
from .states import State
from .tools import CallProblem, Tools

__all__ = ["Effect", "OpenCall", "close_call", "name_call", "resolve_by_schema", "validate_call"]

#: What closing a call did besides building it: a diagnostic, or (a ``str``) prose written after the
#: arguments' JSON value, which the parser places as content or reasoning (#rule-12, #rule-8).
Effect: TypeAlias = Diagnostic | str

_ALNUM = re.compile(r"[^\W_]")
#: Problems that closing a call reports itself; validation does not report them twice.
_ALREADY_REPORTED = frozenset({Code.INVALID_JSON, Code.UNRESOLVED_NAME})


class OpenCall:
    """The call being read: its header and arguments so far, and what is known of its name."""

    __slots__ = (
        "args",
        "header",
        "id",
        "index",
        "name",
        "offset",
        "openai_index",
        "pending",
        "started",
        "streamed",
    )

    def __init__(self, index: int, offset: int) -> None:
        self.index = index
        self.offset = offset
        #: The header, and the markers held after its id until it closes (#rule-7).
        self.header = HeaderScanner()
        self.id = ""
        self.name: str | None = None
        #: The name waits for docs/format.md#rule-11 (b), which needs the closed arguments.
        self.pending = False
        #: ToolCallStart went out (the name was known when the arguments began).
        self.started = False
        #: Argument deltas went out as the arguments streamed.
        self.streamed = False
        self.openai_index = -1
        self.args = ArgumentScanner()

    def take_name(self, tools: Tools | None, offset: int) -> Diagnostic | None:
        """Name the call from its id (docs/format.md#rule-10, then #rule-11 a); report a drifted id's name.

        When neither rule names it and tools were given, the name waits for the arguments (#rule-11 b).
        """
        self.name, drifted = name_call(self.id, tools)
        if drifted:
            return Diagnostic(
                Code.DRIFTED_ID,
                f"drifted id {self.id!r} names the declared tool {self.name!r}",
                offset,
                self.id,
                self.index,
            )
        self.pending = self.name is None and tools is not None
        return None


def name_call(call_id: str, tools: Tools | None) -> tuple[str | None, bool]:
    """The name a call id gives, and whether it came from a drifted id.

    docs/format.md#rule-10 reads the canonical form; then #rule-11 (a) a drifted id that spells a declared
    name.
    """
    name = name_from_id(call_id)
    if name is not None or tools is None:
        return name, False
    name = name_from_drifted_id(call_id, tools.names)
    return name, name is not None


def resolve_by_schema(
    call_id: str, value: Any, tools: Tools, offset: int, index: int
) -> tuple[str | None, list[Diagnostic]]:
    """docs/format.md#rule-11 (b): the one declared tool whose schema accepts the arguments; never a guess.

    Tools whose schema cannot be checked count as candidates and are reported.
    """
    if not isinstance(value, dict):
        return None, []
    if not tools.schema_check_available:
        return None, [
            Diagnostic(
                Code.SCHEMA_CHECK_UNAVAILABLE,
                "resolving a drifted id by schema needs jsonschema-rs, which does not import",
                offset,
                call_id,
                index,
            )
        ]
    accepted, unchecked = tools.candidates(value)
    found = [
        Diagnostic(
            Code.SCHEMA_UNCHECKED,
            f"the schema of tool {name!r} cannot be checked; it counts as a candidate for {call_id!r}",
            offset,
            name,
            index,
        )
        for name in unchecked
    ]
    names = set(accepted) | set(unchecked)
    if len(names) != 1:
        return None, found
    name = names.pop()
    how = "accepts" if accepted else "could accept (its schema could not be checked)"
    found.append(
        Diagnostic(
            Code.DRIFTED_ID,
            f"drifted id {call_id!r}: only {name!r} {how} these arguments",
            offset,
            call_id,
            index,
        )
    )
    return name, found


def validate_call(
    call: OpenCall, json_valid: bool, value: Any, tools: Tools
) -> tuple[tuple[CallProblem, ...], list[Diagnostic]]:
    """The call against the request's tools: its problems, and a diagnostic for each one not already
    reported by closing."""
    problems = tools.check_call(call.name, json_valid, value)
    found = []
    for p in problems:
        if p.code not in _ALREADY_REPORTED:
            where = f" at {p.path} ({p.keyword})" if p.keyword else ""
            found.append(
                Diagnostic(p.code, f"call {call.id!r}{where}: {p.message}", call.offset, p.path, call.index)
            )
    return problems, found


def close_call(
    call: OpenCall,
    state: State,
    closed_by: ClosedBy,
    offset: int,
    tools: Tools | None,
    *,
    in_think: bool = False,
) -> tuple[ToolCall | None, list[Effect]]:
    """Finish the call read so far in ``state`` (HEADER, HEADER_ARGS or ARGS), closed by ``closed_by``.

    Returns the call (None when a header without arguments is discarded) and the effects in order.
    ``offset`` is where the closer sits; ``in_think`` says the section interrupted reasoning, which only
    changes how prose after the arguments is reported. Sets ``call.id`` and ``call.name``.
    """
    effects: list[Effect] = []
    status = closer_flag(closed_by)
    if state is State.ARGS:
        arguments, trailing = call.args.finish()
    else:
        header = call.header.written()
        if state is State.HEADER:
            if closed_by is not ClosedBy.CALL_END or not header:
                effects.append(
                    Diagnostic(
                        Code.HEADER_DISCARDED,
                        f"call header without arguments cut off at {closed_by.value}; no call",
                        call.offset,
                        header,
                    )
                )
                return None, effects
            call.id, arguments, trailing = header, "{}", ""
        else:  # HEADER_ARGS: the id is the header's leading part, the rest its arguments
            call.id = HeaderScanner.split(header)[0]
            arguments, trailing = call.args.finish()
        status |= CallStatus.ARG_BEGIN_MISSING
        effects.append(
            Diagnostic(
                Code.ARG_BEGIN_MISSING,
                "the call header never reached <|tool_call_argument_begin|>",
                call.offset,
                header,
                call.index,
            )
        )
        drifted = call.take_name(tools, call.offset)
        if drifted is not None:
            effects.append(drifted)

    if trailing and not trailing.isspace():
        if closed_by is ClosedBy.CALL_END or not _ALNUM.search(trailing):
            effects.append(
                Diagnostic(
                    Code.TRAILING_TEXT,
                    "text after the arguments' JSON value removed",
                    call.args.trailing_offset,
                    trailing,
                    call.index,
                )
            )
        else:
            effects.append(
                Diagnostic(
                    Code.PROSE_AFTER_ARGUMENTS,
                    "prose after the arguments' JSON value kept as content"
                    if not in_think
                    else "prose after the arguments' JSON value, in a section that interrupted reasoning, "
                    "kept as reasoning or content (rule 8)",
                    call.args.trailing_offset,
                    trailing,
                    call.index,
                )
            )
            effects.append(trailing)

    valid, value = decode_json(arguments)
    if call.args.quoted and valid:
        inner = unwrap_double_encoded(value)
        if inner is not None:
            arguments = inner.strip()
            valid, value = decode_json(inner)
            status |= CallStatus.UNWRAPPED
            effects.append(
                Diagnostic(
                    Code.UNWRAPPED_ARGUMENTS,
                    "arguments were a JSON string holding an object; unwrapped one level",
                    call.offset,
                    call.id,
                    call.index,
                )
            )
    if not valid:
        status |= CallStatus.INVALID_JSON
        effects.append(
            Diagnostic(Code.INVALID_JSON, "arguments are not valid JSON", call.offset, arguments, call.index)
        )

    if call.pending and tools is not None:
        call.name, found = resolve_by_schema(
            call.id, value if valid else None, tools, call.offset, call.index
        )
        effects.extend(found)
    if call.name is None:
        status |= CallStatus.UNRESOLVED_NAME
        effects.append(
            Diagnostic(
                Code.UNRESOLVED_NAME,
                f"no function name in id {call.id!r}; the call is left out of the OpenAI view",
                call.offset,
                call.id,
                call.index,
            )
        )
    if closed_by is not ClosedBy.CALL_END:
        effects.append(
            Diagnostic(
                Code.CALL_NOT_CLOSED,
                f"call closed by {closed_by.value}, not <|tool_call_end|>",
                offset,
                "",
                call.index,
            )
        )

    problems = None
    if tools is not None:
        problems, found = validate_call(call, valid, value, tools)
        effects.extend(found)
    result = ToolCall.model_construct(
        index=call.index,
        id=call.id,
        name=call.name,
        arguments=arguments,
        status=status,
        problems=problems,
    )
    return result, effects
