"""A folder as one context: every document in it (any format), each answer naming its file.

What is read follows ripgrep's habits: hidden files and folders, and what a ``.gitignore`` names (git's rules:
:mod:`assistant.core.ignore`), are left out; links are not followed (no loops, and a link to a file outside the
folder never brings it in); ``--include`` / ``--exclude`` are globs read the same way (``*.pdf`` at any depth,
``docs/`` a folder). Nothing else is dropped silently: every file that is not read is listed with why (a link, not a
document, unreadable, binary, empty, over the budget), and the folder opens as long as one document can be read.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

from assistant.core import files, ignore
from assistant.core.documents import (
    Document,
    document_file_kind,
    load_document,
    max_document_bytes,
    read_extracted,
)
from assistant.core.errors import DocumentError, PasswordNeeded
from assistant.core.formats.base import Cancelled, Extracted, ProgressCallback

IGNORE_FILE = ".gitignore"
IGNORE_KIND = files.FileKind("ignore file", 1 * files.MiB, DocumentError)
MAX_FILES = 200_000
"""Files looked at in one folder at most; past it the rest are listed as skipped, not read."""


@dataclass(frozen=True)
class Skipped:
    path: str
    """Inside the opened folder, with ``/`` separators."""
    why: str


@dataclass
class Opened:
    """What was opened (a file or a folder) as one Document, and the files of a folder that were not read."""

    document: Document
    skipped: list[Skipped] = field(default_factory=list)
    read: list[str] = field(default_factory=list)


def _ignore_rules(folder: Path, base: str) -> list[ignore.Rule]:
    """A folder's ``.gitignore`` rules, read through the one opener (one that cannot be read leaves out nothing)."""
    path = folder / IGNORE_FILE
    if files.path_kind(path) != "file":
        return []
    try:
        return ignore.parse(files.read_bytes(path, IGNORE_KIND).decode("utf-8", "replace"), base)
    except DocumentError:
        return []


_Pending = tuple[Path, str, list[ignore.Rule]]
"""A folder still to read: its path, its path inside the opened folder (with a trailing ``/``), the rules on it."""


@dataclass
class Walk:
    include: list[ignore.Rule]
    exclude: list[ignore.Rule]
    found: list[tuple[str, Path]] = field(default_factory=list)
    skipped: list[Skipped] = field(default_factory=list)

    def walk(self, root: Path) -> None:
        pending: list[_Pending] = [(root, "", _ignore_rules(root, ""))]
        while pending:
            folder, prefix, rules = pending.pop()
            try:
                with os.scandir(folder) as scan:
                    entries = sorted(scan, key=lambda e: e.name)
            except OSError as exc:
                self.skipped.append(Skipped(prefix.rstrip("/") or ".", f"the folder cannot be read ({exc.strerror})"))
                continue
            for entry in entries:
                if not entry.name.startswith("."):  # hidden, as ripgrep leaves it
                    self._entry(entry, f"{prefix}{entry.name}", rules, pending)

    def _entry(self, entry: os.DirEntry[str], rel: str, rules: list[ignore.Rule], pending: list[_Pending]) -> None:
        try:
            mode = os.lstat(entry.path).st_mode
        except OSError as exc:
            self.skipped.append(Skipped(rel, f"it cannot be looked at ({exc.strerror})"))
            return
        is_dir = stat.S_ISDIR(mode)
        if ignore.left_out(rules, rel, is_dir) or ignore.left_out(self.exclude, rel, is_dir):
            return
        if is_dir:
            pending.append((Path(entry.path), f"{rel}/", rules + _ignore_rules(Path(entry.path), f"{rel}/")))
        elif self.include and not ignore.left_out(self.include, rel, False):
            return  # not one of the files --include asks for
        elif stat.S_ISLNK(mode):
            self.skipped.append(Skipped(rel, "a link (not followed, as ripgrep does: open what it points to)"))
        elif not stat.S_ISREG(mode):
            self.skipped.append(Skipped(rel, "not a regular file (a socket, a FIFO or a device)"))
        elif len(self.found) >= MAX_FILES:
            self.skipped.append(Skipped(rel, f"past the {MAX_FILES:,} files read from one folder"))
        else:
            self.found.append((rel, Path(entry.path)))


