"""The command line: ``kimi-toolparse parse`` (raw output to OpenAI JSON) and ``kimi-toolparse render``
(a conversation file to the exact prompt, or its token ids).

Bad input prints one line, ``kimi-toolparse: ...``, and exits 2; never a traceback.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterator, Sequence
from typing import Any, TextIO

from . import __version__
from .cli_support import PROG, ArgumentParser, UsageError, read_json, read_text, read_text_pieces, table
from .extras import missing_extra
from .parsing.message import STOP_REASONS, ParsedMessage, stop_reason_from
from .parsing.parser import StreamParser
from .parsing.tools import Tools
from .rendering.jinja_compat import BadConversation
from .rendering.prompt import encode_prompt, render
from .rendering.templates import MODELS, resolve_model
from .tool_shape import tool_functions

__all__ = ["PROG", "UsageError", "build_parser", "cmd_parse", "cmd_render", "main", "read_json", "read_text"]

#: The chat_template_kwargs the Kimi templates read; render() refuses others, and so does the CLI.
_TEMPLATE_KWARGS = ("thinking", "preserve_thinking")
#: render()'s options as ``render``'s flags, for the hints of a refused conversation.
_RENDER_FLAGS: dict[tuple[str, object], str] = {
    ("strict", False): "--lenient",
    ("normalize_ids", True): "--normalize-ids",
}


def _refusal(error: ValueError | TypeError) -> str:
    """Why render() refused a conversation, on one line, with the flag that gets past it (if one does)."""
    if isinstance(error, BadConversation):
        flag = _RENDER_FLAGS.get(error.option) if error.option is not None else None
        text = error.problem + (f" ({flag} {error.effect})" if flag else "")
    else:
        text = str(error)
    return " ".join(text.split())


def _chunks(pieces: Iterator[str], size: int) -> Iterator[str]:
    """The text in chunks of ``size`` characters, whatever the pieces it arrives in."""
    rest = ""
    for piece in pieces:
        text = rest + piece if rest else piece
        end = len(text) - len(text) % size
        for start in range(0, end, size):
            yield text[start : start + size]
        rest = text[end:]
    if rest:
        yield rest


def _read_tool_list(path: str, *, check_each: bool = True) -> list[Any]:
    """The tools in a file: a list, or a request file that has ``tools``; checked as parse() and strict
    render() check them (``tool_shape``), each tool only with ``check_each``."""
    data = read_json(path)
    if isinstance(data, dict) and "tools" in data:
        data = data["tools"]
    if not isinstance(data, list):
        raise UsageError(f"{path} must hold a list of tools (or a request with 'tools')")
    if check_each:
        try:
            tool_functions(data)
        except (TypeError, ValueError) as e:
            raise UsageError(f"{path}: {' '.join(str(e).split())}") from None
    return data


def _read_tools(path: str | None) -> Tools | None:
    if path is None:
        return None
    tools = _read_tool_list(path)
    try:
        return Tools(tools)
    except (TypeError, ValueError) as e:  # pragma: no cover - the shape was checked on reading
        raise UsageError(f"{path}: {e}") from None


def _print_json(obj: Any, out: TextIO) -> None:
    out.write(json.dumps(obj, ensure_ascii=False) + "\n")


def _diagnostics_table(message: ParsedMessage, out: TextIO) -> None:
    if not message.diagnostics:
        return
    rows = [("offset", "code", "call", "message", "text")]
    for d in message.diagnostics:
        text = d.text if len(d.text) <= 40 else d.text[:37] + "..."
        call = "" if d.call_index is None else str(d.call_index)
        rows.append((str(d.offset), d.code.value, call, d.message, json.dumps(text, ensure_ascii=False)))
    out.write(table(rows))


def _stop_reason(value: str | None) -> str | int | None:
    if value is None:
        return None
    reason: str | int = int(value) if value.isdecimal() else value
    try:
        stop_reason_from(reason)
    except ValueError:
        raise UsageError(
            f"--stop-reason {value!r}: want the engine's finish reason ({', '.join(STOP_REASONS)}) "
            "or a stop token id"
        ) from None
    return reason


def cmd_parse(args: argparse.Namespace) -> int:
    tools = _read_tools(args.tools)
    if args.chunk_size < 1:
        raise UsageError("--chunk-size must be at least 1")
    stop_reason = _stop_reason(args.stop_reason)
    parser = StreamParser(tools=tools, thinking=args.thinking)
    out: TextIO = sys.stdout
    pieces = read_text_pieces(args.file)
    if args.stream:
        # The file streams through in pieces: memory stays bounded however large it is.
        out.write(json.dumps({"index": 0, "delta": parser.role_delta(), "finish_reason": None}) + "\n")
        for chunk in _chunks(pieces, args.chunk_size):
            for event in parser.feed(chunk):
                delta = event.to_openai()
                if delta is not None:
                    _print_json({"index": 0, "delta": delta, "finish_reason": None}, out)
        for event in parser.close(stop_reason=stop_reason):
            delta = event.to_openai()
            if delta is not None:
                _print_json({"index": 0, "delta": delta, "finish_reason": None}, out)
        _print_json({"index": 0, "delta": {}, "finish_reason": parser.message.finish_reason}, out)
    else:
        for piece in pieces:
            parser.feed(piece)
        parser.close(stop_reason=stop_reason)
        out.write(json.dumps(parser.message.to_openai(), ensure_ascii=False, indent=2) + "\n")
    if args.diagnostics:
        _diagnostics_table(parser.message, sys.stderr)
    return 0


def _conversation(path: str) -> tuple[Any, Any, dict[str, Any], Any]:
    """messages, tools, chat_template_kwargs and model from a request file or a bare message list."""
    data = read_json(path)
    if isinstance(data, list):
        return data, None, {}, None
    if not isinstance(data, dict):
        raise UsageError(f"{path} must hold a request object with messages, or a list of messages")
    if "messages" not in data:
        raise UsageError(f"{path} has no 'messages': want an OpenAI chat request or a list of messages")
    kwargs = data.get("chat_template_kwargs") or {}
    if not isinstance(kwargs, dict):
        raise UsageError(f"{path}: chat_template_kwargs must be an object")
    unknown = [k for k in kwargs if k not in _TEMPLATE_KWARGS]
    if unknown:
        raise UsageError(
            f"{path}: chat_template_kwargs has {', '.join(map(repr, unknown))}, which no Kimi template reads "
            f"(they read {', '.join(_TEMPLATE_KWARGS)})"
        )
    return data["messages"], data.get("tools"), dict(kwargs), data.get("model")


def _model(path: str, flag: str | None, requested: Any) -> str:
    """The model to render for: the --model flag, else the request's own model when it names a Kimi one."""
    if flag is not None:
        return flag
    models = ", ".join(MODELS)
    if requested is None:
        raise UsageError(f"{path} names no model: pass --model NAME ({models})")
    try:
        resolve_model(requested)
    except (TypeError, ValueError):
        raise UsageError(
            f"{path} asks for model {requested!r}, which is not a Kimi model this renderer knows: "
            f"pass --model NAME ({models})"
        ) from None
    return str(requested)


