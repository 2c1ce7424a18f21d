"""CORTEX on PostgreSQL: the URL as LightRAG's settings, a check of the server, the store's manifest there.

LightRAG's PostgreSQL storages read POSTGRES_* environment variables and share one connection pool per
process; CORTEX takes one URL (CORTEX_POSTGRES_URL) and sets those variables from it before LightRAG
starts. The manifest (which embedder built the store, its LightRAG workspace) lives in the database
too, so every CORTEX process that opens the store, on any machine, sees the same one.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import uuid
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl, unquote, urlsplit

from pydantic import BaseModel

from cortex.errors import CortexError, CortexUnavailableError
from cortex.registry import Manifest

if TYPE_CHECKING:
    import asyncpg  # type: ignore[import-untyped]

MANIFEST_TABLE = "cortex_manifest"
URL_HINT = "set CORTEX_POSTGRES_URL=postgresql://user:password@host:5432/database"
# libpq URL options that LightRAG has a variable for; the rest are refused rather than silently dropped.
_SSL_OPTIONS = {
    "sslmode": "POSTGRES_SSL_MODE",
    "sslcert": "POSTGRES_SSL_CERT",
    "sslkey": "POSTGRES_SSL_KEY",
    "sslrootcert": "POSTGRES_SSL_ROOT_CERT",
    "sslcrl": "POSTGRES_SSL_CRL",
}

# LightRAG's own retry is left only for opening its pool at start (pg_calls bounds every later call); its
# defaults (10 attempts, 3-30 s apart) would hold a start up for minutes.
_LIGHTRAG_RETRIES = {
    "POSTGRES_CONNECTION_RETRIES": "2",
    "POSTGRES_CONNECTION_RETRY_BACKOFF": "0.5",
    "POSTGRES_CONNECTION_RETRY_BACKOFF_MAX": "2",
    "POSTGRES_POOL_CLOSE_TIMEOUT": "2",
}


@dataclass(frozen=True)
class PgTarget:
    """One PostgreSQL database, parsed from a postgresql:// URL."""

    host: str
    port: int
    user: str
    password: str = field(repr=False)
    database: str
    options: tuple[tuple[str, str], ...] = ()

    @classmethod
    def parse(cls, url: str) -> PgTarget:
        url = url.strip()
        if not url:
            raise CortexError("CORTEX_STORAGE=postgres needs the database's URL", URL_HINT)
        parts = urlsplit(url)
        if parts.scheme not in ("postgresql", "postgres"):
            raise CortexError(f"{_mask(url)} is not a postgresql:// URL", URL_HINT)
        try:
            port = parts.port or 5432
        except ValueError:
            raise CortexError(f"the port in {_mask(url)} is not a number", URL_HINT) from None
        options = tuple(parse_qsl(parts.query))
        unknown = [k for k, _ in options if k not in _SSL_OPTIONS]
        if unknown:
            raise CortexError(
                f"CORTEX_POSTGRES_URL has options CORTEX does not pass on: {', '.join(unknown)}",
                f"remove them; supported: {', '.join(_SSL_OPTIONS)}",
            )
        return cls(
            host=parts.hostname or "localhost",
            port=port,
            user=unquote(parts.username or "postgres"),
            password=unquote(parts.password or ""),
            database=unquote(parts.path.lstrip("/")) or "postgres",
            options=options,
        )

    def display(self) -> str:
        """The URL without its password, for messages."""
        return f"postgresql://{self.user}@{self.host}:{self.port}/{self.database}"

    def lightrag_env(self) -> dict[str, str]:
        """LightRAG's POSTGRES_* variables for this database."""
        env = {
            "POSTGRES_HOST": self.host,
            "POSTGRES_PORT": str(self.port),
            "POSTGRES_USER": self.user,
            "POSTGRES_PASSWORD": self.password,
            "POSTGRES_DATABASE": self.database,
        }
        env.update({_SSL_OPTIONS[k]: v for k, v in self.options})
        return env

    def apply_env(self) -> None:
        """Point LightRAG's PostgreSQL storages at this database (they read the environment)."""
        from cortex.storage.pg_calls import install

        os.environ.update(self.lightrag_env())
        os.environ.update(_LIGHTRAG_RETRIES)
        _quiet_table_creation()
        # The workspace comes from CORTEX's manifest; LightRAG would let this variable override it.
        os.environ.pop("POSTGRES_WORKSPACE", None)
        install()  # every call of LightRAG's PostgreSQL storages bounded, failing fast while the server is down

    def connect_kwargs(self) -> dict[str, Any]:
        kwargs: dict[str, Any] = {
            "host": self.host,
            "port": self.port,
            "user": self.user,
            "password": self.password or None,
            "database": self.database,
        }
        mode = dict(self.options).get("sslmode")
        if mode:
            kwargs["ssl"] = mode
        return kwargs


