"""The stand-in engine answers like vLLM's raw /v1/completions: shapes, streaming, knobs, recording."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

httpx = pytest.importorskip("httpx", reason="the serve tests need the serve extra (pip install -e '.[test]')")
pytest.importorskip("uvicorn", reason="the serve tests need the serve extra (pip install -e '.[test]')")

import kimi_toolparse as ktp  # noqa: E402
from kimi_toolparse.serve.standin import (  # noqa: E402
    Piece,
    Reply,
    StandIn,
    answering_tool_results,
    split_tokens,
    tool_results,
)
from kimi_toolparse.vocab import load_vocabulary  # noqa: E402

from ..conftest import FIXTURES, VOCAB_FILE  # noqa: E402

WEATHER = (FIXTURES / "outputs" / "weather.txt").read_text()
KEEP = {"skip_special_tokens": False, "spaces_between_special_tokens": False}


def sse(text: str) -> list[dict]:  # type: ignore[type-arg]
    lines = [ln[6:] for ln in text.splitlines() if ln.startswith("data: ")]
    assert lines[-1] == "[DONE]"
    return [json.loads(ln) for ln in lines[:-1]]


def test_split_tokens_keeps_special_tokens_whole_and_loses_nothing() -> None:
    pieces = split_tokens(WEATHER)
    assert "".join(pieces) == WEATHER
    assert "<|tool_call_argument_begin|>" in pieces and "<|im_end|>" in pieces
    assert all(p for p in pieces)


def test_whole_completion_shape_and_recording() -> None:
    with StandIn(lambda r: WEATHER, model="m1") as s, httpx.Client() as c:
        r = c.post(f"{s.base_url}/completions", json={"model": "m1", "prompt": "P", **KEEP})
        assert r.status_code == 200
        body = r.json()
        assert body["object"] == "text_completion" and body["model"] == "m1"
        (choice,) = body["choices"]
        # <|im_end|> is the end-of-sequence token: generation stops there and it is not in the text
        assert choice["text"] == WEATHER.removesuffix("<|im_end|>")
        assert choice["finish_reason"] == "stop"
        assert body["usage"]["completion_tokens"] == len(split_tokens(WEATHER)) - 1
        assert (
            body["usage"]["total_tokens"]
            == body["usage"]["prompt_tokens"] + body["usage"]["completion_tokens"]
        )
        assert s.prompts == ["P"]
        assert s.requests[0].body["skip_special_tokens"] is False
        assert c.get(f"{s.base_url}/models").json()["data"][0]["id"] == "m1"


def test_special_tokens_are_stripped_or_spaced_like_vllm_unless_asked() -> None:
    with StandIn(lambda r: WEATHER) as s, httpx.Client() as c:
        stripped = c.post(f"{s.base_url}/completions", json={"prompt": "P"}).json()["choices"][0]["text"]
        assert "<|" not in stripped and "functions.get_weather:0" in stripped
        spaced = c.post(f"{s.base_url}/completions", json={"prompt": "P", "skip_special_tokens": False})
        assert (
            " <|tool_call_begin|> functions.get_weather:0 <|tool_call_argument_begin|> {"
            in spaced.json()["choices"][0]["text"]
        )


def test_streaming_token_by_token_with_usage_and_limits() -> None:
    with StandIn(lambda r: WEATHER) as s, httpx.Client() as c:
        body = {"prompt": "P", "stream": True, "stream_options": {"include_usage": True}, **KEEP}
        chunks = sse(c.post(f"{s.base_url}/completions", json=body).text)
        texts = [ch["choices"][0]["text"] for ch in chunks if ch["choices"]]
        assert texts == split_tokens(WEATHER)[:-1]
        assert chunks[-2]["choices"][0]["finish_reason"] == "stop"
        assert chunks[-1]["choices"] == [] and chunks[-1]["usage"]["completion_tokens"] == len(texts)
        limited = sse(c.post(f"{s.base_url}/completions", json={**body, "max_tokens": 5}).text)
        assert len([ch for ch in limited if ch["choices"]]) == 5
        assert limited[-2]["choices"][0]["finish_reason"] == "length"
        stopped = c.post(
            f"{s.base_url}/completions", json={"prompt": "P", "stop": ["weather"], **KEEP}
        ).json()
        assert stopped["choices"][0]["text"] == "I'll check the "
        assert stopped["choices"][0]["stop_reason"] == "weather"


def test_pieces_replies_and_knobs() -> None:
    replies = iter([[Piece("a", (1,)), "b"], Reply("xyz", status=503), Reply("one two three", die_after=1)])
    with StandIn(lambda r: next(replies)) as s, httpx.Client() as c:
        r = c.post(f"{s.base_url}/completions", json={"prompt": "P", "stream": True})
        assert [ch["choices"][0]["text"] for ch in sse(r.text)] == ["a", "b"]
        r = c.post(f"{s.base_url}/completions", json={"prompt": "P"})
        assert r.status_code == 503 and r.json()["object"] == "error"
        with (
            pytest.raises(httpx.RemoteProtocolError),
            c.stream("POST", f"{s.base_url}/completions", json={"prompt": "P", "stream": True}) as r,
        ):
            list(r.iter_lines())
        s.error_status = 500
        assert c.post(f"{s.base_url}/completions", json={"prompt": "P"}).status_code == 500
        assert c.post(f"{s.base_url}/completions", json={"prompt": 3}).status_code == 500
        s.error_status = None
        assert c.post(f"{s.base_url}/completions", json={"prompt": 3}).status_code == 400
        s.api_key = "k"
        assert c.get(f"{s.base_url}/models").status_code == 401
        assert c.get(f"{s.base_url}/models", headers={"Authorization": "Bearer k"}).status_code == 200


def test_token_ids_like_vllm_with_a_vocabulary() -> None:
    pytest.importorskip("tiktoken")
    from kimi_toolparse import KimiVocabulary

    vocab = KimiVocabulary.from_file(VOCAB_FILE)
    raw = "Hi é漢<|tool_calls_section_begin|><|tool_call_begin|>functions.f:0<|tool_call_argument_begin|>{}"
    with StandIn(lambda r: raw, vocabulary=vocab) as s, httpx.Client() as c:
        body = {"prompt": "P", "return_token_ids": True, **KEEP}
        choice = c.post(f"{s.base_url}/completions", json=body).json()["choices"][0]
        assert choice["token_ids"] == vocab.encode(raw) and choice["prompt_token_ids"] == vocab.encode("P")
        chunks = sse(c.post(f"{s.base_url}/completions", json={**body, "stream": True}).text)
        assert [i for ch in chunks for i in ch["choices"][0]["token_ids"]] == vocab.encode(raw)
        assert "".join(ch["choices"][0]["text"] for ch in chunks) == raw


@pytest.mark.parametrize("vocab_args", [[], ["--vocab"]])
def test_module_command_serves_a_file(tmp_path: Path, vocab_args: list[str]) -> None:
    """Word-sized pieces without --vocab; real token ids with --vocab alone (the packaged vocabulary)."""
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "kimi_toolparse.serve.standin",
            "--output",
            str(FIXTURES / "outputs" / "weather.txt"),
            *vocab_args,
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        base = proc.stdout.readline().strip()
        assert base.startswith("http://127.0.0.1:")
        r = httpx.post(f"{base}/completions", json={"prompt": "P", "return_token_ids": True, **KEEP})
        choice = r.json()["choices"][0]
        assert choice["text"] == WEATHER.removesuffix("<|im_end|>")
        if vocab_args:
            assert choice["token_ids"] == load_vocabulary().encode(WEATHER)[:-1]  # <|im_end|> ends it
        else:
            assert not choice.get("token_ids")
        # a prompt that ends with a tool result gets a final answer, so a client's loop ends
        prompt = ktp.render(_after_tools(["sunny"]), model="kimi-k2-instruct")
        r = httpx.post(f"{base}/completions", json={"prompt": prompt, **KEEP})
        assert r.json()["choices"][0]["text"] == "The tools returned: sunny"
        assert r.json()["choices"][0]["finish_reason"] == "stop"
    finally:
        proc.terminate()
        proc.wait(10)


def _after_tools(results: list[str], name: bool = False) -> list[dict]:  # type: ignore[type-arg]
    calls = [
        {"id": f"functions.f:{i}", "type": "function", "function": {"name": "f", "arguments": "{}"}}
        for i in range(len(results))
    ]
    return [
        {"role": "user", "content": "Weather?"},
        {"role": "assistant", "content": None, "tool_calls": calls},
        *(
            {"role": "tool", "tool_call_id": c["id"], "content": r}
            for c, r in zip(calls, results, strict=True)
        ),
    ]


@pytest.mark.parametrize("model", ["kimi-k2-instruct", "kimi-k2-thinking", "kimi-k2.5", "kimi-k2.6"])
def test_tool_results_reads_the_results_that_end_a_prompt(model: str) -> None:
    assert tool_results(ktp.render(_after_tools(['{"t": 1}', "rain"]), model=model)) == ['{"t": 1}', "rain"]
    # a tool message with a name (as OpenAI's examples send it): the turn is named after the tool
    assert tool_results(ktp.render(_after_tools(["a\nb"], name=True), model=model)) == ["a\nb"]
    # a user turn last, a prompt without the assistant's opening, or tool results followed by a user turn
    assert tool_results(ktp.render([{"role": "user", "content": "hi"}], model=model)) is None
    assert tool_results(ktp.render(_after_tools(["x"]), model=model, add_generation_prompt=False)) is None
    later = [*_after_tools(["x"]), {"role": "assistant", "content": "ok"}, {"role": "user", "content": "go"}]
    assert tool_results(ktp.render(later, model=model)) is None


@pytest.mark.parametrize("model", ["kimi-k2-instruct", "kimi-k2.5"])
def test_answering_tool_results_ends_the_loop_as_content(model: str) -> None:
    respond = answering_tool_results(lambda request: WEATHER)
    prompt = ktp.render(_after_tools(["sunny", "rain"]), model=model)
    out = respond({"prompt": prompt})
    assert isinstance(out, str)
    message = ktp.parse(out, thinking=ktp.ends_in_reasoning(prompt))
    assert message.content == "The tools returned: sunny; rain" and message.tool_calls == ()
    assert message.finish_reason == "stop"
    # anything else goes to the responder
    assert respond({"prompt": ktp.render([{"role": "user", "content": "hi"}], model=model)}) == WEATHER
    assert respond({"prompt": [1, 2, 3]}) == WEATHER


@settings(max_examples=200, deadline=None)
@given(
    results=st.lists(st.text(st.characters(blacklist_characters="<"), max_size=30), max_size=4),
    model=st.sampled_from(["kimi-k2-instruct", "kimi-k2-thinking", "kimi-k2.5", "kimi-k2.6"]),
    named=st.booleans(),
    then_user=st.booleans(),
)
def test_tool_results_are_exactly_the_trailing_tool_messages(
    results: list[str], model: str, named: bool, then_user: bool
) -> None:
    messages = _after_tools(results, name=named) if results else [{"role": "user", "content": "hi"}]
    if then_user and results:
        messages += [{"role": "assistant", "content": "ok"}, {"role": "user", "content": "## Return of x\ny"}]
    got = tool_results(ktp.render(messages, model=model))
    assert got == (results if results and not then_user else None)