def _reason(exc: DocumentError, path: Path, left: int, budget: int) -> str:
    """Why a file was not read, without its path (the listing names it); a file refused for what is left of the
    folder's text budget says so, not that it is over a limit for one document of that size."""
    text = str(exc)
    if text.startswith("No such file"):
        return "it was removed while the folder was read"
    if left < budget and f"over the {files.format_bytes(max(left, 1))} limit" in text:
        return (
            f"past the folder's text budget of {files.format_bytes(budget)} ({files.format_bytes(max(left, 0))} "
            "left after the files before it; raise it with ASSISTANT_MAX_DOCUMENT_BYTES)"
        )
    text = text.replace(f"{path}: ", "").replace(str(path), "it").rstrip(".")
    return text[:1].lower() + text[1:]


def walked(root: Path, include: Sequence[str] = (), exclude: Sequence[str] = ()) -> Walk:
    """The files under ``root`` to read (``found``, in path order) and those left out with why (``skipped``)."""
    walk = Walk(ignore.globs(include), ignore.globs(exclude))
    walk.walk(root)
    walk.found.sort()  # path order, as a listing shows them
    return walk


@dataclass(frozen=True)
class Selection:
    """Several files and folders named at once, read as one folder: the folder that holds them all (``root``), and
    each one's files by their paths inside it."""

    root: Path
    walk: Walk
    named: tuple[str, ...]
    """What was named, as paths inside ``root`` (what the saved index of this selection is kept under)."""


def selected(
    paths: Sequence[str | os.PathLike[str]], include: Sequence[str] = (), exclude: Sequence[str] = ()
) -> Selection:
    """The files of several paths as one walk: a folder's files as a folder opened alone gives them (the globs apply),
    a file named is read even when it is hidden or a glob would leave it out (as ripgrep reads a file it is given)."""
    named = [files.named_path(p) for p in paths]
    places: dict[Path, tuple[Path, bool]] = {}  # each place once, as first named: (the path named, a folder)
    for path in named:
        is_dir = files.path_kind(path) == "dir"
        if not is_dir:
            os.close(files.open_regular(path, document_file_kind(max_document_bytes())))  # its one sentence
        places.setdefault(_place(path, is_dir), (path, is_dir))
    if (include or exclude) and not any(is_dir for _, is_dir in places.values()):
        raise DocumentError("Only files are named: --include and --exclude choose files in a folder.")
    common = Path(os.path.commonpath([str(place) for place in places]))
    root = common.parent if common in places and not places[common][1] else common
    seen: dict[str, Path] = {}
    left_out: dict[str, Skipped] = {}
    for place, (path, is_dir) in places.items():
        rel = _inside(place, root)
        if not is_dir:
            seen.setdefault(rel, Path(os.path.realpath(path)))
            continue
        inner = walked(place, include, exclude)
        prefix = "" if rel == "." else f"{rel}/"
        for name, found in inner.found:
            seen.setdefault(f"{prefix}{name}", found)
        for s in inner.skipped:
            where = f"{prefix}{s.path}" if s.path != "." else rel
            left_out.setdefault(where, Skipped(where, s.why))
    walk = Walk(ignore.globs(include), ignore.globs(exclude), sorted(seen.items()))
    as_named = {_inside(_place(path, False), root) for path in named}  # a link named is read, not listed as a link
    walk.skipped = [s for where, s in sorted(left_out.items()) if where not in seen and where not in as_named]
    return Selection(root, walk, tuple(sorted(_inside(place, root) for place in places)))


def _place(path: Path, resolved: bool) -> Path:
    """Where a named path is, as the system finds it: its folder resolved (``a/link/..`` is where the link's target
    is); a folder resolved whole (a link to a folder is read as the folder it leads to, once), a file's own name kept
    (a link to a file is named by its name)."""
    if resolved or path.name in ("", ".", ".."):
        return Path(os.path.realpath(path))
    return Path(os.path.realpath(path.parent)) / path.name


def _inside(place: Path, root: Path) -> str:
    """A place's path inside ``root``, with ``/`` separators."""
    return os.path.relpath(place, root).replace(os.sep, "/")


