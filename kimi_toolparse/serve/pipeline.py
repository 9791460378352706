"""The gateway's one pipeline: an internal request, its prompt, its upstream body, its parsed choices.

Every served API (a *dialect*) goes through the same steps, and only the first and the last are its own::

    wire request --dialect.read--> Request --plan()--> Plan (prompt, prefill, upstream body)
        --app + upstream.py--> raw pieces --Choice.events()--> parser events --dialect writer--> wire answer

Sans-IO: nothing here talks to the network (:mod:`.upstream` does, :mod:`.app` drives it).

The dialect interface (one module per API: :mod:`.chat` for chat completions, :mod:`.messages` for
Anthropic's Messages API; the Responses API is the next one), written down as :class:`Dialect` and
:class:`StreamWriter` for the type checker. A dialect is an object with:

``name``
    its label in the metrics and the log (``"chat"``, ``"messages"``).
``counts_prompt``
    True when its stream needs the prompt's token count before the upstream answers (Messages'
    ``message_start``); the app counts it with ``--tokenizer``, into ``Run.prompt_tokens``.
``read(data, config) -> Request``
    the parsed JSON body into a :class:`Request`, raising :class:`ApiError` (with ``param``) when it is
    not valid. Everything the wire format says about tools, sampling or thinking is translated here;
    nothing downstream looks at the wire shape again.
``choice(index, plan) -> Choice``
    the per-choice state: a :class:`Choice` (or a subclass holding the dialect's own stream state, e.g.
    which content block is open). The app feeds it upstream pieces through ``feed(text, ids)`` and ends
    it with ``close()``; both return whatever the writer takes (a list of pieces in the dialect's form).
``body(run) -> dict``
    the whole non-streamed answer from the finished :class:`Run` (its choices have been closed).
``writer(run)``
    the streamed answer's writer, one per request, with ``head() -> bytes`` (before the first piece),
    ``pieces(index, out) -> bytes`` (the SSE bytes for what one choice's ``feed`` returned), ``tail() ->
    bytes`` (closes the choices and writes their last pieces, the finish, the usage), ``error(error) ->
    bytes`` (the event that ends a stream whose upstream broke mid-way) and ``ping() -> bytes | None``
    (a keep-alive sent when the upstream is silent for a while, or None for none).
``error_status(error) -> int``, ``error_body(error, request_id) -> dict``
    an :class:`~.request.ApiError`'s status and body in the dialect's error shape.

``read``, ``body`` and the writer's ``tail`` may be coroutines: the Responses API reads the stored
conversation a request continues, and stores its answer before sending the body or the last event.

The internal request (:class:`~.request.Request`) and the dialect-neutral error
(:class:`~.request.ApiError`: status, ``kind``, message, parameter at fault, machine-readable ``code``;
each dialect maps ``kind`` to its own error types) live in :mod:`.request`.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Awaitable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from kimi_toolparse import (
    ArgumentsDelta,
    ContentDelta,
    ParsedMessage,
    ReasoningDelta,
    StreamParser,
    ToolCallEnd,
    ToolCallStart,
    Tools,
    ends_in_reasoning,
    render,
)
from kimi_toolparse.tokens import ARG_BEGIN, CALL_BEGIN, SECTION_BEGIN, SPECIAL_IDS, THINK_END

from .config import ServeConfig
from .request import ApiError, Request, ToolChoice
from .upstream import Target, completion_body, grammar_fields

__all__ = ["Choice", "Dialect", "Plan", "Run", "StreamWriter", "clamp_max_tokens", "plan", "render_prompt"]

#: Where an id list needs an ordinary token: only the number of ordinary ids between specials matters.
_ORDINARY = 0
_SPECIAL_RE = re.compile("|".join(re.escape(t) for t in sorted(SPECIAL_IDS, key=len, reverse=True)))
#: A call header written as text: the model meant a tool call, but no marker token came with it.
_VISIBLE_CALL = re.compile(r"functions\.[A-Za-z0-9_.\-]+:\d+")


@dataclass
class Plan:
    """What one request becomes."""

    request: Request
    template: str
    prompt: str
    prefill: str
    #: The output starts inside reasoning (the prompt ends in ``<think>``).
    thinking: bool
    tools: Tools | None
    #: The upstream completion request, without ``model`` (filled in by the app).
    upstream: dict[str, Any] = field(default_factory=dict)

    @property
    def choice(self) -> ToolChoice:
        return self.request.tool_choice

    @property
    def parallel(self) -> bool:
        return self.request.parallel_tool_calls


def _call_count(messages: Sequence[dict[str, Any]]) -> int:
    """Tool calls made so far in the conversation: the next call's ``functions.NAME:IDX`` index."""
    n = 0
    for m in messages:
        calls = m.get("tool_calls") if isinstance(m, dict) else None
        if isinstance(calls, list):
            n += len(calls)
    return n


