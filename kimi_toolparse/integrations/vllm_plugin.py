"""vLLM plug-in: this project's parser as vLLM's ``kimi_toolparse`` tool parser and reasoning parser.

Load it with ``--tool-parser-plugin kimi_toolparse.integrations.vllm_plugin`` (or the file path that
``python -m kimi_toolparse.integrations.vllm_plugin --path`` prints) and select it with
``--tool-call-parser kimi_toolparse --reasoning-parser kimi_toolparse``. Pass the same plug-in to
``--reasoning-parser-plugin`` too: vLLM's engine-core process may be started by spawn, and there only that
flag's plug-in is imported.

Two paths (the README has the table of what each does):

- the default, through vLLM's public parser interfaces. The reasoning parser tells the serving layer
  that reasoning has ended at the prompt, so the tool parser sees the whole output and one
  :class:`~kimi_toolparse.StreamParser` per request produces reasoning, content and calls together
  (calls inside ``<think>``, reasoning that resumes after a section). Streaming works on text plus the
  step's token ids and is flushed at the end of the stream; non-streaming gets no token ids from vLLM, so
  it parses the text (marker text inside a JSON string is then a marker).
- the unified parser, opt-in with ``KIMI_TOOLPARSE_VLLM_UNIFIED=1``: the plug-in makes vLLM's
  ``ParserManager`` return :class:`KimiToolparseParser` for these names, which also reads the token ids of
  non-streaming results. vLLM has no public registry for unified parsers, so this is refused with a clear
  error on vLLM versions it was not tested with.
"""

from __future__ import annotations

import logging
import os
import sys
import threading
from collections.abc import Sequence
from typing import Any

import vllm

try:
    from vllm.entrypoints.generate.base.protocol import (
        DeltaFunctionCall,
        DeltaMessage,
        DeltaToolCall,
        ExtractedToolCallInformation,
        FunctionCall,
        ToolCall,
    )
    from vllm.parser.abstract_parser import Parser
    from vllm.reasoning import ReasoningParser, ReasoningParserManager
    from vllm.tool_parsers import ToolParser, ToolParserManager
except ImportError as error:  # an older vLLM, whose parser interfaces live elsewhere
    raise ImportError(
        f"kimi-toolparse: the vLLM plug-in is written for vLLM 0.33's parser interfaces, and vLLM "
        f"{getattr(vllm, '__version__', '?')} lacks them ({error}); upgrade vLLM to 0.33"
    ) from error

from kimi_toolparse import ParsedMessage, StreamParser, parse
from kimi_toolparse.integrations.deltas import merge_events
from kimi_toolparse.tokens import SPECIAL_IDS, THINK_BEGIN, THINK_END

__all__ = [
    "NAME",
    "TESTED_VLLM_VERSIONS",
    "KimiToolparseParser",
    "KimiToolparseReasoningParser",
    "KimiToolparseToolParser",
    "plugin_path",
    "to_delta_message",
    "use_unified_parser",
]

#: The name both parsers are registered under.
NAME = "kimi_toolparse"
#: vLLM releases the unified parser was tested with; the opt-in refuses others.
TESTED_VLLM_VERSIONS: tuple[str, ...] = ("0.33.0",)
#: Environment variable that opts in to the unified parser.
UNIFIED_ENV = "KIMI_TOOLPARSE_VLLM_UNIFIED"

_THINK_BEGIN_ID = SPECIAL_IDS[THINK_BEGIN]
_THINK_END_ID = SPECIAL_IDS[THINK_END]
_REASONING_ENDERS = frozenset(
    {_THINK_END_ID, SPECIAL_IDS["<|tool_calls_section_begin|>"], SPECIAL_IDS["<|tool_call_begin|>"]}
)


def plugin_path() -> str:
    """The file to pass to ``--tool-parser-plugin`` / ``--reasoning-parser-plugin`` by path."""
    return os.path.abspath(__file__)


def _prompt_opens_reasoning(prompt_token_ids: Sequence[int]) -> bool:
    """The prompt ends inside ``<think>`` (K2.5 and later): its last think token opens reasoning."""
    for token in reversed(prompt_token_ids):
        if token == _THINK_BEGIN_ID:
            return True
        if token == _THINK_END_ID:
            return False
    return False


