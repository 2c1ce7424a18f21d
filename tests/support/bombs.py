"""Compression bombs: small .docx and .pdf files whose insides unpack to a size of the test's choosing."""

from __future__ import annotations

import io
import struct
import zipfile

_CONTENT_TYPES = (
    b'<?xml version="1.0" encoding="UTF-8"?>'
    b'<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
    b'<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
    b'<Default Extension="xml" ContentType="application/xml"/>'
    b'<Override PartName="/word/document.xml" '
    b'ContentType="application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml"/></Types>'
)
_RELS = (
    b'<?xml version="1.0" encoding="UTF-8"?>'
    b'<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
    b'<Relationship Id="rId1" Target="word/document.xml" '
    b'Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument"/></Relationships>'
)
_XML_HEAD = (
    b'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
    b'<w:document xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main"><w:body>'
)
_XML_TAIL = b"</w:body></w:document>"
_PARAGRAPH = b"<w:p><w:r><w:t>" + b"a" * 2**16 + b"</w:t></w:r></w:p>"


def docx_bomb(xml_size: int, unit: bytes = _PARAGRAPH) -> bytes:
    """A minimal .docx that python-docx opens, whose word/document.xml is about `xml_size` bytes of `unit`
    (by default paragraphs of text)."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as bomb:
        bomb.writestr("[Content_Types].xml", _CONTENT_TYPES)
        bomb.writestr("_rels/.rels", _RELS)
        with bomb.open("word/document.xml", "w", force_zip64=True) as member:
            member.write(_XML_HEAD)
            block = unit * max(1, 2**16 // len(unit))
            for _ in range(max(1, xml_size // len(block))):
                member.write(block)
            member.write(_XML_TAIL)
    return out.getvalue()


def understate_sizes(docx: bytes, member: str, declared: int) -> bytes:
    """The archive with `member`'s uncompressed size rewritten to `declared` in both of its headers."""
    data = bytearray(docx)
    name = member.encode()
    local = data.find(b"PK\x03\x04")
    while local != -1:
        name_len = struct.unpack_from("<H", data, local + 26)[0]
        if data[local + 30 : local + 30 + name_len] == name:
            struct.pack_into("<I", data, local + 22, declared)
        local = data.find(b"PK\x03\x04", local + 4)
    central = data.find(b"PK\x01\x02")
    while central != -1:
        name_len = struct.unpack_from("<H", data, central + 28)[0]
        if data[central + 46 : central + 46 + name_len] == name:
            struct.pack_into("<I", data, central + 24, declared)
        central = data.find(b"PK\x01\x02", central + 4)
    return bytes(data)


def pdf_stream_bomb(content_size: int) -> bytes:
    """A one-page PDF whose Flate-compressed content stream unpacks to `content_size` bytes of drawing."""
    from pypdf import PdfWriter
    from pypdf.generic import DecodedStreamObject, NameObject

    writer = PdfWriter()
    page = writer.add_blank_page(width=612, height=792)
    line = b"10 10 m 600 780 l S\n"
    stream = DecodedStreamObject()
    stream.set_data(line * (content_size // len(line)))
    page[NameObject("/Contents")] = writer._add_object(stream.flate_encode(level=9))
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()
