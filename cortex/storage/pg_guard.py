"""Whether PostgreSQL answers: for CORTEX's requests, /health, the document worker and shutdown.

A PgGuard knows the database's state from two sources: its own probe (`SELECT 1` on a connection of its
own, every few seconds while the server answers, bounded in time) and LightRAG's calls, which report a
server that failed them twice (pg_calls.py). While the server is down:

- requests fail at once with 503 naming the database and the fix (`check()`), none waits on it;
- `/health` says `degraded` with the reason (`problem()`: the last probe's answer, at most a moment old);
- LightRAG's pool is cut, so calls stuck on the lost server end now rather than after TCP gives up;
- the probe retries with exponential backoff (capped); once the server answers, the guard says so, calls go
  through again on fresh connections, and the `on_up` callbacks run (CORTEX wakes its document worker).

A document processing run wraps itself in `run_scope()`. A run that the server went away under may still
be busy after the server is back (waiting on the embedder, cancelling its batch), and LightRAG would then
write its documents as failed. Its calls are refused instead, so its documents stay pending/processing
in the store and the next run, woken by the recovery, processes them.

`finalize()` closes LightRAG's storages within a bound at shutdown, cutting their connections if the
database does not let them close. A file store gets the NullGuard, which does none of this.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import logging
import math
import time
from collections.abc import Callable, Iterator
from typing import Any, Protocol

from cortex.errors import CortexUnavailableError
from cortex.storage.pg_calls import (
    PgTimeouts,
    activate,
    deactivate,
    drop_pool,
    forget_shared_client,
    reason_of,
    shared_client,
)
from cortex.storage.postgres import PgTarget, close_quietly, outage_error

log = logging.getLogger(__name__)

# The guard and its outage count when the current document processing run began (None outside a run).
_RUN: contextvars.ContextVar[tuple[object, int] | None] = contextvars.ContextVar("cortex_pg_run", default=None)


class DbGuard(Protocol):
    """What the service asks of its database guard (the same calls on a file store, where they do nothing)."""

    def start(self) -> None: ...

    def on_up(self, callback: Callable[[], None]) -> None: ...

    async def check(self) -> None: ...

    async def problem(self) -> str | None: ...

    async def wait_up(self) -> None: ...

    def run_scope(self) -> contextlib.AbstractContextManager[None]: ...

    async def finalize(self, rag: Any) -> None: ...

    async def aclose(self) -> None: ...


class NullGuard:
    """A store without a database server: always up; LightRAG's storages close as they always did."""

    def start(self) -> None:
        return None

    def on_up(self, callback: Callable[[], None]) -> None:
        return None

    async def check(self) -> None:
        return None

    async def problem(self) -> str | None:
        return None

    async def wait_up(self) -> None:
        return None

    def run_scope(self) -> contextlib.AbstractContextManager[None]:
        return contextlib.nullcontext()

    async def finalize(self, rag: Any) -> None:
        await rag.finalize_storages()

    async def aclose(self) -> None:
        return None


