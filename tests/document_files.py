"""Small documents of every format, written by the tests themselves (no downloads): a PDF writer of a few lines,
DOCX and EPUB as the zips of XML they are, and hostile variants of each."""

from __future__ import annotations

import gzip
import io
import zipfile
import zlib
from collections.abc import Sequence


def _pdf_string(text: str) -> str:
    return "(" + text.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)") + ")"


def pdf_bytes(pages: Sequence[Sequence[str]], *, columns: Sequence[Sequence[str]] | None = None) -> bytes:
    """A PDF with one page per item, each line of text drawn in Helvetica from the top; an empty page draws a
    filled square and no text (a scan has no text layer). ``columns`` adds a page with two columns of lines."""
    streams = []
    for lines in pages:
        if not lines:
            streams.append("0 0 0 rg 100 100 200 200 re f")
            continue
        ops = [f"BT /F1 11 Tf 72 {760 - 16 * i} Td {_pdf_string(line)} Tj ET" for i, line in enumerate(lines)]
        streams.append("\n".join(ops))
    if columns is not None:
        left, right = columns
        ops = [f"BT /F1 11 Tf 40 {760 - 16 * i} Td {_pdf_string(line)} Tj ET" for i, line in enumerate(left)]
        ops += [f"BT /F1 11 Tf 320 {760 - 16 * i} Td {_pdf_string(line)} Tj ET" for i, line in enumerate(right)]
        streams.append("\n".join(ops))
    n = len(streams)
    kids = " ".join(f"{4 + 2 * i} 0 R" for i in range(n))
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        f"<< /Type /Pages /Kids [{kids}] /Count {n} >>".encode(),
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>",
    ]
    for i, stream in enumerate(streams):
        data = stream.encode("latin-1")
        objects.append(_PAGE % (5 + 2 * i))
        objects.append(b"<< /Length %d >>\nstream\n%s\nendstream" % (len(data), data))
    return _assemble(objects)


_PAGE = (
    b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Resources << /Font << /F1 3 0 R >> >> /Contents %d 0 R >>"
)


def _assemble(objects: Sequence[bytes]) -> bytes:
    """A PDF file of these objects (numbered from 1), with its cross-reference table."""
    out = io.BytesIO()
    out.write(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(out.tell())
        out.write(b"%d 0 obj\n%s\nendobj\n" % (number, body))
    xref = out.tell()
    out.write(b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1))
    for offset in offsets:
        out.write(b"%010d 00000 n \n" % offset)
    out.write(b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref))
    return out.getvalue()


def flate_bomb_pdf(inflated: int) -> bytes:
    """One page whose content stream inflates to ``inflated`` bytes of spaces from about a thousandth of that."""
    packer = zlib.compressobj(9)
    parts = [packer.compress(b"BT /F1 11 Tf 72 700 Td (hello) Tj ET\n")]
    block = b" " * (1 << 20)
    parts += [packer.compress(block) for _ in range(inflated >> 20)]
    stream = b"".join([*parts, packer.flush()])
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [4 0 R] /Count 1 >>",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
        _PAGE % 5,
        b"<< /Length %d /Filter /FlateDecode >>\nstream\n%s\nendstream" % (len(stream), stream),
    ]
    return _assemble(objects)


def encrypted_pdf(plain: bytes, password: str) -> bytes:
    """``plain`` protected with ``password`` (RC4, which pypdf writes with no other library)."""
    import pypdf

    writer = pypdf.PdfWriter(clone_from=pypdf.PdfReader(io.BytesIO(plain)))
    writer.encrypt(user_password=password, owner_password=password, algorithm="RC4-128")
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


W = 'xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main"'
CONTENT_TYPES = (
    '<?xml version="1.0"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
    '<Override PartName="/word/document.xml" ContentType="application/vnd.openxmlformats-officedocument.'
    'wordprocessingml.document.main+xml"/></Types>'
)


def docx_paragraph(text: str, style: str | None = None) -> str:
    props = f'<w:pPr><w:pStyle w:val="{style}"/></w:pPr>' if style else ""
    return f'<w:p>{props}<w:r><w:t xml:space="preserve">{text}</w:t></w:r></w:p>'


