"""What ``kimi-toolparse fuzz`` points at: a Python callable, an engine's built-in parser, or a whole server.

Each target takes one drawn output (text, stream chunks, token ids or engine steps) and returns what the
code under test made of it, as an OpenAI message or the list of stream chunks it sent.
"""

from __future__ import annotations

import importlib
import inspect
import os
import sys
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ..strategies import Case

__all__ = ["Feed", "Target", "TargetError", "callable_target"]


class TargetError(Exception):
    """The target cannot be loaded or used as asked (a usage error: one line, exit status 2)."""


@dataclass(frozen=True)
class Feed:
    """One drawn input, in every form a target may take."""

    case: Case
    #: The raw text cut into stream chunks ("".join(chunks) == case.raw).
    chunks: list[str]
    #: The token ids of the output (None when no vocabulary was given).
    token_ids: list[int] | None = None
    #: Per-step ``(text, ids)`` as an engine emits them (None without a vocabulary).
    steps: list[tuple[str, list[int]]] | None = None
    #: Send the request streaming (server and engine targets).
    stream: bool = False


@dataclass
class Target:
    """A thing to fuzz: ``run(feed)`` returns its answer (a message, a response, or a list of chunks)."""

    name: str
    #: ``text``, ``chunks`` or ``token_ids``: what the target reads.
    mode: str
    run: Callable[[Feed], Any]
    #: The target is given the request's tools / told that the prompt ended with ``<think>``.
    takes_tools: bool = False
    takes_thinking: bool = False
    #: Streaming is decided per example (engines and servers answer both ways).
    streams: bool = False
    close: Callable[[], None] | None = None
    #: The prompt the target renders ends inside reasoning (True) or not (False): every case is drawn and
    #: judged that way. None: the case says, when the target ``takes_thinking``.
    prompt_thinking: bool | None = None


def _import_callable(spec: str) -> Callable[..., Any]:
    module_name, _, attr = spec.partition(":")
    if not module_name or not attr:
        raise TargetError(f"TARGET {spec!r} is not module:function, vllm, sglang or --url")
    if os.getcwd() not in sys.path and "" not in sys.path:
        sys.path.insert(0, os.getcwd())
    try:
        module = importlib.import_module(module_name)
    except Exception as e:  # any import-time error of the user's module is a usage error here
        raise TargetError(f"cannot import {module_name}: {type(e).__name__}: {e}") from None
    obj: Any = module
    for part in attr.split("."):
        if not hasattr(obj, part):
            raise TargetError(f"{module_name} has no attribute {attr!r}")
        obj = getattr(obj, part)
    if not callable(obj):
        raise TargetError(f"{spec} is not callable")
    return obj  # type: ignore[no-any-return]


def callable_target(spec: str) -> Target:
    """``module:function``: the text (or ``chunks``, or ``token_ids``, by the signature) goes in; an OpenAI
    message (dict or object) or a list of ``chat.completion.chunk`` deltas comes out. A declared
    ``tools`` or ``thinking`` parameter is passed the request's tools / whether the prompt ended in
    ``<think>``."""
    fn = _import_callable(spec)
    try:
        params = inspect.signature(fn).parameters
    except (TypeError, ValueError):
        params = {}  # type: ignore[assignment]
    if "chunks" in params:
        mode = "chunks"
    elif "token_ids" in params:
        mode = "token_ids"
    else:
        positional = [
            p
            for p in params.values()
            if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD, p.VAR_POSITIONAL)
        ]
        if params and not positional:
            raise TargetError(f"{spec} takes no text: give it a parameter for the text, chunks or token_ids")
        mode = "text"
    takes_tools = "tools" in params
    takes_thinking = "thinking" in params

    def run(feed: Feed) -> Any:
        kwargs: dict[str, Any] = {}
        if takes_tools:
            kwargs["tools"] = feed.case.tools
        if takes_thinking:
            kwargs["thinking"] = feed.case.thinking
        if mode == "chunks":
            return fn(chunks=list(feed.chunks), **kwargs)
        if mode == "token_ids":
            return fn(token_ids=list(feed.token_ids or []), **kwargs)
        return fn(feed.case.raw, **kwargs)

    return Target(spec, mode, run, takes_tools, takes_thinking)
