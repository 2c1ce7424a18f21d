"""Choosing LightRAG's storage classes and reading CORTEX_POSTGRES_URL (no server needed)."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from cortex import CortexError
from cortex.storage.postgres import PgTarget
from cortex.storage.selection import FILE_CLASSES, choose_graph, storage_classes
from synapse.config import CortexSettings


def _settings(**values: object) -> CortexSettings:
    return CortexSettings(**values)  # type: ignore[arg-type]


def test_the_url_becomes_lightrags_variables_and_its_password_stays_out_of_messages() -> None:
    target = PgTarget.parse("postgresql://cortex:s%40cret@db.example:6543/rag?sslmode=require")
    assert target.lightrag_env() == {
        "POSTGRES_HOST": "db.example",
        "POSTGRES_PORT": "6543",
        "POSTGRES_USER": "cortex",
        "POSTGRES_PASSWORD": "s@cret",
        "POSTGRES_DATABASE": "rag",
        "POSTGRES_SSL_MODE": "require",
    }
    assert target.display() == "postgresql://cortex@db.example:6543/rag" and "s@cret" not in repr(target)
    defaults = PgTarget.parse("postgres://localhost")
    assert (defaults.port, defaults.user, defaults.database, defaults.password) == (5432, "postgres", "postgres", "")


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("", "needs the database's URL"),
        ("mysql://u:p@h/db", "is not a postgresql:// URL"),
        ("postgresql://u@h:port/db", "port"),
        ("postgresql://u@h/db?application_name=x", "application_name"),
    ],
)
def test_bad_urls_are_refused_with_the_fix(url: str, message: str) -> None:
    with pytest.raises(CortexError, match=message) as info:
        PgTarget.parse(url)
    assert "CORTEX_POSTGRES_URL" in f"{info.value.message} {info.value.hint}" or "remove" in (info.value.hint or "")


def test_postgres_takes_lightrags_pg_classes_and_the_graph_follows_the_server() -> None:
    pg = _settings(storage="postgres", postgres_url="postgresql://h/db")
    plain = storage_classes(pg, choose_graph(pg, age=False))
    assert plain == {
        "kv_storage": "PGKVStorage",
        "vector_storage": "PGVectorStorage",
        "graph_storage": "PGTableGraphStorage",
        "doc_status_storage": "PGDocStatusStorage",
    }
    assert storage_classes(pg, choose_graph(pg, age=True))["graph_storage"] == "PGGraphStorage"
    in_files = _settings(storage="postgres", graph_url="file")
    assert storage_classes(in_files, choose_graph(in_files, age=True))["graph_storage"] == "CortexGraphStorage"
    file = _settings()
    assert storage_classes(file, choose_graph(file, age=False)) == FILE_CLASSES


def test_explicit_storage_classes_win() -> None:
    s = _settings(storage="postgres", vector_storage="QdrantVectorDBStorage", graph_storage="NetworkXStorage")
    chosen = storage_classes(s, choose_graph(s, age=True))
    assert chosen["vector_storage"] == "QdrantVectorDBStorage" and chosen["graph_storage"] == "NetworkXStorage"
    assert chosen["kv_storage"] == "PGKVStorage"


def test_neo4j_url_gives_neo4j_storage_and_its_variables() -> None:
    s = _settings(storage="postgres", graph_url="neo4j://neo4j:pw@graph:7687/cortex")
    graph = choose_graph(s, age=True)
    assert graph.storage == "Neo4JStorage"
    assert graph.env == {
        "NEO4J_URI": "neo4j://graph:7687",
        "NEO4J_USERNAME": "neo4j",
        "NEO4J_PASSWORD": "pw",
        "NEO4J_DATABASE": "cortex",
    }
    assert "pw" not in repr(graph)


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"storage": "postgres", "graph_url": "age"}, "no Apache AGE"),
        ({"graph_url": "age"}, "needs CORTEX_STORAGE=postgres"),
        ({"storage": "postgres", "graph_url": "redis://x"}, "not a graph store"),
    ],
)
def test_graph_settings_that_cannot_work_are_refused(values: dict[str, object], message: str) -> None:
    with pytest.raises(CortexError, match=message) as info:
        choose_graph(_settings(**values), age=False)
    assert info.value.hint


def test_a_store_name_must_be_a_plain_identifier() -> None:
    with pytest.raises(ValidationError):
        _settings(postgres_workspace="bad name;drop")
