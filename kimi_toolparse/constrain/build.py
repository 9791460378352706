"""The Kimi K2 tool-call grammar of one chat request, as an xgrammar structural tag, xgrammar EBNF or GBNF.

What the grammar lets the model write, in order: optional reasoning (``<think>…</think>``, or reasoning
then ``</think>`` when the prompt already ended with ``<think>``), content, then as ``tool_choice``
allows a tool-call section whose calls are ``functions.NAME:IDX`` with IDX counting on from the
conversation's calls and arguments valid against the tool's schema, then the end of the turn (the
engine's stop token: nothing may follow the section). Free text may not spell a marker (``<|``,
``<think>``, ``</think>``), so what the grammar accepts parses to exactly those calls.

Each tool's schema goes through the package's own JSON-schema converter (schema_grammar.py, which prints
xgrammar's EBNF dialect and needs no dependency) on its own; a schema it cannot convert leaves that tool
unconstrained (any JSON object) with a note, instead of failing the request.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import re
from collections.abc import Mapping, Sequence
from typing import Any, Literal

from .. import normalize_tool_call_ids, tokens
from .ebnf import (
    GBNF_JSON_STRING,
    builtins,
    embed_rules,
    no_marker_start_in_strings,
    quote,
    text_rules,
    to_gbnf,
)
from .schema_grammar import Unsupported, schema_rules

__all__ = [
    "FORMATS",
    "GrammarFormat",
    "SchemaNote",
    "ToolGrammar",
    "grammar_for",
    "grammar_for_request",
    "prompt_thinking",
]

GrammarFormat = Literal["structural-tag", "ebnf", "gbnf"]
FORMATS: tuple[GrammarFormat, ...] = ("structural-tag", "ebnf", "gbnf")

SECTION_BEGIN = tokens.SECTION_BEGIN
SECTION_END = tokens.SECTION_END
CALL_BEGIN = tokens.CALL_BEGIN
ARG_BEGIN = tokens.ARG_BEGIN
CALL_END = tokens.CALL_END
THINK_BEGIN = tokens.THINK_BEGIN
THINK_END = tokens.THINK_END

#: What free text may not contain in a structural tag: the special tokens a model writes (not the 240-odd
#: reserved ones), the singular section spellings, the think tags and the bracket spellings (markers to the
#: parser in text mode). Not ``<|`` as a whole, as in EBNF: xgrammar then never fires the section trigger.
TAG_TEXT_EXCLUDES: tuple[str, ...] = tuple(
    sorted(
        {t for t in tokens.SPECIAL_TOKENS.values() if not t.startswith("<|reserved_token_")}
        | {tokens.SINGULAR_SECTION_BEGIN, tokens.SINGULAR_SECTION_END}
    )
)
_TEXT_RULES = text_rules().rstrip("\n")
_TEXT_RULES_GBNF = to_gbnf(_TEXT_RULES)
_GBNF_JSON_STRING = no_marker_start_in_strings(to_gbnf(GBNF_JSON_STRING))
_SHARED_RULES = frozenset({"gbnf_string_chars"})

#: Arguments of a tool whose schema cannot be converted: any JSON object.
ANY_OBJECT: dict[str, Any] = {"type": "object", "additionalProperties": True}
#: Arguments of a tool without parameters (or ``parameters: true``): ``{}``, as the parser reads them.
EMPTY_OBJECT: dict[str, Any] = {"type": "object", "properties": {}, "additionalProperties": False}


@dataclasses.dataclass(frozen=True)
class SchemaNote:
    """A tool whose arguments the grammar does not constrain exactly, and why."""

    #: The tool's name.
    tool: str
    #: ``"unconstrained"`` (any JSON object: the schema could not be converted), ``"loosened"`` (converted,
    #: but some keywords are not enforced) or ``"excluded"`` (``parameters: false``: no call can be valid).
    kind: Literal["unconstrained", "loosened", "excluded"]
    #: What happened, for a person.
    message: str


@dataclasses.dataclass(frozen=True)
class ToolGrammar:
    """The grammar for one request, in one format, with what it could not enforce."""

    format: GrammarFormat
    #: The grammar: EBNF or GBNF text, or the structural tag as JSON text.
    text: str
    #: Per-tool notes (fallbacks and loosened keywords), in tool order.
    notes: tuple[SchemaNote, ...]
    #: IDX of the first call the model may write (the number of calls in the conversation).
    first_index: int
    #: The tools the model may call here (none under ``tool_choice: none``).
    tool_names: tuple[str, ...]

    def structural_tag(self) -> dict[str, Any]:
        """The structural tag as a dict: ``{"type": "structural_tag", "format": ...}`` (a fresh copy)."""
        if self.format != "structural-tag":
            raise ValueError(f"this grammar is {self.format}; build it with format='structural-tag'")
        value: dict[str, Any] = json.loads(self.text)
        return value

    def request_fields(self, engine: str) -> dict[str, Any]:
        """The fields to add to an OpenAI request for ``engine`` (``vllm``, ``sglang`` or ``llama.cpp``).

        vLLM takes the structural tag (JSON text) as ``structured_outputs.structural_tag`` and EBNF as
        ``structured_outputs.grammar`` (on chat and raw completions); SGLang takes the structural tag as
        ``response_format`` and EBNF as ``ebnf``; llama.cpp's server takes GBNF as ``grammar``.
        """
        if engine not in ("vllm", "sglang", "llama.cpp"):
            raise ValueError(f"unknown engine {engine!r}: use 'vllm', 'sglang' or 'llama.cpp'")
        if self.format == "structural-tag" and engine == "vllm":
            return {"structured_outputs": {"structural_tag": self.text}}
        if self.format == "structural-tag" and engine == "sglang":
            return {"response_format": self.structural_tag()}
        if self.format == "ebnf" and engine == "vllm":
            return {"structured_outputs": {"grammar": self.text}}
        if self.format == "ebnf" and engine == "sglang":
            return {"ebnf": self.text}
        if self.format == "gbnf" and engine == "llama.cpp":
            return {"grammar": self.text}
        wanted = "gbnf" if engine == "llama.cpp" else "structural-tag or ebnf"
        raise ValueError(f"{engine} does not take {self.format} grammars; build one as {wanted}")


# ----------------------------------------------------------------------------------------------------------
# Inputs


def _tool_list(tools: Any) -> list[tuple[str, Any]]:
    """(name, parameters) of each tool in OpenAI's shape; misuse raises TypeError/ValueError."""
    if tools is None:
        return []
    if isinstance(tools, (str, bytes)) or not isinstance(tools, Sequence):
        raise TypeError(f"tools must be a list of OpenAI tool dicts, not {type(tools).__name__}")
    out: list[tuple[str, Any]] = []
    seen: set[str] = set()
    for i, tool in enumerate(tools):
        if not isinstance(tool, Mapping):
            raise TypeError(f"tools[{i}] must be a dict like {{'type': 'function', 'function': {{...}}}}")
        function = tool.get("function", tool)
        name = function.get("name") if isinstance(function, Mapping) else None
        if not isinstance(name, str) or not name:
            raise ValueError(f"tools[{i}].function.name must be a non-empty string")
        if name in seen:
            raise ValueError(f"tools[{i}]: the name {name!r} is declared twice")
        seen.add(name)
        out.append((name, function.get("parameters")))
    return out


