"""grammar_for's rules: inputs, misuse, fallbacks and notes, the cache, engine fields, the command line, and
GBNF read by a GBNF parser that is not xgrammar."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

import kimi_toolparse as ktp
from kimi_toolparse.cli import main
from kimi_toolparse.constrain.ebnf import _TOKEN, embed_rules, text_rules, to_gbnf
from kimi_toolparse.rendering.templates import MODELS
from tests_heavy.constrain.cases import FORMATS, call, k2vv_requests, schema_cases, section
from tests_heavy.constrain.xgr_helpers import TOKEN_ID, accepts, accepts_text, marker_text

WEATHER = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
    },
}


def tool(name: str, parameters: object) -> dict[str, object]:
    return {"type": "function", "function": {"name": name, "parameters": parameters}}


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        ({"format": "lark"}, ValueError, "format"),
        ({"tool_choice": "any"}, ValueError, "tool_choice"),
        (
            {"tool_choice": {"type": "function", "function": {"name": "nope"}}},
            ValueError,
            "not among the tools",
        ),
        ({"max_calls": 0}, ValueError, "max_calls"),
        ({"messages": "hi"}, TypeError, "messages"),
    ],
)
def test_misuse_raises_with_what_to_do(kwargs: dict, error: type, message: str) -> None:  # type: ignore[type-arg]
    with pytest.raises(error, match=message):
        ktp.grammar_for([WEATHER], **kwargs)


def test_misuse_of_tools() -> None:
    with pytest.raises(TypeError, match="list of OpenAI tool dicts"):
        ktp.grammar_for("get_weather")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="name"):
        ktp.grammar_for([{"type": "function", "function": {"parameters": {}}}])
    with pytest.raises(ValueError, match="declared twice"):
        ktp.grammar_for([WEATHER, WEATHER])
    with pytest.raises(ValueError, match="at least one tool"):
        ktp.grammar_for([], tool_choice="required")
    with pytest.raises(TypeError, match="request"):
        ktp.grammar_for_request([WEATHER])  # type: ignore[arg-type]


def test_idx_counts_the_calls_of_the_whole_conversation() -> None:
    messages = [
        {"role": "user", "content": "hi"},
        {
            "role": "assistant",
            "tool_calls": [{"id": "a", "function": {"name": "get_weather", "arguments": "{}"}}] * 2,
        },
        {"role": "tool", "tool_call_id": "a", "content": "sunny"},
        {
            "role": "assistant",
            "tool_calls": [{"id": "search:0", "function": {"name": "x", "arguments": "{}"}}],
        },
    ]
    grammar = ktp.grammar_for([WEATHER], messages=messages, format="ebnf")
    assert grammar.first_index == 3
    assert accepts(grammar, section(call("get_weather", 3, '{"city": "Rome"}')))
    assert not accepts(grammar, section(call("get_weather", 0, '{"city": "Rome"}')))
    # the K2VV data: a history call search:0, the next call is functions.search:1
    request = next(r for r in k2vv_requests() if any(m.get("tool_calls") for m in r["messages"]))
    assert ktp.grammar_for_request(request).first_index == 1


def test_no_tools_or_none_means_no_section() -> None:
    for grammar in (ktp.grammar_for(None, format="ebnf"), ktp.grammar_for([WEATHER], tool_choice="none")):
        assert grammar.tool_names == ()
        assert accepts(grammar, "Just text.")
        assert not accepts(grammar, section(call("get_weather", 0, '{"city": "Rome"}')))
    assert ktp.grammar_for_request({"messages": [], "tools": [WEATHER]}).tool_names == ("get_weather",)
    assert ktp.grammar_for_request({"messages": []}).tool_names == ()


@pytest.mark.parametrize("fmt", FORMATS)
def test_a_schema_that_fails_leaves_only_its_tool_unconstrained(fmt: str) -> None:
    odd = tool("odd", {"type": "string", "minLength": 10**12})
    grammar = ktp.grammar_for([WEATHER, odd], format=fmt)  # type: ignore[arg-type]
    assert [(n.tool, n.kind) for n in grammar.notes] == [("odd", "unconstrained")]
    assert "minLength" in grammar.notes[0].message and "/project" not in grammar.notes[0].message
    assert accepts(grammar, section(call("odd", 0, '{"anything": [1, {"x": null}]}')))
    assert not accepts(grammar, section(call("odd", 0, '"a string"')))  # unconstrained means any object
    assert accepts(grammar, section(call("get_weather", 0, '{"city": "Rome"}')))
    assert not accepts(grammar, section(call("get_weather", 0, '{"town": "Rome"}')))  # still constrained


def test_parameters_follow_the_schema_and_the_parser() -> None:
    grammar = ktp.grammar_for(
        [tool("none", None), tool("true", True), tool("false", False), tool("text", {"type": "string"})],
        format="ebnf",
    )
    assert grammar.tool_names == ("none", "true", "text")
    assert [(n.tool, n.kind) for n in grammar.notes] == [("false", "excluded")]
    assert accepts(grammar, section(call("none", 0, "{}"), call("true", 1, "{}"), call("text", 2, '"hi"')))
    assert not accepts(grammar, section(call("none", 0, '{"a": 1}')))
    assert not accepts(grammar, section(call("false", 0, "{}")))
    with pytest.raises(ValueError, match="no tool can be called"):
        ktp.grammar_for([tool("false", False)], tool_choice="required")


def test_keywords_xgrammar_does_not_enforce_are_noted() -> None:
    schema = {
        "type": "object",
        "properties": {
            "tags": {"type": "array", "items": {"type": "string"}, "uniqueItems": True},
            "not": {"not": {"type": "null"}},  # a property named "not" and the keyword
        },
    }
    grammar = ktp.grammar_for([tool("tag", schema)])
    assert [(n.kind, n.message) for n in grammar.notes] == [("loosened", "not enforced: not, uniqueItems")]
    assert (
        ktp.grammar_for([tool("p", {"type": "object", "properties": {"not": {"type": "string"}}})]).notes
        == ()
    )


def test_gbnf_notes_what_it_cannot_express() -> None:
    pattern = tool(
        "p",
        {"type": "object", "properties": {"s": {"type": "string", "pattern": "^[a-z]+$", "maxLength": 5}}},
    )
    # the pattern is enforced, its length limits are not (xgrammar's Regex builtin takes none)
    ebnf = ktp.grammar_for([pattern], format="ebnf")
    assert [n.message for n in ebnf.notes] == ["not enforced: minLength/maxLength (with a pattern)"]
    assert not accepts(ebnf, section(call("p", 0, '{"s": "ABC 123"}')))
    gbnf = ktp.grammar_for([pattern], format="gbnf")
    assert [n.kind for n in gbnf.notes] == ["loosened", "loosened"] and "pattern" in gbnf.notes[1].message
    assert "Regex(" not in gbnf.text
    assert accepts(gbnf, section(call("p", 0, '{"s": "ABC 123"}')))  # any string there
    long = tool("long", {"type": "object", "properties": {"s": {"type": "string", "maxLength": 5_000_000}}})
    assert ktp.grammar_for([long], format="ebnf").notes == ()
    gbnf = ktp.grammar_for([long], format="gbnf")
    assert [n.kind for n in gbnf.notes] == ["loosened"] and "over 1000" in gbnf.notes[0].message
    assert "5000000" not in gbnf.text


@pytest.mark.parametrize("fmt", FORMATS)
def test_properties_in_the_order_the_schema_declares_them(fmt: str) -> None:
    schema = {"type": "object", "properties": {"query": {"type": "string"}, "limit": {"type": "integer"}}}
    grammar = ktp.grammar_for([tool("find", schema)], format=fmt)  # type: ignore[arg-type]
    assert accepts(grammar, section(call("find", 0, '{"query": "kimi", "limit": 3}')))
    assert accepts(grammar, section(call("find", 0, '{"limit": 3}')))
    assert not accepts(grammar, section(call("find", 0, '{"limit": 3, "query": "kimi"}')))


def test_cache_is_keyed_by_the_tool_list_and_options() -> None:
    a = ktp.grammar_for([WEATHER], format="ebnf")
    assert ktp.grammar_for([json.loads(json.dumps(WEATHER))], format="ebnf") is a
    assert ktp.grammar_for([WEATHER], format="ebnf", cache=False) == a
    assert ktp.grammar_for([WEATHER], format="gbnf") is not a
    assert ktp.grammar_for([WEATHER], format="ebnf", tool_choice="required") is not a
    other = tool("get_weather", {"type": "object", "properties": {"town": {"type": "string"}}})
    assert ktp.grammar_for([other], format="ebnf").text != a.text


def test_request_fields_for_each_engine() -> None:
    tag = ktp.grammar_for([WEATHER])
    assert (
        json.loads(tag.request_fields("vllm")["structured_outputs"]["structural_tag"])["type"]
        == "structural_tag"
    )
    assert tag.request_fields("sglang") == {"response_format": tag.structural_tag()}
    ebnf = ktp.grammar_for([WEATHER], format="ebnf")
    assert ebnf.request_fields("vllm") == {"structured_outputs": {"grammar": ebnf.text}}
    assert ebnf.request_fields("sglang") == {"ebnf": ebnf.text}
    gbnf = ktp.grammar_for([WEATHER], format="gbnf")
    assert gbnf.request_fields("llama.cpp") == {"grammar": gbnf.text}
    with pytest.raises(ValueError, match="build one as gbnf"):
        ebnf.request_fields("llama.cpp")
    with pytest.raises(ValueError, match="unknown engine"):
        ebnf.request_fields("tgi")
    with pytest.raises(ValueError, match="format='structural-tag'"):
        ebnf.structural_tag()


def test_text_rules_exclude_exactly_the_markers() -> None:
    grammar = ktp.grammar_for(None, format="ebnf")
    for text in [
        "",
        "a < b",
        "<<",
        "x<",
        "</div>",
        "<thin",
        "</thinkX",
        "[EO]",
        "[E[EOT",
        "<t<think",
        "think>",
    ]:
        assert accepts(grammar, text), text
    for text in ["<|", "a<|b", "<think>", "<<think>", "</think>", "[EOS]", "[[PAD]", "x[BOS]y"]:
        assert not accepts(grammar, text), text
    assert text_rules().count("::=") == 27


def test_embedding_renames_rules_not_literals_or_builtins() -> None:
    rules, root = embed_rules(
        'root ::= "root" [a-z] item Regex("x+", json_string=true)\nitem ::= "(x)"', "t_"
    )
    assert root == "t_root"
    assert rules == 't_root ::= "root" [a-z] t_item Regex("x+", json_string=true)\nt_item ::= "(x)"'
    gbnf = to_gbnf('a_b ::= ("" | [+\\-] c_d{0, -1} "\\/") (=("x"))\nc_d ::= [^\\0-\\x1f]{2, 5}')
    assert gbnf == 'a-b ::= ([+\\u002d] c-d* "\\u002f")?\nc-d ::= [^\\u0000-\\x1f]{2,5}'


def _letters_only(text: str) -> str:
    """Rule names as letters alone: the `gbnf` package reads only those, llama.cpp also digits and '-'."""
    names: dict[str, str] = {}

    def rename(name: str) -> str:
        if name not in names:
            i, letters = len(names), ""
            while True:
                letters = chr(97 + i % 26) + letters
                i //= 26
                if not i:
                    break
            names[name] = "root" if name == "root" else "r" + letters
        return names[name]

    return "".join(rename(t) if t[0].isalpha() else t for t in _TOKEN.findall(text))


def test_gbnf_reads_with_an_independent_gbnf_parser() -> None:
    """Every GBNF grammar (K2VV requests, all 212 schemas) parses with the `gbnf` package, and its matcher
    agrees with xgrammar on a sample of accept/reject cases."""
    gbnf = pytest.importorskip("gbnf", reason="needs the gbnf package (Python 3.11+, in the test extra)")
    grammars = [ktp.grammar_for_request(r, format="gbnf") for r in k2vv_requests()[::10]]
    grammars += [ktp.grammar_for([tool("f", s)], format="gbnf") for _, s in schema_cases()]
    for grammar in grammars:
        gbnf.GBNF(_letters_only(marker_text(grammar.text)))
    grammar = ktp.grammar_for([WEATHER], format="gbnf", max_calls=2)
    text = _letters_only(marker_text(grammar.text))
    good = [
        "Hi.",
        "x" + section(call("get_weather", 0, '{"city": "Rome"}'), call("get_weather", 1, '{"city":"a"}')),
    ]
    bad = [section(call("get_weather", 0, '{"city": 1}')), section(call("f", 0, "{}")), "a <think>"]
    for raw in good + bad:
        try:
            ends = any(isinstance(r, gbnf.RuleEnd) for r in gbnf.GBNF(text, raw).rules())
        except gbnf.InputParseError:
            ends = False
        assert ends == (raw in good) == accepts(grammar, raw), raw


def run_cli(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "kimi_toolparse", *args],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_cli_prints_the_grammar(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    request = {
        "messages": [{"role": "user", "content": "Weather?"}],
        "tools": [WEATHER, tool("odd", {"type": "string", "minLength": 10**12})],
        "tool_choice": "required",
    }
    path = tmp_path / "request.json"
    path.write_text(json.dumps(request))
    assert main(["grammar", str(path)]) == 0
    out, err = capsys.readouterr()
    assert json.loads(out) == ktp.grammar_for_request(request).structural_tag()
    assert "odd" in err and "unconstrained" in err  # the notes, as a table
    for fmt in ("ebnf", "gbnf"):
        assert main(["grammar", str(path), "--format", fmt, "--thinking", "--max-calls", "2"]) == 0
        out, _ = capsys.readouterr()
        assert out == ktp.grammar_for_request(request, format=fmt, thinking=True, max_calls=2).text  # type: ignore[arg-type]


#: Whether each model family's prompt ends with <think> by default, and with chat_template_kwargs
#: thinking false (K2.7-Code thinks always; the K2 instruct and thinking templates never open it).
PROMPT_THINKS = {
    "kimi-k2-instruct": (False, False),
    "kimi-k2-instruct-0905": (False, False),
    "kimi-k2-thinking": (False, False),
    "kimi-k2.5": (True, False),
    "kimi-k2.6": (True, False),
    "kimi-k2.7-code": (True, True),
}
_INSIDE = 'root ::= text "</think>" text'
_OUTSIDE = 'root ::= ("<think>" text "</think>")? text'


def test_every_model_family_is_listed() -> None:
    assert set(PROMPT_THINKS) == set(MODELS)


@pytest.mark.parametrize("model", sorted(PROMPT_THINKS))
def test_cli_reads_thinking_from_the_prompt_of_the_requests_model(
    model: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Issue 15: as the gateway does, the grammar starts inside reasoning exactly when the prompt the
    request's model renders ends with <think>; --thinking and --no-thinking override it."""
    by_default, thinking_off = PROMPT_THINKS[model]
    request: dict[str, Any] = {"model": model, "messages": [{"role": "user", "content": "Weather?"}]}
    request["tools"] = [WEATHER]
    path = tmp_path / "request.json"
    for kwargs, want in (({}, by_default), ({"chat_template_kwargs": {"thinking": False}}, thinking_off)):
        path.write_text(json.dumps({**request, **kwargs}))
        assert main(["grammar", str(path), "--format", "ebnf"]) == 0
        out, _ = capsys.readouterr()
        template_kwargs = kwargs.get("chat_template_kwargs", {})
        prompt = ktp.render(request["messages"], request["tools"], model=model, **template_kwargs)
        assert ktp.ends_in_reasoning(prompt) is want
        assert (_INSIDE if want else _OUTSIDE) in out
        assert (_OUTSIDE if want else _INSIDE) not in out
    for flag, inside in (("--thinking", True), ("--no-thinking", False)):
        assert main(["grammar", str(path), "--format", "gbnf", flag]) == 0
        out, _ = capsys.readouterr()
        assert out == ktp.grammar_for_request(request, format="gbnf", thinking=inside).text


