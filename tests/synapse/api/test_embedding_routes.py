"""The embedding routes with the official clients and LangChain: CORTEX's embedder, limits, keys, listing."""

from __future__ import annotations

import base64
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import numpy as np
import ollama
import openai
import pytest

from synapse.embeddings import Vectors, get_embedder
from tests.conftest import HashingEmbedder
from tests.support.registered import register_embedder
from tests.synapse.agent.fakes import FakeCortex, ScriptedBackend
from tests.synapse.api.conftest import FakeCortexEmbedder, ServeFn

TEXTS = ["Стрела крана должна быть прочнее, но не тяжелее.", "The boom must get stronger without getting heavier."]


class GatedEmbedder(HashingEmbedder):
    """Waits for `gate` before embedding, so a test can hold one batch in flight."""

    name = "test-gated"
    gate = threading.Event()
    started = threading.Event()

    def _encode(self, texts: list[str]) -> Vectors:
        type(self).started.set()
        assert type(self).gate.wait(30)
        return super()._encode(texts)


@pytest.fixture(autouse=True)
def named_embedders(monkeypatch: pytest.MonkeyPatch) -> None:
    register_embedder(monkeypatch, HashingEmbedder)
    register_embedder(monkeypatch, GatedEmbedder)


def _cortex_vectors(texts: list[str]) -> Vectors:
    """What CORTEX's embedder (the one FakeCortex reports) gives for the texts."""
    return FakeCortexEmbedder().embed(texts)


def _decoded(value: Any) -> list[float]:
    return np.frombuffer(base64.b64decode(value), dtype="<f4").tolist()


def _openai(url: str, key: str = "unused") -> openai.OpenAI:
    return openai.OpenAI(base_url=f"{url}/v1", api_key=key, max_retries=0)


def test_openai_client_float_and_base64(serve: ServeFn) -> None:
    server = serve()
    client = _openai(server.url)
    expected = _cortex_vectors(TEXTS)
    for model in ("triz-agent", "triz-agent-base", "fake"):
        for encoding in ("float", "base64"):
            answer = client.embeddings.create(model=model, input=TEXTS, encoding_format=encoding)  # type: ignore[arg-type]
            assert answer.model == model and [d.index for d in answer.data] == [0, 1]
            # Asked for explicitly, base64 comes back as the strings the server sent.
            rows = [_decoded(d.embedding) if encoding == "base64" else d.embedding for d in answer.data]
            np.testing.assert_allclose(rows, expected, atol=1e-7)
            assert answer.usage.prompt_tokens > 0 and answer.usage.total_tokens == answer.usage.prompt_tokens
    # Without encoding_format the client asks for base64 itself and decodes it.
    single = client.embeddings.create(model="triz-agent", input=TEXTS[0])
    np.testing.assert_allclose(single.data[0].embedding, expected[0], atol=1e-7)


def test_base64_is_little_endian_float32(serve: ServeFn) -> None:
    server = serve()
    body = {"model": "triz-agent", "input": TEXTS[1], "encoding_format": "base64"}
    answer = httpx.post(f"{server.url}/v1/embeddings", json=body).json()
    assert answer["object"] == "list" and answer["data"][0]["object"] == "embedding"
    assert _decoded(answer["data"][0]["embedding"]) == _cortex_vectors([TEXTS[1]])[0].tolist()


def test_the_three_routes_agree(serve: ServeFn) -> None:
    server = serve()
    client = ollama.Client(host=server.url)
    expected = _cortex_vectors(TEXTS)
    embedded = client.embed(model="triz-agent:latest", input=TEXTS)
    assert embedded.model == "triz-agent:latest" and embedded.prompt_eval_count
    assert embedded.load_duration == 0 and embedded.total_duration is not None
    legacy = [client.embeddings(model="fake", prompt=text).embedding for text in TEXTS]
    openai_rows = [d.embedding for d in _openai(server.url).embeddings.create(model="fake", input=TEXTS).data]
    for rows in (embedded.embeddings, legacy, openai_rows):
        np.testing.assert_allclose(rows, expected, atol=1e-7)
    # One text alone gets the vector it gets in a batch.
    np.testing.assert_allclose(client.embed(model="fake", input=TEXTS[0]).embeddings, expected[:1], atol=1e-7)


def test_empty_ollama_inputs_only_check_the_model(serve: ServeFn) -> None:
    server = serve()
    client = ollama.Client(host=server.url)
    assert client.embed(model="triz-agent", input=[]).embeddings == []
    assert client.embed(model="triz-agent", input="").embeddings == []
    assert client.embeddings(model="triz-agent", prompt="").embedding == []
    with pytest.raises(ollama.ResponseError) as err:
        client.embed(model="nope", input=[])
    assert err.value.status_code == 404


