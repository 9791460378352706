"""The gateway's configuration: one frozen object, built from the command line and the environment.

Everything the gateway does is decided here once, at start-up, so that a worker process can rebuild the
exact same configuration from one environment variable (``--workers N``).
"""

from __future__ import annotations

import dataclasses
import json
import os
import secrets
from dataclasses import dataclass
from typing import Any

from kimi_toolparse.tokens import IM_END, SPECIAL_IDS

__all__ = ["API_KEY_ENV", "CONFIG_ENV", "ENGINES", "SIGNING_KEY_ENV", "UPSTREAM_API_KEY_ENV", "ServeConfig"]

#: The key clients must send (``--api-key`` overrides it).
API_KEY_ENV = "KIMI_TOOLPARSE_API_KEY"
#: The key sent to the upstream as ``Authorization: Bearer …``; read from the environment only.
UPSTREAM_API_KEY_ENV = "KIMI_TOOLPARSE_UPSTREAM_API_KEY"
#: The key of the Messages API's thinking signatures (a random one per start when unset).
SIGNING_KEY_ENV = "KIMI_TOOLPARSE_SIGNING_KEY"
#: How worker processes receive the configuration.
CONFIG_ENV = "KIMI_TOOLPARSE_SERVE_CONFIG"

#: What each kind of engine is sent on top of OpenAI's completion fields, so that the tool-call markers
#: (special tokens) survive detokenization and token ids come back where the engine can return them. The
#: turn ends at the ``<|im_end|>`` token id where the engine takes one: a stop *string* would also cut
#: arguments whose JSON text mentions ``<|im_end|>`` in ordinary tokens (the fuzzer found it). Engines
#: without ``stop_token_ids`` get the stop string.
ENGINES: dict[str, dict[str, Any]] = {
    "vllm": {
        "skip_special_tokens": False,
        "spaces_between_special_tokens": False,
        "return_token_ids": True,
        "stop_token_ids": [SPECIAL_IDS[IM_END]],
    },
    "sglang": {
        "skip_special_tokens": False,
        "spaces_between_special_tokens": False,
        "stop_token_ids": [SPECIAL_IDS[IM_END]],
    },
    "plain": {},
}

#: The grammar formats each engine kind takes (``--grammar``), and the engine name ``request_fields`` knows
#: it by: vLLM and SGLang take an xgrammar structural tag or EBNF; a plain engine is taken to be llama.cpp's
#: server, which takes GBNF.
GRAMMARS: dict[str, tuple[str, tuple[str, ...]]] = {
    "vllm": ("vllm", ("structural-tag", "ebnf")),
    "sglang": ("sglang", ("structural-tag", "ebnf")),
    "plain": ("llama.cpp", ("gbnf",)),
}


