"""How a call to SYNAPSE fails: the server said no, the stream reported an error, or nothing answered."""

from __future__ import annotations

from synapse.errors import SynapseError


class ClientError(SynapseError):
    """Base of the client's errors; callers may turn them into messages that name their own settings.

    Their `status` is what a service relaying one should answer: SYNAPSE behind it failed (502) or is away (503).
    """

    status = 502


class ResponseError(ClientError):
    """SYNAPSE answered with an HTTP error; `detail` is its message."""

    def __init__(self, status_code: int, detail: str, retry_after: float | None = None) -> None:
        super().__init__(f"SYNAPSE answered {status_code}: {detail}")
        self.status_code = status_code
        self.detail = detail
        #: Seconds the server asked to wait (429 and 503 send Retry-After), when it said.
        self.retry_after = retry_after


class StreamError(ClientError):
    """A streamed answer ended with an error event instead of its last chunk."""

    def __init__(self, detail: str) -> None:
        super().__init__(f"generation failed: {detail}")
        self.detail = detail


class UnreachableError(ClientError):
    """No answer from SYNAPSE at its URL: refused, timed out or cut off."""

    status = 503

    def __init__(self, url: str, reason: str) -> None:
        super().__init__(f"SYNAPSE is not reachable at {url}", "start it with `synapse serve`")
        self.url = url
        self.reason = reason
