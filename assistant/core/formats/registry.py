"""Which loader reads a file: the first whose ``sniff`` claims its bytes (content decides, not the name), with
plain text last. A name that promises a format its content is not (``report.pdf`` holding HTML) is refused,
since reading it as something else would be silently wrong."""

from __future__ import annotations

from pathlib import Path

from assistant.core.errors import DocumentError
from assistant.core.formats.base import Extracted, Loader, Request
from assistant.core.formats.docx import DocxLoader
from assistant.core.formats.epub import EpubLoader
from assistant.core.formats.gz import GzipLoader
from assistant.core.formats.html import HtmlLoader
from assistant.core.formats.pdf import PdfLoader
from assistant.core.formats.text import TextLoader

LOADERS: tuple[Loader, ...] = (PdfLoader(), GzipLoader(), EpubLoader(), DocxLoader(), HtmlLoader(), TextLoader())
"""In the order they are tried; one line per format."""
BINARY_SUFFIXES = tuple(s for loader in LOADERS[:-2] for s in loader.suffixes)
"""Names that promise a format whose content is not text: such a file must be that format."""


def loader_for(raw: bytes, path: Path) -> Loader:
    """The loader that claims ``raw``; a name promising a binary format its content is not is one sentence."""
    loader = next(loader for loader in LOADERS if loader.sniff(raw))
    suffix = path.suffix.lower()
    if suffix in BINARY_SUFFIXES and suffix not in loader.suffixes:
        promised = next(other.name for other in LOADERS if suffix in other.suffixes)
        raise DocumentError(f"{path}: its name says {promised}, but its content is not (damaged or renamed?).")
    return loader


def extract_inner(raw: bytes, request: Request, outer: Path) -> Extracted:
    """What a compressed file holds, read by its own loader (a gzip inside a gzip is refused)."""
    loader = loader_for(raw, request.path)
    if loader.name == "gzip":
        raise DocumentError(f"{outer} is compressed twice; decompress it once and open what it holds.")
    return loader.extract(raw, request)


def extract(raw: bytes, request: Request) -> Extracted:
    return loader_for(raw, request.path).extract(raw, request)


def suffixes() -> tuple[str, ...]:
    """Every name ending a loader claims, for file dialogs and help."""
    return tuple(s for loader in LOADERS for s in loader.suffixes if s)
