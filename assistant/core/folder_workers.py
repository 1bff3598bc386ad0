"""Reading and splitting a folder's new and changed files on every core: the work of a first open is per file and
pure Python, so a second process halves it.

Worker processes are started fresh (``spawn``: never a fork of a process with threads, as the chat app's is), are
given paths, and give back the entry's bytes (:mod:`assistant.core.folder_entries`), which the opening process
checks as it checks a saved entry, or the one sentence that says why the file cannot be read. The opening process
alone writes the saved index. A stop terminates the workers at once, whatever file they are in.
"""

from __future__ import annotations

import hashlib
import multiprocessing
import os
import signal
import sys
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from assistant.core import files
from assistant.core.documents import document_file_kind, extracted_from
from assistant.core.errors import DocumentError, PasswordNeeded
from assistant.core.formats.base import Cancelled, ProgressCallback

PARALLEL_BYTES = 4 * files.MiB
"""Below this much to read, one process does it: starting the workers costs more than they save."""


@dataclass(frozen=True)
class Done:
    """What a worker made of one file: an entry (or, when its bytes hash as known, none: the saved one stands), or
    why it cannot be read."""

    size: int
    source_sha256: str
    entry: bytes | None = None
    error: str | None = None
    password: str | None = None
    """For a password-protected file: "missing" or "wrong"."""

    def raise_error(self) -> None:
        if self.password is not None:
            raise PasswordNeeded(self.error or "", wrong=self.password == "wrong")
        if self.error is not None:
            raise DocumentError(self.error)


def index_one(
    rel: str,
    path: str,
    cap: int,
    passage_words: int,
    password: str | None,
    known_sha256: str,
    stopped: Callable[[], bool] | None = None,
) -> Done:
    """In a worker (or the opening process, which passes ``stopped``): read, hash, extract, split and count one
    file."""
    from assistant.core.folder_entries import entry_bytes, index_file

    try:
        raw = files.read_bytes(Path(path), document_file_kind(cap), nofollow=True)  # a link put there since the walk
        source = hashlib.sha256(raw).hexdigest()
        if source == known_sha256:
            return Done(len(raw), source)
        extracted = extracted_from(raw, Path(path), cap, password=password, stopped=stopped)
        return Done(len(raw), source, entry_bytes(index_file(extracted, passage_words), f"{rel}\0{source}"))
    except Cancelled:
        raise
    except PasswordNeeded as exc:
        return Done(-1, "", error=str(exc), password="wrong" if exc.wrong else "missing")
    except DocumentError as exc:
        return Done(-1, "", error=str(exc))


def processes() -> int:
    """Workers to start: one per core this process may use (none from a daemon process, which may not have any)."""
    if multiprocessing.current_process().daemon:
        return 1
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def _deaf_to_ctrl_c() -> None:
    """In a worker: ctrl+c in the terminal reaches the whole process group, and a worker it stopped halfway through
    sending a result left the pool waiting for the rest forever; the opening process stops the workers itself."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)


_STDERR_SWAP = threading.Lock()


def _start_resource_tracker() -> None:
    """Start multiprocessing's resource tracker (the pool's locks need it) against the process's real standard error.

    The tracker is started with ``sys.stderr``'s file descriptor; inside the chat app ``sys.stderr`` is Textual's
    capture, whose ``fileno()`` is -1, and every start then fails ("bad value(s) in fds_to_keep"). The real stream
    stands in for the moment the tracker takes to start.
    """
    from multiprocessing import resource_tracker

    try:
        usable = sys.stderr is not None and sys.stderr.fileno() >= 0
    except (OSError, ValueError, AttributeError):
        usable = False
    if usable or sys.__stderr__ is None:
        resource_tracker.ensure_running()
        return
    with _STDERR_SWAP:
        captured, sys.stderr = sys.stderr, sys.__stderr__
        try:
            resource_tracker.ensure_running()
        finally:
            sys.stderr = captured


@dataclass(frozen=True)
class Job:
    """A file to index: its path in the folder, its path, its size, the SHA-256 its saved entry was made from ("" if
    none)."""

    rel: str
    path: Path
    size: int
    known_sha256: str


@dataclass
class _Jobs:
    """Files to index, largest first: workers take them from the front, so that no large file starts last and keeps
    one core busy alone at the end; this process takes the smallest from the back while it would only wait."""

    pending: list[Job]
    cap: int
    passage_words: int
    password: str | None
    stopped: Callable[[], bool] | None

    def run_smallest(self) -> tuple[str, Done]:
        job = self.pending.pop()
        args = (job.rel, str(job.path), self.cap, self.passage_words, self.password, job.known_sha256)
        return job.rel, index_one(*args, stopped=self.stopped)

    def send_largest(self, pool: Any) -> tuple[str, Any]:
        job = self.pending.pop(0)
        args = (job.rel, str(job.path), self.cap, self.passage_words, self.password, job.known_sha256)
        return job.rel, pool.apply_async(index_one, args)


def index_in_parallel(
    root: Path,
    jobs: Sequence[Job],
    cap: int,
    passage_words: int,
    password: str | None,
    progress: ProgressCallback | None,
    stopped: Callable[[], bool] | None,
) -> dict[str, Done]:
    """Each file's :class:`Done`, made by one worker per core but one and by this process; a stop ends the workers
    and raises Cancelled (this process stops between files)."""
    context = multiprocessing.get_context("spawn")
    _start_resource_tracker()
    workers = max(1, min(processes(), len(jobs)) - 1)
    queue = _Jobs(sorted(jobs, key=lambda job: -job.size), cap, passage_words, password, stopped)
    pool = context.Pool(workers, initializer=_deaf_to_ctrl_c)
    try:
        sent: dict[str, Any] = {}
        done: dict[str, Done] = {}
        while queue.pending or sent:
            if stopped and stopped():
                raise Cancelled(f"Reading {root} was stopped.")
            while queue.pending and len(sent) < 2 * workers:  # one waiting behind each busy worker
                rel, result = queue.send_largest(pool)
                sent[rel] = result
            finished = [rel for rel, result in sent.items() if result.ready()]
            for rel in finished:
                done[rel] = sent.pop(rel).get()
            if not finished:
                if queue.pending:
                    rel, made = queue.run_smallest()
                    done[rel] = made
                else:
                    next(iter(sent.values())).wait(0.1)
            if progress:
                progress(f"file {len(done):,} of {len(jobs):,}", len(done) / len(jobs) * 0.9)
        pool.close()
        return done
    finally:
        pool.terminate()
        pool.join()
