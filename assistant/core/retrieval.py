"""BM25 ranking of passages, so that a long document is read only where the question points."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path

import bm25s
import numpy as np
from bm25s.stopwords import STOPWORDS_EN

try:  # PyStemmer is a declared dependency; the fallback keeps retrieval working without it.
    import Stemmer

    _STEMMER = Stemmer.Stemmer("english").stemWords
except ImportError:  # pragma: no cover
    _STEMMER = None

logging.getLogger("bm25s").setLevel(logging.ERROR)

QUESTION_WORDS = (
    "what", "which", "who", "whom", "whose", "when", "where", "why", "how",
    "do", "does", "did", "done", "can", "could", "would", "should", "may", "might", "must", "shall",
    "were", "been", "being", "has", "have", "had", "i", "me", "my", "you", "your", "we", "us", "our",
    "he", "she", "his", "her", "its", "them", "from", "about", "than", "so", "some", "any", "also",
)  # fmt: skip
"""Words that shape a question rather than say what it is about: left out of the query, where BM25 would
otherwise rank a passage that merely says "does not do what" above the one with the question's subject."""

_QUERY_STOPWORDS = list(dict.fromkeys([*STOPWORDS_EN, *QUESTION_WORDS]))


class NothingToIndex(ValueError):
    """Texts with no word BM25 can index (stop words, single letters, symbols): there is nothing to rank by."""


class PassageRetriever:
    """A BM25 index over passage texts, built once per document (or loaded from where it was saved)."""

    def __init__(self, texts: Sequence[str]) -> None:
        self.size = len(texts)
        self.bm25 = bm25s.BM25()
        tokens = bm25s.tokenize(list(texts), stopwords="en", stemmer=_STEMMER, show_progress=False)
        if not any(word for word in tokens.vocab):
            raise NothingToIndex("no indexable word")
        self.vocabulary: dict[str, int] = tokens.vocab
        self.bm25.index(tokens, show_progress=False)

    def save(self, directory: Path) -> None:
        """bm25s's own format: JSON and ``.npy`` arrays, nothing pickled."""
        self.bm25.save(str(directory), show_progress=False)

    @classmethod
    def load(cls, directory: Path, size: int) -> PassageRetriever:
        """An index saved by :meth:`save`, memory-mapped; ``size`` passages are expected (else ValueError)."""
        bm25 = bm25s.BM25.load(str(directory), mmap=True, allow_pickle=False, show_progress=False)
        if bm25.scores.get("num_docs") != size or not isinstance(bm25.vocab_dict, dict):
            raise ValueError(f"a saved index of {bm25.scores.get('num_docs')} passages, not {size}")
        retriever = cls.__new__(cls)
        retriever.size, retriever.bm25, retriever.vocabulary = size, bm25, bm25.vocab_dict
        return retriever

    def scores(self, question: str) -> np.ndarray:
        """BM25 score of every passage for the question (zeros when no query word is known)."""
        words = bm25s.tokenize(
            [question], stopwords=_QUERY_STOPWORDS, stemmer=_STEMMER, show_progress=False, return_ids=False
        )[0]
        known = [w for w in words if w in self.vocabulary]
        if not known:
            return np.zeros(self.size, dtype=np.float32)
        return np.asarray(self.bm25.get_scores(known), dtype=np.float32)

    def top(self, question: str, k: int) -> list[tuple[int, float]]:
        """Indices and scores of the ``k`` best passages, best first (ties keep document order)."""
        scores = self.scores(question)
        k = min(k, self.size)
        order = np.argsort(-scores, kind="stable")[:k]
        return [(int(i), float(scores[i])) for i in order]


class ContextualRetriever:
    """Ranks small passages by their own BM25 score plus that of the paragraph they sit in.

    Small passages keep the text read short; the paragraph score brings back answer sentences that
    share few words with the question but sit in the paragraph that does. On the SQuAD 2.0 dev sample
    (see README) 40-word passages ranked this way reach 0.98 recall while reading fewer words than
    the 5 best whole paragraphs, which plain BM25 ranks to 0.94.
    """

    def __init__(
        self,
        passages: PassageRetriever,
        paragraphs: PassageRetriever | None,
        owner: Sequence[int] | np.ndarray,
        paragraph_weight: float = 1.0,
    ) -> None:
        self.passages = passages
        self.paragraphs = paragraphs if paragraph_weight > 0 else None
        self.owner = np.asarray(owner, dtype=np.int64)
        self.paragraph_weight = paragraph_weight

    @classmethod
    def build(
        cls, passages: Sequence[str], paragraphs: Sequence[str], owner: Sequence[int], paragraph_weight: float = 1.0
    ) -> ContextualRetriever:
        """Index the passages, and the paragraphs unless their weight is 0."""
        para = PassageRetriever(paragraphs) if paragraph_weight > 0 else None
        return cls(PassageRetriever(passages), para, owner, paragraph_weight)

    def scores(self, question: str) -> np.ndarray:
        own = self.passages.scores(question)
        combined: np.ndarray = own / (own.max() + 1e-9)
        if self.paragraphs is not None:
            para = self.paragraphs.scores(question)
            combined = combined + self.paragraph_weight * para[self.owner] / (para.max() + 1e-9)
        return combined

    def ranked(self, question: str) -> tuple[np.ndarray, np.ndarray]:
        """Passage indices best first (ties in document order) and their scores."""
        scores = self.scores(question)
        return np.argsort(-scores, kind="stable"), scores
