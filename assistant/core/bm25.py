"""BM25 over term counts that can be made file by file and merged: what lets a folder's index be updated one file
at a time (bm25s, which ranks a single document, builds its index whole and cannot update it).

The words and the scores are bm25s's own, so that rankings do not change with the index: its tokens (lower case,
``\\b\\w\\w+\\b``, English stop words left out, Snowball stems), and its Lucene BM25 (``k1`` 1.5, ``b`` 0.75,
``idf = ln(1 + (N - df + 0.5) / (df + 0.5))``). A file's counts are a sparse passage × term table with the file's
own vocabulary; merging renumbers terms into one vocabulary, and the scores are computed from the merged counts.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

try:  # PyStemmer is a declared dependency; the fallback keeps retrieval working without it.
    import Stemmer

    _STEMMER = Stemmer.Stemmer("english").stemWords
except ImportError:  # pragma: no cover
    _STEMMER = None

STOP_WORDS = (
    "a", "an", "and", "are", "as", "at", "be", "but", "by", "for", "if", "in", "into", "is", "it", "no", "not", "of",
    "on", "or", "such", "that", "the", "their", "then", "there", "these", "they", "this", "to", "was", "will", "with",
)  # fmt: skip
"""Lucene's English stop words, which bm25s's ``stopwords="en"`` is (``tests/test_bm25.py`` holds them equal): kept
here, so that counting a file's terms does not import bm25s (a tenth of a second in every worker)."""
QUESTION_WORDS = (
    "what", "which", "who", "whom", "whose", "when", "where", "why", "how",
    "do", "does", "did", "done", "can", "could", "would", "should", "may", "might", "must", "shall",
    "were", "been", "being", "has", "have", "had", "i", "me", "my", "you", "your", "we", "us", "our",
    "he", "she", "his", "her", "its", "them", "from", "about", "than", "so", "some", "any", "also",
)  # fmt: skip
"""Words that shape a question rather than say what it is about: left out of the query, where BM25 would
otherwise rank a passage that merely says "does not do what" above the one with the question's subject."""

K1 = 1.5
B = 0.75
_TOKEN = re.compile(r"\w\w+")
"""bm25s's ``\\b\\w\\w+\\b``: a maximal run of word characters is bounded by definition, and this form is faster."""
_STOPWORDS = frozenset(STOP_WORDS)
_QUERY_STOP = _STOPWORDS | frozenset(QUESTION_WORDS)


class NothingToIndex(ValueError):
    """Texts with no word BM25 can index (stop words, single letters, symbols): there is nothing to rank by."""


_STEMS: dict[str, str] = {}
"""Stems already made: a folder's files share most of their words."""
_MAX_STEMS = 1_000_000


def _stems(words: list[str]) -> list[str]:
    """Snowball stems, each word stemmed once per process (safe from several threads: the cache is only a hint)."""
    if _STEMMER is None:
        return words
    stems = [_STEMS.get(word) for word in words]
    new = [word for word, stem in zip(words, stems, strict=True) if stem is None]
    if not new:
        return stems  # type: ignore[return-value]
    made = dict(zip(new, _STEMMER(new), strict=True))
    if len(_STEMS) > _MAX_STEMS:
        _STEMS.clear()
    _STEMS.update(made)
    return [stem if stem is not None else made[word] for word, stem in zip(words, stems, strict=True)]


@dataclass(frozen=True)
class TermCounts:
    """How often each term occurs in each row (a passage or a paragraph): a compressed sparse row table."""

    vocabulary: list[str]
    indptr: np.ndarray
    """int64, rows + 1: row ``r``'s entries are ``terms[indptr[r]:indptr[r + 1]]``."""
    terms: np.ndarray
    """int32 ids into ``vocabulary``, each at most once per row."""
    counts: np.ndarray
    """int32, how often the term occurs in the row."""
    lengths: np.ndarray
    """int32, the row's tokens (stop words left out), the length BM25 normalises by."""

    @property
    def rows(self) -> int:
        return int(self.indptr.size - 1)

    def check(self, rows: int) -> None:
        """Raise ValueError unless this is a sound table of ``rows`` rows (what a cache loads must prove it)."""
        indptr, terms, counts, lengths = self.indptr, self.terms, self.counts, self.lengths
        if any(a.ndim != 1 for a in (indptr, terms, counts, lengths)) or indptr.size != rows + 1:
            raise ValueError("term counts of another shape")
        if indptr[0] != 0 or indptr[-1] != terms.size or counts.size != terms.size or lengths.size != rows:
            raise ValueError("term count pointers do not match the counts")
        if bool(np.any(np.diff(indptr) < 0)) or (counts.size and counts.min() < 1) or (rows and lengths.min() < 0):
            raise ValueError("term counts out of order or negative")
        if terms.size and (terms.min() < 0 or terms.max() >= len(self.vocabulary)):
            raise ValueError("term ids outside the vocabulary")
        try:
            "".join(self.vocabulary)  # a TypeError unless every term is a string, at C speed
        except TypeError:
            raise ValueError("a vocabulary that is not a list of words") from None
        if len(set(self.vocabulary)) != len(self.vocabulary):
            raise ValueError("a vocabulary with a word twice")


