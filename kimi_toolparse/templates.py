"""What differs between the chat templates of the Kimi K2 family, as data.

Every model shares one turn format (``<|im_user|>`` / ``<|im_assistant|>`` / ``<|im_system|>``, the role
name, ``<|im_middle|>``, the body, ``<|im_end|>``) and one tool-call format. What differs is listed here, one
:class:`ChatTemplate` per model (newest official revision), and the renderer reads nothing else.
"""

from __future__ import annotations

import dataclasses
import enum
from typing import Final

__all__ = ["MODELS", "ChatTemplate", "Reasoning", "resolve_model"]

DEFAULT_SYSTEM_PROMPT: Final = "You are Kimi, an AI assistant created by Moonshot AI."

#: The image placeholders; K2.6 renamed ``<|media_start|>`` (which is no token) to ``<|media_begin|>``.
_IMAGE_START: Final = "<|media_start|>image<|media_content|><|media_pad|><|media_end|>\n"
_IMAGE_BEGIN: Final = "<|media_begin|>image<|media_content|><|media_pad|><|media_end|>\n"
_VIDEO: Final = "<|kimi_k25_video_placeholder|>\n"


class Reasoning(enum.Enum):
    """Where an assistant turn's ``<think>`` block goes and what it keeps."""

    #: No think block at all (K2-Instruct, 0905).
    NONE = "none"
    #: Every assistant turn opens with one; only turns after the last assistant turn without tool calls keep
    #: their reasoning, earlier ones get ``<think></think>`` (K2-Thinking, K2.5, K2.6).
    AFTER_LAST_ANSWER = "after_last_answer"
    #: Every assistant turn keeps its reasoning (K2.7-Code).
    ALL = "all"


@dataclasses.dataclass(frozen=True)
class ChatTemplate:
    """One model's template, described by the few ways the family's templates differ."""

    #: The name :func:`kimi_toolparse.render` takes.
    name: str
    #: Hugging Face repository and the revision (commit, or release) whose ``chat_template.jinja`` this is.
    repo: str
    revision: str
    #: Injected when the first message is not a system message (None: nothing is injected).
    default_system: str | None
    #: K2-Instruct and 0905 inject it inside the message loop and leave a ``\n`` after it (and not at all for
    #: an empty conversation); the later templates inject it before the loop.
    default_system_in_loop: bool
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
    default_system_in_loop=True,
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

MODELS: Final[dict[str, ChatTemplate]] = {
    t.name: t
    for t in (
        _K2_INSTRUCT,
        dataclasses.replace(
            _K2_INSTRUCT,
            name="kimi-k2-instruct-0905",
            repo="moonshotai/Kimi-K2-Instruct-0905",
            revision="94a4053e",
        ),
        dataclasses.replace(
            _K2_INSTRUCT,
            name="kimi-k2-thinking",
            repo="moonshotai/Kimi-K2-Thinking",
            revision="61268193",
            default_system_in_loop=False,
            reasoning=Reasoning.AFTER_LAST_ANSWER,
        ),
        ChatTemplate(
            name="kimi-k2.5",
            repo="moonshotai/Kimi-K2.5",
            revision="2026-01 release",
            default_system=DEFAULT_SYSTEM_PROMPT,
            default_system_in_loop=False,
            reasoning=Reasoning.AFTER_LAST_ANSWER,
            reads_reasoning_field=False,
            reads_thinking=True,
            reads_preserve_thinking=False,
            generation_think="<think>",
            typescript_tools=True,
            image_by_key=False,
            image_placeholder=_IMAGE_START,
            video_placeholder=_VIDEO,
        ),
        ChatTemplate(
            name="kimi-k2.6",
            repo="moonshotai/Kimi-K2.6",
            revision="2026-05 release",
            default_system=None,
            default_system_in_loop=False,
            reasoning=Reasoning.AFTER_LAST_ANSWER,
            reads_reasoning_field=True,
            reads_thinking=True,
            reads_preserve_thinking=True,
            generation_think="<think>",
            typescript_tools=True,
            image_by_key=False,
            image_placeholder=_IMAGE_BEGIN,
            video_placeholder=_VIDEO,
        ),
        ChatTemplate(
            name="kimi-k2.7-code",
            repo="moonshotai/Kimi-K2.7-Code",
            revision="2026-07 release",
            default_system=None,
            default_system_in_loop=False,
            reasoning=Reasoning.ALL,
            reads_reasoning_field=True,
            reads_thinking=False,
            reads_preserve_thinking=False,
            generation_think="<think>",
            typescript_tools=True,
            image_by_key=False,
            image_placeholder=_IMAGE_BEGIN,
            video_placeholder=_VIDEO,
        ),
    )
}

#: Other spellings users write: the Hugging Face repository names, with or without the organisation.
_ALIASES: Final[dict[str, str]] = {}
for _t in MODELS.values():
    _repo = _t.repo.lower()
    _ALIASES[_repo] = _t.name
    _ALIASES[_repo.split("/", 1)[1]] = _t.name


def resolve_model(model: object) -> ChatTemplate:
    """The template of a model name (``kimi-k2.5``, or a repository name like ``moonshotai/Kimi-K2.5``)."""
    if isinstance(model, ChatTemplate):
        return model
    if not isinstance(model, str):
        raise TypeError(f"model must be a model name (str), not {type(model).__name__}")
    key = model.strip().lower()
    found = MODELS.get(key) or MODELS.get(_ALIASES.get(key, ""))
    if found is None:
        raise ValueError(f"unknown model {model!r}: use one of {', '.join(MODELS)}")
    return found