class PgGuard:
    """The state of one PostgreSQL database as CORTEX sees it (one per Cortex; see the module's docstring)."""

    def __init__(self, target: PgTarget, timeouts: PgTimeouts | None = None) -> None:
        self.target = target
        self.timeouts = timeouts or PgTimeouts()
        self._down: str | None = None  # why the server is taken for down; None while it answers
        self._down_since = 0.0
        self._outages = 0
        self._probed_at = -math.inf
        self._up = asyncio.Event()
        self._up.set()
        self._kick = asyncio.Event()
        self._probing: asyncio.Future[None] | None = None
        self._conn: Any = None
        self._slow = False  # the last probe timed out while the server was taken for up
        self._watcher: asyncio.Task[None] | None = None
        self._on_up: list[Callable[[], None]] = []

    # ---- what the service asks ----------------------------------------------------------------

    def start(self) -> None:
        """Watch the server from now on (on the running loop) and let LightRAG's calls consult this guard."""
        activate(self)
        if self._watcher is None:
            self._watcher = asyncio.create_task(self._watch(), name="cortex-postgres-guard")

    def on_up(self, callback: Callable[[], None]) -> None:
        """Run `callback` each time the server answers again after being down."""
        self._on_up.append(callback)

    @property
    def down(self) -> str | None:
        return self._down

    async def check(self) -> None:
        """Raise the 503 at once while the server is down (no call waits on a server known to be gone), and
        in a processing run that the server went away under (see the module's docstring)."""
        if self._down is not None:
            raise self.error()
        run = _RUN.get()
        if run is not None and run[0] is self and run[1] != self._outages:
            raise outage_error(
                self.target.display(),
                "it went away during this processing run; its documents are processed again by the next one",
            )

    @contextlib.contextmanager
    def run_scope(self) -> Iterator[None]:
        """Mark the calls of one document processing run (tasks it starts inherit the mark)."""
        token = _RUN.set((self, self._outages))
        try:
            yield
        finally:
            _RUN.reset(token)

    def error(self) -> CortexUnavailableError:
        down_for = time.monotonic() - self._down_since
        return outage_error(self.target.display(), f"{self._down}; down for {down_for:.0f} s")

    async def problem(self) -> str | None:
        """None while the server answers, else why not (for /health): probes when the last answer is stale."""
        fresh_enough = self.timeouts.health_ttl
        if self._down is None and (self._conn is None or self._conn.is_closed()):
            fresh_enough = 0.0  # the server dropped the probe's connection: ask now
        await self._probe(max_age=fresh_enough)
        if self._down is None:
            return None
        return f"PostgreSQL at {self.target.display()} is not answering: {self._down}"

    async def wait_up(self) -> None:
        await self._up.wait()

    def report_down(self, exc: BaseException) -> None:
        """A call failed twice on connections: the server is taken for down until a probe says otherwise."""
        self._mark_down(reason_of(exc))

    def suspect(self) -> None:
        """A call timed out: probe now rather than at the next heartbeat."""
        self._kick.set()

    async def finalize(self, rag: Any) -> None:
        """Close LightRAG's storages within `timeouts.close`; cut the pool if they do not finish cleanly."""
        db = shared_client()
        task = asyncio.ensure_future(rag.finalize_storages())
        done, _ = await asyncio.wait({task}, timeout=self.timeouts.close)
        if not done:
            task.cancel()
            task.add_done_callback(_swallow)
            log.warning(
                "LightRAG's PostgreSQL storages did not close within %g s (%s): their connections were cut",
                self.timeouts.close,
                self.target.display(),
            )
        elif task.cancelled() or task.exception() is not None:
            failure = "cancelled" if task.cancelled() else reason_of(task.exception())
            log.warning("closing LightRAG's PostgreSQL storages failed (%s): %s", self.target.display(), failure)
        else:
            return
        if db is not None:
            forget_shared_client(db)

    async def aclose(self) -> None:
        """Stop watching; close the probe's connection (bounded)."""
        deactivate(self)
        for task in (self._watcher, self._probing):
            if task is not None and not task.done():
                task.cancel()
                await asyncio.wait({task}, timeout=1.0)
        self._watcher = self._probing = None
        conn, self._conn = self._conn, None
        if conn is not None:
            await close_quietly(conn, timeout=1.0)

    # ---- the state ----------------------------------------------------------------------------

    def _mark_down(self, reason: str) -> None:
        first = self._down is None
        self._down = reason
        if not first:
            return
        self._down_since = time.monotonic()
        self._outages += 1
        self._up.clear()
        log.warning(
            "PostgreSQL at %s is not answering (%s): requests answer 503 until it is back",
            self.target.display(),
            reason,
        )
        db = shared_client()
        if db is not None:
            drop_pool(db)  # calls stuck on the lost server end now
        self._kick.set()

    def _mark_up(self) -> None:
        if self._down is None:
            return
        log.warning(
            "PostgreSQL at %s answers again after %.0f s", self.target.display(), time.monotonic() - self._down_since
        )
        self._down = None
        self._up.set()
        for callback in list(self._on_up):
            try:
                callback()
            except Exception:
                log.exception("a callback on the database's recovery failed")

    # ---- the probe ----------------------------------------------------------------------------

    async def _probe(self, max_age: float) -> None:
        """Probe unless the last answer is younger than `max_age`; concurrent callers share one probe."""
        if time.monotonic() - self._probed_at < max_age:
            return
        if self._probing is None or self._probing.done():
            self._probing = asyncio.ensure_future(self._probe_once())
        await asyncio.shield(self._probing)  # a caller that gives up does not cancel the others' probe

    async def _probe_once(self) -> None:
        timed_out = False
        try:
            await asyncio.wait_for(self._select_one(), self.timeouts.probe)
        except asyncio.TimeoutError:
            reason: str | None = f"no answer within {self.timeouts.probe:g} s"
            timed_out = True
        except Exception as exc:
            reason = reason_of(exc)
        else:
            reason = None
        if reason is not None:
            self._cut_probe_connection()
        self._probed_at = time.monotonic()
        if reason is None:
            self._slow = False
            self._mark_up()
        elif timed_out and self._down is None and not self._slow:
            self._slow = True  # a busy machine can be slow once: ask again at once before calling it down
            self._kick.set()
        else:
            self._slow = False
            self._mark_down(reason)

    async def _select_one(self) -> None:
        import asyncpg  # type: ignore[import-untyped]

        if self._conn is not None and not self._conn.is_closed():
            try:
                await self._conn.fetchval("SELECT 1")
                return
            except (OSError, asyncpg.InterfaceError, asyncpg.PostgresError):
                self._cut_probe_connection()  # a restarted server drops it: a new connection tells
        self._conn = await asyncpg.connect(**self.target.connect_kwargs(), timeout=self.timeouts.probe)
        await self._conn.fetchval("SELECT 1")

    def _cut_probe_connection(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            conn.terminate()

    async def _watch(self) -> None:
        """Heartbeat while the server answers; while it is down, probe with exponential backoff (capped)."""
        t = self.timeouts
        delay = t.backoff_first
        while True:
            if self._down is None:
                delay = t.backoff_first
                with contextlib.suppress(asyncio.TimeoutError):
                    await asyncio.wait_for(self._kick.wait(), t.heartbeat)
            else:
                await asyncio.sleep(delay)
                delay = min(delay * 2, t.backoff_max)
            self._kick.clear()
            try:
                await self._probe(max_age=0.0)
            except Exception:  # the watcher must outlive any surprise; the next round probes again
                log.exception("probing PostgreSQL at %s failed", self.target.display())


def _swallow(task: asyncio.Future[Any]) -> None:
    """Retrieve a cut-off task's outcome so asyncio does not log it as never retrieved."""
    if not task.cancelled():
        task.exception()


def guard_for(target: PgTarget | None, timeouts: PgTimeouts | None = None) -> DbGuard:
    """The guard of a store: a PgGuard for a PostgreSQL database, else the NullGuard."""
    return PgGuard(target, timeouts) if target is not None else NullGuard()


__all__ = ["DbGuard", "NullGuard", "PgGuard", "PgTimeouts", "guard_for"]
