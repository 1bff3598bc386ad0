"""BM25 from term counts: the same scores as bm25s, whether counted at once, file by file and merged, or summed
from passages into paragraphs (what lets a folder's index change one file at a time)."""

from __future__ import annotations

import bm25s
import numpy as np
import pytest

from assistant.core.bm25 import Bm25, NothingToIndex, TermCounts, count_terms, grouped, merge, query_terms

TEXTS = [
    "The keeper feeds the zebras at noon, and the zebras graze.",
    "Zebras graze on the savanna; giraffes browse the acacias.",
    "Über-long words like donaudampfschifffahrt and naïve café stay words.",
    "A ranger counts giraffes, zebras and elephants every morning.",
    "the of and",  # stop words only: a row with no terms
    "Elephants drink at the river; the river floods in spring.",
]
QUESTIONS = [
    "When does the keeper feed the zebras?",
    "zebras zebras giraffes",  # a repeated word counts twice, as bm25s counts it
    "What does a café serve?",
    "river floods",
    "quetzalcoatl",
    "",
]


def _bm25s_scores(texts: list[str], question: str) -> np.ndarray:
    from bm25s.stopwords import STOPWORDS_EN

    from assistant.core.bm25 import _STEMMER, QUESTION_WORDS

    model = bm25s.BM25()
    model.index(bm25s.tokenize(texts, stopwords="en", stemmer=_STEMMER, show_progress=False), show_progress=False)
    stop = list(STOPWORDS_EN) + list(QUESTION_WORDS)
    words = bm25s.tokenize([question], stopwords=stop, stemmer=_STEMMER, show_progress=False, return_ids=False)[0]
    known = [w for w in words if w in model.vocab_dict]
    return np.asarray(model.get_scores(known), dtype=np.float32) if known else np.zeros(len(texts), np.float32)


@pytest.mark.parametrize("question", QUESTIONS)
def test_scores_are_those_of_bm25s(question):
    assert np.allclose(Bm25.of_texts(TEXTS).scores(question), _bm25s_scores(TEXTS, question), atol=1e-5)


def test_stop_words_are_those_of_bm25s():
    from bm25s.stopwords import STOPWORDS_EN

    from assistant.core.bm25 import STOP_WORDS

    assert sorted(STOP_WORDS) == sorted(STOPWORDS_EN)


@pytest.mark.parametrize("question", QUESTIONS)
def test_files_counted_apart_and_merged_score_as_one_corpus(question):
    merged, _ = merge([count_terms(TEXTS[:2]), count_terms(TEXTS[2:3]), count_terms([]), count_terms(TEXTS[3:])])
    merged.check(len(TEXTS))
    assert np.allclose(Bm25(merged).scores(question), Bm25.of_texts(TEXTS).scores(question), atol=1e-6)


@pytest.mark.parametrize("question", QUESTIONS)
def test_paragraph_counts_are_the_sums_of_their_passages(question):
    owner = np.asarray([0, 0, 1, 1, 1, 2])
    paragraphs = [" ".join(TEXTS[:2]), " ".join(TEXTS[2:5]), TEXTS[5]]
    summed = grouped(count_terms(TEXTS), owner, 3)
    summed.check(3)
    assert np.allclose(Bm25(summed).scores(question), Bm25.of_texts(paragraphs).scores(question), atol=1e-6)


def test_a_question_is_ranked_by_its_subject_not_its_question_words():
    assert query_terms("What does the keeper do with zebras?") == ["keeper", "zebra"]


def test_texts_with_no_indexable_word_cannot_be_ranked():
    with pytest.raises(NothingToIndex):
        Bm25.of_texts(["the of and", "a I"])


@pytest.mark.parametrize(
    "damage",
    [
        lambda c: TermCounts(c.vocabulary, c.indptr[::-1].copy(), c.terms, c.counts, c.lengths),
        lambda c: TermCounts(c.vocabulary, c.indptr, c.terms + 1000, c.counts, c.lengths),
        lambda c: TermCounts(c.vocabulary, c.indptr, c.terms, c.counts * 0, c.lengths),
        lambda c: TermCounts(c.vocabulary, c.indptr, c.terms, c.counts, c.lengths[:-1]),
        lambda c: TermCounts([*c.vocabulary[:-1], c.vocabulary[0]], c.indptr, c.terms, c.counts, c.lengths),
        lambda c: TermCounts([1, 2, 3], c.indptr, c.terms, c.counts, c.lengths),  # type: ignore[list-item]
    ],
    ids=["pointers reversed", "ids past the vocabulary", "zero counts", "lengths short", "a word twice", "numbers"],
)
def test_unsound_counts_are_refused(damage):
    counts = count_terms(TEXTS)
    counts.check(len(TEXTS))
    with pytest.raises(ValueError):
        damage(counts).check(len(TEXTS))
