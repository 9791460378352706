"""Render an OpenAI-style conversation into the exact Kimi K2 prompt, as text or as token ids.

The output is byte-identical to what each model's official tokenizer produces with ``apply_chat_template``:
its chat template rendered by transformers' Jinja environment, with the tools sorted by key at every depth
and, for K2.5 and later, declared in TypeScript style. Plain string building, no Jinja at run time.

Two modes. Strict (the default) checks the conversation first and names the message and field of anything
the template would render into an odd prompt (a tool result without ``tool_call_id``, a call without a
function name, arguments that are neither str nor dict, ...). It reads null fields as absent and passes
reasoning given as ``reasoning`` (or ``thinking``) to the templates that only read ``reasoning_content``,
as transformers >= 5 does before it renders. ``strict=False`` renders exactly what the raw template renders
for whatever it is given (``None`` included), and raises only where the template itself fails.
"""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Final

from .. import tokens
from ..call_ids import normalize_tool_call_ids, with_prefix
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
from ..tool_shape import tool_functions
from .jinja_compat import (
    MISSING,
    BadConversation,
    UnknownTemplateKwargs,
    each_call,
    is_image,
    item,
    render_content,
    show,
)
from .legacy import render_legacy
from .templates import MODELS, ChatTemplate, Reasoning, SystemPlacement, resolve_model
from .typescript import deep_sort, render_tools_typescript

__all__ = ["encode_prompt", "render", "render_ids"]

_GENERATION: Final = IM_ASSISTANT + "assistant" + IM_MIDDLE
_EMPTY_THINK: Final = tokens.THINK_BEGIN + tokens.THINK_END
_TEMPLATE_KWARGS: Final = ("thinking", "preserve_thinking")
#: The roles of OpenAI's chat format; the templates render any other role too, as a turn named after it.
_ROLES: Final = ("system", "developer", "user", "assistant", "tool")


# --- tools ---------------------------------------------------------------------------------------------

#: The TypeScript text of recently seen tool lists, by their sorted JSON: a server sends the same tools with
#: every request, and the encoder is the slow part of a render.
_TS_CACHE: dict[str, str | None] = {}
_TS_CACHE_SIZE: Final = 64


def _typescript_or_none(sorted_tools: Any) -> str | None:
    """``tools_ts_str`` as the tokenizer passes it: the encoder's text, or None when the encoder fails."""
    try:
        return render_tools_typescript(sorted_tools, sort_keys=False)
    except Exception:  # the tokenizer catches everything and falls back to JSON
        return None


#: The template's ``tojson`` (ensure_ascii=False), compact or with the default separators; json's sort_keys
#: sorts every dict's keys, exactly like the tokenizer's recursive sort. Built once: json.dumps with options
#: builds a new encoder per call.
_JSON: Final = {
    (spaced, sort): json.JSONEncoder(
        ensure_ascii=False, separators=(", ", ": ") if spaced else (",", ":"), sort_keys=sort
    )
    for spaced in (False, True)
    for sort in (False, True)
}


def _tool_declaration(tools: Any, template: ChatTemplate, plain: bool) -> str:
    """The body of the ``tool_declare`` turn: TypeScript where the tokenizer builds it, else compact JSON."""
    legacy = template.legacy
    spaced = legacy is not None and legacy.spaced_tools_json
    try:
        if plain:
            return _JSON[spaced, False].encode(tools)
        canonical = _JSON[spaced, True].encode(tools)
    except (TypeError, ValueError) as e:
        if not plain and template.typescript_tools:
            declared = _typescript_or_none(deep_sort(tools))
            if declared:
                return declared
        raise TypeError(f"tools cannot be declared as JSON: {e}") from None
    if not template.typescript_tools:
        return canonical
    if canonical in _TS_CACHE:
        declared = _TS_CACHE[canonical]
    else:
        declared = _typescript_or_none(json.loads(canonical))
        if len(_TS_CACHE) >= _TS_CACHE_SIZE:
            # drop the oldest entry; another thread may have dropped it already
            with contextlib.suppress(KeyError, RuntimeError, StopIteration):
                del _TS_CACHE[next(iter(_TS_CACHE))]
        _TS_CACHE[canonical] = declared
    return declared if declared else canonical


# --- messages ------------------------------------------------------------------------------------------


