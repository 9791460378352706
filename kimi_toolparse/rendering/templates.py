"""What differs between the chat templates of the Kimi K2 family, as data.

Every model shares one turn format (``<|im_user|>`` / ``<|im_assistant|>`` / ``<|im_system|>``, the role
name, ``<|im_middle|>``, the body, ``<|im_end|>``) and one tool-call format. What differs is listed here, one
:class:`ChatTemplate` per model (its newest official revision, and older revisions under ``model@revision``),
and the renderer reads nothing else.
"""

from __future__ import annotations

import dataclasses
import enum
from typing import Final

__all__ = ["MODELS", "REVISIONS", "ChatTemplate", "Reasoning", "SystemPlacement", "resolve_model"]

DEFAULT_SYSTEM_PROMPT: Final = "You are Kimi, an AI assistant created by Moonshot AI."

#: The image placeholders; K2.6 renamed ``<|media_start|>`` (which is no token) to ``<|media_begin|>``.
_IMAGE_START: Final = "<|media_start|>image<|media_content|><|media_pad|><|media_end|>\n"
_IMAGE_BEGIN: Final = "<|media_begin|>image<|media_content|><|media_pad|><|media_end|>\n"
_VIDEO: Final = "<|kimi_k25_video_placeholder|>\n"


class Reasoning(enum.Enum):
    """Where an assistant turn's think block goes and what it keeps."""

    #: No think block at all (K2-Instruct, 0905).
    NONE = "none"
    #: Every assistant turn opens with one; only turns after the last assistant turn without tool calls keep
    #: their reasoning, earlier ones (that one included) get an empty block (K2-Thinking, K2.5, K2.6).
    AFTER_LAST_ANSWER = "after_last_answer"
    #: As above, but the kept turns are those from the last user message on (K2-Thinking's first release).
    FROM_LAST_USER = "from_last_user"
    #: Every assistant turn keeps its reasoning (K2.7-Code).
    ALL = "all"


class SystemPlacement(enum.Enum):
    """Where the default system prompt goes when the first message is not a system message."""

    #: Before any message, even for an empty conversation (K2-Thinking, K2.5).
    BEFORE_MESSAGES = "before_messages"
    #: With the first message (none for an empty conversation): K2-Instruct, 0905.
    AT_FIRST_MESSAGE = "at_first_message"
    #: With the first message whose reasoning is dropped, so not at all when every turn keeps its reasoning
    #: (K2-Thinking's November 4 and 6 revisions).
    AT_FIRST_OF_HISTORY = "at_first_of_history"


@dataclasses.dataclass(frozen=True)
class LegacyFormat:
    """How K2-Instruct's first templates (July to October 2025) differ from today's; each fixed a bug."""

    #: The tool declaration: JSON with ``", "``/``": "`` separators (``spaced``) or compact, after a header.
    spaced_tools_json: bool
    tools_header: str
    #: Role names: fixed headers for system, user, assistant and tool only (other roles get none), or the
    #: message's ``name`` / role as today. One revision leaves a ``\n`` after the header of other roles.
    named_roles: bool
    newline_after_other_roles: bool
    #: The first release renders no tool calls, no ``## Return of`` line, and fails on null content.
    renders_tool_calls: bool
    #: Call ids: ``functions.NAME:INDEX`` counted within the message (``position``), or the call's ``id``.
    call_ids: str
    #: Arguments: printed as they are (``raw``), always as JSON (``json``), or a string as it is and anything
    #: else as JSON (``string_or_json``, today's).
    arguments: str
    #: What follows ``## Return of ID``: ``concat`` (string concatenation, which fails on non-strings),
    #: ``escaped`` (a literal backslash-n), ``indented`` (a newline and four spaces), ``newline``.
    result_separator: str


@dataclasses.dataclass(frozen=True)
class ChatTemplate:
    """One model's template, described by the few ways the family's templates differ."""

    #: The name :func:`kimi_toolparse.render` takes (``model@revision`` for an older revision).
    name: str
    #: Hugging Face repository and the revision (commit, or release) whose ``chat_template.jinja`` this is.
    repo: str
    revision: str
    #: Injected when the first message is not a system message (None: nothing is injected).
    default_system: str | None
    default_system_placement: SystemPlacement
    #: Text after the injected system turn: K2-Instruct and 0905 leave a ``\n`` there.
    default_system_suffix: str
    reasoning: Reasoning
    #: Reads ``reasoning`` before ``reasoning_content`` (K2.6, K2.7).
    reads_reasoning_field: bool
    #: Reads the ``thinking`` kwarg (``thinking=False``: empty think blocks, ``<think></think>`` prompt).
    reads_thinking: bool
    #: Reads the ``preserve_thinking`` kwarg (keep every turn's reasoning).
    reads_preserve_thinking: bool
    #: Appended after ``<|im_assistant|>assistant<|im_middle|>`` in the generation prompt.
    generation_think: str
    #: Declares tools in TypeScript style (``tools_ts_str``) when the tokenizer can build it.
    typescript_tools: bool
    #: Images: K2-Instruct, 0905 and K2-Thinking test ``type == 'image'`` or an ``image``/``image_url`` key;
    #: K2.5+ test ``type`` in (``image``, ``image_url``) and know videos.
    image_by_key: bool
    image_placeholder: str
    video_placeholder: str | None
    #: The think block's delimiters (plain text ``◁think▷`` in K2-Thinking's first release).
    think_open: str = "<think>"
    think_close: str = "</think>"
    #: Older revisions put ``functions.`` before ids that lack it: a tool result's ``tool_call_id``
    #: (K2-Instruct cc613312, 0905 975af053 and 46ec1674), and each call's id (0905 46ec1674).
    prefix_result_ids: bool = False
    prefix_call_ids: bool = False
    #: K2-Instruct's first templates, which the legacy renderer handles.
    legacy: LegacyFormat | None = None

    @property
    def template_kwargs(self) -> tuple[str, ...]:
        """The kwargs this template reads besides ``add_generation_prompt``."""
        names = []
        if self.reads_thinking:
            names.append("thinking")
        if self.reads_preserve_thinking:
            names.append("preserve_thinking")
        return tuple(names)


