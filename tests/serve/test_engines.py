"""The engine profiles: the table's rules, and a tool call through the gateway against each engine's shape.

The stand-in plays each engine (``StandIn(engine=...)``: its token ids or none, special tokens only when
asked, TensorRT-LLM refusing unknown fields, llama.cpp keeping only ``preserved_tokens``), and the gateway
started with the matching ``--engine`` must bring the model's calls out, streamed and not.
"""

from __future__ import annotations

import logging
from typing import Any

import pytest

openai = pytest.importorskip(
    "openai", reason="the serve tests need the test extra (pip install -e '.[test]')"
)

import kimi_toolparse as ktp  # noqa: E402
from kimi_toolparse.serve.engines import (  # noqa: E402
    ENGINE_NAMES,
    MARKERS,
    PROFILES,
    completion_body,
    engine_mismatch,
    grammar_fields,
    identify,
    profile,
)
from kimi_toolparse.serve.standin import StandIn  # noqa: E402
from kimi_toolparse.tokens import IM_END, SPECIAL_IDS  # noqa: E402

from ..conftest import FIXTURES, VOCAB_FILE  # noqa: E402
from .conftest import gateway  # noqa: E402
from .test_gateway import TOOLS, client, collect  # noqa: E402

WEATHER = (FIXTURES / "outputs" / "weather.txt").read_text()
CALLS = [
    ("functions.get_weather:0", "get_weather", '{"city": "Beijing", "unit": "celsius"}'),
    ("functions.get_weather:1", "get_weather", '{"city": "Shanghai", "unit": "celsius"}'),
]
ASK: dict[str, Any] = {
    "model": "kimi-k2-instruct",
    "messages": [{"role": "user", "content": "Weather in Beijing and Shanghai?"}],
    "tools": TOOLS,
}


# ---- the table ---------------------------------------------------------------------------------------------


def test_the_table_names_each_engine_once_with_what_it_needs() -> None:
    assert ENGINE_NAMES == ("vllm", "sglang", "trtllm", "llamacpp", "plain")
    # token ids come back with the text from vLLM and SGLang only; every engine but plain takes id prompts
    assert [p.name for p in PROFILES.values() if p.token_mode] == ["vllm", "sglang"]
    assert [p.name for p in PROFILES.values() if not p.prompt_ids] == ["plain"]
    assert [p.name for p in PROFILES.values() if p.stop_token_ids] == ["vllm", "sglang", "trtllm"]
    assert PROFILES["llamacpp"].keep_special == {"preserved_tokens": list(MARKERS)}
    assert "sglang-kt" in PROFILES["sglang"].needs and "--special" in PROFILES["llamacpp"].needs
    with pytest.raises(ValueError, match="--engine must be one of vllm, sglang, trtllm, llamacpp, plain"):
        profile("ktransformers")


@pytest.mark.parametrize("engine", ENGINE_NAMES)
def test_a_body_keeps_special_tokens_and_stops_at_the_end_of_turn(engine: str) -> None:
    p = PROFILES[engine]
    body = completion_body(p, "PROMPT", stop=["X"], n=2, sampling={"max_tokens": 5, "seed": None})
    assert body["prompt"] == "PROMPT" and body["stream"] is True and body["n"] == 2
    assert body["max_tokens"] == 5 and "seed" not in body
    if p.stop_token_ids:  # by id: a stop string would cut arguments that mention <|im_end|> as text
        assert body["stop"] == ["X"] and body["stop_token_ids"] == [SPECIAL_IDS[IM_END]]
    else:
        assert body["stop"] == [IM_END, "X"] and "stop_token_ids" not in body
    assert {k: body[k] for k in p.keep_special} == dict(p.keep_special)
    assert (body.get("return_token_ids") is True) == p.token_mode
    extra = completion_body(p, "P", extra={"skip_special_tokens": True, "x": 1})
    assert extra["x"] == 1 and extra["skip_special_tokens"] is True  # --upstream-extra comes last
    if p.prompt_ids:
        assert completion_body(p, (1, 2, 3))["prompt"] == [1, 2, 3]
    else:
        with pytest.raises(ValueError, match="takes the prompt as text only"):
            completion_body(p, [1, 2, 3])


