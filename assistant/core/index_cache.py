"""A document's index kept on disk, so that a cold ``assistant ask`` on a document seen before skips
splitting it into sentences and passages and building its BM25 indexes (most of a cold answer's time).

One folder per document text and index settings, named by their SHA-256 (the key): ``.npy`` arrays of the
passage and sentence offsets, the passages' BM25 term counts (:mod:`assistant.core.bm25`), and ``entry.json``, which
records the key, the format and the size and SHA-256 of every file. Nothing is pickled.

An entry proves itself before it is used: the folder is a real folder (no link) named by the key asked for,
``entry.json`` names the same key, every file it lists is a regular file of that size and checksum, and the
arrays make sense (offsets inside the text and in order, ids in range, scores finite). Anything else, or any
failure to load, means the entry is removed and rebuilt: a damaged cache never serves wrong passages and never
fails an answer. The cache folder itself is the program's own (``assistant.core.ownership``): a folder that
is not, such as a user's own ``index/``, is never written into or pruned. A folder is written under a
temporary name (holding the writer's pid) and renamed, so a crash leaves no half-written entry, and what a
kill leaves behind is swept by the next writer.
"""

from __future__ import annotations

import hashlib
import io
import os
import re
import shutil
import stat
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from assistant.core import files, ownership
from assistant.core.bm25 import TermCounts
from assistant.core.errors import UserError
from assistant.core.passages import Span, check_spans
from assistant.core.retrieval import ContextualRetriever

CACHE_FORMAT = 3
"""Bump when what is saved, or how text is split or indexed, changes: old folders are then ignored."""
MAX_ENTRIES = 64
"""Documents kept; the least recently used beyond this are removed when a new one is saved."""
CACHE_KIND = "index-cache"
MANIFEST = "entry.json"
MAX_ENTRY_BYTES = 2 * files.GiB
"""An entry larger than this is not one this program wrote (a 50 MB document's index is a fraction of it)."""
_KEY = re.compile(r"[0-9a-f]{64}")
_OURS = re.compile(r"[0-9a-f]{64}|\.[0-9a-f]{16}-\w+|\.[0-9a-f]{16}\.tmp-\d+-[0-9a-f]+")
"""What an index folder made before folders were marked holds: key-named entries and the program's temporaries."""
_LISTED = re.compile(r"[A-Za-z0-9_.-]+(/[A-Za-z0-9_.-]+)?")
_ARRAYS = ("passage_starts", "passage_ends", "sentence_starts", "sentence_ends", "passage_words", "owner")
_TERM_ARRAYS = ("term_indptr", "terms", "term_counts", "term_lengths")
VOCABULARY = "vocabulary.json"


@dataclass(frozen=True)
class IndexParts:
    """What indexing a document produces, apart from the document itself."""

    passages: list[Span]
    passage_words: list[int]
    sentences: list[Span]
    retriever: ContextualRetriever | None


def cache_key(text: str, passage_words: int, paragraph_weight: float) -> str:
    """Changes with the text, the settings that shape the index, and the cache format."""
    digest = hashlib.sha256(f"{CACHE_FORMAT}|{passage_words}|{paragraph_weight!r}|".encode())
    digest.update(text.encode("utf-8", "surrogatepass"))
    return digest.hexdigest()


def passages_digest(text: str, passages: list[Span]) -> str:
    """SHA-256 of the text each passage covers: binds an entry to the text it was made from (a copy of another
    document's entry under this one's name reads other text at its offsets), for about a millisecond a megabyte."""
    digest = hashlib.sha256()
    for span in passages:
        digest.update(text[span.start : span.end].encode("utf-8", "surrogatepass"))
        digest.update(b"\0")
    return digest.hexdigest()


class BadEntry(ValueError):
    """A cache entry that does not prove itself: it is removed and rebuilt."""


# --- proving an entry ------------------------------------------------------------------------------------------


