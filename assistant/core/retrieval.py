"""BM25 ranking of passages, so that a long document is read only where the question points."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from assistant.core.bm25 import Bm25, TermCounts, grouped


class ContextualRetriever:
    """Ranks small passages by their own BM25 score plus that of the paragraph they sit in.

    Small passages keep the text read short; the paragraph score brings back answer sentences that
    share few words with the question but sit in the paragraph that does. On the SQuAD 2.0 dev sample
    (see README) 40-word passages ranked this way reach 0.98 recall while reading fewer words than
    the 5 best whole paragraphs, which plain BM25 ranks to 0.94.
    """

    def __init__(
        self,
        passages: Bm25,
        paragraphs: Bm25 | None,
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
        para = Bm25.of_texts(paragraphs) if paragraph_weight > 0 else None
        return cls(Bm25.of_texts(passages), para, owner, paragraph_weight)

    @classmethod
    def of_counts(
        cls, counts: TermCounts, owner: np.ndarray, paragraphs: int, paragraph_weight: float
    ) -> ContextualRetriever:
        """From the passages' term counts alone: a paragraph's counts are the sum of its passages' (which cover it)."""
        own = Bm25(counts)
        para = Bm25(grouped(counts, owner, paragraphs), own.vocabulary) if paragraph_weight > 0 else None
        return cls(own, para, owner, paragraph_weight)

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