def test_each_engine_gets_its_grammar_where_it_reads_one() -> None:
    tag = ktp.grammar_for(TOOLS, format="structural-tag")
    ebnf = ktp.grammar_for(TOOLS, format="ebnf")
    gbnf = ktp.grammar_for(TOOLS, format="gbnf")
    assert grammar_fields(PROFILES["vllm"], tag) == {"structured_outputs": {"structural_tag": tag.text}}
    assert grammar_fields(PROFILES["vllm"], ebnf) == {"structured_outputs": {"grammar": ebnf.text}}
    assert grammar_fields(PROFILES["sglang"], tag) == {"response_format": tag.structural_tag()}
    assert grammar_fields(PROFILES["sglang"], ebnf) == {"ebnf": ebnf.text}
    assert grammar_fields(PROFILES["trtllm"], tag) == {"response_format": tag.structural_tag()}
    assert grammar_fields(PROFILES["trtllm"], ebnf) == {
        "response_format": {"type": "ebnf", "ebnf": ebnf.text}
    }
    assert grammar_fields(PROFILES["llamacpp"], gbnf) == {"grammar": gbnf.text}
    with pytest.raises(
        ValueError, match="--engine trtllm does not take gbnf grammars: use structural-tag or"
    ):
        grammar_fields(PROFILES["trtllm"], gbnf)
    with pytest.raises(ValueError, match="--engine plain does not take ebnf grammars: use no grammar"):
        grammar_fields(PROFILES["plain"], ebnf)


def test_an_upstream_that_names_another_engine_is_reported_in_one_line() -> None:
    def models(owner: str) -> dict[str, Any]:
        return {"object": "list", "data": [{"id": "kimi", "object": "model", "owned_by": owner}]}

    assert [identify(models(o)) for o in ("vllm", "sglang", "tensorrt_llm", "llamacpp")] == [
        "vllm",
        "sglang",
        "trtllm",
        "llamacpp",
    ]
    assert identify(models("someone")) is None and identify({"nope": 1}) is None and identify(None) is None
    line = engine_mismatch(PROFILES["vllm"], models("sglang"))
    assert line is not None and "\n" not in line and line.endswith("--engine sglang")
    assert engine_mismatch(PROFILES["sglang"], models("sglang")) is None
    assert engine_mismatch(PROFILES["sglang"], models("someone")) is None
    assert engine_mismatch(PROFILES["plain"], models("vllm")) is not None  # plain loses vLLM's markers


# ---- through the gateway ---------------------------------------------------------------------------------


def _calls(message: Any) -> list[tuple[str, str, str]]:
    return [(t.id, t.function.name, t.function.arguments) for t in message.tool_calls or []]


def _streamed_calls(msg: dict[str, Any]) -> list[tuple[str, str, str]]:
    return [(t["id"], t["name"], t["arguments"]) for t in msg["tool_calls"]]


@pytest.mark.parametrize("engine", ENGINE_NAMES)
def test_a_tool_call_comes_out_through_each_engine_profile(engine: str, vocab: Any) -> None:
    """Streamed and not, with the model's own ids; SGLang in token-id mode; the prompt as token ids
    wherever the engine takes them; TensorRT-LLM accepts every field (it refuses unknown ones)."""
    with (
        StandIn(lambda r: WEATHER, engine=engine, vocabulary=vocab) as up,
        gateway(up.base_url, models=("kimi-k2-instruct",), engine=engine, tokenizer=str(VOCAB_FILE)) as base,
    ):
        c = client(base)
        r = c.chat.completions.create(**ASK)
        assert _calls(r.choices[0].message) == CALLS and r.choices[0].finish_reason == "tool_calls"
        assert r.choices[0].message.content == "I'll check the weather in both cities."
        msg, _ = collect(c.chat.completions.create(**ASK, stream=True))
        assert _streamed_calls(msg) == CALLS and msg["finish_reason"] == "tool_calls"
        body = up.requests[-1].body
        prompt = ktp.render(ASK["messages"], TOOLS, model="kimi-k2-instruct")
        if PROFILES[engine].prompt_ids:
            assert body["prompt"] == vocab.encode(prompt)
        else:
            assert body["prompt"] == prompt
        assert body.get("return_token_ids", False) is PROFILES[engine].token_mode


def test_sglang_runs_in_token_id_mode_so_marker_text_in_arguments_stays_data(vocab: Any) -> None:
    """Rule 4 through SGLang: the ids tell a marker token from its spelling in ordinary tokens."""
    data = '{"command": "echo <|tool_call_end|>"}'
    output = (
        "<|tool_calls_section_begin|><|tool_call_begin|>functions.bash:0<|tool_call_argument_begin|>"
        + data
        + "<|tool_call_end|><|tool_calls_section_end|>"
    )
    ids = vocab.encode(output.replace(data, "\x00"))
    cut = ids.index(vocab.encode("\x00")[0])
    all_ids = ids[:cut] + vocab.encode(data, allowed_special=()) + ids[cut + 1 :]
    text_pieces = [vocab.decode([i]) for i in all_ids]
    from kimi_toolparse.serve.standin import Piece

    pieces = [Piece(t, (i,)) for t, i in zip(text_pieces, all_ids, strict=True)]
    with (
        StandIn(lambda r: pieces, engine="sglang", vocabulary=vocab) as up,
        gateway(up.base_url, models=("kimi-k2-instruct",), engine="sglang") as base,
    ):
        c = client(base)
        r = c.chat.completions.create(**ASK)
        assert _calls(r.choices[0].message) == [("functions.bash:0", "bash", data)]
        msg, _ = collect(c.chat.completions.create(**ASK, stream=True))
        assert _streamed_calls(msg) == [("functions.bash:0", "bash", data)]
        assert up.requests[-1].body["return_token_ids"] is True


