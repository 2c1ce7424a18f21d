"""The Ollama backend against a local server that speaks Ollama's chat API."""

from __future__ import annotations

import socket

import pytest

from synapse.llm import BackendUnavailableError, ChatMessage, GenerationOptions, ModelNotFoundError
from synapse.llm.ollama_backend import OllamaBackend
from tests.support.fake_ollama import ollama_chat_server

Q = [ChatMessage(role="system", content="be brief"), ChatMessage(role="user", content="How to cool a chip?")]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.mark.asyncio
async def test_streams_deltas_and_counts() -> None:
    with ollama_chat_server("Segment the beam [1].") as server:
        backend = OllamaBackend(server.url, num_ctx=2048)
        deltas = [
            d async for d in backend.stream(Q, "triz-td010v2-q4km", GenerationOptions(max_tokens=50, stop=["##"]))
        ]
        await backend.aclose()
    assert "".join(d.content for d in deltas) == "Segment the beam [1]."
    final = deltas[-1]
    assert final.done and final.finish_reason == "stop" and final.prompt_tokens == 21 and final.completion_tokens == 4
    sent = server.bodies[-1]
    assert sent["messages"][0] == {"role": "system", "content": "be brief"} and sent["stream"] is True
    assert (
        sent["options"]["num_predict"] == 50
        and sent["options"]["num_ctx"] == 2048
        and sent["options"]["stop"] == ["##"]
    )


@pytest.mark.asyncio
async def test_chat_health_models_and_embeddings() -> None:
    with ollama_chat_server("one two three") as server:
        backend = OllamaBackend(server.url)
        result = await backend.chat(Q, "qwen2.5:14b-instruct-q4_k_m", GenerationOptions(max_tokens=2))
        health = await backend.health()
        models = await backend.list_models()
        vectors = await backend.embed(["a", "b"], "nomic-embed-text")
        await backend.aclose()
    assert result.content == "one two" and result.completion_tokens == 2
    assert health.status == "ok" and "triz-td010v2-q4km:latest" in health.models
    assert models[0].quantization == "Q4_K_M" and len(vectors) == 2


@pytest.mark.asyncio
async def test_unknown_model_is_404_with_the_fix() -> None:
    with ollama_chat_server() as server:
        backend = OllamaBackend(server.url)
        with pytest.raises(ModelNotFoundError, match="ollama pull"):
            await backend.chat(Q, "nope", GenerationOptions())
        await backend.aclose()


@pytest.mark.asyncio
async def test_server_down_names_ollama_host() -> None:
    backend = OllamaBackend(f"http://127.0.0.1:{free_port()}")
    health = await backend.health()
    assert health.status == "down" and "OLLAMA_HOST" in health.detail
    with pytest.raises(BackendUnavailableError, match="OLLAMA_HOST"):
        await backend.chat(Q, "triz-td010v2-q4km", GenerationOptions())
    await backend.aclose()


@pytest.mark.asyncio
async def test_closing_the_stream_closes_the_request_to_ollama() -> None:
    import asyncio

    with ollama_chat_server(" ".join(["word"] * 400), delay_s=0.01) as server:
        backend = OllamaBackend(server.url)
        stream = backend.stream(Q, "triz-td010v2-q4km", GenerationOptions(max_tokens=400))
        first = [await stream.__anext__() for _ in range(2)]
        await stream.aclose()
        for _ in range(500):
            if server.aborted:
                break
            await asyncio.sleep(0.01)
        await backend.aclose()
    assert [d.content for d in first] == ["word", " word"] and server.aborted == 1
