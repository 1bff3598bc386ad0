"""Load plain-text documents so that answer offsets index exactly the text a user sees."""

from __future__ import annotations

import codecs
import os
import stat
from dataclasses import dataclass, field
from pathlib import Path

from assistant.core.errors import DocumentError

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
    for encoding in ("utf-8", "cp1252"):
        try:
            return raw.decode(encoding), encoding
        except UnicodeDecodeError:
            continue
    return raw.decode("latin-1"), "latin-1"


def normalise_newlines(text: str) -> str:
    """What Python's text mode does with universal newlines."""
    return text.replace("\r\n", "\n").replace("\r", "\n")


def _read_limited(p: Path, limit: int) -> bytes:
    """At most ``limit + 1`` bytes of a regular file: devices, FIFOs and sockets never reach ``read``."""
    try:
        info = p.stat()
        if not stat.S_ISREG(info.st_mode):
            raise DocumentError(f"{p} is not a regular file (a device, pipe or socket); give the path of a text file.")
        if info.st_size > limit:
            raise DocumentError(
                f"{p} is {info.st_size / 1e6:.1f} MB, over the {limit / 1e6:.1f} MB limit "
                "(raise it with ASSISTANT_MAX_DOCUMENT_BYTES)."
            )
        with p.open("rb") as fh:  # st_size can lie (/proc, growing files): read with a cap regardless
            raw = fh.read(limit + 1)
    except PermissionError:
        raise DocumentError(f"Permission denied reading {p}.") from None
    except OSError as exc:
        raise DocumentError(f"Could not read {p}: {exc.strerror or exc}.") from None
    if len(raw) > limit:
        raise DocumentError(f"{p} is over the {limit / 1e6:.1f} MB limit (raise it with ASSISTANT_MAX_DOCUMENT_BYTES).")
    return raw


def load_document(path: str | os.PathLike[str], max_bytes: int | None = None) -> Document:
    """Read a text file, or raise DocumentError with one sentence saying what is wrong."""
    p = Path(path).expanduser()
    limit = max_document_bytes() if max_bytes is None else max_bytes
    try:
        exists, is_dir = p.exists(), p.is_dir()
    except OSError as exc:  # a name too long, a path through a file
        raise DocumentError(f"Could not open {p}: {exc.strerror or exc}.") from None
    if not exists:
        raise DocumentError(f"No such file: {p}.")
    if is_dir:
        raise DocumentError(f"{p} is a directory; give the path of a text file.")
    raw = _read_limited(p, limit)
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