_K2_INSTRUCT = ChatTemplate(
    name="kimi-k2-instruct",
    repo="moonshotai/Kimi-K2-Instruct",
    revision="0102674b",
    default_system=DEFAULT_SYSTEM_PROMPT,
    default_system_placement=SystemPlacement.AT_FIRST_MESSAGE,
    default_system_suffix="\n",
    reasoning=Reasoning.NONE,
    reads_reasoning_field=False,
    reads_thinking=False,
    reads_preserve_thinking=False,
    generation_think="",
    typescript_tools=False,
    image_by_key=True,
    image_placeholder=_IMAGE_START,
    video_placeholder=None,
)
_K2_INSTRUCT_0905 = dataclasses.replace(
    _K2_INSTRUCT, name="kimi-k2-instruct-0905", repo="moonshotai/Kimi-K2-Instruct-0905", revision="94a4053e"
)
_K2_THINKING = dataclasses.replace(
    _K2_INSTRUCT,
    name="kimi-k2-thinking",
    repo="moonshotai/Kimi-K2-Thinking",
    revision="61268193",
    default_system_placement=SystemPlacement.BEFORE_MESSAGES,
    default_system_suffix="",
    reasoning=Reasoning.AFTER_LAST_ANSWER,
)
_K2_5 = ChatTemplate(
    name="kimi-k2.5",
    repo="moonshotai/Kimi-K2.5",
    revision="2026-01 release",
    default_system=DEFAULT_SYSTEM_PROMPT,
    default_system_placement=SystemPlacement.BEFORE_MESSAGES,
    default_system_suffix="",
    reasoning=Reasoning.AFTER_LAST_ANSWER,
    reads_reasoning_field=False,
    reads_thinking=True,
    reads_preserve_thinking=False,
    generation_think="<think>",
    typescript_tools=True,
    image_by_key=False,
    image_placeholder=_IMAGE_START,
    video_placeholder=_VIDEO,
)
_K2_6 = dataclasses.replace(
    _K2_5,
    name="kimi-k2.6",
    repo="moonshotai/Kimi-K2.6",
    revision="2026-05 release",
    default_system=None,
    reads_reasoning_field=True,
    reads_preserve_thinking=True,
    image_placeholder=_IMAGE_BEGIN,
)
_K2_7_CODE = dataclasses.replace(
    _K2_6,
    name="kimi-k2.7-code",
    repo="moonshotai/Kimi-K2.7-Code",
    revision="2026-07 release",
    reasoning=Reasoning.ALL,
    reads_thinking=False,
    reads_preserve_thinking=False,
)

#: The newest official template of each model.
MODELS: Final[dict[str, ChatTemplate]] = {
    t.name: t for t in (_K2_INSTRUCT, _K2_INSTRUCT_0905, _K2_THINKING, _K2_5, _K2_6, _K2_7_CODE)
}


def _older(base: ChatTemplate, revision: str, **changes: object) -> ChatTemplate:
    return dataclasses.replace(base, name=f"{base.name}@{revision}", revision=revision, **changes)  # type: ignore[arg-type]


_EARLY_FORMAT = LegacyFormat(
    spaced_tools_json=True,
    tools_header="",
    named_roles=False,
    newline_after_other_roles=False,
    renders_tool_calls=True,
    call_ids="given",
    arguments="string_or_json",
    result_separator="indented",
)
_HELPFUL_ASSISTANT: Final = "You are a helpful assistant"


def _legacy(
    base: ChatTemplate, revision: str, system: str, suffix: str, image_newline: bool = True, **changes: object
) -> ChatTemplate:
    fmt = dataclasses.replace(_EARLY_FORMAT, **changes)  # type: ignore[arg-type]
    image = _IMAGE_START if image_newline else _IMAGE_START.rstrip("\n")
    return _older(
        base,
        revision,
        default_system=system,
        default_system_suffix=suffix,
        legacy=fmt,
        image_placeholder=image,
    )


