"""The one way the program reads a file and the one way it writes one.

Reading: every file (documents, settings, ACTIVE, run files, caches, data, configs, predictions) is opened
here without blocking (``O_NONBLOCK``: a FIFO with no writer, a device or a socket never holds the process),
checked to be a regular file on the descriptor it was opened as, and read with a cap per kind of file, never
trusting ``st_size``. Any problem is one sentence (a :class:`UserError` subclass the caller chooses).

Writing: a file is replaced atomically (a hidden temporary beside it, fsync, rename), through a symlink to
the file it points at (a dotfile kept under version control stays a link), and never over a special file.
Temporary names carry the writer's pid, so what a kill leaves behind is recognised and swept later.
JSON is written finite: NaN and infinities are refused, never written as bare ``NaN``.
"""

from __future__ import annotations

import errno
import json
import math
import os
import re
import secrets
import shutil
import stat
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from assistant.core.errors import UserError

KiB = 1024
MiB = 1024 * KiB
GiB = 1024 * MiB


class FileProblem(UserError):
    """A file could not be read or written as asked; the message is one sentence naming it."""


@dataclass(frozen=True)
class FileKind:
    """What a file is for: how messages name it, the most it may hold, and the error raised for it."""

    noun: str
    """As messages name it: "document", "data file", "settings file"."""
    cap: int
    """Bytes read at most; a larger file is refused."""
    error: type[UserError] = FileProblem
    raise_cap_hint: str = ""
    """How a user raises the cap, when they can (an environment variable), for the message."""

    @property
    def a_noun(self) -> str:
        """The noun with its article: "an events file", "a data file"."""
        return f"{'an' if self.noun[:1].lower() in 'aeiou' else 'a'} {self.noun}"


POINTER = FileKind("pointer file", 4 * KiB)
SETTINGS = FileKind("settings file", 1 * MiB)
RECORD = FileKind("JSON file", 16 * MiB)
"""run.json, metrics.json, config.json, reader.json, cache manifests, tokenizer configs."""
TOKENIZER = FileKind("tokenizer file", 256 * MiB)
EVENTS = FileKind("events file", 256 * MiB)
CACHE_PART = FileKind("cache file", 2 * GiB)


def _describe(path: Path, exc: OSError, kind: FileKind) -> str:
    """One sentence for an OSError met while opening or reading ``path``."""
    code = exc.errno
    if code == errno.ENOENT:
        return f"No such file: {path} (the {kind.noun} is missing)."
    if code == errno.EISDIR:
        return f"{path} is a directory, not {kind.a_noun}."
    if code in (errno.EACCES, errno.EPERM):
        return f"Permission denied reading {path}."
    if code == errno.ELOOP:
        return f"{path} is a symbolic link loop (or a link where none is allowed), not {kind.a_noun}."
    if code == errno.ENXIO:
        return f"{path} is not a regular file (a socket or a device); give the path of {kind.a_noun}."
    return f"Could not read {path}: {exc.strerror or exc}."


def user_path(value: str | os.PathLike[str]) -> Path:
    """A path the user gave, ``~`` and ``~user`` expanded: an unknown user's home is one sentence, never the
    RuntimeError ``Path.expanduser`` raises."""
    try:
        return Path(value).expanduser()
    except RuntimeError:
        raise UserError(f"{os.fspath(value)!r} names the home folder of a user this machine does not know.") from None


def named_path(value: str | os.PathLike[str]) -> Path:
    """A path a user names to be read (a document, a folder): as :func:`user_path`, and an empty one (an unset shell
    variable) is one sentence, never the current folder."""
    text = os.fspath(value)
    if not text:
        raise UserError("An empty path names no file or folder (is a shell variable unset?).")
    path = user_path(value)
    if text.endswith(("/", os.sep)) and path_kind(path) not in ("dir", None):  # as the system reads ``notes.md/``
        raise UserError(f"{text} ends with a slash, but {path} is not a folder.")
    return path


