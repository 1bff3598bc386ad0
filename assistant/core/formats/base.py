"""What every format's loader returns, and the one interface a loader has.

A loader turns a file's bytes into the text a user sees (the document pane, ``assistant text``) and that answer
offsets index exactly, plus a map from offsets to the source's own places: the page of a PDF, the heading path
of HTML, EPUB, DOCX and Markdown. Adding a format is one module with one :class:`Loader` and one registry line.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from assistant.core.errors import DocumentError
from assistant.core.files import format_bytes

ProgressCallback = Callable[[str, float], None]


class Cancelled(DocumentError):
    """The user stopped a long extraction."""


@dataclass(frozen=True)
class Location:
    """From ``start`` on (an offset into the extracted text), the text is on ``page`` under ``section``."""

    start: int
    page: int | None = None
    section: str | None = None


@dataclass(frozen=True)
class Extracted:
    """A file's text as read, and where each stretch of it came from."""

    text: str
    format: str
    """As messages name it: "PDF", "HTML", "text"."""
    locations: tuple[Location, ...] = ()
    encoding: str = "utf-8"


@dataclass
class Request:
    """What a loader is given besides the bytes: whose they are and what it may spend."""

    path: Path
    text_cap: int
    """The most bytes (UTF-8) of extracted text; past it the file is refused, whatever its size on disk."""
    password: str | None = None
    progress: ProgressCallback | None = None
    stopped: Callable[[], bool] = field(default=lambda: False)
    """Asked between pages and chapters: true when the user no longer wants the file (a new one was opened)."""

    def check_cancel(self) -> None:
        if self.stopped():
            raise Cancelled(f"Reading {self.path} was stopped.")

    def over_cap(self) -> DocumentError:
        return DocumentError(
            f"The text of {self.path} is over the {format_bytes(self.text_cap)} limit for a document "
            "(raise it with ASSISTANT_MAX_DOCUMENT_BYTES)."
        )


class Loader(Protocol):
    """One format: how to tell its files by content, and how to read them."""

    @property
    def name(self) -> str:
        """As messages name the format: "PDF", "EPUB"."""
        ...

    @property
    def suffixes(self) -> tuple[str, ...]:
        """The name endings of its files, for file dialogs and for refusing a file that is not what it is named."""
        ...

    def sniff(self, raw: bytes) -> bool:
        """Whether ``raw`` is this format's, by content (a file's name can lie)."""
        ...

    def extract(self, raw: bytes, request: Request) -> Extracted: ...


class TextBuilder:
    """Extracted text assembled block by block: blocks are paragraphs (a blank line between them, the boundary
    passages and answers respect), and each page or section change is recorded where it begins."""

    def __init__(self, request: Request, format_name: str) -> None:
        self.request = request
        self.format = format_name
        self.parts: list[str] = []
        self.length = 0
        self.size = 0
        self.locations: list[Location] = []
        self.page: int | None = None
        self.section: str | None = None

    def page_starts(self, page: int) -> None:
        """What follows is on ``page``."""
        self.page = page

    def section_starts(self, section: str | None) -> None:
        """What follows is under ``section`` (a heading path; None: under no heading)."""
        self.section = section

    def block(self, text: str, separator: str = "\n\n") -> None:
        """Add a paragraph (blank-line separated from the last); a block of only spaces adds nothing."""
        text = text.strip()
        if not text:
            return
        if self.parts:
            self._add(separator)
        here = Location(self.length, self.page, self.section)
        if not self.locations or (self.locations[-1].page, self.locations[-1].section) != (here.page, here.section):
            self.locations.append(here)
        self._add(text)

    def _add(self, text: str) -> None:
        self.size += len(text.encode("utf-8", "surrogatepass"))
        if self.size > self.request.text_cap:
            raise self.request.over_cap()
        self.parts.append(text)
        self.length += len(text)

    def build(self, encoding: str = "utf-8") -> Extracted:
        return Extracted("".join(self.parts), self.format, tuple(self.locations), encoding)
