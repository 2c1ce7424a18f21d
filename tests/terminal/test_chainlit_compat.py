"""What `terminal.chainlit_compat` relies on in Chainlit (2.12): each failure names what an upgrade changed."""

from __future__ import annotations

import inspect
from pathlib import Path
from typing import Any

import chainlit.auth.cookie
import chainlit.config
import chainlit.server
import chainlit.session
import pytest
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient
from starlette.middleware.cors import CORSMiddleware

from terminal import chainlit_compat
from terminal.origins import OriginPolicy


def test_the_app_and_the_socket_server_are_where_the_terminal_looks() -> None:
    assert chainlit_compat.app is chainlit.server.app, "chainlit.server.app is no longer the served app"
    eio = getattr(chainlit.server.sio, "eio", None)
    assert eio is not None and hasattr(eio, "cors_allowed_origins"), (
        "chainlit.server.sio.eio.cors_allowed_origins is gone: find how Chainlit's socket server checks origins"
    )


def test_chainlit_has_one_cors_middleware_to_replace() -> None:
    classes: tuple[Any, ...] = (CORSMiddleware, OriginPolicy)
    found = [m for m in chainlit.server.app.user_middleware if m.cls in classes]
    assert len(found) == 1, f"Chainlit's middleware changed; replace_cors expects one CORSMiddleware: {found}"
    assert hasattr(chainlit.server.app, "middleware_stack"), "Starlette no longer rebuilds from middleware_stack"


def test_routes_added_first_win_over_chainlits_page_route() -> None:
    async def probe() -> dict[str, str]:
        return {"probe": "terminal"}

    chainlit_compat.add_route_first("/terminal-compat-probe", probe, ["GET"])
    chainlit_compat.add_route_first("/terminal-compat-probe", probe, ["GET"])
    paths = [getattr(r, "path", "") for r in chainlit.server.app.router.routes]
    assert paths.count("/terminal-compat-probe") == 1
    answer = TestClient(chainlit.server.app).get("/terminal-compat-probe")
    assert answer.json() == {"probe": "terminal"}, "Chainlit's catch-all page route answers before ours"


def test_the_login_endpoint_is_the_one_the_throttle_wraps() -> None:
    logins = [
        r
        for r in chainlit.server.router.routes
        if isinstance(r, APIRoute) and r.path == "/login" and r.methods == {"POST"}
    ]
    assert [r.endpoint for r in logins] == [chainlit_compat.chainlit_login], "Chainlit's POST /login moved"
    params = list(inspect.signature(chainlit_compat.chainlit_login).parameters)
    assert params == ["request", "response", "form_data"], f"chainlit.server.login takes {params} now"
    source = inspect.getsource(chainlit.server._authenticate_user)
    assert "HTTP_401_UNAUTHORIZED" in source and "credentialssignin" in source, (
        "Chainlit no longer answers a failed sign-in with 401 credentialssignin: the throttle counts those"
    )


def test_the_cookie_settings_are_module_globals_read_on_each_call() -> None:
    cookie = chainlit.auth.cookie
    for name in ("_cookie_samesite", "_cookie_secure"):
        assert hasattr(cookie, name), f"chainlit.auth.cookie.{name} is gone: see how it sets SameSite now"
        assert name in inspect.getsource(cookie.set_auth_cookie), f"set_auth_cookie no longer reads {name}"
    assert "CHAINLIT_COOKIE_SAMESITE" in inspect.getsource(cookie), "Chainlit renamed CHAINLIT_COOKIE_SAMESITE"


def test_use_samesite_refuses_an_unknown_value(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(chainlit.auth.cookie, "_cookie_samesite", chainlit.auth.cookie._cookie_samesite)
    monkeypatch.setattr(chainlit.auth.cookie, "_cookie_secure", chainlit.auth.cookie._cookie_secure)
    monkeypatch.setenv(chainlit_compat.SAMESITE_ENV, "Lax")
    assert chainlit_compat.use_samesite("strict") == "lax" and chainlit_compat.cookie_samesite() == "lax"
    monkeypatch.setenv(chainlit_compat.SAMESITE_ENV, "sometimes")
    with pytest.raises(Exception, match="CHAINLIT_COOKIE_SAMESITE"):
        chainlit_compat.use_samesite("strict")


def test_the_session_upload_folder_is_read_from_chainlit_config(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for module in (chainlit.config, chainlit.server):
        assert hasattr(module, "FILES_DIRECTORY"), f"{module.__name__}.FILES_DIRECTORY is gone"
        monkeypatch.setattr(module, "FILES_DIRECTORY", module.FILES_DIRECTORY)
    chainlit_compat.set_files_directory(tmp_path)
    session = chainlit.session.HTTPSession(id="s-1", client_type="webapp")
    assert session.files_dir == tmp_path / "s-1", "Chainlit's sessions no longer keep uploads in FILES_DIRECTORY"