def path_kind(path: Path) -> str | None:
    """ "dir", "file" (a regular one) or "other" for what is at ``path``, following links; None when nothing is there or
    it cannot be looked at (a name too long, a folder that cannot be read): a question, never an error."""
    try:
        mode = path.stat().st_mode
    except (OSError, ValueError):
        return None
    return "dir" if stat.S_ISDIR(mode) else "file" if stat.S_ISREG(mode) else "other"


def local_dir(value: str | os.PathLike[str]) -> Path | None:
    """The folder ``value`` names (``~`` expanded, resolved), or None when it names none: a question the app asks of
    text a user typed or a file held, never an error."""
    try:
        path = user_path(value)
        return path.resolve() if path_kind(path) == "dir" else None
    except (UserError, OSError, RuntimeError, ValueError):
        return None


def same_place(a: str, b: str) -> bool:
    """Whether two references name the same thing: equal text, or paths that resolve to the same place."""
    if a == b:
        return True
    try:
        return user_path(a).resolve() == user_path(b).resolve()
    except (UserError, OSError, RuntimeError, ValueError):
        return False


def open_regular(path: Path, kind: FileKind, *, nofollow: bool = False) -> int:
    """A read-only descriptor of ``path``, checked to be a regular file; the caller closes it.

    ``nofollow``: a symbolic link is refused too (cache entries, which only this program writes).
    """
    flags = os.O_RDONLY | os.O_NONBLOCK | os.O_NOCTTY | getattr(os, "O_CLOEXEC", 0)
    if nofollow:
        flags |= os.O_NOFOLLOW
    try:
        fd = os.open(path, flags)
    except OSError as exc:
        raise kind.error(_describe(path, exc, kind)) from None
    except ValueError:  # a NUL in the path
        raise kind.error(f"{path!r} is not a usable file name.") from None
    try:
        info = os.fstat(fd)
    except OSError as exc:
        os.close(fd)
        raise kind.error(_describe(path, exc, kind)) from None
    if not stat.S_ISREG(info.st_mode):
        os.close(fd)
        what = "a directory" if stat.S_ISDIR(info.st_mode) else "a device, pipe or socket"
        raise kind.error(f"{path} is not a regular file ({what}); give the path of {kind.a_noun}.")
    return fd


def _too_large(path: Path, kind: FileKind, cap: int) -> str:
    hint = f" (raise it with {kind.raise_cap_hint})" if kind.raise_cap_hint else ""
    return f"{path} is over the {format_bytes(cap)} limit for {kind.a_noun}{hint}."


def format_bytes(n: int) -> str:
    """Bytes for a person: 4 KiB, 50 MB..."""
    if n >= 10**6:
        return f"{n / 10**6:,.1f} MB".replace(".0 MB", " MB")
    if n >= 1024:
        return f"{n // 1024} KiB"
    return f"{n} bytes"


def read_bytes(
    path: str | os.PathLike[str], kind: FileKind, *, cap: int | None = None, nofollow: bool = False
) -> bytes:
    """The bytes of a regular file, at most ``cap`` (default: the kind's); anything else is one sentence."""
    p = Path(path)
    limit = kind.cap if cap is None else cap
    fd = open_regular(p, kind, nofollow=nofollow)
    try:
        chunks: list[bytes] = []
        total = 0
        step = max(8 * MiB, os.fstat(fd).st_size + 1)  # a file read in one go unless it grows as it is read
        while total <= limit:
            chunk = os.read(fd, min(limit + 1 - total, step))
            if not chunk:
                break
            chunks.append(chunk)
            total += len(chunk)
    except OSError as exc:
        raise kind.error(_describe(p, exc, kind)) from None
    finally:
        os.close(fd)
    if total > limit:
        raise kind.error(_too_large(p, kind, limit))
    return b"".join(chunks)


def read_text(path: str | os.PathLike[str], kind: FileKind, *, nofollow: bool = False) -> str:
    """A UTF-8 text file (a BOM is dropped); anything else is one sentence."""
    raw = read_bytes(path, kind, nofollow=nofollow)
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise kind.error(f"{path} is not UTF-8 text (invalid byte at offset {exc.start}).") from None


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a number JSON allows")


