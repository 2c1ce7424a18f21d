"""The fake Ollama's routes that no product test reaches yet: /api/generate, /api/show, word limits."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import ollama
import pytest

from tests.support.fake_ollama import CHAT_MODELS, FakeOllama, ollama_chat_server


@pytest.fixture
def fake() -> Iterator[FakeOllama]:
    with ollama_chat_server("Segment the beam, then make it hollow.") as server:
        yield server


def test_generate_answers_whole_and_streamed(fake: FakeOllama) -> None:
    client = ollama.Client(host=fake.url)
    whole = client.generate(model="triz-td010v2-q4km", prompt="How to lighten a beam?", stream=False)
    assert whole.done and whole.response == "Segment the beam, then make it hollow."
    assert whole.prompt_eval_count == 21 and whole.eval_count == 7
    pieces = list(client.generate(model="triz-td010v2-q4km", prompt="again", stream=True))
    assert [p.response for p in pieces[:2]] == ["Segment", " the"] and pieces[-1].done
    assert "".join(p.response for p in pieces) == whole.response
    short = client.generate(model="triz-td010v2-q4km", prompt="x", options={"num_predict": 2})
    assert short.response == "Segment the" and short.eval_count == 2
    assert [g["prompt"] for g in fake.generates] == ["How to lighten a beam?", "again", "x"]
    with pytest.raises(ollama.ResponseError) as missing:
        client.generate(model="llama3", prompt="x")
    assert missing.value.status_code == 404 and missing.value.error == "model 'llama3' not found"


def test_show_reports_capabilities_and_tags_report_details(fake: FakeOllama) -> None:
    client = ollama.Client(host=fake.url)
    assert set(client.show("triz-td010v2-q4km").capabilities or []) == {"completion", "tools"}
    assert client.show("nomic-embed-text").capabilities == ["embedding"]
    with pytest.raises(ollama.ResponseError) as missing:
        client.show("llama3")
    assert missing.value.status_code == 404
    listed = client.list().models
    assert [m.model for m in listed] == [*sorted(CHAT_MODELS), "nomic-embed-text:latest"]
    assert listed[0].details is not None and listed[0].details.quantization_level == "Q4_K_M"
    assert httpx.post(f"{fake.url}/api/show", json={}).status_code == 400
    assert [b["model"] for b in fake.bodies] == ["triz-td010v2-q4km", "nomic-embed-text", "llama3"]
