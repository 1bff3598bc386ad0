"""A folder read and indexed through its saved index, so that opening it again reads only what changed.

Opening a folder walks it (:mod:`assistant.core.folders`) and looks at each file's size and modification time.
When nothing changed since the last open, the folder's snapshot is loaded as it was assembled. Otherwise each file
is taken from its entry when its size and time are those recorded, or, when they are not, when its bytes still hash
to the recorded SHA-256 (a file touched but not changed); only files added or changed are read and split again,
entries of files gone are dropped, and the folder is assembled anew from the entries: one file's change costs one
file's work plus the merge. What the saved index holds is :mod:`assistant.core.folder_entries`, where it lives is
:mod:`assistant.core.folder_store`; nothing is ever written into the folder being read.
"""

from __future__ import annotations

import hashlib
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from assistant.core import files
from assistant.core.bm25 import Bm25, NothingToIndex, merge
from assistant.core.documents import Document, document_file_kind, extracted_from, max_document_bytes
from assistant.core.engine import MIN_WORDS_TO_RANK, EngineSettings, IndexedDocument, index_document
from assistant.core.folder_entries import (
    FORMAT,
    BadEntry,
    FileIndex,
    entry_bytes,
    entry_from_bytes,
    index_file,
    snapshot_bytes,
    snapshot_from_bytes,
)
from assistant.core.folder_store import Known, Store, prune, store_path
from assistant.core.folder_workers import PARALLEL_BYTES, Done, Job, index_in_parallel, processes
from assistant.core.folders import Opened, Selection, Walk, open_path, read_folder, selected, walked
from assistant.core.formats.base import ProgressCallback, Request
from assistant.core.passages import PassageList, SentenceIndex
from assistant.core.retrieval import ContextualRetriever

RECENT_NS = 2_000_000_000
"""A file modified (or changed: its ctime) this recently may change again within the same timestamp: its size and
stamp are not trusted next time (git's "racy" files), so the next open hashes it, and no snapshot is kept."""


def looked_at(path: Path) -> tuple[int, str, bool]:
    """A file's size, its stamp and whether it changed too recently for the stamp to tell the next change (size -1
    when it is gone). The stamp holds the change time and inode besides the modification time: a rewrite that puts
    back the old size and modification time (``cp -p``, ``touch -r``, an archive unpacked) still changes them."""
    try:
        info = os.stat(path, follow_symlinks=False)
    except OSError:
        return -1, "", False
    stamp = f"{info.st_mtime_ns}:{info.st_ctime_ns}:{info.st_dev}:{info.st_ino}"
    return info.st_size, stamp, now_ns() - max(info.st_mtime_ns, info.st_ctime_ns) < RECENT_NS


def now_ns() -> int:
    """The clock a file's stamp is compared with (a test moves it on, as if its files were written a while ago)."""
    return time.time_ns()


def _source(rel: str, sha256: str) -> str:
    return f"{rel}\0{sha256}"


