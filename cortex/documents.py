"""Uploads: which files are accepted, and their text (with page offsets for PDFs)."""

from __future__ import annotations

import hashlib
import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import PurePath
from typing import NamedTuple

from cortex.docx_text import docx_text
from cortex.errors import (
    BadDocumentError,
    DocumentTooLargeError,
    InvalidCollectionError,
    TextTooLongError,
    UnsupportedDocumentError,
)
from cortex.models import COLLECTION_RULE, DocumentKind, valid_collection

CONTENT_TYPES = {
    ".txt": "text/plain",
    ".md": "text/markdown",
    ".pdf": "application/pdf",
    ".docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
}
_ACCEPTED = ", ".join(CONTENT_TYPES)
MAX_NAME = 200


@dataclass
class ParsedDocument:
    """The text of an upload; `page_starts[i]` is the character offset where page i+1 begins."""

    name: str
    content_type: str
    sha256: str
    size: int
    text: str
    page_starts: list[int] = field(default_factory=list)


class Upload(NamedTuple):
    """A parsed document and what it is stored with."""

    parsed: ParsedDocument
    kind: DocumentKind = "document"
    tags: Sequence[str] = ()
    collection: str | None = None


def collection_of(name: str | None) -> str | None:
    """An upload's collection: None for none (or an empty field), else a valid name (InvalidCollectionError)."""
    if name is None or not name.strip():
        return None
    try:
        return valid_collection(name.strip())
    except ValueError as exc:
        raise InvalidCollectionError(str(exc), f"{COLLECTION_RULE}; e.g. 'physics' or 'sport-2025'") from exc


def display_name(name: str) -> str:
    """A safe label for an uploaded file name: the last path part, printable, bounded. Never a path."""
    base = PurePath(name.replace("\\", "/")).name
    base = "".join(ch for ch in unicodedata.normalize("NFC", base) if ch.isprintable()).strip()
    return base[-MAX_NAME:] or "untitled"


def suffix_of(name: str) -> str:
    return PurePath(display_name(name)).suffix.lower()


def clean_text(text: str) -> str:
    """Text as stored: no NUL characters, no trailing spaces on lines, no blank ends."""
    return re.sub(r"[ \t]+\n", "\n", text.replace("\x00", "")).strip()


def _decode_text(data: bytes, name: str) -> str:
    for encoding in ("utf-8-sig", "utf-16") if data[:2] in (b"\xff\xfe", b"\xfe\xff") else ("utf-8-sig",):
        try:
            return data.decode(encoding)
        except UnicodeDecodeError:
            continue
    try:
        return data.decode("cp1251")  # common for Russian text files written on Windows
    except UnicodeDecodeError as exc:
        raise BadDocumentError(f"{name} is not readable text", "save it as UTF-8 and upload again") from exc


def _pdf_text(data: bytes, name: str, max_chars: int) -> tuple[str, list[int]]:
    from cortex.pdf_text import pdf_pages

    text, starts = "", []
    for page in pdf_pages(data, name, max_chars):
        starts.append(len(text))
        text += clean_text(page) + "\n\n"
    return text.rstrip(), starts


def parse_upload(name: str, data: bytes, max_bytes: int, max_chars: int) -> ParsedDocument:
    """Check an upload and extract at most `max_chars` characters of text (else TextTooLongError);
    raises a BadDocumentError subclass that names the fix."""
    label = display_name(name)
    suffix = suffix_of(name)
    if suffix not in CONTENT_TYPES:
        raise UnsupportedDocumentError(
            f"{label}: files of type {suffix or '(none)'} are not accepted", f"upload one of: {_ACCEPTED}"
        )
    if len(data) > max_bytes:
        raise DocumentTooLargeError(
            f"{label} is {len(data) / 2**20:.1f} MiB, over the {max_bytes / 2**20:.1f} MiB limit",
            "split the file, or raise CORTEX_MAX_UPLOAD_MB",
        )
    if not data:
        raise BadDocumentError(f"{label} is empty", "upload a file with some text in it")
    page_starts: list[int] = []
    if suffix == ".pdf":
        text, page_starts = _pdf_text(data, label, max_chars)
    elif suffix == ".docx":
        text = clean_text(docx_text(data, label, max_chars))
    else:
        text = clean_text(_decode_text(data, label))
    if len(text) > max_chars:
        raise TextTooLongError.over(label, max_chars)
    if len(text) < 3:
        raise BadDocumentError(
            f"{label} contains no text", "a scanned PDF needs OCR first; otherwise check the file's content"
        )
    return ParsedDocument(
        name=label,
        content_type=CONTENT_TYPES[suffix],
        sha256=hashlib.sha256(data).hexdigest(),
        size=len(data),
        text=text,
        page_starts=page_starts,
    )


def page_of(page_starts: list[int], offset: int) -> int | None:
    """1-based page holding character `offset`, or None for documents without pages."""
    if not page_starts or offset < 0:
        return None
    import bisect

    return bisect.bisect_right(page_starts, offset)
