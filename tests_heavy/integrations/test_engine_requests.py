"""The body each engine profile sends, against the engines' own request models.

vLLM's and SGLang's ``CompletionRequest`` where they are installed (``ci/engines/install.sh`` makes
``.venv-vllm`` and ``.venv-sglang``; skipped elsewhere): every field sent is one the model declares (both
engines would silently ignore any other) and reads as meant. TensorRT-LLM's field set
(:mod:`testsupport.trtllm_request`, unknown fields refused as ``trtllm-serve`` does) everywhere, and
llama.cpp's server fields (those its ``params_from_json_cmpl`` reads).
"""

from __future__ import annotations

import itertools
from typing import Any

import pytest

from kimi_toolparse.serve.engines import PROFILES, completion_body, grammar_fields
from kimi_toolparse.tokens import IM_END, SPECIAL_IDS

TOOLS = [
    {
        "type": "function",
        "function": {
            "name": "get_weather",
            "parameters": {
                "type": "object",
                "properties": {"city": {"type": "string"}},
                "required": ["city"],
            },
        },
    }
]
PROMPT = "<|im_user|>user<|im_middle|>Weather in Paris?<|im_end|><|im_assistant|>assistant<|im_middle|>"
PROMPT_IDS = [163587, 1, 2, 3, 163586, 163588, 4, 163601]
SAMPLINGS: list[dict[str, Any]] = [
    {},
    {"max_tokens": 64, "temperature": 0.6, "top_p": 0.95, "top_k": 20, "seed": 7},
    {"presence_penalty": 0.5, "frequency_penalty": -0.5, "max_tokens": None},
]
#: What llama.cpp's server reads from a completion request (tools/server/server-task.cpp), of what is sent.
LLAMACPP_READS = frozenset(
    {
        "prompt", "stream", "stream_options", "stop", "n", "max_tokens", "temperature", "top_p", "top_k",
        "seed", "presence_penalty", "frequency_penalty", "preserved_tokens", "grammar", "model",
    }
)  # fmt: skip


def grammars(engine: str) -> list[dict[str, Any]]:
    """No grammar, then the fields of each grammar format the engine takes (needs xgrammar)."""
    out: list[dict[str, Any]] = [{}]
    if PROFILES[engine].grammars:
        ktp = pytest.importorskip("kimi_toolparse")
        pytest.importorskip("xgrammar", reason="building grammars needs the constrain extra")
        for fmt in PROFILES[engine].grammars:
            built = ktp.grammar_for(TOOLS, tool_choice="required", format=fmt)
            out.append(grammar_fields(PROFILES[engine], built))
    return out


def bodies(engine: str) -> list[dict[str, Any]]:
    """Bodies the gateway may send this engine: text and id prompts, samplings, stops, n, grammars."""
    profile = PROFILES[engine]
    prompts: list[Any] = [PROMPT, PROMPT_IDS] if profile.prompt_ids else [PROMPT]
    out = []
    for prompt, sampling, grammar, (stop, n) in itertools.product(
        prompts, SAMPLINGS, grammars(engine), [((), 1), (("END",), 2)]
    ):
        body = completion_body(profile, prompt, stop=stop, n=n, sampling=sampling, grammar=grammar)
        out.append({**body, "model": "kimi-k2"})
    return out


def test_vllm_reads_every_field_of_its_bodies() -> None:
    protocol = pytest.importorskip(
        "vllm.entrypoints.openai.completion.protocol", reason="needs vLLM (ci/engines/install.sh vllm)"
    )
    for body in bodies("vllm"):
        req = protocol.CompletionRequest.model_validate(body)
        assert not req.model_extra, f"vLLM would ignore {sorted(req.model_extra)}"
        assert req.skip_special_tokens is False and req.spaces_between_special_tokens is False
        assert req.return_token_ids is True and req.stop_token_ids == [SPECIAL_IDS[IM_END]]
        assert req.prompt == body["prompt"] and IM_END not in (req.stop or [])
        assert (req.structured_outputs is not None) == ("structured_outputs" in body)


def test_sglang_reads_every_field_of_its_bodies() -> None:
    protocol = pytest.importorskip(
        "sglang.srt.entrypoints.openai.protocol", reason="needs SGLang (ci/engines/install.sh sglang)"
    )
    declared = set(protocol.CompletionRequest.model_fields)
    for body in bodies("sglang"):
        assert set(body) <= declared, f"SGLang would ignore {sorted(set(body) - declared)}"
        req = protocol.CompletionRequest.model_validate(body)
        assert req.skip_special_tokens is False and req.return_token_ids is True
        assert req.stop_token_ids == [SPECIAL_IDS[IM_END]] and req.prompt == body["prompt"]
        if "response_format" in body:
            assert req.response_format is not None and body["response_format"]["type"] == "structural_tag"
        assert (req.ebnf is not None) == ("ebnf" in body)


def test_trtllm_accepts_its_bodies_and_refuses_the_others() -> None:
    from testsupport.trtllm_request import TrtllmCompletionRequest

    for body in bodies("trtllm"):
        req = TrtllmCompletionRequest.model_validate(body)
        assert req.skip_special_tokens is False and req.spaces_between_special_tokens is False
        assert req.stop_token_ids == [SPECIAL_IDS[IM_END]] and req.detokenize is True
        if "response_format" in body:
            assert req.response_format.type in ("structural_tag", "ebnf")
    # the vLLM body is a 400 there (return_token_ids), and so is SGLang's grammar field
    with pytest.raises(ValueError, match="return_token_ids"):
        TrtllmCompletionRequest.model_validate(bodies("vllm")[0])
    sglang_ebnf = next(b for b in bodies("sglang") if "ebnf" in b)
    with pytest.raises(ValueError, match="ebnf"):
        TrtllmCompletionRequest.model_validate(sglang_ebnf)


def test_llamacpp_bodies_hold_only_fields_its_server_reads() -> None:
    for body in bodies("llamacpp"):
        assert set(body) <= LLAMACPP_READS, sorted(set(body) - LLAMACPP_READS)
        assert isinstance(body["stop"], list) and body["stop"][0] == IM_END  # no stop_token_ids there
        assert set(body["preserved_tokens"]) >= {"<|tool_call_begin|>", "<|tool_call_end|>"}
        if "grammar" in body:
            assert "<[163597]>" in body["grammar"]  # the markers by token id


def test_plain_bodies_are_openai_completion_fields() -> None:
    openai_fields = {"model", "prompt", "stream", "stream_options", "stop", "n", "max_tokens", "temperature"}
    openai_fields |= {"top_p", "seed", "presence_penalty", "frequency_penalty", "top_k"}
    for body in bodies("plain"):
        assert set(body) <= openai_fields and isinstance(body["prompt"], str)
