"""Chat history on SQLite through Chainlit's SQLAlchemy data layer, with the schema the terminal creates."""

from __future__ import annotations

import json
import sqlite3
import typing
from pathlib import Path

import chainlit as cl
import pytest
from chainlit.data.sql_alchemy import SQLAlchemyDataLayer
from chainlit.element import ElementDict
from chainlit.step import StepDict
from chainlit.types import Feedback, Pagination, ThreadFilter
from chainlit.user import User

from synapse.config import TerminalSettings
from terminal.history import create_schema, create_schema_blocking, database_url
from terminal.storage import LocalFileStorage
from tests.terminal.conftest import RecordingEmitter


def _columns(db: Path, table: str) -> set[str]:
    with sqlite3.connect(db) as conn:
        return {row[1] for row in conn.execute(f"PRAGMA table_info({table})")}


def test_schema_has_a_column_for_every_key_chainlit_writes(tmp_path: Path) -> None:
    url = database_url(TerminalSettings(data_dir=tmp_path))
    assert url == f"sqlite+aiosqlite:///{(tmp_path / 'history.sqlite3').as_posix()}"
    create_schema_blocking(url)
    create_schema_blocking(url)  # idempotent
    db = tmp_path / "history.sqlite3"
    step_keys = set(typing.get_type_hints(StepDict)) - {"feedback"}
    assert step_keys <= _columns(db, "steps"), step_keys - _columns(db, "steps")
    assert {"modes", "autoCollapse"} <= _columns(db, "steps")
    assert set(typing.get_type_hints(ElementDict)) <= _columns(db, "elements")
    assert set(Feedback.__dataclass_fields__) <= _columns(db, "feedbacks")


def test_postgres_urls_get_the_async_driver() -> None:
    settings = TerminalSettings(database_url="postgresql://u:p@db:5432/chat")
    assert database_url(settings) == "postgresql+asyncpg://u:p@db:5432/chat"


@pytest.mark.asyncio
async def test_thread_with_steps_elements_and_feedback_round_trips(chat: RecordingEmitter, tmp_path: Path) -> None:
    chat.activate()
    url = database_url(TerminalSettings(data_dir=tmp_path))
    await create_schema(url)
    layer = SQLAlchemyDataLayer(conninfo=url, storage_provider=LocalFileStorage(tmp_path / "files"))
    try:
        user = await layer.create_user(User(identifier="engineer"))
        assert user is not None
        thread_id = chat.session.thread_id
        await layer.update_thread(thread_id, name="Boiler", user_id=user.id, metadata={"chat_profile": "Base model"})

        question = cl.Message(content="How to keep the boiler safe?", type="user_message")
        answer = cl.Message(content="Use pre-stressing.", metadata={"answer": "Use pre-stressing."})
        step = cl.Step(name="Retrieval", type="retrieval", auto_collapse=True, default_open=False)
        step.output = "mode mix · 12 ms · 2 sources"
        for item in (question, step, answer):
            await layer.create_step(item.to_dict())
        source = cl.Text(name="1. Principle 10", content="Preliminary action.", display="side")
        source.for_id = answer.id
        await layer.create_element(source)
        feedback_id = await layer.upsert_feedback(Feedback(forId=answer.id, threadId=thread_id, value=1, comment="ok"))
        assert feedback_id

        thread = await layer.get_thread(thread_id)
        assert thread is not None and thread["name"] == "Boiler"
        assert json.loads(str(thread["metadata"]))["chat_profile"] == "Base model"
        steps = {s["type"]: s for s in thread["steps"]}
        assert steps["user_message"]["output"] == "How to keep the boiler safe?"
        assert steps["retrieval"]["output"] == "mode mix · 12 ms · 2 sources"
        stored_answer = steps["assistant_message"]
        assert json.loads(str(stored_answer["metadata"]))["answer"] == "Use pre-stressing."
        assert stored_answer["feedback"] is not None and stored_answer["feedback"]["value"] == 1
        [element] = thread["elements"]
        assert element["name"] == "1. Principle 10" and element["display"] == "side"
        assert element["url"] == f"/terminal-files/{user.id}/{source.id}/1.%20Principle%2010"
        assert (tmp_path / "files" / user.id / source.id / "1. Principle 10").read_text() == "Preliminary action."

        threads = await layer.list_threads(Pagination(first=10), ThreadFilter(userId=user.id))
        assert [t["id"] for t in threads.data] == [thread_id]
    finally:
        await layer.engine.dispose()
