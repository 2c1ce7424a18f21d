"""The JSON stores' journal: changed rows are on disk after a checkpoint, without a full rewrite."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from cortex.embedding import VectorMemo, lightrag_embedding
from cortex.storage.coalesced import CortexKVStorage
from cortex.workspace import release
from tests.conftest import HashingEmbedder

pytestmark = pytest.mark.asyncio


def _store(folder: Path) -> Any:
    from lightrag.kg.shared_storage import initialize_share_data

    initialize_share_data(1)
    return CortexKVStorage(
        namespace="text_chunks",
        workspace="wj",
        global_config={"working_dir": str(folder)},
        embedding_func=lightrag_embedding(VectorMemo(HashingEmbedder())),
    )


async def _reopen(folder: Path) -> Any:
    release("wj")  # forget the process's shared copy: the next store loads from disk, as after a crash
    store = _store(folder)
    await store.initialize()
    return store


async def test_a_checkpoint_survives_a_crash_and_a_torn_line_is_skipped(tmp_path: Path) -> None:
    store = _store(tmp_path)
    await store.initialize()
    await store.upsert({"a": {"content": "one"}, "b": {"content": "two"}})
    await store.journal_now()
    await store.delete(["b"])
    await store.upsert({"a": {"content": "one, edited"}})
    await store.journal_now()
    journal = Path(f"{store._file_name}.journal")
    assert not Path(store._file_name).exists(), "a checkpoint must not rewrite the whole file"
    with journal.open("a", encoding="utf-8") as out:
        out.write('{"k": "c", "v": {"cont')  # the crash came in the middle of an append
    reopened = await _reopen(tmp_path)
    assert (await reopened.get_by_id("a"))["content"] == "one, edited"
    assert await reopened.get_by_id("b") is None and await reopened.get_by_id("c") is None
    release("wj")


async def test_a_full_write_takes_the_journal_in_and_removes_it(tmp_path: Path) -> None:
    store = _store(tmp_path)
    await store.initialize()
    await store.upsert({"a": {"content": "one"}})
    await store.journal_now()
    await store.flush_now()
    journal = Path(f"{store._file_name}.journal")
    assert not journal.exists() and not Path(f"{journal}.old").exists()
    assert json.loads(Path(store._file_name).read_text(encoding="utf-8"))["a"]["content"] == "one"
    await store.upsert({"b": {"content": "two"}})
    await store.journal_now()  # after the full write: in the new journal
    reopened = await _reopen(tmp_path)
    assert [r["content"] if r else None for r in await reopened.get_by_ids(["a", "b"])] == ["one", "two"]
    release("wj")


async def test_nothing_changed_writes_nothing(tmp_path: Path) -> None:
    store = _store(tmp_path)
    await store.initialize()
    await store.journal_now()
    assert not Path(f"{store._file_name}.journal").exists()
    release("wj")