def _request_tools(request: Any) -> list[dict[str, Any]] | None:
    tools = getattr(request, "tools", None)
    if not tools:
        return None
    return [tool.model_dump() if hasattr(tool, "model_dump") else dict(tool) for tool in tools]


def to_delta_message(delta: dict[str, Any] | None) -> DeltaMessage | None:
    """A merged OpenAI delta (:func:`~kimi_toolparse.integrations.deltas.merge_events`) as vLLM's type."""
    if delta is None:
        return None
    calls = [
        DeltaToolCall(
            index=call["index"],
            id=call.get("id"),
            type=call.get("type"),
            function=DeltaFunctionCall(
                name=call["function"].get("name"), arguments=call["function"].get("arguments")
            ),
        )
        for call in delta.get("tool_calls", ())
    ]
    return DeltaMessage(
        content=delta.get("content"), reasoning=delta.get("reasoning_content"), tool_calls=calls
    )


def _extracted(message: ParsedMessage) -> ExtractedToolCallInformation:
    view = message.to_openai()
    calls = [
        ToolCall(
            id=call["id"],
            function=FunctionCall(
                id=call["id"], name=call["function"]["name"], arguments=call["function"]["arguments"]
            ),
        )
        for call in view.get("tool_calls", ())
    ]
    return ExtractedToolCallInformation(tools_called=bool(calls), tool_calls=calls, content=view["content"])


class _Session:
    """What the reasoning and tool parser of one request share: the prompt's state and the last parse."""

    def __init__(self) -> None:
        self.thinking = False
        self.linked = False
        self.parsed: tuple[str, ParsedMessage] | None = None

    def parse(self, text: str, tools: list[dict[str, Any]] | None) -> ParsedMessage:
        if self.parsed is not None and self.parsed[0] == text:
            return self.parsed[1]
        message = parse(text, tools=tools, thinking=self.thinking)
        self.parsed = (text, message)
        return message


# vLLM builds a request's reasoning parser and then its tool parser in one synchronous call
# (``Parser.__init__``); the reasoning parser leaves its session here and the tool parser takes it.
_pending = threading.local()


class KimiToolparseReasoningParser(ReasoningParser):  # type: ignore[misc]
    """vLLM reasoning parser ``kimi_toolparse``.

    Next to this project's tool parser it only reads the prompt (does the output start inside
    ``<think>``?) and hands the whole output to the tool side, where one parser splits reasoning, content
    and calls. Alone (``--enable-auto-tool-choice`` off) it splits reasoning from content itself and drops
    the calls' markup. In vLLM's engine core, where it gates structured outputs, it answers
    ``is_reasoning_end`` from the token ids: after ``</think>``, or a tool-call section that interrupts
    reasoning.
    """

    engine_based_streaming = True

    def __init__(self, tokenizer: Any, *args: Any, **kwargs: Any) -> None:
        super().__init__(tokenizer, *args, **kwargs)
        self._session = _Session()
        self._serving = False
        self._stream: StreamParser | None = None
        _pending.session = self._session

    # --- reasoning state, for the serving layer and the engine core ---

    def set_prompt_token_ids(self, prompt_token_ids: Sequence[int]) -> None:
        self._serving = True
        self._session.thinking = _prompt_opens_reasoning(prompt_token_ids)

    def is_reasoning_end(self, input_ids: Sequence[int]) -> bool:
        if self._serving and self._session.linked:
            return True
        if self._serving:
            return False
        return not _prompt_opens_reasoning(input_ids)

    def is_reasoning_end_streaming(self, input_ids: Sequence[int], delta_ids: Sequence[int]) -> bool:
        if self._serving:
            return self._session.linked
        return any(token in _REASONING_ENDERS for token in delta_ids)

    def has_engine_confirmed_reasoning_end(self) -> bool:
        return self._session.linked

    def extract_content_ids(self, input_ids: list[int]) -> list[int]:
        return input_ids

    def adjust_request(self, request: Any) -> Any:
        request.skip_special_tokens = False
        return request

    # --- parsing ---

    def extract_reasoning(self, model_output: str, request: Any) -> tuple[str | None, str | None]:
        message = self._session.parse(model_output, _request_tools(request))
        if self._session.linked:
            return message.reasoning, model_output
        return message.reasoning, message.to_openai()["content"]

    def extract_reasoning_streaming(
        self,
        previous_text: str,
        current_text: str,
        delta_text: str,
        previous_token_ids: Sequence[int],
        current_token_ids: Sequence[int],
        delta_token_ids: Sequence[int],
    ) -> DeltaMessage | None:
        if self._session.linked:
            return DeltaMessage(content=delta_text)
        if self._stream is None:
            self._stream = StreamParser(thinking=self._session.thinking)
        events = self._stream.feed(delta_text, list(delta_token_ids))
        delta = merge_events(events)
        if delta is not None:
            delta.pop("tool_calls", None)
        return to_delta_message(delta or None)

    def finish_streaming(self) -> DeltaMessage | None:
        if self._stream is None or self._stream.closed:
            return None
        delta = merge_events(self._stream.close())
        if delta is not None:
            delta.pop("tool_calls", None)
        return to_delta_message(delta or None)