def test_langchain_embeddings_in_both_dialects(serve: ServeFn) -> None:
    from langchain_ollama import OllamaEmbeddings
    from langchain_openai import OpenAIEmbeddings

    server = serve()
    expected = _cortex_vectors(TEXTS)
    # LangChain's default (check_embedding_ctx_length=True) tokenizes with tiktoken for OpenAI's models and
    # sends token ids; SYNAPSE's embedders take text, so the check is turned off.
    through_openai = OpenAIEmbeddings(
        model="triz-agent",
        base_url=f"{server.url}/v1",
        api_key="unused",
        check_embedding_ctx_length=False,  # type: ignore[arg-type]
    )
    np.testing.assert_allclose(through_openai.embed_documents(TEXTS), expected, atol=1e-6)
    np.testing.assert_allclose(through_openai.embed_query(TEXTS[1]), expected[1], atol=1e-6)
    through_ollama = OllamaEmbeddings(model="triz-agent", base_url=server.url)
    np.testing.assert_allclose(through_ollama.embed_documents(TEXTS), expected, atol=1e-6)
    np.testing.assert_allclose(through_ollama.embed_query(TEXTS[0]), expected[0], atol=1e-6)


def test_token_arrays_get_a_clear_422(serve: ServeFn) -> None:
    server = serve()
    for tokens in ([1, 2, 3], [[1, 2], [3]]):
        r = httpx.post(f"{server.url}/v1/embeddings", json={"model": "triz-agent", "input": tokens})
        assert r.status_code == 422, r.text
        error = r.json()["error"]
        assert "token arrays are not supported" in error["message"] and error["param"].startswith("input")
        assert "check_embedding_ctx_length=False" in error["message"]


def test_limits_on_count_and_size_in_each_dialect(serve: ServeFn) -> None:
    server = serve(max_embed_inputs=2, max_embed_chars=60)
    url = server.url
    r = httpx.post(f"{url}/v1/embeddings", json={"model": "triz-agent", "input": ["a", "b", "c"]})
    assert r.status_code == 422 and r.json()["error"]["code"] == "too_many_inputs"
    assert "SYNAPSE_MAX_EMBED_INPUTS" in r.json()["error"]["message"] and r.json()["error"]["param"] == "input"
    r = httpx.post(f"{url}/v1/embeddings", json={"model": "triz-agent", "input": ["ok", "x" * 61]})
    assert r.status_code == 413 and r.json()["error"]["code"] == "input_too_large"
    assert "input 1 has 61 characters" in r.json()["error"]["message"]
    assert "SYNAPSE_MAX_EMBED_CHARS" in r.json()["error"]["message"]
    r = httpx.post(f"{url}/api/embed", json={"model": "triz-agent", "input": ["a", "b", "c"]})
    assert r.status_code == 422 and "SYNAPSE_MAX_EMBED_INPUTS" in r.json()["error"]
    r = httpx.post(f"{url}/api/embeddings", json={"model": "triz-agent", "prompt": "x" * 61})
    assert r.status_code == 413 and "SYNAPSE_MAX_EMBED_CHARS" in r.json()["error"]
    # At the limits it answers.
    r = httpx.post(f"{url}/api/embed", json={"model": "triz-agent", "input": ["x" * 60, "y"]})
    assert r.status_code == 200 and len(r.json()["embeddings"]) == 2
    # The body limit still comes first.
    big = serve(max_body_bytes=2048)
    r = httpx.post(f"{big.url}/v1/embeddings", json={"model": "triz-agent", "input": "x" * 4000})
    assert r.status_code == 413 and "SYNAPSE_MAX_BODY_BYTES" in r.json()["error"]["message"]


def test_keys_are_enforced(serve: ServeFn) -> None:
    server = serve(api_keys="k1")
    bodies = {
        "/v1/embeddings": {"model": "triz-agent", "input": "x"},
        "/api/embed": {"model": "triz-agent", "input": "x"},
        "/api/embeddings": {"model": "triz-agent", "prompt": "x"},
    }
    for path, body in bodies.items():
        assert httpx.post(f"{server.url}{path}", json=body).status_code == 401, path
        assert httpx.post(f"{server.url}{path}", json=body, headers={"X-API-Key": "k1"}).status_code == 200, path
    with pytest.raises(openai.AuthenticationError):
        _openai(server.url, "wrong").embeddings.create(model="triz-agent", input="x")
    with pytest.raises(ollama.ResponseError) as err:
        ollama.Client(host=server.url).embed(model="triz-agent", input="x")
    assert err.value.status_code == 401
    answer = _openai(server.url, "k1").embeddings.create(model="triz-agent", input="x")
    assert len(answer.data[0].embedding) == FakeCortexEmbedder.dim


