"""The gateway's --grammar option: the engine gets the request's grammar, checked with xgrammar's own matcher
(xgrammar imports PyTorch: this module runs in .venv-oracles)."""

from __future__ import annotations

import json

import kimi_toolparse as ktp
from kimi_toolparse.serve.chat import parse_request, plan_request
from kimi_toolparse.serve.engines import PROFILES
from kimi_toolparse.serve.standin import StandIn
from kimi_toolparse.serve.upstream import Target
from tests.serve.conftest import gateway
from tests.serve.test_chat import TOOLS as CHAT_TOOLS
from tests.serve.test_chat import USER
from tests.serve.test_gateway import TOOLS, client
from tests_heavy.constrain.xgr_helpers import accepts_text


def test_a_grammar_replaces_the_prefill_and_enforces_tool_choice() -> None:
    """--grammar: the engine gets the request's grammar, the prompt is render()'s alone, and the grammar
    takes exactly the calls tool_choice allows (checked with xgrammar's own matcher)."""
    req = parse_request(
        {"model": "kimi-k2.5", "messages": USER, "tools": CHAT_TOOLS, "tool_choice": "required"}
    )
    p = plan_request(req, "kimi-k2.5", Target(PROFILES["vllm"], grammar="ebnf"))
    assert p.prefill == "" and p.upstream["prompt"] == ktp.render(USER, CHAT_TOOLS, model="kimi-k2.5")
    grammar = p.upstream["structured_outputs"]["grammar"]

    def accepts(output: str) -> bool:
        return accepts_text("ebnf", grammar, output)

    assert p.thinking  # K2.5 thinks by default: reasoning comes first, then the call the grammar forces
    call = (
        "Let me list it.</think>"
        "<|tool_calls_section_begin|><|tool_call_begin|>functions.bash:0<|tool_call_argument_begin|>"
        '{"command": "ls"}<|tool_call_end|><|tool_calls_section_end|>'
    )
    assert accepts(call)
    assert not accepts("Let me list it.</think>Just text, no call.")  # required: a call must come
    assert not accepts(call.replace("functions.bash", "functions.rm"))  # an undeclared tool
    # no grammar without tools; sglang takes the structural tag as response_format
    plain = parse_request({"model": "kimi-k2.5", "messages": USER})
    assert "structured_outputs" not in plan_request(plain, "kimi-k2.5", Target(grammar="ebnf")).upstream
    sg = plan_request(req, "kimi-k2.5", Target(PROFILES["sglang"], grammar="structural-tag"))
    assert sg.upstream["response_format"]["type"] == "structural_tag" and sg.prefill == ""


def test_grammar_option_sends_the_requests_grammar_instead_of_a_prefill() -> None:
    """--grammar structural-tag: a named tool_choice reaches vLLM as the request's structural tag, the prompt
    is render()'s with nothing prefilled, and the call the engine writes comes back."""
    call = (
        "<|tool_calls_section_begin|><|tool_call_begin|>functions.get_weather:0<|tool_call_argument_begin|>"
        '{"city": "Paris"}<|tool_call_end|><|tool_calls_section_end|><|im_end|>'
    )
    messages = [{"role": "user", "content": "Weather in Paris?"}]
    with (
        StandIn(lambda r: call) as up,
        gateway(up.base_url, models=("kimi-k2-instruct",), grammar="structural-tag") as base,
    ):
        r = client(base).chat.completions.create(
            model="kimi-k2-instruct",
            messages=messages,
            tools=TOOLS,
            tool_choice={"type": "function", "function": {"name": "get_weather"}},
        )
        sent = up.requests[-1].body
        assert up.prompts[-1] == ktp.render(messages, TOOLS, model="kimi-k2-instruct")
        tag = json.loads(sent["structured_outputs"]["structural_tag"])
        assert "functions.get_weather:0" in json.dumps(tag) and "functions.bash" not in json.dumps(tag)
        [tc] = r.choices[0].message.tool_calls
        assert (tc.id, tc.function.name, tc.function.arguments) == (
            "functions.get_weather:0",
            "get_weather",
            '{"city": "Paris"}',
        )