class KimiToolparseToolParser(ToolParser):  # type: ignore[misc]
    """vLLM tool parser ``kimi_toolparse``: one :class:`~kimi_toolparse.StreamParser` per request.

    Streaming feeds each step's text with its token ids (markers count by id, rule 4) and flushes the
    parser when the stream ends; the model's own call ids are kept. Used with this project's reasoning
    parser it also streams the reasoning.
    """

    engine_based_streaming = True

    def __init__(self, tokenizer: Any, tools: Any = None) -> None:
        super().__init__(tokenizer, tools)
        session: _Session | None = getattr(_pending, "session", None)
        _pending.session = None
        if session is None:
            session = _Session()
        else:
            session.linked = True
        self._session = session
        self._stream: StreamParser | None = None

    def adjust_request(self, request: Any) -> Any:
        request = super().adjust_request(request)
        request.skip_special_tokens = False
        return request

    def extract_tool_calls(self, model_output: str, request: Any) -> ExtractedToolCallInformation:
        return _extracted(self._session.parse(model_output, _request_tools(request)))

    def extract_tool_calls_streaming(
        self,
        previous_text: str,
        current_text: str,
        delta_text: str,
        previous_token_ids: Sequence[int],
        current_token_ids: Sequence[int],
        delta_token_ids: Sequence[int],
        request: Any,
    ) -> DeltaMessage | None:
        if self._stream is None:
            self._stream = StreamParser(tools=_request_tools(request), thinking=self._session.thinking)
        if self._stream.closed:
            return None
        return self._delta(merge_events(self._stream.feed(delta_text, list(delta_token_ids))))

    def finish_streaming(self) -> DeltaMessage | None:
        if self._stream is None or self._stream.closed:
            return None
        return self._delta(merge_events(self._stream.close()))

    def _delta(self, delta: dict[str, Any] | None) -> DeltaMessage | None:
        # Without this project's reasoning parser, vLLM has no reasoning channel in non-streaming
        # results; the stream leaves reasoning out too, so both give the same message.
        if delta is not None and not self._session.linked:
            delta.pop("reasoning_content", None)
        return to_delta_message(delta or None)


