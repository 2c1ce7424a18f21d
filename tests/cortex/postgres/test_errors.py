"""A PostgreSQL store that cannot open says why and what to do: no URL, no server, no pgvector; the CLI too."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from cortex import Cortex, CortexError, CortexUnavailableError
from tests.conftest import HashingEmbedder
from tests.cortex.conftest import cortex_settings
from tests.cortex.postgres.conftest import pg_settings, store_name
from tests.pg_server import LocalPostgres, PgBinaries, free_port

pytestmark = pytest.mark.postgres


@pytest.mark.asyncio
async def test_postgres_without_a_url_is_refused(tmp_path: Path) -> None:
    with pytest.raises(CortexError, match="needs the database's URL") as info:
        await Cortex(cortex_settings(tmp_path / "s", storage="postgres"), embedder=HashingEmbedder()).start()
    assert "CORTEX_POSTGRES_URL=postgresql://" in (info.value.hint or "")
    assert not (tmp_path / "s").exists()  # refused before anything was created


@pytest.mark.asyncio
async def test_an_unreachable_server_is_named_without_its_password(tmp_path: Path) -> None:
    url = f"postgresql://cortex:hunter2@127.0.0.1:{free_port()}/rag"
    with pytest.raises(CortexUnavailableError) as info:
        await Cortex(pg_settings(tmp_path / "s", url, "x"), embedder=HashingEmbedder()).start()
    assert "cannot reach PostgreSQL at postgresql://cortex@127.0.0.1" in info.value.message
    assert "hunter2" not in info.value.message and "docker compose" in (info.value.hint or "")


@pytest.mark.asyncio
async def test_a_missing_database_is_named_with_createdb(postgres_url: str, tmp_path: Path) -> None:
    url = postgres_url.rsplit("/", 1)[0] + "/no_such_db"
    with pytest.raises(CortexUnavailableError, match="'no_such_db' does not exist") as info:
        await Cortex(pg_settings(tmp_path / "s", url, "x"), embedder=HashingEmbedder()).start()
    assert "createdb" in (info.value.hint or "")


def _debian_without_pgvector() -> PgBinaries | None:
    for postgres in sorted(Path("/usr/lib/postgresql").glob("*/bin/postgres")):
        bindir = postgres.parent
        if not Path(f"/usr/share/postgresql/{bindir.parent.name}/extension/vector.control").exists():
            return PgBinaries(bindir, f"Debian PostgreSQL {bindir.parent.name}")
    return None


@pytest.mark.asyncio
async def test_a_server_without_pgvector_is_named_with_the_fix(tmp_path: Path) -> None:
    binaries = _debian_without_pgvector()
    if binaries is None:
        pytest.skip("no PostgreSQL without pgvector here (Debian's postgresql package without the pgvector one)")
    server = LocalPostgres(binaries)
    try:
        server.start()
        settings = pg_settings(tmp_path / "s", server.url(), store_name())
        with pytest.raises(CortexError, match="has no pgvector extension") as info:
            await Cortex(settings, embedder=HashingEmbedder()).start()
        assert "pgvector" in (info.value.hint or "") and "apt install" in (info.value.hint or "")
    finally:
        server.stop(mode="immediate", remove=True)


def test_cli_reports_an_unreachable_database_in_one_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from synapse.cli import app

    monkeypatch.setenv("CORTEX_DATA_DIR", str(tmp_path / "store"))
    monkeypatch.setenv("CORTEX_STORAGE", "postgres")
    monkeypatch.setenv("CORTEX_POSTGRES_URL", f"postgresql://u:pw@127.0.0.1:{free_port()}/db")
    result = CliRunner().invoke(app, ["cortex", "docs"])
    assert result.exit_code == CortexUnavailableError.exit_code != 0
    assert "Traceback" not in result.output and "cannot reach PostgreSQL" in result.output
    assert "CORTEX_POSTGRES_URL" in result.output


def test_cli_migrate_copies_and_prints_the_counts(
    file_store: Path, postgres_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from synapse.cli import app

    monkeypatch.setenv("CORTEX_DATA_DIR", str(file_store))
    store = store_name()
    result = CliRunner().invoke(app, ["cortex", "migrate", "--to", postgres_url, "--store", store])
    assert result.exit_code == 0, result.output
    assert (
        "full_docs" in result.output
        and "chunks_vdb" in result.output
        and f"CORTEX_POSTGRES_WORKSPACE={store}" in result.output
    )
    again = CliRunner().invoke(app, ["cortex", "migrate", "--to", postgres_url, "--store", store])
    said = " ".join(again.output.split())
    assert again.exit_code != 0 and "already holds a CORTEX store" in said and "--force" in said


@pytest.mark.asyncio
async def test_switching_a_file_store_to_postgres_without_migrating_is_refused(
    file_store: Path, postgres_url: str
) -> None:
    with pytest.raises(CortexError, match="holds a file store with 3 documents") as info:
        await Cortex(pg_settings(file_store, postgres_url, store_name()), embedder=HashingEmbedder()).start()
    assert "synapse cortex migrate --to postgresql://" in (info.value.hint or "")
    async with Cortex(cortex_settings(file_store), embedder=HashingEmbedder()) as still_there:
        assert len(await still_there.list_documents()) == 3  # the refusal touched nothing


@pytest.mark.asyncio
async def test_an_unreachable_neo4j_graph_is_named_before_lightrag_starts(postgres_url: str, tmp_path: Path) -> None:
    port = free_port()
    settings = pg_settings(
        tmp_path / "s", postgres_url, store_name(), graph_url=f"neo4j://neo4j:graphpw@127.0.0.1:{port}"
    )
    with pytest.raises(CortexUnavailableError, match=f"cannot reach Neo4j at neo4j://127.0.0.1:{port}") as info:
        await Cortex(settings, embedder=HashingEmbedder()).start()
    assert "graphpw" not in info.value.message and "CORTEX_GRAPH_URL" in (info.value.hint or "")
    assert not (tmp_path / "s").exists()
