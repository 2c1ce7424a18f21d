"""Every database call LightRAG's PostgreSQL storages make, bounded in time and failing fast while the server is down.

LightRAG (1.5.7) sends each call through PostgreSQLDB's `_run_with_retry`: up to 10 attempts 3-30 s apart, the
pool rebuilt between them. That retry hook takes the pool's lock, and so does `_ensure_pool` while it builds
a new pool with a retry of its own: the first failed rebuild waits for a lock its own caller holds. Once
PostgreSQL has been gone long enough for one call to need a new pool, every later call queues behind that
lock forever, with no connection open, also after the server is back (issue #14).

`install()` replaces the call path: one pool build per call with no retry under the lock, a bounded wait for
a connection and for the statement, one more try when the server dropped a connection (a restart), and
then a CortexUnavailableError naming the database. CORTEX's PgGuard (pg_guard.py) makes calls fail at once
while it knows the server is down, and probes it back.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Protocol

from cortex.lightrag_compat import (
    ensure_pg_pool,
    forget_pg_client,
    pg_reconnect_lock,
    pg_transient_errors,
    replace_pg_calls,
    shared_pg_client,
)
from cortex.storage.postgres import outage_error

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class PgTimeouts:
    """How long CORTEX waits on PostgreSQL, in seconds (none of these waits is unbounded)."""

    connect: float = 5.0  # building LightRAG's pool (one connection) or a probe's connection
    acquire: float = 10.0  # a connection from the pool, a fresh one included
    statement: float = 60.0  # one LightRAG operation on its connection (batched upserts are the long ones)
    probe: float = 2.0  # the health probe, connection included
    health_ttl: float = 2.0  # how long /health reuses a probe's answer
    heartbeat: float = 5.0  # probe interval while the server answers (finds a server that went silent)
    backoff_first: float = 0.5  # first wait before probing a server that is down again ...
    backoff_max: float = 10.0  # ... doubled up to this
    close: float = 4.0  # LightRAG's storages finalizing at shutdown before their connections are cut


class CallGuard(Protocol):
    """What the call path needs from PgGuard (no import cycle, and tests may stand in for it)."""

    timeouts: PgTimeouts

    async def check(self) -> None: ...

    def report_down(self, exc: BaseException) -> None: ...

    def suspect(self) -> None: ...


_guards: list[CallGuard] = []
_installed = False


def activate(guard: CallGuard) -> None:
    """Make `guard` the one the calls consult (LightRAG's client is one per process, so is the guard)."""
    _guards.append(guard)


def deactivate(guard: CallGuard) -> None:
    with contextlib.suppress(ValueError):
        _guards.remove(guard)


def active_guard() -> CallGuard | None:
    return _guards[-1] if _guards else None


class _NoConnection(Exception):
    """No pooled connection within the acquire timeout (pool exhausted, or a server that does not answer)."""


class _InnerTimeout(Exception):
    """A timeout raised inside the operation, told apart from the statement bound around it."""


class _StatementTimeout(Exception):
    """An operation ran past the statement timeout; its connection was cut."""


def where(db: Any) -> str:
    """LightRAG's client's database as CORTEX names it (no password)."""
    return f"postgresql://{db.user}@{db.host}:{db.port}/{db.database}"


def reason_of(exc: BaseException) -> str:
    text = str(exc).strip()
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def drop_pool(db: Any) -> None:
    """Cut every connection of the client's pool now; the next call builds a new one.

    A lost server leaves calls waiting on connections that will never answer; closing politely would wait
    for them, terminating ends them at once (they fail, and their callers get the outage error).
    """
    pool, db.pool = getattr(db, "pool", None), None
    if pool is not None:
        with contextlib.suppress(Exception):
            pool.terminate()


def shared_client() -> Any | None:
    """The process-wide PostgreSQLDB LightRAG's storages share, if one is open."""
    return shared_pg_client()


def forget_shared_client(db: Any) -> None:
    """Drop LightRAG's shared client after a shutdown that did not finish, so a new start opens a fresh one."""
    drop_pool(db)
    forget_pg_client(db)


async def _build_pool_once(self: Any) -> None:
    """PostgreSQLDB's pool builder with a single build attempt: its retry under the lock is the deadlock."""
    if self.pool is None:
        async with pg_reconnect_lock(self):
            if self.pool is None:
                self.connection_retry_attempts = 1  # initdb's retry loop reads it; its hook would take the lock
                await self.initdb()


async def _run_once(
    db: Any, operation: Callable[[Any], Awaitable[Any]], with_age: bool, graph_name: str | None, t: PgTimeouts
) -> Any:
    if with_age and not graph_name:
        raise ValueError("Graph name is required when with_age is True")
    if db.pool is None:
        await asyncio.wait_for(ensure_pg_pool(db), t.connect)
    pool = db.pool
    try:
        conn = await pool.acquire(timeout=t.acquire)
    except asyncio.TimeoutError:
        raise _NoConnection(f"no connection within {t.acquire:g} s") from None

    async def on_connection() -> Any:
        try:
            if with_age:
                await db.configure_age(conn, graph_name)
            return await operation(conn)
        except asyncio.TimeoutError as exc:  # asyncpg's own, not the bound below
            raise _InnerTimeout() from exc

    try:
        return await asyncio.wait_for(on_connection(), t.statement)
    except asyncio.TimeoutError:
        conn.terminate()  # it may be stuck mid-statement: not given back to the pool
        raise _StatementTimeout(f"no answer within {t.statement:g} s") from None
    except _InnerTimeout as exc:
        assert exc.__cause__ is not None
        raise exc.__cause__ from None
    except asyncio.CancelledError:
        conn.terminate()  # giving it back would run the reset query on a connection in an unknown state
        raise
    finally:
        with contextlib.suppress(Exception):  # a terminated pool refuses it; the connection is gone either way
            await pool.release(conn, timeout=t.acquire)


async def run_bounded(
    self: Any,
    operation: Callable[[Any], Awaitable[Any]],
    *,
    with_age: bool = False,
    graph_name: str | None = None,
    timing_label: str | None = None,
) -> Any:
    """Replaces PostgreSQLDB's retrying call (same signature): bounded, two tries at most, then 503."""
    guard = active_guard()
    t = guard.timeouts if guard is not None else PgTimeouts()
    failure: BaseException | None = None
    for _ in range(2):  # a connection the server dropped shows only on use: once more on a fresh one
        if guard is not None:
            await guard.check()
        try:
            return await _run_once(self, operation, with_age, graph_name, t)
        except (_NoConnection, _StatementTimeout) as exc:
            if guard is not None:
                guard.suspect()  # slow or silent: the guard's probe tells which
            raise outage_error(where(self), str(exc)) from None
        except pg_transient_errors(self) as exc:
            failure = exc
    assert failure is not None
    if guard is not None:
        guard.report_down(failure)
    raise outage_error(where(self), reason_of(failure)) from failure


def install() -> None:
    """Put the bounded call path into LightRAG's PostgreSQLDB (once per process)."""
    global _installed
    if _installed:
        return
    missing = replace_pg_calls(run_bounded, _build_pool_once)
    if missing:  # another LightRAG than the one pinned: its calls stay unbounded, and the log says so
        log.warning("LightRAG's PostgreSQLDB has no %s: its database calls are not bounded", missing)
        return
    _installed = True


__all__ = [
    "CallGuard",
    "PgTimeouts",
    "activate",
    "active_guard",
    "deactivate",
    "drop_pool",
    "forget_shared_client",
    "install",
    "run_bounded",
    "shared_client",
]
