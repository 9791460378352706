"""TensorRT-LLM's ``/v1/completions`` request as this project reads it, for tests: unknown fields refused.

``trtllm-serve`` validates each request with a pydantic model whose base refuses extra fields, so a field it
does not know is a 400. This model is written from the field list of ``tensorrt_llm/serve/openai_protocol.py``
(``CompletionRequest``, ``ResponseFormat``, ``StreamOptions``): the fields the gateway sends are typed as
there, the others accepted with any value; the two request-level checks that concern the gateway are kept.
The field names come from :data:`kimi_toolparse.serve.standin.TRTLLM_COMPLETION_FIELDS` (one list for the
stand-in and the tests).
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, create_model, model_validator

from kimi_toolparse.serve.standin import TRTLLM_COMPLETION_FIELDS

__all__ = ["TrtllmCompletionRequest"]


class _Forbid(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class TrtllmStreamOptions(_Forbid):
    include_usage: bool | None = True
    continuous_usage_stats: bool | None = False


class TrtllmResponseFormat(_Forbid):
    type: Literal["text", "json", "json_schema", "json_object", "regex", "ebnf", "structural_tag"]
    schema_: dict[str, Any] | None = Field(None, alias="schema")
    json_schema: dict[str, Any] | None = None
    regex: str | None = None
    ebnf: str | None = None
    #: TensorRT-LLM types it as xgrammar's structural-tag format model.
    format: dict[str, Any] | None = None

    @model_validator(mode="after")
    def _needs_its_payload(self) -> TrtllmResponseFormat:
        if self.type == "ebnf" and self.ebnf is None:
            raise ValueError("response_format.ebnf is required for response_format.type == 'ebnf'")
        if self.type == "structural_tag" and self.format is None:
            raise ValueError("a structural_tag response_format needs its format")
        return self


class _Typed(_Forbid):
    """The fields the gateway may send, typed as TensorRT-LLM types them."""

    model: str
    prompt: list[int] | list[list[int]] | str | list[str]
    frequency_penalty: float | None = 0.0
    max_tokens: int | None = None
    n: int = 1
    presence_penalty: float | None = 0.0
    seed: int | None = None
    stop: str | list[str] | None = None
    stream: bool | None = False
    stream_options: TrtllmStreamOptions | None = None
    temperature: float | None = None
    top_p: float | None = None
    top_k: int = 0
    stop_token_ids: list[int] | None = None
    skip_special_tokens: bool = True
    spaces_between_special_tokens: bool = True
    detokenize: bool = True
    response_format: TrtllmResponseFormat | None = None

    @model_validator(mode="before")
    @classmethod
    def _stream_options_need_stream(cls, data: Any) -> Any:
        if isinstance(data, dict) and data.get("stream_options") and not data.get("stream"):
            raise ValueError("Stream options can only be defined when stream is true.")
        if isinstance(data, dict) and data.get("suffix"):
            raise ValueError("suffix is not supported")
        return data


#: Every field of TensorRT-LLM's completion request; any other is refused.
TrtllmCompletionRequest = create_model(  # type: ignore[call-overload]
    "TrtllmCompletionRequest",
    __base__=_Typed,
    **{name: (Any, None) for name in sorted(TRTLLM_COMPLETION_FIELDS - set(_Typed.model_fields))},
)
