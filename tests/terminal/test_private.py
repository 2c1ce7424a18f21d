"""Owner-only modes (0600 files, 0700 folders) of what the terminal keeps in its data directory."""

from __future__ import annotations

import asyncio
import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from synapse.config import TerminalSettings
from terminal.credentials import auth_secret, login_password
from terminal.history import create_schema_blocking, database_url
from terminal.private import secure_data_dir
from terminal.root import use_files_dir
from terminal.storage import LocalFileStorage

pytestmark = pytest.mark.skipif(os.name != "posix", reason="POSIX mode bits")


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture(autouse=True)
def usual_umask() -> Iterator[None]:
    """The common 022 umask, under which files are created readable by every account unless made private."""
    old = os.umask(0o022)
    try:
        yield
    finally:
        os.umask(old)


def test_history_secrets_and_elements_are_created_owner_only(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import chainlit.config
    import chainlit.server

    for module in (chainlit.config, chainlit.server):  # use_files_dir changes them; restored afterwards
        monkeypatch.setattr(module, "FILES_DIRECTORY", module.FILES_DIRECTORY)
    data = tmp_path / "data" / "terminal"
    settings = TerminalSettings(data_dir=data)
    create_schema_blocking(database_url(settings))
    auth_secret(settings)
    login_password(settings)
    storage = LocalFileStorage(data / "files")
    asyncio.run(storage.upload_file("u-1/el-1/notes.txt", "private notes"))
    sessions = use_files_dir(data / "sessions" / "123")
    for folder in (data, data / "files", data / "files" / "u-1", data / "files" / "u-1" / "el-1", sessions):
        assert mode(folder) == 0o700, (folder, oct(mode(folder)))
    assert mode(data / "sessions") == 0o700
    for name in ("history.sqlite3", "auth_secret", "password", "files/u-1/el-1/notes.txt"):
        assert mode(data / name) == 0o600, (name, oct(mode(data / name)))


def test_files_of_older_versions_are_made_owner_only_on_start(tmp_path: Path) -> None:
    data = tmp_path / "terminal"
    (data / "files" / "u-1" / "el-1").mkdir(parents=True)
    for name in ("history.sqlite3", "history.sqlite3-wal", "auth_secret", "files/u-1/el-1/notes.txt"):
        (data / name).write_text("x")
        (data / name).chmod(0o644)
    (data / "elsewhere.txt").write_text("not the terminal's")
    data.chmod(0o755)
    secure_data_dir(data)
    assert mode(data) == 0o700 and mode(data / "files") == 0o700 and mode(data / "files" / "u-1" / "el-1") == 0o700
    for name in ("history.sqlite3", "history.sqlite3-wal", "auth_secret", "files/u-1/el-1/notes.txt"):
        assert mode(data / name) == 0o600, name
    assert mode(data / "elsewhere.txt") == 0o644  # not one of the terminal's files: left as it was