def _choice(tool_choice: Any, names: Sequence[str]) -> tuple[str, str | None]:
    """("none" | "auto" | "required" | "named", the named function)."""
    if tool_choice is None:
        tool_choice = "auto"
    if isinstance(tool_choice, str):
        if tool_choice not in ("auto", "required", "none"):
            raise ValueError(
                f"tool_choice {tool_choice!r} is not one of 'auto', 'required', 'none' "
                "or {'type': 'function', 'function': {'name': ...}}"
            )
        if tool_choice == "required" and not names:
            raise ValueError("tool_choice 'required' needs at least one tool")
        return tool_choice, None
    if isinstance(tool_choice, Mapping):
        function = tool_choice.get("function")
        name = function.get("name") if isinstance(function, Mapping) else None
        if isinstance(name, str):
            if name not in names:
                raise ValueError(f"tool_choice names {name!r}, which is not among the tools")
            return "named", name
    raise ValueError(
        "tool_choice must be 'auto', 'required', 'none' or {'type': 'function', 'function': {'name': ...}}"
    )


def _count_calls(messages: Any) -> int:
    if messages is None:
        return 0
    if isinstance(messages, (str, bytes)) or not isinstance(messages, Sequence):
        raise TypeError(f"messages must be a list of message dicts, not {type(messages).__name__}")
    return normalize_tool_call_ids(
        [dict(m) if isinstance(m, Mapping) else m for m in messages], strict=False
    ).next_index


