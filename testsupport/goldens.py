#!/usr/bin/env python3
"""Make ``fixtures/render/goldens.json``: Kimi K2 prompts rendered by the official chat templates.

The oracle is the official ``chat_template.jinja`` of each model (from ``fixtures/reference/templates/``)
rendered with Jinja the way transformers does it (a sandboxed environment with trim_blocks, lstrip_blocks
and loopcontrols, its own ``tojson``, ``raise_exception`` and ``strftime_now``), with the kwargs the official
tokenizer adds: the tools sorted by key at every depth, and for K2.5 and later ``tools_ts_str``.

The conversations are the 99 real requests of ``k2vv/requests.jsonl`` (their Moonshot-internal role
``_input`` mapped to ``system``) and the edge cases below, each rendered for every model and every
combination of the kwargs its template reads, with and without the generation prompt.

Strict-mode cases are rendered from the conversation as transformers >= 5 hands it to the template (null
fields dropped, reasoning aliased to ``reasoning_content``), lenient cases from the conversation as it is.
Where a template fails on a (lenient) case, the case records the error instead of a prompt.

    python -m testsupport.goldens            # rewrite the goldens
    python -m testsupport.goldens --check    # exit 1 if they are out of date

The tests and benchmarks import this module for the oracle (``jinja_environment``, ``oracle_render``,
``transformers_view``) and the committed goldens (``load_committed``, ``first_difference``).
"""

from __future__ import annotations

import argparse
import copy
import difflib
import functools
import hashlib
import json
import sys
from datetime import datetime
from pathlib import Path
from typing import Any

from testsupport.paths import FIXTURES, REFERENCE, ROOT

GOLDENS = FIXTURES / "render" / "goldens.json"

if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from kimi_toolparse.rendering.templates import REVISIONS  # noqa: E402
from kimi_toolparse.rendering.typescript import deep_sort, render_tools_typescript  # noqa: E402

#: The official template of each model under ``reference/templates/``: the newest, and every older revision
#: the renderer supports (``history/DATE_REVISION_...jinja``).
TEMPLATE_FILES: dict[str, str] = {
    "kimi-k2-instruct": "Kimi-K2-Instruct/chat_template.jinja",
    "kimi-k2-instruct-0905": "Kimi-K2-Instruct-0905/chat_template.jinja",
    "kimi-k2-thinking": "Kimi-K2-Thinking/chat_template.jinja",
    "kimi-k2.5": "Kimi-K2.5/chat_template.jinja",
    "kimi-k2.6": "Kimi-K2.6/chat_template.jinja",
    "kimi-k2.7-code": "Kimi-K2.7-Code/chat_template.jinja",
}

#: Every combination of the kwargs each template reads (K2.7-Code ignores ``thinking``: checked too).
KWARG_COMBOS: dict[str, list[dict[str, bool]]] = {
    "kimi-k2-instruct": [{}],
    "kimi-k2-instruct-0905": [{}],
    "kimi-k2-thinking": [{}],
    "kimi-k2.5": [{}, {"thinking": True}, {"thinking": False}],
    "kimi-k2.6": [
        {},
        {"thinking": True, "preserve_thinking": False},
        {"thinking": False},
        {"preserve_thinking": True},
        {"thinking": False, "preserve_thinking": True},
    ],
    "kimi-k2.7-code": [{}, {"thinking": False}],
}


def _history_file(name: str, repo: str, revision: str) -> str:
    folder = repo.split("/", 1)[1]
    found = sorted((REFERENCE / "templates" / folder / "history").glob(f"*_{revision}_*.jinja"))
    return f"{folder}/history/{found[0].name}" if found else f"{folder}/history/MISSING_{revision}.jinja"


TEMPLATE_FILES.update({name: _history_file(name, t.repo, t.revision) for name, t in REVISIONS.items()})
KWARG_COMBOS.update({name: [{}] for name in REVISIONS})

TYPESCRIPT_MODELS = frozenset({"kimi-k2.5", "kimi-k2.6", "kimi-k2.7-code"})


# --- the oracle ----------------------------------------------------------------------------------------