def test_unknown_model_is_404_in_each_dialect(serve: ServeFn) -> None:
    server = serve()
    with pytest.raises(openai.NotFoundError) as oa:
        _openai(server.url).embeddings.create(model="text-embedding-3-small", input="x")
    error: Any = oa.value.body
    assert error["code"] == "model_not_found" and error["param"] == "model" and "triz-agent" in error["message"]
    for call in (
        lambda c: c.embed(model="nomic-embed-text", input="x"),
        lambda c: c.embeddings(model="nomic-embed-text", prompt="x"),
    ):
        with pytest.raises(ollama.ResponseError) as err:
            call(ollama.Client(host=server.url))
        assert err.value.status_code == 404 and "nomic-embed-text" in err.value.error


def test_dimensions_must_be_the_models(serve: ServeFn) -> None:
    server = serve()
    client = _openai(server.url)
    assert len(client.embeddings.create(model="fake", input="x", dimensions=8).data[0].embedding) == 8
    with pytest.raises(openai.UnprocessableEntityError) as err:
        client.embeddings.create(model="fake", input="x", dimensions=4)
    error: Any = err.value.body
    assert error["code"] == "unsupported_dimensions" and error["param"] == "dimensions" and "8" in error["message"]
    r = httpx.post(f"{server.url}/api/embed", json={"model": "fake", "input": "x", "dimensions": 4})
    assert r.status_code == 422 and "8-dimensional" in r.json()["error"]


def test_a_generation_model_does_not_embed(serve: ServeFn) -> None:
    server = serve(backend=ScriptedBackend())  # serves triz-td010v2-q4km, computes no embeddings
    r = httpx.post(f"{server.url}/v1/embeddings", json={"model": "triz-td010v2-q4km", "input": "x"})
    assert r.status_code == 400 and r.json()["error"]["code"] == "embeddings_not_supported"
    assert "fake" in r.json()["error"]["message"]


def test_the_embedder_is_listed_with_its_capability(serve: ServeFn) -> None:
    server = serve()
    cards = {m.id: m for m in _openai(server.url).models.list().data}
    extra = (cards["fake"].model_extra or {})["extra"]
    assert extra == {"kind": "embedding", "capabilities": ["embedding"], "dimensions": 8}
    assert cards["fake"].owned_by == "cortex"
    client = ollama.Client(host=server.url)
    tags = httpx.get(f"{server.url}/api/tags").json()["models"]
    assert next(t for t in tags if t["name"] == "fake")["capabilities"] == ["embedding"]
    assert "fake" in [m.model for m in client.list().models]
    shown = client.show("fake")
    assert shown.capabilities == ["embedding"] and shown.modelinfo is not None
    assert shown.modelinfo["fake.embedding_length"] == 8


def test_cortex_down_falls_back_to_cortex_embedder_setting(serve: ServeFn, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CORTEX_EMBEDDER", HashingEmbedder.name)
    server = serve(cortex=FakeCortex(down=True))
    rows = _openai(server.url).embeddings.create(model="triz-agent", input=TEXTS, encoding_format="float").data
    np.testing.assert_allclose([d.embedding for d in rows], HashingEmbedder().embed(TEXTS), atol=1e-7)
    assert HashingEmbedder.name in [m.id for m in _openai(server.url).models.list().data]


@pytest.mark.slow
def test_the_default_offline_embedder(serve: ServeFn) -> None:
    server = serve(cortex=FakeCortex(down=True))  # CORTEX_EMBEDDER unset: use-multilingual
    rows = ollama.Client(host=server.url).embed(model="use-multilingual", input=TEXTS).embeddings
    reference = get_embedder("use-multilingual", setting="CORTEX_EMBEDDER").embed(TEXTS)
    np.testing.assert_allclose(rows, reference, atol=1e-6)
    assert len(rows[0]) == 512


def test_one_batch_at_a_time_off_the_event_loop(serve: ServeFn, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CORTEX_EMBEDDER", GatedEmbedder.name)
    GatedEmbedder.gate.clear()
    GatedEmbedder.started.clear()
    server = serve(cortex=FakeCortex(down=True), queue_size=0)
    body = {"model": "triz-agent", "input": ["held"]}
    with ThreadPoolExecutor(1) as pool:
        held = pool.submit(httpx.post, f"{server.url}/v1/embeddings", json=body, timeout=30)
        try:
            assert GatedEmbedder.started.wait(10)
            started = time.monotonic()
            assert httpx.get(f"{server.url}/v1/models").status_code == 200  # the loop is free meanwhile
            assert time.monotonic() - started < 5
            busy = httpx.post(f"{server.url}/api/embed", json=body)
            assert busy.status_code == 429 and int(busy.headers["Retry-After"]) >= 1
            assert "SYNAPSE_QUEUE_SIZE" in busy.json()["error"]
        finally:
            GatedEmbedder.gate.set()
        assert held.result().status_code == 200
