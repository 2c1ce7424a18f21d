"""Registration with Ollama, against the local FakeOllama server (no network, no real Ollama)."""

from __future__ import annotations

import hashlib
import socket
from collections.abc import Iterator
from pathlib import Path

import httpx
import ollama
import pytest

from export.errors import OllamaCreateFailed, OllamaUnavailable
from export.profiles import ExportProfile, builtin_profiles
from export.register import file_digest, register_model
from synapse.errors import SynapseError
from tests.support.fake_ollama import FakeOllama


@pytest.fixture
def td() -> ExportProfile:
    return builtin_profiles()["td010v2"]


@pytest.fixture
def gguf(tmp_path: Path) -> Path:
    path = tmp_path / "triz-td010v2-q4km.gguf"
    # A few MiB so that hashing and upload run in several chunks.
    path.write_bytes(b"GGUF" + bytes(range(256)) * 12_000)
    return path


@pytest.fixture
def fake() -> Iterator[FakeOllama]:
    with FakeOllama() as server:
        yield server


def sha(path: Path) -> str:
    return "sha256:" + hashlib.sha256(path.read_bytes()).hexdigest()


def test_first_registration_uploads_and_creates(fake: FakeOllama, td: ExportProfile, gguf: Path) -> None:
    events: list[tuple[str, int | None, int | None]] = []
    result = register_model(fake.url, td, gguf, progress=lambda s, done, total: events.append((s, done, total)))

    digest = sha(gguf)
    assert file_digest(gguf) == digest
    assert result.model == "triz-td010v2-q4km" and result.digest == digest and result.uploaded
    assert result.statuses[0] == "parsing GGUF" and result.statuses[-1] == "success"
    assert fake.blobs == {digest: gguf.read_bytes()}

    (create,) = fake.creates
    assert create["model"] == "triz-td010v2-q4km"
    assert create["files"] == {"triz-td010v2-q4km.gguf": digest}
    assert "adapters" not in create
    assert create["template"] == td.template
    assert create["system"] == td.system["ru"]
    assert create["parameters"] == {"stop": ["<|im_end|>", "<|endoftext|>"], "num_ctx": 4096, "temperature": 0.3}
    assert create["stream"] is True

    size = gguf.stat().st_size
    uploads = [(done, total) for status, done, total in events if status.startswith("uploading")]
    assert uploads[0] == (0, size) and uploads[-1] == (size, size) and len(uploads) > 2
    assert ("success", None, None) in events
    assert fake.requests[:2] == [("HEAD", f"/api/blobs/{digest}"), ("POST", f"/api/blobs/{digest}")]


def test_second_registration_skips_the_upload(fake: FakeOllama, td: ExportProfile, gguf: Path) -> None:
    register_model(fake.url, td, gguf)
    posts_before = [r for r in fake.requests if r[0] == "POST" and r[1].startswith("/api/blobs/")]
    again = register_model(fake.url, td, gguf)
    posts_after = [r for r in fake.requests if r[0] == "POST" and r[1].startswith("/api/blobs/")]
    assert again.uploaded is False and again.digest == sha(gguf)
    assert posts_after == posts_before
    assert len(fake.creates) == 2 and again.statuses[-1] == "success"


def test_adapter_is_uploaded_and_named(fake: FakeOllama, td: ExportProfile, gguf: Path, tmp_path: Path) -> None:
    lora = tmp_path / "td010v2-lora.gguf"
    lora.write_bytes(b"GGUF general.type adapter adapter.type lora")
    result = register_model(fake.url, td, gguf, adapter_path=lora)
    assert result.adapter_digest == sha(lora) and sha(lora) in fake.blobs
    assert fake.creates[0]["adapters"] == {"td010v2-lora.gguf": sha(lora)}