@pytest.mark.parametrize("model", [None, "moonshot", "gpt-4o"])
def test_a_request_without_a_kimi_model_reads_chat_template_kwargs(
    model: str | None, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    request: dict[str, Any] = {"messages": [{"role": "user", "content": "hi"}], "tools": [WEATHER]}
    if model is not None:
        request["model"] = model
    assert _OUTSIDE in ktp.grammar_for_request(request, format="ebnf").text
    thinking = {**request, "chat_template_kwargs": {"thinking": True}}
    assert _INSIDE in ktp.grammar_for_request(thinking, format="ebnf").text
    # the command line says so, in one line beside the grammar
    path = tmp_path / "request.json"
    path.write_text(json.dumps(thinking))
    assert main(["grammar", str(path), "--format", "ebnf"]) == 0
    out, err = capsys.readouterr()
    assert _INSIDE in out
    assert err.startswith("kimi-toolparse: note: the request ") and "chat_template_kwargs" in err
    assert main(["grammar", str(path), "--format", "ebnf", "--no-thinking"]) == 0
    out, err = capsys.readouterr()
    assert _OUTSIDE in out and err == ""


@pytest.mark.parametrize(
    ("args", "stdin", "message"),
    [
        (("grammar", "/nonexistent.json"), None, "cannot read"),
        (("grammar", "-"), '{"model": "kimi-k2.5", "messages": [], "chat_template_kwargs": {"x": 1}}', "x"),
        (("grammar", "-"), "{not json", "not valid JSON"),
        (("grammar", "-"), "[]", "must hold an OpenAI chat request"),
        (("grammar", "-"), '{"messages": [], "tool_choice": "required"}', "at least one tool"),
        (("grammar", "-", "--format", "lark"), "{}", "invalid choice"),
        (("grammar", "-", "--max-calls", "0"), "{}", "--max-calls"),
    ],
)
def test_cli_bad_input_is_one_line_and_status_2(
    args: tuple[str, ...], stdin: str | None, message: str
) -> None:
    out = run_cli(*args, stdin=stdin)
    assert out.returncode == 2
    assert out.stderr.startswith("kimi-toolparse: ") and message in out.stderr
    assert len(out.stderr.strip().splitlines()) == 1 and "Traceback" not in out.stderr


def test_gbnf_names_every_marker_by_token_id_and_never_by_text() -> None:
    """llama.cpp's ``<[ID]>``: only the real special token opens or closes a call or reasoning; no marker
    is written as text anywhere, so ordinary tokens spelling one match nothing but free text (which
    refuses ``<|``)."""
    from kimi_toolparse.tokens import SPECIAL_IDS

    for thinking in (False, True):
        grammar = ktp.grammar_for([WEATHER], format="gbnf", max_calls=2, thinking=thinking)
        named = {int(i) for i in TOKEN_ID.findall(grammar.text)}
        want = {"<|tool_calls_section_begin|>", "<|tool_calls_section_end|>", "<|tool_call_begin|>"}
        want |= {"<|tool_call_argument_begin|>", "<|tool_call_end|>", "</think>"}
        want |= set() if thinking else {"<think>"}
        assert named == {SPECIAL_IDS[t] for t in want}
        assert "<|" not in grammar.text.replace('"<"', "") and "think>" not in grammar.text
    text = ktp.grammar_for([WEATHER], format="gbnf", marker_ids=False).text
    assert TOKEN_ID.search(text) is None and '"<|tool_call_begin|>"' in text
    assert marker_text(ktp.grammar_for([WEATHER], format="gbnf").text) == text  # the same grammar otherwise


@pytest.mark.parametrize(
    ("value", "ok"),
    [
        ("a < b", True),
        ("<<= and <div>", True),
        ("x \\u003c", True),
        ("<|tool_call_end|>", False),
        ("a <<|im_end|>", False),
        ("ends in <", False),
    ],
)
def test_gbnf_json_strings_cannot_hold_a_marker_start(value: str, ok: bool) -> None:
    """Inside arguments (values and keys) no ``<|``: llama.cpp matches a special token's text against a
    string's characters, so ``<|tool_call_end|>`` could otherwise sit in a value whole. A ``<`` before the
    closing quote is written ``\\u003c``. ``value`` is JSON string content, as the model writes it."""
    weather = ktp.grammar_for([WEATHER], format="gbnf")
    assert accepts_text("gbnf", weather.text, section(call("get_weather", 0, f'{{"city": "{value}"}}'))) == ok
    free = ktp.grammar_for([tool("f", {"type": "object"})], format="gbnf")
    assert accepts_text("gbnf", free.text, section(call("f", 0, f'{{"{value}": 1}}'))) == ok


def test_gbnf_json_string_rule_property() -> None:
    """Any string value: the token-id GBNF takes its JSON text exactly when no ``<`` run in it is followed
    by ``|``, a backslash escape or the closing quote."""
    import re

    from hypothesis import given, settings
    from hypothesis import strategies as st

    grammar = ktp.grammar_for([WEATHER], format="gbnf")
    bad = re.compile(r"<+(?:[|\\]|$)")

    @settings(max_examples=150, deadline=None)
    @given(st.text(alphabet='ab<|\\"\n é', max_size=10))
    def check(value: str) -> None:
        content = json.dumps(value, ensure_ascii=False)[1:-1]
        raw = section(call("get_weather", 0, f'{{"city": "{content}"}}'))
        assert accepts_text("gbnf", grammar.text, raw) == (bad.search(content) is None), content

    check()
