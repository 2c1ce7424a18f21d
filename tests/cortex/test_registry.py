"""CORTEX's document registry: filtered lists, batched status changes, a query's document labels."""

from __future__ import annotations

from pathlib import Path

from cortex.registry import Registry, StatusChange


def _registry(tmp_path: Path) -> Registry:
    registry = Registry(tmp_path / "cortex.sqlite3")
    for i, name in enumerate(["a.txt", "b.pdf", "c.md"]):
        registry.insert(
            f"doc-{i}",
            name=name,
            kind="dialogue" if name == "c.md" else "document",
            content_type="text/plain",
            size=10,
            sha256=f"{i}" * 64,
            tags=[],
            page_starts=[0, 120] if name == "b.pdf" else [],
        )
    return registry


def test_states_filter_and_batched_changes(tmp_path: Path) -> None:
    registry = _registry(tmp_path)
    assert registry.unfinished_states() == {"doc-0": "pending", "doc-1": "pending", "doc-2": "pending"}
    assert registry.unfinished_states(["doc-1", "nobody"]) == {"doc-1": "pending"}
    assert registry.unfinished_states([]) == {}
    registry.set_statuses(
        [StatusChange("doc-0", "processed", None, 3), StatusChange("doc-1", "failed", "Ollama is down", 0)]
    )
    assert registry.unfinished_states() == {"doc-2": "pending"}
    failed = registry.all(["failed"])
    assert [r.info.id for r in failed] == ["doc-1"] and failed[0].info.error == "Ollama is down"
    assert {r.info.id for r in registry.all(["processed", "pending"])} == {"doc-0", "doc-2"}
    assert len(registry.all()) == 3
    assert registry.get("doc-0").info.chunks == 3  # type: ignore[union-attr]


def test_a_missing_text_fails_only_documents_still_unfinished(tmp_path: Path) -> None:
    # Two workers of one store: one finished doc-0 (its text went with the commit) while the other found no
    # text to hand over; doc-0 must stay processed.
    registry = _registry(tmp_path)
    registry.set_statuses([StatusChange("doc-0", "processed", None, 3)])
    assert registry.fail_unfinished(["doc-0", "doc-1", "nobody"], "no text") == ["doc-1"]
    assert registry.get("doc-0").info.status == "processed"  # type: ignore[union-attr]
    failed = registry.get("doc-1").info  # type: ignore[union-attr]
    assert failed.status == "failed" and failed.error == "no text"


def test_labels_of_known_documents_only(tmp_path: Path) -> None:
    registry = _registry(tmp_path)
    labels = registry.labels(["doc-1", "doc-2", "triz:principle:1", "gone"])
    assert set(labels) == {"doc-1", "doc-2"}
    assert labels["doc-1"].name == "b.pdf" and labels["doc-1"].page_starts == [0, 120]
    assert labels["doc-2"].kind == "dialogue" and labels["doc-2"].page_starts == []
    assert registry.labels([]) == {}


def test_a_registry_from_before_collections_opens_and_reads_none(tmp_path: Path) -> None:
    import sqlite3

    path = tmp_path / "cortex.sqlite3"
    old = sqlite3.connect(path)
    old.executescript(
        """CREATE TABLE documents (id TEXT PRIMARY KEY, name TEXT NOT NULL, kind TEXT NOT NULL,
        content_type TEXT NOT NULL, size INTEGER NOT NULL, sha256 TEXT NOT NULL, status TEXT NOT NULL, error TEXT,
        chunks INTEGER NOT NULL DEFAULT 0, tags TEXT NOT NULL DEFAULT '[]', page_starts TEXT NOT NULL DEFAULT '[]',
        created_at TEXT NOT NULL, updated_at TEXT NOT NULL);
        INSERT INTO documents VALUES ('doc-old', 'old.md', 'document', 'text/markdown', 5, 'ab', 'processed', NULL,
        1, '["t"]', '[]', '2025-01-01T00:00:00+00:00', '2025-01-01T00:00:00+00:00');"""
    )
    old.close()
    registry = Registry(path)
    record = registry.get("doc-old")
    assert record is not None and record.info.collection is None and record.info.tags == ["t"]
    registry.insert(
        "doc-new", name="new.md", kind="document", content_type="text/markdown", size=5, sha256="cd",
        tags=[], page_starts=[], collection="physics",
    )  # fmt: skip
    assert [r.info.id for r in registry.all(collection="physics")] == ["doc-new"]
    assert registry.documents_in(["physics", "sport"]) == {"doc-new"} and registry.documents_in([]) == set()
    registry.close()
    assert Registry(path).get("doc-new").info.collection == "physics"  # type: ignore[union-attr]
