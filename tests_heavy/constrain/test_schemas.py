"""The 212 real schemas of Moonshot's vendor verifier, one tool each, in all three formats: arguments valid
against the schema (as the model writes them) pass, arguments of the wrong shape do not."""

from __future__ import annotations

import json
import warnings
from typing import Any

import pytest

import kimi_toolparse as ktp
from tests_heavy.constrain.cases import FORMATS, call, schema_cases, section, strict
from tests_heavy.constrain.xgr_helpers import accepts

jsonschema = pytest.importorskip("jsonschema")
jsf = pytest.importorskip("jsf", reason="instances of the schemas come from jsf (pip install -e '.[test]')")

#: Values of every JSON type: those a schema refuses must be refused by the grammar too.
WRONG_SHAPES: list[Any] = [[], "text", 17, None, True, {"__undeclared__": 1}]


def instances(schema: Any, n: int = 4) -> list[Any]:
    """Up to ``n`` distinct instances jsf makes that the strict schema accepts (jsf sometimes misses)."""
    checker = jsonschema.Draft202012Validator(strict(schema))
    out: list[Any] = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            faker = jsf.JSF(strict(schema))
            for _ in range(3 * n):
                value = faker.generate()
                if checker.is_valid(value) and value not in out:
                    out.append(value)
                if len(out) == n:
                    break
        except Exception:  # jsf cannot read some schemas: they get no positive case
            pass
    return out


def tool(schema: Any) -> list[dict[str, Any]]:
    return [{"type": "function", "function": {"name": "f", "parameters": schema}}]


@pytest.fixture(scope="module")
def cases() -> list[tuple[str, Any, list[Any]]]:
    return [(name, schema, instances(schema)) for name, schema in schema_cases()]


@pytest.mark.parametrize("fmt", FORMATS)
def test_schema_cases(fmt: str, cases: list[tuple[str, Any, list[Any]]]) -> None:
    accepted = rejected = with_instances = 0
    for name, schema, values in cases:
        grammar = ktp.grammar_for(tool(schema), format=fmt)
        exact = not grammar.notes
        checker = jsonschema.Draft202012Validator(schema)
        with_instances += bool(values)
        for value in values:
            for text in (
                json.dumps(value, ensure_ascii=False),
                json.dumps(value, separators=(",", ":"), ensure_ascii=False),
            ):
                raw = "Calling f." + section(call("f", 0, text))
                assert accepts(grammar, raw), (name, text)
                message = ktp.parse(raw, tools=tool(schema))
                assert [c.arguments for c in message.tool_calls] == [text]
                accepted += 1
            assert not accepts(grammar, section(call("g", 0, json.dumps(value)))), name
            rejected += 1
        for value in WRONG_SHAPES:
            if exact and not checker.is_valid(value):
                assert not accepts(grammar, section(call("f", 0, json.dumps(value)))), (name, value)
                rejected += 1
    # figures for the README: schemas with instances, accepted outputs, rejected outputs
    print(f"\n{fmt}: {len(cases)} schemas, {with_instances} with instances, ", end="")
    print(f"{accepted} accepted, {rejected} rejected")
    assert len(cases) == 212 and with_instances >= 190
