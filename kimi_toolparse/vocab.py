"""The Kimi vocabulary file (``tiktoken.model``): token ids to bytes, and text to token ids.

The vocabulary of the whole K2 family ships with the package (``kimi_toolparse/data/tiktoken.model``, its
licence beside it): :func:`load_vocabulary` with no path gives it, so token ids work with no download. A
model directory or another ``tiktoken.model`` overrides it wherever a vocabulary is taken.

Decoding needs nothing but the file. Encoding runs tiktoken's BPE with the Kimi pre-tokenization pattern,
so it needs the ``tiktoken`` extra (from a clone: ``pip install '.[tiktoken]'``).
"""

from __future__ import annotations

import base64
import binascii
import functools
import os
from collections.abc import Collection, Sequence
from typing import Any, Literal

from .extras import missing_extra
from .tokens import FIRST_SPECIAL_ID, SPECIAL_IDS, SPECIAL_TOKENS

#: The pre-tokenization pattern of the Kimi tokenizer. The ``&&`` class intersections need tiktoken's engine.
PATTERN = "|".join(
    [
        r"[\p{Han}]+",
        r"[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}&&[^\p{Han}]]*[\p{Ll}\p{Lm}\p{Lo}\p{M}&&[^\p{Han}]]+"
        r"(?i:'s|'t|'re|'ve|'m|'ll|'d)?",
        r"[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}&&[^\p{Han}]]+[\p{Ll}\p{Lm}\p{Lo}\p{M}&&[^\p{Han}]]*"
        r"(?i:'s|'t|'re|'ve|'m|'ll|'d)?",
        r"\p{N}{1,3}",
        r" ?[^\s\p{L}\p{N}]+[\r\n]*",
        r"\s*[\r\n]+",
        r"\s+(?!\S)",
        r"\s+",
    ]
)

__all__ = ["PACKAGED_VOCABULARY", "PATTERN", "KimiVocabulary", "load_vocabulary", "vocabulary_file"]

#: The vocabulary that ships with the package; :func:`load_vocabulary` reads it when given no path.
PACKAGED_VOCABULARY = os.path.join(os.path.dirname(os.path.abspath(__file__)), "data", "tiktoken.model")

_SPECIAL_BYTES = {i: text.encode("utf-8") for i, text in SPECIAL_TOKENS.items()}


def vocabulary_file(path: str | os.PathLike[str]) -> str:
    """The ``tiktoken.model`` a path names: the file itself, or the one in a model directory.

    Users pass what they downloaded (the directory) as often as the file; both work everywhere, and a
    leading ``~`` is the user's home.
    """
    p = os.path.expanduser(os.fspath(path))
    if os.path.isdir(p):
        candidate = os.path.join(p, "tiktoken.model")
        if not os.path.isfile(candidate):
            raise ValueError(f"{p} has no tiktoken.model: pass the Kimi model directory or the file itself")
        return candidate
    if not os.path.isfile(p):
        raise ValueError(f"{p} does not exist: pass the Kimi model directory or its tiktoken.model")
    return p


def load_vocabulary(path: str | os.PathLike[str] | None = None) -> KimiVocabulary:
    """The Kimi vocabulary at ``path`` (a model directory or its ``tiktoken.model``, ``~`` expanded), or the
    one that ships with the package when ``path`` is None. Each file is read once per process."""
    if path is not None and not isinstance(path, (str, os.PathLike)):
        raise TypeError(f"the vocabulary path must be a str or a path, not {type(path).__name__}")
    return _load(os.path.realpath(vocabulary_file(PACKAGED_VOCABULARY if path is None else path)))


@functools.lru_cache(maxsize=8)
def _load(path: str) -> KimiVocabulary:
    return KimiVocabulary.from_file(path)


class KimiVocabulary:
    """The BPE ranks of the Kimi K2 family plus its 256 special tokens.

    :func:`load_vocabulary` gives the one that ships with the package (once per process); :meth:`from_file`
    reads a model directory or its ``tiktoken.model``.
    """

    def __init__(self, ranks: Sequence[bytes]) -> None:
        if len(ranks) != FIRST_SPECIAL_ID:
            raise ValueError(
                f"a Kimi vocabulary has {FIRST_SPECIAL_ID} ordinary ranks, this one has {len(ranks)}: "
                "pass the tiktoken.model file of a Kimi K2 model"
            )
        self._ranks = list(ranks)
        self._encoding: Any = None

    @classmethod
    def from_file(cls, path: str | os.PathLike[str]) -> KimiVocabulary:
        """Read ``tiktoken.model`` (one ``base64(bytes) rank`` per line), or the one in a model directory."""
        path = vocabulary_file(path)
        ranks: dict[int, bytes] = {}
        with open(path, "rb") as f:
            for lineno, line in enumerate(f, 1):
                if not line.strip():
                    continue
                try:
                    token, rank = line.split()
                    ranks[int(rank)] = base64.b64decode(token, validate=True)
                except (ValueError, binascii.Error):
                    raise ValueError(
                        f"{os.fspath(path)}:{lineno}: not a tiktoken vocabulary line (want 'base64 rank')"
                    ) from None
        if sorted(ranks) != list(range(len(ranks))):
            raise ValueError(f"{os.fspath(path)}: ranks are not 0..{len(ranks) - 1} without gaps")
        return cls([ranks[i] for i in range(len(ranks))])

    def __len__(self) -> int:
        return FIRST_SPECIAL_ID + len(SPECIAL_TOKENS)

    def token_bytes(self, token_id: int) -> bytes:
        """The bytes of one token; a special token gives its name (``<|tool_call_begin|>``)."""
        if 0 <= token_id < FIRST_SPECIAL_ID:
            return self._ranks[token_id]
        special = _SPECIAL_BYTES.get(token_id)
        if special is None:
            raise ValueError(f"token id {token_id} is outside the Kimi vocabulary (0..{len(self) - 1})")
        return special

    def decode(self, token_ids: Sequence[int]) -> str:
        """Decode ids to text (special tokens as their names; invalid UTF-8 as U+FFFD)."""
        return b"".join(self.token_bytes(i) for i in token_ids).decode("utf-8", errors="replace")

    @property
    def tiktoken_encoding(self) -> Any:
        """A ``tiktoken.Encoding`` for this vocabulary (needs the ``tiktoken`` extra)."""
        if self._encoding is None:
            try:
                import tiktoken
            except ImportError:
                raise missing_extra("encoding text to token ids", "tiktoken") from None
            self._encoding = tiktoken.Encoding(
                name="kimi-k2",
                pat_str=PATTERN,
                mergeable_ranks={b: i for i, b in enumerate(self._ranks)},
                special_tokens=SPECIAL_IDS,
            )
        return self._encoding

    def encode(self, text: str, *, allowed_special: Literal["all"] | Collection[str] = "all") -> list[int]:
        """Encode text; special-token text becomes its id where allowed, ordinary tokens elsewhere."""
        if not isinstance(text, str):
            raise TypeError(f"encode() takes a str, not {type(text).__name__}")
        allowed = "all" if allowed_special == "all" else set(allowed_special)
        ids: list[int] = self.tiktoken_encoding.encode(text, allowed_special=allowed, disallowed_special=())
        return ids