# ----------------------------------------------------------------------------------------------------------
# Schemas


#: llama.cpp copies a rule once per repetition of ``x{m,n}``: larger bounds are left out of GBNF.
GBNF_MAX_REPEAT = 1000
_REPEAT = re.compile(r"\{(\d+),\s*(-?\d+)\}")


@dataclasses.dataclass(frozen=True)
class _Converted:
    schema: Any  # what the structural tag carries
    ebnf: str  # its grammar in xgrammar's EBNF dialect (start rule ``root``)
    note: SchemaNote | None


@functools.lru_cache(maxsize=1024)
def _convert(name: str, schema_json: str) -> _Converted:
    """One tool's arguments grammar from the schema converter, or the fallback with a note."""
    schema = json.loads(schema_json)
    if schema is None or schema is True:
        schema = EMPTY_OBJECT
    note: SchemaNote | None = None
    if not isinstance(schema, dict):
        note = SchemaNote(
            name, "unconstrained", f"parameters is not a JSON schema object: {schema_json[:80]}"
        )
        schema = ANY_OBJECT
    try:
        converted = schema_rules(schema)
    except Unsupported as e:
        note = SchemaNote(
            name, "unconstrained", f"cannot convert its schema ({str(e)[:200]}); any JSON object"
        )
        schema = ANY_OBJECT
        converted = schema_rules(schema)
    if note is None and converted.loosened:
        note = SchemaNote(name, "loosened", "not enforced: " + ", ".join(converted.loosened))
    return _Converted(schema, converted.text, note)


# ----------------------------------------------------------------------------------------------------------
# Building


def grammar_for(
    tools: Sequence[Mapping[str, Any]] | None,
    *,
    messages: Sequence[Mapping[str, Any]] | None = None,
    tool_choice: str | Mapping[str, Any] | None = "auto",
    parallel_tool_calls: bool = True,
    thinking: bool = False,
    format: GrammarFormat = "structural-tag",
    max_calls: int = 8,
    cache: bool = True,
    marker_ids: bool = True,
) -> ToolGrammar:
    """The grammar that lets a Kimi K2 model write only well-formed output for these tools.

    ``messages``: the conversation so far; IDX of the first call is the number of calls in it.
    ``tool_choice``: ``auto`` (content, calls or both), ``required`` (at least one call), a named
    function (exactly that one), ``none`` (no section). ``parallel_tool_calls``: up to ``max_calls``
    calls in the section, else one. ``thinking``: the prompt ended with ``<think>`` (K2.5 and later with
    thinking on), so the output starts inside reasoning and must close it; otherwise a leading
    ``<think>…</think>`` is optional. ``cache``: reuse the grammar built for the same tool list and options.
    ``marker_ids`` (GBNF only): name the markers by token id (``<[163597]>``, llama.cpp's token syntax), so
    only the real special tokens open and close a call, never their spelling in ordinary tokens; False
    writes them as text (for a GBNF reader without token syntax). In GBNF no JSON string may hold ``<|``.
    """
    if format not in FORMATS:
        raise ValueError(f"format {format!r} is not one of {', '.join(FORMATS)}")
    if not isinstance(max_calls, int) or isinstance(max_calls, bool) or max_calls < 1:
        raise ValueError("max_calls must be an int of at least 1")
    first_index = _count_calls(messages)
    key_tools = _tool_list(tools)
    try:
        # keys keep their order: an object's properties are written in the order the schema declares them
        tools_key = json.dumps(key_tools, ensure_ascii=False)
    except (TypeError, ValueError) as e:
        raise ValueError(f"tools must be JSON data: {e}") from None
    choice, named = _choice(tool_choice, [name for name, _ in key_tools])
    args = (
        tools_key,
        choice,
        named,
        bool(parallel_tool_calls),
        bool(thinking),
        format,
        first_index,
        max_calls,
        bool(marker_ids) and format == "gbnf",
    )
    if cache:
        return _build_cached(*args)
    return _build(*args)


