"""Byte-for-byte against the committed goldens (made by ``testsupport/goldens.py`` from the official
templates): the 99 K2VV requests and our edge cases, for every model and kwarg combination."""

from __future__ import annotations

import collections
import json
from typing import Any

import pytest

from kimi_toolparse.rendering.prompt import render
from kimi_toolparse.rendering.templates import MODELS, REVISIONS
from testsupport import goldens as golden_script
from testsupport.goldens import first_difference as _diff
from testsupport.goldens import load_committed as goldens

from ..conftest import FIXTURES

GOLDENS = FIXTURES / "render" / "goldens.json"


def _render_case(case: dict[str, Any]) -> str:
    conv = goldens()["conversations"][case["conversation"]]
    return render(
        conv["messages"],
        conv["tools"],
        model=case["model"],
        add_generation_prompt=case["add_generation_prompt"],
        strict=conv["strict"],
        plain_template=case.get("plain_template", False),
        **case["kwargs"],
    )


def _case_id(case: dict[str, Any]) -> str:
    kwargs = ",".join(f"{k}={v}" for k, v in case["kwargs"].items())
    plain = ",plain" if case.get("plain_template") else ""
    return f"{case['conversation']}|{case['model']}|{kwargs}{plain}|gen={case['add_generation_prompt']}"


@pytest.mark.parametrize("model", [*MODELS, *REVISIONS])
def test_goldens_byte_identical(model: str) -> None:
    data = goldens()
    cases = [c for c in data["cases"] if c["model"] == model]
    assert cases
    for case in cases:
        if "template_error" in case:  # the official template fails here: so must we
            with pytest.raises((ValueError, TypeError)):
                _render_case(case)
            continue
        got = _render_case(case)
        want = data["prompts"][case["prompt"]]
        assert got == want, f"{_case_id(case)}: {_diff(got, want)}"


def test_goldens_cover_every_k2vv_request_model_and_combination() -> None:
    data = goldens()
    sources = {s for conv in data["conversations"].values() for s in conv["sources"] if s.startswith("k2vv/")}
    assert sources == {f"k2vv/requests.jsonl#{i}" for i in range(99)}
    combos: dict[str, set[str]] = collections.defaultdict(set)
    renders = 0
    for case in data["cases"]:
        combos[case["model"]].add(json.dumps(case["kwargs"], sort_keys=True))
        renders += len(data["conversations"][case["conversation"]]["sources"])
    assert set(combos) == set(MODELS) | set(REVISIONS)
    assert {"thinking": False} in [json.loads(k) for k in combos["kimi-k2.5"]]
    assert {"preserve_thinking": True} in [json.loads(k) for k in combos["kimi-k2.6"]]
    # 99 requests x 13 model/kwarg combinations x 2 (generation prompt) x 2 (tokenizer vs plain template)
    assert renders >= 99 * 13 * 2 * 2
    edge = [c for c in data["conversations"] if c.startswith("edge-")]
    assert len(edge) >= 20 and any(not data["conversations"][c]["strict"] for c in edge)


def test_goldens_are_up_to_date_with_the_official_templates() -> None:
    pytest.importorskip("jinja2", reason="the Jinja oracle needs jinja2 (pip install -e '.[test]')")
    script = golden_script
    fresh = script.dump(script.build())
    assert fresh == GOLDENS.read_text(encoding="utf-8"), "run python -m testsupport.goldens"
