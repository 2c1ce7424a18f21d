"""Client and AsyncClient against a running SYNAPSE: plain and streamed answers, extras, errors."""

from __future__ import annotations

import httpx
import pytest

from synapse.client import (
    AsyncClient,
    ChatOptions,
    ChunkParser,
    Client,
    ResponseError,
    StreamedAnswer,
    StreamError,
    UnreachableError,
)
from synapse.client._base import BaseClient
from tests.synapse.agent.fakes import FakeCortex, ScriptedBackend
from tests.synapse.api.conftest import SECRET, CrashingBackend, ServeFn
from tests.synapse.client.conftest import CLOSED_PORT

BEAM = [{"role": "user", "content": "We want the beam to be stronger, but then it becomes heavier."}]
ANSWER = "Use principle one [1]."


def test_streamed_answer_brings_the_extras_first_and_the_usage_last(serve: ServeFn) -> None:
    cortex = FakeCortex()
    server = serve(cortex=cortex)
    with Client(server.url) as client:
        chunks = list(client.stream_chat("triz-agent", BEAM, ChatOptions(rag="naive", max_tokens=50)))
    first, last = chunks[0], chunks[-1]
    assert [s.id for s in first.sources] == [s.id for s in cortex.sources]
    assert first.retrieval is not None and first.retrieval.mode == "naive" and first.retrieval.count == 3
    assert first.routing is not None and first.routing.model == "triz-td010v2-q4km"
    assert first.triz is not None and first.triz.contradictions
    assert "".join(c.text for c in chunks) == ANSWER
    assert last.finish_reason == "stop" and last.usage is not None and last.usage.completion_tokens == 4
    assert all(not c.sources for c in chunks[1:])
    assert cortex.queries[-1].mode == "naive"


def test_whole_answer_carries_text_extras_and_usage(serve: ServeFn) -> None:
    server = serve()
    with Client(server.url) as client:
        reply = client.chat("triz-agent", BEAM, ChatOptions(rag="off"))
        ids = [m.id for m in client.models()]
    assert reply.text == ANSWER and reply.choices[0].finish_reason == "stop"
    assert reply.usage is not None and reply.usage.total_tokens == 15
    assert reply.retrieval is not None and reply.retrieval.mode == "off" and reply.sources == []
    assert ids[:2] == ["triz-agent", "triz-agent-base"]


@pytest.mark.asyncio
async def test_async_client_streams_and_answers_alike(serve: ServeFn) -> None:
    server = serve(api_keys="k")
    answer = StreamedAnswer()
    async with AsyncClient(server.url, api_key="k") as client:
        pieces = [answer.add(chunk) async for chunk in client.stream_chat("triz-agent", BEAM)]
        reply = await client.chat("triz-agent", BEAM)
        models = await client.models()
    assert answer.text == "".join(pieces) == reply.text == ANSWER
    assert answer.meta is not None and len(answer.meta.sources) == 3 and answer.meta.warnings == reply.warnings
    assert answer.usage is not None and answer.usage.completion_tokens == 4 and answer.finish_reason == "stop"
    assert "triz-agent" in [m.id for m in models]


def test_an_error_in_the_stream_comes_after_the_tokens_without_internals(serve: ServeFn) -> None:
    server = serve(backend=CrashingBackend(after=2))
    received: list[str] = []
    with Client(server.url) as client, pytest.raises(StreamError) as info:
        for chunk in client.stream_chat("triz-agent", BEAM):
            received.append(chunk.text)
    assert "".join(received) == "t0 t1 "
    assert info.value.message.startswith("generation failed: ") and info.value.detail
    assert SECRET not in str(info.value)


def test_http_errors_carry_status_and_the_servers_message(serve: ServeFn) -> None:
    server = serve(api_keys="k", backend=ScriptedBackend(down=True))
    with Client(server.url, api_key="wrong") as client, pytest.raises(ResponseError) as denied:
        list(client.stream_chat("triz-agent", BEAM))
    assert denied.value.status_code == 401 and denied.value.message == f"SYNAPSE answered 401: {denied.value.detail}"
    with Client(server.url, api_key="k") as client, pytest.raises(ResponseError) as down:
        client.chat("triz-agent", BEAM)
    assert down.value.status_code == 503 and "SYNAPSE_BACKEND" in down.value.detail


@pytest.mark.asyncio
async def test_nothing_listening_is_unreachable_naming_the_url() -> None:
    url = f"http://127.0.0.1:{CLOSED_PORT}"
    with Client(url + "/") as client, pytest.raises(UnreachableError) as sync_info:
        list(client.stream_chat("triz-agent", BEAM))
    assert sync_info.value.url == url and url in sync_info.value.message and sync_info.value.reason
    async with AsyncClient(url) as aclient:
        with pytest.raises(UnreachableError):
            await aclient.models()
        with pytest.raises(UnreachableError):
            [c async for c in aclient.stream_chat("triz-agent", BEAM)]


def test_parser_skips_comments_and_whatever_follows_done() -> None:
    parser = ChunkParser()
    assert parser.feed(": keep-alive") == [] and parser.feed("") == []
    (chunk,) = parser.feed('data: {"choices": [{"index": 0, "delta": {"content": "hi"}, "finish_reason": null}]}')
    assert chunk.text == "hi" and chunk.finish_reason is None
    assert parser.feed("data: [DONE]") == [] and parser.done
    assert parser.feed('data: {"error": {"message": "late"}}') == []
    with pytest.raises(StreamError, match="generation failed: boom"):
        ChunkParser().feed('data: {"error": {"message": "boom", "type": "api_error"}}')


def test_retry_after_is_read_when_the_server_sends_seconds() -> None:
    busy = httpx.Response(429, headers={"Retry-After": "2"}, json={"error": {"message": "queue full"}})
    assert BaseClient._failure(busy).retry_after == 2.0
    dated = httpx.Response(503, headers={"Retry-After": "Wed, 21 Oct 2026 07:28:00 GMT"}, text="busy")
    failure = BaseClient._failure(dated)
    assert failure.retry_after is None and failure.detail == "busy"


@pytest.mark.asyncio
async def test_health_reads_cortex_and_a_503_alike(serve: ServeFn) -> None:
    server = serve()
    with Client(server.url) as client:
        health = client.health()
    assert health.status == "ok" and health.cortex["status"] == "ok"
    assert health.graph_documents is False  # the fake CORTEX has no extraction LLM
    down = serve(backend=ScriptedBackend(down=True))
    async with AsyncClient(down.url) as client:
        degraded = await client.health()
    assert degraded.status != "ok" and degraded.graph_documents is False
