"""Round robin by client: of the requests waiting, the next to start is one of the client served least recently.

Used twice: by the API's concurrency limiter (who gets a generation slot) and by the batch engine (who gets a
sequence), so that one agent's burst of requests cannot starve another agent's.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TypeVar

T = TypeVar("T")

#: Clients remembered at most; the least recently served are forgotten first (they then count as new).
MAX_CLIENTS = 4096


class RoundRobin:
    """Remembers when each client last started a request and picks the waiting request to start next."""

    def __init__(self) -> None:
        self._turn = 0
        self._last: dict[str, int] = {}

    def pick(self, waiting: Sequence[T], client: Callable[[T], str]) -> int:
        """The index in `waiting` (oldest first) of the request to start: the oldest of the client whose
        last start is the longest ago (never served comes first); `waiting` must not be empty."""
        best, best_turn = 0, None
        seen: set[str] = set()
        for i, item in enumerate(waiting):
            who = client(item)
            if who in seen:
                continue
            seen.add(who)
            turn = self._last.get(who, -1)
            if best_turn is None or turn < best_turn:
                best, best_turn = i, turn
        return best

    def started(self, client: str) -> None:
        """Record that `client` started a request now."""
        self._turn += 1
        self._last.pop(client, None)
        self._last[client] = self._turn
        if len(self._last) > MAX_CLIENTS:
            del self._last[next(iter(self._last))]  # dicts keep insertion order: the least recent is first
