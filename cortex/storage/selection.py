"""Which LightRAG storage classes a CORTEX store uses, from CORTEX_STORAGE, CORTEX_POSTGRES_URL, CORTEX_GRAPH_URL.

- `file` (default): CORTEX's own file storages under the data directory.
- `postgres`: LightRAG's PGKVStorage, PGVectorStorage (pgvector) and PGDocStatusStorage at the URL. The graph
  goes to Neo4j when CORTEX_GRAPH_URL is a neo4j:// URL; else to PostgreSQL itself: through Apache AGE
  (PGGraphStorage) when the server has AGE, otherwise LightRAG's plain-table graph (PGTableGraphStorage),
  which needs no extension; CORTEX_GRAPH_URL=file keeps it in files under the data directory.

A storage class named explicitly (CORTEX_KV_STORAGE, ...) always wins over this choice.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass, field
from urllib.parse import unquote, urlsplit

from cortex.errors import CortexError, CortexUnavailableError
from cortex.storage.postgres import PgTarget, ServerCheck, check_server
from synapse.config import CortexSettings

log = logging.getLogger(__name__)

STORAGE_FIELDS = ("kv_storage", "vector_storage", "graph_storage", "doc_status_storage")
FILE_CLASSES = {
    "kv_storage": "CortexKVStorage",
    "vector_storage": "CortexVectorStorage",
    "graph_storage": "CortexGraphStorage",
    "doc_status_storage": "CortexDocStatusStorage",
}
POSTGRES_CLASSES = {
    "kv_storage": "PGKVStorage",
    "vector_storage": "PGVectorStorage",
    "doc_status_storage": "PGDocStatusStorage",
}
NEO4J_SCHEMES = ("neo4j", "neo4j+s", "neo4j+ssc", "bolt", "bolt+s", "bolt+ssc")
GRAPH_HINT = "set CORTEX_GRAPH_URL to neo4j://user:password@host:7687, age, file, or leave it empty"


@dataclass(frozen=True)
class GraphChoice:
    """The graph storage class, the variables LightRAG reads for it, and why it was chosen."""

    storage: str
    reason: str
    env: dict[str, str] = field(default_factory=dict, repr=False)


def choose_graph(settings: CortexSettings, age: bool) -> GraphChoice:
    """Where the knowledge graph goes (see the module's docstring)."""
    spec = settings.graph_url.get_secret_value().strip()
    postgres = settings.storage == "postgres"
    if not spec:
        if not postgres:
            return GraphChoice(settings.graph_storage, "file storage")
        if age:
            return GraphChoice("PGGraphStorage", "the PostgreSQL server has Apache AGE")
        return GraphChoice("PGTableGraphStorage", "no Apache AGE on the server: plain PostgreSQL tables")
    if spec.lower() == "file":
        return GraphChoice(FILE_CLASSES["graph_storage"], "CORTEX_GRAPH_URL=file: files in the data directory")
    if spec.lower() in ("age", "postgres", "postgresql"):
        if not postgres:
            raise CortexError(f"CORTEX_GRAPH_URL={spec} needs CORTEX_STORAGE=postgres", GRAPH_HINT)
        if not age:
            raise CortexError(
                "CORTEX_GRAPH_URL=age, but the PostgreSQL server has no Apache AGE extension",
                "use a server with AGE (e.g. the apache/age image), or leave CORTEX_GRAPH_URL empty "
                "to keep the graph in plain PostgreSQL tables",
            )
        return GraphChoice("PGGraphStorage", "CORTEX_GRAPH_URL=age")
    parts = urlsplit(spec)
    if parts.scheme in NEO4J_SCHEMES:
        if not parts.hostname:
            raise CortexError(f"CORTEX_GRAPH_URL has no host: {parts.scheme}://...", GRAPH_HINT)
        try:
            import neo4j  # noqa: F401
        except ImportError:
            raise CortexError(
                "a Neo4j graph needs the neo4j package",
                "install the postgres extra: pip install 'triz-agent[postgres]'",
            ) from None
        env = {
            "NEO4J_URI": f"{parts.scheme}://{parts.hostname}:{parts.port or 7687}",
            "NEO4J_USERNAME": unquote(parts.username or "neo4j"),
            "NEO4J_PASSWORD": unquote(parts.password or ""),
        }
        database = unquote(parts.path.lstrip("/"))
        if database:
            env["NEO4J_DATABASE"] = database
        return GraphChoice("Neo4JStorage", f"Neo4j at {parts.hostname}:{parts.port or 7687}", env)
    raise CortexError(f"CORTEX_GRAPH_URL {parts.scheme or spec!r} is not a graph store CORTEX knows", GRAPH_HINT)


def storage_classes(settings: CortexSettings, graph: GraphChoice) -> dict[str, str]:
    """The four class names: explicit settings first, then the back end's defaults."""
    chosen = {name: str(getattr(settings, name)) for name in STORAGE_FIELDS}
    defaults = dict(POSTGRES_CLASSES) if settings.storage == "postgres" else {}
    defaults["graph_storage"] = graph.storage
    explicit = settings.model_fields_set
    for name, value in defaults.items():
        if name not in explicit:
            chosen[name] = value
    return chosen


async def check_neo4j(graph: GraphChoice, timeout: float = 10.0) -> None:
    """Reach the Neo4j server before LightRAG does, so a wrong URL or password is one clear line."""
    from neo4j import AsyncGraphDatabase
    from neo4j.exceptions import AuthError, DriverError, Neo4jError

    uri, user = graph.env["NEO4J_URI"], graph.env["NEO4J_USERNAME"]
    driver = AsyncGraphDatabase.driver(
        uri, auth=(user, graph.env["NEO4J_PASSWORD"]), connection_timeout=timeout, max_transaction_retry_time=0
    )
    try:
        await driver.verify_connectivity()
    except AuthError as exc:
        raise CortexUnavailableError(
            f"Neo4j at {uri} refused the login of {user!r}: {exc.message}",
            "fix the user and password in CORTEX_GRAPH_URL",
        ) from None
    except (DriverError, Neo4jError, OSError) as exc:
        raise CortexUnavailableError(
            f"CORTEX cannot reach Neo4j at {uri}: {exc}",
            "start it (docker compose --profile postgres up -d neo4j), fix CORTEX_GRAPH_URL, "
            "or leave CORTEX_GRAPH_URL empty to keep the graph in PostgreSQL",
        ) from None
    finally:
        await driver.close()


@dataclass
class StoragePlan:
    """The settings with the storage classes filled in, and the database they live in (if any)."""

    settings: CortexSettings
    graph: GraphChoice
    target: PgTarget | None = None
    server: ServerCheck | None = None

    @property
    def store(self) -> str:
        return self.settings.postgres_workspace

    def describe(self) -> str:
        s = self.settings
        where = f" at {self.target.display()}" if self.target else ""
        return (
            f"{s.kv_storage}, {s.vector_storage}, {s.graph_storage}, {s.doc_status_storage}{where} "
            f"(graph: {self.graph.reason})"
        )


async def plan_storage(settings: CortexSettings) -> StoragePlan:
    """Resolve the storage classes; for PostgreSQL, check the server first and point LightRAG at it."""
    target: PgTarget | None = None
    server: ServerCheck | None = None
    if settings.storage == "postgres":
        target = PgTarget.parse(settings.postgres_url.get_secret_value())
        server = await check_server(target)
        target.apply_env()
    graph = choose_graph(settings, age=bool(server and server.age))
    if graph.storage == "Neo4JStorage" and graph.env:
        await check_neo4j(graph)
    os.environ.update(graph.env)
    plan = StoragePlan(settings.model_copy(update=storage_classes(settings, graph)), graph, target, server)
    if target is not None:
        log.info("CORTEX storage: %s", plan.describe())
    return plan


__all__ = [
    "FILE_CLASSES",
    "POSTGRES_CLASSES",
    "GraphChoice",
    "StoragePlan",
    "check_neo4j",
    "choose_graph",
    "plan_storage",
]
