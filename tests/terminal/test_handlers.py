"""The chat handlers in a Chainlit context without a browser, against the fake SYNAPSE/CORTEX server."""

from __future__ import annotations

from pathlib import Path

import chainlit as cl
import pytest

from terminal import handlers
from tests.terminal.conftest import RecordingEmitter
from tests.terminal.fake_services import FakeServer, free_port


@pytest.mark.asyncio
async def test_answer_streams_tokens_with_step_sources_card_and_warnings(
    chat: RecordingEmitter, fake: FakeServer
) -> None:
    chat.activate()
    cl.user_session.set("settings", {"model": "triz-agent-base", "rag_mode": "local", "temperature": 0.7})
    answer = await handlers.answer_turn("The frame must be stronger but heavier")

    assert chat.tokens[-4:] == ["Use ", "segmentation ", "and ", "anti-weight."]
    assert "demo model" in chat.tokens[0]
    step = next(d for d in chat.sent if d["type"] == "retrieval")
    assert chat.sent.index(step) < next(i for i, d in enumerate(chat.sent) if d["id"] == answer.id)
    assert chat.final(step["id"])["output"] == "mode local · 12 ms · 2 sources"
    assert step["parentId"] == answer.parent_id

    final = chat.final(answer.id)
    assert "Use segmentation and anti-weight." in final["output"]
    assert "**Sources:** 1. Principle 1: Segmentation · 2. Pump manual" in final["output"]
    assert "> ⚠️ **Warning:** demo model" in final["output"]
    assert final["metadata"]["answer"] == "Use segmentation and anti-weight."

    by_name = {e["name"]: e for e in chat.elements}
    assert by_name["TRIZ analysis"]["display"] == "inline"
    assert by_name["2. Pump manual"]["display"] == "side" and by_name["2. Pump manual"]["forId"] == answer.id
    card = next(e for e in answer.elements if e.name == "TRIZ analysis")
    assert "14. Strength" in str(card.content) and "8. Anti-weight" in str(card.content)
    side = next(e for e in answer.elements if e.name == "2. Pump manual")
    assert "pump-manual.pdf, page 3" in str(side.content)

    sent = fake.state.requests[-1]
    assert (sent["model"], sent["rag"], sent["temperature"]) == ("triz-agent-base", {"mode": "local"}, 0.7)
    assert cl.user_session.get("history")[-1] == {"role": "assistant", "content": "Use segmentation and anti-weight."}


@pytest.mark.asyncio
async def test_history_goes_with_the_next_turn(chat: RecordingEmitter, fake: FakeServer) -> None:
    chat.activate()
    await handlers.answer_turn("first question")
    await handlers.answer_turn("second question")
    messages = fake.state.requests[-1]["messages"]
    assert [m["role"] for m in messages] == ["user", "assistant", "user"]
    assert messages[0]["content"] == "first question" and messages[-1]["content"] == "second question"
    # Only the model's words go back, not the warnings or the sources line the chat added.
    assert messages[1]["content"] == "Use segmentation and anti-weight."


@pytest.mark.asyncio
async def test_unreachable_synapse_is_a_clear_message(chat: RecordingEmitter, monkeypatch: pytest.MonkeyPatch) -> None:
    chat.activate()
    url = f"http://127.0.0.1:{free_port()}"
    monkeypatch.setenv("TERMINAL_SYNAPSE_URL", url)
    handlers.settings.cache_clear()
    answer = await handlers.answer_turn("anything")
    text = chat.final(answer.id)["output"]
    assert text.startswith(f"❌ SYNAPSE is not reachable at {url}")
    assert "synapse serve" in text and "TERMINAL_SYNAPSE_URL" in text and "Traceback" not in text
    step = next(d for d in chat.sent if d["type"] == "retrieval")
    assert chat.final(step["id"])["isError"] is True


@pytest.mark.asyncio
async def test_error_in_the_middle_keeps_the_tokens_and_says_what_failed(
    chat: RecordingEmitter, fake: FakeServer
) -> None:
    chat.activate()
    fake.state.fail_midstream = True
    answer = await handlers.answer_turn("anything")
    text = chat.final(answer.id)["output"]
    assert "Use segmentation and anti-weight." in text and "❌ SYNAPSE answered 500: backend crashed" in text


@pytest.mark.asyncio
async def test_chat_start_offers_models_from_synapse(chat: RecordingEmitter) -> None:
    chat.activate()
    await handlers.on_chat_start()
    assert chat.chat_settings == {"model": "triz-agent", "rag_mode": "mix", "temperature": 0.3}
    widgets = next(data for event, data in chat.events if event == "chat_settings")
    model = next(w for w in widgets if w["id"] == "model")
    # CORTEX's embedder, listed too, is not offered for chat.
    assert [item["value"] for item in model["items"]] == ["triz-agent", "triz-agent-base", "sport", "smollm2-135m-demo"]
    # CORTEX without an extraction LLM: the RAG setting says which modes cannot reach the user's documents.
    rag = next(w for w in widgets if w["id"] == "rag_mode")
    assert rag["description"] == handlers.GRAPH_ONLY_NOTE


