"""Load documents (text, Markdown, PDF, HTML, EPUB, DOCX, gzip) so that answer offsets index exactly the text a
user sees, and every offset maps back to its source: file, page, section, line."""

from __future__ import annotations

import os
from bisect import bisect_right
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

import numpy as np

from assistant.core import files
from assistant.core.errors import DocumentError
from assistant.core.formats.base import Extracted, Location, ProgressCallback

DEFAULT_MAX_BYTES = 50 * 1024 * 1024
"""Largest document accepted by default; settable with ASSISTANT_MAX_DOCUMENT_BYTES or max_bytes."""
MAX_BYTES_LIMIT = 1024 * 1024 * 1024
"""The most ASSISTANT_MAX_DOCUMENT_BYTES may allow: past this, reading and indexing would not fit in memory."""
MAX_BYTES_ENV = "ASSISTANT_MAX_DOCUMENT_BYTES"


FILE_SEPARATOR = "\n\n"
"""Between the files of a folder: a paragraph break, which passages and answers never cross."""


def _line_starts(text: str) -> tuple[int, ...]:
    """Offsets where lines start; counted by numpy over the code points (a folder's text is tens of megabytes)."""
    points = np.frombuffer(text.encode("utf-32-le", "surrogatepass"), dtype=np.uint32)
    return (0, *(np.flatnonzero(points == 10) + 1).tolist())


@dataclass(frozen=True)
class Part:
    """One file of what was opened: its stretch of the document's text and where each stretch of it came from."""

    start: int
    end: int
    name: str
    """As answers name it: the file's name (a folder's files: their path inside it)."""
    format: str = "text"
    locations: tuple[Location, ...] = ()
    """Absolute offsets, in order: from each ``start`` on, the text is on that page under that section."""


@dataclass(frozen=True)
class Place:
    """Where a span of the document is in its source: the file, its page and section, and the line and offsets
    within that file's extracted text (what ``assistant text FILE`` prints)."""

    path: str
    page: int | None
    section: str | None
    line: int
    start: int
    end: int

    def label(self, with_file: bool) -> str:
        """As the document pane's border names where the cursor is: ``museum.pdf · page 2 · Costs``; with the file,
        its line in that file too (the pane's own line numbers count the whole folder)."""
        bits = [self.path] if with_file else []
        bits += [f"page {self.page}"] if self.page is not None else []
        bits += [f"line {self.line}"] if with_file else []
        bits += [self.section] if self.section else []
        return " · ".join(bits)


@dataclass(frozen=True)
class Document:
    """A document's text (universal newlines), the files it came from and where each stretch of them is."""

    text: str
    path: Path | None = None
    encoding: str = "utf-8"
    parts: tuple[Part, ...] = field(default=(), repr=False, compare=False)

    @classmethod
    def from_text(
        cls,
        text: str,
        path: Path | None = None,
        encoding: str = "utf-8",
        format: str = "text",
        locations: tuple[Location, ...] = (),
    ) -> Document:
        part = Part(0, len(text), path.name if path else "<text>", format, locations)
        return cls(text=text, path=path, encoding=encoding, parts=(part,))

    @classmethod
    def from_files(cls, files_read: list[tuple[str, Extracted]], path: Path) -> Document:
        """Several files as one text: each after a blank line (a boundary no passage or answer crosses), each
        keeping its name and its places."""
        pieces: list[str] = []
        parts: list[Part] = []
        at = 0
        for name, extracted in files_read:
            if pieces:
                pieces.append(FILE_SEPARATOR)
                at += len(FILE_SEPARATOR)
            shifted = tuple(Location(loc.start + at, loc.page, loc.section) for loc in extracted.locations)
            parts.append(Part(at, at + len(extracted.text), name, extracted.format, shifted))
            pieces.append(extracted.text)
            at += len(extracted.text)
        text = "".join(pieces)
        return cls(text=text, path=path, parts=tuple(parts))

    @property
    def name(self) -> str:
        return self.path.name if self.path else "<text>"

    @property
    def format(self) -> str:
        return self.parts[0].format if len(self.parts) == 1 else "folder"

    @cached_property
    def line_starts(self) -> tuple[int, ...]:
        """Where each line starts: counted when a line is first asked for (a folder's text is tens of megabytes)."""
        return _line_starts(self.text)

    def line_of(self, offset: int) -> int:
        """1-based line number of a character offset."""
        return bisect_right(self.line_starts, offset)

    def span(self, path: str, start: int, end: int) -> tuple[int, int]:
        """A span of file ``path``'s text (an answer's ``start``/``end``) as a span of this document's text; an
        answer saved before answers named their file (``path`` empty) is of this document's text already."""
        part = next((p for p in self.parts if p.name == path), None) if path else None
        shift = part.start if part is not None else 0
        return start + shift, end + shift

    def part_at(self, offset: int) -> Part:
        """The file whose text holds ``offset``."""
        parts = self.parts or (Part(0, len(self.text), self.name),)
        return parts[max(0, bisect_right([p.start for p in parts], offset) - 1)]

    def place(self, start: int, end: int) -> Place:
        """Where ``text[start:end]`` came from."""
        part = self.part_at(start)
        at = bisect_right([loc.start for loc in part.locations], start) - 1
        location = part.locations[at] if at >= 0 else Location(part.start)
        line = self.line_of(start) - self.line_of(part.start) + 1
        return Place(part.name, location.page, location.section, line, start - part.start, end - part.start)