_LEGACY: Final = (
    # 2025-07-11, the first release: no tool calls, no "## Return of", a fixed header per known role
    _legacy(
        _K2_INSTRUCT,
        "22bf1395",
        _HELPFUL_ASSISTANT,
        "",
        renders_tool_calls=False,
        image_newline=False,
    ),
    # 2025-07-15: calls numbered by position, arguments printed raw, the result glued by concatenation
    _legacy(
        _K2_INSTRUCT,
        "1221eb6b",
        _HELPFUL_ASSISTANT,
        "",
        call_ids="position",
        arguments="raw",
        result_separator="concat",
        image_newline=False,
    ),
    # 2025-07-15: arguments always as JSON (a string argument gets quoted), a literal "\n" after the id
    _legacy(
        _K2_INSTRUCT,
        "37a95d86",
        _HELPFUL_ASSISTANT,
        "",
        call_ids="position",
        arguments="json",
        result_separator="escaped",
    ),
    # 2025-07-18: the call's own id; the result indented by four spaces
    _legacy(_K2_INSTRUCT, "6a1f5e6b", DEFAULT_SYSTEM_PROMPT, ""),
    # 2025-08-11 (0905's first, eb1e816d, too): names as role names, a "# Tools" header, a stray newline
    _legacy(
        _K2_INSTRUCT,
        "b215bf74",
        DEFAULT_SYSTEM_PROMPT,
        "",
        named_roles=True,
        newline_after_other_roles=True,
        tools_header="\n  # Tools\n  ",
    ),
    _legacy(
        _K2_INSTRUCT_0905,
        "eb1e816d",
        DEFAULT_SYSTEM_PROMPT,
        "",
        named_roles=True,
        newline_after_other_roles=True,
        tools_header="\n  # Tools\n  ",
    ),
    # 2025-08-11: without the stray newline
    _legacy(
        _K2_INSTRUCT, "c52f808f", DEFAULT_SYSTEM_PROMPT, "", named_roles=True, tools_header="\n  # Tools\n  "
    ),
    # 2025-10-10 (0905's 09d5f937 too): compact JSON, "\n" after the default system turn, no indent
    _legacy(
        _K2_INSTRUCT,
        "874f2bbf",
        DEFAULT_SYSTEM_PROMPT,
        "\n",
        named_roles=True,
        spaced_tools_json=False,
        result_separator="newline",
    ),
    _legacy(
        _K2_INSTRUCT_0905,
        "09d5f937",
        DEFAULT_SYSTEM_PROMPT,
        "\n",
        named_roles=True,
        spaced_tools_json=False,
        result_separator="newline",
    ),
)

#: Older revisions, for users pinned to an old snapshot: ``model@revision`` (the commit's first 8 digits).
REVISIONS: Final[dict[str, ChatTemplate]] = {
    t.name: t
    for t in (
        # 2025-10-22, before 0102674b: results' ids get "functions." when they lack it
        _older(_K2_INSTRUCT, "cc613312", prefix_result_ids=True),
        # 2025-10-22, 0905: first both calls' and results' ids, then only results'
        _older(_K2_INSTRUCT_0905, "46ec1674", prefix_result_ids=True, prefix_call_ids=True),
        _older(_K2_INSTRUCT_0905, "975af053", prefix_result_ids=True),
        # 2025-11-04: plain-text think markers, reasoning kept from the last user message on
        _older(
            _K2_THINKING,
            "652f5f9e",
            reasoning=Reasoning.FROM_LAST_USER,
            default_system_placement=SystemPlacement.AT_FIRST_OF_HISTORY,
            think_open="◁think▷",
            think_close="◁/think▷",
        ),
        # 2025-11-06: today's split, but the default system prompt still rides on the history
        _older(_K2_THINKING, "a060a3e9", default_system_placement=SystemPlacement.AT_FIRST_OF_HISTORY),
        *_LEGACY,
    )
}

#: Other spellings users write: the Hugging Face repository names, with or without the organisation.
_ALIASES: Final[dict[str, str]] = {}
for _t in MODELS.values():
    _repo = _t.repo.lower()
    _ALIASES[_repo] = _t.name
    _ALIASES[_repo.split("/", 1)[1]] = _t.name


def resolve_model(model: object) -> ChatTemplate:
    """The template of a model name: ``kimi-k2.5``, a repository name like ``moonshotai/Kimi-K2.5``, and
    ``@REVISION`` (a commit's first digits) for an older revision."""
    if isinstance(model, ChatTemplate):
        return model
    if not isinstance(model, str):
        raise TypeError(f"model must be a model name (str), not {type(model).__name__}")
    key = model.strip().lower()
    name, _, revision = key.partition("@")
    name = _ALIASES.get(name, name)
    newest = MODELS.get(name)
    if newest is None:
        raise ValueError(f"unknown model {model!r}: use one of {', '.join(MODELS)}")
    if not revision or newest.revision.startswith(revision):
        return newest
    for older in REVISIONS.values():
        if older.name.startswith(f"{name}@") and older.revision.startswith(revision):
            return older
    known = [newest.revision] + [t.revision for t in REVISIONS.values() if t.name.startswith(f"{name}@")]
    raise ValueError(f"unknown revision {revision!r} of {name}: use one of {', '.join(known)}")