def _as_message_dicts(messages: Any) -> list[Any]:
    """Plain dicts, pydantic models and the parser's messages (anything with ``to_openai()``) as dicts."""
    if isinstance(messages, (str, bytes, Mapping)) or not isinstance(messages, Iterable):
        raise TypeError(f"messages must be a list of message dicts, not {type(messages).__name__}")
    out = list(messages)
    for i, m in enumerate(out):
        if type(m) is dict:
            continue
        if isinstance(m, dict):
            out[i] = dict(m)
        elif callable(getattr(m, "model_dump", None)) and not callable(getattr(m, "to_openai", None)):
            out[i] = m.model_dump(exclude_unset=True, by_alias=True)
        elif callable(getattr(m, "to_openai", None)):
            out[i] = m.to_openai()
        else:
            raise TypeError(
                f"messages[{i}] must be a dict (or a pydantic message model), not {type(m).__name__}"
            )
    return out


def _as_tool_dicts(tools: Any) -> Any:
    """Tool models (anything with ``model_dump``) as dicts; anything else as it is."""
    if not isinstance(tools, (list, tuple)) or all(type(t) is dict for t in tools):
        return tools
    return [
        t.model_dump(exclude_unset=True) if callable(getattr(t, "model_dump", None)) else t for t in tools
    ]


def _check_messages(messages: list[Any], template: ChatTemplate) -> None:
    """Strict mode: name the message and field of anything that would render into an odd prompt."""
    if not messages:
        raise BadConversation("messages is empty: a prompt needs at least one message")
    call_ids: set[Any] = set()  # the ids of the calls so far: a tool result answers one of them
    for i, m in enumerate(messages):
        role = m.get("role")
        if not isinstance(role, str) or not role:
            raise BadConversation(
                f"messages[{i}].role must be a non-empty string (system, user, assistant or tool)"
            )
        if role not in _ROLES:
            raise BadConversation(
                f"messages[{i}].role is {role!r}: the roles are {', '.join(_ROLES)}",
                option=("strict", False),
                effect=f"renders it as the template does, as a turn named {role!r}",
            )
        name = m.get("name")
        if name is not None and not isinstance(name, str):
            raise BadConversation(f"messages[{i}].name must be a string, not {type(name).__name__}")
        _check_content(m.get("content"), template, f"messages[{i}].content")
        for field in ("reasoning_content", "reasoning"):
            value = m.get(field)
            if value is not None and not isinstance(value, str):
                raise BadConversation(f"messages[{i}].{field} must be a string, not {type(value).__name__}")
        calls = m.get("tool_calls")
        if calls is not None:
            if role != "assistant":
                raise BadConversation(
                    f"messages[{i}] is a {role} message with tool_calls: only assistant messages have them"
                )
            _check_calls(calls, f"messages[{i}].tool_calls")
            call_ids.update(call["id"] for call in calls)
        if role == "tool":
            call_id = m.get("tool_call_id")
            if not isinstance(call_id, str) or not call_id:
                raise BadConversation(
                    f"messages[{i}].tool_call_id is missing: a tool result must name the call it answers "
                    "(the id of one of the previous assistant message's tool_calls)"
                )
            if call_id not in call_ids:
                raise BadConversation(
                    f"messages[{i}].tool_call_id is {call_id!r}, which names no earlier tool call: a tool "
                    "result answers the id of a call in an earlier assistant message's tool_calls"
                )


def _check_content(content: Any, template: ChatTemplate, where: str) -> None:
    if content is None or isinstance(content, str):
        return
    if not isinstance(content, (list, tuple)):
        raise BadConversation(
            f"{where} must be a string, null or a list of parts, not {type(content).__name__}"
        )
    for j, part in enumerate(content):
        if not isinstance(part, dict):
            raise BadConversation(f"{where}[{j}] must be a dict like {{'type': 'text', 'text': ...}}")
        kind = part.get("type")
        if is_image(part, template):
            continue
        if template.video_placeholder is not None and kind in ("video", "video_url"):
            continue
        if kind == "text" or (kind is None and "text" in part):
            if not isinstance(part.get("text"), str):
                raise BadConversation(f"{where}[{j}].text must be a string")
            continue
        if kind in ("video", "video_url"):
            raise BadConversation(
                f"{where}[{j}] is a video: {template.name}'s template has no video placeholder"
            )
        raise BadConversation(
            f"{where}[{j}] has type {kind!r}: the template renders text, image and video parts only"
        )


