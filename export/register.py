"""Registration of an exported GGUF with an Ollama server through the official `ollama` client."""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, cast

import httpx
import ollama
from pydantic import BaseModel

from export.errors import OllamaCreateFailed, OllamaUnavailable, RegisterError
from export.modelfile import modelfile_filename
from export.profiles import ExportProfile

# Called with (status, done, total): bytes for hashing and upload, Ollama's own counters otherwise.
RegisterProgress = Callable[[str, int | None, int | None], None]

CHUNK = 1 << 20
# Connecting must fail fast when nobody listens; reads may wait while Ollama copies a large blob.
TIMEOUT = httpx.Timeout(600.0, connect=10.0)


class RegisterResult(BaseModel):
    """What a registration did: the model name, the GGUF's digest, whether it was sent, Ollama's statuses."""

    model: str
    digest: str
    uploaded: bool
    adapter_digest: str | None = None
    statuses: list[str]


def manual_create_command(profile: ExportProfile, modelfile_path: Path | None) -> str:
    """The `ollama create` command that registers the model by hand from its Modelfile."""
    return f"ollama create {profile.ollama_name} -f {modelfile_path or modelfile_filename(profile)}"


def register_model(
    host: str | None,
    profile: ExportProfile,
    gguf_path: Path,
    progress: RegisterProgress | None = None,
    adapter_path: Path | None = None,
    modelfile_path: Path | None = None,
) -> RegisterResult:
    """Upload the GGUF (and adapter) to Ollama unless it has them, then create `profile.ollama_name`.

    `host` None means $OLLAMA_HOST or Ollama's default. `modelfile_path` only feeds the manual
    `ollama create` command quoted in error messages.
    """
    report = progress or _no_progress
    manual = manual_create_command(profile, modelfile_path)
    for path in (gguf_path, adapter_path):
        if path is not None and not path.is_file():
            raise RegisterError(f"no file to register at {path}", "export the model first, or give the right path")
    # Building the client opens no connection; it only settles which URL errors should name.
    client = ollama.Client(host=host, timeout=TIMEOUT)
    where = str(cast(Any, client)._client.base_url).rstrip("/")
    try:
        with client:
            digest, uploaded = _ensure_blob(client, gguf_path, report)
            adapters: dict[str, str] | None = None
            adapter_digest: str | None = None
            if adapter_path is not None:
                adapter_digest, adapter_sent = _ensure_blob(client, adapter_path, report)
                uploaded = uploaded or adapter_sent
                adapters = {_gguf_name(adapter_path, "adapter"): adapter_digest}
            files = {_gguf_name(gguf_path, profile.ollama_name): digest}
            statuses = _create(client, profile, files, adapters, report)
    except (ConnectionError, httpx.TransportError) as exc:
        raise _unavailable(where, exc, manual) from None
    except ollama.ResponseError as exc:
        raise _create_failed(profile, exc.error, manual) from None
    if not statuses or statuses[-1] != "success":
        last = statuses[-1] if statuses else "nothing"
        raise _create_failed(profile, f"the status stream ended without success (last status: {last})", manual)
    return RegisterResult(
        model=profile.ollama_name, digest=digest, uploaded=uploaded, adapter_digest=adapter_digest, statuses=statuses
    )


def file_digest(path: Path, progress: RegisterProgress | None = None) -> str:
    """The `sha256:<hex>` digest Ollama uses for a file, read in chunks."""
    report = progress or _no_progress
    total = path.stat().st_size
    digest = hashlib.sha256()
    done = 0
    with path.open("rb") as fh:
        while block := fh.read(CHUNK):
            digest.update(block)
            done += len(block)
            report(f"hashing {path.name}", done, total)
    return f"sha256:{digest.hexdigest()}"


def _no_progress(status: str, done: int | None, total: int | None) -> None:
    """A progress callback that ignores everything."""


