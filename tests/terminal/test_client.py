"""SynapseClient and DocumentClient against the fake server: streaming, errors, uploads."""

from __future__ import annotations

import pytest

from terminal.client import DocumentClient, SynapseClient
from terminal.errors import ServiceApiError, ServiceUnreachableError
from terminal.models import DoneEvent, MetaEvent, TokenEvent
from tests.terminal.fake_services import FakeServer, free_port


@pytest.mark.asyncio
async def test_stream_yields_meta_then_tokens_then_done(fake: FakeServer) -> None:
    events = [
        e
        async for e in SynapseClient(fake.url).stream_chat(
            [{"role": "user", "content": "q?"}], model="triz-agent", rag_mode="naive", temperature=0.2
        )
    ]
    assert isinstance(events[0], MetaEvent)
    meta = events[0].meta
    assert [s.title for s in meta.sources] == ["Principle 1: Segmentation", "Pump manual"]
    assert meta.retrieval is not None and meta.retrieval.mode == "naive"
    assert meta.triz is not None and meta.triz.contradictions[0].improving.id == 14
    assert meta.warnings and "demo model" in meta.warnings[0]
    assert "".join(e.text for e in events if isinstance(e, TokenEvent)) == "Use segmentation and anti-weight."
    assert isinstance(events[-1], DoneEvent) and events[-1].usage is not None
    sent = fake.state.requests[-1]
    assert sent["stream"] is True and sent["rag"] == {"mode": "naive"} and sent["temperature"] == 0.2


@pytest.mark.asyncio
async def test_models_lists_ids(fake: FakeServer) -> None:
    ids = [m.id for m in await SynapseClient(fake.url).models()]
    assert ids[:2] == ["triz-agent", "triz-agent-base"]


@pytest.mark.asyncio
async def test_unreachable_synapse_names_url_and_fix() -> None:
    url = f"http://127.0.0.1:{free_port()}"
    with pytest.raises(ServiceUnreachableError) as info:
        [e async for e in SynapseClient(url).stream_chat([{"role": "user", "content": "x"}], model="m")]
    assert url in info.value.message and "TERMINAL_SYNAPSE_URL" in (info.value.hint or "")


@pytest.mark.asyncio
async def test_http_error_and_midstream_error_become_api_errors(fake: FakeServer) -> None:
    fake.state.chat_status = 404
    with pytest.raises(ServiceApiError, match="404: model not found"):
        [e async for e in SynapseClient(fake.url).stream_chat([{"role": "user", "content": "x"}], model="m")]
    fake.state.chat_status = 200
    fake.state.fail_midstream = True
    with pytest.raises(ServiceApiError, match="backend crashed"):
        [e async for e in SynapseClient(fake.url).stream_chat([{"role": "user", "content": "x"}], model="m")]


@pytest.mark.asyncio
async def test_upload_and_wait_reports_each_state(fake: FakeServer) -> None:
    client = DocumentClient(f"{fake.url}/documents")
    doc = await client.upload("notes.txt", b"pump impeller wear", "text/plain")
    assert doc.status == "pending"
    seen: list[str] = []

    async def record(latest):  # type: ignore[no-untyped-def]
        seen.append(latest.status)

    done = await client.wait(doc, timeout_s=10, on_change=record, interval_s=0.01)
    assert done.status == "processed" and seen == ["processing", "processed"]
    assert fake.state.uploads == [("notes.txt", b"pump impeller wear")]


@pytest.mark.asyncio
async def test_document_errors_keep_the_services_words(fake: FakeServer) -> None:
    async with DocumentClient(f"{fake.url}/documents/") as client:
        with pytest.raises(ServiceApiError, match="CORTEX answered 404: no such document"):
            await client.get_document("nope")


def test_documents_url_splits_into_origin_and_path() -> None:
    from terminal.client import _split_documents_url

    assert _split_documents_url("http://h:8004/documents/") == ("http://h:8004", "/documents")
    assert _split_documents_url("https://h/cortex/documents") == ("https://h", "/cortex/documents")
    assert _split_documents_url("http://h:8004") == ("http://h:8004", "/")