def _check_calls(calls: Any, where: str) -> None:
    if not isinstance(calls, (list, tuple)):
        raise BadConversation(f"{where} must be a list, not {type(calls).__name__}")
    for k, call in enumerate(calls):
        if not isinstance(call, dict):
            raise BadConversation(f"{where}[{k}] must be a dict with id and function")
        function = call.get("function")
        if not isinstance(function, dict):
            raise BadConversation(f"{where}[{k}].function must be a dict with name and arguments")
        name = function.get("name")
        if not isinstance(name, str) or not name:
            raise BadConversation(
                f"{where}[{k}].function.name is missing: every tool call needs the function's name"
            )
        arguments = function.get("arguments")
        if not isinstance(arguments, (str, dict)):
            shown = "missing" if arguments is None else f"a {type(arguments).__name__}"
            raise BadConversation(
                f"{where}[{k}].function.arguments is {shown}: it must be a JSON string or a dict"
            )
        call_id = call.get("id")
        if not isinstance(call_id, str) or not call_id:
            raise BadConversation(
                f"{where}[{k}].id is missing: the template writes each call's id into the prompt",
                option=("normalize_ids", True),
                effect="gives every call a functions.NAME:IDX id",
            )


def _with_prefix(call_id: Any, field: str) -> str:
    """``functions.`` before an id that lacks it, as some older revisions write ids."""
    if not isinstance(call_id, str):
        raise BadConversation(
            f"{field} is {'missing' if call_id is MISSING else repr(call_id)}: the template cannot prefix it"
        )
    return with_prefix(call_id)


def _calls(calls: Any, prefix_ids: bool = False) -> str:
    """The tool-call section: each call's id and arguments (a string verbatim, anything else as JSON)."""
    out = [SECTION_BEGIN]
    for k, call, function in each_call(calls):
        arguments = item(function, "arguments")
        if type(arguments) is not str:
            if arguments is MISSING:
                raise BadConversation(
                    f"tool_calls[{k}].function.arguments is missing: the template cannot render the call"
                )
            if isinstance(arguments, str):
                arguments = str.__str__(arguments)
            else:
                try:
                    arguments = json.dumps(arguments, ensure_ascii=False)
                except (TypeError, ValueError) as e:
                    raise BadConversation(
                        f"tool_calls[{k}].function.arguments cannot be written as JSON: {e}"
                    ) from None
        call_id = item(call, "id")
        shown = _with_prefix(call_id, f"tool_calls[{k}].id") if prefix_ids else show(call_id)
        out += (CALL_BEGIN, shown, ARG_BEGIN, arguments, CALL_END)
    out.append(SECTION_END)
    return "".join(out)


def _reasoning(message: dict[str, Any], template: ChatTemplate, strict: bool) -> str:
    """The text inside ``<think>``: the template's field(s); in strict mode null fields count as absent."""
    get = message.get
    if not strict:
        if template.reads_reasoning_field:
            return show(get("reasoning", get("reasoning_content", "")))
        return show(get("reasoning_content", ""))
    reasoning = get("reasoning")
    if template.reads_reasoning_field and reasoning is not None:
        return reasoning  # type: ignore[no-any-return]
    for field in ("reasoning_content", "thinking"):
        value = get(field)
        if value is not None:
            return show(value)
    return reasoning if reasoning is not None else ""


