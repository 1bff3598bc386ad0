"""BM25 ranking of passages, so that a long document is read only where the question points."""

from __future__ import annotations

import logging
from collections.abc import Sequence

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


class PassageRetriever:
    """A BM25 index over passage texts, built once per document."""

    def __init__(self, texts: Sequence[str]) -> None:
        self.size = len(texts)
        self._bm25 = bm25s.BM25()
        tokens = bm25s.tokenize(list(texts), stopwords="en", stemmer=_STEMMER, show_progress=False)
        self._vocab = tokens.vocab
        self._bm25.index(tokens, show_progress=False)

    def scores(self, question: str) -> np.ndarray:
        """BM25 score of every passage for the question (zeros when no query word is known)."""
        words = bm25s.tokenize(
            [question], stopwords=_QUERY_STOPWORDS, stemmer=_STEMMER, show_progress=False, return_ids=False
        )[0]
        known = [w for w in words if w in self._vocab]
        if not known:
            return np.zeros(self.size, dtype=np.float32)
        return np.asarray(self._bm25.get_scores(known), dtype=np.float32)

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
        self, passages: Sequence[str], paragraphs: Sequence[str], owner: Sequence[int], paragraph_weight: float = 1.0
    ) -> None:
        self.passages = PassageRetriever(passages)
        self.paragraphs = PassageRetriever(paragraphs) if paragraph_weight > 0 else None
        self.owner = np.asarray(owner, dtype=np.int64)
        self.paragraph_weight = paragraph_weight

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
