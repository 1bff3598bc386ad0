"""EPUB: its chapters in spine order, each read by the HTML path, named by its title as the section's root.

An EPUB is a zip of XHTML chapters plus two XML files that say where they are (``META-INF/container.xml`` and
the package ``.opf``); those go through the one XML parser, the chapters through the HTML tokenizer, and every
entry through the capped zip reader.
"""

from __future__ import annotations

import codecs
import posixpath
from collections.abc import Iterator
from urllib.parse import unquote

from assistant.core.errors import DocumentError
from assistant.core.formats import safe_xml
from assistant.core.formats.archives import Zip
from assistant.core.formats.base import Extracted, Request, TextBuilder
from assistant.core.formats.html import read_html, title_of
from assistant.core.formats.text import decode_text

CONTAINER = "META-INF/container.xml"
_CHAPTER_TYPES = ("application/xhtml+xml", "text/html")


def _elements(data: bytes, where: str, wanted: str) -> list[dict[str, str]]:
    """The attributes of every ``wanted`` element in an XML file."""
    found: list[dict[str, str]] = []
    safe_xml.parse(data, where, lambda n, a: found.append(a) if n == wanted else None, lambda n: None, lambda t: None)
    return found


def _package_path(archive: Zip) -> str:
    roots = _elements(archive.read(CONTAINER), f"{archive.path} ({CONTAINER})", "rootfile")
    path = next((r.get("full-path", "") for r in roots if r.get("full-path")), "")
    if not path:
        raise DocumentError(f"{archive.path} names no package file in {CONTAINER}, so its chapters cannot be found.")
    return path


def spine(archive: Zip) -> list[str]:
    """The chapters' entry names, in reading order."""
    opf = _package_path(archive)
    data = archive.read(opf)
    where = f"{archive.path} ({opf})"
    manifest = {
        item.get("id", ""): item for item in _elements(data, where, "item") if item.get("media-type") in _CHAPTER_TYPES
    }
    base = posixpath.dirname(opf)
    chapters = []
    for ref in _elements(data, where, "itemref"):
        item = manifest.get(ref.get("idref", ""))
        if item and item.get("href"):
            chapters.append(posixpath.normpath(posixpath.join(base, unquote(item["href"].split("#")[0]))))
    return list(dict.fromkeys(chapters))


def _pieces(raw: bytes) -> Iterator[str]:
    """A chapter's markup (UTF-8, as EPUB requires) decoded a megabyte at a time: a chapter of many emoji costs
    four bytes a character only a megabyte at a time, never all at once."""
    decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
    for at in range(0, len(raw), PIECE_BYTES):
        yield decoder.decode(raw[at : at + PIECE_BYTES])
    yield decoder.decode(b"", final=True)


PIECE_BYTES = 1 << 20


class EpubLoader:
    name = "EPUB"
    suffixes = (".epub",)

    def sniff(self, raw: bytes) -> bool:
        return raw.startswith(b"PK\x03\x04") and b"application/epub+zip" in raw[:200]

    def extract(self, raw: bytes, request: Request) -> Extracted:
        archive = Zip.open(raw, request.path, 2 * request.text_cap + (1 << 20), "EPUB book")
        chapters = spine(archive)
        if not chapters:
            raise DocumentError(f"{request.path} has no chapters in its reading order, so there is nothing to read.")
        builder = TextBuilder(request, self.name)
        for n, name in enumerate(chapters):
            request.check_cancel()
            if request.progress:
                request.progress("reading", n / len(chapters))
            raw = archive.read(name)
            head = decode_text(raw[:65536])[0]
            read_html(_pieces(raw), builder, title_of(head) or posixpath.basename(name))
        return builder.build()