def _render(
    messages: list[Any],
    tools: Any,
    template: ChatTemplate,
    add_generation_prompt: bool,
    thinking: bool | None,
    preserve_thinking: bool | None,
    strict: bool,
    plain: bool,
) -> str:
    if template.legacy is not None:
        declaration = _tool_declaration(tools, template, plain) if tools else None
        return render_legacy(messages, declaration, template, add_generation_prompt, strict)

    out: list[str] = []
    if tools:
        out += (IM_SYSTEM, "tool_declare", IM_MIDDLE, _tool_declaration(tools, template, plain), IM_END)

    # keep_from: the first message whose reasoning is kept. Those after the last answer (an assistant turn
    # without tool calls; it gets an empty think block itself), from the last user message on (K2-Thinking's
    # first release), or all of them.
    mode = template.reasoning
    keep_from = len(messages)
    if mode is Reasoning.ALL or (template.reads_preserve_thinking and preserve_thinking):
        keep_from = 0
    elif mode is Reasoning.AFTER_LAST_ANSWER:
        keep_from = 0
        for idx in range(len(messages) - 1, -1, -1):
            m = messages[idx]
            if m.get("role") == "assistant" and not m.get("tool_calls"):
                keep_from = idx + 1
                break
    elif mode is Reasoning.FROM_LAST_USER:
        for idx in range(len(messages) - 1, -1, -1):
            if messages[idx].get("role") == "user":
                keep_from = idx
                break

    default_system = template.default_system
    if default_system is not None and (item(messages[0], "role") if messages else MISSING) != "system":
        placement = template.default_system_placement
        if (
            placement is SystemPlacement.BEFORE_MESSAGES
            or (placement is SystemPlacement.AT_FIRST_MESSAGE and messages)
            or (placement is SystemPlacement.AT_FIRST_OF_HISTORY and keep_from > 0)
        ):
            out += (IM_SYSTEM, "system", IM_MIDDLE, default_system, IM_END, template.default_system_suffix)

    empty_kept_think = (
        template.reads_thinking
        and thinking is False
        and not (template.reads_preserve_thinking and preserve_thinking is True)
    )

    for idx, m in enumerate(messages):
        try:
            role = m.get("role", MISSING)
            name = m.get("name")
            who = name if name else role
            if role == "user":
                out += (IM_USER, show(who), IM_MIDDLE)
            elif role == "assistant":
                out += (IM_ASSISTANT, show(who), IM_MIDDLE)
            else:
                out += (IM_SYSTEM, show(who), IM_MIDDLE)

            if role == "assistant":
                if mode is not Reasoning.NONE:
                    if idx < keep_from or empty_kept_think:
                        out += (template.think_open, template.think_close)
                    else:
                        out += (template.think_open, _reasoning(m, template, strict), template.think_close)
                out.append(render_content(m.get("content"), template))
                calls = m.get("tool_calls")
                if calls:
                    out.append(_calls(calls, template.prefix_call_ids))
            elif role == "tool":
                call_id = m.get("tool_call_id", MISSING)
                if template.prefix_result_ids:
                    call_id = _with_prefix(call_id, "tool_call_id")
                out += ("## Return of ", show(call_id), "\n")
                out.append(render_content(m.get("content"), template))
            else:
                out.append(render_content(m.get("content"), template))
        except BadConversation as e:
            raise ValueError(f"messages[{idx}]: {e}") from None
        out.append(IM_END)

    if add_generation_prompt:
        out.append(_GENERATION)
        think = template.generation_think
        if think:
            out.append(_EMPTY_THINK if template.reads_thinking and thinking is False else think)
    return "".join(out)


def _template(model: str | None, caller: str) -> ChatTemplate:
    """The model's template; no model is an error, since every default would be wrong for most users."""
    if model is None:
        raise TypeError(
            f"{caller}() needs model= (the model name): each model has its own prompt format, so name the "
            f"one you serve: {', '.join(MODELS)}, or its Hugging Face name such as moonshotai/Kimi-K2.5"
        )
    return resolve_model(model)