def _raw(client: ollama.Client) -> Callable[..., httpx.Response]:
    """The client's own raw request method: it maps HTTP errors to ResponseError, refusals to ConnectionError."""
    # `_request_raw` is untyped; the cast keeps mypy's strict mode honest about what it returns.
    return cast(Callable[..., httpx.Response], client._request_raw)


def _ensure_blob(client: ollama.Client, path: Path, report: RegisterProgress) -> tuple[str, bool]:
    """Make sure Ollama holds the file as a blob; returns its digest and whether it was uploaded."""
    digest = file_digest(path, report)
    if _has_blob(client, digest):
        report(f"{path.name} already in Ollama", None, None)
        return digest, False
    _upload_blob(client, path, digest, report)
    return digest, True


def _has_blob(client: ollama.Client, digest: str) -> bool:
    """Whether Ollama already has the blob (HEAD /api/blobs/:digest answers 200, or 404 when not)."""
    try:
        _raw(client)("HEAD", f"/api/blobs/{digest}")
    except ollama.ResponseError as exc:
        if exc.status_code == 404:
            return False
        raise
    return True


def _upload_blob(client: ollama.Client, path: Path, digest: str, report: RegisterProgress) -> None:
    """Send the file to POST /api/blobs/:digest in chunks, reporting the bytes sent.

    `client.create_blob` would hash the file a second time and report nothing while it sends, so
    the upload goes through the same client's raw request instead.
    """
    total = path.stat().st_size
    label = f"uploading {path.name}"

    def chunks() -> Iterator[bytes]:
        sent = 0
        report(label, 0, total)
        with path.open("rb") as fh:
            while block := fh.read(CHUNK):
                yield block
                sent += len(block)
                report(label, sent, total)

    # An explicit length keeps the upload a plain body rather than a chunked one.
    _raw(client)("POST", f"/api/blobs/{digest}", content=chunks(), headers={"Content-Length": str(total)})


def _create(
    client: ollama.Client,
    profile: ExportProfile,
    files: dict[str, str],
    adapters: dict[str, str] | None,
    report: RegisterProgress,
) -> list[str]:
    """Ask Ollama to create the model from the blobs, streaming its statuses; returns them."""
    statuses: list[str] = []
    stream = client.create(
        model=profile.ollama_name,
        files=files,
        adapters=adapters,
        template=profile.template,
        system=profile.system_text,
        parameters=profile.ollama_parameters(),
        stream=True,
    )
    for part in stream:
        status = part.status or ""
        report(status, part.completed, part.total)
        # Progress updates repeat a status many times; the record keeps each step once.
        if status and (not statuses or statuses[-1] != status):
            statuses.append(status)
    return statuses


def _gguf_name(path: Path, fallback: str) -> str:
    """The file name Ollama records for a blob; Ollama recognises GGUF files by the .gguf ending."""
    return path.name if path.name.endswith(".gguf") else f"{fallback}.gguf"


def _create_failed(profile: ExportProfile, message: str, manual: str) -> OllamaCreateFailed:
    """The error for a blob or model that Ollama refused, quoting Ollama's own words."""
    return OllamaCreateFailed(
        f"Ollama could not create {profile.ollama_name}: {message}",
        f"the GGUF and Modelfile are kept; see the Ollama server log, or run: {manual}",
    )


def _unavailable(host: str, exc: BaseException, manual: str) -> OllamaUnavailable:
    """The error for a server that cannot be reached, with the command to register by hand later."""
    reason = "timed out" if isinstance(exc, httpx.TimeoutException) else "connection failed"
    if isinstance(exc, httpx.TransportError) and not isinstance(exc, httpx.ConnectError | httpx.TimeoutException):
        reason = f"connection lost ({exc})"
    return OllamaUnavailable(
        f"cannot reach Ollama at {host}: {reason}; the model was not registered",
        f"start Ollama (`ollama serve`) or pass --ollama-host, then register it with: {manual}",
    )