def cmd_render(args: argparse.Namespace) -> int:
    messages, tools, kwargs, requested = _conversation(args.conversation)
    if args.tools is not None:
        tools = _read_tool_list(args.tools, check_each=not args.lenient)
    if args.thinking is not None:
        kwargs["thinking"] = args.thinking
    if args.preserve_thinking is not None:
        kwargs["preserve_thinking"] = args.preserve_thinking
    model = _model(args.conversation, args.model, requested)
    try:
        text = render(
            messages,
            tools,
            model=model,
            add_generation_prompt=args.generation_prompt,
            strict=not args.lenient,
            normalize_ids=args.normalize_ids,
            plain_template=args.plain_template,
            **kwargs,
        )
    except (ValueError, TypeError) as e:
        raise UsageError(f"{args.conversation}: {_refusal(e)}") from None
    if args.ids:
        try:
            ids = encode_prompt(text, args.vocab)
        except (OSError, ValueError, ImportError) as e:
            raise UsageError(" ".join(str(e).split())) from None
        sys.stdout.write(json.dumps(ids) + "\n")
        return 0
    out = getattr(sys.stdout, "buffer", None)
    if out is not None:
        sys.stdout.flush()
        out.write(text.encode("utf-8"))
        out.flush()
    else:
        sys.stdout.write(text)
    return 0


