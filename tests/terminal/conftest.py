"""Fixtures of the terminal tests: Chainlit pointed at the terminal's root, a fake SYNAPSE/CORTEX server."""

from __future__ import annotations

import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from terminal.root import bind_chainlit_root

# Chainlit reads its root when first imported; bind it before any test module imports chainlit.
bind_chainlit_root()

from chainlit.context import ChainlitContext, context_var  # noqa: E402
from chainlit.emitter import BaseChainlitEmitter  # noqa: E402
from chainlit.session import HTTPSession  # noqa: E402

from tests.terminal.fake_services import FakeServer, FakeState  # noqa: E402


@pytest.fixture(scope="session", autouse=True)
def chainlit_files(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Chainlit's session upload folder in a temporary directory, not in the package."""
    from terminal.root import use_files_dir

    return use_files_dir(tmp_path_factory.mktemp("chainlit-files"))


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


class RecordingEmitter(BaseChainlitEmitter):
    """Collects what the handlers would send to the browser."""

    def __init__(self, session: HTTPSession) -> None:
        super().__init__(session)
        self.sent: list[dict[str, Any]] = []
        self.updated: list[dict[str, Any]] = []
        self.tokens: list[str] = []
        self.elements: list[dict[str, Any]] = []
        self.chat_settings: dict[str, Any] | None = None
        self.events: list[tuple[str, Any]] = []

    async def send_step(self, step_dict: Any) -> None:
        self.sent.append(dict(step_dict))

    async def update_step(self, step_dict: Any) -> None:
        self.updated.append(dict(step_dict))

    async def stream_start(self, step_dict: Any) -> None:
        self.tokens.append(step_dict["output"])

    async def send_token(self, id: str, token: str, is_sequence: bool = False, is_input: bool = False) -> None:
        self.tokens.append(token)

    async def send_element(self, element_dict: Any) -> None:
        self.elements.append(dict(element_dict))

    def set_chat_settings(self, settings: dict[str, Any]) -> None:  # type: ignore[override]
        self.chat_settings = settings

    async def emit(self, event: str, data: Any) -> None:
        self.events.append((event, data))

    def activate(self) -> None:
        """Make this the current Chainlit context (call inside the test's event loop)."""
        context_var.set(ChainlitContext(self.session, self))

    def final(self, step_id: str) -> dict[str, Any]:
        """The last state of one step or message."""
        states = [d for d in [*self.sent, *self.updated] if d["id"] == step_id]
        return states[-1]


@pytest.fixture
def chat(fake: FakeServer, monkeypatch: pytest.MonkeyPatch) -> Iterator[RecordingEmitter]:
    """A Chainlit context (no browser) whose handlers talk to the fake server."""
    from terminal import handlers

    monkeypatch.setenv("TERMINAL_SYNAPSE_URL", fake.url)
    monkeypatch.setenv("TERMINAL_DOCUMENTS_URL", f"{fake.url}/documents")
    handlers.settings.cache_clear()
    session = HTTPSession(id=str(uuid.uuid4()), client_type="webapp", thread_id=str(uuid.uuid4()))
    emitter = RecordingEmitter(session)

    yield emitter
    handlers.settings.cache_clear()
    shutil.rmtree(session.files_dir, ignore_errors=True)
