"""How SYNAPSE reaches CORTEX: in process when SYNAPSE_CORTEX_URL is empty, over HTTP otherwise."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable, Sequence

from cortex.backend import CortexBackend
from cortex.errors import CortexUnavailableError
from cortex.models import CortexHealth, DocumentInfo, DocumentKind, DocumentState, QueryRequest, QueryResult
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
        self,
        name: str,
        data: bytes,
        *,
        kind: DocumentKind = "document",
        tags: Sequence[str] = (),
        collection: str | None = None,
    ) -> DocumentInfo:
        raise self._fail()

    async def list_documents(
        self, status: Sequence[DocumentState] = (), collection: str | None = None
    ) -> list[DocumentInfo]:
        raise self._fail()

    async def get_document(self, doc_id: str) -> DocumentInfo:
        raise self._fail()

    async def delete_document(self, doc_id: str) -> None:
        raise self._fail()


async def _open(settings: SynapseSettings) -> CortexBackend:
    if settings.cortex_url:
        from cortex import CortexClient  # type: ignore[attr-defined,unused-ignore]

        # One .env for both services: CORTEX's own key serves when SYNAPSE has none of its own.
        key = settings.cortex_api_key.get_secret_value() or CortexSettings().api_key.get_secret_value()
        client: CortexBackend = CortexClient(settings.cortex_url, api_key=key)
        return client
    from cortex import Cortex  # type: ignore[attr-defined,unused-ignore]

    local: CortexBackend = Cortex()
    try:
        await local.start()  # type: ignore[attr-defined,unused-ignore]
    except BaseException:
        await local.aclose()
        raise
    return local


class ReopeningCortex(CortexBackend):
    """A CORTEX that failed to open: it is opened again in the background, at most every `retry_s`.

    Until that succeeds every call raises CortexUnavailableError at once (answers go on without
    retrieval); a slow start never holds up a chat turn.
    """

    def __init__(
        self, opener: Callable[[], Awaitable[CortexBackend]], message: str, hint: str, retry_s: float = 30.0
    ) -> None:
        self._opener = opener
        self.message = message
        self.hint = hint
        self.retry_s = retry_s
        self._inner: CortexBackend | None = None
        self._task: asyncio.Task[None] | None = None
        self._last_try = time.monotonic()

    async def _reopen(self) -> None:
        try:
            self._inner = await self._opener()
            log.info("CORTEX opened on a later try")
        except Exception as exc:
            self.message = f"CORTEX could not be opened: {exc}"
            log.warning("%s (%s); trying again in %g s", self.message, self.hint, self.retry_s)
        finally:
            self._last_try = time.monotonic()

    def _get(self) -> CortexBackend:
        if self._inner is not None:
            return self._inner
        idle = self._task is None or self._task.done()
        if idle and time.monotonic() - self._last_try >= self.retry_s:
            self._task = asyncio.create_task(self._reopen())
        raise CortexUnavailableError(self.message, self.hint)

    async def health(self) -> CortexHealth:
        return await self._get().health()

    async def query(self, request: QueryRequest) -> QueryResult:
        return await self._get().query(request)

    async def add_document(
        self,
        name: str,
        data: bytes,
        *,
        kind: DocumentKind = "document",
        tags: Sequence[str] = (),
        collection: str | None = None,
    ) -> DocumentInfo:
        return await self._get().add_document(name, data, kind=kind, tags=tags, collection=collection)

    async def list_documents(
        self, status: Sequence[DocumentState] = (), collection: str | None = None
    ) -> list[DocumentInfo]:
        return await self._get().list_documents(status, collection)

    async def get_document(self, doc_id: str) -> DocumentInfo:
        return await self._get().get_document(doc_id)

    async def delete_document(self, doc_id: str) -> None:
        await self._get().delete_document(doc_id)

    async def aclose(self) -> None:
        if self._task is not None and not self._task.done():
            self._task.cancel()
            with contextlib.suppress(BaseException):
                await self._task
        if self._inner is not None:
            await self._inner.aclose()


async def open_cortex(settings: SynapseSettings, *, retry_s: float = 30.0) -> CortexBackend:
    """The CORTEX that the settings name, started; one that retries in the background when opening fails."""
    try:
        return await _open(settings)
    except ImportError as exc:
        message, hint = f"CORTEX is not available in this installation: {exc}", "reinstall the project"
        log.warning("%s (%s); answers go without retrieval", message, hint)
        return UnavailableCortex(message, hint)
    except Exception as exc:  # a broken or slow store must not stop SYNAPSE: answers go on without retrieval
        where = settings.cortex_url or "in process"
        message = f"CORTEX ({where}) could not be opened: {exc}"
        hint = "check SYNAPSE_CORTEX_URL, or the CORTEX_* settings and `synapse cortex` for the local store"
    log.warning("%s (%s); answers go without retrieval, trying again every %g s", message, hint, retry_s)
    return ReopeningCortex(lambda: _open(settings), message, hint, retry_s)
