"""Embedding request and response bodies: OpenAI's /v1/embeddings, Ollama's /api/embed and /api/embeddings."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

_TOKENS = (
    "token arrays are not supported: send the texts themselves "
    "(LangChain: OpenAIEmbeddings(check_embedding_ctx_length=False))"
)
_CRANE = "How can a crane boom get stronger without getting heavier?"
_CRANE_RU = "Как сделать стрелу крана прочнее, не делая её тяжелее?"


class EmbeddingRequest(BaseModel):
    """POST /v1/embeddings; unknown OpenAI parameters are accepted and ignored."""

    model_config = ConfigDict(
        extra="allow",
        strict=True,
        json_schema_extra={
            "examples": [
                {"model": "triz-agent", "input": _CRANE},
                {"model": "triz-agent", "input": [_CRANE, _CRANE_RU], "encoding_format": "base64"},
            ]
        },
    )

    model: str = Field(min_length=1)
    input: str | Annotated[list[str], Field(min_length=1)]
    encoding_format: Literal["float", "base64"] = "float"
    dimensions: int | None = Field(default=None, ge=1)
    user: str | None = None

    @field_validator("input", mode="before")
    @classmethod
    def _no_token_arrays(cls, value: Any) -> Any:
        # OpenAI also takes token ids; they belong to OpenAI's tokenizer, which no embedder here shares.
        if isinstance(value, list) and any(isinstance(item, (int, list)) for item in value):
            raise ValueError(_TOKENS)
        return value


class EmbeddingData(BaseModel):
    object: Literal["embedding"] = "embedding"
    index: int
    embedding: list[float] | str = Field(description="floats, or base64 of little-endian float32 values")


class EmbeddingUsage(BaseModel):
    prompt_tokens: int
    total_tokens: int


class EmbeddingList(BaseModel):
    """The answer of POST /v1/embeddings."""

    object: Literal["list"] = "list"
    data: list[EmbeddingData]
    model: str
    usage: EmbeddingUsage


class OllamaEmbedRequest(BaseModel):
    """POST /api/embed; `truncate`, `keep_alive` and `options` are accepted (SYNAPSE's limits apply first)."""

    model_config = ConfigDict(
        extra="allow",
        strict=True,
        json_schema_extra={
            "examples": [
                {"model": "triz-agent", "input": _CRANE},
                {"model": "triz-agent", "input": [_CRANE, _CRANE_RU]},
            ]
        },
    )

    model: str = Field(min_length=1)
    input: str | list[str] = ""
    truncate: bool = True
    dimensions: int | None = Field(default=None, ge=1)
    options: dict[str, Any] | None = None
    keep_alive: Any = None


class OllamaEmbedResponse(BaseModel):
    model: str
    embeddings: list[list[float]]
    total_duration: int
    load_duration: int
    prompt_eval_count: int


class OllamaEmbeddingsRequest(BaseModel):
    """POST /api/embeddings, Ollama's older route: one `prompt`, one vector."""

    model_config = ConfigDict(
        extra="allow",
        strict=True,
        json_schema_extra={"examples": [{"model": "triz-agent", "prompt": _CRANE}]},
    )

    model: str = Field(min_length=1)
    prompt: str = ""
    options: dict[str, Any] | None = None
    keep_alive: Any = None


class OllamaEmbeddingResponse(BaseModel):
    embedding: list[float]