def jinja_environment() -> Any:
    """A Jinja environment configured as transformers configures the one it renders chat templates with."""
    import jinja2
    import jinja2.ext
    from jinja2.sandbox import ImmutableSandboxedEnvironment

    def raise_exception(message: str) -> None:
        raise jinja2.exceptions.TemplateError(message)

    def tojson(
        value: Any,
        ensure_ascii: bool = False,
        indent: Any = None,
        separators: Any = None,
        sort_keys: bool = False,
    ) -> str:
        # transformers replaces Jinja's tojson (which escapes HTML) with plain json.dumps and these options
        return json.dumps(
            value, ensure_ascii=ensure_ascii, indent=indent, separators=separators, sort_keys=sort_keys
        )

    def strftime_now(fmt: str) -> str:
        return datetime.now().strftime(fmt)

    env = ImmutableSandboxedEnvironment(
        trim_blocks=True, lstrip_blocks=True, extensions=[jinja2.ext.loopcontrols]
    )
    env.filters["tojson"] = tojson
    env.globals["raise_exception"] = raise_exception
    env.globals["strftime_now"] = strftime_now
    return env


def template_path(model: str) -> Path:
    return REFERENCE / "templates" / TEMPLATE_FILES[model]


@functools.cache
def compiled_template(model: str) -> Any:
    """The official template of a model, compiled once."""
    return jinja_environment().from_string(template_path(model).read_text(encoding="utf-8"))


def official_tool_kwargs(model: str, tools: Any, plain_template: bool = False) -> dict[str, Any]:
    """``tools`` (and ``tools_ts_str``) as the official tokenizer passes them to its template.

    The tokenizer sorts the tools recursively; for K2.5+ it also encodes them in TypeScript style and, when
    its encoder raises, leaves ``tools_ts_str`` out so the template declares JSON. ``plain_template``: what a
    bare Jinja engine passes (the tools as they are, nothing else).
    """
    if plain_template:
        return {"tools": tools}
    tools = deep_sort(tools)
    kwargs: dict[str, Any] = {"tools": tools}
    if model in TYPESCRIPT_MODELS and tools:
        try:
            kwargs["tools_ts_str"] = render_tools_typescript(tools, sort_keys=False)
        except Exception:  # the tokenizer catches everything and lets the template declare JSON
            kwargs.pop("tools_ts_str", None)
    return kwargs


def oracle_render(
    model: str,
    messages: list[dict[str, Any]],
    tools: Any = None,
    *,
    add_generation_prompt: bool = True,
    plain_template: bool = False,
    **template_kwargs: Any,
) -> str:
    """The prompt the official template renders (messages are passed to the template as they are)."""
    kwargs = official_tool_kwargs(model, tools, plain_template)
    rendered: str = compiled_template(model).render(
        messages=messages, add_generation_prompt=add_generation_prompt, **kwargs, **template_kwargs
    )
    return rendered


