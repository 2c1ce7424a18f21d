"""Login and secrets, local element storage, the Russian translation, the `synapse terminal` command."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from synapse.cli.app import app
from synapse.config import TerminalSettings
from terminal.credentials import auth_secret, check_login, login_password
from terminal.root import CHAINLIT_ROOT
from terminal.storage import LocalFileStorage


def test_generated_password_and_secret_are_kept_private_and_stable(tmp_path: Path) -> None:
    settings = TerminalSettings(data_dir=tmp_path / "t")
    password = login_password(settings)
    assert len(password) >= 12 and login_password(settings) == password
    assert stat.S_IMODE(os.stat(tmp_path / "t" / "password").st_mode) == 0o600
    secret = auth_secret(settings)
    assert len(secret) >= 40 and auth_secret(TerminalSettings(data_dir=tmp_path / "t")) == secret
    assert check_login(settings, "engineer", password)
    assert not check_login(settings, "engineer", password + "x") and not check_login(settings, "admin", password)


def test_configured_login_wins(tmp_path: Path) -> None:
    settings = TerminalSettings(data_dir=tmp_path, username="ann", password="s3cret", auth_secret="k" * 40)
    assert check_login(settings, " ann ", "s3cret") and auth_secret(settings) == "k" * 40
    assert not (tmp_path / "password").exists()


@pytest.mark.asyncio
async def test_storage_keeps_files_and_refuses_keys_outside_its_root(tmp_path: Path) -> None:
    storage = LocalFileStorage(tmp_path / "files")
    result = await storage.upload_file("user-1/el-1/1. Segmentation", "text body", mime="text/plain")
    assert result == {
        "object_key": "user-1/el-1/1. Segmentation",
        "url": "/terminal-files/user-1/el-1/1.%20Segmentation",
    }
    assert storage.path_of("user-1/el-1/1. Segmentation").read_text() == "text body"
    with pytest.raises(ValueError, match="outside the storage root"):
        await storage.upload_file("../escape", b"x")
    assert await storage.delete_file("user-1/el-1/1. Segmentation") and not await storage.delete_file("nope")


def test_russian_translation_matches_chainlit_keys() -> None:
    env = {**os.environ, "CHAINLIT_APP_ROOT": str(CHAINLIT_ROOT)}
    out = subprocess.run(
        [sys.executable, "-m", "chainlit", "lint-translations"], env=env, capture_output=True, text=True, timeout=120
    )
    report = out.stdout
    section = report[report.index("Linting ru-RU.json") :].split("Linting ")[1]
    assert "No errors found in ru-RU.json" in section, section


def test_bad_synapse_url_is_rejected_with_the_fix(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TERMINAL_SYNAPSE_URL", "localhost:8000")
    result = CliRunner().invoke(app, ["terminal", "--port", "1"])
    output = " ".join(result.output.split())
    assert result.exit_code == 2
    assert "TERMINAL_SYNAPSE_URL: 'localhost:8000' is not an http(s) URL" in output
    assert "write it like http://127.0.0.1:8000" in output and "Traceback" not in output


def test_terminal_command_is_registered() -> None:
    result = CliRunner().invoke(app, ["terminal", "--help"])
    assert result.exit_code == 0 and "--port" in result.output and "--host" in result.output
