"""Where a folder's saved index lives: one SQLite database per folder and index settings, in the user cache.

Three tables: ``files`` (each file's size, stamp and SHA-256 when it was indexed, and its entry's
SHA-256), ``entries`` (the entries, apart, so that reading what is known costs no entry), and ``snapshots`` (the key
of what the folder as last assembled was made from, and the SHA-256 of that snapshot, which lies beside the database
as one file: read in one go, where SQLite reads a large value page by page). Every entry and snapshot is checked
against its SHA-256 before it is used. Writes are transactions, committed every few seconds and at the end, so a
crash or a cancel keeps what was indexed before it. A database SQLite cannot read is deleted and made anew; when
even that fails the store keeps nothing, and a broken cache only costs the time it would have saved. Databases live
only in a folder the program made and marked (:mod:`assistant.core.ownership`), and the least recently opened go
first.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import sqlite3
import stat
import time
from collections.abc import Iterator, Sequence
from pathlib import Path

from assistant.core import files, ownership
from assistant.core.errors import UserError

KIND = "folder-index"
MAX_FOLDERS = 32
"""Folders whose index is kept; the least recently opened beyond this are removed when one is saved."""
STORE_KIND = files.FileKind("folder index", 8 * files.GiB)
_COMMIT_EVERY_S = 2.0
_SCHEMA = (
    "CREATE TABLE IF NOT EXISTS files (path BLOB PRIMARY KEY, size INTEGER, stamp TEXT, source_sha256 TEXT, "
    "entry_sha256 TEXT)",
    "CREATE TABLE IF NOT EXISTS entries (path BLOB PRIMARY KEY, entry BLOB)",
    "CREATE TABLE IF NOT EXISTS snapshots (key TEXT PRIMARY KEY, sha256 TEXT)",
)
_SNAPSHOT = ".snapshot"
_SIDE_FILES = ("", "-journal", "-wal", "-shm", _SNAPSHOT)


def store_path(cache_dir: Path, folder: Path, settings: str) -> Path:
    """One database per folder (by its real path) and per ``settings`` that shape what an entry holds."""
    key = hashlib.sha256(f"{settings}|{os.path.realpath(folder)}".encode("utf-8", "surrogatepass"))
    return cache_dir / f"{key.hexdigest()[:32]}.sqlite"


def _key(rel: str) -> bytes:
    """A path as the database keeps it: its bytes, so that a name that is not UTF-8 is kept as it is."""
    return rel.encode("utf-8", "surrogatepass")


def _rel(key: object) -> str:
    return bytes(key).decode("utf-8", "surrogatepass") if isinstance(key, bytes) else str(key)


class Known:
    """What was recorded of a file when it was indexed: its size, its stamp (modification and change times and
    inode: what a rewrite changes even when it puts the old size and modification time back; "" when it was too
    recent to be trusted) and the SHA-256 of its bytes and of its entry."""

    __slots__ = ("entry_sha256", "size", "source_sha256", "stamp")

    def __init__(self, size: int, stamp: str, source_sha256: str, entry_sha256: str) -> None:
        self.size, self.stamp, self.source_sha256, self.entry_sha256 = size, stamp, source_sha256, entry_sha256


class Store:
    """The saved index of one folder."""

    def __init__(self, path: Path | None) -> None:
        """``path`` None: a store that keeps nothing (no cache, or a password given: what it opens is not kept)."""
        self.path = path
        self.db: sqlite3.Connection | None = None
        self.known: dict[str, Known] = {}
        self._last_commit = time.monotonic()
        if path is not None and ownership.claim(path.parent, KIND):
            self._connect(fresh=False)

    def _connect(self, fresh: bool) -> None:
        if self.path is None:
            return
        if fresh:
            self.close()
            try:
                for suffix in _SIDE_FILES:
                    Path(f"{self.path}{suffix}").unlink(missing_ok=True)
            except OSError:  # not a file (a folder in its place): this store keeps nothing
                return
        try:
            if os.path.lexists(self.path):
                files.check_regular(self.path, STORE_KIND, nofollow=True)
            self.db = sqlite3.connect(self.path, timeout=30)
            for statement in _SCHEMA:
                self.db.execute(statement)
            rows = self.db.execute("SELECT path, size, stamp, source_sha256, entry_sha256 FROM files")
            self.known = {_rel(row[0]): Known(*row[1:]) for row in rows}
            os.utime(self.path)  # the most recently opened
        except (sqlite3.Error, OSError, UserError, TypeError):
            self.close()
            if not fresh and os.path.lexists(self.path) and not os.path.islink(self.path):
                self._connect(fresh=True)

    def close(self) -> None:
        if self.db is not None:
            with contextlib.suppress(sqlite3.Error):
                self.db.close()
        self.db, self.known = None, {}

    def _blob(self, sql: str, key: str | bytes, digest: str) -> bytes | None:
        if self.db is None:
            return None
        try:
            row = self.db.execute(sql, (key,)).fetchone()
        except sqlite3.Error:
            self._connect(fresh=True)
            return None
        blob = row[0] if row else None
        if not isinstance(blob, bytes) or hashlib.sha256(blob).hexdigest() != digest:
            return None
        return blob

    def entry(self, rel: str) -> bytes | None:
        """The entry of ``rel``, when its bytes match their checksum."""
        known = self.known.get(rel)
        return self._blob("SELECT entry FROM entries WHERE path = ?", _key(rel), known.entry_sha256) if known else None

    def snapshot(self) -> bytes | None:
        """The folder's last snapshot, when its bytes match their checksum (whatever state it was made from)."""
        if self.db is None or self.path is None:
            return None
        try:
            row = self.db.execute("SELECT sha256 FROM snapshots").fetchone()
        except sqlite3.Error:
            self._connect(fresh=True)
            return None
        if row is None:
            return None
        try:
            blob = files.read_bytes(Path(f"{self.path}{_SNAPSHOT}"), STORE_KIND, nofollow=True)
        except (UserError, OSError):
            return None
        return blob if hashlib.sha256(blob).hexdigest() == row[0] else None

    def _write(self, statements: list[tuple[str, tuple[object, ...]]]) -> None:
        if self.db is None:
            return
        try:
            for sql, values in statements:
                self.db.execute(sql, values)
            if time.monotonic() - self._last_commit > _COMMIT_EVERY_S:
                self.commit()
        except sqlite3.Error:
            self._connect(fresh=True)

    def save_entry(self, rel: str, known: Known, blob: bytes | None) -> None:
        """Record a file as indexed (``blob`` None: its entry is unchanged, only its size and time are new)."""
        statements: list[tuple[str, tuple[object, ...]]] = []
        if blob is not None:
            known.entry_sha256 = hashlib.sha256(blob).hexdigest()
            statements.append(("INSERT OR REPLACE INTO entries VALUES (?, ?)", (_key(rel), blob)))
        values = (_key(rel), known.size, known.stamp, known.source_sha256, known.entry_sha256)
        statements.append(("INSERT OR REPLACE INTO files VALUES (?, ?, ?, ?, ?)", values))
        self._write(statements)
        if self.db is not None:
            self.known[rel] = known

    def save_snapshot(self, key: str, pieces: Sequence[bytes | memoryview]) -> None:
        """Keep the record made of ``pieces`` as the folder's only snapshot: the file first (hashed as it is
        written), then its checksum (a crash between the two leaves a snapshot that does not match: made again)."""
        if self.db is None or self.path is None:
            return
        digest = hashlib.sha256()

        def hashed() -> Iterator[bytes | memoryview]:
            for piece in pieces:
                digest.update(piece)
                yield piece

        try:
            files.write_bytes(Path(f"{self.path}{_SNAPSHOT}"), hashed(), follow=False, durable=False)
        except (UserError, OSError):
            self._write([("DELETE FROM snapshots", ())])
            return
        self._write([("DELETE FROM snapshots", ()), ("INSERT INTO snapshots VALUES (?, ?)", (key, digest.hexdigest()))])

    def forget_gone(self, root: Path) -> None:
        """Drop the entries of files no longer in the folder (not those that an --include left out this time)."""
        gone = [rel for rel in self.known if not os.path.lexists(root / rel)]
        self._write([(f"DELETE FROM {t} WHERE path = ?", (_key(rel),)) for rel in gone for t in ("files", "entries")])
        for rel in gone:
            self.known.pop(rel, None)

    def forget(self, rel: str) -> None:
        """Drop one file's entry and the snapshot: the next open reads that file again, as if it had changed."""
        self._write([(f"DELETE FROM {t} WHERE path = ?", (_key(rel),)) for t in ("files", "entries")])
        self._write([("DELETE FROM snapshots", ())])
        self.known.pop(rel, None)

    def commit(self) -> None:
        if self.db is not None:
            try:
                self.db.commit()
            except sqlite3.Error:
                self._connect(fresh=True)
        self._last_commit = time.monotonic()


def prune(cache_dir: Path, keep: int = MAX_FOLDERS) -> None:
    """Remove all but the ``keep`` most recently opened folders' databases (only in the program's own folder)."""
    if not ownership.is_ours(cache_dir, KIND):
        return
    files.sweep_temps(cache_dir)  # snapshots a kill cut short
    try:
        stores = [p for p in cache_dir.glob("*.sqlite") if stat.S_ISREG(os.lstat(p).st_mode)]
        stores.sort(key=lambda p: p.stat().st_mtime, reverse=True)
    except OSError:
        return
    for old in stores[keep:]:
        for suffix in _SIDE_FILES:
            Path(f"{old}{suffix}").unlink(missing_ok=True)
    kept = {str(store) for store in stores[:keep]}
    for snapshot in cache_dir.glob(f"*.sqlite{_SNAPSHOT}"):  # one whose database went some other way
        if str(snapshot)[: -len(_SNAPSHOT)] not in kept:
            snapshot.unlink(missing_ok=True)
