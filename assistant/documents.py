"""Load plain-text documents so that answer offsets index exactly the text a user sees."""

from __future__ import annotations

import codecs
import os
from dataclasses import dataclass, field
from pathlib import Path

from assistant.errors import DocumentError

DEFAULT_MAX_BYTES = 50 * 1024 * 1024
"""Largest document accepted by default; settable with ASSISTANT_MAX_DOCUMENT_BYTES or max_bytes."""

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
    value = os.environ.get("ASSISTANT_MAX_DOCUMENT_BYTES")
    if value:
        try:
            return int(value)
        except ValueError:
            raise DocumentError(
                f"ASSISTANT_MAX_DOCUMENT_BYTES must be a whole number of bytes, not {value!r}."
            ) from None
    return DEFAULT_MAX_BYTES


def _looks_binary(raw: bytes) -> bool:
    sample = raw[:8192]
    if b"\x00" in sample:
        return True
    control = sum(1 for b in sample if b < 32 and b not in (9, 10, 12, 13, 27))
    return control > max(1, len(sample) // 100)


def decode_bytes(raw: bytes) -> tuple[str, str]:
    """Decode document bytes: a UTF-16/32 BOM wins, then UTF-8, then cp1252, then latin-1.

    A UTF-8 BOM is kept as U+FEFF, as Python's text mode keeps it, so offsets match ``open(p).read()``.
    """
    for bom, encoding in _BOMS:
        if raw.startswith(bom):
            return raw.decode(encoding), encoding
    if _looks_binary(raw):
        raise ValueError("binary")
    for encoding in ("utf-8", "cp1252"):
        try:
            return raw.decode(encoding), encoding
        except UnicodeDecodeError:
            continue
    return raw.decode("latin-1"), "latin-1"


def normalise_newlines(text: str) -> str:
    """What Python's text mode does with universal newlines."""
    return text.replace("\r\n", "\n").replace("\r", "\n")


def load_document(path: str | os.PathLike[str], max_bytes: int | None = None) -> Document:
    """Read a text file, or raise DocumentError with one sentence saying what is wrong."""
    p = Path(path).expanduser()
    limit = max_document_bytes() if max_bytes is None else max_bytes
    if not p.exists():
        raise DocumentError(f"No such file: {p}.")
    if p.is_dir():
        raise DocumentError(f"{p} is a directory; give the path of a text file.")
    try:
        size = p.stat().st_size
        if size > limit:
            raise DocumentError(
                f"{p} is {size / 1e6:.1f} MB, over the {limit / 1e6:.1f} MB limit "
                "(raise it with ASSISTANT_MAX_DOCUMENT_BYTES)."
            )
        raw = p.read_bytes()
    except PermissionError:
        raise DocumentError(f"Permission denied reading {p}.") from None
    except OSError as exc:
        raise DocumentError(f"Could not read {p}: {exc.strerror or exc}.") from None
    if len(raw) > limit:
        raise DocumentError(f"{p} is over the {limit / 1e6:.1f} MB limit (raise it with ASSISTANT_MAX_DOCUMENT_BYTES).")
    try:
        text, encoding = decode_bytes(raw)
    except (ValueError, UnicodeDecodeError):
        raise DocumentError(f"{p} looks like a binary file, not text.") from None
    text = normalise_newlines(text)
    if not text.strip():
        raise DocumentError(f"{p} is empty; there is nothing to ask about.")
    return Document.from_text(text, path=p, encoding=encoding)