def parse_json(text: str | bytes, where: str, error: type[UserError] = FileProblem) -> Any:
    """JSON as the standard defines it: NaN and infinities are refused, as is nesting Python cannot follow."""
    try:
        return json.loads(text, parse_constant=_refuse_constant)
    except RecursionError:
        raise error(f"{where} could not be parsed: nesting too deep.") from None
    except ValueError as exc:  # JSONDecodeError, NaN, integers past Python's 4,300-digit limit
        reason = "a number has more than 4,300 digits" if "integer string conversion" in str(exc) else str(exc)
        raise error(f"{where} is not valid JSON: {reason}.") from None


def read_json(path: str | os.PathLike[str], kind: FileKind, *, nofollow: bool = False) -> Any:
    """The JSON value in a file; any problem (unreadable, special, too large, not JSON) is one sentence."""
    return parse_json(read_text(path, kind, nofollow=nofollow), str(path), kind.error)


def read_json_object_or_none(
    path: str | os.PathLike[str], kind: FileKind = RECORD, *, nofollow: bool = False
) -> dict[str, Any] | None:
    """The JSON object in a file, or None for anything else: for files a process may be killed while writing."""
    try:
        data = read_json(path, kind, nofollow=nofollow)
    except UserError:
        return None
    return data if isinstance(data, dict) else None


def check_regular(path: Path, kind: FileKind, *, nofollow: bool = False) -> int:
    """The size of ``path`` after checking, without reading it, that it is a regular file within the cap.

    For files a library opens by path itself (safetensors, ONNX graphs, memory-mapped arrays).
    """
    fd = open_regular(path, kind, nofollow=nofollow)
    try:
        size = os.fstat(fd).st_size
    finally:
        os.close(fd)
    if size > kind.cap:
        raise kind.error(_too_large(path, kind, kind.cap))
    return size


# --- JSON that stays JSON ------------------------------------------------------------------------------------


def finite_or_none(value: Any) -> Any:
    """``value``, except that a float that is NaN or infinite becomes None (for records that may hold one)."""
    return None if isinstance(value, float) and not math.isfinite(value) else value


def json_text(data: Any, *, indent: int | None = None) -> str:
    """JSON text of ``data``; a NaN or infinity anywhere is a ValueError, never a bare ``NaN`` in the output."""
    return json.dumps(data, indent=indent, ensure_ascii=False, allow_nan=False, default=str)


# --- writing ---------------------------------------------------------------------------------------------------

WRITE_ERRORS: tuple[type[Exception], ...] = (OSError, FileProblem)
"""What a write here raises: the file system's refusal, or a special file in the way."""


def write_problem(exc: Exception) -> str:
    """Why a write failed, in words: the OS's reason, or the sentence of a FileProblem (without its full stop)."""
    if isinstance(exc, OSError):
        return str(exc.strerror or exc)
    return str(exc).rstrip(".")


TEMP_TAG = ".tmp-"
"""Every temporary name holds ``.tmp-<pid>-``: a sweep can tell a live writer's from what a kill left."""
_TEMP_NAME = re.compile(r"^\..*\.tmp-(\d+)-[0-9a-f]+(\.tmp)?$")
_LEGACY_TEMP = re.compile(r"^\..+\.tmp$")
"""``.<name>.<random>.tmp``: the temporaries of earlier versions, which held no pid."""


def temp_path(directory: Path, name: str) -> Path:
    """A fresh temporary name in ``directory`` for ``name``, unique per process and call."""
    return directory / f".{name[:48]}{TEMP_TAG}{os.getpid()}-{secrets.token_hex(4)}"


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OverflowError):
        return pid > 0
    return True


def sweep_temps(directory: Path, legacy: bool = False) -> list[Path]:
    """Remove the temporaries in ``directory`` whose writer is gone (a kill cut it short); returns them.

    ``legacy``: also the pid-less ``.<name>.<random>.tmp`` files of earlier versions; only for a folder that one
    process owns at a time (a run directory under its lock).
    """
    removed: list[Path] = []
    try:
        entries = list(os.scandir(directory))
    except OSError:
        return removed
    for entry in entries:
        match = _TEMP_NAME.match(entry.name)
        stale = (match is not None and not _pid_alive(int(match.group(1)))) or (
            legacy and match is None and _LEGACY_TEMP.match(entry.name) is not None
        )
        if not stale:
            continue
        path = Path(entry.path)
        try:
            if entry.is_dir(follow_symlinks=False):
                shutil.rmtree(path)
            else:
                path.unlink()
        except OSError:
            continue
        removed.append(path)
    return removed


