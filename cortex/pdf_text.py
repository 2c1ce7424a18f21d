"""The text of a PDF, page by page, with the work bounded by the text limit.

A PDF's content streams are compressed, so a small file can unpack to gigabytes of drawing
instructions that pypdf would parse in full. Before a page is extracted, the unpacked size of its
content streams (and of the form XObjects it draws) is added to a budget tied to the text limit; the
text itself is counted as pypdf produces it and extraction stops at the first character over the limit.
"""

from __future__ import annotations

import io
from typing import Any

from cortex.errors import BadDocumentError, TextTooLongError

# A page of text spends some 5-10 bytes of content stream per character (positioning, kerning); 16 bytes
# per allowed character leaves room for drawings and still bounds what pypdf is asked to parse.
CONTENT_BYTES_PER_CHAR = 16
MIN_CONTENT_BYTES = 2**20


def content_budget(max_chars: int) -> int:
    """The most unpacked content-stream bytes parsed for a text limit of `max_chars` characters."""
    return max(MIN_CONTENT_BYTES, CONTENT_BYTES_PER_CHAR * max_chars)


def _streams_size(page: Any) -> int:
    """Unpacked bytes of the page's content streams and of the form XObjects in its resources."""
    from pypdf.generic import ArrayObject, StreamObject

    contents = page.get("/Contents")
    target = contents.get_object() if contents is not None else None
    streams = list(target) if isinstance(target, ArrayObject) else [target]
    resources = page.get("/Resources")
    xobjects = resources.get_object().get("/XObject") if resources is not None else None
    if xobjects is not None:
        streams += [x for x in xobjects.get_object().values() if x.get_object().get("/Subtype") == "/Form"]
    size = 0
    for ref in streams:
        stream = ref.get_object() if ref is not None else None
        if isinstance(stream, StreamObject):
            size += len(stream.get_data())  # pypdf keeps the decoded data, so extraction does not inflate it again
    return size


class _Counter:
    """pypdf's text visitor: stops extraction once the document's text passes the limit."""

    def __init__(self, label: str, max_chars: int, used: int) -> None:
        self.label, self.max_chars, self.used = label, max_chars, used

    def __call__(self, text: str, *_: Any) -> None:
        self.used += len(text)
        if self.used > self.max_chars:
            raise TextTooLongError.over(self.label, self.max_chars)


def pdf_pages(data: bytes, label: str, max_chars: int) -> list[str]:
    """The text of every page; TextTooLongError past the limits, BadDocumentError for a broken file."""
    from pypdf import PdfReader, errors
    from pypdf.errors import PyPdfError

    beyond_pypdf = getattr(errors, "LimitReachedError", ())  # pypdf's own caps on one stream (75 MB)

    budget, parsed, used = content_budget(max_chars), 0, 0
    pages: list[str] = []
    try:
        reader = PdfReader(io.BytesIO(data))
        for number, page in enumerate(reader.pages, start=1):
            parsed += _streams_size(page)
            if parsed > budget:
                raise TextTooLongError(
                    f"{label}: up to page {number} its content streams unpack to {parsed / 2**20:.0f} MiB, more "
                    f"than the {budget / 2**20:.0f} MiB that CORTEX_MAX_TEXT_CHARS={max_chars} allows",
                    TextTooLongError.HINT,
                )
            counter = _Counter(label, max_chars, used)
            pages.append(page.extract_text(visitor_text=counter) or "")
            used = max(counter.used, used + len(pages[-1]))
            if used > max_chars:
                raise TextTooLongError.over(label, max_chars)
    except beyond_pypdf as exc:
        raise TextTooLongError(
            f"{label}: a stream unpacks beyond what CORTEX reads ({str(exc)[:200]})", TextTooLongError.HINT
        ) from exc
    except (PyPdfError, ValueError, KeyError, TypeError, AttributeError, OSError, RecursionError) as exc:
        raise BadDocumentError(
            f"{label} is not a readable PDF ({str(exc)[:200]})",
            "check that the file opens in a PDF viewer, or export it again",
        ) from exc
    return pages
