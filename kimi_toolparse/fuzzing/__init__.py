"""Differential fuzzing of other Kimi K2 parsers and servers: ``kimi-toolparse fuzz`` and its API.

Outputs drawn by :func:`kimi_toolparse.strategies.quirky_outputs` go through the target; its answers are
compared with the messages the spec gives, and each failure is shrunk by Hypothesis before it is shown.
Needs ``hypothesis`` (the ``fuzz`` extra: ``pip install '.[fuzz]'`` in a clone); the names below load it
on first use, so the command line starts without it.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .compare import accumulate_deltas, first_difference, normalize_message
    from .runner import Failure, QuirkResult, fuzz
    from .targets import Feed, Target, TargetError, callable_target

__all__ = [
    "Failure",
    "Feed",
    "QuirkResult",
    "Target",
    "TargetError",
    "accumulate_deltas",
    "callable_target",
    "first_difference",
    "fuzz",
    "normalize_message",
]

_WHERE = {
    "accumulate_deltas": "compare",
    "first_difference": "compare",
    "normalize_message": "compare",
    "Failure": "runner",
    "QuirkResult": "runner",
    "fuzz": "runner",
    "Feed": "targets",
    "Target": "targets",
    "TargetError": "targets",
    "callable_target": "targets",
}


def __getattr__(name: str) -> Any:
    if name not in _WHERE:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f".{_WHERE[name]}", __name__), name)