def _tool_names(tools: Sequence[dict[str, Any]]) -> list[str]:
    names = []
    for t in tools:
        fn = t.get("function") if isinstance(t, dict) else None
        if isinstance(fn, dict) and isinstance(fn.get("name"), str):
            names.append(fn["name"])
    return names


def render_prompt(req: Request, template: str) -> str:
    """The exact prompt ``req`` renders to (without a prefill), or a 400 naming the field at fault."""
    tools = req.tools or None
    kwargs = dict(req.template_kwargs)
    if req.thinking is not None:
        kwargs["thinking"] = req.thinking
    try:
        return render(req.messages, tools, model=template, normalize_ids=req.normalize_ids, **kwargs)
    except TypeError as e:
        # render()'s refusal carries its parts; the client hears it in the request's terms
        unknown, known = getattr(e, "unknown", None), getattr(e, "known", None)
        msg = str(e)
        if unknown and known:
            msg = (
                f"{req.template_kwargs_param} has {', '.join(map(repr, unknown))}, which no Kimi template "
                f"reads (they read {', '.join(known)})"
            )
        raise ApiError(400, msg, param=req.template_kwargs_param) from None
    except ValueError as e:
        msg = getattr(e, "problem", None) or str(e)  # without render()'s keyword hints (strict=False, ...)
        param = "tools" if msg.startswith("tools") else "messages"
        raise ApiError(400, msg, param=param) from None


def plan(req: Request, template: str, target: Target) -> Plan:
    """Render the prompt, decide the prefill and the parser's settings, and build the upstream body.

    ``target`` is the engine and how it is sent to (see :class:`.upstream.Target`); with a grammar
    (``--grammar``) the engine enforces ``tool_choice`` itself, reasoning first on a thinking prompt, so
    nothing is prefilled."""
    tools = req.tools or None
    prefill = ""
    if req.tool_choice == "function":
        if req.tool_name not in _tool_names(tools or []):
            raise ApiError(
                400, f"tool_choice names {req.tool_name!r}, which is not in tools", param="tool_choice"
            )
        prefill = (
            f"{SECTION_BEGIN}{CALL_BEGIN}functions.{req.tool_name}:{_call_count(req.messages)}{ARG_BEGIN}"
        )
    elif req.tool_choice == "required":
        if not tools:
            raise ApiError(400, f'tool_choice "{req.tool_choice}" needs tools', param="tool_choice")
        prefill = SECTION_BEGIN
    prompt = render_prompt(req, template)
    thinking = ends_in_reasoning(prompt)
    constraint: dict[str, Any] = {}
    if target.grammar is not None and tools:
        constraint = grammar_fields(req, target, thinking)
        prefill = ""
    if prefill and thinking:
        # A forced call cannot wait for reasoning in one raw request: close <think> at once.
        prefill = THINK_END + prefill
    return Plan(
        request=req,
        template=template,
        prompt=prompt,
        prefill=prefill,
        thinking=thinking,
        tools=Tools(tools) if tools else None,
        upstream=completion_body(req, prompt + prefill, target, constraint),
    )


