"""The CORTEX interface that SYNAPSE calls: the in-process service and the HTTP client both implement it."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence

from cortex.errors import CortexUnavailableError
from cortex.models import (
    CheckReport,
    CortexHealth,
    DocumentInfo,
    DocumentKind,
    DocumentState,
    QueryRequest,
    QueryResult,
)


class CortexBackend(ABC):
    """Retrieval of TRIZ knowledge and the user's documents, without generation."""

    @abstractmethod
    async def health(self) -> CortexHealth:
        """The service's state; raises CortexUnavailableError when it cannot be reached."""

    @abstractmethod
    async def query(self, request: QueryRequest) -> QueryResult:
        """Context and sources for a question."""

    @abstractmethod
    async def add_document(
        self,
        name: str,
        data: bytes,
        *,
        kind: DocumentKind = "document",
        tags: Sequence[str] = (),
        collection: str | None = None,
    ) -> DocumentInfo:
        """Store a file's bytes (.txt, .md, .pdf, .docx), in `collection` if given; processing continues in
        the background. A bad collection name raises InvalidCollectionError."""

    @abstractmethod
    async def list_documents(
        self, status: Sequence[DocumentState] = (), collection: str | None = None
    ) -> list[DocumentInfo]:
        """The stored documents, newest first; only those in one of `status`, and in `collection`, when given."""

    @abstractmethod
    async def get_document(self, doc_id: str) -> DocumentInfo:
        """One document; raises DocumentNotFoundError."""

    @abstractmethod
    async def delete_document(self, doc_id: str) -> None:
        """Remove a document with its chunks and vectors; raises DocumentNotFoundError."""

    async def check(self, repair: bool = False) -> CheckReport:
        """Compare the document list with the stores (`repair`: fix what is found); see `synapse cortex check`."""
        raise CortexUnavailableError(f"{type(self).__name__} cannot check a store", "run `synapse cortex check`")

    async def aclose(self) -> None:  # noqa: B027 - optional hook, most backends hold nothing
        """Release files, connections and background tasks."""
