"""How SYNAPSE reaches CORTEX: in process when SYNAPSE_CORTEX_URL is empty, over HTTP otherwise."""

from __future__ import annotations

import logging
from collections.abc import Sequence

from cortex.backend import CortexBackend
from cortex.errors import CortexUnavailableError
from cortex.models import CortexHealth, DocumentInfo, DocumentKind, QueryRequest, QueryResult
from synapse.config import CortexSettings, SynapseSettings

log = logging.getLogger("synapse.agent")


class UnavailableCortex(CortexBackend):
    """Stands in for a CORTEX that could not be opened: every call says why and how to fix it."""

    def __init__(self, message: str, hint: str) -> None:
        self.message = message
        self.hint = hint

    def _fail(self) -> CortexUnavailableError:
        return CortexUnavailableError(self.message, self.hint)

    async def health(self) -> CortexHealth:
        raise self._fail()

    async def query(self, request: QueryRequest) -> QueryResult:
        raise self._fail()

    async def add_document(
        self, name: str, data: bytes, *, kind: DocumentKind = "document", tags: Sequence[str] = ()
    ) -> DocumentInfo:
        raise self._fail()

    async def list_documents(self) -> list[DocumentInfo]:
        raise self._fail()

    async def get_document(self, doc_id: str) -> DocumentInfo:
        raise self._fail()

    async def delete_document(self, doc_id: str) -> None:
        raise self._fail()


async def open_cortex(settings: SynapseSettings) -> CortexBackend:
    """The CORTEX that the settings name, started; an UnavailableCortex when it cannot be opened."""
    try:
        if settings.cortex_url:
            from cortex import CortexClient  # type: ignore[attr-defined,unused-ignore]

            # One .env for both services: CORTEX's own key serves when SYNAPSE has none of its own.
            key = settings.cortex_api_key.get_secret_value() or CortexSettings().api_key.get_secret_value()
            client: CortexBackend = CortexClient(settings.cortex_url, api_key=key)
            return client
        from cortex import Cortex  # type: ignore[attr-defined,unused-ignore]

        local: CortexBackend = Cortex()
        await local.start()  # type: ignore[attr-defined,unused-ignore]
        return local
    except ImportError as exc:
        message, hint = f"CORTEX is not available in this installation: {exc}", "reinstall the project"
    except Exception as exc:  # a broken store must not stop SYNAPSE: answers go on without retrieval
        where = settings.cortex_url or "in process"
        message = f"CORTEX ({where}) could not be opened: {exc}"
        hint = "check SYNAPSE_CORTEX_URL, or the CORTEX_* settings and `synapse cortex` for the local store"
    log.warning("%s (%s); answers go without retrieval", message, hint)
    return UnavailableCortex(message, hint)
