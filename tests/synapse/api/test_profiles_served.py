"""Three agent profiles served from one base in one process, answered at once: each with its own LoRA (or
none), prompt and collection, through the official openai client against `create_app()` with the embedded
backend and CORTEX in process."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import httpx
import openai
import pytest

pytest.importorskip("torch", reason="the LoRAs are built with the `export` extra")

from cortex import Cortex
from synapse.api import create_app
from synapse.config import CortexSettings, SynapseSettings
from tests.conftest import HashingEmbedder
from tests.support.adapter_files import build_adapter_files
from tests.support.registered import register_embedder
from tests.synapse.api.conftest import LiveServer

pytestmark = pytest.mark.slow
#: profile -> (its collection's document, the question asked of it)
DOCUMENTS = {
    "sport": ("sprints.md", "Interval sprint training: eight sprints of 200 m with 90 s rest build speed endurance."),
    "physics": ("optics.md", "A concave mirror focuses parallel light rays at its focal point, half its radius."),
    "general": ("recipes.md", "Blueberry pancakes: flour, milk, two eggs and a cup of blueberries, fried in butter."),
}
QUESTIONS = {
    "sport": "How many 200 m sprints and how much rest?",
    "physics": "Where does a concave mirror focus light?",
    "general": "What goes into blueberry pancakes?",
}


def _profiles(tmp_path: Path, loras: dict[str, Path]) -> Path:
    path = tmp_path / "profiles.toml"
    path.write_text(
        f"""
[profiles.sport]
adapter = "{loras["sport"]}"
system.en = "You coach runners."
collections = ["sport"]
rag_mode = "naive"
analyzer = false

[profiles.physics]
adapter = "{loras["physics"]}"
system.en = "You teach optics."
collections = ["physics"]
rag_mode = "naive"
analyzer = false

[profiles.general]
role = "base"
system.en = "You answer kitchen questions."
collections = ["general"]
rag_mode = "naive"
analyzer = false
""",
        encoding="utf-8",
    )
    return path


async def _stock() -> None:
    """The three collections, written before SYNAPSE opens the same store in process."""
    async with Cortex(CortexSettings(), embedder=HashingEmbedder()) as cortex:
        for collection, (name, text) in DOCUMENTS.items():
            await cortex.add_document(name, text.encode(), collection=collection)
        await cortex.wait_idle(120)


async def _ask_all(url: str, names: list[str]) -> dict[str, Any]:
    client = openai.AsyncOpenAI(base_url=f"{url}/v1", api_key="unused", max_retries=0, timeout=300)

    async def ask(name: str) -> Any:
        return await client.chat.completions.create(
            model=name,
            messages=[{"role": "user", "content": QUESTIONS[name]}],
            max_tokens=8,
            temperature=0,
            extra_body={"rag": {"top_k": 20}},
        )

    answers = await asyncio.gather(*(ask(n) for n in names))
    return dict(zip(names, answers, strict=True))


def test_three_profiles_on_one_base_answer_concurrently_each_with_its_own_parts(
    tiny_base: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    files = build_adapter_files(tiny_base, tmp_path / "models")
    register_embedder(monkeypatch, HashingEmbedder)  # 256 stems: the documents' words find them
    monkeypatch.setenv("CORTEX_EMBEDDER", "test-hashing")
    monkeypatch.setenv("SYNAPSE_EMBEDDER", "test-hashing")
    asyncio.run(_stock())
    settings = SynapseSettings(
        backend="llamacpp", gguf=files.base, parallel=3, n_ctx=1024, profiles=_profiles(tmp_path, files.loras)
    )
    names = list(QUESTIONS)
    with LiveServer(create_app(settings), start_timeout_s=300) as server:
        listed = {m.id: m for m in openai.OpenAI(base_url=f"{server.url}/v1", api_key="x").models.list()}
        together = asyncio.run(_ask_all(server.url, names))
        alone = {name: asyncio.run(_ask_all(server.url, [name]))[name] for name in names}
        health = httpx.get(f"{server.url}/health", timeout=30).json()
    assert {"sport", "physics", "general", "auto", "base-f32"} <= set(listed)
    [embedded] = [b for b in health["backends"] if b["backend"] == "llamacpp"]
    assert embedded["slots"] == 3
    assert embedded["contexts"] == 3  # one llama.cpp context per adapter in use, over the one base
    served_by = {}
    for name in names:
        extra = together[name].model_extra or {}
        assert extra["routing"]["profile"] == name
        served_by[name] = extra["routing"]["model"]
        documents = {s["document"] for s in extra["sources"] if s["kind"] == "document"}
        assert documents == {DOCUMENTS[name][0]}, (name, extra["sources"])
        # Decoded next to the other two profiles' sequences, the answer is the one it gets alone.
        assert together[name].choices[0].message.content == alone[name].choices[0].message.content
        assert together[name].usage.completion_tokens == alone[name].usage.completion_tokens
    # One model per profile: the two LoRAs by their profiles' names and the bare base under its file's name.
    assert served_by == {"sport": "sport", "physics": "physics", "general": "base-f32"}
