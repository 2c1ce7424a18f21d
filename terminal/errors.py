"""What can go wrong between the terminal and the services, each with the fix."""

from __future__ import annotations

from synapse.errors import SynapseError


class TerminalError(SynapseError):
    """Base of the terminal's errors; shown in the chat as a short message, never a traceback."""


class ServiceUnreachableError(TerminalError):
    """SYNAPSE or CORTEX did not answer at its URL."""

    def __init__(self, service: str, url: str, setting: str, start: str) -> None:
        super().__init__(
            f"{service} is not reachable at {url}",
            f"start it with `{start}` (or `synapse up` for the whole stack), or point {setting} at it",
        )
        self.service = service
        self.url = url


class ServiceApiError(TerminalError):
    """SYNAPSE or CORTEX answered with an error."""

    def __init__(self, service: str, status: int, detail: str) -> None:
        hint = None
        if status in (401, 403):
            hint = "set TERMINAL_SYNAPSE_API_KEY / TERMINAL_DOCUMENTS_API_KEY to a key the service accepts"
        super().__init__(f"{service} answered {status}: {detail}", hint)
        self.status = status
        self.detail = detail


class IngestTimeoutError(TerminalError):
    """A document was still being processed when the terminal stopped waiting."""

    def __init__(self, name: str, seconds: float) -> None:
        super().__init__(
            f"{name} was still being processed after {seconds:.0f} s",
            "it keeps processing in CORTEX; ask again later, or raise TERMINAL_INGEST_TIMEOUT_S",
        )
