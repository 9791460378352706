"""Placing the special ids of one decode step in its text (token-id mode)."""

from __future__ import annotations

from kimi_toolparse.parsing.alignment import align_specials
from kimi_toolparse.tokens import SPECIAL_IDS

CE, SE, EOS = (
    SPECIAL_IDS["<|tool_call_end|>"],
    SPECIAL_IDS["<|tool_calls_section_end|>"],
    SPECIAL_IDS["[EOS]"],
)
IM_END = SPECIAL_IDS["<|im_end|>"]
ORD = 1000  # any ordinary id


def test_no_specials() -> None:
    assert align_specials("plain", [ORD, ORD]) == []


def test_single_special() -> None:
    assert align_specials("<|tool_call_end|>", [CE]) == [(CE, 0, 17)]


def test_data_occurrence_before_the_real_run_is_skipped() -> None:
    text = 'x <|tool_call_end|> y"}<|tool_call_end|><|tool_calls_section_end|>'
    real = text.index('"}') + 2
    assert align_specials(text, [ORD, ORD, ORD, ORD, CE, SE]) == [(CE, real, 17), (SE, real + 17, 26)]


def test_adjacent_ids_must_be_adjacent_text() -> None:
    text = "<|tool_call_end|>a<|tool_calls_section_end|>"
    # CE then SE with no ordinary id between: the text between them must be empty, so SE's text is not
    # where the ids say; it is taken as dropped by the detokenizer rather than moved past ordinary text.
    assert align_specials(text, [CE, SE, ORD]) == [(CE, 0, 17), (SE, 17, 0)]


def test_skipped_special_text_after_ordinary_text_goes_at_the_end() -> None:
    assert align_specials("done", [ORD, ORD, IM_END]) == [(IM_END, 4, 0)]
    assert align_specials("done", [ORD, EOS, IM_END]) == [(EOS, 4, 0), (IM_END, 4, 0)]


def test_skipped_special_before_a_present_one() -> None:
    text = "ok<|tool_call_end|>"
    assert align_specials(text, [ORD, EOS, CE]) == [(EOS, 2, 0), (CE, 2, 17)]
