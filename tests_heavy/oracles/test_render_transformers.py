"""The Jinja oracle (testsupport/goldens.py) against transformers itself: its own message normalization and
render_jinja_template (transformers >= 5; runs in .venv-oracles)."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from kimi_toolparse.rendering.templates import MODELS
from tests.oracles.test_render_live import _combos, _lenient_conversation, oracle
from testsupport.goldens import first_difference as _diff


def _transformers_pipeline(model: str, messages: list[dict[str, Any]], tools: Any, **kwargs: Any) -> str:
    """transformers' own rendering: its message normalization and render_jinja_template."""
    from transformers.utils.chat_template_utils import _normalize_chat_messages as normalize
    from transformers.utils.chat_template_utils import render_jinja_template as render_jinja

    script = oracle()
    source = script.template_path(model).read_text(encoding="utf-8")
    tool_kwargs = script.official_tool_kwargs(model, tools)
    rendered, _ = render_jinja(
        conversations=[normalize(messages)], chat_template=source, **tool_kwargs, **kwargs
    )
    return str(rendered[0])


def test_oracle_equals_transformers_own_rendering() -> None:
    script = oracle()
    conversations = [(c["messages"], c["tools"]) for c in script.edge_cases() if c["strict"]]
    conversations += [(c["messages"], c["tools"]) for c in script.k2vv_conversations()[:3]]
    for model, kwargs in _combos():
        for messages, tools in conversations:
            for generation in (True, False):
                try:
                    theirs = _transformers_pipeline(
                        model, copy.deepcopy(messages), tools, add_generation_prompt=generation, **kwargs
                    )
                except Exception as e:  # an old revision that fails on this input: so must the oracle
                    with pytest.raises(type(e)):
                        script.oracle_render(
                            model,
                            script.transformers_view(messages),
                            tools,
                            add_generation_prompt=generation,
                            **kwargs,
                        )
                    continue
                mine = script.oracle_render(
                    model,
                    script.transformers_view(messages),
                    tools,
                    add_generation_prompt=generation,
                    **kwargs,
                )
                assert mine == theirs, f"{model} {kwargs}: {_diff(mine, theirs)}"


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from(list(MODELS)).flatmap(_lenient_conversation))
def test_transformers_view_is_what_transformers_does(messages: list[dict[str, Any]]) -> None:
    """The strict mode's reading of null fields and reasoning aliases is transformers' own (>= 5)."""
    from transformers.utils.chat_template_utils import _alias_reasoning_fields as alias
    from transformers.utils.chat_template_utils import _normalize_chat_messages as normalize

    assume(all(isinstance(m, dict) for m in messages))
    assert oracle().transformers_view(messages) == alias(normalize(copy.deepcopy(messages)))
