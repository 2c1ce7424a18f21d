"""Login throttling: after a few failed sign-ins a user name or a client address waits, longer each time."""

from __future__ import annotations

import math
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable
from dataclasses import dataclass

#: Failed sign-ins answered at once; from the next one on each failure doubles the wait.
FREE_FAILURES = 5
FIRST_DELAY_S = 1.0
MAX_DELAY_S = 900.0
#: A key whose last failure is older than this starts again from zero.
FORGET_AFTER_S = 3600.0
#: Keys remembered at most; the least recently failed go first, so a flood of names cannot exhaust memory.
MAX_KEYS = 10_000


@dataclass
class _Record:
    failures: int
    last_failure: float


class LoginThrottle:
    """Counts failed sign-ins per key (user name, client address) in a table of bounded size."""

    def __init__(
        self,
        clock: Callable[[], float] = time.monotonic,
        free_failures: int = FREE_FAILURES,
        max_keys: int = MAX_KEYS,
    ) -> None:
        self.clock = clock
        self.free_failures = free_failures
        self.max_keys = max_keys
        self._table: OrderedDict[str, _Record] = OrderedDict()

    def delay_after(self, failures: int) -> float:
        """The wait imposed after `failures` failed sign-ins in a row."""
        if failures < self.free_failures:
            return 0.0
        return min(MAX_DELAY_S, FIRST_DELAY_S * 2.0 ** (failures - self.free_failures))

    def _record(self, key: str, now: float) -> _Record | None:
        record = self._table.get(key)
        if record is not None and now - record.last_failure > FORGET_AFTER_S + MAX_DELAY_S:
            del self._table[key]
            return None
        return record

    def retry_after(self, keys: Iterable[str]) -> int:
        """Whole seconds until any of `keys` may try again; 0: now."""
        now = self.clock()
        wait = 0.0
        for key in keys:
            record = self._record(key, now)
            if record is not None:
                wait = max(wait, record.last_failure + self.delay_after(record.failures) - now)
        return math.ceil(wait) if wait > 0 else 0

    def failed(self, keys: Iterable[str]) -> None:
        now = self.clock()
        for key in keys:
            record = self._record(key, now) or _Record(0, now)
            record.failures += 1
            record.last_failure = now
            self._table[key] = record
            self._table.move_to_end(key)
        while len(self._table) > self.max_keys:
            self._table.popitem(last=False)

    def succeeded(self, keys: Iterable[str]) -> None:
        for key in keys:
            self._table.pop(key, None)

    def __len__(self) -> int:
        return len(self._table)


def login_keys(username: str, client: str | None) -> list[str]:
    """The keys one sign-in counts against: its user name (as the login compares it) and its address."""
    keys = [f"user:{username.strip().casefold()}"]
    if client:
        keys.append(f"addr:{client}")
    return keys