class _MissingTableFilter(logging.Filter):
    """LightRAG logs an ERROR for each of its tables it looks for and then creates on a new database."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        return not ('relation "lightrag_' in message and "does not exist" in message)


def _quiet_table_creation() -> None:
    logger = logging.getLogger("lightrag")
    if not any(isinstance(f, _MissingTableFilter) for f in logger.filters):
        logger.addFilter(_MissingTableFilter())


def _mask(url: str) -> str:
    parts = urlsplit(url)
    if parts.password:
        return url.replace(f":{parts.password}@", ":***@", 1)
    return url


def _asyncpg() -> Any:
    try:
        import asyncpg
    except ImportError:
        raise CortexError(
            "CORTEX_STORAGE=postgres needs the asyncpg package",
            "install the postgres extra: pip install 'triz-agent[postgres]'",
        ) from None
    return asyncpg


START_HINT = "start the database (docker compose --profile postgres up -d postgres) or fix CORTEX_POSTGRES_URL"
# Statements on CORTEX's own connections (manifest, checks, migration): none waits forever on a lost server.
COMMAND_TIMEOUT_S = 120.0


def outage_error(where: str, reason: str) -> CortexUnavailableError:
    """The 503 of a call made while PostgreSQL does not answer: the database, why, and what to do."""
    return CortexUnavailableError(
        f"PostgreSQL at {where} is not answering ({reason})",
        f"{START_HINT}; CORTEX reconnects by itself once it answers, documents already accepted are processed then",
    )


async def connect(target: PgTarget, timeout: float = 10.0) -> asyncpg.Connection:
    """A connection, or a CortexError that says why not and what to do."""
    asyncpg = _asyncpg()
    where = target.display()
    try:
        return await asyncpg.connect(**target.connect_kwargs(), timeout=timeout, command_timeout=COMMAND_TIMEOUT_S)
    except asyncpg.InvalidCatalogNameError:
        raise CortexUnavailableError(
            f"the database {target.database!r} does not exist on {target.host}:{target.port}",
            f"create it (createdb -h {target.host} -p {target.port} -U {target.user} {target.database}) "
            "or name an existing one in CORTEX_POSTGRES_URL",
        ) from None
    except (asyncpg.InvalidPasswordError, asyncpg.InvalidAuthorizationSpecificationError) as exc:
        raise CortexUnavailableError(
            f"PostgreSQL at {where} refused the login: {exc}",
            "fix the user and password in CORTEX_POSTGRES_URL",
        ) from None
    except (OSError, asyncio.TimeoutError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
        reason = str(exc) or type(exc).__name__
        raise CortexUnavailableError(f"CORTEX cannot reach PostgreSQL at {where}: {reason}", START_HINT) from None


async def close_quietly(conn: asyncpg.Connection, timeout: float = 2.0) -> None:
    """Close politely when the server answers, else cut the connection: closing never hangs."""
    try:
        await asyncio.wait_for(conn.close(timeout=timeout), timeout)
    except Exception:
        conn.terminate()
    except asyncio.CancelledError:
        conn.terminate()
        raise


class ServerCheck(BaseModel):
    """What CORTEX found on the server before LightRAG starts."""

    server_version: str
    pgvector: str
    age: bool


async def check_server(target: PgTarget) -> ServerCheck:
    """Reachable, with pgvector (created here when the server has it but the database does not yet)."""
    asyncpg = _asyncpg()
    conn = await connect(target)
    try:
        version = str(await conn.fetchval("SHOW server_version"))
        pgvector = await conn.fetchval("SELECT extversion FROM pg_extension WHERE extname = 'vector'")
        if pgvector is None:
            try:
                await conn.execute("CREATE EXTENSION IF NOT EXISTS vector")
            except asyncpg.PostgresError as exc:
                available = await conn.fetchval("SELECT count(*) FROM pg_available_extensions WHERE name = 'vector'")
                if not available:
                    raise CortexError(
                        f"PostgreSQL {version} at {target.display()} has no pgvector extension ({exc})",
                        "install pgvector on the server (Debian: apt install postgresql-<version>-pgvector; "
                        "Docker: the pgvector/pgvector image), then start CORTEX again",
                    ) from None
                raise CortexError(
                    f"pgvector is installed on {target.display()} but {target.user} may not enable it ({exc})",
                    f"as a superuser run: CREATE EXTENSION vector; in database {target.database}",
                ) from None
            pgvector = await conn.fetchval("SELECT extversion FROM pg_extension WHERE extname = 'vector'")
        age = bool(await conn.fetchval("SELECT count(*) FROM pg_available_extensions WHERE name = 'age'"))
        return ServerCheck(server_version=version, pgvector=str(pgvector), age=age)
    finally:
        await close_quietly(conn)


# ---- the manifest ---------------------------------------------------------------------------------


async def _ensure_manifest_table(conn: asyncpg.Connection) -> None:
    await conn.execute(
        f"CREATE TABLE IF NOT EXISTS {MANIFEST_TABLE} ("
        " store TEXT PRIMARY KEY, manifest JSONB NOT NULL, updated_at TIMESTAMPTZ NOT NULL DEFAULT now())"
    )


async def load_manifest(target: PgTarget, store: str) -> Manifest | None:
    """The manifest of the CORTEX store named `store` in this database, if there is one."""
    conn = await connect(target)
    try:
        await _ensure_manifest_table(conn)
        raw = await conn.fetchval(f"SELECT manifest FROM {MANIFEST_TABLE} WHERE store = $1", store)
    finally:
        await close_quietly(conn)
    return Manifest.model_validate(json.loads(raw)) if raw else None


async def save_manifest(target: PgTarget, store: str, manifest: Manifest) -> None:
    conn = await connect(target)
    try:
        await _ensure_manifest_table(conn)
        await conn.execute(
            f"INSERT INTO {MANIFEST_TABLE} (store, manifest) VALUES ($1, $2::jsonb) "
            "ON CONFLICT (store) DO UPDATE SET manifest = EXCLUDED.manifest, updated_at = now()",
            store,
            manifest.model_dump_json(),
        )
    finally:
        await close_quietly(conn)


async def create_manifest_once(target: PgTarget, store: str, embedder: str, dim: int, vector_storage: str) -> Manifest:
    """The store's manifest; a new one (with a fresh LightRAG workspace) when there is none yet.

    Several processes may start at once on an empty database: the first insert wins and all read it back.
    """
    fresh = Manifest(
        workspace=f"cortex_{uuid.uuid4().hex[:12]}", embedder=embedder, dim=dim, vector_storage=vector_storage
    )
    conn = await connect(target)
    try:
        await _ensure_manifest_table(conn)
        await conn.execute(
            f"INSERT INTO {MANIFEST_TABLE} (store, manifest) VALUES ($1, $2::jsonb) ON CONFLICT (store) DO NOTHING",
            store,
            fresh.model_dump_json(),
        )
        raw = await conn.fetchval(f"SELECT manifest FROM {MANIFEST_TABLE} WHERE store = $1", store)
    finally:
        await close_quietly(conn)
    return Manifest.model_validate(json.loads(raw))


async def rename_store(conn: asyncpg.Connection, *, old: str, new: str) -> None:
    """Give store `new` the name `old`, replacing the store called `old` (inside the caller's transaction)."""
    await conn.execute(f"DELETE FROM {MANIFEST_TABLE} WHERE store = $1", old)
    await conn.execute(f"UPDATE {MANIFEST_TABLE} SET store = $1, updated_at = now() WHERE store = $2", old, new)


async def delete_manifest(target: PgTarget, store: str) -> None:
    conn = await connect(target)
    try:
        await _ensure_manifest_table(conn)
        await conn.execute(f"DELETE FROM {MANIFEST_TABLE} WHERE store = $1", store)
    finally:
        await close_quietly(conn)


# ---- reading LightRAG's tables --------------------------------------------------------------------


async def workspace_rows(target: PgTarget, workspace: str) -> dict[str, int]:
    """Rows of each LightRAG table (lower-case name) that belong to `workspace`; absent tables are left out."""
    conn = await connect(target)
    try:
        tables = [
            str(r["table_name"])
            for r in await conn.fetch(
                "SELECT c.table_name FROM information_schema.columns c "
                "WHERE c.table_schema = current_schema() AND c.column_name = 'workspace' "
                "AND c.table_name LIKE 'lightrag_%'"
            )
        ]
        counts: dict[str, int] = {}
        for table in sorted(tables):
            counts[table] = int(await conn.fetchval(f'SELECT count(*) FROM "{table}" WHERE workspace = $1', workspace))
        return counts
    finally:
        await close_quietly(conn)


async def pg_chunks(storage: Any) -> dict[str, dict[str, Any]]:
    """Every text chunk of a PGKVStorage's workspace (id -> file_path), which LightRAG has no call for."""
    rows = await storage.db.query(
        "SELECT id, file_path FROM LIGHTRAG_DOC_CHUNKS WHERE workspace = $1",
        [storage.workspace],
        multirows=True,
    )
    return {str(r["id"]): {"file_path": r["file_path"] or ""} for r in rows or []}
