"""Load plain-text documents so that answer offsets index exactly the text a user sees."""

from __future__ import annotations

import codecs
import os
import re
from dataclasses import dataclass, field
from pathlib import Path

from assistant.core import files
from assistant.core.errors import DocumentError

DEFAULT_MAX_BYTES = 50 * 1024 * 1024
"""Largest document accepted by default; settable with ASSISTANT_MAX_DOCUMENT_BYTES or max_bytes."""
MAX_BYTES_LIMIT = 1024 * 1024 * 1024
"""The most ASSISTANT_MAX_DOCUMENT_BYTES may allow: past this, reading and indexing would not fit in memory."""
MAX_BYTES_ENV = "ASSISTANT_MAX_DOCUMENT_BYTES"

_BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32"),
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)


@dataclass(frozen=True)
class Document:
    """A document's text (universal newlines) and where it came from."""

    text: str
    path: Path | None = None
    encoding: str = "utf-8"
    line_starts: tuple[int, ...] = field(default=(), repr=False, compare=False)

    @classmethod
    def from_text(cls, text: str, path: Path | None = None, encoding: str = "utf-8") -> Document:
        starts = [0]
        pos = text.find("\n")
        while pos != -1:
            starts.append(pos + 1)
            pos = text.find("\n", pos + 1)
        return cls(text=text, path=path, encoding=encoding, line_starts=tuple(starts))

    @property
    def name(self) -> str:
        return self.path.name if self.path else "<text>"

    def line_of(self, offset: int) -> int:
        """1-based line number of a character offset."""
        from bisect import bisect_right

        return bisect_right(self.line_starts, offset)


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


def document_kind(limit: int) -> files.FileKind:
    return files.FileKind("text file", limit, DocumentError, MAX_BYTES_ENV)


def _looks_binary(raw: bytes) -> bool:
    sample = raw[:8192]
    if b"\x00" in sample:
        return True
    control = sum(1 for b in sample if b < 32 and b not in (9, 10, 12, 13, 27))
    return control > max(1, len(sample) // 100)


def _utf16_without_bom(raw: bytes) -> bool:
    """Text saved as UTF-16 with no BOM: NUL in most odd (LE) or even (BE) bytes, and it decodes."""
    sample = raw[:8192]
    sample = sample[: len(sample) // 2 * 2]
    if len(sample) < 4:
        return False
    for zeros, encoding in ((sample[1::2], "utf-16-le"), (sample[0::2], "utf-16-be")):
        if zeros.count(0) >= 0.6 * len(zeros):
            try:
                text = sample.decode(encoding)
            except UnicodeDecodeError:
                continue
            return sum(ch.isprintable() or ch.isspace() for ch in text) >= 0.95 * len(text)
    return False


def decode_bytes(raw: bytes) -> tuple[str, str]:
    """Decode document bytes: a UTF-16/32 BOM wins, then UTF-8, then cp1252, then latin-1.

    A UTF-8 BOM is kept as U+FEFF, as Python's text mode keeps it, so offsets match ``open(p).read()``.
    """
    for bom, encoding in _BOMS:
        if raw.startswith(bom):
            return raw.decode(encoding), encoding
    if _utf16_without_bom(raw):
        raise ValueError("utf-16 without bom")
    if _looks_binary(raw):
        raise ValueError("binary")
    return decode_text(raw)


def decode_text(raw: bytes) -> tuple[str, str]:
    """Text bytes with no BOM: UTF-8; else UTF-8 with its stray bytes read as cp1252; else cp1252; else latin-1."""
    try:
        return raw.decode("utf-8"), "utf-8"
    except UnicodeDecodeError:
        pass
    mixed = _utf8_with_stray_bytes(raw)
    if mixed is not None:
        return mixed, "utf-8 (with cp1252 bytes)"
    try:
        return raw.decode("cp1252"), "cp1252"
    except UnicodeDecodeError:
        return raw.decode("latin-1"), "latin-1"


_VALID_NON_ASCII = re.compile("[^\x00-\x7f\udc80-\udcff]")
_STRAY = re.compile("[\udc80-\udcff]")


def _stray_byte(byte: int) -> str:
    """One byte that is not UTF-8, read as cp1252 (latin-1 for the five bytes cp1252 leaves undefined)."""
    try:
        return bytes([byte]).decode("cp1252")
    except UnicodeDecodeError:
        return chr(byte)


def _utf8_with_stray_bytes(raw: bytes) -> str | None:
    """UTF-8 text holding a few bytes that are not (a pasted cp1252 quote pair), decoded as UTF-8 everywhere it is
    valid and each stray byte as cp1252; None when the text has no valid multi-byte UTF-8 (then it is cp1252)."""
    text = raw.decode("utf-8", errors="surrogateescape")
    if _VALID_NON_ASCII.search(text) is None:
        return None
    return _STRAY.sub(lambda m: _stray_byte(ord(m.group()) - 0xDC00), text)


def normalise_newlines(text: str) -> str:
    """What Python's text mode does with universal newlines."""
    return text.replace("\r\n", "\n").replace("\r", "\n")


def load_document(path: str | os.PathLike[str], max_bytes: int | None = None) -> Document:
    """Read a text file, or raise DocumentError with one sentence saying what is wrong."""
    p = files.user_path(path)
    limit = max_document_bytes() if max_bytes is None else max_bytes
    raw = files.read_bytes(p, document_kind(limit))
    try:
        text, encoding = decode_bytes(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        if str(exc) == "utf-16 without bom":
            raise DocumentError(
                f"{p} looks like UTF-16 without a byte-order mark; save it as UTF-8 (or UTF-16 with a BOM)."
            ) from None
        raise DocumentError(f"{p} looks like a binary file, not text.") from None
    text = normalise_newlines(text)
    if not text.strip():
        raise DocumentError(f"{p} is empty; there is nothing to ask about.")
    return Document.from_text(text, path=p, encoding=encoding)
