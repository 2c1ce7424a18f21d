"""Chat history: where it lives and the tables Chainlit's SQLAlchemy data layer expects (it creates none)."""

from __future__ import annotations

import asyncio
import threading
from pathlib import Path

from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import create_async_engine

from synapse.config import TerminalSettings
from terminal.errors import TerminalError
from terminal.private import private_dir, private_file


def database_url(settings: TerminalSettings) -> str:
    """TERMINAL_DATABASE_URL, else SQLite in the data directory; plain postgres:// URLs get the asyncpg driver."""
    url = settings.database_url.get_secret_value().strip()
    if not url:
        path = Path(settings.data_dir) / "history.sqlite3"
        # Created here, owner-only, before SQLite would create it world-readable (its journals copy the mode).
        private_dir(path.parent)
        private_file(path)
        return f"sqlite+aiosqlite:///{path.as_posix()}"
    for plain in ("postgresql://", "postgres://"):
        if url.startswith(plain):
            return "postgresql+asyncpg://" + url[len(plain) :]
    return url


def _schema(dialect: str) -> list[str]:
    # One column per key of Chainlit's StepDict/ElementDict/Feedback: the data layer inserts every key it has,
    # and one unknown column makes the whole insert fail with only a log line.
    pg = dialect == "postgresql"
    uuid = "UUID" if pg else "TEXT"
    json = "JSONB" if pg else "TEXT"
    array = "TEXT[]" if pg else "TEXT"
    return [
        f"""CREATE TABLE IF NOT EXISTS users (
            "id" {uuid} PRIMARY KEY, "identifier" TEXT NOT NULL UNIQUE, "metadata" {json} NOT NULL,
            "createdAt" TEXT)""",
        f"""CREATE TABLE IF NOT EXISTS threads (
            "id" {uuid} PRIMARY KEY, "createdAt" TEXT, "name" TEXT, "userId" {uuid}, "userIdentifier" TEXT,
            "tags" {array}, "metadata" {json},
            FOREIGN KEY ("userId") REFERENCES users("id") ON DELETE CASCADE)""",
        f"""CREATE TABLE IF NOT EXISTS steps (
            "id" {uuid} PRIMARY KEY, "name" TEXT NOT NULL, "type" TEXT NOT NULL, "threadId" {uuid} NOT NULL,
            "parentId" {uuid}, "streaming" BOOLEAN NOT NULL, "waitForAnswer" BOOLEAN, "isError" BOOLEAN,
            "metadata" {json}, "tags" {array}, "input" TEXT, "output" TEXT, "createdAt" TEXT, "command" TEXT,
            "modes" {json}, "start" TEXT, "end" TEXT, "generation" {json}, "showInput" TEXT, "language" TEXT,
            "indent" INT, "defaultOpen" BOOLEAN, "autoCollapse" BOOLEAN, "icon" TEXT,
            FOREIGN KEY ("threadId") REFERENCES threads("id") ON DELETE CASCADE)""",
        f"""CREATE TABLE IF NOT EXISTS elements (
            "id" {uuid} PRIMARY KEY, "threadId" {uuid}, "type" TEXT, "url" TEXT, "chainlitKey" TEXT,
            "name" TEXT NOT NULL, "display" TEXT, "objectKey" TEXT, "size" TEXT, "page" INT, "language" TEXT,
            "forId" {uuid}, "mime" TEXT, "props" {json}, "autoPlay" BOOLEAN, "playerConfig" {json}, "path" TEXT,
            FOREIGN KEY ("threadId") REFERENCES threads("id") ON DELETE CASCADE)""",
        f"""CREATE TABLE IF NOT EXISTS feedbacks (
            "id" {uuid} PRIMARY KEY, "forId" {uuid} NOT NULL, "threadId" {uuid} NOT NULL, "value" INT NOT NULL,
            "comment" TEXT,
            FOREIGN KEY ("threadId") REFERENCES threads("id") ON DELETE CASCADE)""",
    ]


async def create_schema(url: str) -> None:
    """Create the history tables if they are missing (idempotent)."""
    dialect = make_url(url).get_backend_name()
    engine = create_async_engine(url)
    try:
        async with engine.begin() as conn:
            for statement in _schema(dialect):
                await conn.execute(text(statement))
    except Exception as exc:
        raise TerminalError(
            f"cannot prepare the chat history database ({make_url(url).render_as_string(hide_password=True)}): {exc}",
            "check TERMINAL_DATABASE_URL, or leave it empty for SQLite in the data directory",
        ) from exc
    finally:
        await engine.dispose()


def create_schema_blocking(url: str) -> None:
    """create_schema from synchronous code, even inside a running event loop (own thread, own loop)."""
    errors: list[BaseException] = []

    def work() -> None:
        try:
            asyncio.run(create_schema(url))
        except BaseException as exc:
            errors.append(exc)

    worker = threading.Thread(target=work, name="terminal-schema")
    worker.start()
    worker.join()
    if errors:
        raise errors[0]