def transformers_view(messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The messages as transformers >= 5 hands them to the template: null keys dropped, reasoning aliased."""
    out = []
    for message in messages:
        m = {k: v for k, v in message.items() if v is not None}
        reasoning = next((m[k] for k in ("reasoning_content", "thinking", "reasoning") if k in m), None)
        if reasoning is not None:
            m = {"thinking": reasoning, **m, "reasoning_content": reasoning}
        out.append(m)
    return out


# --- conversations -------------------------------------------------------------------------------------

WEATHER_TOOL = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": (
            "Get weather information. Call this tool when the user needs to get weather information"
        ),
        "parameters": {
            "type": "object",
            "required": ["city"],
            "properties": {"city": {"type": "string", "description": "City name"}},
        },
    },
}

SEARCH_TOOL = {
    "type": "function",
    "function": {
        "name": "web_search",
        "description": "Search the web.\n\nReturns the top results.",
        "parameters": {
            "type": "object",
            "properties": {
                "query": {"type": "string", "description": "What to search for", "minLength": 1},
                "limit": {"type": "integer", "default": 5, "minimum": 1, "maximum": 20},
                "lang": {"enum": ["en", "zh"], "type": "string"},
                "filters": {
                    "type": "object",
                    "properties": {"site": {"type": ["string", "null"]}, "after": {"$ref": "#/$defs/Date"}},
                    "additionalProperties": False,
                },
                "tags": {"type": "array", "items": {"type": "string", "description": "a tag"}, "maxItems": 3},
            },
            "required": ["query"],
            "$defs": {
                "Date": {"type": "string", "description": "ISO date", "pattern": "^\\d{4}-\\d{2}-\\d{2}$"}
            },
        },
    },
}

#: The TypeScript encoder fails on this one (a $ref into $defs/group/items): the template falls back to JSON.
BROKEN_REF_TOOL = {
    "type": "function",
    "function": {
        "name": "tree",
        "description": "A schema the TypeScript encoder rejects.",
        "parameters": {
            "$defs": {
                "group": {
                    "items": {"additionalProperties": {"$ref": "#/$defs/group/items"}, "type": "object"},
                    "type": "array",
                }
            },
            "properties": {"root": {"$ref": "#/$defs/group/items"}},
            "type": "object",
        },
    },
}

PLUGIN_TOOL = {"type": "_plugin", "_plugin": {"name": "browser"}}


def _call(call_id: str | None, name: str, arguments: Any) -> dict[str, Any]:
    call: dict[str, Any] = {"type": "function", "function": {"name": name, "arguments": arguments}}
    if call_id is not None:
        call["id"] = call_id
    return call


def edge_cases() -> list[dict[str, Any]]:
    """Our own conversations: every branch of every template, and the inputs real servers send."""
    sys_msg = {"role": "system", "content": "You are a helpful assistant."}
    cases: list[dict[str, Any]] = [
        {"name": "system_user", "messages": [sys_msg, {"role": "user", "content": "Hello!"}]},
        {"name": "user_only_default_system", "messages": [{"role": "user", "content": "Hello!"}]},
        {
            "name": "system_not_first",
            "messages": [
                {"role": "user", "content": "Hi"},
                {"role": "system", "content": "Be brief."},
                {"role": "user", "content": "Now?"},
            ],
        },
        {
            "name": "tools_user",
            "tools": [WEATHER_TOOL],
            "messages": [sys_msg, {"role": "user", "content": "What's the weather like in Beijing today?"}],
        },
        {
            "name": "tool_call_and_result",
            "tools": [WEATHER_TOOL],
            "messages": [
                {"role": "user", "content": "What's the weather like in Beijing today?"},
                {
                    "role": "assistant",
                    "content": None,
                    "reasoning_content": "I should call the weather tool.",
                    "tool_calls": [_call("functions.get_weather:0", "get_weather", {"city": "Beijing"})],
                },
                {
                    "role": "tool",
                    "name": "get_weather",
                    "tool_call_id": "functions.get_weather:0",
                    "content": '{"weather": "Sunny"}',
                },
            ],
        },
        {
            "name": "parallel_calls_list_content",
            "tools": [WEATHER_TOOL],
            "messages": [
                {"role": "user", "content": "Weather in Beijing and Shanghai?"},
                {
                    "role": "assistant",
                    "content": "Let me check both.",
                    "tool_calls": [
                        _call("functions.get_weather:0", "get_weather", {"city": "Beijing"}),
                        _call("functions.get_weather:1", "get_weather", '{"city": "Shanghai"}'),
                    ],
                },
                {
                    "role": "tool",
                    "tool_call_id": "functions.get_weather:0",
                    "content": [{"type": "text", "text": "Sunny"}],
                },
                {
                    "role": "tool",
                    "tool_call_id": "functions.get_weather:1",
                    "content": [{"type": "text", "text": "Rainy"}],
                },
            ],
        },
        {
            "name": "multiturn_reasoning",
            "messages": [
                sys_msg,
                {"role": "user", "content": "What is 2+2?"},
                {"role": "assistant", "content": "4", "reasoning_content": "HIST_THINK_A"},
                {"role": "user", "content": "And 3+3?"},
                {"role": "assistant", "content": "6", "reasoning_content": "CUR_THINK_B"},
            ],
        },
        {
            "name": "multiturn_reasoning_open",
            "messages": [
                sys_msg,
                {"role": "user", "content": "What is 2+2?"},
                {"role": "assistant", "content": "4", "reasoning_content": "HIST_THINK_A"},
                {"role": "user", "content": "And 3+3?"},
            ],
        },
        {
            "name": "agent_loop",
            "tools": [WEATHER_TOOL, SEARCH_TOOL],
            "messages": [
                sys_msg,
                {"role": "user", "content": "Plan a picnic in Paris."},
                {
                    "role": "assistant",
                    "content": "",
                    "reasoning_content": "Check the weather first.",
                    "tool_calls": [_call("functions.get_weather:0", "get_weather", {"city": "Paris"})],
                },
                {"role": "tool", "tool_call_id": "functions.get_weather:0", "content": "Sunny, 24°C"},
                {
                    "role": "assistant",
                    "content": "Now parks.",
                    "reasoning_content": "Weather is fine; find parks.",
                    "tool_calls": [
                        _call(
                            "functions.web_search:1",
                            "web_search",
                            {"query": "best picnic parks Paris", "limit": 3},
                        )
                    ],
                },
                {
                    "role": "tool",
                    "tool_call_id": "functions.web_search:1",
                    "content": "Parc des Buttes-Chaumont",
                },
                {
                    "role": "assistant",
                    "content": "Go to Buttes-Chaumont.",
                    "reasoning_content": "Answer now.",
                },
                {"role": "user", "content": "And tomorrow?"},
                {
                    "role": "assistant",
                    "content": None,
                    "reasoning_content": "Weather again, for tomorrow.",
                    "tool_calls": [
                        _call("functions.get_weather:2", "get_weather", '{"city":"Paris","day":1}')
                    ],
                },
                {"role": "tool", "tool_call_id": "functions.get_weather:2", "content": "Rain"},
            ],
        },
        {
            "name": "image_parts",
            "messages": [
                {
                    "role": "user",
                    "content": [
                        {"type": "text", "text": "Compare "},
                        {"type": "image_url", "image_url": {"url": "https://example.com/a.png"}},
                        {"type": "text", "text": " with "},
                        {"type": "image", "image": "b.png"},
                        {"type": "text", "text": "."},
                    ],
                },
                {"role": "assistant", "content": [{"type": "text", "text": "Both are cats."}]},
                {"role": "user", "content": "Thanks"},
            ],
        },
        {
            "name": "names_and_roles",
            "messages": [
                {"role": "system", "name": "policy", "content": "Answer in French."},
                {"role": "developer", "content": "Keep it short."},
                {"role": "user", "name": "alice", "content": "Bonjour"},
                {"role": "assistant", "name": "kimi", "content": "Salut"},
                {"role": "user", "name": "", "content": "Ça va ?"},
            ],
        },
        {
            "name": "assistant_prefill",
            "messages": [
                {"role": "user", "content": "Write a haiku."},
                {
                    "role": "assistant",
                    "content": "Autumn moonlight—",
                    "reasoning_content": "A classic opening.",
                },
            ],
        },
        {
            "name": "special_text",
            "messages": [
                {"role": "system", "content": "Line 1\r\nLine 2\n\n\tTabbed"},
                {
                    "role": "user",
                    "content": "Literal <|im_end|> and <think>x</think> and {{ jinja }} {% raw %} "
                    "你好 🧑🏾‍🤝‍🧑🏾",
                },
                {"role": "assistant", "content": "  spaced  \n", "reasoning_content": "  think  \n"},
                {"role": "user", "content": ""},
            ],
        },
        {
            "name": "empty_and_null_content",
            "tools": [WEATHER_TOOL],
            "messages": [
                {"role": "user", "content": ""},
                {
                    "role": "assistant",
                    "content": "",
                    "tool_calls": [_call("functions.get_weather:0", "get_weather", {})],
                },
                {"role": "tool", "tool_call_id": "functions.get_weather:0", "content": None},
                {"role": "assistant", "content": None},
            ],
        },
        {
            "name": "typescript_fallback_to_json",
            "tools": [BROKEN_REF_TOOL],
            "messages": [{"role": "user", "content": "Build a tree."}],
        },
        {
            "name": "many_tools_unsorted",
            "tools": [SEARCH_TOOL, WEATHER_TOOL, PLUGIN_TOOL],
            "messages": [sys_msg, {"role": "user", "content": "Anything."}],
        },
        {
            "name": "plugin_tool_only",
            "tools": [PLUGIN_TOOL],
            "messages": [{"role": "user", "content": "Browse."}],
        },
        {"name": "empty_tool_list", "tools": [], "messages": [{"role": "user", "content": "No tools."}]},
        {
            "name": "reasoning_field",
            "messages": [
                {"role": "user", "content": "Q1"},
                {"role": "assistant", "content": "A1", "reasoning": "R1 only in reasoning"},
                {"role": "user", "content": "Q2"},
                {
                    "role": "assistant",
                    "content": None,
                    "reasoning": "R2 reasoning",
                    "reasoning_content": "R2 reasoning_content",
                    "tool_calls": [_call("functions.get_weather:0", "get_weather", {"city": "Rome"})],
                },
                {"role": "tool", "tool_call_id": "functions.get_weather:0", "content": "Hot"},
                {"role": "assistant", "content": None, "reasoning": "R3 only in reasoning", "tool_calls": []},
                {"role": "user", "content": "Q3"},
                {
                    "role": "assistant",
                    "content": "A4",
                    "thinking": "R4 under the name gpt-oss templates read",
                    "tool_calls": [_call("functions.get_weather:1", "get_weather", {"city": "Oslo"})],
                },
            ],
        },
        {
            "name": "null_fields",
            "messages": [
                {"role": "user", "content": "Hi", "name": None},
                {
                    "role": "assistant",
                    "content": "Hello",
                    "reasoning_content": None,
                    "reasoning": None,
                    "tool_calls": None,
                    "name": None,
                },
                {"role": "user", "content": "Again"},
                {
                    "role": "assistant",
                    "content": None,
                    "reasoning_content": None,
                    "reasoning": "kept",
                    "tool_calls": [_call("functions.get_weather:0", "get_weather", "{}")],
                },
                {"role": "tool", "tool_call_id": "functions.get_weather:0", "content": "ok", "name": None},
            ],
        },
        # --- lenient: what the raw template renders for input strict mode refuses ---
        {
            "name": "lenient_null_reasoning_and_ids",
            "strict": False,
            "messages": [
                {"role": "user", "content": "Hi"},
                {
                    "role": "assistant",
                    "content": None,
                    "reasoning_content": None,
                    "reasoning": None,
                    "tool_calls": [{"type": "function", "function": {"name": "f", "arguments": None}}],
                },
                {"role": "tool", "content": "no id"},
                {"role": "tool", "tool_call_id": None, "content": "null id"},
            ],
        },
        {
            "name": "lenient_odd_values",
            "strict": False,
            "messages": [
                {"role": "user", "content": "Hi", "name": 7},
                {"content": "no role"},
                {
                    "role": "assistant",
                    "content": [{"type": "text"}, {"type": "text", "text": None}, {"text": 3.5}],
                    "reasoning_content": 42,
                    "tool_calls": [{"id": 12, "function": {"name": "f", "arguments": [1, {"b": None}]}}],
                },
                {"role": "tool", "tool_call_id": 12, "content": [{"type": "audio", "audio": "x"}]},
            ],
        },
        {
            "name": "lenient_string_parts_and_video",
            "strict": False,
            "messages": [
                {
                    "role": "user",
                    "content": ["an image here", "plain", {"type": "video_url", "video_url": "v.mp4"}],
                },
                {"role": "user", "content": [{"type": "video", "text": "video text"}]},
            ],
        },
        {"name": "lenient_empty_conversation", "strict": False, "messages": []},
        {
            "name": "lenient_non_assistant_tool_calls",
            "strict": False,
            "messages": [
                {"role": "user", "content": "x", "tool_calls": [_call("a", "f", "{}")]},
                {"role": "assistant", "content": "y", "tool_calls": [_call(None, "f", "{}")]},
            ],
        },
    ]
    for case in cases:
        case.setdefault("tools", None)
        case.setdefault("strict", True)
    return cases


def k2vv_conversations() -> list[dict[str, Any]]:
    """The 99 real requests, with the Moonshot-internal role ``_input`` mapped to ``system``."""
    out = []
    path = REFERENCE / "k2vv" / "requests.jsonl"
    with path.open(encoding="utf-8") as f:
        for lineno, line in enumerate(f):
            request = json.loads(line)
            messages = [
                {**m, "role": "system"} if m.get("role") == "_input" else m for m in request["messages"]
            ]
            out.append(
                {
                    "source": f"k2vv/requests.jsonl#{lineno}",
                    "messages": messages,
                    "tools": request.get("tools"),
                }
            )
    return out


# --- the goldens ---------------------------------------------------------------------------------------


def _key(value: Any) -> str:
    return hashlib.sha256(json.dumps(value, sort_keys=True, ensure_ascii=False).encode()).hexdigest()[:16]


def build() -> dict[str, Any]:
    conversations: dict[str, dict[str, Any]] = {}
    for conv in k2vv_conversations():
        cid = "k2vv-" + _key([conv["messages"], conv["tools"]])
        entry = conversations.setdefault(
            cid, {"sources": [], "strict": True, "messages": conv["messages"], "tools": conv["tools"]}
        )
        entry["sources"].append(conv["source"])
    for case in edge_cases():
        conversations["edge-" + case["name"]] = {
            "sources": ["edge case"],
            "strict": case["strict"],
            "messages": case["messages"],
            "tools": case["tools"],
        }

    prompts: dict[str, str] = {}
    cases: list[dict[str, Any]] = []
    for cid, conv in conversations.items():
        messages = conv["messages"] if not conv["strict"] else transformers_view(conv["messages"])
        for model, combos in KWARG_COMBOS.items():
            for kwargs in combos:
                for plain in (False, True) if conv["tools"] else (False,):
                    for generation in (True, False):
                        case: dict[str, Any] = {"conversation": cid, "model": model, "kwargs": kwargs}
                        case["add_generation_prompt"] = generation
                        if plain:
                            case["plain_template"] = True
                        try:
                            text = oracle_render(
                                model,
                                copy.deepcopy(messages),
                                copy.deepcopy(conv["tools"]),
                                add_generation_prompt=generation,
                                plain_template=plain,
                                **kwargs,
                            )
                        except Exception as e:  # the template itself fails on this (lenient) input
                            case["template_error"] = f"{type(e).__name__}: {e}"
                        else:
                            pid = hashlib.sha256(text.encode()).hexdigest()[:16]
                            prompts[pid] = text
                            case["prompt"] = pid
                        cases.append(case)
    templates = {
        model: {
            "path": f"reference/templates/{rel}",
            "sha256": hashlib.sha256(template_path(model).read_bytes()).hexdigest(),
        }
        for model, rel in TEMPLATE_FILES.items()
    }
    return {
        "about": "Made by python -m testsupport.goldens from the official chat templates; do not edit.",
        "templates": templates,
        "conversations": conversations,
        "cases": cases,
        "prompts": prompts,
    }


def dump(goldens: dict[str, Any]) -> str:
    return json.dumps(goldens, ensure_ascii=False, indent=1) + "\n"


# --- the committed goldens -----------------------------------------------------------------------------


@functools.cache
def load_committed() -> dict[str, Any]:
    """``fixtures/render/goldens.json`` as committed (read once)."""
    with GOLDENS.open(encoding="utf-8") as f:
        data: dict[str, Any] = json.load(f)
    return data


def first_difference(got: str, want: str) -> str:
    """Where two prompts first differ, with 20 characters either side: a readable assertion message."""
    matcher = difflib.SequenceMatcher(None, got, want, autojunk=False)
    for op, i1, i2, j1, j2 in matcher.get_opcodes():
        if op != "equal":
            ours, official = got[max(i1 - 20, 0) : i2 + 20], want[max(j1 - 20, 0) : j2 + 20]
            return f"first difference at {i1}: ours {ours!r}, official {official!r}"
    return "equal"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--check", action="store_true", help="exit 1 if the committed goldens are out of date")
    args = ap.parse_args(argv)
    text = dump(build())
    if args.check:
        current = GOLDENS.read_text(encoding="utf-8") if GOLDENS.exists() else ""
        if current != text:
            print(
                f"{GOLDENS.relative_to(ROOT)} is out of date: run python -m testsupport.goldens",
                file=sys.stderr,
            )
            return 1
        print("goldens are up to date")
        return 0
    GOLDENS.parent.mkdir(parents=True, exist_ok=True)
    GOLDENS.write_text(text, encoding="utf-8")
    data = json.loads(text)
    total = sum(len(data["conversations"][c["conversation"]]["sources"]) for c in data["cases"])
    where = GOLDENS.relative_to(ROOT)
    print(f"wrote {where}: {len(data['cases'])} cases ({total} renders), {len(data['prompts'])} prompts")
    return 0


if __name__ == "__main__":
    sys.exit(main())
