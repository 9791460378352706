"""Jinja's semantics where the chat templates depend on them: Undefined, ``{{ value }}``, lookups that fail.

The official templates run under transformers' Jinja; these helpers reproduce, in plain Python, what Jinja
does with a missing key, a non-string value or content given as parts, so that both renderers (the current
templates in :mod:`.prompt` and the first ones in :mod:`.legacy`) print and fail exactly where the template
does.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any, Final

from .templates import ChatTemplate

__all__ = [
    "MISSING",
    "BadConversation",
    "Missing",
    "UnknownTemplateKwargs",
    "each_call",
    "is_image",
    "item",
    "render_content",
    "show",
]


class Missing:
    """A key the message does not have: Jinja's Undefined, which prints as nothing and equals nothing."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "<missing>"


MISSING: Final = Missing()


def item(obj: Any, key: str) -> Any:
    """``obj[key]`` as Jinja reads it: anything that cannot be indexed by the key is Undefined."""
    try:
        return obj[key]
    except (TypeError, LookupError, AttributeError):
        return MISSING


def show(value: Any) -> str:
    """``{{ value }}``: str() of it, nothing for Undefined, ``None`` for None."""
    if type(value) is str:
        return value
    if value is MISSING:
        return ""
    return str(value)


class BadConversation(ValueError):
    """A conversation the template cannot render (or, in strict mode, would render oddly).

    ``problem`` is what is wrong, in the conversation's terms; ``option`` the render() keyword and value
    that gets past it, if one does, and ``effect`` what that option then does. The message joins them;
    a command line or a server words the option its own way (or leaves it out) from the parts."""

    def __init__(self, problem: str, *, option: tuple[str, object] | None = None, effect: str = "") -> None:
        self.problem = problem
        self.option = option
        self.effect = effect
        hint = "" if option is None else f" ({option[0]}={option[1]!r} {effect})"
        super().__init__(problem + hint)


class UnknownTemplateKwargs(TypeError):
    """render() got template kwargs no Kimi template reads: ``unknown`` names them, ``known`` lists the
    ones the templates read (a server or a command line words the refusal in its own terms from them)."""

    def __init__(self, unknown: Sequence[str], known: Sequence[str]) -> None:
        self.unknown = tuple(unknown)
        self.known = tuple(known)
        super().__init__(
            f"render() got unknown template kwargs {', '.join(map(repr, self.unknown))}: "
            f"the Kimi templates read {', '.join(self.known)}"
        )


def is_image(part: Any, template: ChatTemplate) -> bool:
    kind = item(part, "type")
    if template.image_by_key:
        if kind == "image":
            return True
        try:
            return bool("image" in part or "image_url" in part)
        except TypeError:
            raise BadConversation(
                f"a content part is a {type(part).__name__}: the template cannot read it"
            ) from None
    return bool(kind == "image" or kind == "image_url")


def render_content(content: Any, template: ChatTemplate) -> str:
    """``render_content``: a string as it is, None as nothing, parts as text and media placeholders."""
    if type(content) is str:
        return content
    if content is None or content is MISSING:
        return ""
    if isinstance(content, str):
        return str.__str__(content)
    try:
        parts = iter(content)
    except TypeError:
        raise BadConversation(
            f"content is a {type(content).__name__}: the template cannot iterate it"
        ) from None
    out: list[str] = []
    video = template.video_placeholder
    for part in parts:
        if is_image(part, template):
            out.append(template.image_placeholder)
            continue
        if video is not None:
            kind = item(part, "type")
            if kind == "video" or kind == "video_url":
                out.append(video)
                continue
        out.append(show(item(part, "text")))
    return "".join(out)


def each_call(calls: Any) -> Iterator[tuple[int, Any, Any]]:
    """``(k, call, call.function)`` as the templates loop over the calls, failing where they fail."""
    try:
        iterator = iter(calls)
    except TypeError:
        raise BadConversation(
            f"tool_calls is a {type(calls).__name__}: the template cannot iterate it"
        ) from None
    for k, call in enumerate(iterator):
        function = item(call, "function")
        if function is MISSING:
            raise BadConversation(f"tool_calls[{k}].function is missing: the template cannot render the call")
        yield k, call, function