def test_llamacpp_keeps_the_markers_only_when_they_are_preserved(vocab: Any) -> None:
    """llama-server shows a special token only for preserved_tokens (sent by --engine llamacpp) or with
    --special; without either the markers come back as nothing and the gateway says why."""
    with StandIn(lambda r: WEATHER, engine="llamacpp", vocabulary=vocab) as up:
        with gateway(up.base_url, models=("kimi-k2-instruct",), engine="plain") as base:
            r = client(base).chat.completions.create(**ASK)
            assert r.choices[0].message.tool_calls is None
            assert [d["code"] for d in r.model_extra["kimi_diagnostics"]] == ["markers_missing"]
        up.special = True  # llama-server --special: the plain profile works too
        with gateway(up.base_url, models=("kimi-k2-instruct",), engine="plain") as base:
            assert _calls(client(base).chat.completions.create(**ASK).choices[0].message) == CALLS


def test_trtllm_refuses_what_it_does_not_know_and_the_gateway_says_so(vocab: Any) -> None:
    with (
        StandIn(lambda r: WEATHER, engine="trtllm") as up,
        gateway(up.base_url, models=("kimi-k2-instruct",), engine="vllm", prompt="text") as base,
        pytest.raises(openai.BadRequestError, match="return_token_ids: Extra inputs are not permitted"),
    ):
        client(base).chat.completions.create(**ASK)


def test_prompt_modes_and_the_start_up_check(vocab: Any, caplog: pytest.LogCaptureFixture) -> None:
    prompt = ktp.render(ASK["messages"], TOOLS, model="kimi-k2-instruct")
    with (
        caplog.at_level(logging.WARNING, logger="kimi_toolparse.serve"),
        StandIn(lambda r: WEATHER, engine="sglang", vocabulary=vocab) as up,
        gateway(up.base_url, models=("kimi-k2-instruct",), engine="vllm", prompt="text") as base,
    ):
        client(base).chat.completions.create(**ASK)
        assert up.requests[-1].body["prompt"] == prompt
    warnings = [r.getMessage() for r in caplog.records if "warning" in r.getMessage()]
    assert (
        len(warnings) == 1 and "--engine vllm, but the upstream's /v1/models says it is sglang" in warnings[0]
    )
    from kimi_toolparse.serve.config import ServeConfig
    from kimi_toolparse.serve.upstream import Target

    with pytest.raises(ValueError, match="--prompt ids: --engine plain takes the prompt as text only"):
        Target.from_config(ServeConfig(upstream="http://h/v1", engine="plain", prompt="ids"))
    with pytest.raises(ValueError, match="--tokenizer: the Kimi vocabulary cannot be used"):
        Target.from_config(ServeConfig(upstream="http://h/v1", prompt="ids", tokenizer="/nonexistent"))
    ids = Target.from_config(ServeConfig(upstream="http://h/v1", tokenizer=str(VOCAB_FILE)))
    assert ids.prompt_mode == "ids" and ids.encode is not None and ids.encode(prompt) == vocab.encode(prompt)
    with pytest.raises(ValueError, match="--prompt must be one of auto, ids, text"):
        ServeConfig(upstream="http://h/v1", prompt="tokens")


def test_every_body_keeps_the_profile_and_the_request_property() -> None:
    """Whatever the request: the profile's fields are in the body, the client's stops come in order (after
    ``<|im_end|>`` where the engine has no stop_token_ids), unset sampling fields are left out."""
    from hypothesis import given, settings
    from hypothesis import strategies as st

    fields = ("max_tokens", "temperature", "top_p", "top_k", "seed", "presence_penalty", "frequency_penalty")

    @settings(max_examples=200, deadline=None)
    @given(
        st.sampled_from(ENGINE_NAMES),
        st.lists(st.text(max_size=5), max_size=4),
        st.integers(1, 16),
        st.dictionaries(st.sampled_from(fields), st.none() | st.integers(0, 100)),
    )
    def check(name: str, stop: list[str], n: int, sampling: dict[str, Any]) -> None:
        p = PROFILES[name]
        body = completion_body(p, "P", stop=stop, n=n, sampling=sampling)
        assert all(body[k] == v for k, v in p.keep_special.items())
        assert all(body[k] == v for k, v in p.ids_request.items())
        assert body["stop"] == (stop if p.stop_token_ids else [IM_END, *stop]) and body["n"] == n
        assert ("stop_token_ids" in body) == p.stop_token_ids
        assert {k for k in fields if k in body} == {k for k, v in sampling.items() if v is not None}

    check()