def render(
    messages: Iterable[Any],
    tools: Sequence[Mapping[str, Any]] | None = None,
    *,
    model: str | None = None,
    add_generation_prompt: bool = True,
    strict: bool = True,
    normalize_ids: bool = False,
    plain_template: bool = False,
    **template_kwargs: bool | None,
) -> str:
    """The prompt text a Kimi K2 model expects for ``messages`` (and ``tools``), ready for ``/completions``.

    ``model`` (required: each model has its own template, and a wrong one gives a wrong prompt without any
    error): ``kimi-k2-instruct``, ``kimi-k2-instruct-0905``, ``kimi-k2-thinking``, ``kimi-k2.5``,
    ``kimi-k2.6``, ``kimi-k2.7-code`` (or the Hugging Face repository name), with ``@COMMIT`` for an older
    template revision (``kimi-k2-instruct@22bf1395``). ``template_kwargs`` are the ones the templates
    read: ``thinking`` (K2.5, K2.6) and ``preserve_thinking`` (K2.6); a model whose template does not read
    one ignores it. ``normalize_ids`` rewrites the history's call ids to ``functions.NAME:IDX`` first
    (:func:`normalize_tool_call_ids` gives the mapping). ``plain_template`` renders what an engine running
    the bare template produces: tools as unsorted JSON, never TypeScript.
    """
    template = _template(model, "render")
    unknown = [k for k in template_kwargs if k not in _TEMPLATE_KWARGS]
    if unknown:
        raise UnknownTemplateKwargs(unknown, _TEMPLATE_KWARGS)
    thinking = template_kwargs.get("thinking")
    preserve_thinking = template_kwargs.get("preserve_thinking")
    for key, value in (
        ("add_generation_prompt", add_generation_prompt),
        ("strict", strict),
        ("normalize_ids", normalize_ids),
        ("plain_template", plain_template),
        ("thinking", thinking if thinking is not None else False),
        ("preserve_thinking", preserve_thinking if preserve_thinking is not None else False),
    ):
        if not isinstance(value, bool):
            raise TypeError(f"{key} must be True or False, not {value!r}")

    message_list = _as_message_dicts(messages)
    tools = _as_tool_dicts(tools)
    if tools is not None and strict:
        tool_functions(tools, sequence=True)  # the tools parse() accepts, in the same words
    if normalize_ids:  # first, so that calls without ids get one
        message_list = normalize_tool_call_ids(message_list, strict=strict).messages
    if strict:
        _check_messages(message_list, template)  # a BadConversation: a ValueError with its parts
    try:
        return _render(
            message_list,
            tools,
            template,
            add_generation_prompt,
            thinking,
            preserve_thinking,
            strict,
            plain_template,
        )
    except BadConversation as e:
        raise ValueError(str(e)) from None


# --- token ids -----------------------------------------------------------------------------------------


def encode_prompt(text: str, tokenizer: Any = None) -> list[int]:
    """Token ids of a rendered prompt, special tokens by id, as the official tokenizer encodes it.

    ``tokenizer``: None for the Kimi vocabulary that ships with the package, a
    :class:`~kimi_toolparse.KimiVocabulary`, the path of a Kimi model directory or its ``tiktoken.model``
    (these need the ``tiktoken`` extra), or a ``transformers`` tokenizer (encoded as
    ``apply_chat_template(tokenize=True)`` does: without adding special tokens).
    """
    from ..vocab import KimiVocabulary, load_vocabulary

    if not isinstance(text, str):
        raise TypeError(f"encode_prompt() takes the prompt as str, not {type(text).__name__}")
    if tokenizer is None or isinstance(tokenizer, (str, os.PathLike)):
        tokenizer = load_vocabulary(tokenizer)
    if isinstance(tokenizer, KimiVocabulary):
        return tokenizer.encode(text, allowed_special="all")
    if callable(getattr(tokenizer, "encode_ordinary", None)):  # a tiktoken.Encoding
        return list(tokenizer.encode(text, allowed_special="all"))
    if callable(tokenizer) and callable(getattr(tokenizer, "encode", None)):  # a transformers tokenizer
        ids = tokenizer(text, add_special_tokens=False)["input_ids"]
        return [int(i) for i in ids]
    raise TypeError(
        "tokenizer must be None (the packaged vocabulary), a KimiVocabulary, a path to a Kimi model "
        f"directory or its tiktoken.model, or a transformers tokenizer, not {type(tokenizer).__name__}"
    )


def render_ids(
    messages: Iterable[Any],
    tools: Sequence[Mapping[str, Any]] | None = None,
    *,
    tokenizer: Any = None,
    model: str | None = None,
    add_generation_prompt: bool = True,
    strict: bool = True,
    normalize_ids: bool = False,
    plain_template: bool = False,
    **template_kwargs: bool | None,
) -> list[int]:
    """:func:`render`, then :func:`encode_prompt`: the prompt's token ids for a raw ``/completions`` call
    (``tokenizer`` None: the Kimi vocabulary that ships with the package)."""
    _template(model, "render_ids")
    text = render(
        messages,
        tools,
        model=model,
        add_generation_prompt=add_generation_prompt,
        strict=strict,
        normalize_ids=normalize_ids,
        plain_template=plain_template,
        **template_kwargs,
    )
    return encode_prompt(text, tokenizer)