def max_document_bytes() -> int:
    """The document size cap: ``ASSISTANT_MAX_DOCUMENT_BYTES`` (1 byte to 1 GiB) or the default."""
    value = os.environ.get(MAX_BYTES_ENV, "").strip()
    if not value:
        return DEFAULT_MAX_BYTES
    try:
        limit = int(value)
    except ValueError:
        limit = 0
    if not 1 <= limit <= MAX_BYTES_LIMIT:
        raise DocumentError(
            f"{MAX_BYTES_ENV} must be a whole number of bytes from 1 to {MAX_BYTES_LIMIT:,} (1 GiB), "
            f"not {value[:40]!r}."
        )
    return limit


def document_file_kind(text_limit: int) -> files.FileKind:
    """A document's file: up to four times the text it may hold (a PDF's fonts and images, a DOCX's markup)."""
    cap = min(FILE_TIMES_TEXT * text_limit, MAX_BYTES_LIMIT)
    return files.FileKind(
        "document file", cap, DocumentError, f"{MAX_BYTES_ENV}, which a file may be {FILE_TIMES_TEXT} times"
    )


FILE_TIMES_TEXT = 4


def read_extracted(
    path: Path,
    max_bytes: int,
    *,
    password: str | None = None,
    progress: ProgressCallback | None = None,
    stopped: Callable[[], bool] | None = None,
) -> Extracted:
    """One file's text and places, by the loader its content calls for; an empty one is one sentence."""
    raw = files.read_bytes(path, document_file_kind(max_bytes))
    return extracted_from(raw, path, max_bytes, password=password, progress=progress, stopped=stopped)


def extracted_from(
    raw: bytes,
    path: Path,
    max_bytes: int,
    *,
    password: str | None = None,
    progress: ProgressCallback | None = None,
    stopped: Callable[[], bool] | None = None,
) -> Extracted:
    """:func:`read_extracted` of bytes already read (a folder's index reads a file once, to hash it as well)."""
    from assistant.core.formats.base import Request
    from assistant.core.formats.registry import extract

    extracted = extract(raw, Request(path, max_bytes, password, progress, stopped or (lambda: False)))
    if not extracted.text.strip():
        raise DocumentError(f"{path} is empty; there is nothing to ask about.")
    return extracted


def load_document(
    path: str | os.PathLike[str],
    max_bytes: int | None = None,
    *,
    password: str | None = None,
    progress: ProgressCallback | None = None,
    stopped: Callable[[], bool] | None = None,
) -> Document:
    """Read a document in any format the registry knows, or raise DocumentError with one sentence saying what is
    wrong (a folder: :func:`assistant.core.folders.open_path`). ``max_bytes`` caps the extracted text; a file itself
    may be up to four times that (a PDF's fonts and images), and a compressed file is inflated no further than it."""
    p = files.named_path(path)
    limit = max_document_bytes() if max_bytes is None else max_bytes
    extracted = read_extracted(p, limit, password=password, progress=progress, stopped=stopped)
    return Document.from_text(extracted.text, p, extracted.encoding, extracted.format, extracted.locations)
