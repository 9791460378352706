"""Function names from call ids: the canonical form and drifted ids that spell a declared name.

The rules are docs/format.md#rule-10 and #rule-11 (a).
"""

from __future__ import annotations

import re
from collections.abc import Collection

from ..call_ids import CALL_ID_PREFIX, split_call_id

__all__ = ["name_from_drifted_id", "name_from_id"]

#: The classes of docs/format.md#rule-10 are Python's own: ``re``'s ``\w`` is ``str.isalnum()`` or ``_``,
#: and its ``\s`` is ``str.isspace()`` (the ``regex`` module's Unicode classes differ: marks are word
#: characters there).
_WORD = re.compile(r"\w")
_SPACE = re.compile(r"\s")
#: docs/format.md#rule-11 (a): a leading ``functions`` with an optional ``.`` or ``_``.
_DRIFTED_PREFIX = re.compile(re.escape(CALL_ID_PREFIX.rstrip(".")) + r"[._]?")
#: docs/format.md#rule-11 (a): a trailing run of digits, with the ``:`` or ``_`` before it.
_DRIFTED_COUNTER = re.compile(r"[:_]?[0-9]+\Z")


def name_from_id(call_id: str) -> str | None:
    """docs/format.md#rule-10: the name in a canonical id, or None when the id is drifted.

    The form is ``call_ids.split_call_id``'s with the prefix optional; the name must hold a word
    character and no whitespace.
    """
    split = split_call_id(call_id.strip(), require_prefix=False)
    if split is None:
        return None
    name = split[0]
    if _SPACE.search(name) or not _WORD.search(name):
        return None
    return name


def name_from_drifted_id(call_id: str, declared: Collection[str]) -> str | None:
    """The declared name a drifted id spells, without and then with its counter (docs/format.md#rule-11 a)."""
    rest = call_id.strip()
    m = _DRIFTED_PREFIX.match(rest)
    if m is not None:
        rest = rest[m.end() :]
    without = _DRIFTED_COUNTER.sub("", rest)
    for candidate in (without, rest):
        if candidate and candidate in declared:
            return candidate
    return None
