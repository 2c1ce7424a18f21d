"""CORTEX's own records next to LightRAG's stores: the manifest and the document list (SQLite)."""

from __future__ import annotations

import json
import sqlite3
import threading
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

from pydantic import BaseModel
from typing_extensions import NotRequired, TypedDict

from cortex.models import DocumentInfo, DocumentKind, DocumentState

if TYPE_CHECKING:
    from typing_extensions import Unpack

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS documents (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    kind TEXT NOT NULL,
    content_type TEXT NOT NULL,
    size INTEGER NOT NULL,
    sha256 TEXT NOT NULL,
    status TEXT NOT NULL,
    error TEXT,
    chunks INTEGER NOT NULL DEFAULT 0,
    tags TEXT NOT NULL DEFAULT '[]',
    page_starts TEXT NOT NULL DEFAULT '[]',
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    collection TEXT
);
CREATE INDEX IF NOT EXISTS documents_created ON documents (created_at);
-- The text LightRAG is given, kept until the document is processed or deleted: an accepted document
-- can always be handed over again after a crash, whatever LightRAG had written by then.
CREATE TABLE IF NOT EXISTS document_texts (id TEXT PRIMARY KEY, text TEXT NOT NULL);
-- Deleted documents whose traces in LightRAG's stores are not yet removed.
CREATE TABLE IF NOT EXISTS tombstones (id TEXT PRIMARY KEY, created_at TEXT NOT NULL);
"""


def now() -> datetime:
    return datetime.now(timezone.utc)


class Manifest(BaseModel):
    """What the store was built with: its LightRAG workspace, the embedder, the TRIZ graph version."""

    workspace: str
    embedder: str
    dim: int
    knowledge_version: str = ""
    vector_storage: str = ""


class DocumentLabel(NamedTuple):
    """What a retrieved chunk's source shows of its document."""

    name: str
    kind: DocumentKind
    page_starts: list[int]


class StatusChange(NamedTuple):
    """A document's new processing state, as LightRAG reports it."""

    doc_id: str
    status: DocumentState
    error: str | None
    chunks: int


class NewDocument(TypedDict):
    """What `Registry.insert` stores of an accepted document (`text`: what LightRAG is given, if kept)."""

    name: str
    kind: DocumentKind
    content_type: str
    size: int
    sha256: str
    tags: list[str]
    page_starts: list[int]
    collection: NotRequired[str | None]
    text: NotRequired[str | None]


class DocumentRecord(BaseModel):
    info: DocumentInfo
    page_starts: list[int]


