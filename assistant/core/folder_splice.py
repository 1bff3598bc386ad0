"""A folder's index made from its last snapshot and the files that changed since it was made.

The parts of files that did not change are kept as they are: their text, offsets and term counts are moved, not read
and counted again. Those of new and changed files are put in at their place, those of files gone are taken out. A
changed file then costs that file's work and a few passes over arrays, where assembling the folder anew reads every
file's entry and merges every vocabulary. BM25 weighs counts when a query asks (:class:`assistant.core.bm25.Bm25`), so
the counts moved need no weighing again. ``tests/test_folder_splice.py`` holds a spliced index equal to the one
assembled from scratch: the same text, places, passages, sentences and scores.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from assistant.core.bm25 import Bm25, TermCounts
from assistant.core.documents import FILE_SEPARATOR, Document, Part
from assistant.core.engine import MIN_WORDS_TO_RANK, IndexedDocument
from assistant.core.folder_entries import FileIndex, FileState, Snapshot
from assistant.core.formats.base import Location
from assistant.core.passages import PassageList, SentenceIndex
from assistant.core.retrieval import ContextualRetriever


@dataclass(frozen=True)
class Kept:
    """A file whose part of the last snapshot stands as it is: the part's place among the snapshot's parts."""

    part: int


Read = tuple[str, FileIndex | Kept]
"""A file read for the folder: its path in the folder, and its new index or the snapshot's part it keeps."""


def can_splice(snapshot: Snapshot, paragraph_weight: float) -> bool:
    """Whether ``snapshot`` can take changes: it was ranked (a folder too short to rank is quick to make anew), with
    the paragraph weight asked for now."""
    retriever = snapshot.indexed.retriever
    return retriever is not None and snapshot.weight == paragraph_weight


@dataclass
class _Postings:
    """One BM25 index being made: which old row goes where, and the new files' counts in the folder's terms."""

    old: Bm25
    row_map: np.ndarray
    terms: list[np.ndarray] = field(default_factory=list)
    rows: list[np.ndarray] = field(default_factory=list)
    tf: list[np.ndarray] = field(default_factory=list)
    lengths: list[tuple[int, np.ndarray]] = field(default_factory=list)

    def add(self, counts: TermCounts, term_ids: np.ndarray, first_row: int) -> None:
        local = np.repeat(np.arange(counts.rows, dtype=np.int32), np.diff(counts.indptr))
        self.terms.append(term_ids[counts.terms])
        self.rows.append(local + first_row)
        self.tf.append(counts.counts.astype(np.int32))
        self.lengths.append((first_row, counts.lengths))

    def made(self, vocabulary: dict[str, int], size: int) -> Bm25:
        """The index of the new rows: old columns kept in order, new counts put in after each column's old ones."""
        old, width = self.old, len(vocabulary)
        term_of = np.repeat(np.arange(old.columns.size - 1, dtype=np.int32), np.diff(old.columns))
        mapped = self.row_map[old.rows]
        kept = mapped >= 0
        terms, rows, tf = term_of[kept], mapped[kept].astype(np.int32), old.tf[kept]
        per_term = np.bincount(terms, minlength=width)
        if self.terms:
            new_terms = np.concatenate(self.terms)
            order = np.argsort(new_terms, kind="stable")
            new_terms = new_terms[order]
            at = np.searchsorted(terms, new_terms, side="right")
            rows = np.insert(rows, at, np.concatenate(self.rows)[order])
            tf = np.insert(tf, at, np.concatenate(self.tf)[order])
            per_term = per_term + np.bincount(new_terms, minlength=width)
        columns = np.zeros(width + 1, dtype=np.int64)
        np.cumsum(per_term, out=columns[1:])
        lengths = np.zeros(size, dtype=np.int32)
        moved = self.row_map >= 0
        lengths[self.row_map[moved]] = old.lengths[moved]
        for first, counted in self.lengths:
            lengths[first : first + counted.size] = counted
        return Bm25.of_arrays(vocabulary, rows, tf, columns, lengths)


