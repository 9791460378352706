"""Where a rendered prompt leaves the model: whether its output starts inside reasoning.

K2.5 and later open the assistant turn with ``<think>`` when thinking is on, so the output starts inside
reasoning and the parser needs ``thinking=True``; K2-Instruct and K2-Thinking (whose output opens its own
``<think>``) and thinking-off prompts need ``thinking=False``. Reading the prompt decides it, instead of
guessing from the model's name.
"""

from __future__ import annotations

import operator
from collections.abc import Iterable, Sequence
from typing import Any

from ..tokens import SPECIAL_IDS, THINK_BEGIN, THINK_END

__all__ = ["ends_in_reasoning"]

_ASSISTANT = "<|im_assistant|>"
_ASSISTANT_ID = SPECIAL_IDS[_ASSISTANT]
_THINK_BEGIN_ID = SPECIAL_IDS[THINK_BEGIN]
_THINK_END_ID = SPECIAL_IDS[THINK_END]


def ends_in_reasoning(prompt: str | Iterable[int]) -> bool:
    """True when the prompt's last assistant turn has an open ``<think>``: pass it as ``thinking=``.

    ``prompt`` is the prompt text (``render()``) or its token ids (``render_ids()``). Only the turn after
    the last ``<|im_assistant|>`` counts, so a ``<think>`` quoted in earlier messages does not.
    """
    if isinstance(prompt, str):
        start = prompt.rfind(_ASSISTANT) + 1
        return prompt.rfind(THINK_BEGIN, start) > prompt.rfind(THINK_END, start)
    if isinstance(prompt, (bytes, bytearray)) or not isinstance(prompt, Iterable):
        raise TypeError(
            f"ends_in_reasoning() takes the prompt text (str) or its token ids, not {type(prompt).__name__}"
        )
    ids: Sequence[Any] = prompt if isinstance(prompt, Sequence) else list(prompt)
    # From the end: the first think or assistant token met decides (a few tokens for real prompts).
    for t in reversed(ids):
        try:
            token = operator.index(t)
        except TypeError:
            raise TypeError(f"token ids must be ints, found {type(t).__name__}: {t!r}") from None
        if token == _THINK_BEGIN_ID:
            return True
        if token in (_THINK_END_ID, _ASSISTANT_ID):
            return False
    return False
