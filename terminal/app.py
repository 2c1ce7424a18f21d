"""The Neuro-Terminal's Chainlit entry: login, history, and the handlers, wired to Chainlit's callbacks.

Chainlit loads this file by path (`synapse terminal` does it); the behaviour lives in `terminal.handlers`.
"""

from __future__ import annotations

import logging
import os

from terminal.root import bind_chainlit_root

bind_chainlit_root()

import chainlit as cl  # noqa: E402
from chainlit.data.sql_alchemy import SQLAlchemyDataLayer  # noqa: E402

from terminal import handlers  # noqa: E402
from terminal.credentials import check_login  # noqa: E402
from terminal.files_route import install_files_route  # noqa: E402
from terminal.guards import install_guards  # noqa: E402
from terminal.history import create_schema_blocking, database_url  # noqa: E402
from terminal.private import secure_data_dir  # noqa: E402
from terminal.root import use_files_dir  # noqa: E402
from terminal.storage import LocalFileStorage  # noqa: E402

secure_data_dir(handlers.settings().data_dir)  # files of older versions were created readable by all
install_guards(handlers.settings())
install_files_route()
# One line per request to SYNAPSE would bury the useful lines in `synapse up`'s merged log.
logging.getLogger("httpx").setLevel(logging.WARNING)
use_files_dir(handlers.settings().data_dir / "sessions" / str(os.getpid()))


@cl.data_layer
def history_layer() -> SQLAlchemyDataLayer:
    s = handlers.settings()
    url = database_url(s)
    create_schema_blocking(url)
    return SQLAlchemyDataLayer(conninfo=url, storage_provider=LocalFileStorage(s.data_dir / "files"))


@cl.password_auth_callback
async def login(username: str, password: str) -> cl.User | None:
    if check_login(handlers.settings(), username, password):
        return cl.User(identifier=username.strip(), metadata={"role": "user", "provider": "credentials"})
    return None


cl.set_chat_profiles(handlers.chat_profiles)
cl.set_starters(handlers.starters)
cl.on_chat_start(handlers.on_chat_start)
cl.on_chat_resume(handlers.on_chat_resume)
cl.on_settings_update(handlers.on_settings_update)
cl.on_message(handlers.on_message)