@dataclass
class _Splice:
    """What the new folder is made of, piece by piece, in the order of its files."""

    snapshot: Snapshot
    texts: list[str] = field(default_factory=list)
    parts: list[Part] = field(default_factory=list)
    states: list[FileState] = field(default_factory=list)
    arrays: dict[str, list[np.ndarray]] = field(default_factory=dict)
    at: int = 0
    passages: int = 0
    paragraphs: int = 0

    def __post_init__(self) -> None:
        old = self.snapshot.indexed
        retriever = old.retriever
        assert retriever is not None, "a snapshot that was not ranked is made anew, never spliced"
        self.retriever = retriever
        self.old_passages = _passage_list(old)
        self.old_words = np.asarray(old.passage_words, dtype=np.int64)
        self.paragraph_starts = np.cumsum([0, *(state.paragraphs for state in self.snapshot.files)])
        self.vocabulary = dict(retriever.passages.vocabulary)
        self.own = _Postings(retriever.passages, np.full(retriever.passages.size, -1, dtype=np.int64))
        para = retriever.paragraphs
        self.para = _Postings(para, np.full(para.size, -1, dtype=np.int64)) if para is not None else None

    def _append(self, text: str) -> int:
        """Where ``text`` starts in the new folder's text (after a separator unless it is the first)."""
        if self.texts:
            self.texts.append(FILE_SEPARATOR)
            self.at += len(FILE_SEPARATOR)
        start = self.at
        self.texts.append(text)
        self.at += len(text)
        return start

    def _put(self, **arrays: np.ndarray) -> None:
        for name, values in arrays.items():
            self.arrays.setdefault(name, []).append(values)

    def keep(self, first: int, last: int) -> None:
        """The snapshot's parts ``first`` to ``last`` (inclusive), moved as they are."""
        old = self.snapshot.indexed
        old_parts = old.document.parts
        begin, end = old_parts[first].start, old_parts[last].end
        shift = self._append(old.document.text[begin:end]) - begin
        for part in old_parts[first : last + 1]:
            locations = tuple(Location(loc.start + shift, loc.page, loc.section) for loc in part.locations)
            self.parts.append(Part(part.start + shift, part.end + shift, part.name, part.format, locations))
        self.states.extend(self.snapshot.files[first : last + 1])
        s0, s1 = np.searchsorted(old.sentences.starts, [begin, end])
        p0, p1 = np.searchsorted(self.old_passages.starts, [begin, end])
        g0, g1 = int(self.paragraph_starts[first]), int(self.paragraph_starts[last + 1])
        self._put(
            sentence_starts=old.sentences.starts[s0:s1] + shift,
            sentence_ends=old.sentences.ends[s0:s1] + shift,
            passage_starts=self.old_passages.starts[p0:p1] + shift,
            passage_ends=self.old_passages.ends[p0:p1] + shift,
            words=self.old_words[p0:p1],
            owner=self.retriever.owner[p0:p1] - g0 + self.paragraphs,
        )
        self.own.row_map[p0:p1] = np.arange(self.passages, self.passages + p1 - p0)
        if self.para is not None:
            self.para.row_map[g0:g1] = np.arange(self.paragraphs, self.paragraphs + g1 - g0)
        self.passages += int(p1 - p0)
        self.paragraphs += g1 - g0

    def add(self, rel: str, index: FileIndex, source_sha256: str) -> None:
        """A new or changed file's index, put in here."""
        extracted, arrays = index.extracted, index.arrays
        at = self._append(extracted.text)
        locations = tuple(Location(loc.start + at, loc.page, loc.section) for loc in extracted.locations)
        self.parts.append(Part(at, at + len(extracted.text), rel, extracted.format, locations))
        self.states.append(FileState(rel, source_sha256, index.text_bytes, index.paragraphs))
        offsets = ("sentence_starts", "sentence_ends", "passage_starts", "passage_ends")
        self._put(
            **{name: arrays[name] + at for name in offsets},
            words=arrays["words"],
            owner=arrays["owner"] + self.paragraphs,
        )
        vocabulary = self.vocabulary
        term_ids = np.asarray(
            [vocabulary.setdefault(term, len(vocabulary)) for term in index.counts.vocabulary], dtype=np.int32
        )
        self.own.add(index.counts, term_ids, self.passages)
        if self.para is not None:
            self.para.add(index.paragraph_counts, term_ids, self.paragraphs)
        self.passages += int(arrays["passage_starts"].size)
        self.paragraphs += index.paragraphs

    def made(self) -> tuple[IndexedDocument, tuple[FileState, ...]]:
        def joined(name: str) -> np.ndarray:
            return np.concatenate(self.arrays[name]).astype(np.int64)

        text = "".join(self.texts)
        document = Document(text=text, path=self.snapshot.indexed.document.path, parts=tuple(self.parts))
        words = joined("words")
        passages = PassageList(text, joined("passage_starts"), joined("passage_ends"))
        retriever = None
        if int(words.sum()) > MIN_WORDS_TO_RANK and len(passages) > 1:
            own = self.own.made(self.vocabulary, self.passages)
            if own.rows.size:
                para = self.para.made(own.vocabulary, self.paragraphs) if self.para is not None else None
                own, para = _without_terms_gone(own, para)
                retriever = ContextualRetriever(own, para, joined("owner"), self.retriever.paragraph_weight)
        sentences = SentenceIndex.of_arrays(joined("sentence_starts"), joined("sentence_ends"))
        indexed = IndexedDocument(document, passages, retriever, sentences, int(words.sum()), 0.0, words.tolist())
        return indexed, tuple(self.states)