def write_target(path: Path, *, follow: bool = True) -> Path:
    """Where a write to ``path`` lands: through symbolic links to the file they name (whose folder must exist), or,
    with ``follow`` False (a file the program names itself), at ``path``: a link there is replaced, never written
    through.

    A special file (FIFO, device, socket, directory) there is refused: it is never replaced by a regular file.
    """
    if not follow and path.is_symlink():
        return path
    target = Path(os.path.realpath(path)) if path.is_symlink() else path
    try:
        info = target.stat()
    except FileNotFoundError:
        return target
    if not stat.S_ISREG(info.st_mode):
        raise FileProblem(f"{path} is not a regular file; it is left as it is and nothing is written there.")
    return target


def write_bytes(
    path: Path,
    data: bytes | Iterable[bytes | memoryview],
    *,
    mode: int | None = None,
    follow: bool = True,
    durable: bool = True,
) -> None:
    """Replace ``path`` with ``data`` (bytes, or pieces written one after another) atomically: a crash leaves the
    old file or the new one, never half of each.

    A symbolic link at ``path`` keeps pointing where it did and the file it names is replaced; the new file keeps
    the old one's permission bits (``mode`` for a new file, else the umask's); ``follow`` False replaces the link
    itself (:func:`write_target`); ``durable`` False skips flushing it to the disk (a cache, checked by its
    checksum when read, and made again when a power cut lost it). Raises FileProblem for a special file in the
    way, OSError when the file system refuses.
    """
    target = write_target(path, follow=follow)
    target.parent.mkdir(parents=True, exist_ok=True)
    try:
        old_mode: int | None = mode if target.is_symlink() else stat.S_IMODE(target.stat().st_mode)
    except OSError:
        old_mode = mode
    tmp = temp_path(target.parent, target.name)
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0), 0o666)
    try:
        with os.fdopen(fd, "wb") as fh:
            for piece in [data] if isinstance(data, bytes) else data:
                fh.write(piece)
            fh.flush()
            if durable:
                os.fsync(fh.fileno())
            if old_mode is not None:
                os.chmod(tmp, old_mode)
        os.replace(tmp, target)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    if durable:
        _fsync_directory(target.parent)


def _fsync_directory(directory: Path) -> None:
    """Make a rename durable; some file systems cannot, which only weakens durability, never correctness."""
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def write_text(path: Path, text: str, *, mode: int | None = None, follow: bool = True) -> None:
    write_bytes(path, text.encode("utf-8"), mode=mode, follow=follow)


def write_json(path: Path, data: Any, *, follow: bool = True) -> None:
    """Atomically write ``data`` as indented JSON; NaN or infinity in it is a ValueError and nothing is written."""
    write_text(path, json_text(data, indent=2) + "\n", follow=follow)


def append_line(path: Path, line: str) -> None:
    """Append one line with one write call to a regular file (created if absent); a special file is refused."""
    if "\n" in line:
        raise ValueError("append_line writes one line")
    path.parent.mkdir(parents=True, exist_ok=True)
    flags = os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_NONBLOCK | os.O_NOCTTY | getattr(os, "O_CLOEXEC", 0)
    fd = os.open(write_target(path), flags, 0o666)
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise FileProblem(f"{path} is not a regular file; nothing is written there.")
        os.write(fd, (line + "\n").encode("utf-8"))
    finally:
        os.close(fd)


def append_json(path: Path, record: Any) -> None:
    """Append one JSON record as one line (NaN refused, as everywhere)."""
    append_line(path, json_text(record))


def lines_of(raw: bytes) -> Iterable[str]:
    """The whole lines of a file's bytes (a torn last line, written by a process killed mid-write, is dropped)."""
    text = raw.decode("utf-8", errors="replace")
    parts = text.split("\n")
    return parts[:-1]
