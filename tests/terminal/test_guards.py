"""Origins and sign-in against Chainlit's app: CORS only for the terminal's own pages, no state-changing
request from another page, the socket server's origin check, a SameSite=strict cookie, login throttling."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import chainlit as cl
import pytest
from chainlit.config import config
from chainlit.server import app
from fastapi.testclient import TestClient
from pydantic import SecretStr, ValidationError

from synapse.config import TerminalSettings
from terminal import guards
from terminal.credentials import check_login
from terminal.guards import install_guards
from terminal.origins import own_origins
from terminal.throttle import LoginThrottle

OWN = "http://127.0.0.1:8501"
FOREIGN = "http://localhost:3000"
PROXY = "https://chat.example.com"
PASSWORD = "right-password"


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def web(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, clock: Clock) -> Iterator[TestClient]:
    """Chainlit's app with the terminal's guards and a login callback like app.py's."""
    settings = TerminalSettings(data_dir=tmp_path, port=8501, password=SecretStr(PASSWORD), allowed_origins=PROXY)
    install_guards(settings)
    install_guards(settings)  # idempotent
    monkeypatch.setattr(guards, "THROTTLE", LoginThrottle(clock=clock))
    monkeypatch.setenv("CHAINLIT_AUTH_SECRET", "s" * 48)

    async def login(username: str, password: str) -> cl.User | None:
        return cl.User(identifier=username) if check_login(settings, username, password) else None

    monkeypatch.setattr(config.code, "password_auth_callback", login)
    yield TestClient(app)


def _cors(response: Any) -> dict[str, str]:
    return {k: v for k, v in response.headers.items() if k.lower().startswith("access-control-allow")}


def test_a_foreign_origin_gets_no_cors_grant_and_its_preflight_is_refused(web: TestClient) -> None:
    cookie = {"Cookie": "access_token=x"}
    foreign = web.get("/project/translations?language=en-US", headers={"Origin": FOREIGN, **cookie})
    assert foreign.status_code == 200 and _cors(foreign) == {}, foreign.headers
    preflight = web.options(
        "/project/threads",
        headers={"Origin": FOREIGN, "Access-Control-Request-Method": "POST", "Access-Control-Request-Headers": "x"},
    )
    assert preflight.status_code == 403 and _cors(preflight) == {}
    assert "TERMINAL_ALLOWED_ORIGINS" in preflight.json()["detail"]


@pytest.mark.parametrize("origin", [OWN, "http://localhost:8501", PROXY])
def test_own_and_configured_origins_are_granted(web: TestClient, origin: str) -> None:
    answer = web.get("/project/translations?language=en-US", headers={"Origin": origin})
    assert answer.headers["access-control-allow-origin"] == origin
    assert answer.headers["access-control-allow-credentials"] == "true"
    preflight = web.options(
        "/project/threads",
        headers={"Origin": origin, "Access-Control-Request-Method": "POST", "Access-Control-Request-Headers": "x"},
    )
    assert preflight.status_code == 200 and preflight.headers["access-control-allow-origin"] == origin


def test_a_foreign_page_cannot_post_but_the_terminals_own_pages_can(web: TestClient) -> None:
    refused = web.post("/logout", headers={"Origin": FOREIGN})
    assert refused.status_code == 403 and "TERMINAL_ALLOWED_ORIGINS" in refused.json()["detail"]
    assert web.post("/logout", headers={"Origin": OWN}).status_code == 200
    # The terminal reached at another address (a LAN IP): the page's origin is the host it asked.
    lan = {"Origin": "http://192.168.1.20:8501", "Host": "192.168.1.20:8501"}
    assert web.post("/logout", headers=lan).status_code == 200
    assert web.post("/logout").status_code == 200  # no browser, no Origin


def test_the_socket_server_refuses_a_foreign_origin(web: TestClient) -> None:
    handshake = "/ws/socket.io/?EIO=4&transport=polling"
    refused = web.get(handshake, headers={"Origin": FOREIGN})
    assert refused.status_code == 400 and _cors(refused) == {}
    accepted = web.get(handshake, headers={"Origin": OWN})
    assert accepted.status_code == 200 and '"sid"' in accepted.text


def test_the_login_cookie_is_same_site_strict(web: TestClient) -> None:
    answer = web.post("/login", data={"username": "engineer", "password": PASSWORD})
    assert answer.status_code == 200, answer.text
    cookie = answer.headers["set-cookie"].lower()
    assert "access_token=" in cookie and "samesite=strict" in cookie and "httponly" in cookie


def _login(web: TestClient, password: str, username: str = "engineer") -> tuple[int, dict[str, object], str]:
    answer = web.post("/login", data={"username": username, "password": password})
    return answer.status_code, answer.json(), answer.headers.get("retry-after", "")


def test_the_sixth_wrong_password_waits_and_a_success_resets(web: TestClient, clock: Clock) -> None:
    for _ in range(5):
        assert _login(web, "wrong")[:2] == (401, {"detail": "credentialssignin"})
    status, body, retry_after = _login(web, "wrong")
    assert status == 429 and int(retry_after) >= 1 and "try again" in str(body["detail"])
    assert _login(web, PASSWORD)[0] == 429  # the right password too: the wait holds for everyone
    clock.now += int(retry_after)
    assert _login(web, PASSWORD)[0] == 200
    for _ in range(5):  # the count starts again from zero
        assert _login(web, "wrong")[0] == 401
    assert _login(web, "wrong")[0] == 429


def test_the_wait_grows_and_counts_per_address_too(web: TestClient, clock: Clock) -> None:
    waits: list[int] = []
    for _ in range(4):
        for _ in range(5 if not waits else 1):
            assert _login(web, "wrong")[0] == 401
        waits.append(int(_login(web, "wrong")[2]))
        clock.now += waits[-1]
    assert waits == sorted(waits) and waits[-1] >= 4 * waits[0], waits
    # Other user names from the same address wait too.
    assert _login(web, "wrong", username="someone-else")[0] == 401  # the address's wait is over
    assert _login(web, "wrong", username="third")[0] == 429


def test_own_origins_follow_the_address_and_the_setting() -> None:
    assert own_origins(TerminalSettings(host="0.0.0.0", port=9000)) == [
        "http://127.0.0.1:9000",
        "http://localhost:9000",
    ]
    assert own_origins(TerminalSettings(host="chat.lan", port=80)) == ["http://chat.lan"]
    extra = TerminalSettings(allowed_origins=" HTTPS://Chat.Example.com:443/ , http://[::1]:8080")
    assert extra.extra_origins() == ["https://chat.example.com", "http://[::1]:8080"]
    assert own_origins(extra)[-2:] == extra.extra_origins()


def test_a_malformed_allowed_origin_is_named() -> None:
    with pytest.raises(
        ValidationError, match=re.escape("'chat.example.com/app' is not an origin; write it like https://")
    ):
        TerminalSettings(allowed_origins="https://ok.example.com,chat.example.com/app")
