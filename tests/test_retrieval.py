"""Passage ranking: BM25 over passages plus the weighted BM25 score of the paragraph each sits in."""

from __future__ import annotations

import numpy as np
import pytest

from assistant.core.bm25 import Bm25
from assistant.core.retrieval import ContextualRetriever

# Two paragraphs, two passages each. The last passage of both is the same sentence; only the second
# paragraph (which comes later in the document) is about zebras.
PARAGRAPHS = [
    "Cars drive on long roads. The keeper feeds them at noon.",
    "Zebras graze on the savanna. The keeper feeds them at noon.",
]
PASSAGES = [
    "Cars drive on long roads.",
    "The keeper feeds them at noon.",
    "Zebras graze on the savanna.",
    "The keeper feeds them at noon.",
]
OWNER = [0, 0, 1, 1]
QUESTION = "When does the keeper feed the zebras?"


def contextual(weight: float) -> ContextualRetriever:
    return ContextualRetriever.build(PASSAGES, PARAGRAPHS, OWNER, weight)


# --- plain BM25 over passages ---------------------------------------------------------------------------------


def test_bm25_ranks_the_passage_sharing_the_question_words_first():
    retriever = Bm25.of_texts(["the cat sat on the mat", "zebras graze on grass", "a dog ran in the park"])
    scores = retriever.scores("What do zebras graze on?")
    assert scores.shape == (3,) and scores.dtype == np.float32
    assert scores[1] > 0 and scores[0] == 0 and scores[2] == 0
    assert retriever.top("What do zebras graze on?", 1) == [(1, pytest.approx(float(scores[1])))]


def test_bm25_rarer_words_weigh_more():
    retriever = Bm25.of_texts(["river bank", "river boat", "river mill", "bank loan"])
    scores = retriever.scores("river loan")
    assert int(np.argmax(scores)) == 3, "'loan' is in one passage, 'river' in three"


@pytest.mark.parametrize("question", ["", "   ", "the of and?", "quetzalcoatl xylophone"])
def test_empty_stopword_or_unknown_queries_score_zero_and_keep_document_order(question):
    retriever = Bm25.of_texts(["alpha beta", "gamma delta", "epsilon"])
    assert retriever.scores(question).tolist() == [0.0, 0.0, 0.0]
    assert [i for i, _ in retriever.top(question, 5)] == [0, 1, 2]
    order, scores = contextual(1.0).ranked(question)
    assert order.tolist() == [0, 1, 2, 3] and not scores.any()


def test_top_keeps_document_order_on_ties_and_clips_k():
    retriever = Bm25.of_texts(["red apple", "green pear", "red apple", "red apple"])
    top = retriever.top("red apple", 10)
    assert [i for i, _ in top] == [0, 2, 3, 1]
    assert top[0][1] == top[1][1] == top[2][1] > top[3][1]


# --- the paragraph score --------------------------------------------------------------------------------------


def test_passage_in_a_matching_paragraph_ranks_above_an_equal_passage_elsewhere():
    plain = Bm25.of_texts(PASSAGES).scores(QUESTION)
    assert plain[1] == plain[3] > 0, "the two passages are the same sentence"
    order, scores = contextual(1.0).ranked(QUESTION)
    assert scores[3] > scores[1]
    assert order.tolist().index(3) < order.tolist().index(1)


def test_weight_zero_is_plain_bm25():
    retriever = contextual(0.0)
    assert retriever.paragraphs is None
    plain = Bm25.of_texts(PASSAGES).scores(QUESTION)
    order, scores = retriever.ranked(QUESTION)
    np.testing.assert_allclose(scores, plain / plain.max(), rtol=1e-6)
    assert order.tolist() == np.argsort(-plain, kind="stable").tolist()
    assert scores[1] == scores[3] and order.tolist().index(1) < order.tolist().index(3), "a tie keeps document order"


def test_scores_are_passage_plus_weighted_paragraph_each_scaled_to_its_best():
    own = Bm25.of_texts(PASSAGES).scores(QUESTION)
    para = Bm25.of_texts(PARAGRAPHS).scores(QUESTION)
    for weight in (0.5, 1.0, 3.0):
        expected = own / own.max() + weight * para[OWNER] / para.max()
        np.testing.assert_allclose(contextual(weight).scores(QUESTION), expected, rtol=1e-5)


def test_a_heavier_paragraph_weight_lets_context_beat_a_stronger_passage():
    paragraphs = ["Keepers feed lions daily. Zebras sleep standing.", "Keepers feed the zebras at noon, keepers say."]
    passages = ["Keepers feed lions daily.", "Zebras sleep standing.", "Keepers feed the zebras at noon, keepers say."]
    owner = [0, 0, 1]
    question = "Do zebras sleep?"
    light = ContextualRetriever.build(passages, paragraphs, owner, 0.01).ranked(question)[0].tolist()
    heavy = ContextualRetriever.build(passages, paragraphs, owner, 10.0).ranked(question)[0].tolist()
    assert light[0] == 1, "with little weight the passage's own words decide"
    assert heavy.index(0) < heavy.index(2), "the first paragraph also holds 'sleep', so its passages rise"


def test_identical_passages_in_identical_paragraphs_tie_in_document_order():
    retriever = ContextualRetriever.build(["keeper feeds zebras"] * 3, ["keeper feeds zebras"] * 3, [0, 1, 2], 1.0)
    order, scores = retriever.ranked("keeper zebras")
    assert order.tolist() == [0, 1, 2] and scores[0] == scores[1] == scores[2] > 0


def test_the_words_that_shape_a_question_do_not_rank_passages():
    """Seen on Vim's release notes: "What does :argdedupe do?" ranked a patch note that "does not do what one
    would expect" above the one line that names :argdedupe."""
    passages = [
        "Problem: the legacy command does not do what one would expect, which is what users do.",
        "argdedupe removes duplicates from the argument list.",
    ]
    retriever = Bm25.of_texts(passages)
    assert retriever.top("What does argdedupe do?", 1)[0][0] == 1
    assert retriever.scores("What does it do?").tolist() == [0.0, 0.0], "question words alone match nothing"