def clamp_max_tokens(plan: Plan, limit: int, prompt_tokens: int) -> None:
    """Lower the upstream's ``max_tokens`` to what a ``prompt_tokens`` prompt leaves of a ``limit``-token
    context (clients such as Claude Code ask for more than a small context holds); 400 if it leaves none."""
    room = limit - prompt_tokens
    if room < 1:
        raise ApiError(
            400,
            f"the prompt is {prompt_tokens} tokens: it leaves no room for an answer in the model's "
            f"{limit}-token context",
            param="messages",
            code="context_length_exceeded",
        )
    asked = plan.upstream.get("max_tokens")
    if asked is not None and asked > room:
        plan.upstream["max_tokens"] = room


def _prefill_ids(prefill: str) -> list[int]:
    """Ids standing for the prefill in token-id mode: its specials, and one ordinary id per text run."""
    ids: list[int] = []
    pos = 0
    for m in _SPECIAL_RE.finditer(prefill):
        if m.start() > pos:
            ids.append(_ORDINARY)
        ids.append(SPECIAL_IDS[m.group()])
        pos = m.end()
    if pos < len(prefill):
        ids.append(_ORDINARY)
    return ids


class Choice:
    """One choice: raw output pieces in, the parser's events out, with ``tool_choice`` and parallel rules.

    :meth:`events` and :meth:`end` return the events a client may see (calls dropped by ``tool_choice``
    "none" or by ``parallel_tool_calls`` false are not among them); a dialect subclass adds ``feed`` and
    ``close`` that turn them into its own pieces."""

    def __init__(self, index: int, plan: Plan) -> None:
        self.index = index
        self.plan = plan
        self.parser = StreamParser(tools=plan.tools, thinking=plan.thinking)
        self.started = False
        self.token_mode = False
        #: The upstream's ``finish_reason`` (``stop``, ``length``, ...) once it came.
        self.upstream_finish: str | None = None
        #: The upstream's ``stop_reason`` (vLLM: the stop string that matched, or a stop token id).
        self.upstream_stop: str | int | None = None
        self.dropped_calls = 0
        self.extra_diagnostics: list[dict[str, str]] = []
        #: Every event reaches the client (no ``tool_choice`` "none", parallel calls allowed).
        self._keeps_all = plan.choice != "none" and plan.parallel

    def _filter(self, events: list[Any]) -> list[Any]:
        if self._keeps_all:
            return events
        out = []
        for ev in events:
            kind = type(ev)
            if kind is ContentDelta or kind is ReasoningDelta:  # text always passes: no isinstance pairs
                out.append(ev)
                continue
            if isinstance(ev, (ToolCallStart, ArgumentsDelta, ToolCallEnd)) and (
                self.plan.choice == "none" or ev.openai_index >= 1
            ):
                if isinstance(ev, ToolCallStart):
                    self.dropped_calls += 1
                continue
            out.append(ev)
        return out

    def events(self, text: str, token_ids: list[int] | None) -> list[Any]:
        """The events of one upstream piece (token ids when the upstream sent them)."""
        if not self.started:
            first = self._filter(self._begin(token_ids is not None))
            return first + self.events(text, token_ids)
        if self.token_mode:  # the parser's own list, filtered, with no copy on the usual piece
            return self._filter(self.parser.feed(text, token_ids or []))
        return self._filter(self.parser.feed(text)) if text else []

    def _begin(self, token_mode: bool) -> list[Any]:
        """Start the stream (with token ids or text only, as its first piece came): the prefill's events."""
        self.started = True
        self.token_mode = token_mode
        if not self.plan.prefill:
            return []
        return self.parser.feed(self.plan.prefill, _prefill_ids(self.plan.prefill) if token_mode else None)

    def end(self) -> list[Any]:
        """The last events, once the upstream's output is over."""
        events = [] if self.started else self._begin(False)
        stop = self.upstream_finish if self.upstream_finish in ("length", "content_filter") else None
        out = self._filter(events + self.parser.close(stop_reason=stop))
        self._check()
        return out

    def _check(self) -> None:
        msg = self.parser.message
        n = self.dropped_calls
        if n and self.plan.choice == "none":
            text = f'tool_choice is "none": dropped the {n} tool call(s) the model made'
            self.extra_diagnostics.append({"code": "tool_calls_dropped", "message": text})
        elif n:
            text = f"parallel_tool_calls is false: kept the first call, dropped {n}"
            self.extra_diagnostics.append({"code": "parallel_calls_dropped", "message": text})
        if not msg.tool_calls:
            seen = _VISIBLE_CALL.search(msg.content) or _VISIBLE_CALL.search(msg.reasoning or "")
            if seen:
                self.extra_diagnostics.append(
                    {
                        "code": "markers_missing",
                        "message": (
                            f"the output names a tool call ({seen.group()}) but no tool-call marker came: "
                            "the "
                            "upstream strips special tokens; it must keep them (vLLM/SGLang: "
                            "skip_special_tokens=false, sent by --engine vllm or sglang)"
                        ),
                    }
                )

    @property
    def parsed(self) -> ParsedMessage:
        """The parser's message so far (every call, also those the rules drop: see :meth:`calls`)."""
        return self.parser.message

    def calls(self) -> list[Any]:
        """The tool calls a client gets: named ones, none for ``tool_choice`` none, one when not parallel."""
        if self.plan.choice == "none":
            return []
        calls = [c for c in self.parser.message.tool_calls if c.name is not None]
        return calls if self.plan.parallel else calls[:1]

    @property
    def finish_reason(self) -> str:
        """OpenAI's finish reason: ``stop``, ``length``, ``tool_calls`` or ``content_filter``."""
        reason = self.parser.message.finish_reason
        if reason == "tool_calls" and self.plan.choice == "none":
            return "stop"
        if reason == "tool_calls" and not any(c.name for c in self.parser.message.tool_calls):
            return "stop"
        return reason

    @property
    def diagnostics(self) -> list[dict[str, str]]:
        """Every diagnostic of this choice: the parser's and the gateway's."""
        return [
            {"code": str(d.code.value), "message": d.message} for d in self.parser.message.diagnostics
        ] + (self.extra_diagnostics)

    def message(self) -> dict[str, Any]:
        """The final assistant message in OpenAI's shape (the gateway's internal message form)."""
        msg: dict[str, Any] = self.parser.message.to_openai()
        calls = msg.get("tool_calls")
        if calls:
            if self.plan.choice == "none":
                del msg["tool_calls"]
            elif not self.plan.parallel:
                msg["tool_calls"] = calls[:1]
        return msg


