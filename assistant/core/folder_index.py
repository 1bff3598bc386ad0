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
    FileState,
    Snapshot,
    entry_bytes,
    entry_from_bytes,
    index_file,
    snapshot_bytes,
    snapshot_from_bytes,
)
from assistant.core.folder_splice import Kept, Read, can_splice, spliced
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
    """Reads a file of the folder: as the last snapshot's part when the file is the one that part was made from, else
    from its entry when the file is unchanged, else from what a worker made of it, else from the file (and saves what
    it made)."""

    store: Store
    passage_words: int
    password: str | None
    stopped: Callable[[], bool] | None
    snapshot: Snapshot | None = None
    racy: bool = False
    made: dict[str, Done] = field(default_factory=dict)

    def __post_init__(self) -> None:
        files_ = self.snapshot.files if self.snapshot is not None else ()
        self.parts = {state.rel: n for n, state in enumerate(files_)}

    def unchanged(self, rel: str, size: int, stamp: str) -> bool:
        known = self.store.known.get(rel)
        return known is not None and bool(stamp) and (known.size, known.stamp) == (size, stamp)

    def __call__(self, rel: str, path: Path, left: int) -> tuple[FileIndex | Kept, int]:
        size, stamp, recent = looked_at(path)
        known = self.store.known.get(rel)
        if known is not None and self.unchanged(rel, size, stamp):
            found = self._kept(rel, known.source_sha256) or self._from_entry(rel, known.source_sha256)
            if found is not None:
                return self._within(found, path, size, left)
        done = self.made.pop(rel, None)
        if done is None:
            raw = files.read_bytes(path, document_file_kind(left), nofollow=True)
            done = Done(len(raw), hashlib.sha256(raw).hexdigest())
        else:
            done.raise_error()
            raw = b""
        self.racy |= recent
        now = Known(done.size, "" if recent else stamp, done.source_sha256, "")
        if known is not None and known.source_sha256 == now.source_sha256:
            found = self._kept(rel, now.source_sha256) or self._from_entry(rel, known.source_sha256)
            if found is not None:
                now.entry_sha256 = known.entry_sha256
                self.store.save_entry(rel, now, None)
                return self._within(found, path, done.size, left)
        index, blob = self._made(rel, path, raw or None, done, left)
        self.store.save_entry(rel, now, blob)  # kept even when over this budget: the next open need not read it
        return self._within(index, path, done.size, left)

    def _kept(self, rel: str, source_sha256: str) -> Kept | None:
        """The last snapshot's part of ``rel``, when it was made from these bytes."""
        part = self.parts.get(rel)
        if part is None or self.snapshot is None or self.snapshot.files[part].source_sha256 != source_sha256:
            return None
        return Kept(part)

    def _within(self, found: FileIndex | Kept, path: Path, size: int, left: int) -> tuple[FileIndex | Kept, int]:
        """The file's index when its text fits what the budget has left; else the refusal that reading it gives (the
        file is read again, up to what is left: each format words its own, a ``.gz`` as inflating past it)."""
        used = found.text_bytes if isinstance(found, FileIndex) else self._snapshot_files[found.part].text_bytes
        if used <= left:
            return found, used
        raw = files.read_bytes(path, document_file_kind(left), nofollow=True)
        extracted_from(raw, path, left, password=self.password, stopped=self.stopped)
        raise Request(path, left).over_cap()  # a format that reads it within what is left: the budget says it

    @property
    def _snapshot_files(self) -> tuple[FileState, ...]:
        return self.snapshot.files if self.snapshot is not None else ()

    def _made(self, rel: str, path: Path, raw: bytes | None, done: Done, left: int) -> tuple[FileIndex, bytes]:
        """The file's index and entry: a worker's (checked as a saved entry is), or made here."""
        if done.entry is not None:
            try:
                return entry_from_bytes(done.entry, _source(rel, done.source_sha256)), done.entry
            except BadEntry:
                pass
        raw = raw if raw is not None else files.read_bytes(path, document_file_kind(left), nofollow=True)
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
                jobs.append(Job(rel, path, max(file_size, 0), known.source_sha256 if known else ""))
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


def _last_snapshot(store: Store, root: Path) -> Snapshot | None:
    blob = store.snapshot()
    if blob is None:
        return None
    try:
        return snapshot_from_bytes(blob, root)
    except BadEntry:
        return None


def _reopened(snapshot: Snapshot, walk: Walk) -> tuple[Opened, IndexedDocument]:
    indexed = snapshot.indexed
    skipped = sorted([*walk.skipped, *snapshot.skipped], key=lambda s: s.path)
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
        snapshot = _last_snapshot(store, root)
        if snapshot is not None and key is not None and snapshot.key == key:
            opened = _reopened(snapshot, walk)
        else:
            if snapshot is not None and not can_splice(snapshot, settings.paragraph_weight):
                snapshot = None
            opened = _read_and_assemble(root, walk, settings, store, key, snapshot, password, progress, stopped)
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
    snapshot: Snapshot | None,
    password: str | None,
    progress: ProgressCallback | None,
    stopped: Callable[[], bool] | None,
) -> tuple[Opened, IndexedDocument]:
    """The folder made from its files: the changed ones spliced into ``snapshot`` (the last one, when it can take
    them), or every one assembled anew."""
    reader = _CachedReader(store, settings.passage_words, password, stopped, snapshot)
    reader.index_new_files(root, walk, max_document_bytes(), progress)
    if reader.made and progress is not None:  # the workers took the bar to 90%: what is left is quick
        progress = _scaled(progress, 0.9, 0.95)
    read, skipped = read_folder(
        root, walk, max_document_bytes(), reader, password=password, progress=progress, stopped=stopped
    )
    store.forget_gone(root)
    if progress:
        progress("indexing", 0.95)
    sources = {rel: known.source_sha256 for rel, known in store.known.items()}
    if snapshot is not None and any(isinstance(item, Kept) for _, item in read):
        indexed, states = spliced(snapshot, read, sources)
    else:
        fresh = _all_fresh(read)
        indexed = assemble(root, fresh, settings)
        states = tuple(FileState(rel, sources.get(rel, ""), i.text_bytes, i.paragraphs) for rel, i in fresh)
    if key is not None and not reader.racy and store.db is not None:
        walked_out = {id(s) for s in walk.skipped}
        read_skipped = [s for s in skipped if id(s) not in walked_out]
        made = Snapshot(key, indexed, states, read_skipped, settings.paragraph_weight)
        store.save_snapshot(key, snapshot_bytes(made))
    return Opened(indexed.document, skipped, [rel for rel, _ in read]), indexed


def _all_fresh(read: Sequence[Read]) -> list[tuple[str, FileIndex]]:
    """The files read, each with its index (none kept from a snapshot: there was none to keep from)."""
    fresh = [(rel, item) for rel, item in read if isinstance(item, FileIndex)]
    if len(fresh) != len(read):
        raise AssertionError("a part kept from a snapshot that is not spliced into")
    return fresh


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
