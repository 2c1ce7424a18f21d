"""Opt-in memory: each finished dialogue goes to CORTEX as a `dialogue` document, replacing its earlier turn."""

from __future__ import annotations

import asyncio
import hashlib
import logging
from datetime import datetime, timezone

from cortex.backend import CortexBackend
from cortex.errors import CortexError
from synapse.llm.models import ChatMessage

log = logging.getLogger("synapse.agent")
_ROLE = {"user": "User", "assistant": "Assistant", "system": "System", "tool": "Tool"}


def conversation_key(messages: list[ChatMessage], given: str | None) -> str:
    """A stable id per dialogue: the caller's id, else a hash of its first user message."""
    if given:
        return hashlib.sha256(given.encode()).hexdigest()[:16]
    first = next((m.content for m in messages if m.role == "user"), "")
    return hashlib.sha256(first.encode()).hexdigest()[:16]


def transcript(messages: list[ChatMessage], answer: str) -> str:
    """The dialogue as Markdown (system prompts left out: they are ours, not the user's)."""
    lines = [f"# Dialogue {datetime.now(timezone.utc).isoformat(timespec='seconds')}", ""]
    for m in [*messages, ChatMessage(role="assistant", content=answer)]:
        if m.role == "system" or not m.content.strip():
            continue
        lines += [f"**{_ROLE[m.role]}:** {m.content.strip()}", ""]
    return "\n".join(lines)


class DialogueMemory:
    """Stores dialogues in CORTEX in the background; failures are logged, never shown to the user."""

    def __init__(self, cortex: CortexBackend) -> None:
        self.cortex = cortex
        self._docs: dict[str, str] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self._lock = asyncio.Lock()

    def remember(self, messages: list[ChatMessage], answer: str, conversation_id: str | None) -> None:
        task = asyncio.create_task(self._store(messages, answer, conversation_id))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _store(self, messages: list[ChatMessage], answer: str, conversation_id: str | None) -> None:
        key = conversation_key(messages, conversation_id)
        async with self._lock:
            try:
                old = self._docs.get(key)
                if old is not None:
                    await self.cortex.delete_document(old)
                info = await self.cortex.add_document(
                    f"dialogue-{key}.md",
                    transcript(messages, answer).encode("utf-8"),
                    kind="dialogue",
                    tags=["dialogue"],
                )
                self._docs[key] = info.id
            except CortexError as exc:
                log.warning("dialogue %s not stored in CORTEX: %s", key, exc)
            except Exception:
                log.exception("dialogue %s not stored in CORTEX", key)

    async def drain(self) -> None:
        """Wait for the dialogues still being stored (shutdown, tests)."""
        if self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)
