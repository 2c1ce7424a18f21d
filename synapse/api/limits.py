"""Admission control: a concurrency limit with a bounded queue, and the request body size limit."""

from __future__ import annotations

import asyncio
import math
import time
from typing import Literal

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from synapse.api.errors import error_body


class BusyError(Exception):
    """Every slot is taken and the queue is full."""

    def __init__(self, retry_after: int) -> None:
        super().__init__(f"the server is busy; retry in {retry_after} s")
        self.retry_after = retry_after


class Slot:
    """A place in the limiter: queued until `acquire()` returns, freed by `release()` (idempotent)."""

    def __init__(self, limiter: ConcurrencyLimiter) -> None:
        self._limiter = limiter
        self.state: Literal["queued", "active", "done"] = "queued"
        self._started = 0.0

    async def acquire(self) -> None:
        await self._limiter._sem.acquire()
        if self.state == "done":  # released while waiting for the semaphore
            self._limiter._sem.release()
            return
        self._limiter._queued -= 1
        self._limiter._active += 1
        self.state = "active"
        self._started = time.monotonic()

    def release(self) -> None:
        lim = self._limiter
        if self.state == "active":
            lim._active -= 1
            lim._sem.release()
            lim._observe(time.monotonic() - self._started)
        elif self.state == "queued":
            lim._queued -= 1
        self.state = "done"


class ConcurrencyLimiter:
    """At most `max_active` generations at once and `queue_size` waiting; beyond that, BusyError (429)."""

    def __init__(self, max_active: int, queue_size: int) -> None:
        self.max_active = max_active
        self.queue_size = queue_size
        self._sem = asyncio.Semaphore(max_active)
        self._active = 0
        self._queued = 0
        self._mean_s = 5.0

    @property
    def active(self) -> int:
        return self._active

    @property
    def queued(self) -> int:
        return self._queued

    def _observe(self, seconds: float) -> None:
        self._mean_s = 0.8 * self._mean_s + 0.2 * seconds

    def reserve(self) -> Slot:
        """A slot, queued; raises BusyError when the queue is full."""
        if self._active + self._queued >= self.max_active + self.queue_size:
            waves = (self._queued + 1) / self.max_active
            raise BusyError(max(1, math.ceil(waves * self._mean_s)))
        self._queued += 1
        return Slot(self)


class BodySizeLimit:
    """ASGI middleware: a request body over `limit` bytes gets 413 (by Content-Length or while reading)."""

    def __init__(self, app: ASGIApp, limit: int) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path = str(scope.get("path", ""))
        declared = dict(scope.get("headers") or []).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.limit:
            await self._reject(path, send)
            return
        if declared is not None:
            await self.app(scope, receive, send)  # declared and within the limit: uvicorn enforces the length
            return
        # No Content-Length (chunked): read the body here, up to the limit, then hand it on.
        buffered: list[Message] = []
        seen = 0
        while True:
            message = await receive()
            buffered.append(message)
            if message["type"] != "http.request":
                break
            seen += len(message.get("body", b""))
            if seen > self.limit:
                await self._reject(path, send)
                return
            if not message.get("more_body", False):
                break

        async def replay() -> Message:
            return buffered.pop(0) if buffered else await receive()

        await self.app(scope, replay, send)

    async def _reject(self, path: str, send: Send) -> None:
        body = error_body(
            path,
            f"the request body is larger than {self.limit} bytes",
            "request_too_large",
            hint="send less, or raise SYNAPSE_MAX_BODY_BYTES",
        )
        await send({"type": "http.response.start", "status": 413, "headers": [(b"content-type", b"application/json")]})
        await send({"type": "http.response.body", "body": body})
