"""The LLM CORTEX gives LightRAG: Ollama's for graph extraction when one is configured, else one that refuses."""

from __future__ import annotations

from typing import Any

from cortex.errors import CortexError, CortexUnavailableError
from synapse.config import CortexSettings, OllamaSettings


async def _no_llm(*_: Any, **__: Any) -> str:
    raise RuntimeError("CORTEX has no LLM configured (set CORTEX_LLM_MODEL to an Ollama model for graph extraction)")


def lightrag_llm(settings: CortexSettings) -> dict[str, Any]:
    """LightRAG's LLM arguments: Ollama when CORTEX_LLM_MODEL names a model, else a function that refuses.

    Ollama's failures are re-raised naming the host, the model and the fix. LightRAG keeps only the
    message (it rebuilds the exception with a chunk prefix), so the fix is part of the message: it
    becomes the failed document's error.
    """
    if not settings.llm_model:
        return {"llm_model_func": _no_llm, "llm_model_name": "none"}
    import httpx
    import ollama
    from lightrag.llm.ollama import ollama_model_complete  # type: ignore[import-untyped]

    model, host = settings.llm_model, OllamaSettings().host

    async def complete(prompt: str, system_prompt: str | None = None, **kwargs: Any) -> Any:
        try:
            return await ollama_model_complete(prompt, system_prompt=system_prompt, **kwargs)
        except ollama.ResponseError as exc:
            if exc.status_code == 404:
                raise CortexError(
                    f"Ollama at {host} has no model {model!r} (CORTEX_LLM_MODEL): {exc.error}; "
                    f"run `ollama pull {model}` or set CORTEX_LLM_MODEL to a pulled model"
                ) from exc
            raise CortexError(
                f"Ollama at {host} failed with {model!r} (CORTEX_LLM_MODEL): {exc.error}; "
                f"check that `ollama run {model}` works"
            ) from exc
        except (ConnectionError, OSError, httpx.TransportError) as exc:
            raise CortexUnavailableError(
                f"Ollama is not reachable at {host} (OLLAMA_HOST) "
                f"for CORTEX_LLM_MODEL={model} ({type(exc).__name__}); "
                "start Ollama (`ollama serve`) or set OLLAMA_HOST, or unset CORTEX_LLM_MODEL to store "
                "documents without graph extraction"
            ) from exc

    return {
        "llm_model_func": complete,
        "llm_model_name": model,
        "llm_model_kwargs": {"host": host, "options": {"num_ctx": 32768}},
    }
