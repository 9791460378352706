"""K2-Instruct's first chat templates (July to October 2025), for users pinned to an old snapshot.

They differ from today's in structure, not only in data: fixed role headers, tool calls numbered by position,
arguments and tool results printed raw, a stray newline or indent here and there. Each revision is described
by a :class:`~kimi_toolparse.rendering.templates.LegacyFormat`; this renders it, byte for byte, bugs included.
"""

from __future__ import annotations

import json
from typing import Any

from ..call_ids import CALL_ID_PREFIX
from ..tokens import (
    ARG_BEGIN,
    CALL_BEGIN,
    CALL_END,
    IM_ASSISTANT,
    IM_END,
    IM_MIDDLE,
    IM_SYSTEM,
    IM_USER,
    SECTION_BEGIN,
    SECTION_END,
)
from .jinja_compat import MISSING, BadConversation, each_call, item, render_content, show
from .templates import ChatTemplate, LegacyFormat

__all__ = ["render_legacy"]

_GENERATION = IM_ASSISTANT + "assistant" + IM_MIDDLE

_FIXED_HEADERS = {
    "system": IM_SYSTEM + "system" + IM_MIDDLE,
    "user": IM_USER + "user" + IM_MIDDLE,
    "assistant": IM_ASSISTANT + "assistant" + IM_MIDDLE,
    "tool": IM_SYSTEM + "tool" + IM_MIDDLE,
}


def render_legacy(
    messages: list[dict[str, Any]],
    declaration: str | None,
    template: ChatTemplate,
    add_generation_prompt: bool,
    strict: bool,
) -> str:
    """The prompt of one of K2-Instruct's first templates (``declaration``: the tool_declare body, if any)."""
    fmt = template.legacy
    assert fmt is not None
    out: list[str] = []
    if declaration is not None:
        out += (IM_SYSTEM, "tool_declare", IM_MIDDLE, fmt.tools_header, declaration, IM_END)
    for idx, m in enumerate(messages):
        try:
            role = m.get("role", MISSING)
            if idx == 0 and role != "system" and template.default_system is not None:
                out += (
                    IM_SYSTEM,
                    "system",
                    IM_MIDDLE,
                    template.default_system,
                    IM_END,
                    template.default_system_suffix,
                )
            out.append(_header(m, role, fmt))
            content = m.get("content", MISSING)
            if strict and content is None:
                content = MISSING  # strict mode reads null fields as absent
            if fmt.renders_tool_calls:
                out.append(_body(m, role, content, template, fmt, strict))
            elif isinstance(content, str):
                out.append(content)
            elif content is None:
                raise BadConversation(
                    "content is null: this revision cannot render it (it iterates the content)"
                )
            else:
                out.append(render_content(content, template))
        except BadConversation as e:
            raise ValueError(f"messages[{idx}]: {e}") from None
        out.append(IM_END)
    if add_generation_prompt:
        out.append(_GENERATION)
    return "".join(out)


def _header(m: dict[str, Any], role: Any, fmt: LegacyFormat) -> str:
    if not fmt.named_roles:
        for known, header in _FIXED_HEADERS.items():
            if role == known:
                return header
        return ""  # any other role gets no header at all
    name = m.get("name")
    who = show(name if name else role)
    if role == "user":
        return IM_USER + who + IM_MIDDLE
    if role == "assistant":
        return IM_ASSISTANT + who + IM_MIDDLE
    return IM_SYSTEM + who + IM_MIDDLE + ("\n" if fmt.newline_after_other_roles else "")


def _body(
    m: dict[str, Any], role: Any, content: Any, template: ChatTemplate, fmt: LegacyFormat, strict: bool
) -> str:
    calls = m.get("tool_calls")
    if role == "assistant" and calls:
        # content is printed as it is (a list as Python prints it), and only when truthy
        shown = show(content) if content is not MISSING and content else ""
        return shown + _calls(calls, fmt)
    if role == "tool":
        call_id = m.get("tool_call_id", MISSING)
        if strict and call_id is None:
            call_id = MISSING
        separator = fmt.result_separator
        if separator == "concat":
            if not isinstance(call_id, str) or not isinstance(content, str):
                raise BadConversation(
                    "this revision joins tool_call_id and content with +, so both must be strings"
                )
            return "## Return of " + call_id + "\n" + content
        gap = {"escaped": "\\n", "indented": "\n    ", "newline": "\n"}[separator]
        return "## Return of " + show(call_id) + gap + show(content)
    if isinstance(content, str):
        return content
    if content is None:
        return ""
    return render_content(content, template)


def _calls(calls: Any, fmt: LegacyFormat) -> str:
    out = [SECTION_BEGIN]
    for k, call, function in each_call(calls):
        if fmt.call_ids == "position":
            name = item(function, "name")
            if not isinstance(name, str):
                raise BadConversation(
                    f"tool_calls[{k}].function.name must be a string: this revision builds the id from it"
                )
            # the form of call_ids.format_call_id, but an empty name is written too, as the template does
            call_id = f"{CALL_ID_PREFIX}{name}:{k}"
        else:
            call_id = show(item(call, "id"))
        out += (CALL_BEGIN, call_id, ARG_BEGIN, _arguments(item(function, "arguments"), fmt, k), CALL_END)
    out.append(SECTION_END)
    return "".join(out)


def _arguments(arguments: Any, fmt: LegacyFormat, k: int) -> str:
    if fmt.arguments == "raw":
        return show(arguments)
    if fmt.arguments == "string_or_json" and isinstance(arguments, str):
        return arguments
    if arguments is MISSING:
        raise BadConversation(
            f"tool_calls[{k}].function.arguments is missing: the template cannot render the call"
        )
    try:
        return json.dumps(arguments, ensure_ascii=False)
    except (TypeError, ValueError) as e:
        raise BadConversation(f"tool_calls[{k}].function.arguments cannot be written as JSON: {e}") from None
