"""Upload checks and text extraction: accepted types, limits, broken files, safe names, PDF pages."""

from __future__ import annotations

import pytest

from cortex.documents import display_name, page_of, parse_upload
from cortex.errors import BadDocumentError, DocumentTooLargeError, UnsupportedDocumentError
from tests.cortex.conftest import EN_BRACKET, RU_COOLING, make_docx, make_pdf

MB = 2**20


def test_text_and_markdown_in_both_languages() -> None:
    doc = parse_upload("notes.md", f"# Заметки\n\n{RU_COOLING}\n".encode(), MB)
    assert doc.content_type == "text/markdown"
    assert doc.text.startswith("# Заметки") and "теплообменником" in doc.text
    assert parse_upload("a.TXT", EN_BRACKET.encode("utf-8-sig"), MB).text == EN_BRACKET


def test_windows_1251_text_is_read() -> None:
    assert parse_upload("old.txt", RU_COOLING.encode("cp1251"), MB).text == RU_COOLING


def test_pdf_pages_and_docx() -> None:
    pdf = parse_upload("report.pdf", make_pdf(["First page on brackets.", "Second page on pumps."]), MB)
    assert pdf.page_starts == [0, pdf.text.index("Second")]
    assert page_of(pdf.page_starts, pdf.text.index("pumps")) == 2
    assert page_of(pdf.page_starts, 0) == 1
    docx = parse_upload("memo.docx", make_docx(["Hello", "Привет"]), MB)
    assert docx.text == "Hello\nПривет"


@pytest.mark.parametrize(
    ("name", "data", "error", "words"),
    [
        ("empty.txt", b"", BadDocumentError, "empty"),
        ("blank.md", b"   \n\n ", BadDocumentError, "no text"),
        ("image.png", b"\x89PNG....", UnsupportedDocumentError, ".png"),
        ("noext", b"hello there", UnsupportedDocumentError, "(none)"),
        ("broken.pdf", b"%PDF-1.4 this is not really a pdf", BadDocumentError, "not a readable PDF"),
        ("broken.docx", b"PK not a zip", BadDocumentError, "not a readable .docx"),
        ("big.txt", b"x" * (MB + 1), DocumentTooLargeError, "limit"),
    ],
)
def test_bad_uploads_name_problem_and_fix(name: str, data: bytes, error: type[Exception], words: str) -> None:
    with pytest.raises(error) as info:
        parse_upload(name, data, MB)
    assert words in info.value.message
    assert info.value.hint  # type: ignore[attr-defined]


def test_file_names_are_labels_never_paths() -> None:
    assert display_name("../../etc/passwd.txt") == "passwd.txt"
    assert display_name("C:\\Users\\me\\doc.md") == "doc.md"
    assert display_name("bad\x00name\n.txt") == "badname.txt"
    assert display_name("") == "untitled"
