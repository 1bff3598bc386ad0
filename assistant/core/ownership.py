"""What the program may write into: only folders it created and marked as its own, one writer at a time.

A folder the program makes for itself (a run directory, a cache) holds a marker file, ``.doc-assistant``, that
names what it is. Anything without that marker (a user's model folder, a cache folder of their own) is never
written into, pruned or deleted; a command that would is refused in one sentence before it starts work. One
writer at a time holds the folder's lock, an OS file lock that dies with its process, so a kill -9 never leaves
a folder locked.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
import re
import stat
import time
from collections.abc import Callable, Iterator
from datetime import datetime, timezone
from pathlib import Path

from assistant.core import files
from assistant.core.errors import UserError

MARKER = ".doc-assistant"
LOCK = ".lock"
OWNER = "doc-assistant"


class NotOurs(UserError):
    """A folder the program did not create and mark: it is left alone."""


class Busy(UserError):
    """Another process holds the folder's lock."""


def _marker_kind(folder: Path) -> str | None:
    data = files.read_json_object_or_none(folder / MARKER, files.POINTER, nofollow=True)
    if data is None or data.get("owner") != OWNER:
        return None
    kind = data.get("kind")
    return kind if isinstance(kind, str) else None


def is_ours(folder: Path, kind: str) -> bool:
    """Whether ``folder`` is a real directory (not a link) marked as this program's ``kind`` of folder."""
    try:
        if not stat.S_ISDIR(os.lstat(folder).st_mode):
            return False
    except OSError:
        return False
    return _marker_kind(folder) == kind


def mark(folder: Path, kind: str) -> None:
    """Write the marker that makes ``folder`` this program's (atomically)."""
    stamp = datetime.now(timezone.utc).isoformat(timespec="seconds")
    files.write_json(folder / MARKER, {"owner": OWNER, "kind": kind, "created": stamp})


def _is_empty(folder: Path) -> bool:
    with os.scandir(folder) as entries:
        return next(entries, None) is None


def _is_marker_name(name: str) -> bool:
    """The marker, or the temporary of a marker another process is writing (parallel first runs claim at once)."""
    return name == MARKER or name.startswith(f".{MARKER}{files.TEMP_TAG}")


def claim(folder: Path, kind: str, adopt: re.Pattern[str] | None = None) -> bool:
    """Make ``folder`` this program's ``kind`` of folder if it may be; whether it now is.

    It may be when it does not exist yet (it is created), is empty, is marked already, or (``adopt``) holds only
    entries whose names match the pattern this program names its own entries by (a folder an earlier version made
    before folders were marked). A link, a file, or a folder with anything else in it is not claimed.
    """
    if is_ours(folder, kind):
        return True
    try:
        folder.mkdir(parents=True)
    except FileExistsError:
        if is_ours(folder, kind):  # another process claimed it between our check and our mkdir
            return True
        try:
            if folder.is_symlink() or not folder.is_dir():
                return False
            names = [n for n in os.listdir(folder) if not _is_marker_name(n)]
        except OSError:
            return False
        if names and (adopt is None or not all(adopt.fullmatch(n) for n in names)):
            return False
    except OSError:
        return False
    try:
        mark(folder, kind)
    except (OSError, UserError):
        return False
    return True


def require_ours(folder: Path, kind: str, what: str) -> None:
    """Refuse, in one sentence, to write into a folder that is not this program's ``kind`` of folder."""
    if not is_ours(folder, kind):
        raise NotOurs(
            f"{folder} was not made by doc-assistant as {what} (it has no {MARKER} marker), so nothing in it is "
            "written, moved or deleted."
        )


class FileLock:
    """An exclusive OS lock on a lock file, held until :meth:`release` (or until the process ends, however)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._fd: int | None = None

    def acquire(self, wait: bool = False) -> bool:
        """Take the lock; with ``wait`` block until the holder lets go, else return False at once if it is held."""
        flags = os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | getattr(os, "O_CLOEXEC", 0)
        try:
            fd = os.open(self.path, flags, 0o644)
        except OSError as exc:
            raise UserError(f"Could not lock {self.path.parent}: {exc.strerror or exc}.") from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | (0 if wait else fcntl.LOCK_NB))
        except OSError as exc:
            os.close(fd)
            if exc.errno in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
                return False
            raise UserError(f"Could not lock {self.path.parent}: {exc.strerror or exc}.") from None
        self._fd = fd
        return True

    def release(self) -> None:
        if self._fd is not None:
            os.close(self._fd)  # closing the descriptor drops the flock
            self._fd = None

    @property
    def held(self) -> bool:
        return self._fd is not None


class FolderLock(FileLock):
    """The lock of a whole folder: its ``.lock`` file (one writer per run folder)."""

    def __init__(self, folder: Path) -> None:
        super().__init__(folder / LOCK)
        self.folder = folder


@contextlib.contextmanager
def waiting_for(
    lock_file: Path, on_wait: Callable[[], None] | None = None, timeout: float = 120.0
) -> Iterator[FileLock]:
    """Hold the lock for the block, waiting up to ``timeout`` seconds for another holder to finish first
    (``on_wait`` says so once); a holder that keeps it longer is :class:`Busy`, never a hang."""
    lock = FileLock(lock_file)
    if not lock.acquire():
        if on_wait is not None:
            on_wait()
        deadline = time.monotonic() + timeout
        while not lock.acquire():
            if time.monotonic() > deadline:
                raise Busy(f"Another process has held {lock_file} for over {timeout:.0f} s.")
            time.sleep(0.2)
    try:
        yield lock
    finally:
        lock.release()


def lock_is_held(folder: Path) -> bool:
    """Whether some process holds ``folder``'s lock now (a live writer), without waiting or creating it."""
    try:
        fd = os.open(folder / LOCK, os.O_RDONLY | os.O_NOFOLLOW | getattr(os, "O_CLOEXEC", 0))
    except OSError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except OSError:
        return True
    finally:
        os.close(fd)
    return False
