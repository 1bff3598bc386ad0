"""Compressed containers read with a cap: a zip (DOCX, EPUB) entry or a gzip stream is inflated a chunk at a
time and refused as soon as it passes its share, so a bomb costs the cap, never the size it claims or inflates to."""

from __future__ import annotations

import gzip
import io
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path

from assistant.core.errors import DocumentError
from assistant.core.files import MiB, format_bytes

CHUNK = 1 * MiB
MAX_ENTRIES = 20_000
"""A zip with more entries than this is refused before any is read."""


def _bomb(path: Path, what: str, cap: int) -> DocumentError:
    return DocumentError(f"{path}: {what} inflates past {format_bytes(cap)}, so it is not read (a zip bomb?).")


def _read_capped(stream: io.BufferedIOBase, cap: int) -> bytes | None:
    """At most ``cap`` bytes of ``stream``; None when it holds more."""
    out = bytearray()
    while True:
        chunk = stream.read(min(CHUNK, cap + 1 - len(out)))
        if not chunk:
            return bytes(out)
        out += chunk
        if len(out) > cap:
            return None


def gunzip(raw: bytes, path: Path, cap: int) -> bytes:
    """The bytes a gzip file holds (every member), at most ``cap``."""
    try:
        with gzip.GzipFile(fileobj=io.BytesIO(raw)) as stream:
            data = _read_capped(stream, cap)
    except (OSError, EOFError, zlib.error):
        raise DocumentError(f"{path} is a damaged or truncated gzip file.") from None
    if data is None:
        raise _bomb(path, "its content", cap)
    return data


@dataclass
class Zip:
    """A zip archive whose entries are read with one budget for them all."""

    archive: zipfile.ZipFile
    path: Path
    budget: int

    @classmethod
    def open(cls, raw: bytes, path: Path, budget: int, noun: str) -> Zip:
        try:
            archive = zipfile.ZipFile(io.BytesIO(raw))
        except (zipfile.BadZipFile, OSError, ValueError, EOFError):
            raise DocumentError(f"{path} is a damaged {noun} (not a readable zip archive).") from None
        if len(archive.infolist()) > MAX_ENTRIES:
            raise DocumentError(f"{path} holds more than {MAX_ENTRIES:,} zip entries, so it is not read.")
        return cls(archive, path, budget)

    def names(self) -> set[str]:
        return set(self.archive.namelist())

    def read(self, name: str) -> bytes:
        """One entry, charged to the budget; a missing, encrypted or damaged one is one sentence."""
        try:
            with self.archive.open(name) as stream:
                data = _read_capped(stream, self.budget)  # type: ignore[arg-type]
        except KeyError:
            raise DocumentError(f"{self.path} has no {name} inside, so it cannot be read.") from None
        except RuntimeError:  # an encrypted entry
            raise DocumentError(f"{self.path} is password-protected; it cannot be read.") from None
        except (zipfile.BadZipFile, OSError, EOFError, zlib.error, NotImplementedError, ValueError):
            raise DocumentError(f"{self.path} is damaged ({name} inside cannot be inflated).") from None
        if data is None:
            raise _bomb(self.path, name, self.budget)
        self.budget -= len(data)
        return data
