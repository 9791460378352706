"""The special tokens of the Kimi K2 family: their text, their ids, and what each means to the parser.

Every model of the family (K2-Instruct, 0905, K2-Thinking, K2.5, K2.6, K2.7-Code) shares one vocabulary:
163,584 ordinary BPE ranks followed by 256 special ids, 163584 to 163839.
"""

from __future__ import annotations

import enum
from typing import Final

__all__ = [
    "ARG_BEGIN",
    "CALL_BEGIN",
    "CALL_END",
    "DATA_IN_ARGUMENT_VALUE",
    "FIRST_SPECIAL_ID",
    "IM_ASSISTANT",
    "IM_END",
    "IM_MIDDLE",
    "IM_SYSTEM",
    "IM_USER",
    "KIND_BY_ID",
    "KIND_BY_TEXT",
    "LAST_SPECIAL_ID",
    "MAX_MARKER_LEN",
    "SECTION_BEGIN",
    "SECTION_END",
    "SINGULAR_SECTION_BEGIN",
    "SINGULAR_SECTION_END",
    "SKIPPED_BY_DETOKENIZERS",
    "SPECIAL_IDS",
    "SPECIAL_TOKENS",
    "TEXT_ONLY_MARKERS",
    "THINK_BEGIN",
    "THINK_END",
    "Kind",
]


class Kind(enum.Enum):
    """What a marker means (the terminals of the output grammar, docs/format.md#markers)."""

    __hash__ = object.__hash__

    SECTION_BEGIN = "section_begin"
    SECTION_END = "section_end"
    CALL_BEGIN = "call_begin"
    ARG_BEGIN = "arg_begin"
    CALL_END = "call_end"
    THINK_BEGIN = "think_begin"
    THINK_END = "think_end"
    END_OF_TURN = "end_of_turn"
    OTHER_SPECIAL = "other_special"


FIRST_SPECIAL_ID: Final = 163584
LAST_SPECIAL_ID: Final = 163839

_NAMED: Final[dict[int, str]] = {
    163584: "[BOS]",
    163585: "[EOS]",
    163586: "<|im_end|>",
    163587: "<|im_user|>",
    163588: "<|im_assistant|>",
    163590: "<|start_header_id|>",
    163591: "<|end_header_id|>",
    163593: "[EOT]",
    163594: "<|im_system|>",
    163595: "<|tool_calls_section_begin|>",
    163596: "<|tool_calls_section_end|>",
    163597: "<|tool_call_begin|>",
    163598: "<|tool_call_argument_begin|>",
    163599: "<|tool_call_end|>",
    163601: "<|im_middle|>",
    163602: "<|media_begin|>",
    163603: "<|media_content|>",
    163604: "<|media_end|>",
    163605: "<|media_pad|>",
    163606: "<think>",
    163607: "</think>",
    163838: "[UNK]",
    163839: "[PAD]",
}

#: Text of every special id; unnamed ids are ``<|reserved_token_{id}|>``.
SPECIAL_TOKENS: Final[dict[int, str]] = {
    i: _NAMED.get(i, f"<|reserved_token_{i}|>") for i in range(FIRST_SPECIAL_ID, LAST_SPECIAL_ID + 1)
}
SPECIAL_IDS: Final[dict[str, int]] = {text: i for i, text in SPECIAL_TOKENS.items()}

SECTION_BEGIN: Final = "<|tool_calls_section_begin|>"
SECTION_END: Final = "<|tool_calls_section_end|>"
CALL_BEGIN: Final = "<|tool_call_begin|>"
ARG_BEGIN: Final = "<|tool_call_argument_begin|>"
CALL_END: Final = "<|tool_call_end|>"
THINK_BEGIN: Final = "<think>"
THINK_END: Final = "</think>"
IM_END: Final = "<|im_end|>"
IM_USER: Final = "<|im_user|>"
IM_ASSISTANT: Final = "<|im_assistant|>"
IM_SYSTEM: Final = "<|im_system|>"
IM_MIDDLE: Final = "<|im_middle|>"

#: Singular spellings the models sometimes write; they have no id, so they are recognised by text always.
SINGULAR_SECTION_BEGIN: Final = "<|tool_call_section_begin|>"
SINGULAR_SECTION_END: Final = "<|tool_call_section_end|>"

_KIND_BY_NAME: Final[dict[str, Kind]] = {
    SECTION_BEGIN: Kind.SECTION_BEGIN,
    SECTION_END: Kind.SECTION_END,
    CALL_BEGIN: Kind.CALL_BEGIN,
    ARG_BEGIN: Kind.ARG_BEGIN,
    CALL_END: Kind.CALL_END,
    THINK_BEGIN: Kind.THINK_BEGIN,
    THINK_END: Kind.THINK_END,
    IM_END: Kind.END_OF_TURN,
    "[EOS]": Kind.END_OF_TURN,
    "[EOT]": Kind.END_OF_TURN,
}

#: Marker kind of every special id.
KIND_BY_ID: Final[dict[int, Kind]] = {
    i: _KIND_BY_NAME.get(text, Kind.OTHER_SPECIAL) for i, text in SPECIAL_TOKENS.items()
}

#: Marker kind of every text that is a marker in text mode (all special tokens and the singular spellings).
KIND_BY_TEXT: Final[dict[str, Kind]] = {text: KIND_BY_ID[i] for i, text in SPECIAL_TOKENS.items()}
KIND_BY_TEXT[SINGULAR_SECTION_BEGIN] = Kind.SECTION_BEGIN
KIND_BY_TEXT[SINGULAR_SECTION_END] = Kind.SECTION_END

#: Markers recognised by their text even in token-id mode, because no id exists for them.
TEXT_ONLY_MARKERS: Final[frozenset[str]] = frozenset({SINGULAR_SECTION_BEGIN, SINGULAR_SECTION_END})

#: Spellings that are data inside an argument value in text mode (docs/format.md#rule-7): a command may
#: hold them.
DATA_IN_ARGUMENT_VALUE: Final[frozenset[str]] = frozenset(
    {THINK_BEGIN, THINK_END, "[BOS]", "[EOS]", "[EOT]", "[UNK]", "[PAD]"}
)

#: Special tokens a detokenizer drops with ``skip_special_tokens=True``; the tool-call and think tokens stay.
SKIPPED_BY_DETOKENIZERS: Final[frozenset[int]] = frozenset(
    i for i, kind in KIND_BY_ID.items() if kind in (Kind.END_OF_TURN, Kind.OTHER_SPECIAL)
)

MAX_MARKER_LEN: Final = max(len(text) for text in KIND_BY_TEXT)
