"""Coalesced flushes: the delay between writes grows with what a write costs, within bounds."""

from __future__ import annotations

import pytest

from cortex.storage.coalesced import FLUSH_DELAY_S, FLUSH_MAX_DELAY_S, FLUSH_SHARE, CortexKVStorage


@pytest.mark.parametrize(
    ("write_s", "expected"),
    [(0.0, FLUSH_DELAY_S), (0.05, FLUSH_DELAY_S), (1.5, 1.5 / FLUSH_SHARE), (60.0, FLUSH_MAX_DELAY_S)],
)
def test_flush_delay_follows_the_cost_of_a_write(write_s: float, expected: float) -> None:
    store = CortexKVStorage.__new__(CortexKVStorage)  # the delay needs no LightRAG state
    store._last_write_s = write_s
    assert store.flush_delay() == pytest.approx(expected)
