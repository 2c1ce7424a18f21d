"""Generation through an Ollama server with the official `ollama` AsyncClient."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from typing import Any

import httpx
import ollama

from synapse.llm.base import LLMBackend
from synapse.llm.errors import BackendUnavailableError, LLMError, ModelNotFoundError
from synapse.llm.models import BackendHealth, ChatMessage, GenerationOptions, ModelInfo, StreamDelta


class OllamaBackend(LLMBackend):
    """Ollama at OLLAMA_HOST: chat and streaming, model list, embeddings."""

    kind = "ollama"

    def __init__(self, host: str, *, num_ctx: int = 4096, timeout_s: float = 300.0) -> None:
        self.host = host
        self._num_ctx = num_ctx
        self._client = ollama.AsyncClient(host=host, timeout=timeout_s)

    def _down(self, detail: str) -> BackendUnavailableError:
        return BackendUnavailableError(
            f"Ollama at {self.host} is not reachable: {detail}",
            "start Ollama (`ollama serve`) or set OLLAMA_HOST; or set SYNAPSE_BACKEND=llamacpp "
            "(or SYNAPSE_FALLBACK=llamacpp) to answer with the embedded model",
        )

    def _translate(self, exc: Exception, model: str | None = None) -> LLMError:
        if isinstance(exc, ollama.ResponseError):
            if exc.status_code == 404 and model is not None:
                return ModelNotFoundError(
                    f"Ollama has no model {model!r}: {exc.error}",
                    f"pull or create it (`ollama pull {model}` or `synapse export td010v2`), "
                    "or set SYNAPSE_TRIZ_MODEL / SYNAPSE_BASE_MODEL",
                )
            return LLMError(f"Ollama answered {exc.status_code}: {exc.error}", "see the Ollama server log")
        if isinstance(exc, (ConnectionError, httpx.TransportError)):
            return self._down(str(exc) or type(exc).__name__)
        return LLMError(f"Ollama request failed: {exc}", "see the Ollama server log")

    def _options(self, options: GenerationOptions) -> dict[str, Any]:
        out: dict[str, Any] = {
            "num_predict": options.max_tokens,
            "temperature": options.temperature,
            "top_p": options.top_p,
            "num_ctx": self._num_ctx,
        }
        if options.stop:
            out["stop"] = list(options.stop)
        if options.seed is not None:
            out["seed"] = options.seed
        return out

    async def stream(
        self, messages: Sequence[ChatMessage], model: str, options: GenerationOptions
    ) -> AsyncIterator[StreamDelta]:
        payload = [{"role": m.role, "content": m.content} for m in messages]
        response: Any = None
        try:
            response = await self._client.chat(
                model=model, messages=payload, stream=True, options=self._options(options)
            )
            async for part in response:
                text = part.message.content or ""
                if part.done:
                    if text:
                        yield StreamDelta(content=text)
                    yield StreamDelta(
                        done=True,
                        finish_reason="length" if part.done_reason == "length" else "stop",
                        prompt_tokens=part.prompt_eval_count or 0,
                        completion_tokens=part.eval_count or 0,
                    )
                    return
                if text:
                    yield StreamDelta(content=text)
        except (ollama.ResponseError, ConnectionError, httpx.TransportError) as exc:
            raise self._translate(exc, model) from exc
        finally:
            # Closing the HTTP stream now (not at garbage collection) tells Ollama to stop generating
            # when our caller went away.
            if response is not None:
                await response.aclose()
        # A stream that ends without its final chunk was cut off on the way.
        raise LLMError("Ollama closed the stream before the answer was complete", "see the Ollama server log")

    async def health(self) -> BackendHealth:
        try:
            listed = await self._client.list()
        except Exception as exc:
            return BackendHealth(backend="ollama", status="down", detail=str(self._translate(exc)))
        return BackendHealth(
            backend="ollama", status="ok", detail=self.host, models=[m.model for m in listed.models if m.model]
        )

    async def list_models(self) -> list[ModelInfo]:
        try:
            listed = await self._client.list()
        except Exception as exc:
            raise self._translate(exc) from exc
        out = []
        for m in listed.models:
            if not m.model:
                continue
            details = m.details
            out.append(
                ModelInfo(
                    name=m.model,
                    backend="ollama",
                    context_window=self._num_ctx,
                    size=int(m.size) if m.size is not None else None,
                    family=details.family if details else None,
                    quantization=details.quantization_level if details else None,
                )
            )
        return out

    async def embed(self, texts: Sequence[str], model: str) -> list[list[float]]:
        try:
            response = await self._client.embed(model=model, input=list(texts))
        except Exception as exc:
            raise self._translate(exc, model) from exc
        return [list(v) for v in response.embeddings]

    def context_window(self, model: str) -> int:
        return self._num_ctx

    async def aclose(self) -> None:
        await self._client._client.aclose()
