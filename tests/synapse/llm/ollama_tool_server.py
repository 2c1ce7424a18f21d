"""The fake Ollama answering every /api/chat with scripted chunks, tool calls included.

The chunks are `message` objects in Ollama's documented shapes (`content`, or `tool_calls[].function.{name,
arguments (an object)}`), streamed as given, then a `done` chunk with `done_reason`, 30 prompt tokens and
7 generated. `bodies` keeps every request body, so tests can check the tools, formats and history sent.
"""

from __future__ import annotations

from typing import Any

from tests.support.fake_ollama import FakeOllama, FakeReply


def ScriptedOllama(chunks: list[dict[str, Any]], done_reason: str = "stop") -> FakeOllama:
    """A FakeOllama for any model name that streams `chunks` for every chat."""
    reply = FakeReply(chunks=chunks, done_reason=done_reason, eval_count=7)
    return FakeOllama(chat_reply=lambda _request: reply, prompt_tokens=30, any_chat_model=True)