@dataclass
class _CachedReader:
    """Reads a file of the folder from its entry when the file is unchanged, else from what a worker made of it, else
    from the file (and saves what it made)."""

    store: Store
    passage_words: int
    password: str | None
    stopped: Callable[[], bool] | None
    racy: bool = False
    made: dict[str, Done] = field(default_factory=dict)

    def unchanged(self, rel: str, size: int, stamp: str) -> bool:
        known = self.store.known.get(rel)
        return known is not None and bool(stamp) and (known.size, known.stamp) == (size, stamp)

    def __call__(self, rel: str, path: Path, left: int) -> tuple[FileIndex, int]:
        size, stamp, recent = looked_at(path)
        known = self.store.known.get(rel)
        if known is not None and self.unchanged(rel, size, stamp):
            index = self._from_entry(rel, known.source_sha256)
            if index is not None:
                return self._within(index, path, size, left)
        done = self.made.pop(rel, None)
        if done is None:
            raw = files.read_bytes(path, document_file_kind(left))
            done = Done(len(raw), hashlib.sha256(raw).hexdigest())
        else:
            done.raise_error()
            raw = b""
        self.racy |= recent
        now = Known(done.size, "" if recent else stamp, done.source_sha256, "")
        if known is not None and known.source_sha256 == now.source_sha256:
            index = self._from_entry(rel, known.source_sha256)
            if index is not None:
                now.entry_sha256 = known.entry_sha256
                self.store.save_entry(rel, now, None)
                return self._within(index, path, done.size, left)
        index, blob = self._made(rel, path, raw or None, done, left)
        self.store.save_entry(rel, now, blob)  # kept even when over this budget: the next open need not read it
        return self._within(index, path, done.size, left)

    @staticmethod
    def _within(index: FileIndex, path: Path, size: int, left: int) -> tuple[FileIndex, int]:
        """The file's index when its text fits what the budget has left; else what reading it would say."""
        if index.text_bytes <= left:
            return index, index.text_bytes
        kind = document_file_kind(left)
        if size > kind.cap:
            files.read_bytes(path, kind)  # refused at the cap, in the words reading it says
        raise Request(path, left).over_cap()

    def _made(self, rel: str, path: Path, raw: bytes | None, done: Done, left: int) -> tuple[FileIndex, bytes]:
        """The file's index and entry: a worker's (checked as a saved entry is), or made here."""
        if done.entry is not None:
            try:
                return entry_from_bytes(done.entry, _source(rel, done.source_sha256)), done.entry
            except BadEntry:
                pass
        raw = raw if raw is not None else files.read_bytes(path, document_file_kind(left))
        extracted = extracted_from(raw, path, left, password=self.password, stopped=self.stopped)
        index = index_file(extracted, self.passage_words)
        return index, entry_bytes(index, _source(rel, done.source_sha256))

    def _from_entry(self, rel: str, source_sha256: str) -> FileIndex | None:
        blob = self.store.entry(rel)
        if blob is None:
            return None
        try:
            return entry_from_bytes(blob, _source(rel, source_sha256))
        except BadEntry:
            return None

    def index_new_files(self, root: Path, walk: Walk, cap: int, progress: ProgressCallback | None) -> None:
        """Have workers read and split the files that are new or changed, when there is enough of them to gain (in
        path order, while the files so far hold less than the text budget in bytes: past it reading here refuses a
        file at its first bytes, where a worker, not knowing what the files before it hold, would read it whole)."""
        jobs: list[Job] = []
        size = seen = 0
        for rel, path in walk.found:
            if seen >= cap:
                break
            file_size, stamp, _ = looked_at(path)
            seen += max(file_size, 0)
            if not self.unchanged(rel, file_size, stamp):
                known = self.store.known.get(rel)
                jobs.append((rel, path, known.source_sha256 if known else ""))
                size += max(file_size, 0)
        if size >= PARALLEL_BYTES and len(jobs) > 1 and processes() > 1:
            self.made = index_in_parallel(root, jobs, cap, self.passage_words, self.password, progress, self.stopped)


def _concatenated(read: Sequence[tuple[str, FileIndex]], shifts: Sequence[int], name: str) -> np.ndarray:
    return np.concatenate([index.arrays[name] + shift for (_, index), shift in zip(read, shifts, strict=True)])


def _retriever(read: Sequence[tuple[str, FileIndex]], owner: np.ndarray, weight: float) -> ContextualRetriever | None:
    counts, paragraphs = merge([i.counts for _, i in read], [i.paragraph_counts for _, i in read])
    try:
        own = Bm25(counts)
    except NothingToIndex:  # nothing to rank by: the folder is read in order, up to the budget
        return None
    para = Bm25(paragraphs, own.vocabulary) if paragraphs is not None and weight > 0 else None
    return ContextualRetriever(own, para, owner, weight)


def assemble(root: Path, read: Sequence[tuple[str, FileIndex]], settings: EngineSettings) -> IndexedDocument:
    """The folder as one indexed document: the files' texts one after another, their offsets shifted to match, and
    one BM25 index over all their passages."""
    document = Document.from_files([(rel, index.extracted) for rel, index in read], root)
    starts = [part.start for part in document.parts]
    before = np.cumsum([0, *(index.paragraphs for _, index in read)])
    owner = _concatenated(read, [int(n) for n in before[:-1]], "owner")
    words = _concatenated(read, [0] * len(read), "words")
    passages = PassageList(
        document.text, _concatenated(read, starts, "passage_starts"), _concatenated(read, starts, "passage_ends")
    )
    retriever = None
    if int(words.sum()) > MIN_WORDS_TO_RANK and len(passages) > 1:
        retriever = _retriever(read, owner, settings.paragraph_weight)
    sentences = SentenceIndex.of_arrays(
        _concatenated(read, starts, "sentence_starts"), _concatenated(read, starts, "sentence_ends")
    )
    return IndexedDocument(document, passages, retriever, sentences, int(words.sum()), 0.0, words.tolist())


def _snapshot_key(walk: Walk, settings: EngineSettings, max_bytes: int) -> str | None:
    """What a snapshot is made from: the settings, the budget and every file's path, size and stamp (None when a
    file cannot be looked at, or changed too recently for its stamp to tell the next change)."""
    digest = hashlib.sha256(f"{FORMAT}|{settings.passage_words}|{settings.paragraph_weight!r}|{max_bytes}".encode())
    for rel, path in walk.found:
        size, stamp, recent = looked_at(path)
        if size < 0 or recent:
            return None
        digest.update(f"\0{rel}\0{size}\0{stamp}".encode("utf-8", "surrogatepass"))
    return digest.hexdigest()