def _add_render(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = subparsers.add_parser(
        "render",
        help="render a conversation into the exact Kimi K2 prompt (for raw /completions)",
        description=(
            "Render a conversation (an OpenAI chat request with messages and tools, or a list of messages; "
            "- for stdin) into the prompt text a Kimi K2 model expects, or its token ids."
        ),
    )
    p.add_argument(
        "conversation", metavar="CONVERSATION.json", help="the request or message list; - for stdin"
    )
    p.add_argument(
        "--model",
        metavar="NAME",
        help=(
            f"the model whose template to use: {', '.join(MODELS)} or a Hugging Face name, @REVISION for "
            "an older template (default: the request's model, when it names one of these)"
        ),
    )
    p.add_argument(
        "--tools", metavar="TOOLS.json", help="the tools (a list, or a request file); overrides the file's"
    )
    p.add_argument(
        "--no-generation-prompt",
        dest="generation_prompt",
        action="store_false",
        help="leave out the opening of the assistant's turn",
    )
    thinking = p.add_mutually_exclusive_group()
    thinking.add_argument(
        "--thinking",
        dest="thinking",
        action="store_true",
        default=None,
        help="open the reasoning at the end of the prompt (the templates' thinking=true)",
    )
    thinking.add_argument(
        "--no-thinking",
        dest="thinking",
        action="store_false",
        help="leave reasoning off (K2.5, K2.6: the templates' thinking=false)",
    )
    p.add_argument("--preserve-thinking", action="store_true", default=None, help="keep all reasoning (K2.6)")
    p.add_argument("--normalize-ids", action="store_true", help="rewrite tool-call ids to functions.NAME:IDX")
    p.add_argument(
        "--plain-template", action="store_true", help="as a bare Jinja engine renders it (JSON tools)"
    )
    p.add_argument("--lenient", action="store_true", help="render what the template renders, without checks")
    p.add_argument("--ids", action="store_true", help="print the token ids (a JSON list) instead of the text")
    p.add_argument(
        "--vocab",
        metavar="PATH",
        help="with --ids: the Kimi model directory or its tiktoken.model (default: the vocabulary that ships "
        "with the package)",
    )
    p.set_defaults(handler=cmd_render)


def build_parser() -> argparse.ArgumentParser:
    ap = ArgumentParser(prog=PROG, description="Parse and render Kimi K2 raw output and prompts.")
    ap.add_argument("--version", action="version", version=f"{PROG} {__version__}")
    sub = ap.add_subparsers(dest="command", metavar="COMMAND", parser_class=ArgumentParser)
    sub.required = True
    p = sub.add_parser(
        "parse",
        help="parse raw model output into an OpenAI assistant message",
        description="Parse raw Kimi K2 output (a file, or - for stdin) into an OpenAI assistant message.",
    )
    p.add_argument("file", nargs="?", default="-", metavar="FILE", help="raw output; - or nothing for stdin")
    p.add_argument("--thinking", action="store_true", help="the prompt ended with <think>")
    p.add_argument("--stream", action="store_true", help="print the stream's chunks, one per line")
    p.add_argument(
        "--chunk-size", type=int, default=4, metavar="N", help="characters per fed chunk, with --stream"
    )
    p.add_argument("--tools", metavar="TOOLS.json", help="the request's tools (a list, or a request file)")
    p.add_argument(
        "--stop-reason",
        metavar="REASON",
        help=f"the engine's finish reason ({', '.join(STOP_REASONS)}) or a stop token id",
    )
    p.add_argument(
        "--diagnostics", action="store_true", help="print a table of diagnostics on stderr (if there are any)"
    )
    p.set_defaults(handler=cmd_parse)
    _add_render(sub)
    from .verification import add_parser as add_verification

    add_verification(sub)
    from .serve.cli import add_parser as add_serve

    add_serve(sub)
    from .constrain.cli import add_parser as add_grammar

    add_grammar(sub)
    from .fuzzing.cli import add_parser as add_fuzz

    add_fuzz(sub)
    return ap


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        code: int = args.handler(args)
    except UsageError as e:
        sys.stderr.write(f"{PROG}: {e}\n")
        return 2
    except ModuleNotFoundError as e:  # an optional extra a subcommand needs, not caught closer
        if not e.name or e.name.startswith("kimi_toolparse"):
            raise
        sys.stderr.write(f"{PROG}: {missing_extra(args.command, e.name)}\n")
        return 2
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        return 0
    return code


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
