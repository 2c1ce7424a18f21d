"""PostgreSQL fixtures: a file store with documents to migrate, names of stores of their own."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
import pytest_asyncio

from cortex import Cortex
from synapse.config import CortexSettings
from tests.conftest import HashingEmbedder
from tests.cortex.conftest import EN_BRACKET, RU_COOLING, cortex_settings, make_pdf
from tests.pg_server import LocalPostgres, _unavailable, find_binaries

DOCS = {
    "bracket.md": EN_BRACKET.encode(),
    "cooling.txt": RU_COOLING.encode(),
    "report.pdf": make_pdf(["Cover page of the pump report.", "Pump impeller cavitation was cured by a bypass valve."]),
}


def store_name() -> str:
    """A store of its own in the shared test database."""
    return f"t{uuid.uuid4().hex[:12]}"


def pg_settings(data_dir: Path, url: str, store: str, **overrides: object) -> CortexSettings:
    return cortex_settings(data_dir, storage="postgres", postgres_url=url, postgres_workspace=store, **overrides)


@pytest_asyncio.fixture
async def file_store(tmp_path: Path) -> AsyncIterator[Path]:
    """A closed file store (fake embedder) with the TRIZ graph and three documents (bracket.md in collection
    "aero", the others in none); yields its data dir."""
    data_dir = tmp_path / "file-store"
    async with Cortex(cortex_settings(data_dir), embedder=HashingEmbedder(), cache_dir=tmp_path / "cache") as cortex:
        for name, data in DOCS.items():
            await cortex.add_document(name, data, collection="aero" if name == "bracket.md" else None)
        await cortex.wait_idle(60)
    yield data_dir


@pytest.fixture
def own_server() -> Iterator[LocalPostgres]:
    """A PostgreSQL server of this test's own, which it may stop, crash or freeze."""
    binaries, passed = find_binaries()
    if binaries is None:
        _unavailable("no PostgreSQL this test could kill: " + "; ".join(passed))
    assert binaries is not None
    server = LocalPostgres(binaries)
    server.start()
    server.psql("CREATE EXTENSION vector")
    try:
        yield server
    finally:
        server.resume()  # a frozen server would not stop
        server.stop(mode="immediate", remove=True)
