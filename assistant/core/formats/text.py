"""Plain text (and Markdown, whose headings give sections): decoded as Python's text mode would, so offsets match
``open(path).read()``; the encoding is found from the bytes (a BOM, UTF-8, cp1252), never assumed."""

from __future__ import annotations

import codecs
import re

from assistant.core.errors import DocumentError
from assistant.core.formats.base import Extracted, Location, Request

_BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32"),
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)


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


_ATX = re.compile(r" {0,3}(#{1,6})(?:[ \t]+(.*?))?[ \t]*(?:(?<=[ \t])#+[ \t]*)?")
_FENCE = re.compile(r" {0,3}(`{3,}|~{3,})(.*)")
_SETEXT = re.compile(r" {0,3}(=+|-+)[ \t]*")


class _Sections:
    """CommonMark's headings, line by line: ATX (``## Title``) and setext (a line underlined with ``===`` or
    ``---``), never inside fenced code (closed only by a fence of its own character, at least as long)."""

    def __init__(self) -> None:
        self.fence: str | None = None
        self.path: list[tuple[int, str]] = []
        self.locations: list[Location] = []
        self.previous: tuple[int, str] | None = None
        """The line before, while it can be a setext heading's text: its offset and its text."""

    def line(self, at: int, line: str) -> None:
        fence = _FENCE.fullmatch(line)
        if self.fence is not None:
            if (
                fence
                and fence.group(1)[0] == self.fence[0]
                and len(fence.group(1)) >= len(self.fence)
                and not fence.group(2).strip()
            ):
                self.fence = None
            return
        if fence and not (fence.group(1)[0] == "`" and "`" in fence.group(2)):
            self.fence, self.previous = fence.group(1), None
            return
        atx = _ATX.fullmatch(line)
        setext = _SETEXT.fullmatch(line)
        if atx:
            self._heading(at, len(atx.group(1)), atx.group(2) or "")
        elif setext and self.previous is not None:
            self._heading(self.previous[0], 1 if setext.group(1)[0] == "=" else 2, self.previous[1])
        self.previous = (at, line) if line.strip() and not atx and not setext and not line.startswith("    ") else None

    def _heading(self, at: int, level: int, title: str) -> None:
        title = title.strip()
        self.path = [(lv, t) for lv, t in self.path if lv < level] + ([(level, title)] if title else [])
        self.locations.append(Location(at, None, " › ".join(t for _, t in self.path) or None))


def markdown_sections(text: str) -> tuple[Location, ...]:
    """Where each Markdown heading's section begins, named by its heading path ("Install › On Linux")."""
    sections = _Sections()
    at = 0
    for line in text.split("\n"):
        sections.line(at, line.lstrip("\ufeff") if at == 0 else line)
        at += len(line) + 1
    return tuple(sections.locations)


class TextLoader:
    name = "text"
    suffixes = (".txt", ".md", ".markdown", ".rst", ".text", "")

    def sniff(self, raw: bytes) -> bool:
        return True  # the last resort: anything no other loader claims is read as text, or refused as binary

    def extract(self, raw: bytes, request: Request) -> Extracted:
        p = request.path
        try:
            text, encoding = decode_bytes(raw)
        except (ValueError, UnicodeDecodeError) as exc:
            if str(exc) == "utf-16 without bom":
                raise DocumentError(
                    f"{p} looks like UTF-16 without a byte-order mark; save it as UTF-8 (or UTF-16 with a BOM)."
                ) from None
            raise DocumentError(f"{p} looks like a binary file, not text nor a format this program reads.") from None
        text = normalise_newlines(text)
        if len(text.encode("utf-8", "surrogatepass")) > request.text_cap:
            raise request.over_cap()
        markdown = p.suffix.lower() in (".md", ".markdown")
        return Extracted(
            text, "Markdown" if markdown else "text", markdown_sections(text) if markdown else (), encoding
        )
