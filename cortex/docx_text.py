"""The text of a .docx file, streamed: bounded memory and time whatever the archive unpacks to.

python-docx builds the whole XML tree in memory, so a 535 KB archive whose word/document.xml inflates
to 150 MB took 1.6 GB and minutes. Here the zip member is read in slices through expat (no tree), the
declared unpacked size is checked before anything is inflated, the bytes actually inflated are counted
(a lying header cannot help: zipfile stops at the declared size and then fails the CRC), and reading
stops at the first character over the text limit.
"""

from __future__ import annotations

import io
import zipfile
import zlib
from xml.parsers import expat

from cortex.errors import BadDocumentError, TextTooLongError

DOCUMENT_XML = "word/document.xml"
_W = "http://schemas.openxmlformats.org/wordprocessingml/2006/main "
_FALLBACK = "http://schemas.openxmlformats.org/markup-compatibility/2006 Fallback"
_SLICE = 64 * 1024
# WordprocessingML spends a few bytes of markup per character of text (runs, properties); 16 bytes of
# XML per allowed character is generous for real documents and still bounds a bomb. The floor covers
# the fixed part (namespaces, section properties) when the text limit is small.
XML_BYTES_PER_CHAR = 16
MIN_XML_BYTES = 2**20
_BREAKS = {_W + "tab": "\t", _W + "br": "\n", _W + "cr": "\n"}


def xml_budget(max_chars: int) -> int:
    """The most bytes of word/document.xml read for a text limit of `max_chars` characters."""
    return max(MIN_XML_BYTES, XML_BYTES_PER_CHAR * max_chars)


class _TextCollector:
    """Expat handlers: paragraphs one per line, table cells of a row joined by " | ", in document order."""

    def __init__(self, label: str, max_chars: int) -> None:
        self.label, self.max_chars = label, max_chars
        self.lines: list[str] = []
        self.size = 0
        self.elements = 0
        self._frames: list[tuple[str, list[str]]] = []  # open w:p, w:tc and w:tr, innermost last
        self._in_text = 0
        self._skipped = 0  # depth inside mc:Fallback, which repeats the text of its mc:Choice

    def start(self, name: str, _attrs: dict[str, str]) -> None:
        # Parsing costs per element, not per byte: a real document has several characters per element,
        # so as many elements as characters bounds the time of a markup-only bomb (<w:p/> a million times).
        self.elements += 1
        if self.elements > self.max_chars:
            raise TextTooLongError(
                f"{self.label}: its {DOCUMENT_XML} holds more than {self.max_chars:,} XML elements, more than "
                f"CORTEX_MAX_TEXT_CHARS={self.max_chars} allows",
                TextTooLongError.HINT,
            )
        if self._skipped or name == _FALLBACK:
            self._skipped += 1
            return
        if name == _W + "t":
            self._in_text += 1
        elif name in (_W + "p", _W + "tc", _W + "tr"):
            self._frames.append((name, []))
        elif name in _BREAKS:
            self.text(_BREAKS[name], markup=True)

    def end(self, name: str) -> None:
        if self._skipped:
            self._skipped -= 1
            return
        if name == _W + "t":
            self._in_text -= 1
        elif name == _W + "p":
            self._deliver("".join(self._frames.pop()[1]))
        elif name == _W + "tc":
            cell = "\n".join(self._frames.pop()[1])
            row = next((parts for kind, parts in reversed(self._frames) if kind == _W + "tr"), None)
            if row is not None:
                row.append(cell)
        elif name == _W + "tr":
            self._deliver(" | ".join(self._frames.pop()[1]))

    def text(self, data: str, markup: bool = False) -> None:
        if self._skipped or not (markup or self._in_text):
            return
        paragraph = next((parts for kind, parts in reversed(self._frames) if kind == _W + "p"), None)
        if paragraph is None:
            return
        self.size += len(data)
        if self.size > self.max_chars:
            raise TextTooLongError.over(self.label, self.max_chars)
        paragraph.append(data)

    def _deliver(self, line: str) -> None:
        """A finished paragraph or table row goes into the cell around it, else into the document."""
        self.size += 1  # its line break
        if self.size > self.max_chars:
            raise TextTooLongError.over(self.label, self.max_chars)
        cell = next((parts for kind, parts in reversed(self._frames) if kind == _W + "tc"), None)
        (self.lines if cell is None else cell).append(line)


def _no_doctype(*_: object) -> None:
    # Word never writes a DTD; refusing one rules out entity expansion of any kind.
    raise expat.ExpatError("a DTD in word/document.xml")


def _unreadable(label: str) -> BadDocumentError:
    return BadDocumentError(f"{label} is not a readable .docx file", "save it again from Word or LibreOffice")


def docx_text(data: bytes, label: str, max_chars: int) -> str:
    """The document's text; TextTooLongError past `max_chars`, BadDocumentError for a broken file."""
    budget = xml_budget(max_chars)
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            info = archive.getinfo(DOCUMENT_XML)
            if info.file_size > budget:
                raise TextTooLongError(
                    f"{label}: its text ({DOCUMENT_XML}) unpacks to {info.file_size / 2**20:.0f} MiB, more than "
                    f"the {budget / 2**20:.0f} MiB that CORTEX_MAX_TEXT_CHARS={max_chars} allows",
                    TextTooLongError.HINT,
                )
            collector = _TextCollector(label, max_chars)
            parser = expat.ParserCreate(namespace_separator=" ")
            parser.buffer_text = True  # one call per text node, not one per line or entity
            parser.StartElementHandler = collector.start
            parser.EndElementHandler = collector.end
            parser.CharacterDataHandler = collector.text
            parser.StartDoctypeDeclHandler = _no_doctype
            inflated = 0
            with archive.open(info) as member:
                while chunk := member.read(_SLICE):
                    inflated += len(chunk)
                    if inflated > budget:  # zipfile already stops at the declared size; this does not rely on it
                        raise TextTooLongError.over(label, max_chars)
                    parser.Parse(chunk, False)
            parser.Parse(b"", True)
    except (KeyError, zipfile.BadZipFile, zipfile.LargeZipFile, expat.ExpatError) as exc:
        raise _unreadable(label) from exc
    except (zlib.error, EOFError, NotImplementedError, RuntimeError, ValueError) as exc:
        raise _unreadable(label) from exc  # corrupt deflate data, unknown compression, encryption
    return "\n".join(collector.lines)
