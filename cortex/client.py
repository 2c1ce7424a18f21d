"""CortexClient: the CORTEX HTTP API behind the same interface as the in-process Cortex."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any
from urllib.parse import quote

import httpx
from pydantic import TypeAdapter

from cortex import errors
from cortex.backend import CortexBackend
from cortex.documents import CONTENT_TYPES, suffix_of
from cortex.models import (
    CheckReport,
    CortexHealth,
    DocumentInfo,
    DocumentKind,
    DocumentState,
    QueryRequest,
    QueryResult,
)
from synapse.errors import SynapseError

_CODES: dict[str, type[errors.CortexError]] = {
    "cortex_unavailable": errors.CortexUnavailableError,
    "document_not_found": errors.DocumentNotFoundError,
    "bad_document": errors.BadDocumentError,
    "document_too_large": errors.DocumentTooLargeError,
    "unsupported_document": errors.UnsupportedDocumentError,
    "embedder_mismatch": errors.EmbedderMismatchError,
    "invalid_collection": errors.InvalidCollectionError,
    "collection_conflict": errors.CollectionConflictError,
}
_BY_STATUS: dict[int, type[errors.CortexError]] = {
    404: errors.DocumentNotFoundError,
    409: errors.EmbedderMismatchError,
    413: errors.DocumentTooLargeError,
    415: errors.UnsupportedDocumentError,
    503: errors.CortexUnavailableError,
}
_DOCS = TypeAdapter(list[DocumentInfo])


class CortexClient(CortexBackend):
    """Typed async client of `synapse cortex serve`; failures come back as the matching CortexError."""

    def __init__(
        self,
        base_url: str,
        api_key: str = "",
        *,
        timeout: float | httpx.Timeout = 30.0,
        transport: httpx.AsyncBaseTransport | None = None,
        documents_path: str = "/documents",
    ) -> None:
        headers = {"X-API-Key": api_key} if api_key else {}
        self.base_url = base_url.rstrip("/")
        # Where the document routes are: /documents, or another path behind a proxy.
        self._documents = "/" + documents_path.strip("/")
        self._http = httpx.AsyncClient(base_url=self.base_url, headers=headers, timeout=timeout, transport=transport)

    async def __aenter__(self) -> CortexClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._http.aclose()

    async def _request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        try:
            response = await self._http.request(method, path, **kwargs)
        except httpx.TransportError as exc:
            raise self._unreachable(exc) from exc
        if response.status_code >= 400:
            raise self._error(response)
        return response

    # The two ways a call fails, as errors; a caller with its own messages (the terminal) overrides them.

    def _unreachable(self, exc: httpx.TransportError) -> SynapseError:
        if isinstance(exc, httpx.TimeoutException):
            return errors.CortexUnavailableError(
                f"CORTEX at {self.base_url} did not answer in time",
                "check that it runs; a large upload may need longer",
            )
        return errors.CortexUnavailableError(
            f"CORTEX is not reachable at {self.base_url} ({type(exc).__name__})",
            "start it with `synapse cortex serve`, or fix SYNAPSE_CORTEX_URL",
        )

    def _error(self, response: httpx.Response) -> SynapseError:
        code, message, hint = "", f"CORTEX answered HTTP {response.status_code}", None
        try:
            detail = response.json()["error"]
            code, message, hint = str(detail.get("code", "")), str(detail["message"]), detail.get("hint")
        except (ValueError, KeyError, TypeError):
            pass
        cls = _CODES.get(code) or _BY_STATUS.get(response.status_code)
        if cls is None:
            cls = errors.BadDocumentError if code == "bad_document" else errors.CortexError
        exc = cls(message, hint)
        if cls is errors.CortexError:
            exc.status = response.status_code  # e.g. 401 or 422 keep their status
        return exc

    def _document_path(self, doc_id: str) -> str:
        return f"{self._documents.rstrip('/')}/{quote(doc_id, safe='')}"

    async def health(self) -> CortexHealth:
        return CortexHealth.model_validate_json((await self._request("GET", "/health")).content)

    async def query(self, request: QueryRequest) -> QueryResult:
        response = await self._request("POST", "/query", json=request.model_dump())
        return QueryResult.model_validate_json(response.content)

    async def add_document(
        self,
        name: str,
        data: bytes,
        *,
        kind: DocumentKind = "document",
        tags: Sequence[str] = (),
        collection: str | None = None,
    ) -> DocumentInfo:
        content_type = CONTENT_TYPES.get(suffix_of(name), "application/octet-stream")
        form = {"kind": kind, "tags": ",".join(tags), **({"collection": collection} if collection else {})}
        response = await self._request("POST", self._documents, files={"file": (name, data, content_type)}, data=form)
        return DocumentInfo.model_validate_json(response.content)

    async def list_documents(
        self, status: Sequence[DocumentState] = (), collection: str | None = None
    ) -> list[DocumentInfo]:
        params: dict[str, Any] = {"status": list(status)} if status else {}
        if collection is not None:
            params["collection"] = collection
        response = await self._request("GET", self._documents, params=params or None)
        return _DOCS.validate_json(response.content)

    async def get_document(self, doc_id: str) -> DocumentInfo:
        response = await self._request("GET", self._document_path(doc_id))
        return DocumentInfo.model_validate_json(response.content)

    async def delete_document(self, doc_id: str) -> None:
        await self._request("DELETE", self._document_path(doc_id))

    async def check(self, repair: bool = False) -> CheckReport:
        response = await self._request("POST", "/check", json={"repair": repair})
        return CheckReport.model_validate_json(response.content)
