"""Word documents (.docx): paragraphs in order, headings as sections, tables row by row (cells apart by a tab).

A .docx is a zip of XML parts; only ``word/document.xml`` is read, through the capped zip reader and the one XML
parser (no DTD, no entities), so neither a zip bomb nor an entity attack gets further than one sentence.
"""

from __future__ import annotations

import re

from assistant.core.formats import safe_xml
from assistant.core.formats.archives import Zip
from assistant.core.formats.base import Extracted, Request, TextBuilder

BODY = "word/document.xml"
_HEADING_STYLE = re.compile(r"(?i)^heading\s*([1-9])$")


class _Body:
    """Turns the body's elements into blocks: a paragraph's runs, a table's cells and rows."""

    def __init__(self, builder: TextBuilder) -> None:
        self.builder = builder
        self.runs: list[str] = []
        self.in_text = False
        self.level: int | None = None
        self.tables = 0
        self.cells: list[str] = []
        self.rows_in_cell: list[str] = []
        self.rows: list[str] = []
        self.path: list[tuple[int, str]] = []

    def start(self, name: str, attrs: dict[str, str]) -> None:
        if name == "t":
            self.in_text = True
        elif name == "tab":
            self.runs.append("\t")
        elif name in ("br", "cr"):
            self.runs.append("\n")
        elif name == "pStyle":
            self.level = _style_level(attrs.get("val", ""))
        elif name == "tbl":
            self.tables += 1
        elif name == "p":
            self.runs, self.level = [], None

    def end(self, name: str) -> None:
        if name == "t":
            self.in_text = False
        elif name == "p":
            self._paragraph("".join(self.runs).strip())
            self.runs = []
        elif name == "tc":
            self.cells.append(" ".join(self.rows_in_cell))
            self.rows_in_cell = []
        elif name == "tr":
            self.rows.append("\t".join(self.cells))
            self.cells = []
        elif name == "tbl":
            self.tables -= 1
            if not self.tables:
                self.builder.block("\n".join(self.rows))
                self.rows = []

    def _paragraph(self, text: str) -> None:
        if self.tables:
            if text:
                self.rows_in_cell.append(text)
            return
        if self.level is not None and text:
            self.path = [(lv, t) for lv, t in self.path if lv < self.level] + [(self.level, text)]
            self.builder.section_starts(" › ".join(t for _, t in self.path))
        self.builder.block(text)

    def text(self, data: str) -> None:
        if self.in_text:
            self.runs.append(data)


def _style_level(style: str) -> int | None:
    if style.lower() == "title":
        return 0  # above every heading
    m = _HEADING_STYLE.match(style)
    return int(m.group(1)) if m else None


class DocxLoader:
    name = "DOCX"
    suffixes = (".docx",)

    def sniff(self, raw: bytes) -> bool:
        return raw.startswith(b"PK\x03\x04") and b"word/" in raw[:65536] and b"[Content_Types].xml" in raw

    def extract(self, raw: bytes, request: Request) -> Extracted:
        archive = Zip.open(raw, request.path, 4 * request.text_cap + (1 << 20), "Word document")
        builder = TextBuilder(request, self.name)
        body = _Body(builder)
        safe_xml.parse(archive.read(BODY), f"{request.path} ({BODY})", body.start, body.end, body.text)
        return builder.build()
