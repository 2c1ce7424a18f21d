"""One sequence of the batch engine: its request, its decoding state, and the async stream its caller reads."""

from __future__ import annotations

import asyncio
import codecs
import threading
from collections import deque
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Literal

from synapse.llm.batch.native import SamplerSpec

Finish = Literal["stop", "length", "cancelled", "error"]


@dataclass(frozen=True)
class SequenceRequest:
    """What a caller asks for: prompt tokens, a token budget, stop strings, and the sampling."""

    prompt: tuple[int, ...]
    max_tokens: int = 256
    stop: tuple[str, ...] = ()
    sampler: SamplerSpec = field(default_factory=SamplerSpec)
    #: Who asks: waiting requests get free sequences client by client in turn (synapse/llm/fair.py).
    client: str = ""
    #: The loaded LoRA to decode with (None: the bare base); sequences of different adapters never share a decode.
    adapter: str | None = None


class _End:
    """Marks the end of a stream in its queue."""


class SequenceStream:
    """The caller's side: an async iterator of text pieces; `cancel()` frees the sequence at the next step.

    After the iteration ends, `tokens`, `finish_reason` and the step log (for tests and the bench) are final.
    """

    def __init__(self, request: SequenceRequest, loop: asyncio.AbstractEventLoop) -> None:
        self.request = request
        self._loop = loop
        self._items: deque[str | _End | BaseException] = deque()
        self._ready = asyncio.Event()
        self._cancel = threading.Event()
        self.tokens: list[int] = []
        self.finish_reason: Finish | None = None
        #: Engine step numbers: when the sequence got a slot, and at which step each token was sampled.
        self.admitted_step = -1
        #: Prompt tokens found in the slot's KV cache, not prefilled again.
        self.reused = 0
        self.token_steps: list[int] = []

    # ---- caller side ---------------------------------------------------------------------------

    def __aiter__(self) -> AsyncIterator[str]:
        return self

    async def __anext__(self) -> str:
        """The text generated since the last read: one token's when the reader keeps up, all of it joined
        when it fell behind (a busy machine, many streams), so a slow reader sends fewer, larger chunks."""
        while not self._items:
            self._ready.clear()
            await self._ready.wait()
        item = self._items[0]
        if isinstance(item, _End):
            raise StopAsyncIteration  # stays ended for any later read
        self._items.popleft()
        if isinstance(item, BaseException):
            raise item
        pieces = [item]
        while self._items and isinstance(self._items[0], str):
            pieces.append(str(self._items.popleft()))
        return "".join(pieces)

    async def text(self) -> str:
        """The whole answer, once generation ends."""
        return "".join([piece async for piece in self])

    def cancel(self) -> None:
        self._cancel.set()

    @property
    def cancelled(self) -> bool:
        return self._cancel.is_set()

    # ---- engine side ---------------------------------------------------------------------------

    def put(self, item: str | _End | BaseException) -> None:
        try:
            self._loop.call_soon_threadsafe(self._arrive, item)
        except RuntimeError:  # the caller's loop is closed: nobody reads any more
            self._cancel.set()

    def _arrive(self, item: str | _End | BaseException) -> None:
        self._items.append(item)
        self._ready.set()

    def end(self, finish: Finish, error: BaseException | None = None) -> None:
        self.finish_reason = finish
        if error is not None:
            self.put(error)
        self.put(_End())


class TextOut:
    """Turns sampled tokens' bytes into text and holds back what may be the start of a stop string."""

    def __init__(self, stops: tuple[str, ...]) -> None:
        self._stops = tuple(s for s in stops if s)
        self._utf8 = codecs.getincrementaldecoder("utf-8")(errors="replace")
        self._held = ""

    def feed(self, data: bytes) -> tuple[str, bool]:
        """The text that may go out now, and whether a stop string was reached (its text is not sent)."""
        self._held += self._utf8.decode(data)
        cut = min((i for i in (self._held.find(s) for s in self._stops) if i >= 0), default=-1)
        if cut >= 0:
            out, self._held = self._held[:cut], ""
            return out, True
        keep = self._partial_stop()
        out = self._held[: len(self._held) - keep]
        self._held = self._held[len(out) :]
        return out, False

    def flush(self) -> str:
        out, self._held = self._held + self._utf8.decode(b"", final=True), ""
        return out

    def _partial_stop(self) -> int:
        """Length of the longest tail of the held text that begins some stop string."""
        best = 0
        for stop in self._stops:
            for n in range(min(len(stop) - 1, len(self._held)), best, -1):
                if self._held.endswith(stop[:n]):
                    best = n
                    break
        return best
