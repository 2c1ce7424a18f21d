"""Upload checks and text extraction: accepted types, limits, broken files, safe names, PDF pages."""

from __future__ import annotations

import tracemalloc
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import pytest

from cortex.documents import ParsedDocument, display_name, page_of, parse_upload
from cortex.errors import BadDocumentError, DocumentTooLargeError, TextTooLongError, UnsupportedDocumentError
from tests.cortex.conftest import EN_BRACKET, RU_COOLING, make_docx, make_pdf
from tests.support.bombs import docx_bomb, pdf_stream_bomb, understate_sizes

MB = 2**20
MAX_CHARS = 5_000_000


def test_text_and_markdown_in_both_languages() -> None:
    doc = parse_upload("notes.md", f"# Заметки\n\n{RU_COOLING}\n".encode(), MB, MAX_CHARS)
    assert doc.content_type == "text/markdown"
    assert doc.text.startswith("# Заметки") and "теплообменником" in doc.text
    assert parse_upload("a.TXT", EN_BRACKET.encode("utf-8-sig"), MB, MAX_CHARS).text == EN_BRACKET


def test_windows_1251_text_is_read() -> None:
    assert parse_upload("old.txt", RU_COOLING.encode("cp1251"), MB, MAX_CHARS).text == RU_COOLING


def test_pdf_pages_and_docx() -> None:
    pdf = parse_upload("report.pdf", make_pdf(["First page on brackets.", "Second page on pumps."]), MB, MAX_CHARS)
    assert pdf.page_starts == [0, pdf.text.index("Second")]
    assert page_of(pdf.page_starts, pdf.text.index("pumps")) == 2
    assert page_of(pdf.page_starts, 0) == 1
    docx = parse_upload("memo.docx", make_docx(["Hello", "Привет"]), MB, MAX_CHARS)
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
        parse_upload(name, data, MB, MAX_CHARS)
    assert words in info.value.message
    assert info.value.hint  # type: ignore[attr-defined]


def test_file_names_are_labels_never_paths() -> None:
    assert display_name("../../etc/passwd.txt") == "passwd.txt"
    assert display_name("C:\\Users\\me\\doc.md") == "doc.md"
    assert display_name("bad\x00name\n.txt") == "badname.txt"
    assert display_name("") == "untitled"


def test_docx_in_document_order_with_tables() -> None:
    import io

    import docx

    document = docx.Document()
    document.add_paragraph("Before")
    table = document.add_table(rows=1, cols=2)
    table.cell(0, 0).text, table.cell(0, 1).text = "left", "right\nsecond line"
    document.add_paragraph("After")
    out = io.BytesIO()
    document.save(out)
    text = parse_upload("t.docx", out.getvalue(), MB, MAX_CHARS).text
    assert text == "Before\nleft | right\nsecond line\nAfter"


def _bounded(parse: Callable[[], ParsedDocument]) -> tuple[BaseException, int]:
    """Runs `parse` with a bounded wait; the error it raised and the peak of memory traced meanwhile."""
    tracemalloc.start()
    try:
        with ThreadPoolExecutor(1) as pool:
            future = pool.submit(parse)
            error = future.exception(timeout=120)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert error is not None, "the upload was accepted"
    return error, peak


def test_docx_bomb_is_refused_by_its_declared_size() -> None:
    bomb = docx_bomb(150 * MB)  # about 0.2 MiB that unpacks to 150 MiB
    error, peak = _bounded(lambda: parse_upload("bomb.docx", bomb, MB, MAX_CHARS))
    assert isinstance(error, TextTooLongError) and "CORTEX_MAX_TEXT_CHARS" in error.message
    assert "unpacks to 150 MiB" in error.message
    assert peak < 16 * MB


def test_docx_text_is_read_only_up_to_the_limit() -> None:
    bomb = docx_bomb(MB - 100 * 1024)  # within the XML budget of a 1,000-character limit
    error, peak = _bounded(lambda: parse_upload("long.docx", bomb, MB, 1000))
    assert isinstance(error, TextTooLongError) and "more than 1,000 characters" in error.message
    assert peak < 8 * MB


def test_docx_of_markup_only_is_bounded_by_its_elements() -> None:
    bomb = docx_bomb(600 * 1024, unit=b"<w:p/>")  # 100,000 empty paragraphs, within the XML budget
    error, _ = _bounded(lambda: parse_upload("empty.docx", bomb, MB, 1000))
    assert isinstance(error, TextTooLongError) and "XML elements" in error.message


def test_docx_whose_header_understates_its_size_is_not_read_past_it() -> None:
    bomb = understate_sizes(docx_bomb(40 * MB), "word/document.xml", 1000)
    error, _ = _bounded(lambda: parse_upload("liar.docx", bomb, MB, MAX_CHARS))
    assert isinstance(error, BadDocumentError) and "not a readable .docx" in error.message


def test_pdf_text_over_the_limit() -> None:
    pdf = make_pdf(["Inspection of the conveyor belts. " * 20] * 5)  # 3,400 characters
    with pytest.raises(TextTooLongError) as info:
        parse_upload("long.pdf", pdf, MB, 2000)
    assert "more than 2,000 characters" in info.value.message and info.value.hint
    assert parse_upload("long.pdf", pdf, MB, 4000).page_starts[4] > 0


def test_pdf_stream_bomb_is_refused_before_it_is_parsed() -> None:
    bomb = pdf_stream_bomb(20 * MB)  # a 50 KB page of 20 MiB of drawing instructions
    error, _ = _bounded(lambda: parse_upload("drawing.pdf", bomb, MB, 1000))
    assert isinstance(error, TextTooLongError) and "content streams unpack to 20 MiB" in error.message


def test_pdf_stream_past_pypdf_limits_is_over_the_limit_too() -> None:
    bomb = pdf_stream_bomb(100 * MB)  # more than pypdf inflates of one stream, whatever our budget
    error, _ = _bounded(lambda: parse_upload("drawing.pdf", bomb, MB, 50_000_000))
    assert isinstance(error, TextTooLongError) and "beyond what CORTEX reads" in error.message


def test_text_file_over_the_limit() -> None:
    with pytest.raises(TextTooLongError):
        parse_upload("long.md", b"# " + b"x" * 5000, MB, 4000)
