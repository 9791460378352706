"""Engine profiles: per inference engine, the completion body the gateway sends and how it reads the answer.

One table (:data:`PROFILES`) says, for each engine behind ``kimi-toolparse serve --engine``:

- the fields that keep the tool-call markers (special tokens) in the text the engine returns;
- how token ids are asked for along with the text, and under which key each choice carries them;
- how the turn is stopped: the ``<|im_end|>`` id where the engine has ``stop_token_ids``, else its text;
- where a tool-call grammar goes (``--grammar``) and in which formats;
- whether the prompt may be sent as token ids;
- how the engine names itself in ``/v1/models`` (``owned_by``): a wrong ``--engine`` is reported at start-up.

Pure data and pure functions, no HTTP: the gateway picks its profile once, at start-up, and
:func:`completion_body` builds each request from it (docs/engines-behind-gateway.md has the table in prose).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from kimi_toolparse.tokens import (
    ARG_BEGIN,
    CALL_BEGIN,
    CALL_END,
    IM_END,
    SECTION_BEGIN,
    SECTION_END,
    SPECIAL_IDS,
    THINK_BEGIN,
    THINK_END,
)

__all__ = [
    "ENGINE_NAMES",
    "MARKERS",
    "PROFILES",
    "EngineProfile",
    "completion_body",
    "engine_mismatch",
    "grammar_fields",
    "identify",
    "profile",
]

#: The tokens the parser reads as markers: llama.cpp renders these in its text when they are listed in
#: ``preserved_tokens`` (or when it runs with ``--special``).
MARKERS: tuple[str, ...] = (
    SECTION_BEGIN,
    SECTION_END,
    CALL_BEGIN,
    ARG_BEGIN,
    CALL_END,
    THINK_BEGIN,
    THINK_END,
)
_IM_END_ID = SPECIAL_IDS[IM_END]


@dataclass(frozen=True)
class EngineProfile:
    """What one engine is sent and how its answers are read."""

    #: The ``--engine`` name.
    name: str
    #: Sent with every request so the markers survive detokenization (special tokens kept, no spaces
    #: around them).
    keep_special: Mapping[str, Any]
    #: Sent to get token ids with the text (empty where the engine cannot return both).
    ids_request: Mapping[str, Any] = field(default_factory=dict)
    #: The key of a choice (streamed or not) that holds its token ids; None: the engine sends none.
    ids_key: str | None = None
    #: The engine takes ``stop_token_ids``: the turn ends at the ``<|im_end|>`` id, not at its text.
    stop_token_ids: bool = False
    #: The engine takes the prompt as a list of token ids.
    prompt_ids: bool = False
    #: ``--grammar`` formats this engine takes (see :func:`grammar_fields`).
    grammars: tuple[str, ...] = ()
    #: What the engine puts in ``/v1/models`` ``owned_by`` (how it is recognised); empty: unknown.
    owned_by: tuple[str, ...] = ()
    #: One line for the docs and start-up log: the flags or deployment the engine needs.
    needs: str = ""

    @property
    def token_mode(self) -> bool:
        """Token ids come back with the text (the parser then tells a marker from its spelling)."""
        return self.ids_key is not None


#: The profiles, by ``--engine`` name (the first is the default).
PROFILES: dict[str, EngineProfile] = {
    p.name: p
    for p in (
        EngineProfile(
            "vllm",
            keep_special={"skip_special_tokens": False, "spaces_between_special_tokens": False},
            ids_request={"return_token_ids": True},
            ids_key="token_ids",
            stop_token_ids=True,
            prompt_ids=True,
            grammars=("structural-tag", "ebnf"),
            owned_by=("vllm",),
        ),
        EngineProfile(
            "sglang",
            # SGLang's request has no spaces_between_special_tokens (its detokenizer puts none there).
            keep_special={"skip_special_tokens": False},
            ids_request={"return_token_ids": True},
            ids_key="token_ids",
            stop_token_ids=True,
            prompt_ids=True,
            grammars=("structural-tag", "ebnf"),
            owned_by=("sglang",),
            needs="KTransformers: serve it with its SGLang fork (sglang-kt) and use --engine sglang",
        ),
        EngineProfile(
            "trtllm",
            # trtllm-serve refuses unknown fields; it returns ids only with detokenize=false (then no text).
            keep_special={"skip_special_tokens": False, "spaces_between_special_tokens": False},
            stop_token_ids=True,
            prompt_ids=True,
            grammars=("structural-tag", "ebnf"),
            owned_by=("tensorrt_llm",),
        ),
        EngineProfile(
            "llamacpp",
            keep_special={"preserved_tokens": list(MARKERS)},
            prompt_ids=True,
            grammars=("gbnf",),
            owned_by=("llamacpp",),
            needs="llama-server keeps markers only for preserved_tokens (sent) or when run with --special",
        ),
        EngineProfile(
            "plain",
            keep_special={},
            needs="any OpenAI-style /v1/completions server that returns special tokens as text",
        ),
    )
}
#: The ``--engine`` choices.
ENGINE_NAMES: tuple[str, ...] = tuple(PROFILES)


def profile(name: str) -> EngineProfile:
    """The profile of an engine name; ValueError names the choices."""
    try:
        return PROFILES[name]
    except KeyError:
        raise ValueError(f"--engine must be one of {', '.join(PROFILES)}, not {name!r}") from None


def grammar_fields(engine: EngineProfile, grammar: Any) -> dict[str, Any]:
    """The fields carrying a :class:`~kimi_toolparse.ToolGrammar` for this engine.

    vLLM: ``structured_outputs`` (``structural_tag`` as JSON text, or ``grammar``); SGLang: the structural
    tag as ``response_format``, EBNF as ``ebnf``; TensorRT-LLM: ``response_format`` of type
    ``structural_tag`` or ``ebnf``; llama.cpp: GBNF as ``grammar``."""
    fmt = grammar.format
    if fmt not in engine.grammars:
        wanted = " or ".join(engine.grammars) or "no grammar"
        raise ValueError(f"--engine {engine.name} does not take {fmt} grammars: use {wanted}")
    if engine.name == "trtllm":
        if fmt == "structural-tag":
            return {"response_format": grammar.structural_tag()}
        return {"response_format": {"type": "ebnf", "ebnf": grammar.text}}
    name = "llama.cpp" if engine.name == "llamacpp" else engine.name
    fields: dict[str, Any] = grammar.request_fields(name)
    return fields


def completion_body(
    engine: EngineProfile,
    prompt: str | Sequence[int],
    *,
    stop: Sequence[str] = (),
    n: int = 1,
    sampling: Mapping[str, Any] | None = None,
    grammar: Mapping[str, Any] | None = None,
    extra: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """The streamed ``/v1/completions`` body for ``engine`` (without ``model``).

    ``prompt``: the rendered prompt, as text or token ids (ids only where ``engine.prompt_ids``).
    ``stop``: the client's stop strings. ``sampling``: OpenAI sampling fields already set (``max_tokens``,
    ``temperature``...; None values are left out). ``grammar``: from :func:`grammar_fields`. ``extra``:
    ``--upstream-extra``, merged last."""
    if not isinstance(prompt, str) and not engine.prompt_ids:
        raise ValueError(f"--engine {engine.name} takes the prompt as text only")
    body: dict[str, Any] = {
        "prompt": prompt if isinstance(prompt, str) else list(prompt),
        "stream": True,
        "stream_options": {"include_usage": True},
        "stop": list(stop) if engine.stop_token_ids else [IM_END, *stop],
        "n": n,
    }
    if sampling:
        body.update((k, v) for k, v in sampling.items() if v is not None)
    body.update(engine.keep_special)
    body.update(engine.ids_request)
    if engine.stop_token_ids:
        body["stop_token_ids"] = [_IM_END_ID]
    if grammar:
        body.update(grammar)
    if extra:
        body.update(extra)
    return body


def identify(models: Any) -> str | None:
    """The engine an upstream's ``/v1/models`` body names (by ``owned_by``), or None when it names none."""
    try:
        owners = {str(m.get("owned_by")) for m in models["data"] if isinstance(m, dict)}
    except (KeyError, TypeError, AttributeError):
        return None
    for p in PROFILES.values():
        if owners & set(p.owned_by):
            return p.name
    return None


def engine_mismatch(engine: EngineProfile, models: Any) -> str | None:
    """One line when the upstream's ``/v1/models`` says it is another engine than ``--engine``, else None."""
    found = identify(models)
    if found is None or found == engine.name:
        return None
    return (
        f"--engine {engine.name}, but the upstream's /v1/models says it is {found} "
        f"(owned_by {PROFILES[found].owned_by[0]!r}): start the gateway with --engine {found}"
    )
