"""Files and folders of the terminal's data directory readable by their owner only (0600 / 0700 on POSIX).

The data directory holds the login password, the cookie-signing secret, every user's chat history and their
uploaded documents; on a shared machine none of it may be readable by other accounts. Windows has no such
mode bits (`os.chmod` only toggles read-only there), so the changes are skipped quietly; its per-user
profile folders already keep other accounts out.
"""

from __future__ import annotations

import os
from pathlib import Path

FILE_MODE = 0o600
DIR_MODE = 0o700
#: The subfolders of the data directory that hold only the terminal's own files (walked on start).
OWN_TREES = ("files", "sessions")
#: SQLite's companions of the history database; SQLite gives them the database file's mode.
SQLITE_SUFFIXES = ("", "-journal", "-wal", "-shm")

_POSIX = os.name == "posix"


def _chmod(path: Path, mode: int) -> None:
    if _POSIX and not path.is_symlink():
        os.chmod(path, mode)


def private_dir(path: Path) -> Path:
    """Create `path` and each missing parent as 0700 (mkdir's `parents` would give the parents 0755)."""
    path = Path(path)
    missing: list[Path] = []
    probe = path
    while not probe.exists():
        missing.append(probe)
        if probe.parent == probe:
            break
        probe = probe.parent
    for folder in reversed(missing):
        folder.mkdir(mode=DIR_MODE, exist_ok=True)
    _chmod(path, DIR_MODE)
    return path


def private_file(path: Path) -> Path:
    """Create `path` empty as 0600 if it is missing, else make it 0600 (its folder must exist)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT, FILE_MODE)
    os.close(fd)
    _chmod(path, FILE_MODE)
    return path


def write_private(path: Path, data: bytes) -> None:
    """Write `data` to `path` as 0600 through a temporary name, so no reader sees half a file."""
    tmp = path.with_name(path.name + ".part")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, FILE_MODE)
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)
    _chmod(tmp, FILE_MODE)  # O_CREAT keeps the mode of a .part left over by an older version
    os.replace(tmp, path)


def _tighten_tree(root: Path) -> None:
    for folder, dirs, files in os.walk(root):
        base = Path(folder)
        for name in dirs:
            _chmod(base / name, DIR_MODE)
        for name in files:
            _chmod(base / name, FILE_MODE)


def secure_data_dir(data_dir: Path) -> Path:
    """Make the data directory 0700 and what the terminal keeps in it 0600/0700, for files of older versions.

    Only the terminal's own entries are touched (not everything below a data directory pointed at a shared
    folder): the folder itself, the secrets, the SQLite history, and the element and upload trees.
    """
    data_dir = private_dir(Path(data_dir))
    if not _POSIX:
        return data_dir
    for name in ("auth_secret", "password", *(f"history.sqlite3{suffix}" for suffix in SQLITE_SUFFIXES)):
        if (data_dir / name).is_file():
            _chmod(data_dir / name, FILE_MODE)
    for tree in OWN_TREES:
        if (data_dir / tree).is_dir():
            _chmod(data_dir / tree, DIR_MODE)
            _tighten_tree(data_dir / tree)
    return data_dir
