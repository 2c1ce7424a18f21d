"""Admission control: a concurrency limit with a bounded queue, and the request body size limit."""

from __future__ import annotations

import asyncio
import math
import time
from typing import Literal

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from synapse.api.errors import error_body
from synapse.llm.fair import RoundRobin


class BusyError(Exception):
    """Every slot is taken and the queue is full."""

    def __init__(self, retry_after: int) -> None:
        super().__init__(f"the server is busy; retry in {retry_after} s")
        self.retry_after = retry_after


class Slot:
    """A place in the limiter: queued until `acquire()` returns, freed by `release()` (idempotent)."""

    def __init__(self, limiter: ConcurrencyLimiter, client: str) -> None:
        self._limiter = limiter
        self.client = client
        self.state: Literal["queued", "active", "done"] = "queued"
        self.started = 0.0

    async def acquire(self) -> None:
        await self._limiter._enter(self)

    def release(self) -> None:
        self._limiter._leave(self)


class ConcurrencyLimiter:
    """At most `max_active` generations at once and `queue_size` waiting; beyond that, BusyError (429).

    A freed place goes to the waiting request of the client served least recently (round robin by client),
    not to the oldest one: a burst from one API key waits behind, not in front of, another key's requests.
    """

    def __init__(self, max_active: int, queue_size: int) -> None:
        self.max_active = max_active
        self.queue_size = queue_size
        self._active = 0
        self._waiting: list[tuple[Slot, asyncio.Future[None]]] = []
        self._queued = 0
        self._turns = RoundRobin()
        self._mean_s = 5.0

    @property
    def active(self) -> int:
        return self._active

    @property
    def queued(self) -> int:
        return self._queued

    def _observe(self, seconds: float) -> None:
        self._mean_s = 0.8 * self._mean_s + 0.2 * seconds

    def reserve(self, client: str = "") -> Slot:
        """A slot for `client` (who asks: an API key's id), queued; raises BusyError when the queue is full."""
        if self._active + self._queued >= self.max_active + self.queue_size:
            waves = (self._queued + 1) / self.max_active
            raise BusyError(max(1, math.ceil(waves * self._mean_s)))
        self._queued += 1
        return Slot(self, client)

    async def _enter(self, slot: Slot) -> None:
        if slot.state != "queued":  # released before it asked, or asked twice
            return
        if self._active < self.max_active and not self._waiting:
            self._start(slot)
            return
        turn: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiting.append((slot, turn))
        try:
            await turn
        finally:
            # Cancelled while waiting: leave the queue (a place handed over meanwhile is the slot's to release).
            self._waiting = [(s, f) for s, f in self._waiting if s is not slot]

    def _start(self, slot: Slot) -> None:
        self._queued -= 1
        self._active += 1
        slot.state = "active"
        slot.started = time.monotonic()
        self._turns.started(slot.client)

    def _hand_over(self) -> None:
        while self._waiting and self._active < self.max_active:
            slot, turn = self._waiting.pop(self._turns.pick(self._waiting, lambda w: w[0].client))
            if turn.done():  # its waiter was cancelled; `_enter` drops it
                continue
            self._start(slot)
            turn.set_result(None)

    def _leave(self, slot: Slot) -> None:
        if slot.state == "active":
            self._active -= 1
            self._observe(time.monotonic() - slot.started)
        elif slot.state == "queued":
            self._queued -= 1
            for waiting, turn in self._waiting:
                if waiting is slot and not turn.done():
                    turn.set_result(None)  # its acquire() returns, with the slot done
        slot.state = "done"
        self._hand_over()


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
