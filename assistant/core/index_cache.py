"""A document's index kept on disk, so that a cold ``assistant ask`` on a document seen before skips
splitting it into sentences and passages and building its BM25 indexes (most of a cold answer's time).

One folder per document text and index settings, named by their SHA-256: ``spans.npz`` (passage and
sentence offsets, arrays only) and bm25s's own saved indexes, memory-mapped on load. Nothing is
pickled. A folder is written under a temporary name and renamed, so a crash leaves no half-written
index; one that does not load for any reason is rebuilt, and a cache that cannot be written only
costs the time saved.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path

import bm25s
import numpy as np

from assistant.core.passages import Span
from assistant.core.retrieval import ContextualRetriever, PassageRetriever

CACHE_FORMAT = 1
"""Bump when what is saved, or how text is split or indexed, changes: old folders are then ignored."""
MAX_ENTRIES = 64
"""Documents kept; the least recently used beyond this are removed when a new one is saved."""


@dataclass(frozen=True)
class IndexParts:
    """What indexing a document produces, apart from the document itself."""

    passages: list[Span]
    passage_words: list[int]
    sentences: list[Span]
    retriever: ContextualRetriever | None


def cache_key(text: str, passage_words: int, paragraph_weight: float) -> str:
    """Changes with the text, the settings that shape the index, the format and the BM25 library."""
    digest = hashlib.sha256(f"{CACHE_FORMAT}|{bm25s.__version__}|{passage_words}|{paragraph_weight!r}|".encode())
    digest.update(text.encode("utf-8", "surrogatepass"))
    return digest.hexdigest()


def _spans(starts: np.ndarray, ends: np.ndarray, length: int) -> list[Span]:
    """Spans from saved offsets, which must lie inside a text of ``length`` characters in order."""
    if starts.shape != ends.shape or starts.ndim != 1:
        raise ValueError("offsets of different shapes")
    if starts.size and (starts.min() < 0 or ends.max() > length or bool(np.any(ends <= starts))):
        raise ValueError("offsets outside the text")
    return list(map(Span, starts.tolist(), ends.tolist()))


def load_index(folder: Path, text: str) -> IndexParts | None:
    """The parts saved in ``folder`` for ``text``, or None when absent or unreadable (then rebuild)."""
    if not (folder / "spans.npz").is_file():
        return None
    try:
        with np.load(folder / "spans.npz", allow_pickle=False) as saved:
            passages = _spans(saved["passage_starts"], saved["passage_ends"], len(text))
            sentences = _spans(saved["sentence_starts"], saved["sentence_ends"], len(text))
            words = saved["passage_words"].tolist()
            owner = saved["owner"]
            weight = float(saved["paragraph_weight"])
            paragraphs = int(saved["paragraphs"])
        if len(words) != len(passages):
            raise ValueError("word counts do not match passages")
        retriever = None
        if owner.size:
            if owner.shape != (len(passages),):
                raise ValueError("paragraph owners do not match passages")
            if owner.min() < 0 or owner.max() >= paragraphs:
                raise ValueError("paragraph owners outside the paragraphs")
            para = PassageRetriever.load(folder / "paragraphs", paragraphs) if weight > 0 else None
            own = PassageRetriever.load(folder / "passages", len(passages))
            retriever = ContextualRetriever(own, para, owner, weight)
        os.utime(folder)  # most recently used
    except (OSError, ValueError, KeyError, TypeError, IndexError, EOFError, zipfile.BadZipFile):
        return None
    return IndexParts(passages, words, sentences, retriever)


def save_index(folder: Path, parts: IndexParts) -> None:
    """Write ``parts`` to ``folder`` atomically (temporary folder, then rename); failures are ignored."""
    try:
        folder.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{folder.name[:16]}-", dir=folder.parent))
    except OSError:
        return
    try:
        _write(tmp, parts)
        if folder.exists():  # another process indexed the same document first
            shutil.rmtree(tmp, ignore_errors=True)
            return
        os.replace(tmp, folder)
    except OSError:
        shutil.rmtree(tmp, ignore_errors=True)
        return
    prune(folder.parent, keep=MAX_ENTRIES)


def _write(tmp: Path, parts: IndexParts) -> None:
    retriever = parts.retriever
    owner = retriever.owner if retriever is not None else np.zeros(0, dtype=np.int64)
    np.savez(
        tmp / "spans.npz",
        passage_starts=np.array([s.start for s in parts.passages], dtype=np.int64),
        passage_ends=np.array([s.end for s in parts.passages], dtype=np.int64),
        sentence_starts=np.array([s.start for s in parts.sentences], dtype=np.int64),
        sentence_ends=np.array([s.end for s in parts.sentences], dtype=np.int64),
        passage_words=np.array(parts.passage_words, dtype=np.int64),
        owner=owner,
        paragraph_weight=np.float64(retriever.paragraph_weight if retriever is not None else 0.0),
        paragraphs=np.int64(retriever.paragraphs.size if retriever and retriever.paragraphs else 0),
    )
    if retriever is not None:
        retriever.passages.save(tmp / "passages")
        if retriever.paragraphs is not None:
            retriever.paragraphs.save(tmp / "paragraphs")


def prune(cache: Path, keep: int) -> None:
    """Remove all but the ``keep`` most recently used index folders."""
    try:
        entries = [p for p in cache.iterdir() if p.is_dir()]
        entries.sort(key=lambda p: p.stat().st_mtime, reverse=True)
    except OSError:
        return
    named = [p for p in entries if not p.name.startswith(".")]
    for old in named[keep:]:
        shutil.rmtree(old, ignore_errors=True)