def check_folder(root: Path, include: Sequence[str] = (), exclude: Sequence[str] = ()) -> None:
    """Refuse, before any file is read, a folder with no file to read (what the chat checks before it starts)."""
    walk = walked(root, include, exclude)
    if not walk.found:
        why = f" ({walk.skipped[0].path}: {walk.skipped[0].why})" if walk.skipped else ""
        raise DocumentError(f"{root} holds no file to read{why}.")


def open_path(
    path: str | os.PathLike[str],
    *,
    include: Sequence[str] = (),
    exclude: Sequence[str] = (),
    password: str | None = None,
    progress: ProgressCallback | None = None,
    stopped: Callable[[], bool] | None = None,
) -> Opened:
    """A document or a folder of them, as the CLI and the chat app open what a user names."""
    p = files.named_path(path)
    if files.path_kind(p) == "dir":
        return load_folder(
            p,
            max_document_bytes(),
            include=include,
            exclude=exclude,
            password=password,
            progress=progress,
            stopped=stopped,
        )
    if include or exclude:
        raise DocumentError(f"{p} is a file: --include and --exclude choose files in a folder.")
    document = load_document(p, password=password, progress=progress, stopped=stopped)
    return Opened(document, [], [document.name])


T = TypeVar("T")
FileReader = Callable[[str, Path, int], tuple[T, int]]
"""Reads one file of a folder (its path inside the folder, its path, the text bytes still allowed): what was made
of it, and the bytes of text it holds (counted against the folder's budget)."""


def read_folder(
    root: Path,
    walk: Walk,
    max_bytes: int,
    read: FileReader[T],
    *,
    password: str | None = None,
    progress: ProgressCallback | None = None,
    stopped: Callable[[], bool] | None = None,
) -> tuple[list[tuple[str, T]], list[Skipped]]:
    """Every file of the walk that is read (``max_bytes`` of text in all) with what ``read`` made of it, and every
    file that is not, with why; one that cannot be read is skipped, never the end of the folder."""
    done: list[tuple[str, T]] = []
    skipped = list(walk.skipped)
    left = max_bytes
    for n, (rel, path) in enumerate(walk.found):
        if stopped and stopped():
            raise DocumentError(f"Reading {root} was stopped.")
        if progress and n % 25 == 0:
            progress(f"file {n + 1:,} of {len(walk.found):,}", n / max(len(walk.found), 1))
        try:
            made, size = read(rel, path, max(left, 1))
        except PasswordNeeded:
            why = "the password given does not open it" if password else "it is password-protected"
            skipped.append(Skipped(rel, f"{why} (open it alone, or give its password: ask --password)"))
            continue
        except Cancelled:
            raise
        except DocumentError as exc:
            skipped.append(Skipped(rel, _reason(exc, path, left, max_bytes)))
            continue
        left -= size
        done.append((rel, made))
    if not done:
        why = f" ({skipped[0].path}: {skipped[0].why})" if skipped else ""
        raise DocumentError(f"{root} holds no document that can be read{why}.")
    return done, sorted(skipped, key=lambda s: s.path)


def text_bytes(text: str) -> int:
    """What a text counts against a budget: its UTF-8 bytes."""
    return len(text.encode("utf-8", "surrogatepass"))


def load_folder(
    root: Path,
    max_bytes: int,
    *,
    include: Sequence[str] = (),
    exclude: Sequence[str] = (),
    password: str | None = None,
    progress: ProgressCallback | None = None,
    stopped: Callable[[], bool] | None = None,
) -> Opened:
    """Every document under ``root`` as one Document (``max_bytes`` of text in all), and what was not read."""

    def read(rel: str, path: Path, left: int) -> tuple[Extracted, int]:
        extracted = read_extracted(path, left, password=password, stopped=stopped)
        return extracted, text_bytes(extracted.text)

    walk = walked(root, include, exclude)
    done, skipped = read_folder(root, walk, max_bytes, read, password=password, progress=progress, stopped=stopped)
    return Opened(Document.from_files(done, root), skipped, [rel for rel, _ in done])