def _without_terms_gone(own: Bm25, para: Bm25 | None) -> tuple[Bm25, Bm25 | None]:
    """The indexes without the terms no file holds any more (those of the files changed or gone), so that a folder
    edited again and again keeps the vocabulary, and the snapshot the size, of the folder read anew. A term is in no
    paragraph exactly when it is in no passage (a paragraph's counts are its passages'), so one mask serves both."""
    held = np.diff(own.columns) > 0
    if bool(held.all()):
        return own, para
    terms = [term for term, kept in zip(own.vocabulary, held.tolist(), strict=True) if kept]
    vocabulary = {term: i for i, term in enumerate(terms)}

    def kept(index: Bm25) -> Bm25:
        columns = np.concatenate(([0], index.columns[1:][held]))  # a term gone held no rows: its column was empty
        return Bm25.of_arrays(vocabulary, index.rows, index.tf, columns, index.lengths)

    return kept(own), kept(para) if para is not None else None


def _passage_list(indexed: IndexedDocument) -> PassageList:
    passages = indexed.passages
    if not isinstance(passages, PassageList):
        raise TypeError("a snapshot keeps passages as offsets")
    return passages


def spliced(
    snapshot: Snapshot, read: Sequence[Read], source_sha256: dict[str, str]
) -> tuple[IndexedDocument, tuple[FileState, ...]]:
    """The folder of the files ``read`` (in order), each new one's index put in and each kept one's moved from
    ``snapshot``, and what each part was made from (``source_sha256``: a new file's bytes' SHA-256)."""
    splice = _Splice(snapshot)
    run: list[int] = []
    for rel, item in read:
        if isinstance(item, Kept) and (not run or item.part == run[-1] + 1):
            run.append(item.part)
            continue
        if run:
            splice.keep(run[0], run[-1])
        run = [item.part] if isinstance(item, Kept) else []
        if isinstance(item, FileIndex):
            splice.add(rel, item, source_sha256.get(rel, ""))
    if run:
        splice.keep(run[0], run[-1])
    return splice.made()
