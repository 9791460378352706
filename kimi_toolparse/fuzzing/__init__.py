"""Differential fuzzing of other Kimi K2 parsers and servers: ``kimi-toolparse fuzz`` and its API.

Outputs drawn by :func:`kimi_toolparse.strategies.quirky_outputs` go through the target; its answers are
compared with the messages the spec gives, and each failure is shrunk by Hypothesis before it is shown.
Needs ``hypothesis`` (``pip install 'kimi_toolparse[fuzz]'``).
"""

from __future__ import annotations

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
