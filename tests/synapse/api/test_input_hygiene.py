"""Input hygiene and HTTP details: invalid Unicode, Content-Types, generic 500s, keep-alive, /health, OpenAPI."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.routing import APIRoute

from synapse.api import routers
from tests.synapse.api.conftest import SECRET, CrashingBackend, EncodingBackend, PathBackend, ServeFn

LONE = "\\ud800"  # as JSON spells it: one high surrogate with no low one
ASK = "How to cool a chip?"


def chat_v1(content: Any, stream: bool = False, **extra: Any) -> str:
    return json.dumps(
        {"model": "triz-agent", "messages": [{"role": "user", "content": content}], "stream": stream, **extra}
    )


def chat_api(content: str, stream: bool = False) -> str:
    return json.dumps({"model": "triz-agent", "messages": [{"role": "user", "content": content}], "stream": stream})


# (route, JSON text with the surrogate escape in place of @, the field path the error must name)
SURROGATES = [
    ("/v1/chat/completions", chat_v1("hi @"), "messages.0.content"),
    ("/v1/chat/completions", chat_v1("hi @", stream=True), "messages.0.content"),
    ("/v1/chat/completions", chat_v1([{"type": "text", "text": "hi @"}], stream=True), "messages.0.content.0.text"),
    ("/v1/chat/completions", chat_v1(ASK, user="u@"), "user"),
    ("/v1/chat/completions", chat_v1(ASK, stop=["ok", "@"]), "stop.1"),
    ("/v1/chat/completions", chat_v1(ASK, metadata={"tag": "@"}), "metadata.tag"),
    ("/v1/triz/analyze", json.dumps({"problem": "The beam @ must be stronger", "explain": True}), "problem"),
    ("/api/chat", chat_api("hi @"), "messages.0.content"),
    ("/api/chat", chat_api("hi @", stream=True), "messages.0.content"),
    ("/api/generate", json.dumps({"model": "triz-agent", "prompt": "hi @", "stream": False}), "prompt"),
    ("/api/generate", json.dumps({"model": "triz-agent", "prompt": "hi @"}), "prompt"),
    ("/api/generate", json.dumps({"model": "triz-agent", "prompt": ASK, "system": "be @", "stream": False}), "system"),
    ("/api/show", json.dumps({"model": "triz-@"}), "model"),
]


@pytest.mark.parametrize(("path", "text", "field"), SURROGATES)
def test_text_that_is_not_unicode_is_422_naming_the_field(serve: ServeFn, path: str, text: str, field: str) -> None:
    backend = EncodingBackend()
    server = serve(backend=backend)
    body = text.replace("@", LONE).encode()
    r = httpx.post(server.url + path, content=body, headers={"content-type": "application/json"}, timeout=30)
    assert r.status_code == 422, r.text
    if path.startswith("/api/"):
        message = r.json()["error"]
        assert isinstance(message, str)
    else:
        error = r.json()["error"]
        assert (
            error["type"] == "invalid_request_error" and error["param"] == field and error["code"] == "invalid_unicode"
        )
        message = error["message"]
    assert f"{field}: the lone surrogate \\ud800" in message and "UTF-8" in message
    assert backend.calls == []


def test_a_bad_key_bytes_that_are_not_utf8_and_json_too_deep(serve: ServeFn) -> None:
    server = serve(backend=EncodingBackend())
    key = b'{"model": "triz-agent", "messages": [{"role": "user", "content": "x", "k\\udfff": 1}]}'
    r = httpx.post(f"{server.url}/v1/chat/completions", content=key, headers={"content-type": "application/json"})
    assert r.status_code == 422 and "this key is not valid Unicode" in r.json()["error"]["message"]
    raw = b'{"model": "triz-agent", "stream": false, "messages": [{"role": "user", "content": "hi \xff"}]}'
    r = httpx.post(f"{server.url}/api/chat", content=raw)
    assert r.status_code == 422 and "not valid UTF-8" in r.json()["error"]
    deep = b'{"model": ' + b"[" * 100_000 + b"]" * 100_000 + b"}"
    r = httpx.post(f"{server.url}/api/show", content=deep)
    assert r.status_code == 422 and "nested too deeply" in r.json()["error"]
    # Surrogate pairs are ordinary text (an emoji): they pass.
    pair = chat_api("hi \\ud83d\\ude00").encode()
    r = httpx.post(f"{server.url}/api/chat", content=pair, timeout=30)
    assert r.status_code == 200 and r.json()["done"] is True


def test_every_route_with_a_body_checks_it() -> None:
    from synapse.api.body import CheckedRoute

    routes = [r for name in routers.__all__ for r in getattr(routers, name).router.routes]
    body_routes = [r for r in routes if isinstance(r, APIRoute) and r.body_field is not None]
    assert {r.path for r in body_routes} == {
        "/v1/chat/completions",
        "/v1/triz/analyze",
        "/api/chat",
        "/api/generate",
        "/api/show",
    }
    assert all(isinstance(r, CheckedRoute) for r in body_routes)


@pytest.mark.parametrize("content_type", [None, "text/plain", "application/x-www-form-urlencoded"])
@pytest.mark.parametrize("path", ["/api/chat", "/api/generate"])
def test_ollama_routes_read_json_whatever_the_content_type(serve: ServeFn, path: str, content_type: str | None) -> None:
    server = serve()
    payload = (
        chat_api(ASK) if path == "/api/chat" else json.dumps({"model": "triz-agent", "prompt": ASK, "stream": False})
    )
    headers = {"content-type": content_type} if content_type else {}
    r = httpx.post(server.url + path, content=payload.encode(), headers=headers, timeout=30)
    assert r.status_code == 200, r.text
    answer = r.json()
    assert answer["done"] is True and (answer.get("response") or answer["message"]["content"])


def test_openai_routes_name_a_wrong_content_type(serve: ServeFn) -> None:
    server = serve()
    r = httpx.post(
        f"{server.url}/v1/chat/completions", content=chat_v1(ASK).encode(), headers={"content-type": "text/plain"}
    )
    assert r.status_code == 415
    error = r.json()["error"]
    assert "'text/plain'" in error["message"] and "Content-Type: application/json" in error["message"]
    assert error["code"] == "unsupported_media_type"


@pytest.mark.parametrize("path", ["/v1/chat/completions", "/api/generate"])
def test_a_500_names_an_id_not_the_exception(serve: ServeFn, path: str, caplog: pytest.LogCaptureFixture) -> None:
    server = serve(backend=CrashingBackend())
    body = (
        chat_v1(ASK) if path.startswith("/v1") else json.dumps({"model": "triz-agent", "prompt": ASK, "stream": False})
    )
    with caplog.at_level(logging.ERROR, logger="synapse.api"):
        r = httpx.post(
            server.url + path, content=body.encode(), headers={"content-type": "application/json"}, timeout=30
        )
    assert r.status_code == 500
    assert "secret" not in r.text and "RuntimeError" not in r.text and "/srv" not in r.text
    message = r.json()["error"] if path.startswith("/api/") else r.json()["error"]["message"]
    error_id = message.split("(id ")[1].split(")")[0]
    assert len(error_id) >= 8
    logged = [rec for rec in caplog.records if error_id in rec.getMessage()]
    assert logged and logged[0].exc_info is not None and SECRET in str(logged[0].exc_info[1])


def _port(r: httpx.Response) -> int:
    return int(r.extensions["network_stream"].get_extra_info("client_addr")[1])


@pytest.mark.parametrize(
    ("path", "stream"),
    [("/v1/chat/completions", False), ("/v1/chat/completions", True), ("/api/generate", False), ("/api/chat", True)],
)
def test_the_connection_survives_an_error(serve: ServeFn, path: str, stream: bool) -> None:
    server = serve(backend=CrashingBackend(after=2 if stream else 0))
    if path == "/api/generate":
        body: dict[str, Any] = {"model": "triz-agent", "prompt": ASK, "stream": stream}
    else:
        body = {"model": "triz-agent", "messages": [{"role": "user", "content": ASK}], "stream": stream}
    with httpx.Client(base_url=server.url, timeout=30) as http:
        failed = http.post(path, json=body)  # a streamed body is read to its end here
        after = http.get("/health")
        same_connection = _port(failed) == _port(after)
    assert after.status_code == 200
    assert same_connection, "the server closed the keep-alive connection after the error"
    if not stream:
        assert failed.status_code == 500
        return
    # Streamed: the answer began with 200, so the failure is the stream's last event, in its framing.
    assert failed.status_code == 200 and "secret" not in failed.text
    lines = [line for line in failed.text.splitlines() if line.strip()]
    if path.startswith("/v1"):
        assert lines[-1] == "data: [DONE]" and json.loads(lines[-2][6:])["error"]["code"] == "internal_error"
    else:
        assert "internal error (id " in json.loads(lines[-1])["error"]


def test_the_connection_survives_invalid_unicode(serve: ServeFn) -> None:
    server = serve(backend=EncodingBackend())
    bad_body = chat_v1("hi @").replace("@", LONE).encode()
    with httpx.Client(base_url=server.url, timeout=30) as http:
        bad = http.post("/v1/chat/completions", content=bad_body, headers={"content-type": "application/json"})
        good = http.post(
            "/v1/chat/completions", json={"model": "triz-agent", "messages": [{"role": "user", "content": ASK}]}
        )
        same_connection = _port(bad) == _port(good)
    assert bad.status_code == 422 and good.status_code == 200 and same_connection


def test_health_and_models_show_file_names_not_paths(serve: ServeFn, tmp_path: Path) -> None:
    model_file = tmp_path / "models" / "triz-td010v2-q4km.gguf"
    server = serve(backend=PathBackend(str(model_file)))
    r = httpx.get(f"{server.url}/health")
    assert r.status_code == 200
    assert str(tmp_path) not in r.text and "/models/" not in r.text
    assert r.json()["backends"][0]["detail"] == "triz-td010v2-q4km.gguf (export)"
    models = httpx.get(f"{server.url}/v1/models")  # open too while SYNAPSE_API_KEYS is empty
    assert str(tmp_path) not in models.text
    assert models.json()["data"][2]["extra"]["path"] == "triz-td010v2-q4km.gguf"


def test_head_answers_like_get_without_a_body(serve: ServeFn) -> None:
    server = serve(api_keys="k")
    head = httpx.head(f"{server.url}/health")
    assert head.status_code == 200 and head.content == b""
    assert head.headers["content-type"] == "application/json"
    head = httpx.head(f"{server.url}/v1/models", headers={"Authorization": "Bearer k"})
    assert head.status_code == 200 and head.content == b""
    assert httpx.head(f"{server.url}/v1/models").status_code == 401


EXPECTED = {
    "GET /health": {200, 503},
    "GET /v1/models": {200, 401},
    "POST /v1/chat/completions": {200, 400, 401, 404, 413, 415, 422, 429, 502, 503},
    "POST /v1/triz/analyze": {200, 400, 401, 404, 413, 415, 422, 429, 502, 503},
    "GET /api/version": {200, 401},
    "GET /api/tags": {200, 401},
    "GET /api/ps": {200, 401},
    "POST /api/show": {200, 401, 404, 413, 422},
    "POST /api/chat": {200, 400, 401, 404, 413, 422, 429, 502, 503},
    "POST /api/generate": {200, 400, 401, 404, 413, 422, 429, 502, 503},
    "POST /v1/embeddings": {200, 400, 401, 404, 413, 415, 422, 429, 502, 503},
    "POST /api/embed": {200, 400, 401, 404, 413, 422, 429, 502, 503},
    "POST /api/embeddings": {200, 400, 401, 404, 413, 422, 429, 502, 503},
}


def test_openapi_declares_the_errors_each_route_answers(serve: ServeFn) -> None:
    server = serve(api_keys="k", max_tokens_limit=1000, max_messages=9)
    doc = httpx.get(f"{server.url}/openapi.json", headers={"X-API-Key": "k"}).json()
    found = {f"{m.upper()} {p}": op for p, ops in doc["paths"].items() for m, op in ops.items()}
    assert {label: set(map(int, op["responses"])) for label, op in found.items()} == EXPECTED
    for label, op in found.items():
        wanted = "OllamaError" if " /api/" in label else "OpenAIError"
        for status, response in op["responses"].items():
            if status.startswith("4") or (status.startswith("5") and label != "GET /health"):
                ref = response["content"]["application/json"]["schema"]["$ref"]
                assert ref.endswith(f"/{wanted}"), (label, status, ref)
        assert ("security" in op) == (label != "GET /health")
    assert set(doc["components"]["securitySchemes"]) == {"bearer", "apiKey"}
    assert "text/event-stream" in found["POST /v1/chat/completions"]["responses"]["200"]["content"]
    assert "application/x-ndjson" in found["POST /api/chat"]["responses"]["200"]["content"]
    request = doc["components"]["schemas"]["ChatCompletionRequest"]["properties"]
    assert {"type": "integer", "minimum": 1, "maximum": 1000} in request["max_tokens"]["anyOf"]
    assert request["messages"]["maxItems"] == 9
