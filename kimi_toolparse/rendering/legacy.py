"""K2-Instruct's first chat templates (July to October 2025), for users pinned to an old snapshot.

They differ from today's in structure, not only in data: fixed role headers, tool calls numbered by position,
arguments and tool results printed raw, a stray newline or indent here and there. Each revision is described
by a :class:`~kimi_toolparse.rendering.templates.LegacyFormat`; this renders it, byte for byte, bugs included.
"""

from __future__ import annotations

import json
from typing import Any

from ..call_ids import CALL_ID_PREFIX
from ..tokens import ARG_BEGIN as _ARG_BEGIN
from ..tokens import CALL_BEGIN as _CALL_BEGIN
from ..tokens import CALL_END as _CALL_END
from ..tokens import IM_ASSISTANT as _ASSISTANT
from ..tokens import IM_END as _END
from ..tokens import IM_MIDDLE as _MIDDLE
from ..tokens import IM_SYSTEM as _SYSTEM
from ..tokens import IM_USER as _USER
from ..tokens import SECTION_BEGIN as _SECTION_BEGIN
from ..tokens import SECTION_END as _SECTION_END
from .jinja_compat import MISSING as _MISSING
from .jinja_compat import BadConversation as _Bad
from .jinja_compat import each_call as _each_call
from .jinja_compat import item as _item
from .jinja_compat import render_content as _content
from .jinja_compat import show as _show
from .templates import ChatTemplate, LegacyFormat

__all__ = ["render_legacy"]

_GENERATION = _ASSISTANT + "assistant" + _MIDDLE

_FIXED_HEADERS = {
    "system": _SYSTEM + "system" + _MIDDLE,
    "user": _USER + "user" + _MIDDLE,
    "assistant": _ASSISTANT + "assistant" + _MIDDLE,
    "tool": _SYSTEM + "tool" + _MIDDLE,
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
        out += (_SYSTEM, "tool_declare", _MIDDLE, fmt.tools_header, declaration, _END)
    for idx, m in enumerate(messages):
        try:
            role = m.get("role", _MISSING)
            if idx == 0 and role != "system" and template.default_system is not None:
                out += (
                    _SYSTEM,
                    "system",
                    _MIDDLE,
                    template.default_system,
                    _END,
                    template.default_system_suffix,
                )
            out.append(_header(m, role, fmt))
            content = m.get("content", _MISSING)
            if strict and content is None:
                content = _MISSING  # strict mode reads null fields as absent
            if fmt.renders_tool_calls:
                out.append(_body(m, role, content, template, fmt, strict))
            elif isinstance(content, str):
                out.append(content)
            elif content is None:
                raise _Bad("content is null: this revision cannot render it (it iterates the content)")
            else:
                out.append(_content(content, template))
        except _Bad as e:
            raise ValueError(f"messages[{idx}]: {e}") from None
        out.append(_END)
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
    who = _show(name if name else role)
    if role == "user":
        return _USER + who + _MIDDLE
    if role == "assistant":
        return _ASSISTANT + who + _MIDDLE
    return _SYSTEM + who + _MIDDLE + ("\n" if fmt.newline_after_other_roles else "")


def _body(
    m: dict[str, Any], role: Any, content: Any, template: ChatTemplate, fmt: LegacyFormat, strict: bool
) -> str:
    calls = m.get("tool_calls")
    if role == "assistant" and calls:
        # content is printed as it is (a list as Python prints it), and only when truthy
        shown = _show(content) if content is not _MISSING and content else ""
        return shown + _calls(calls, fmt)
    if role == "tool":
        call_id = m.get("tool_call_id", _MISSING)
        if strict and call_id is None:
            call_id = _MISSING
        separator = fmt.result_separator
        if separator == "concat":
            if not isinstance(call_id, str) or not isinstance(content, str):
                raise _Bad("this revision joins tool_call_id and content with +, so both must be strings")
            return "## Return of " + call_id + "\n" + content
        gap = {"escaped": "\\n", "indented": "\n    ", "newline": "\n"}[separator]
        return "## Return of " + _show(call_id) + gap + _show(content)
    if isinstance(content, str):
        return content
    if content is None:
        return ""
    return _content(content, template)


def _calls(calls: Any, fmt: LegacyFormat) -> str:
    out = [_SECTION_BEGIN]
    for k, call, function in _each_call(calls):
        if fmt.call_ids == "position":
            name = _item(function, "name")
            if not isinstance(name, str):
                raise _Bad(
                    f"tool_calls[{k}].function.name must be a string: this revision builds the id from it"
                )
            # the form of call_ids.format_call_id, but an empty name is written too, as the template does
            call_id = f"{CALL_ID_PREFIX}{name}:{k}"
        else:
            call_id = _show(_item(call, "id"))
        out += (_CALL_BEGIN, call_id, _ARG_BEGIN, _arguments(_item(function, "arguments"), fmt, k), _CALL_END)
    out.append(_SECTION_END)
    return "".join(out)


def _arguments(arguments: Any, fmt: LegacyFormat, k: int) -> str:
    if fmt.arguments == "raw":
        return _show(arguments)
    if fmt.arguments == "string_or_json" and isinstance(arguments, str):
        return arguments
    if arguments is _MISSING:
        raise _Bad(f"tool_calls[{k}].function.arguments is missing: the template cannot render the call")
    try:
        return json.dumps(arguments, ensure_ascii=False)
    except (TypeError, ValueError) as e:
        raise _Bad(f"tool_calls[{k}].function.arguments cannot be written as JSON: {e}") from None