class KimiToolparseParser(Parser):  # type: ignore[misc]
    """vLLM unified parser (opt-in): reasoning, content and calls from one parser, token ids included.

    Unlike the default path it reads the token ids of non-streaming results, so marker text that ordinary
    tokens spell inside a JSON string is data there too.
    """

    reasoning_parser_cls = KimiToolparseReasoningParser
    tool_parser_cls = KimiToolparseToolParser

    def __init__(self, tokenizer: Any, tools: Any = None, *args: Any, **kwargs: Any) -> None:
        super().__init__(tokenizer, tools, *args, **kwargs)
        self._thinking = False
        self._stream: StreamParser | None = None

    def adjust_request(self, request: Any) -> Any:
        if self._tool_parser is not None:
            request = self._tool_parser.adjust_request(request)
        request.skip_special_tokens = False
        return request

    def set_prompt_token_ids(self, prompt_token_ids: Sequence[int]) -> None:
        self._thinking = _prompt_opens_reasoning(prompt_token_ids)

    def is_reasoning_end(self, input_ids: list[int]) -> bool:
        return not _prompt_opens_reasoning(input_ids)

    def parse(
        self,
        model_output: str,
        request: Any,
        enable_auto_tools: bool = False,
        model_output_token_ids: Sequence[int] = (),
    ) -> tuple[str | None, str | None, list[Any] | None]:
        stream = StreamParser(tools=_request_tools(request), thinking=self._thinking)
        if model_output_token_ids:
            stream.feed(model_output, list(model_output_token_ids))
        else:
            stream.feed(model_output)
        stream.close()
        view = stream.message.to_openai()
        calls = [
            FunctionCall(id=c["id"], name=c["function"]["name"], arguments=c["function"]["arguments"])
            for c in view.get("tool_calls", ())
        ]
        if not (enable_auto_tools and self._tool_parser is not None) or request.tool_choice == "none":
            calls = []
        return view["reasoning_content"], view["content"], calls

    def parse_delta(
        self,
        delta_text: str,
        delta_token_ids: list[int],
        request: Any,
        prompt_token_ids: list[int] | None = None,
        *,
        finished: bool,
    ) -> DeltaMessage | None:
        if self._stream is None:
            if prompt_token_ids is not None:
                self._thinking = _prompt_opens_reasoning(prompt_token_ids)
            self._stream = StreamParser(tools=_request_tools(request), thinking=self._thinking)
        if self._stream.closed:
            return None
        events = self._stream.feed(delta_text, list(delta_token_ids))
        if finished:
            events += self._stream.close()
        delta = merge_events(events)
        if delta is not None and not request.include_reasoning:
            delta.pop("reasoning_content", None)
        return to_delta_message(delta or None)


_unified: dict[str, bool] = {"on": False}


def use_unified_parser(on: bool = True) -> None:
    """Opt in to (or out of) :class:`KimiToolparseParser` for parsers vLLM composes from now on.

    What ``KIMI_TOOLPARSE_VLLM_UNIFIED=1`` does at import. Raises ``RuntimeError`` on a vLLM version the
    unified parser was not tested with.
    """
    if on:
        _install_unified()
    _unified["on"] = on


def _install_unified() -> None:
    """Make vLLM's ``ParserManager`` return :class:`KimiToolparseParser` for this plug-in's names."""
    if vllm.__version__ not in TESTED_VLLM_VERSIONS:
        raise RuntimeError(
            f"kimi-toolparse: {UNIFIED_ENV}=1 needs vLLM {' or '.join(TESTED_VLLM_VERSIONS)} (found "
            f"{vllm.__version__}); unset it to use the default tool and reasoning parsers"
        )
    from vllm.parser.parser_manager import ParserManager

    if getattr(ParserManager, "_kimi_toolparse_installed", False):
        return
    compose = ParserManager._compose_parser

    def _compose_parser(cls: Any, /, **kwargs: Any) -> Any:
        names = (kwargs.get("tool_parser_name"), kwargs.get("reasoning_parser_name"))
        if _unified["on"] and NAME in names:
            return KimiToolparseParser
        return compose(**kwargs)

    ParserManager._compose_parser = classmethod(_compose_parser)
    ParserManager._kimi_toolparse_installed = True


if vllm.__version__ not in TESTED_VLLM_VERSIONS:
    logging.getLogger(__name__).warning(
        "kimi-toolparse: the vLLM plug-in was tested with vLLM %s, this is %s",
        " and ".join(TESTED_VLLM_VERSIONS),
        vllm.__version__,
    )
ToolParserManager.register_module(NAME, module=KimiToolparseToolParser)
ReasoningParserManager.register_module(NAME, module=KimiToolparseReasoningParser)
if os.environ.get(UNIFIED_ENV, "") not in ("", "0"):
    use_unified_parser()


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m kimi_toolparse.integrations.vllm_plugin --path``: print the plug-in's file path."""
    args = list(sys.argv[1:] if argv is None else argv)
    if args != ["--path"]:
        print("usage: python -m kimi_toolparse.integrations.vllm_plugin --path", file=sys.stderr)
        return 2
    print(plugin_path())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
