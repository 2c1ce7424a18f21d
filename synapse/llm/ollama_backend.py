"""Generation through an Ollama server with the official `ollama` AsyncClient."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from typing import Any

import httpx
import ollama

from synapse.llm.base import LLMBackend
from synapse.llm.errors import BackendUnavailableError, LLMError, ModelNotFoundError
from synapse.llm.models import (
    BackendHealth,
    ChatMessage,
    GenerationOptions,
    LoadedModel,
    ModelCard,
    ModelInfo,
    StreamDelta,
)
from synapse.llm.ollama_tools import call_from_json, parse_parameters, read_calls, request_fields, wire_messages
from synapse.llm.output import OutputCollector, plan_output
from synapse.llm.sampling import FALLBACK_TEMPERATURE, FALLBACK_TOP_P


class OllamaBackend(LLMBackend):
    """Ollama at OLLAMA_HOST: chat and streaming with tools and JSON formats, model list, embeddings."""

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
            "num_ctx": self._num_ctx,
        }
        # Ollama applies the model's Modelfile PARAMETERs to what is not sent; SYNAPSE has always sent its
        # temperature and top_p, and keeps doing so, while top_k and repeat_penalty stay the Modelfile's.
        out["temperature"] = FALLBACK_TEMPERATURE if options.temperature is None else options.temperature
        out["top_p"] = FALLBACK_TOP_P if options.top_p is None else options.top_p
        if options.top_k is not None:
            out["top_k"] = options.top_k
        if options.repeat_penalty is not None:
            out["repeat_penalty"] = options.repeat_penalty
        if options.stop:
            out["stop"] = list(options.stop)
        if options.seed is not None:
            out["seed"] = options.seed
        return out

    async def stream(
        self, messages: Sequence[ChatMessage], model: str, options: GenerationOptions
    ) -> AsyncIterator[StreamDelta]:
        plan = plan_output(options)
        collector = OutputCollector(plan)
        forced: list[str] = []
        payload = {
            "model": model,
            "messages": wire_messages(messages),
            "stream": True,
            "options": self._options(options),
            **request_fields(plan),
        }
        if options.keep_alive is not None:
            payload["keep_alive"] = options.keep_alive
        response: Any = None
        try:
            # The client's own chat() passes tools through a model that drops nested schemas (properties of
            # objects, anyOf, bounds), so the request body is ours; transport, streaming and errors are its.
            response = await self._client._request(ollama.ChatResponse, "POST", "/api/chat", json=payload, stream=True)
            async for part in response:
                for delta in self._deltas(part, collector, forced):
                    yield delta
                if part.done:
                    return
        except (ollama.ResponseError, ConnectionError, httpx.TransportError) as exc:
            raise self._translate(exc, model) from exc
        finally:
            # Closing the HTTP stream now (not at garbage collection) tells Ollama to stop generating
            # when our caller went away.
            if response is not None:
                await response.aclose()
        # A stream that ends without its final chunk was cut off on the way.
        raise LLMError("Ollama closed the stream before the answer was complete", "see the Ollama server log")

    @staticmethod
    def _deltas(part: Any, collector: OutputCollector, forced: list[str]) -> list[StreamDelta]:
        """The deltas of one chunk; a forced call arrives as JSON text and is read at the end."""
        text = part.message.content or ""
        out: list[StreamDelta] = []
        if collector.plan.forced:
            forced.append(text)
        else:
            out.extend(collector.feed(text))
        for call in read_calls(part.message.tool_calls):
            out.extend(collector.add_call(call))
        if not part.done:
            return out
        answered = call_from_json("".join(forced)) if collector.plan.forced and not collector.calls else None
        if answered is not None:
            out.extend(collector.add_call(answered))
        out.extend(
            collector.finish(
                truncated=part.done_reason == "length",
                prompt_tokens=part.prompt_eval_count or 0,
                completion_tokens=part.eval_count or 0,
            )
        )
        return out

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
                    digest=m.digest,
                )
            )
        return out

    async def loaded_models(self) -> list[LoadedModel]:
        """Ollama's own /api/ps; empty when Ollama does not answer."""
        try:
            running = await self._client.ps()
        except Exception:
            return []
        out = []
        for m in running.models:
            name = m.model or m.name
            if not name:
                continue
            details = m.details
            out.append(
                LoadedModel(
                    name=name,
                    size=int(m.size or 0),
                    size_vram=int(m.size_vram or 0),
                    digest=m.digest,
                    expires_at=m.expires_at,
                    context_length=m.context_length,
                    family=details.family if details else None,
                    parameter_size=details.parameter_size if details else None,
                    quantization=details.quantization_level if details else None,
                )
            )
        return out

    async def model_card(self, model: str) -> ModelCard:
        """Ollama's own /api/show of the model (its Go template, parameters, metadata, capabilities)."""
        try:
            shown = await self._client.show(model)
        except Exception:
            return ModelCard()
        return ModelCard(
            template=shown.template,
            # What SYNAPSE sends on each request in place of the Modelfile's temperature and top_p.
            parameters={
                **parse_parameters(shown.parameters or ""),
                "temperature": [FALLBACK_TEMPERATURE],
                "top_p": [FALLBACK_TOP_P],
            },
            model_info=dict(shown.modelinfo or {}),
            capabilities=list(shown.capabilities) if shown.capabilities is not None else None,
        )

    async def embed(self, texts: Sequence[str], model: str, dimensions: int | None = None) -> list[list[float]]:
        try:
            response = await self._client.embed(model=model, input=list(texts), dimensions=dimensions)
        except Exception as exc:
            raise self._translate(exc, model) from exc
        return [list(v) for v in response.embeddings]

    def context_window(self, model: str) -> int:
        return self._num_ctx

    async def aclose(self) -> None:
        await self._client._client.aclose()