@functools.lru_cache(maxsize=256)
def _build_cached(*args: Any) -> ToolGrammar:
    return _build(*args)


def _build(
    tools_key: str,
    choice: str,
    named: str | None,
    parallel: bool,
    thinking: bool,
    format: GrammarFormat,
    first_index: int,
    max_calls: int,
    marker_ids: bool,
) -> ToolGrammar:
    declared = json.loads(tools_key)
    notes: list[SchemaNote] = []
    callable_tools: list[tuple[str, _Converted]] = []
    if choice != "none":
        for name, parameters in declared:
            if named is not None and name != named:
                continue
            if parameters is False:
                notes.append(SchemaNote(name, "excluded", "parameters is false: no arguments are valid"))
                continue
            converted = _convert(name, json.dumps(parameters, ensure_ascii=False))
            if converted.note is not None:
                notes.append(converted.note)
            callable_tools.append((name, converted))
    if choice in ("required", "named") and not callable_tools:
        raise ValueError("tool_choice asks for a call, but no tool can be called (parameters: false)")
    if not callable_tools:
        choice = "none"
    positions = max_calls if parallel else 1
    if format == "structural-tag":
        text = _structural_tag(callable_tools, choice, thinking, first_index, positions)
    else:
        if format == "gbnf":
            callable_tools = [(name, _for_gbnf(name, conv, notes)) for name, conv in callable_tools]
        text = _ebnf(
            callable_tools, choice, thinking, first_index, positions, gbnf=format == "gbnf", ids=marker_ids
        )
    return ToolGrammar(format, text, tuple(notes), first_index, tuple(name for name, _ in callable_tools))


def _for_gbnf(name: str, conv: _Converted, notes: list[SchemaNote]) -> _Converted:
    """The tool's grammar without xgrammar builtins: a ``Regex(..., json_string=true)`` (a string pattern
    with length limits) becomes any string; any other builtin makes the tool unconstrained."""
    ebnf = conv.ebnf
    wide = [m for m in _REPEAT.finditer(ebnf) if max(int(m.group(1)), int(m.group(2))) > GBNF_MAX_REPEAT]
    if wide:

        def narrow(m: re.Match[str]) -> str:
            low, high = int(m.group(1)), int(m.group(2))
            return (
                m.group(0)
                if max(low, high) <= GBNF_MAX_REPEAT
                else f"{{{0 if low > GBNF_MAX_REPEAT else low}, -1}}"
            )

        ebnf = _REPEAT.sub(narrow, ebnf)
        message = (
            f"GBNF engines unroll repetitions: bounds over {GBNF_MAX_REPEAT} (length, items) not enforced"
        )
        notes.append(SchemaNote(name, "loosened", message))
        conv = _Converted(conv.schema, ebnf, None)
    calls = builtins(ebnf)
    if not calls:
        return conv
    if all("json_string=true" in call for call in calls):
        for call in calls:
            ebnf = ebnf.replace(call, "gbnf_string_chars")
        notes.append(SchemaNote(name, "loosened", "GBNF cannot express a string pattern: any string there"))
        return _Converted(conv.schema, ebnf, None)
    fallback = _convert(name, json.dumps(ANY_OBJECT))
    notes.append(
        SchemaNote(
            name,
            "unconstrained",
            "GBNF cannot express xgrammar's "
            + ", ".join(sorted({c.split("(")[0] for c in calls}))
            + "; any JSON object",
        )
    )
    return fallback


