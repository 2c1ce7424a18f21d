"""API keys, checked the same way by SYNAPSE and CORTEX: bearer or X-API-Key, compared in constant time."""

from __future__ import annotations

import hmac
from collections.abc import Iterable, Mapping


def presented_keys(headers: Mapping[str, str]) -> list[str]:
    """The keys a request carries (lower-case header names): Authorization: Bearer, then X-API-Key."""
    keys = []
    scheme, _, credentials = headers.get("authorization", "").strip().partition(" ")
    if scheme.lower() == "bearer" and credentials.strip():
        keys.append(credentials.strip())
    if given := headers.get("x-api-key", "").strip():
        keys.append(given)
    return keys


class KeyRing:
    """The keys that open a service; an empty ring leaves it open."""

    def __init__(self, keys: Iterable[str]) -> None:
        self._keys = [key.encode() for key in keys if key]

    @property
    def open(self) -> bool:
        return not self._keys

    def accepts(self, given: str) -> bool:
        data = given.encode()
        # Every key is compared, in constant time, so timing reveals neither a matching prefix nor which key.
        return any([hmac.compare_digest(data, key) for key in self._keys])

    def admits(self, headers: Mapping[str, str]) -> bool:
        """Whether a request with these headers may pass: the ring is open, or one presented key is in it."""
        return self.open or any(self.accepts(key) for key in presented_keys(headers))