@dataclass(frozen=True)
class ServeConfig:
    """How one gateway runs. Build it with :meth:`create` (which validates) or from the command line."""

    #: The upstream's OpenAI base URL, ending in ``/v1``.
    upstream: str
    #: Template names served (the first is the default); the project's names or Hugging Face repos.
    models: tuple[str, ...] = ("kimi-k2.5",)
    #: The model name sent upstream; None asks the upstream's ``/v1/models`` (first entry).
    upstream_model: str | None = None
    #: Which engine-specific fields to send (a key of :data:`ENGINES`).
    engine: str = "vllm"
    #: Send the request's tool-call grammar (this format) so the engine can only write well-formed calls
    #: that fit the tools and ``tool_choice``; None sends none (then ``tool_choice`` is enforced by prefill).
    grammar: str | None = None
    #: Extra JSON fields merged into every upstream request (after the engine's).
    upstream_extra: tuple[tuple[str, Any], ...] = ()
    host: str = "127.0.0.1"
    port: int = 8000
    workers: int = 1
    #: Clients must send ``Authorization: Bearer <api_key>`` (all endpoints but ``/health``) when set.
    api_key: str | None = dataclasses.field(default=None, repr=False)
    #: Sent to the upstream as a bearer token when set.
    upstream_api_key: str | None = dataclasses.field(default=None, repr=False)
    #: Largest request body accepted, in bytes (413 above).
    max_body_bytes: int = 4 * 1024 * 1024
    #: Seconds to connect to the upstream (502 after), and to wait for each piece of its answer (504).
    connect_timeout: float = 10.0
    read_timeout: float = 600.0
    #: Log prompts and outputs too (off: they may hold personal data).
    log_content: bool = False
    #: Upstream connections kept per worker.
    max_connections: int = 1024
    log_level: str = "info"
    #: Where stored responses live (``POST /v1/responses``): a SQLite file path (``sqlite://PATH`` or a bare
    #: path) or ``redis://HOST:PORT/N``; None is the default SQLite file in the state directory
    #: (``$XDG_STATE_HOME/kimi-toolparse/responses.sqlite3``). Opened at the first Responses request.
    store: str | None = None
    #: Seconds a stored response is kept (30 days, as OpenAI keeps them).
    store_ttl: float = 30 * 24 * 3600.0
    #: Bytes of stored responses kept in all (the oldest go first above it).
    store_max_bytes: int = 1 << 30
    #: The model's context length in tokens: ``max_tokens`` beyond what the prompt leaves is clamped to it.
    #: None asks the upstream's ``/v1/models`` (vLLM reports ``max_model_len``); without either, no clamping.
    max_model_len: int | None = None
    #: The Kimi vocabulary (``tiktoken.model`` or a model directory) for counting prompt tokens
    #: (``count_tokens``, clamping); None: the package's own vocabulary.
    tokenizer: str | None = None
    #: Messages API: the temperature sent upstream is the request's times this (Moonshot's Anthropic
    #: endpoint scales by 0.6: Anthropic's 1.0 is Kimi's recommended 0.6).
    anthropic_temperature_scale: float = 0.6
    #: Messages API: the key of the thinking blocks' signatures (HMAC-SHA256); None: a random key per
    #: start of the gateway (the signatures are not checked when they come back; see docs/claude-code.md).
    signing_key: str | None = dataclasses.field(default=None, repr=False)
    #: Messages API: seconds of upstream silence after which a stream gets a ``ping`` event.
    ping_interval: float = 10.0

    def __post_init__(self) -> None:
        if not self.upstream.startswith(("http://", "https://")):
            raise ValueError(
                f"--upstream must be an http(s) URL such as http://HOST:PORT/v1, not {self.upstream!r}"
            )
        if not self.models:
            raise ValueError("at least one --model is needed")
        if self.engine not in ENGINES:
            raise ValueError(f"--engine must be one of {', '.join(ENGINES)}, not {self.engine!r}")
        if self.grammar is not None and self.grammar not in GRAMMARS[self.engine][1]:
            raise ValueError(
                f"--grammar {self.grammar} does not suit --engine {self.engine}: "
                f"use {' or '.join(GRAMMARS[self.engine][1])}"
            )
        if self.workers < 1:
            raise ValueError("--workers must be 1 or more")
        if self.max_body_bytes < 1024:
            raise ValueError("--max-body-bytes must be at least 1024")
        if self.connect_timeout <= 0 or self.read_timeout <= 0:
            raise ValueError("timeouts must be positive numbers of seconds")
        if self.store_ttl <= 0 or self.store_max_bytes <= 0:
            raise ValueError("--store-ttl and --store-max-bytes must be positive")
        if self.max_model_len is not None and self.max_model_len < 1:
            raise ValueError("--max-model-len must be a positive number of tokens")
        if not 0 <= self.anthropic_temperature_scale <= 2:
            raise ValueError("--anthropic-temperature-scale must be between 0 and 2")
        if self.ping_interval <= 0:
            raise ValueError("--ping-interval must be a positive number of seconds")
        if not 0 <= self.port <= 65535:
            raise ValueError(f"--port must be 0..65535, not {self.port}")

    @property
    def upstream_base(self) -> str:
        """The upstream base URL without a trailing slash."""
        return self.upstream.rstrip("/")

    @property
    def upstream_fields(self) -> dict[str, Any]:
        """The fields added to every upstream completion request."""
        return {**ENGINES[self.engine], **dict(self.upstream_extra)}

    @property
    def grammar_engine(self) -> tuple[str, str] | None:
        """(format, engine name for ``ToolGrammar.request_fields``) when grammars are sent, else None."""
        return None if self.grammar is None else (self.grammar, GRAMMARS[self.engine][0])

    def with_env(self, environ: dict[str, str] | None = None) -> ServeConfig:
        """Fill the keys left unset from :data:`API_KEY_ENV`, :data:`UPSTREAM_API_KEY_ENV` and
        :data:`SIGNING_KEY_ENV` (else a random signing key, which the workers then share)."""
        env = os.environ if environ is None else environ
        return dataclasses.replace(
            self,
            api_key=self.api_key if self.api_key is not None else (env.get(API_KEY_ENV) or None),
            upstream_api_key=self.upstream_api_key
            if self.upstream_api_key is not None
            else (env.get(UPSTREAM_API_KEY_ENV) or None),
            signing_key=self.signing_key or env.get(SIGNING_KEY_ENV) or secrets.token_hex(32),
        )

    def to_json(self) -> str:
        """The configuration as JSON (keys included: it only travels to this process's own workers)."""
        return json.dumps(dataclasses.asdict(self))

    @classmethod
    def from_json(cls, text: str) -> ServeConfig:
        data = json.loads(text)
        data["models"] = tuple(data["models"])
        data["upstream_extra"] = tuple(tuple(kv) for kv in data["upstream_extra"])
        return cls(**data)
