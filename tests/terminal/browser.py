"""Helpers of the browser tests: start `synapse terminal` as a process, drive Debian's Chromium with Playwright."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
_LOOPBACK = re.compile(r"^(https?|wss?)://(127\.0\.0\.1|localhost)(:\d+)?/")
PASSWORD = "browser-test-pw"


def chromium_or_skip() -> str:
    path = os.environ.get("CHROMIUM_PATH", CHROMIUM)
    if not Path(path).exists() and not shutil.which(path):
        pytest.skip(f"no Chromium at {path}: install Debian's with `apt-get install -y chromium` (.ci/run does)")
    pytest.importorskip("playwright", reason="install the dev extra: pip install -e '.[dev]'")
    return path


def wait_healthy(url: str, process: subprocess.Popen[bytes] | None, timeout_s: float, log: Path | None = None) -> None:
    """Poll `url` until it answers 200; fail with the process's log if it exits or time runs out."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            text = log.read_text(errors="replace")[-3000:] if log else ""
            raise AssertionError(f"process for {url} exited with {process.returncode}:\n{text}")
        try:
            if httpx.get(url, timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.3)
    text = log.read_text(errors="replace")[-3000:] if log else ""
    raise AssertionError(f"{url} not healthy after {timeout_s:.0f} s:\n{text}")


def synapse_command(*args: str) -> list[str]:
    return [sys.executable, "-c", "from synapse.cli import main; main()", *args]


@contextmanager
def running_terminal(port: int, data_dir: Path, env: dict[str, str], log: Path, timeout_s: float = 90) -> Iterator[str]:
    """`synapse terminal --port PORT` in its own process, with its own data directory."""
    data_dir.mkdir(parents=True, exist_ok=True)
    full_env = {**os.environ, **env, "TERMINAL_DATA_DIR": str(data_dir), "TERMINAL_PASSWORD": PASSWORD}
    with log.open("wb") as out:
        process = subprocess.Popen(
            synapse_command("terminal", "--port", str(port), "--host", "127.0.0.1"),
            cwd=data_dir,
            env=full_env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_healthy(f"{url}/health", process, timeout_s, log)
        yield url
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@contextmanager
def browser_page(locale: str = "en-US") -> Iterator[Any]:
    """A Chromium page that may reach only the loopback interface (Chainlit's page asks for web fonts)."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=chromium_or_skip(), args=CHROMIUM_ARGS)
        try:
            context = browser.new_context(locale=locale, viewport={"width": 1280, "height": 900})
            context.route(
                "**/*", lambda route: route.continue_() if _LOOPBACK.match(route.request.url) else route.abort()
            )
            yield context.new_page()
        finally:
            browser.close()


def log_in(page: Any, url: str, screenshot: Path | None = None) -> None:
    page.goto(f"{url}/login")
    page.fill("#email", "engineer")
    page.fill("#password", PASSWORD)
    if screenshot is not None:
        page.screenshot(path=str(screenshot), animations="disabled")
    page.click("button[type=submit]")
    page.wait_for_selector("#chat-input", timeout=30_000)


def send(page: Any, text: str) -> None:
    page.fill("#chat-input", text)
    # The button, not Enter: it is enabled only once the socket is connected.
    page.click("#chat-submit", timeout=30_000)


def last_answer_text(page: Any) -> str:
    answers = page.locator(".ai-message .message-content")
    count = answers.count()
    return str(answers.nth(count - 1).inner_text()) if count else ""


def attach(page: Any, path: Path, attempts: int = 10) -> None:
    """Attach a file to the next message; retried because the upload needs the chat's socket session."""
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    # The settings button appears once on_chat_start has run, so the session the upload goes to exists.
    page.wait_for_selector("#chat-settings-open-modal", timeout=60_000)
    status = "no answer"
    for _ in range(attempts):
        try:
            with page.expect_response(
                lambda r: "/project/file?" in r.url and r.request.method == "POST", timeout=10_000
            ) as info:
                page.set_input_files("#upload-button-input", str(path))
        except PlaywrightTimeout:
            # The composer was re-rendered under the input (a new chat starting): choose the file again.
            page.set_input_files("#upload-button-input", [])
            continue
        status = str(info.value.status)
        if info.value.status == 200:
            return
        time.sleep(0.5)
    raise AssertionError(f"could not attach {path.name}: last upload answered {status}")