def _structural_tag(
    tools: list[tuple[str, _Converted]], choice: str, thinking: bool, first: int, positions: int
) -> str:
    def text(excludes: Sequence[str] = TAG_TEXT_EXCLUDES) -> dict[str, Any]:
        return {"type": "any_text", "excludes": list(excludes)}

    def call_at(k: int) -> dict[str, Any]:
        tags = [
            {
                "type": "tag",
                "begin": f"{CALL_BEGIN}functions.{name}:{first + k}{ARG_BEGIN}",
                "content": {"type": "json_schema", "json_schema": conv.schema},
                "end": CALL_END,
            }
            for name, conv in tools
        ]
        return tags[0] if len(tags) == 1 else {"type": "or", "elements": tags}

    calls: dict[str, Any] = call_at(positions - 1)
    for k in range(positions - 2, -1, -1):
        calls = {"type": "sequence", "elements": [call_at(k), {"type": "optional", "content": calls}]}
    section = {"type": "tag", "begin": SECTION_BEGIN, "content": calls, "end": SECTION_END}

    if choice == "none":
        body: dict[str, Any] = text()
    elif choice == "auto":
        body = {
            "type": "triggered_tags",
            "triggers": [SECTION_BEGIN],
            "tags": [section],
            "stop_after_first": True,
            "excludes": [t for t in TAG_TEXT_EXCLUDES if t != SECTION_BEGIN],
        }
    else:
        body = {
            "type": "sequence",
            "elements": [
                {"type": "tag", "begin": "", "content": text(), "end": SECTION_BEGIN},
                calls,
                {"type": "const_string", "value": SECTION_END},
            ],
        }
    if thinking:
        reasoning: dict[str, Any] = {"type": "tag", "begin": "", "content": text(), "end": THINK_END}
    else:
        reasoning = {
            "type": "optional",
            "content": {"type": "tag", "begin": THINK_BEGIN, "content": text(), "end": THINK_END},
        }
    root = {"type": "structural_tag", "format": {"type": "sequence", "elements": [reasoning, body]}}
    return json.dumps(root, ensure_ascii=False)


@functools.lru_cache(maxsize=1024)
def _embedded(ebnf: str, index: int, gbnf: bool) -> str:
    """A tool's argument rules under the names ``args_INDEX_…`` (``args-INDEX-…`` in GBNF)."""
    rules, _root = embed_rules(ebnf, f"args_{index}_", keep=_SHARED_RULES)
    return (no_marker_start_in_strings(to_gbnf(rules)) if gbnf else rules).rstrip("\n")