def docx_table(rows: Sequence[Sequence[str]]) -> str:
    cells = "".join(
        "<w:tr>" + "".join(f"<w:tc>{docx_paragraph(cell)}</w:tc>" for cell in row) + "</w:tr>" for row in rows
    )
    return f"<w:tbl>{cells}</w:tbl>"


def docx_bytes(body: str, *, prolog: str = '<?xml version="1.0" encoding="UTF-8"?>') -> bytes:
    """A .docx whose body is ``body`` (paragraphs and tables made above); ``prolog`` may plant a DTD."""
    document = f"{prolog}<w:document {W}><w:body>{body}</w:body></w:document>"
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("[Content_Types].xml", CONTENT_TYPES)
        z.writestr("word/document.xml", document)
    return out.getvalue()


def zip_bomb_docx(inflated: int) -> bytes:
    """A .docx whose body inflates to ``inflated`` bytes of zeros from a few kilobytes."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as z:
        z.writestr("[Content_Types].xml", CONTENT_TYPES)
        with z.open("word/document.xml", "w") as entry:
            block = b"\0" * (1 << 20)
            for _ in range(inflated >> 20):
                entry.write(block)
    return out.getvalue()


def epub_bytes(chapters: Sequence[tuple[str, str]], *, opf_prolog: str = "") -> bytes:
    """An EPUB of (title, XHTML body) chapters in that reading order; ``opf_prolog`` may plant a DTD."""
    items = "".join(  # listed (and stored) backwards: the reading order is the spine's alone
        f'<item id="c{i}" href="text/ch{i}.xhtml" media-type="application/xhtml+xml"/>'
        for i in reversed(range(len(chapters)))
    )
    spine = "".join(f'<itemref idref="c{i}"/>' for i in range(len(chapters)))
    opf = (
        f'<?xml version="1.0"?>{opf_prolog}<package xmlns="http://www.idpf.org/2007/opf" version="3.0">'
        f"<manifest>{items}</manifest><spine>{spine}</spine></package>"
    )
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as z:
        z.writestr("mimetype", "application/epub+zip", compress_type=zipfile.ZIP_STORED)
        z.writestr(
            "META-INF/container.xml",
            '<?xml version="1.0"?><container xmlns="urn:oasis:names:tc:opendocument:xmlns:container" version="1.0">'
            '<rootfiles><rootfile full-path="OEBPS/content.opf" media-type="application/oebps-package+xml"/>'
            "</rootfiles></container>",
            compress_type=zipfile.ZIP_DEFLATED,
        )
        z.writestr("OEBPS/content.opf", opf, compress_type=zipfile.ZIP_DEFLATED)
        for i, (title, body) in enumerate(reversed(chapters)):
            index = len(chapters) - 1 - i
            z.writestr(
                f"OEBPS/text/ch{index}.xhtml",
                '<?xml version="1.0" encoding="utf-8"?>\n<!DOCTYPE html>\n'
                f'<html xmlns="http://www.w3.org/1999/xhtml"><head><title>{title}</title></head>'
                f"<body>{body}</body></html>",
                compress_type=zipfile.ZIP_DEFLATED,
            )
    return out.getvalue()


def gz_bytes(data: bytes) -> bytes:
    return gzip.compress(data, mtime=0)


def gz_bomb(inflated: int) -> bytes:
    out = io.BytesIO()
    with gzip.GzipFile(fileobj=out, mode="wb", mtime=0) as stream:
        block = b"a" * (1 << 20)
        for _ in range(inflated >> 20):
            stream.write(block)
    return out.getvalue()


BILLION_LAUGHS = (
    '<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">'
    + "".join(f'<!ENTITY lol{i} "{("&lol" + str(i - 1) + ";") * 10 if i > 1 else "&lol;" * 10}">' for i in range(1, 10))
    + "]>"
)


def xxe_prolog(target: str) -> str:
    """A DTD declaring ``&xxe;`` as the content of ``target`` (a ``file://`` URL)."""
    return f'<?xml version="1.0"?><!DOCTYPE w:document [<!ENTITY xxe SYSTEM "{target}">]>'