@dataclass
class Run:
    """One request being answered: its id, plan and choices, and what the upstream said about it."""

    request_id: str
    plan: Plan
    choices: list[Any]
    #: Unix time the answer was created.
    created: int
    #: The upstream's last ``usage`` object.
    upstream_usage: dict[str, Any] | None = None
    #: The prompt's tokens as the gateway counted them (None when it did not need to).
    prompt_tokens: int | None = None

    @property
    def request(self) -> Request:
        return self.plan.request

    def usage(self) -> tuple[int, int]:
        """(prompt tokens, completion tokens) as the upstream counted them; 0 where it did not say."""
        p = c = 0
        u = self.upstream_usage
        if u:
            with contextlib.suppress(TypeError, ValueError):
                p = int(u.get("prompt_tokens") or 0)
                c = int(u.get("completion_tokens") or 0)
        return p, c


class StreamWriter(Protocol):
    """One streamed answer in a dialect's wire format (see the module's docstring)."""

    def head(self) -> bytes: ...

    def pieces(self, index: int, out: Any) -> bytes: ...

    def tail(self) -> bytes | Awaitable[bytes]: ...

    def error(self, error: ApiError) -> bytes: ...

    def ping(self) -> bytes | None: ...


class Dialect(Protocol):
    """A served API: its request shape in, its answer and error shapes out (see the module's docstring)."""

    name: str
    counts_prompt: bool

    def read(self, data: Any, config: ServeConfig) -> Request | Awaitable[Request]: ...

    def choice(self, index: int, plan: Plan) -> Any: ...

    def error_status(self, error: ApiError) -> int: ...

    def error_body(self, error: ApiError, request_id: str | None = None) -> dict[str, Any]: ...

    def body(self, run: Run) -> dict[str, Any] | Awaitable[dict[str, Any]]: ...

    def writer(self, run: Run) -> StreamWriter: ...
