"""Where the special tokens of one decode step sit in that step's text (token-id mode, docs/format.md#rule-4).

A server hands over the text of a step and the ids behind it. Special ids decode to known text, ordinary
ids to text we cannot know without the vocabulary, and ordinary text may spell a marker (inside a JSON
string, say). So each special id is placed at an occurrence of its text such that ids with no ordinary id
between them sit side by side; when a choice breaks that, the search backs up and tries the next
occurrence. A special whose text is absent (the detokenizer skipped it) takes no room.

With one id per step, the usual case, there is nothing to search. For exact results with many ids per
step, give the parser the tokenizer and use ``feed_ids()``.
"""

from __future__ import annotations

from collections.abc import Sequence

from ..tokens import FIRST_SPECIAL_ID, LAST_SPECIAL_ID, SPECIAL_TOKENS

__all__ = ["align_specials"]

#: Back-up steps allowed per special id before settling for the first fit.
_BUDGET_PER_SPECIAL = 8


def align_specials(text: str, token_ids: Sequence[int]) -> list[tuple[int, int, int]]:
    """``(token id, position in text, width)`` for each special id, in order."""
    specials: list[tuple[int, str, int]] = []  # (id, literal, ordinary ids before it)
    gap = 0
    for t in token_ids:
        if FIRST_SPECIAL_ID <= t <= LAST_SPECIAL_ID:
            specials.append((t, SPECIAL_TOKENS[t], gap))
            gap = 0
        else:
            gap += 1
    if not specials:
        return []
    placed = _search(text, specials, gap, _BUDGET_PER_SPECIAL * len(specials))
    if placed is None:
        placed = _search(text, specials, gap, 0)
    assert placed is not None
    return [(t, pos, width) for (t, _, _), (pos, width) in zip(specials, placed, strict=True)]


def _search(
    text: str, specials: list[tuple[int, str, int]], trailing_gap: int, budget: int
) -> list[tuple[int, int]] | None:
    n = len(specials)
    placed: list[tuple[int, int]] = [(0, 0)] * n
    cursors = [0] * (n + 1)
    i, start = 0, 0
    while i < n:
        _, literal, gap = specials[i]
        cursor = cursors[i]
        if gap == 0:
            pos = cursor if start == cursor and text.startswith(literal, cursor) else -1
        else:
            pos = text.find(literal, start)
        if pos >= 0:
            placed[i] = (pos, len(literal))
            cursors[i + 1] = pos + len(literal)
            i += 1
            start = cursors[i]
            continue
        if gap == 0 and budget > 0 and text.find(literal, cursor) >= 0:
            # Its text is further on, so an earlier special took a data occurrence: back up.
            back = i - 1
            while back >= 0 and specials[back][2] == 0:
                back -= 1
            if back < 0:
                return None
            budget -= 1
            i = back
            start = placed[back][0] + 1
            continue
        # The detokenizer dropped this token's text. It follows the ordinary text before it, which ends
        # where the next special begins, or with the step when no ordinary id follows.
        pos = cursor
        if gap:
            j, found = i + 1, -1
            while j < n and specials[j][2] == 0 and found < 0:
                found = text.find(specials[j][1], cursor)
                j += 1
            if found >= 0:
                pos = found
            elif j == n and trailing_gap == 0:
                pos = len(text)
        placed[i] = (pos, 0)
        cursors[i + 1] = pos
        i += 1
        start = pos
    return placed