def _from_snapshot(store: Store, key: str | None, root: Path, walk: Walk) -> tuple[Opened, IndexedDocument] | None:
    blob = store.snapshot(key) if key is not None else None
    if blob is None or key is None:
        return None
    try:
        indexed, read_skipped = snapshot_from_bytes(blob, key, root)
    except BadEntry:
        return None
    skipped = sorted([*walk.skipped, *read_skipped], key=lambda s: s.path)
    return Opened(indexed.document, skipped, [part.name for part in indexed.document.parts]), indexed


def index_folder(
    root: Path,
    settings: EngineSettings,
    cache_dir: Path | None,
    *,
    include: Sequence[str] = (),
    exclude: Sequence[str] = (),
    password: str | None = None,
    progress: ProgressCallback | None = None,
    stopped: Callable[[], bool] | None = None,
) -> tuple[Opened, IndexedDocument]:
    """Read and index a folder through its saved index (none is kept when a password is given: what it opens)."""
    selection = Selection(root, walked(root, include, exclude), ())
    return index_selection(selection, settings, cache_dir, password=password, progress=progress, stopped=stopped)


def index_selection(
    selection: Selection,
    settings: EngineSettings,
    cache_dir: Path | None,
    *,
    password: str | None = None,
    progress: ProgressCallback | None = None,
    stopped: Callable[[], bool] | None = None,
) -> tuple[Opened, IndexedDocument]:
    """Read and index a folder, or several paths, through the saved index kept for exactly what was named."""
    t0 = time.perf_counter()
    root, walk = selection.root, selection.walk
    max_bytes = max_document_bytes()
    use_cache = cache_dir is not None and password is None
    identity = "|".join([f"{FORMAT}|{settings.passage_words}", *selection.named])
    store = Store(store_path(cache_dir, root, identity) if cache_dir and use_cache else None)
    try:
        key = _snapshot_key(walk, settings, max_bytes)
        opened = _from_snapshot(store, key, root, walk)
        if opened is None:
            opened = _read_and_assemble(root, walk, settings, store, key, password, progress, stopped)
    finally:
        store.commit()
        store.close()
    if cache_dir is not None and use_cache:
        prune(cache_dir)
    if progress:
        progress("done", 1.0)
    opened[1].index_ms = (time.perf_counter() - t0) * 1000
    return opened


def _read_and_assemble(
    root: Path,
    walk: Walk,
    settings: EngineSettings,
    store: Store,
    key: str | None,
    password: str | None,
    progress: ProgressCallback | None,
    stopped: Callable[[], bool] | None,
) -> tuple[Opened, IndexedDocument]:
    reader = _CachedReader(store, settings.passage_words, password, stopped)
    reader.index_new_files(root, walk, max_document_bytes(), progress)
    if reader.made and progress is not None:  # the workers took the bar to 90%: what is left is quick
        progress = _scaled(progress, 0.9, 0.95)
    read, skipped = read_folder(
        root, walk, max_document_bytes(), reader, password=password, progress=progress, stopped=stopped
    )
    store.forget_gone(root)
    if progress:
        progress("indexing", 0.95)
    indexed = assemble(root, read, settings)
    if key is not None and not reader.racy and store.db is not None and isinstance(indexed.passages, PassageList):
        walked_out = {id(s) for s in walk.skipped}
        read_skipped = [s for s in skipped if id(s) not in walked_out]
        store.save_snapshot(key, snapshot_bytes(key, indexed, indexed.passages, read_skipped))
    return Opened(indexed.document, skipped, [rel for rel, _ in read]), indexed


def _scaled(progress: ProgressCallback, low: float, high: float) -> ProgressCallback:
    return lambda stage, fraction: progress(stage, low + (high - low) * fraction)


def open_indexed(
    path: str | os.PathLike[str],
    settings: EngineSettings,
    *,
    file_cache: Path | None,
    folder_cache: Path | None,
    also: Sequence[str | os.PathLike[str]] = (),
    include: Sequence[str] = (),
    exclude: Sequence[str] = (),
    password: str | None = None,
    progress: ProgressCallback | None = None,
    stopped: Callable[[], bool] | None = None,
) -> tuple[Opened, IndexedDocument]:
    """What a user names, read and indexed: a folder (or ``path`` with the files and folders in ``also``, as one
    context) through its saved per-file index, a file alone through the document index cache
    (:mod:`assistant.core.index_cache`)."""
    p = files.named_path(path)
    if also:
        return index_selection(
            selected([p, *also], include, exclude),
            settings,
            folder_cache,
            password=password,
            progress=progress,
            stopped=stopped,
        )
    if files.path_kind(p) == "dir":
        return index_folder(
            p,
            settings,
            folder_cache,
            include=include,
            exclude=exclude,
            password=password,
            progress=progress,
            stopped=stopped,
        )
    opened = open_path(p, include=include, exclude=exclude, password=password, progress=progress, stopped=stopped)
    return opened, index_document(opened.document, settings, progress, file_cache)
