"""Starts the Neuro-Terminal: prepares secrets and history, then runs Chainlit's server in this process."""

from __future__ import annotations

import os

from pydantic import ValidationError

from synapse.config import TerminalSettings
from terminal.credentials import auth_secret, login_password, password_file
from terminal.errors import TerminalError
from terminal.history import create_schema_blocking, database_url
from terminal.root import APP_FILE, bind_chainlit_root


def load_settings() -> TerminalSettings:
    """TERMINAL_* settings, or one clear error naming the variable that is wrong."""
    try:
        return TerminalSettings()
    except ValidationError as exc:
        first = exc.errors()[0]
        name = "TERMINAL_" + "_".join(str(part) for part in first["loc"]).upper()
        message = str(first["msg"]).removeprefix("Value error, ")
        raise TerminalError(f"{name}: {message}", "fix it in the environment or in .env") from None


def prepare(settings: TerminalSettings, host: str, port: int) -> None:
    """Everything Chainlit reads from the environment, set before it is imported."""
    bind_chainlit_root()
    os.environ["CHAINLIT_AUTH_SECRET"] = auth_secret(settings)
    os.environ["CHAINLIT_HOST"] = host
    os.environ["CHAINLIT_PORT"] = str(port)
    # The app reads its own settings again from the environment; keep them equal to what was asked for.
    os.environ["TERMINAL_HOST"] = host
    os.environ["TERMINAL_PORT"] = str(port)
    os.environ["TERMINAL_DATA_DIR"] = str(settings.data_dir)
    login_password(settings)
    create_schema_blocking(database_url(settings))


def login_note(settings: TerminalSettings) -> str:
    """How to sign in, for the start-up banner; a generated password is read from its file, not printed."""
    if settings.password.get_secret_value():
        return f"user {settings.username}, password from TERMINAL_PASSWORD"
    return f"user {settings.username}, password in {password_file(settings)}"


def run(settings: TerminalSettings, host: str, port: int) -> None:
    """Serve the chat until interrupted (headless: no browser is opened)."""
    prepare(settings, host, port)
    from chainlit.cli import run_chainlit

    from synapse.blas import limit_serving_blas

    limit_serving_blas()
    from chainlit.config import config

    config.run.headless = True
    config.run.host = host
    config.run.port = port
    run_chainlit(str(APP_FILE))
