"""A real browser against `synapse terminal` with the fake SYNAPSE/CORTEX: login, streaming, sources, card,
history, upload; screenshots go to the test's tmp directory."""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path
from typing import Any

import pytest

from tests.terminal.browser import (
    attach,
    browser_page,
    chromium_or_skip,
    last_answer_text,
    log_in,
    running_terminal,
    send,
)
from tests.terminal.fake_services import FakeServer, free_port


@pytest.fixture
def shots(tmp_path: Path) -> Path:
    folder = tmp_path / "screenshots"
    folder.mkdir()
    return folder


def test_chat_in_a_real_browser(fake: FakeServer, tmp_path: Path, shots: Path) -> None:
    chromium_or_skip()
    fake.state.token_delay_s = 0.3
    env = {"TERMINAL_SYNAPSE_URL": fake.url, "TERMINAL_DOCUMENTS_URL": f"{fake.url}/documents"}
    with (
        running_terminal(free_port(), tmp_path / "terminal", env, tmp_path / "terminal.log") as url,
        browser_page() as page,
    ):
        log_in(page, url, shots / "01-login.png")
        try:
            _conversation(page, fake, tmp_path, shots)
        except Exception:
            page.screenshot(path=str(shots / "99-failure.png"), animations="disabled")
            raise

    with (
        browser_page(locale="ru-RU") as page,
        running_terminal(free_port(), tmp_path / "terminal", env, tmp_path / "terminal-ru.log") as url,
    ):
        page.goto(f"{url}/login")
        page.get_by_text("Войдите, чтобы открыть Нейро-Терминал").wait_for(timeout=30_000)
        page.screenshot(path=str(shots / "07-login-ru.png"), animations="disabled")
    print(f"screenshots: {shots}")


def _conversation(page: Any, fake: FakeServer, tmp_path: Path, shots: Path) -> None:
    page.wait_for_selector("#starters")
    page.screenshot(path=str(shots / "02-new-chat.png"), animations="disabled")

    question = "The drone frame must be stronger, but every gram of weight shortens the flight."
    send(page, question)
    # Tokens arrive one by one: some text is visible before the last token is.
    seen: list[str] = []
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and "anti-weight." not in (text := last_answer_text(page)):
        if "Use" in text and text not in seen:
            seen.append(text)
            if len(seen) == 1:
                page.screenshot(path=str(shots / "03-streaming.png"), animations="disabled")
        time.sleep(0.05)
    assert any("anti-weight." not in t for t in seen), f"no partial answer seen: {seen}"

    page.get_by_text("Sources:").wait_for(timeout=30_000)
    page.get_by_text("TRIZ analysis").wait_for()
    page.get_by_text("Improving:").first.wait_for()  # the card's text is fetched after the message
    answer = last_answer_text(page)
    assert "Improving: 14. Strength" in answer and "Principles: 1. Segmentation, 8. Anti-weight" in answer
    assert "Warning: demo model" in answer
    page.get_by_text("Used Retrieval").wait_for()
    page.locator(".element-link", has_text="Pump manual").first.click()
    page.get_by_text("The impeller wears faster at high speed.").first.wait_for()
    page.screenshot(path=str(shots / "04-answer-sources-card.png"), animations="disabled")

    # Feedback on the answer is stored with the thread.
    page.locator(".positive-feedback-off").last.click()
    if page.locator("#submit-feedback").count():
        page.locator("textarea").last.fill("clear principles")
        page.click("#submit-feedback")
    page.locator(".positive-feedback-on").first.wait_for()
    assert _stored_feedback(tmp_path / "terminal" / "history.sqlite3") == [(1, "clear principles")]
    assert fake.state.requests[-1]["model"] == "triz-agent"

    # History: after a reload the thread is in the sidebar and opens with its answer and sources.
    page.reload()
    page.wait_for_selector("#chat-input")
    page.locator("#thread-history").get_by_text("The drone frame", exact=False).first.click()
    page.get_by_text("Use segmentation and anti-weight.").first.wait_for(timeout=30_000)
    page.get_by_text("Used Retrieval").first.click()
    page.get_by_text("mode mix · 12 ms · 2 sources").first.wait_for(timeout=30_000)
    page.locator(".element-link", has_text="Principle 1").first.click()
    page.get_by_text("Divide an object into independent parts.").first.wait_for(timeout=30_000)
    page.screenshot(path=str(shots / "05-resumed-thread.png"), animations="disabled")

    # A document from the chat: uploaded to CORTEX, processed, then asked about.
    page.click("#new-chat-button")
    confirm = page.get_by_role("button", name="Confirm")
    if confirm.count():
        confirm.click()
    page.wait_for_selector("#starters")
    notes = tmp_path / "pump-notes.txt"
    notes.write_text("The centrifugal impeller erodes when cavitation bubbles collapse.", encoding="utf-8")
    attach(page, notes)
    page.get_by_text("pump-notes.txt").first.wait_for()
    fake.state.token_delay_s = 0.0
    send(page, "Why does the centrifugal impeller erode?")
    page.get_by_text("Used Uploading pump-notes.txt").first.wait_for(timeout=30_000)
    page.locator(".element-link", has_text="pump-notes.txt").first.wait_for(timeout=30_000)
    page.screenshot(path=str(shots / "06-document-answer.png"), animations="disabled")
    assert fake.state.uploads and fake.state.uploads[-1][0] == "pump-notes.txt"


def _stored_feedback(db: Path) -> list[tuple[int, str | None]]:
    deadline = time.monotonic() + 15
    rows: list[tuple[int, str | None]] = []
    while time.monotonic() < deadline:
        with sqlite3.connect(db) as conn:
            rows = conn.execute('SELECT "value", "comment" FROM feedbacks').fetchall()
        if rows:
            break
        time.sleep(0.2)
    return rows