def _verified_files(folder: Path, key: str) -> dict[str, Any]:
    """``entry.json`` of ``folder`` once every file it lists is a regular file of its size and checksum."""
    if not stat.S_ISDIR(os.lstat(folder).st_mode):
        raise BadEntry("not a folder")
    try:
        manifest = files.read_json(folder / MANIFEST, files.RECORD, nofollow=True)
    except UserError as exc:
        raise BadEntry(str(exc)) from None
    if not isinstance(manifest, dict) or manifest.get("format") != CACHE_FORMAT or manifest.get("key") != key:
        raise BadEntry("made for another text, settings or format")
    listed = manifest.get("files")
    if not isinstance(listed, dict) or not listed:
        raise BadEntry("lists no files")
    total = 0
    for name, expected in listed.items():
        size = expected.get("size") if isinstance(expected, dict) else None
        if not isinstance(name, str) or not _LISTED.fullmatch(name) or ".." in name:
            raise BadEntry(f"lists a file outside it ({name!r})")
        if not isinstance(size, int) or isinstance(size, bool) or size < 0:
            raise BadEntry("lists a file without its size")
        total += size
        if total > MAX_ENTRY_BYTES:
            raise BadEntry("too large")
        try:
            data = files.read_bytes(folder / name, files.FileKind("cache file", size), nofollow=True)
        except UserError as exc:
            raise BadEntry(str(exc)) from None
        if len(data) != size or hashlib.sha256(data).hexdigest() != expected.get("sha256"):
            raise BadEntry(f"{name} does not match its checksum")
    return manifest


def _array(folder: Path, name: str) -> np.ndarray:
    """A saved 1-d int64 array (its bytes were just checked against the manifest)."""
    raw = files.read_bytes(folder / f"{name}.npy", files.CACHE_PART, nofollow=True)
    array: np.ndarray = np.load(io.BytesIO(raw), allow_pickle=False)
    if array.dtype != np.int64 or array.ndim != 1:
        raise BadEntry(f"{name} is not a list of whole numbers")
    return array


def _spans(starts: np.ndarray, ends: np.ndarray, length: int) -> list[Span]:
    """Spans from saved offsets, which must lie inside a text of ``length`` characters in order."""
    try:
        check_spans(starts, ends, length)
    except ValueError as exc:
        raise BadEntry(str(exc)) from None
    return list(map(Span, starts.tolist(), ends.tolist()))


def _term_counts(folder: Path, passages: int) -> TermCounts:
    """The passages' saved term counts, checked (ids in range, pointers in order, counts positive)."""
    arrays = {name: _array(folder, name) for name in _TERM_ARRAYS}
    vocabulary = files.parse_json(files.read_bytes(folder / VOCABULARY, files.CACHE_PART, nofollow=True), VOCABULARY)
    if not isinstance(vocabulary, list):
        raise BadEntry("a vocabulary that is not a list")
    counts = TermCounts(
        vocabulary,
        arrays["term_indptr"],
        arrays["terms"].astype(np.int32),
        arrays["term_counts"].astype(np.int32),
        arrays["term_lengths"].astype(np.int32),
    )
    counts.check(passages)
    return counts


def _read_entry(folder: Path, text: str) -> IndexParts:
    manifest = _verified_files(folder, folder.name)
    arrays = {name: _array(folder, name) for name in _ARRAYS}
    passages = _spans(arrays["passage_starts"], arrays["passage_ends"], len(text))
    sentences = _spans(arrays["sentence_starts"], arrays["sentence_ends"], len(text))
    if manifest.get("passages_sha256") != passages_digest(text, passages):
        raise BadEntry("made from another text (its passages read otherwise here)")
    words = arrays["passage_words"]
    if words.shape != (len(passages),) or (words.size and words.min() < 0):
        raise BadEntry("word counts do not match passages")
    owner, weight, paragraphs = arrays["owner"], manifest.get("paragraph_weight"), manifest.get("paragraphs")
    if not isinstance(weight, float | int) or not isinstance(paragraphs, int) or not 0 <= weight < 1e6:
        raise BadEntry("index settings missing")
    retriever = None
    if owner.size:
        if owner.shape != (len(passages),) or owner.min() < 0 or owner.max() >= paragraphs:
            raise BadEntry("paragraph owners outside the paragraphs")
        retriever = ContextualRetriever.of_counts(_term_counts(folder, len(passages)), owner, paragraphs, float(weight))
    return IndexParts(passages, words.tolist(), sentences, retriever)


