"""``kimi-toolparse serve``: the command line of the gateway (its flags become one :class:`ServeConfig`)."""

from __future__ import annotations

import argparse
import json
import os
import socket
from typing import Any

from ..cli_support import UsageError
from ..extras import missing_extra
from .config import API_KEY_ENV, CONFIG_ENV, ENGINE_NAMES, PROMPT_MODES, ServeConfig

__all__ = ["add_parser", "config_from_args", "run"]


def add_parser(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Register ``serve`` on the main command line."""
    p = subparsers.add_parser(
        "serve",
        help="serve OpenAI's chat API and Anthropic's Messages API in front of a raw /v1/completions engine",
        description=(
            "OpenAI's chat completions and Anthropic's Messages API (Claude Code, the anthropic SDK) in "
            "front of a raw /v1/completions engine: it renders the Kimi K2 prompt, streams from the engine "
            "and parses tool calls and reasoning. Needs the serve extra: pip install '.[serve]' in a clone."
        ),
    )
    p.add_argument(
        "--upstream", required=True, metavar="URL", help="the engine's base URL, http://HOST:PORT/v1"
    )
    p.add_argument(
        "--model",
        action="append",
        metavar="NAME",
        help="a template to serve (repeat for several; the first is the default): kimi-k2.5, "
        "kimi-k2-thinking, "
        "moonshotai/Kimi-K2.6, ... (default kimi-k2.5)",
    )
    p.add_argument(
        "--upstream-model", metavar="NAME", help="the model name sent upstream (default: its /v1/models)"
    )
    p.add_argument(
        "--engine",
        choices=list(ENGINE_NAMES),
        default="vllm",
        help="the engine behind the gateway, for the fields that keep special tokens, return token ids, "
        "stop the turn and carry a grammar (default vllm; KTransformers: sglang, as sglang-kt serves it)",
    )
    p.add_argument(
        "--grammar",
        choices=["structural-tag", "ebnf", "gbnf"],
        help="send each request's tool-call grammar so the engine can only write valid calls "
        "(vllm/sglang/trtllm: structural-tag or ebnf; llamacpp: gbnf)",
    )
    p.add_argument(
        "--prompt",
        choices=list(PROMPT_MODES),
        default="auto",
        help="send the prompt as token ids (the engine's tokenizer cannot change it) or text; auto: ids "
        "where the engine takes them and the vocabulary is at hand (default auto)",
    )

    p.add_argument(
        "--upstream-extra", metavar="JSON", help="a JSON object merged into every upstream completion request"
    )
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    p.add_argument("--port", type=int, default=8000, help="port to listen on (default 8000)")
    p.add_argument("--workers", type=int, default=1, metavar="N", help="worker processes (default 1)")
    p.add_argument(
        "--api-key",
        metavar="KEY",
        help=f"require 'Authorization: Bearer KEY' or 'x-api-key: KEY' (or set {API_KEY_ENV})",
    )
    p.add_argument(
        "--max-body-bytes",
        type=int,
        default=4 * 1024 * 1024,
        metavar="N",
        help="answer 413 to a bigger body (default: 4 MiB)",
    )
    p.add_argument(
        "--connect-timeout",
        type=float,
        default=10.0,
        metavar="S",
        help="seconds to reach the engine before answering 502",
    )
    p.add_argument(
        "--read-timeout",
        type=float,
        default=600.0,
        metavar="S",
        help="seconds to wait for each piece before answering 504",
    )
    p.add_argument(
        "--store",
        metavar="PATH|URL",
        help="where /v1/responses keeps stored responses: a SQLite file (default "
        "$XDG_STATE_HOME/kimi-toolparse/responses.sqlite3, shared by --workers) or redis://HOST:PORT/N "
        "(several gateways; the redis extra)",
    )
    p.add_argument(
        "--store-ttl",
        type=float,
        default=30 * 24 * 3600.0,
        metavar="S",
        help="keep stored responses S seconds (30 days)",
    )
    p.add_argument(
        "--store-max-bytes",
        type=int,
        default=1 << 30,
        metavar="N",
        help="keep at most N bytes of stored responses, dropping the oldest first (1 GiB)",
    )
    p.add_argument(
        "--max-model-len",
        type=int,
        metavar="N",
        help="the model's context in tokens: max_tokens beyond what the prompt leaves is clamped "
        "(default: the upstream's /v1/models max_model_len, when it reports one)",
    )
    p.add_argument(
        "--tokenizer",
        metavar="PATH",
        help="the Kimi tiktoken.model (or model directory) that counts prompt tokens and encodes "
        "token-id prompts (--prompt) (default: the vocabulary that ships with the package)",
    )
    p.add_argument(
        "--anthropic-temperature-scale",
        type=float,
        default=0.6,
        metavar="X",
        help="Messages API: temperature sent upstream = the request's times X, as Moonshot's endpoint does",
    )
    p.add_argument(
        "--ping-interval",
        type=float,
        default=10.0,
        metavar="S",
        help="Messages API: a ping event after S seconds of upstream silence",
    )
    p.add_argument("--log-content", action="store_true", help="log prompts and outputs too (off by default)")
    p.add_argument(
        "--log-level",
        default="info",
        choices=["debug", "info", "warning", "error"],
        help="the server's log level",
    )
    p.set_defaults(handler=run)


def config_from_args(args: argparse.Namespace, environ: dict[str, str] | None = None) -> ServeConfig:
    """The configuration the flags (and the environment) describe; ValueError says what is wrong."""
    extra: tuple[tuple[str, Any], ...] = ()
    if args.upstream_extra:
        try:
            data = json.loads(args.upstream_extra)
        except ValueError as e:
            raise ValueError(f"--upstream-extra is not JSON: {e}") from None
        if not isinstance(data, dict):
            raise ValueError("--upstream-extra must be a JSON object")
        extra = tuple(data.items())
    return ServeConfig(
        upstream=args.upstream,
        models=tuple(args.model or ("kimi-k2.5",)),
        upstream_model=args.upstream_model,
        engine=args.engine,
        grammar=args.grammar,
        prompt=args.prompt,
        upstream_extra=extra,
        host=args.host,
        port=args.port,
        workers=args.workers,
        api_key=args.api_key,
        max_body_bytes=args.max_body_bytes,
        connect_timeout=args.connect_timeout,
        read_timeout=args.read_timeout,
        log_content=args.log_content,
        log_level=args.log_level,
        store=args.store,
        store_ttl=args.store_ttl,
        store_max_bytes=args.store_max_bytes,
        max_model_len=args.max_model_len,
        tokenizer=args.tokenizer,
        anthropic_temperature_scale=args.anthropic_temperature_scale,
        ping_interval=args.ping_interval,
    ).with_env(environ)


def _check_address(host: str, port: int) -> None:
    """Fail with one line, before the server starts, when the address cannot be listened on."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        with socket.socket(infos[0][0], socket.SOCK_STREAM) as s:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            s.bind(infos[0][4])
    except OSError as e:
        raise UsageError(f"cannot listen on {host}:{port}: {e.strerror or e}") from None


def run(args: argparse.Namespace) -> int:
    """Serve until interrupted."""
    try:
        config = config_from_args(args)
    except ValueError as e:
        raise UsageError(str(e)) from None
    try:
        import uvicorn

        from .app import configure_logging, create_app
    except ImportError as e:
        raise UsageError(str(missing_extra("serve", e.name or "uvicorn"))) from None
    try:
        app = create_app(config)
    except ValueError as e:
        raise UsageError(str(e)) from None
    configure_logging(config.log_level)
    common: dict[str, Any] = {
        "host": config.host,
        "port": config.port,
        "log_level": "warning" if config.log_level == "info" else config.log_level,
        "access_log": False,
        "backlog": 4096,
        "timeout_keep_alive": 30,
    }
    _check_address(config.host, config.port)
    try:
        if config.workers == 1:
            uvicorn.run(app, **common)
        else:
            os.environ[CONFIG_ENV] = config.to_json()
            uvicorn.run(
                "kimi_toolparse.serve.app:create_app_from_env", factory=True, workers=config.workers, **common
            )
    except OSError as e:
        raise UsageError(f"cannot listen on {config.host}:{config.port}: {e.strerror or e}") from None
    except SystemExit as e:
        if e.code not in (0, None):
            raise UsageError(
                f"cannot listen on {config.host}:{config.port} (see the message above)"
            ) from None
    return 0