@pytest.mark.asyncio
async def test_chat_start_with_base_profile_and_synapse_down(
    chat: RecordingEmitter, monkeypatch: pytest.MonkeyPatch
) -> None:
    chat.activate()
    monkeypatch.setenv("TERMINAL_SYNAPSE_URL", f"http://127.0.0.1:{free_port()}")
    handlers.settings.cache_clear()
    chat.session.chat_profile = "Base model"
    await handlers.on_chat_start()
    assert chat.chat_settings is not None and chat.chat_settings["model"] == "triz-agent-base"
    assert any("SYNAPSE is not reachable" in d["output"] for d in chat.sent)


@pytest.mark.asyncio
async def test_attached_file_is_ingested_then_the_question_answered(
    chat: RecordingEmitter, fake: FakeServer, tmp_path: Path
) -> None:
    chat.activate()
    path = tmp_path / "pump.txt"
    path.write_text("The centrifugal pump impeller erodes at high speed.", encoding="utf-8")
    message = cl.Message(content="Why does the impeller erode?", type="user_message")
    message.elements = [cl.File(name="pump.txt", path=str(path), mime="text/plain")]
    await handlers.on_message(message)

    assert fake.state.uploads == [("pump.txt", path.read_bytes())]
    upload_step = next(d for d in chat.sent if d["type"] == "tool")
    assert chat.final(upload_step["id"])["output"] == "pump.txt: processed, 1 chunks"
    answer = next(d for d in [*chat.sent, *chat.updated] if d["type"] == "assistant_message")
    assert fake.state.requests[-1]["messages"][-1]["content"] == "Why does the impeller erode?"
    assert "1. pump.txt" in chat.final(answer["id"])["output"]


@pytest.mark.asyncio
async def test_file_alone_is_ingested_and_failures_are_shown(
    chat: RecordingEmitter, fake: FakeServer, tmp_path: Path
) -> None:
    chat.activate()
    path = tmp_path / "a.txt"
    path.write_text("some text", encoding="utf-8")
    message = cl.Message(content="", type="user_message")
    message.elements = [cl.File(name="a.txt", path=str(path), mime="text/plain")]
    await handlers.on_message(message)
    assert any("Ask about it" in d["output"] for d in chat.sent)
    assert fake.state.requests == []

    fake.state.fail_documents = True
    await handlers.on_message(message)
    failed = [d for d in [*chat.sent, *chat.updated] if d["type"] == "tool" and d["isError"]]
    assert failed and failed[-1]["output"] == "a.txt: failed: unsupported file"


@pytest.mark.asyncio
async def test_resume_rebuilds_the_conversation(chat: RecordingEmitter, fake: FakeServer) -> None:
    chat.activate()
    thread = {
        "id": "t1",
        "steps": [
            {"type": "user_message", "output": "How to make it lighter?", "metadata": {}},
            {"type": "retrieval", "output": "mode mix", "metadata": {}},
            {
                "type": "assistant_message",
                "output": "> ⚠️ x\n\nUse holes.\n\n**Sources:** …",
                "metadata": '{"answer": "Use holes."}',
            },
        ],
    }
    await handlers.on_chat_resume(thread)  # type: ignore[arg-type]
    assert cl.user_session.get("history") == [
        {"role": "user", "content": "How to make it lighter?"},
        {"role": "assistant", "content": "Use holes."},
    ]
    assert chat.chat_settings is not None


@pytest.mark.asyncio
async def test_profiles_come_from_synapse_and_starters_follow_the_browser_language(chat: RecordingEmitter) -> None:
    profiles = await handlers.chat_profiles(None, "ru-RU")
    assert [p.name for p in profiles] == ["TRIZ agent (TD-010v2)", "Base model", "sport"] and profiles[0].default
    assert "ТРИЗ" in profiles[0].markdown_description
    assert profiles[2].markdown_description == "Sport coach with the sport documents"
    assert handlers.profile_named("sport").model == "sport"
    ru = await handlers.starters(None, "ru-RU")
    en = await handlers.starters(None, "en-US")
    assert "котле" in ru[0].message and "boiler" in en[0].message and len(ru) == len(en) == 4


@pytest.mark.asyncio
async def test_unreachable_cortex_fails_the_upload_step_with_the_fix(
    chat: RecordingEmitter, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    chat.activate()
    url = f"http://127.0.0.1:{free_port()}/documents"
    monkeypatch.setenv("TERMINAL_DOCUMENTS_URL", url)
    handlers.settings.cache_clear()
    path = tmp_path / "a.txt"
    path.write_text("text", encoding="utf-8")
    assert await handlers.ingest_file("a.txt", path, "text/plain") is None
    step = next(d for d in [*chat.sent, *chat.updated][::-1] if d["type"] == "tool")
    assert step["isError"] is True
    assert f"CORTEX is not reachable at {url}" in step["output"] and "synapse cortex serve" in step["output"]
