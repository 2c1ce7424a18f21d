"""The API-key check both services share."""

from __future__ import annotations

from synapse.keys import KeyRing, presented_keys


def test_an_empty_ring_is_open_and_a_set_one_needs_a_key() -> None:
    assert KeyRing([]).admits({}) and KeyRing([""]).admits({})
    ring = KeyRing(["alpha", "beta"])
    assert not ring.admits({})
    assert ring.admits({"authorization": "Bearer beta"})
    assert ring.admits({"x-api-key": "alpha"})
    assert not ring.admits({"authorization": "Bearer alph"})
    assert not ring.admits({"authorization": "Basic alpha"})


def test_either_header_may_carry_the_key() -> None:
    headers = {"authorization": "bearer  wrong ", "x-api-key": "alpha"}
    assert presented_keys(headers) == ["wrong", "alpha"]
    assert KeyRing(["alpha"]).admits(headers)
