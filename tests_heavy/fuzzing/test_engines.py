"""The engine targets, where the engine is installed (a separate environment: see the README)."""

from __future__ import annotations

import pytest

from kimi_toolparse.cli import main

from ..conftest import VOCAB_FILE


@pytest.mark.parametrize(
    ("engine", "module"),
    [("vllm", "vllm.parser.kimi_k2"), ("sglang", "sglang.srt.function_call.kimik2_detector")],
)
def test_engine_parsers_run_through_their_interfaces(
    capsys: pytest.CaptureFixture[str], engine: str, module: str
) -> None:
    pytest.importorskip(module, reason=f"{engine} is not installed here (it needs its own environment)")
    code = main(
        ["fuzz", engine, "--vocab", str(VOCAB_FILE), "--examples", "10", "--quirks", "canonical,whitespace"]
    )
    out = capsys.readouterr().out
    assert code in (0, 1)
    assert "canonical" in out and "whitespace" in out
    assert "raised" not in out  # every example went through the engine's parser and back