def _table(
    row_of: np.ndarray, term_of: np.ndarray, weights: np.ndarray | None, rows: int, width: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """indptr, terms and summed counts of (row, term) pairs, rows in order and terms sorted within a row."""
    keys = row_of.astype(np.int64) * max(width, 1) + term_of
    unique, inverse = np.unique(keys, return_inverse=True)
    counts = np.bincount(inverse, weights=weights, minlength=unique.size).astype(np.int32)
    indptr = np.zeros(rows + 1, dtype=np.int64)
    np.cumsum(np.bincount(unique // max(width, 1), minlength=rows), out=indptr[1:])
    return indptr, (unique % max(width, 1)).astype(np.int32), counts


class _Ids(dict[str, int]):
    """Numbers words as they are first seen, at the speed of a dict lookup for the words seen before."""

    def __missing__(self, word: str) -> int:
        self[word] = number = len(self)
        return number


def count_terms(texts: Sequence[str]) -> TermCounts:
    """The term counts of each text, tokenized as bm25s tokenizes a corpus."""
    ids = _Ids()
    flat: list[int] = []
    ends: list[int] = []
    find, number = _TOKEN.findall, ids.__getitem__
    for text in texts:
        flat.extend(map(number, find(text.lower())))
        ends.append(len(flat))
    words = list(ids)
    kept = [word for word in words if word not in _STOPWORDS]
    stems = _stems(kept)
    vocabulary = list(dict.fromkeys(stems))
    stem_id = {stem: i for i, stem in enumerate(vocabulary)}
    of_word = dict(zip(kept, (stem_id[stem] for stem in stems), strict=True))
    to_stem = np.asarray([of_word.get(word, -1) for word in words], dtype=np.int32)
    tokens = to_stem[np.asarray(flat, dtype=np.int64)] if flat else np.zeros(0, dtype=np.int32)
    per_row: np.ndarray = np.diff(np.asarray([0, *ends], dtype=np.int64))
    row_of = np.repeat(np.arange(len(ends), dtype=np.int64), per_row)
    keep = tokens >= 0
    tokens, row_of = tokens[keep], row_of[keep]
    lengths = np.bincount(row_of, minlength=len(ends)).astype(np.int32)
    indptr, terms, counts = _table(row_of, tokens, None, len(ends), len(vocabulary))
    return TermCounts(vocabulary, indptr, terms, counts, lengths)


def query_terms(question: str) -> list[str]:
    """The stems a question is ranked by (question words such as "what" and "does" left out), repeats kept."""
    return _stems([word for word in _TOKEN.findall(question.lower()) if word not in _QUERY_STOP])


def merge(parts: Sequence[TermCounts], paragraphs: Sequence[TermCounts] = ()) -> tuple[TermCounts, TermCounts | None]:
    """The rows of every part, one after another, in one vocabulary (and those of ``paragraphs``, each counted in
    the vocabulary of the part of the same place, in the same merged vocabulary)."""
    ids: dict[str, int] = {}
    mappings = [np.asarray([ids.setdefault(t, len(ids)) for t in part.vocabulary], dtype=np.int32) for part in parts]
    vocabulary = list(ids)
    merged = _stacked(parts, mappings, vocabulary)
    return merged, (_stacked(paragraphs, mappings, vocabulary) if paragraphs else None)


def _stacked(parts: Sequence[TermCounts], mappings: Sequence[np.ndarray], vocabulary: list[str]) -> TermCounts:
    indptr = [np.zeros(1, dtype=np.int64)]
    at = 0
    for part in parts:
        indptr.append(part.indptr[1:].astype(np.int64) + at)
        at += int(part.indptr[-1])
    empty = np.zeros(0, dtype=np.int32)
    return TermCounts(
        vocabulary,
        np.concatenate(indptr),
        np.concatenate([m[p.terms] for p, m in zip(parts, mappings, strict=True)]) if parts else empty,
        np.concatenate([p.counts for p in parts]) if parts else empty,
        np.concatenate([p.lengths for p in parts]) if parts else empty,
    )


def grouped(counts: TermCounts, owner: np.ndarray, groups: int) -> TermCounts:
    """Rows summed into ``groups`` rows (``owner[r]`` is row ``r``'s group): a paragraph's counts from its passages."""
    row_of = np.repeat(owner.astype(np.int64), np.diff(counts.indptr))
    width = len(counts.vocabulary)
    indptr, terms, summed = _table(row_of, counts.terms, counts.counts.astype(np.float64), groups, width)
    lengths = np.bincount(owner, weights=counts.lengths, minlength=groups).astype(np.int32)
    return TermCounts(counts.vocabulary, indptr, terms, summed, lengths)


def _average(lengths: np.ndarray) -> float:
    """The mean row length BM25 normalises by (made once: every query uses it)."""
    return max(float(lengths.mean()) if lengths.size else 1.0, 1e-9)


class Bm25:
    """Lucene BM25 scores of every row for a query, from merged term counts: each term's rows and counts (one column
    per term, as bm25s keeps), weighed when a query asks for the term, so that rows can be taken out and put in (a
    folder's file changed) without weighing every count again."""

    counts: TermCounts | None
    """What it was computed from (kept to be saved); None when it was loaded as computed."""

    def __init__(self, counts: TermCounts, vocabulary: dict[str, int] | None = None) -> None:
        """``vocabulary``: the term ids of ``counts.vocabulary``, when another index over it made them already."""
        if not counts.vocabulary:
            raise NothingToIndex("no indexable word")
        self.counts = counts
        self.size = counts.rows
        self.vocabulary = vocabulary or {term: i for i, term in enumerate(counts.vocabulary)}
        row_of = np.repeat(np.arange(self.size, dtype=np.int32), np.diff(counts.indptr))
        order = np.argsort(counts.terms)  # a column's rows in any order: each row is in it once
        self.rows = row_of[order]
        self.tf = counts.counts[order].astype(np.int32)
        self.columns = np.zeros(len(counts.vocabulary) + 1, dtype=np.int64)
        np.cumsum(np.bincount(counts.terms, minlength=len(counts.vocabulary)), out=self.columns[1:])
        self.lengths = counts.lengths.astype(np.int32)
        self.average = _average(self.lengths)

    @classmethod
    def of_arrays(
        cls,
        vocabulary: dict[str, int],
        rows: np.ndarray,
        tf: np.ndarray,
        columns: np.ndarray,
        lengths: np.ndarray,
    ) -> Bm25:
        """An index as computed before (a saved folder index), or ValueError when its arrays do not make sense."""
        if columns.ndim != 1 or columns.size != len(vocabulary) + 1 or columns[0] != 0 or columns[-1] != rows.size:
            raise ValueError("BM25 columns that do not match the vocabulary")
        if bool(np.any(np.diff(columns) < 0)) or rows.shape != tf.shape or rows.ndim != 1 or lengths.ndim != 1:
            raise ValueError("BM25 columns out of order")
        if rows.size and (rows.min() < 0 or rows.max() >= lengths.size):
            raise ValueError("BM25 rows out of range")
        if (tf.size and tf.min() < 1) or (lengths.size and lengths.min() < 0):
            raise ValueError("BM25 counts that are not counts")
        index = cls.__new__(cls)
        index.counts, index.size, index.vocabulary = None, int(lengths.size), vocabulary
        index.rows, index.tf, index.columns, index.lengths = rows, tf, columns, lengths
        index.average = _average(lengths)
        return index

    def scores(self, question: str) -> np.ndarray:
        """Every row's score (zeros when no query term occurs), a query term counted as often as it is asked."""
        scores = np.zeros(self.size, dtype=np.float32)
        average = self.average
        for term in query_terms(question):
            column = self.vocabulary.get(term)
            if column is None:
                continue
            start, end = int(self.columns[column]), int(self.columns[column + 1])
            df = end - start
            rows = self.rows[start:end]
            idf = np.log1p((self.size - df + 0.5) / (df + 0.5))
            norm = K1 * ((1 - B) + B * self.lengths[rows].astype(np.float64) / average)
            tf = self.tf[start:end].astype(np.float64)
            scores[rows] += (idf * tf / (norm + tf)).astype(np.float32)
        return scores

    @classmethod
    def of_texts(cls, texts: Sequence[str]) -> Bm25:
        return cls(count_terms(texts))

    def top(self, question: str, k: int) -> list[tuple[int, float]]:
        """Indices and scores of the ``k`` best rows, best first (ties keep document order)."""
        scores = self.scores(question)
        order = np.argsort(-scores, kind="stable")[: min(k, self.size)]
        return [(int(i), float(scores[i])) for i in order]