def test_error_status_raises_create_failed(fake: FakeOllama, td: ExportProfile, gguf: Path) -> None:
    fake.create_error = "unsupported architecture 'qwen9'"
    with pytest.raises(OllamaCreateFailed, match="unsupported architecture 'qwen9'") as err:
        register_model(fake.url, td, gguf, modelfile_path=Path("out/triz-td010v2-q4km.Modelfile"))
    assert err.value.exit_code == 1
    assert err.value.hint and "ollama create triz-td010v2-q4km -f out/triz-td010v2-q4km.Modelfile" in err.value.hint


def test_unreachable_host_raises_unavailable(td: ExportProfile, gguf: Path) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    # The port is closed now: connecting is refused at once.
    with pytest.raises(OllamaUnavailable) as err:
        register_model(f"http://127.0.0.1:{port}", td, gguf, modelfile_path=Path("O/triz-td010v2-q4km.Modelfile"))
    assert f"127.0.0.1:{port}" in err.value.message
    assert err.value.hint and "ollama create triz-td010v2-q4km -f O/triz-td010v2-q4km.Modelfile" in err.value.hint
    assert err.value.exit_code == 2


def test_unavailable_hint_without_a_modelfile_path(td: ExportProfile, gguf: Path) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    with pytest.raises(OllamaUnavailable) as err:
        register_model(f"127.0.0.1:{port}", td, gguf)
    assert err.value.hint and "ollama create triz-td010v2-q4km -f" in err.value.hint


def test_missing_gguf_is_refused_before_connecting(td: ExportProfile, tmp_path: Path) -> None:
    with pytest.raises(SynapseError, match="no file to register"):
        register_model("http://127.0.0.1:9", td, tmp_path / "absent.gguf")


def test_fake_ollama_speaks_the_api(fake: FakeOllama, gguf: Path) -> None:
    digest = sha(gguf)
    with ollama.Client(host=fake.url) as client:
        assert client.create_blob(gguf) == digest  # the client's own upload path works too
        assert [m.model for m in client.list().models] == []
    with httpx.Client(base_url=fake.url) as http:
        assert http.head(f"/api/blobs/{digest}").status_code == 200
        assert http.head(f"/api/blobs/sha256:{'0' * 64}").status_code == 404
        assert http.post(f"/api/blobs/sha256:{'0' * 64}", content=b"other").status_code == 400
        assert http.get("/api/version").json() == {"version": "0.6.5"}
        missing = http.post("/api/create", json={"model": "m", "files": {"m.gguf": f"sha256:{'1' * 64}"}})
        assert missing.status_code == 400 and "not found" in missing.json()["error"]


def test_fake_ollama_refuses_a_model_file_given_as_adapter(fake: FakeOllama, td: ExportProfile, gguf: Path) -> None:
    with pytest.raises(OllamaCreateFailed, match="not a LoRA adapter"):
        register_model(fake.url, td, gguf, adapter_path=gguf)


def test_two_adapters_on_one_base_share_its_blob(
    fake: FakeOllama, td: ExportProfile, gguf: Path, tmp_path: Path
) -> None:
    # What `synapse export A --mode adapter` then `synapse export B --mode adapter` register: two Ollama models
    # FROM the same base blob, each with its own ADAPTER; the base is uploaded once.
    loras = {}
    for name in ("sport", "physics"):
        loras[name] = tmp_path / f"{name}-lora.gguf"
        loras[name].write_bytes(f"GGUF general.type adapter adapter.type lora {name}".encode())
        profile = td.model_copy(update={"name": name, "ollama_name": f"triz-{name}"})
        register_model(fake.url, profile, gguf, adapter_path=loras[name])
    base_posts = [r for r in fake.requests if r == ("POST", f"/api/blobs/{sha(gguf)}")]
    assert len(base_posts) == 1
    assert [c["model"] for c in fake.creates] == ["triz-sport", "triz-physics"]
    assert all(c["files"] == {gguf.name: sha(gguf)} for c in fake.creates)
    assert [c["adapters"] for c in fake.creates] == [
        {"sport-lora.gguf": sha(loras["sport"])},
        {"physics-lora.gguf": sha(loras["physics"])},
    ]
