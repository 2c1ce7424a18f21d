"""Base-model GGUFs kept once per base and reused by every adapter exported on top of it."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import time
from pathlib import Path

from pydantic import BaseModel, ValidationError

from export.inputs import BaseModelInfo, check_free_disk
from export.merge import ProgressFn, partial_path, write_merged_gguf
from export.quantize import Quant, quantize_gguf
from export.register import file_digest

# Bump when the GGUF this package writes for a base changes, so older stored files are not reused.
STORE_FORMAT = 1
_HASHES = "hashes.json"
_RECORD = "base.json"
_SMALL_FILES = ("config.json", "tokenizer.json", "tokenizer_config.json", "special_tokens_map.json")


class _Hashed(BaseModel):
    size: int
    mtime_ns: int
    sha256: str


class BaseRecord(BaseModel):
    """What a store folder holds: the base's input digests and the finished files with their sizes."""

    key: str
    base: str
    inputs: dict[str, str]
    files: dict[str, int]  # file name -> size in bytes


class BaseGguf(BaseModel):
    """The stored base GGUF(s) for one export: the float16 file and the file Ollama gets (FROM)."""

    key: str
    folder: Path
    f16: Path
    final: Path
    reused: bool
    seconds: dict[str, float]


def base_input_digests(base: BaseModelInfo, store: Path) -> dict[str, str]:
    """sha256 of every file of the base that ends up in its GGUF; weights are hashed once per size and mtime."""
    files = [base.path / n for n in _SMALL_FILES if (base.path / n).is_file()]
    if (base.path / "chat_template.jinja").is_file():
        files.append(base.path / "chat_template.jinja")
    files += sorted({t.file for t in base.tensors.values()})
    cache_path = store / _HASHES
    cache: dict[str, _Hashed] = {}
    if cache_path.is_file():
        try:
            raw = json.loads(cache_path.read_text(encoding="utf-8"))
            cache = {k: _Hashed.model_validate(v) for k, v in raw.items()}
        except (ValueError, ValidationError, AttributeError):
            cache = {}  # a damaged cache only costs hashing again
    digests: dict[str, str] = {}
    changed = False
    for f in files:
        stat = f.stat()
        key = str(f.resolve())
        hit = cache.get(key)
        if hit is None or hit.size != stat.st_size or hit.mtime_ns != stat.st_mtime_ns:
            hit = _Hashed(size=stat.st_size, mtime_ns=stat.st_mtime_ns, sha256=file_digest(f).removeprefix("sha256:"))
            cache[key] = hit
            changed = True
        digests[f.name] = hit.sha256
    if changed:
        store.mkdir(parents=True, exist_ok=True)
        _write_text(cache_path, json.dumps({k: v.model_dump() for k, v in cache.items()}, indent=1))
    return digests


def base_store_key(digests: dict[str, str]) -> str:
    """The folder name for a base: a digest of its inputs and of the store format."""
    blob = json.dumps({"format": STORE_FORMAT, "inputs": digests}, sort_keys=True).encode()
    return hashlib.sha256(blob).hexdigest()[:20]


def base_file_names(quant: Quant) -> tuple[str, str]:
    """Names of the float16 base GGUF and of the base GGUF given to Ollama (the same file for F16)."""
    return "base-F16.gguf", f"base-{quant}.gguf"


def ensure_base_gguf(
    base: BaseModelInfo, store: Path, quant: Quant, name: str, progress: ProgressFn | None = None
) -> BaseGguf:
    """The base as F16 GGUF (and quantized, unless F16) in `store`, written only when not there already."""
    digests = base_input_digests(base, store)
    key = base_store_key(digests)
    folder = store / key
    folder.mkdir(parents=True, exist_ok=True)
    record = _read_record(folder) or BaseRecord(key=key, base=str(base.path), inputs=digests, files={})
    f16_name, final_name = base_file_names(quant)
    f16, final = folder / f16_name, folder / final_name
    seconds: dict[str, float] = {}
    reused = True
    missing_f16, missing_final = not _present(record, f16), final != f16 and not _present(record, final)
    check_free_disk(folder, base.n_params * (2 * missing_f16 + missing_final))
    if missing_f16:
        reused = False
        t0 = time.perf_counter()
        write_merged_gguf(base, None, f16, "F16", name, progress)
        seconds["base_merge"] = time.perf_counter() - t0
        record.files[f16_name] = f16.stat().st_size
        _write_record(folder, record)
    if missing_final:
        reused = False
        t0 = time.perf_counter()
        quantize_gguf(f16, final, quant)
        seconds["base_quantize"] = time.perf_counter() - t0
        record.files[final_name] = final.stat().st_size
        _write_record(folder, record)
    return BaseGguf(key=key, folder=folder, f16=f16, final=final, reused=reused, seconds=seconds)


def forget_base(folder: Path) -> None:
    """Drop a stored base whose export failed verification, so the next run writes it afresh."""
    shutil.rmtree(folder, ignore_errors=True)


def place(src: Path, dst: Path) -> Path:
    """Put a stored file at `dst`: a hard link (no copy, no space), or a copy across file systems."""
    dst.parent.mkdir(parents=True, exist_ok=True)
    tmp = partial_path(dst)
    tmp.unlink(missing_ok=True)
    try:
        try:
            os.link(src, tmp)
        except OSError:
            shutil.copyfile(src, tmp)
        os.replace(tmp, dst)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return dst


def _present(record: BaseRecord, path: Path) -> bool:
    return path.is_file() and record.files.get(path.name) == path.stat().st_size


def _read_record(folder: Path) -> BaseRecord | None:
    try:
        return BaseRecord.model_validate_json((folder / _RECORD).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def _write_record(folder: Path, record: BaseRecord) -> None:
    _write_text(folder / _RECORD, record.model_dump_json(indent=2))


def _write_text(path: Path, text: str) -> None:
    tmp = partial_path(path)
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)
