"""The login and the cookie-signing secret: from settings, else generated once and kept in the data directory."""

from __future__ import annotations

import hmac
import secrets
from pathlib import Path

from synapse.config import TerminalSettings
from terminal.private import private_dir, write_private


def _read_or_create(path: Path, make: str) -> str:
    if path.exists():
        value = path.read_text(encoding="utf-8").strip()
        if value:
            return value
    # Readable by the owner only: whoever reads it can sign in or forge a session.
    private_dir(path.parent)
    write_private(path, (make + "\n").encode("utf-8"))
    return make


def auth_secret(settings: TerminalSettings) -> str:
    """The secret that signs login cookies (TERMINAL_AUTH_SECRET, else <data_dir>/auth_secret)."""
    given = settings.auth_secret.get_secret_value()
    return given or _read_or_create(settings.data_dir / "auth_secret", secrets.token_urlsafe(48))


def password_file(settings: TerminalSettings) -> Path:
    return settings.data_dir / "password"


def login_password(settings: TerminalSettings) -> str:
    """The password of TERMINAL_USERNAME (TERMINAL_PASSWORD, else generated into <data_dir>/password)."""
    given = settings.password.get_secret_value()
    return given or _read_or_create(password_file(settings), secrets.token_urlsafe(12))


def check_login(settings: TerminalSettings, username: str, password: str) -> bool:
    """Whether the pair matches the configured login (constant-time comparison)."""
    expected = login_password(settings)
    same_user = hmac.compare_digest(username.strip().encode(), settings.username.encode())
    same_password = hmac.compare_digest(password.encode(), expected.encode())
    return same_user and same_password
