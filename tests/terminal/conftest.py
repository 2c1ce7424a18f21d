"""Fixtures of the terminal tests: Chainlit pointed at the terminal's root, a fake SYNAPSE/CORTEX server."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from terminal.root import bind_chainlit_root

# Chainlit reads its root when first imported; bind it before any test module imports chainlit.
bind_chainlit_root()

from tests.terminal.fake_services import FakeServer, FakeState  # noqa: E402


@pytest.fixture(scope="module")
def fake_server() -> Iterator[FakeServer]:
    with FakeServer() as server:
        yield server


@pytest.fixture
def fake(fake_server: FakeServer) -> FakeServer:
    """The module's fake server with its behaviour reset for this test."""
    fresh = FakeState()
    for name in fresh.__dataclass_fields__:
        setattr(fake_server.state, name, getattr(fresh, name))
    return fake_server