class Registry:
    """Thread-safe access to `cortex.sqlite3`; every call is one short transaction."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._lock = threading.Lock()
        self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        # FULL: every commit is fsync'd, so an upload answered 202 survives a power cut too, and so does a
        # `processed` state, which is committed only once LightRAG's stores hold the document.
        self._db.execute("PRAGMA synchronous=FULL")
        self._db.executescript(_SCHEMA)
        self._add_collections()

    def _add_collections(self) -> None:
        """A store from before collections gets the column (last, as in the schema); its documents have none."""
        columns = {row[1] for row in self._db.execute("PRAGMA table_info(documents)").fetchall()}
        if "collection" not in columns:
            try:
                self._db.execute("ALTER TABLE documents ADD COLUMN collection TEXT")
            except sqlite3.OperationalError as exc:  # another process of the same store added it a moment ago
                if "duplicate column" not in str(exc):
                    raise
        self._db.execute("CREATE INDEX IF NOT EXISTS documents_collection ON documents (collection)")

    def close(self) -> None:
        with self._lock:
            self._db.close()

    @contextmanager
    def _tx(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield self._db
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")

    # ---- manifest ---------------------------------------------------------------------------

    def manifest(self) -> Manifest | None:
        with self._lock:
            row = self._db.execute("SELECT value FROM meta WHERE key='manifest'").fetchone()
        return Manifest.model_validate_json(row[0]) if row else None

    def save_manifest(self, manifest: Manifest) -> None:
        with self._tx() as db:
            db.execute("INSERT OR REPLACE INTO meta VALUES ('manifest', ?)", (manifest.model_dump_json(),))

    def create_manifest(self, embedder: str, dim: int, vector_storage: str = "") -> Manifest:
        workspace = f"cortex_{uuid.uuid4().hex[:12]}"
        manifest = Manifest(workspace=workspace, embedder=embedder, dim=dim, vector_storage=vector_storage)
        self.save_manifest(manifest)
        return manifest

    # ---- documents --------------------------------------------------------------------------

    @staticmethod
    def _record(row: sqlite3.Row | tuple[Any, ...]) -> DocumentRecord:
        (doc_id, name, kind, ctype, size, sha, status, error, chunks, tags, pages, created, updated, collection) = row
        info = DocumentInfo(
            id=doc_id,
            name=name,
            kind=kind,
            content_type=ctype,
            size=size,
            sha256=sha,
            status=status,
            error=error,
            chunks=chunks,
            tags=json.loads(tags),
            collection=collection,
            created_at=datetime.fromisoformat(created),
            updated_at=datetime.fromisoformat(updated),
        )
        return DocumentRecord(info=info, page_starts=json.loads(pages))

    def get(self, doc_id: str) -> DocumentRecord | None:
        with self._lock:
            row = self._db.execute("SELECT * FROM documents WHERE id=?", (doc_id,)).fetchone()
        return self._record(row) if row else None

    def all(self, status: Sequence[DocumentState] = (), collection: str | None = None) -> list[DocumentRecord]:
        """Every document, newest first; only those in one of `status`, and in `collection`, when given."""
        clauses, args = [], list[str](status)
        if status:
            clauses.append(f"status IN ({','.join('?' * len(status))})")
        if collection is not None:
            clauses.append("collection = ?")
            args.append(collection)
        where = f"WHERE {' AND '.join(clauses)}" if clauses else ""
        with self._lock:
            query = f"SELECT * FROM documents {where} ORDER BY created_at DESC, id"
            rows = self._db.execute(query, tuple(args)).fetchall()
        return [self._record(r) for r in rows]

    def documents_in(self, collections: Sequence[str]) -> frozenset[str]:
        """Ids of the documents (kind `document`: dialogues belong to no collection) of these collections."""
        if not collections:
            return frozenset()
        marks = ",".join("?" * len(collections))
        query = f"SELECT id FROM documents WHERE kind = 'document' AND collection IN ({marks})"
        with self._lock:
            return frozenset(row[0] for row in self._db.execute(query, tuple(collections)).fetchall())

    def labels(self, doc_ids: Sequence[str]) -> dict[str, DocumentLabel]:
        """Name, kind and page starts of each known document among `doc_ids`, in one look-up.

        Sources need only these, for a query's few documents; `get` builds a whole record per call.
        """
        if not doc_ids:
            return {}
        marks = ",".join("?" * len(doc_ids))
        with self._lock:
            rows = self._db.execute(
                f"SELECT id, name, kind, page_starts FROM documents WHERE id IN ({marks})", tuple(doc_ids)
            ).fetchall()
        return {
            doc_id: DocumentLabel(name, kind, json.loads(pages) if pages != "[]" else [])
            for doc_id, name, kind, pages in rows
        }

    def unfinished_states(self, doc_ids: Sequence[str] | None = None) -> dict[str, DocumentState]:
        """Id and state of the documents still pending or processing, among `doc_ids` when given.

        Plain values, not models: the document list polls this while thousands are queued.
        """
        if doc_ids is not None and not doc_ids:
            return {}
        query = "SELECT id, status FROM documents WHERE status IN ('pending', 'processing')"
        with self._lock:
            if doc_ids is None:
                rows = self._db.execute(query).fetchall()
            else:
                marks = ",".join("?" * len(doc_ids))
                rows = self._db.execute(f"{query} AND id IN ({marks})", tuple(doc_ids)).fetchall()
        return {doc_id: status for doc_id, status in rows}

    def count(self) -> int:
        with self._lock:
            return int(self._db.execute("SELECT COUNT(*) FROM documents").fetchone()[0])

    def insert(self, doc_id: str, **doc: Unpack[NewDocument]) -> DocumentInfo:
        """A new `pending` document and its text, in one committed transaction."""
        stamp = now().isoformat()
        text = doc.get("text")
        with self._tx() as db:
            if text is not None:
                db.execute("INSERT OR REPLACE INTO document_texts VALUES (?, ?)", (doc_id, text))
            db.execute(
                "INSERT INTO documents VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                (
                    doc_id,
                    doc["name"],
                    doc["kind"],
                    doc["content_type"],
                    doc["size"],
                    doc["sha256"],
                    "pending",
                    None,
                    0,
                    json.dumps(doc["tags"]),
                    json.dumps(doc["page_starts"]),
                    stamp,
                    stamp,
                    doc.get("collection"),
                ),
            )
        record = self.get(doc_id)
        assert record is not None
        return record.info

    def set_statuses(self, changes: Sequence[StatusChange]) -> None:
        """Several status changes in one transaction."""
        if not changes:
            return
        stamp = now().isoformat()
        with self._tx() as db:
            db.executemany(
                "UPDATE documents SET status=?, error=?, chunks=?, updated_at=? WHERE id=?",
                [(c.status, c.error, c.chunks, stamp, c.doc_id) for c in changes],
            )
            # A processed document's text lives in LightRAG's stores now (they were flushed before this).
            done = [(c.doc_id,) for c in changes if c.status == "processed"]
            db.executemany("DELETE FROM document_texts WHERE id=?", done)

    def fail_unfinished(self, doc_ids: Sequence[str], error: str) -> list[str]:
        """Mark as failed those of `doc_ids` still pending or processing, in one transaction; the ids marked.

        Another worker process of the same store may have finished one a moment ago (its text then went with
        the `processed` commit): that one stays processed."""
        stamp = now().isoformat()
        marked = []
        with self._tx() as db:
            for doc_id in doc_ids:
                cur = db.execute(
                    "UPDATE documents SET status='failed', error=?, chunks=0, updated_at=? "
                    "WHERE id=? AND status IN ('pending', 'processing')",
                    (error, stamp, doc_id),
                )
                if cur.rowcount:
                    marked.append(doc_id)
        return marked

    def delete(self, doc_id: str) -> bool:
        """Forget a document and leave a tombstone until its traces in LightRAG are removed; False if unknown."""
        with self._tx() as db:
            gone = db.execute("DELETE FROM documents WHERE id=?", (doc_id,)).rowcount > 0
            db.execute("DELETE FROM document_texts WHERE id=?", (doc_id,))
            if gone:
                db.execute("INSERT OR REPLACE INTO tombstones VALUES (?, ?)", (doc_id, now().isoformat()))
        return gone

    # ---- texts and tombstones ---------------------------------------------------------------

    def text(self, doc_id: str) -> str | None:
        """The text kept for a document that is not processed yet (None once processed, or for older stores)."""
        with self._lock:
            row = self._db.execute("SELECT text FROM document_texts WHERE id=?", (doc_id,)).fetchone()
        return str(row[0]) if row else None

    def keep_text(self, doc_id: str, text: str) -> None:
        """Keep a text again (a processed document that must be processed once more)."""
        with self._tx() as db:
            db.execute("INSERT OR REPLACE INTO document_texts VALUES (?, ?)", (doc_id, text))

    def tombstones(self) -> list[str]:
        with self._lock:
            return [r[0] for r in self._db.execute("SELECT id FROM tombstones ORDER BY created_at").fetchall()]

    def bury(self, doc_id: str) -> None:
        """The tombstone's document is gone from LightRAG's stores too."""
        with self._tx() as db:
            db.execute("DELETE FROM tombstones WHERE id=?", (doc_id,))

    def requeue(self, doc_ids: Sequence[str]) -> None:
        """Back to `pending` (a repair, or a processing that was cancelled): they will be processed again."""
        stamp = now().isoformat()
        with self._tx() as db:
            db.executemany(
                "UPDATE documents SET status='pending', error=NULL, chunks=0, updated_at=? WHERE id=?",
                [(stamp, d) for d in doc_ids],
            )