def _ebnf(
    tools: list[tuple[str, _Converted]],
    choice: str,
    thinking: bool,
    first: int,
    positions: int,
    *,
    gbnf: bool,
    ids: bool = False,
) -> str:
    s = "-" if gbnf else "_"  # llama.cpp's rule names have no underscore

    def m(marker: str) -> str:
        """A marker: by token id (llama.cpp's ``<[ID]>``) or as its text."""
        return f"<[{tokens.SPECIAL_IDS[marker]}]>" if ids else quote(marker)

    rules: list[str] = []
    reasoning = f"text {m(THINK_END)}" if thinking else f"({m(THINK_BEGIN)} text {m(THINK_END)})?"
    body = {"none": "text", "auto": "text section?"}.get(choice, "text section")
    rules.append(f"root ::= {reasoning} {body}")
    if choice != "none":
        rules.append(f"section ::= {m(SECTION_BEGIN)} calls{s}0 {m(SECTION_END)}")
        for k in range(positions):
            nxt = f" calls{s}{k + 1}?" if k + 1 < positions else ""
            rules.append(f"calls{s}{k} ::= call{s}{k}{nxt}")
            heads = " | ".join(
                f"{quote(f'{name}:{first + k}')} {m(ARG_BEGIN)} args{s}{i}{s}root"
                for i, (name, _) in enumerate(tools)
            )
            rules.append(f"call{s}{k} ::= {m(CALL_BEGIN)} {quote('functions.')} ({heads}) {m(CALL_END)}")
    rules.append(_TEXT_RULES_GBNF if gbnf else _TEXT_RULES)
    if choice != "none":
        rules.extend(_embedded(conv.ebnf, i, gbnf) for i, (_, conv) in enumerate(tools))
        if gbnf and any("gbnf_string_chars" in conv.ebnf for _, conv in tools):
            rules.append(_GBNF_JSON_STRING)
    return "\n".join(rules) + "\n"


def grammar_for_request(
    request: Mapping[str, Any],
    *,
    format: GrammarFormat = "structural-tag",
    thinking: bool | None = None,
    max_calls: int = 8,
    marker_ids: bool = True,
) -> ToolGrammar:
    """The grammar for an OpenAI chat request: its ``messages``, ``tools``, ``tool_choice`` and
    ``parallel_tool_calls``.

    ``thinking`` (whether the prompt ends with ``<think>``) defaults to what the request's own prompt
    says, as a gateway reads it: the prompt its ``model``'s template renders for its messages, tools and
    ``chat_template_kwargs`` (``kimi-k2.5`` thinks unless ``thinking`` is false there; ``kimi-k2.7-code``
    always does; :func:`prompt_thinking`). A request without ``model``, or whose ``model`` is no Kimi
    model this package knows (a provider's name for it), falls back to ``chat_template_kwargs.thinking``
    (False when absent): pass ``thinking`` then."""
    if not isinstance(request, Mapping):
        raise TypeError(f"request must be an OpenAI chat request dict, not {type(request).__name__}")
    if thinking is None:
        thinking = prompt_thinking(request)
    if thinking is None:
        thinking = bool(_template_kwargs(request).get("thinking", False))
    tools = request.get("tools")
    tool_choice = request.get("tool_choice")
    if tool_choice is None:
        tool_choice = "auto" if tools else "none"
    parallel = request.get("parallel_tool_calls")
    return grammar_for(
        tools,
        messages=request.get("messages"),
        tool_choice=tool_choice,
        parallel_tool_calls=True if parallel is None else bool(parallel),
        thinking=thinking,
        format=format,
        max_calls=max_calls,
        marker_ids=marker_ids,
    )


def prompt_thinking(request: Mapping[str, Any]) -> bool | None:
    """Whether the prompt the request's ``model`` renders for it (messages, tools, ``chat_template_kwargs``)
    ends inside reasoning, as a gateway reads it (``ends_in_reasoning``); None when the request names no
    model, or one that is no Kimi model this package knows. ValueError when the request cannot be
    rendered (bad messages or template kwargs)."""
    from .. import ends_in_reasoning, render

    model = request.get("model")
    if not isinstance(model, str):
        return None
    try:
        render([{"role": "user", "content": ""}], model=model)
    except (TypeError, ValueError):
        return None  # the name selects no template
    try:
        prompt = render(
            request.get("messages") or [], request.get("tools"), model=model, **_template_kwargs(request)
        )
    except TypeError as e:
        raise ValueError(str(e)) from None
    return ends_in_reasoning(prompt)


def _template_kwargs(request: Mapping[str, Any]) -> Mapping[str, Any]:
    kwargs = request.get("chat_template_kwargs") or {}
    if not isinstance(kwargs, Mapping):
        raise ValueError("chat_template_kwargs must be an object")
    return kwargs
