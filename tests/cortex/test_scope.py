"""Collections: a scoped query sees the TRIZ knowledge and its collections' documents, nothing else (both storages)."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from cortex import Cortex, QueryRequest, QueryResult
from cortex.errors import CollectionConflictError, InvalidCollectionError
from cortex.models import COLLECTION_RULE, CortexHealth
from cortex.reindex import reindex
from cortex.scope import Scope, graph_only_warning, modes_reaching_documents, narrowed
from tests.conftest import HashingEmbedder
from tests.cortex.conftest import RU_COOLING, StoreSettings

AERO = (
    "The Falcon Bracket of the drone frame is cast as a hollow titanium lattice: the ribs keep the stiffness "
    "while the bracket weighs less than the solid part."
)
PLANT = (
    "The plant's cooling pump suffered impeller cavitation until a bypass valve returned part of the flow to the "
    "intake; the impeller has run quietly since."
)
LOOSE = "Meeting notes: the Falcon Bracket and the cooling pump are both reviewed on Friday by the design office."
AERO_Q = "Falcon Bracket hollow titanium lattice ribs"
PLANT_Q = "pump impeller cavitation bypass valve"
MODES = ("naive", "local", "global", "hybrid", "mix")
TRIZ_KINDS = {"principle", "parameter", "matrix", "separation"}


def documents(result: QueryResult) -> set[str]:
    return {s.document or "" for s in result.sources if s.kind in ("document", "dialogue")}


async def ask(cortex: Cortex, query: str, mode: str = "naive", collections: list[str] | None = None) -> QueryResult:
    return await cortex.query(QueryRequest(query=query, mode=mode, top_k=20, collections=collections))  # type: ignore[arg-type]


async def stock(cortex: Cortex) -> None:
    """Two collections, a document in none, a dialogue."""
    await cortex.add_document("falcon.md", AERO.encode(), collection="aero")
    await cortex.add_document("pump.md", PLANT.encode(), collection="plant")
    await cortex.add_document("notes.md", LOOSE.encode())
    await cortex.add_document("chat.txt", RU_COOLING.encode(), kind="dialogue")
    await cortex.wait_idle(60)


@pytest.mark.asyncio
async def test_a_scoped_query_never_returns_another_collections_documents(cortex_store: Cortex) -> None:
    cortex = cortex_store
    await stock(cortex)
    for mode in MODES:
        result = await ask(cortex, PLANT_Q, mode, ["aero"])
        assert documents(result) <= {"falcon.md"}, (mode, documents(result))
        assert "bypass valve" not in result.context and "Meeting notes" not in result.context, mode
        assert {s.kind for s in result.sources} & TRIZ_KINDS, mode  # the shared TRIZ knowledge stays in scope
    assert "pump.md" in documents(await ask(cortex, PLANT_Q, "naive", ["plant"]))
    mixed = await ask(cortex, AERO_Q, "mix", ["aero"])
    assert documents(mixed) == {"falcon.md"} and {s.kind for s in mixed.sources} & TRIZ_KINDS
    both = await ask(cortex, f"{AERO_Q} {PLANT_Q}", "naive", ["aero", "plant"])
    assert documents(both) == {"falcon.md", "pump.md"}
    only_triz = await ask(cortex, PLANT_Q, "mix", [])
    assert not documents(only_triz) and only_triz.sources


@pytest.mark.asyncio
async def test_without_collections_everything_is_in_scope_dialogues_only_then(cortex_store: Cortex) -> None:
    cortex = cortex_store
    await stock(cortex)
    everything = await ask(cortex, f"{AERO_Q} {PLANT_Q} Falcon Bracket cooling pump Friday")
    assert documents(everything) >= {"falcon.md", "pump.md", "notes.md"}
    chat = "насосы охлаждения серверной стойки"
    assert "chat.txt" in documents(await ask(cortex, chat, "mix"))
    # Dialogue memory belongs to no collection: a scoped query (a profile's) leaves it out.
    assert "chat.txt" not in documents(await ask(cortex, chat, "mix", ["aero", "plant"]))


@pytest.mark.asyncio
async def test_a_scope_keeps_top_k_filled_when_other_collections_rank_higher(cortex: Cortex) -> None:
    for i in range(12):  # near copies of the question, in another collection
        await cortex.add_document(f"decoy-{i}.md", f"{PLANT_Q} copy {i} pump impeller".encode(), collection="other")
    await cortex.add_document("pump.md", PLANT.encode(), collection="plant")
    await cortex.wait_idle(60)
    small = QueryRequest(query=PLANT_Q, mode="naive", top_k=2)
    assert "pump.md" not in documents(await cortex.query(small))  # the decoys take every slot unscoped
    scoped = await cortex.query(small.model_copy(update={"collections": ["plant"]}))
    assert documents(scoped) == {"pump.md"}


@pytest.mark.asyncio
async def test_bad_collection_names_are_refused_with_the_rule(cortex: Cortex) -> None:
    for bad in ("Physics", "two words", "", "x" * 65, "../etc"):
        with pytest.raises(ValidationError) as invalid:
            QueryRequest(query=PLANT_Q, collections=[bad])
        assert COLLECTION_RULE in str(invalid.value)
    for bad in ("Physics", "a/b", "x" * 65):
        with pytest.raises(InvalidCollectionError) as refused:
            await cortex.add_document("pump.md", PLANT.encode(), collection=bad)
        assert refused.value.status == 422 and COLLECTION_RULE in refused.value.message
        with pytest.raises(InvalidCollectionError):
            await cortex.list_documents(collection=bad)
    assert await cortex.list_documents() == []
    ok = await cortex.add_document("pump.md", PLANT.encode(), collection="plant-2025_b")
    assert ok.collection == "plant-2025_b"
    assert (await cortex.add_document("notes.md", LOOSE.encode(), collection="  ")).collection is None


@pytest.mark.asyncio
async def test_a_document_is_in_one_collection_and_listings_filter_by_it(cortex: Cortex) -> None:
    first = await cortex.add_document("pump.md", PLANT.encode(), collection="plant")
    with pytest.raises(CollectionConflictError) as moved:
        await cortex.add_document("pump-copy.md", PLANT.encode(), collection="aero")
    assert moved.value.status == 409 and "'plant'" in moved.value.message and first.id in (moved.value.hint or "")
    assert (await cortex.add_document("pump.md", PLANT.encode())).collection == "plant"  # added again, as it is
    assert (await cortex.add_document("pump.md", PLANT.encode(), collection="plant")).id == first.id
    await cortex.add_documents([("a.md", AERO.encode())], collection="aero")
    with pytest.raises(CollectionConflictError):  # nothing of a batch is stored when one of its files conflicts
        await cortex.add_documents([("c.md", LOOSE.encode()), ("b.md", AERO.encode())], collection="plant")
    await cortex.wait_idle(60)
    assert [d.name for d in await cortex.list_documents(collection="plant")] == ["pump.md"]
    assert [d.name for d in await cortex.list_documents(collection="aero")] == ["a.md"]
    assert await cortex.list_documents(collection="sport") == []
    assert len(await cortex.list_documents()) == 2  # c.md was refused with its batch


@pytest.mark.asyncio
async def test_the_collection_survives_a_restart_and_a_reindex(store_settings: StoreSettings, tmp_path: Path) -> None:
    settings = store_settings()
    async with Cortex(settings, embedder=HashingEmbedder(), cache_dir=tmp_path / "c") as cortex:
        await stock(cortex)
    async with Cortex(settings, embedder=HashingEmbedder(), cache_dir=tmp_path / "c") as cortex:
        assert {d.name: d.collection for d in await cortex.list_documents()} == {
            "falcon.md": "aero",
            "pump.md": "plant",
            "notes.md": None,
            "chat.txt": None,
        }
        assert documents(await ask(cortex, PLANT_Q, "naive", ["aero"])) <= {"falcon.md"}

    class OtherEmbedder(HashingEmbedder):
        name = "other-hashing"

    await reindex(settings, embedder=OtherEmbedder())
    async with Cortex(settings, embedder=OtherEmbedder(), cache_dir=tmp_path / "c") as cortex:
        assert [d.name for d in await cortex.list_documents(collection="plant")] == ["pump.md"]
        assert documents(await ask(cortex, PLANT_Q, "naive", ["plant"])) == {"pump.md"}
        assert documents(await ask(cortex, PLANT_Q, "naive", ["aero"])) <= {"falcon.md"}


@pytest.mark.asyncio
async def test_graph_modes_reach_no_document_without_an_extraction_llm(cortex: Cortex) -> None:
    """Measured: without CORTEX_LLM_MODEL the graph holds the TRIZ knowledge only, whatever the question."""
    health = await cortex.health()
    assert health.graph_documents is False and modes_reaching_documents(health) == {"naive", "mix"}
    assert not (await ask(cortex, PLANT_Q, "local")).warnings  # no documents yet: nothing to warn about
    await stock(cortex)
    for query in (PLANT_Q, AERO_Q, LOOSE, RU_COOLING[:200]):
        for mode in ("local", "global", "hybrid"):
            result = await ask(cortex, query, mode)
            assert result.sources and {s.kind for s in result.sources} <= TRIZ_KINDS, (mode, query)
            assert result.warnings == [graph_only_warning(mode)]  # type: ignore[arg-type]
            assert "'naive' or 'mix'" in result.warnings[0] and "CORTEX_LLM_MODEL" in result.warnings[0]
        for mode in ("naive", "mix"):
            assert documents(await ask(cortex, query, mode)) and not (await ask(cortex, query, mode)).warnings
    # A profile that reads only an empty collection has no documents to miss.
    assert not (await ask(cortex, PLANT_Q, "local", ["sport"])).warnings
    assert (await ask(cortex, PLANT_Q, "local", ["plant"])).warnings


def test_modes_reaching_documents_with_an_extraction_llm() -> None:
    health = CortexHealth(
        status="ok", embedder="e", dim=8, documents=1, knowledge_version="v", storage="s", graph_documents=True
    )
    assert modes_reaching_documents(health) == set(MODES)
    older = {k: v for k, v in health.model_dump().items() if k != "graph_documents"}  # a CORTEX before the field
    legacy = CortexHealth.model_validate(older)
    assert modes_reaching_documents(legacy) == {"naive", "mix"}


def test_merged_graph_items_lose_the_text_of_documents_out_of_scope() -> None:
    scope = Scope(frozenset({"doc-a"}))
    data = {
        "chunks": [{"file_path": "doc-a"}, {"file_path": "doc-b"}, {"file_path": "triz:principle:1"}],
        "entities": [
            {"entity_name": "Segmentation", "file_path": "triz:principle:1<SEP>doc-b", "description": "from b"},
            {"entity_name": "Falcon", "file_path": "doc-a", "description": "from a"},
            {"entity_name": "Pump", "file_path": "doc-b", "description": "from b"},
        ],
        "relationships": [{"src_id": "x", "tgt_id": "y", "file_path": "doc-b<SEP>doc-c", "description": "b"}],
        "references": [{"reference_id": "1", "file_path": "doc-b"}],
    }
    out = narrowed(data, scope)
    assert [c["file_path"] for c in out["chunks"]] == ["doc-a", "triz:principle:1"]
    assert out["entities"] == [
        {"entity_name": "Segmentation", "file_path": "triz:principle:1", "description": ""},
        {"entity_name": "Falcon", "file_path": "doc-a", "description": "from a"},
    ]
    assert out["relationships"] == [] and out["references"] == []
    assert data["entities"][0]["description"] == "from b"  # the input is left as it was