def load_index(folder: Path, text: str) -> IndexParts | None:
    """The parts saved in ``folder`` for ``text``, or None when there are none that prove themselves.

    An entry that fails any check is removed (it is the program's own: its name is a key in its cache folder),
    so that the index built instead can take its place.
    """
    if not _KEY.fullmatch(folder.name) or not ownership.is_ours(folder.parent, CACHE_KIND):
        return None
    try:
        if not os.path.lexists(folder):
            return None
        parts = _read_entry(folder, text)
        os.utime(folder, follow_symlinks=False)  # most recently used
    except Exception:  # BadEntry, OSError, ValueError from numpy or the checks: whatever it is, rebuild
        _remove(folder)
        return None
    return parts


def _remove(path: Path) -> None:
    try:
        if path.is_symlink() or not path.is_dir():
            path.unlink(missing_ok=True)
        else:
            shutil.rmtree(path)
    except OSError:
        pass


# --- saving an entry -------------------------------------------------------------------------------------------


def save_index(folder: Path, parts: IndexParts, text: str) -> None:
    """Write ``parts`` to ``folder`` atomically (temporary folder, then rename); failures only cost the time saved.

    Nothing is written unless the cache folder is the program's own (created and marked by it).
    """
    root = folder.parent
    if not _KEY.fullmatch(folder.name) or not ownership.claim(root, CACHE_KIND, adopt=_OURS):
        return
    files.sweep_temps(root)  # folders that a killed writer left
    tmp = files.temp_path(root, folder.name[:16])
    try:
        tmp.mkdir()
        _write(tmp, parts, folder.name, text)
        if os.path.lexists(folder):  # another process indexed the same document first
            shutil.rmtree(tmp, ignore_errors=True)
            return
        os.replace(tmp, folder)
    except (OSError, ValueError):
        shutil.rmtree(tmp, ignore_errors=True)
        return
    prune(root, keep=MAX_ENTRIES)


def _write(tmp: Path, parts: IndexParts, key: str, text: str) -> None:
    retriever = parts.retriever
    arrays = {
        "passage_starts": [s.start for s in parts.passages],
        "passage_ends": [s.end for s in parts.passages],
        "sentence_starts": [s.start for s in parts.sentences],
        "sentence_ends": [s.end for s in parts.sentences],
        "passage_words": parts.passage_words,
        "owner": retriever.owner if retriever is not None else [],
    }
    for name, values in arrays.items():
        np.save(tmp / f"{name}.npy", np.asarray(values, dtype=np.int64), allow_pickle=False)
    counts = retriever.passages.counts if retriever is not None else None  # an index built here keeps its counts
    term_arrays: dict[str, Any] = {
        "term_indptr": counts.indptr if counts is not None else [],
        "terms": counts.terms if counts is not None else [],
        "term_counts": counts.counts if counts is not None else [],
        "term_lengths": counts.lengths if counts is not None else [],
    }
    for name, values in term_arrays.items():
        np.save(tmp / f"{name}.npy", np.asarray(values, dtype=np.int64), allow_pickle=False)
    files.write_text(tmp / VOCABULARY, files.json_text(counts.vocabulary if counts is not None else []))
    listed = {}
    for path in sorted(p for p in tmp.rglob("*") if p.is_file()):
        data = path.read_bytes()
        listed[path.relative_to(tmp).as_posix()] = {"size": len(data), "sha256": hashlib.sha256(data).hexdigest()}
    manifest = {
        "format": CACHE_FORMAT,
        "key": key,
        "passages_sha256": passages_digest(text, parts.passages),
        "paragraph_weight": float(retriever.paragraph_weight) if retriever is not None else 0.0,
        "paragraphs": _paragraphs(retriever),
        "files": listed,
    }
    files.write_json(tmp / MANIFEST, manifest)


def _paragraphs(retriever: ContextualRetriever | None) -> int:
    if retriever is None or not retriever.owner.size:
        return 0
    return retriever.paragraphs.size if retriever.paragraphs is not None else int(retriever.owner.max()) + 1


def prune(cache: Path, keep: int) -> None:
    """Remove all but the ``keep`` most recently used entries of the program's own cache folder."""
    if not ownership.is_ours(cache, CACHE_KIND):
        return
    try:
        entries = [p for p in cache.iterdir() if _KEY.fullmatch(p.name) and not p.is_symlink() and p.is_dir()]
        entries.sort(key=lambda p: p.stat().st_mtime, reverse=True)
    except OSError:
        return
    for old in entries[keep:]:
        _remove(old)
