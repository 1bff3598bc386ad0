"""The span decoder on hand-made logits: what chat and evaluation both rely on."""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from assistant.core.decoding import DecodeSettings, WindowLogits, decode, snap_to_words, window_candidates

NEG = -10.0


def window(starts, ends, offsets, base=0):
    return WindowLogits(np.array(starts, dtype=float), np.array(ends, dtype=float), offsets, base=base)


# tokens: [CLS] q q [SEP] the cat sat [SEP]
TEXT = "the cat sat"
OFFSETS = [None, None, None, None, (0, 3), (4, 7), (8, 11), None]
ALWAYS = DecodeSettings(allow_null=False, min_confidence=0.0)


def test_known_best_span_is_returned():
    starts = [0, NEG, NEG, NEG, NEG, 5, NEG, NEG]
    ends = [0, NEG, NEG, NEG, NEG, NEG, 5, NEG]
    result = decode([window(starts, ends, OFFSETS)], TEXT, ALWAYS)
    best = result.answers[0]
    assert TEXT[best.start : best.end] == "cat sat"
    assert best.score == 10.0


def test_question_and_special_tokens_are_never_answers():
    # the question tokens have the highest logits, but only context tokens may be chosen
    starts = [9, 20, 20, 20, 1, NEG, NEG, 20]
    ends = [9, 20, 20, 20, 1, NEG, NEG, 20]
    result = decode([window(starts, ends, OFFSETS)], TEXT, ALWAYS)
    assert [TEXT[a.start : a.end] for a in result.answers][:1] == ["the"]


# Three guards keep inverted or empty spans out, each at its own stage; every test below builds input that
# only the guard under test can stop, so each fails if that one guard goes.


def test_end_token_before_start_token_is_never_paired():
    """Token order: one character read as three tokens ("½" -> 1, ⁄, 2) shares offsets, so an end token
    before its start token still gives a well-formed character span; only the token check refuses it."""
    text = "x ½ y"
    offsets = [None, (0, 1), (2, 3), (2, 3), (2, 3), (4, 5), None]
    starts = [0, NEG, NEG, NEG, 9, NEG, NEG]  # best start: the last token of "½"
    ends = [0, NEG, 9, NEG, NEG, NEG, NEG]  # best end: the first token of "½", before that start
    w = window(starts, ends, offsets)
    assert max(c.score for c in window_candidates(w, ALWAYS)) == 9 + NEG
    result = decode([w], text, ALWAYS)
    assert result.answers[0].score == 9 + NEG


@pytest.mark.parametrize(
    "offsets",
    [
        [None, (5, 6), (2, 3), None],  # offsets that run backwards: characters 5..3
        [None, (3, 3), (3, 3), None],  # a zero-width token inside a word
    ],
    ids=["backwards", "zero-width"],
)
def test_character_span_that_ends_before_it_starts_is_rejected(offsets):
    """Character order: the tokens are in order but their characters are not (or are empty); word
    snapping would widen such a span into the whole word, so only the offset check refuses it."""
    text = "abcdefgh"
    w = window([0, 9, NEG, NEG], [0, NEG, 9, NEG], offsets)
    candidates = window_candidates(w, ALWAYS)
    assert all(c.start < c.end for c in candidates)
    assert all(c.score < 9 + 9 for c in candidates)
    assert all(a.score < 9 + 9 for a in decode([w], text, ALWAYS).answers)


def test_span_of_only_whitespace_is_not_an_empty_answer():
    """After snapping: a token that covers only a space is a well-formed span of one character, which
    trimming leaves empty; only the check after snapping keeps it from becoming an answer."""
    text = "the cat"
    offsets = [None, (0, 3), (3, 4), (4, 7), None]
    w = window([0, NEG, 9, NEG, NEG], [0, NEG, 9, NEG, NEG], offsets)
    assert any((c.start, c.end) == (3, 4) for c in window_candidates(w, ALWAYS))
    result = decode([w], text, replace(ALWAYS, top_k=5))
    assert result.answers and all(a.start < a.end and text[a.start : a.end].strip() for a in result.answers)


def test_answer_length_limit():
    n = 50
    text = " ".join(["w"] * n)
    offsets = [None] + [(2 * i, 2 * i + 1) for i in range(n)] + [None]
    starts = [NEG] * (n + 2)
    ends = [NEG] * (n + 2)
    starts[1] = 10.0  # first word
    ends[n] = 10.0  # last word: 50 tokens long, over the 30 limit
    ends[5] = 1.0
    result = decode(
        [window(starts, ends, offsets)],
        text,
        DecodeSettings(allow_null=False, min_confidence=0, max_answer_tokens=30),
    )
    best = result.answers[0]
    assert (best.start, best.end) == (0, 9)


def test_windows_compare_on_raw_logits():
    # two windows over different parts of the text; the second holds the stronger span
    text = "alpha beta gamma delta"
    w1 = window([0, 2, NEG, NEG], [0, 2, NEG, NEG], [None, (0, 5), (6, 10), None])
    w2 = window([0, NEG, 7, NEG], [0, NEG, 7, NEG], [None, (0, 5), (6, 11), None], base=11)
    result = decode([w1, w2], text, DecodeSettings(allow_null=False, min_confidence=0, top_k=2))
    assert [text[a.start : a.end] for a in result.answers] == ["delta", "alpha"]
    assert result.answers[0].confidence > result.answers[1].confidence


def test_null_answer_wins_when_cls_scores_higher():
    starts = [8, NEG, NEG, NEG, 1, NEG, NEG, NEG]
    ends = [8, NEG, NEG, NEG, 1, NEG, NEG, NEG]
    result = decode([window(starts, ends, OFFSETS)], TEXT, DecodeSettings(allow_null=True, min_confidence=0))
    assert result.answers == [] and result.null_won
    forced = decode([window(starts, ends, OFFSETS)], TEXT, ALWAYS)
    assert TEXT[forced.answers[0].start : forced.answers[0].end] == "the"


def test_threshold_turns_weak_answers_into_no_answer():
    starts = [NEG, NEG, NEG, NEG, -30, NEG, NEG, NEG]
    ends = [NEG, NEG, NEG, NEG, -30, NEG, NEG, NEG]
    result = decode([window(starts, ends, OFFSETS)], TEXT, DecodeSettings(allow_null=False, min_confidence=0.2))
    assert result.answers == []


def test_overlapping_answers_from_windows_are_deduplicated():
    text = "one two three four"
    offsets = [None, (0, 3), (4, 7), (8, 13), None]
    w1 = window([0, NEG, 5, NEG, NEG], [0, NEG, NEG, 5, NEG], offsets)
    w2 = window([0, NEG, 4, NEG, NEG], [0, NEG, NEG, 4, NEG], offsets)  # same span seen again
    result = decode([w1, w2], text, DecodeSettings(allow_null=False, min_confidence=0, top_k=5))
    spans = [(a.start, a.end) for a in result.answers]
    assert len(spans) == len(set(spans))
    for i, a in enumerate(spans):
        for b in spans[i + 1 :]:
            assert a[1] <= b[0] or b[1] <= a[0]


def test_snap_to_words_widens_partial_words():
    text = "unbelievable results, truly"
    assert snap_to_words(text, 2, 6) == (0, 12)
    assert snap_to_words(text, 13, 20) == (13, 20)
    assert snap_to_words(text, 12, 14) == (13, 20)


def test_one_token_spanning_a_huge_word_is_not_an_answer():
    text = "a" * 100_000
    w = window([0, 5, 0], [0, 5, 0], [None, (0, len(text)), None])
    result = decode([w], text, DecodeSettings(allow_null=False, min_confidence=0))
    assert all(a.end - a.start <= 500 for a in result.answers)
    assert not result.answers


def test_snapping_on_text_without_spaces_stays_bounded():
    text = "猫坐在垫子上" * 10_000
    start, end = snap_to_words(text, 50_000, 50_002)
    assert end - start <= 2 + 2 * 32


def test_spans_widen_to_the_tokenizers_words_within_the_token_limit():
    text = "it was 37° today"
    # tokens: it | was | 37 | ##° | today ; the model points at "37" only
    offsets = [None, (0, 2), (3, 6), (7, 9), (9, 10), (11, 16), None]
    words = [None, 0, 1, 2, 2, 3, None]
    w = WindowLogits(
        np.array([0, NEG, NEG, 5, NEG, NEG, NEG], dtype=float),
        np.array([0, NEG, NEG, 5, NEG, NEG, NEG], dtype=float),
        offsets,
        words=words,
    )
    result = decode([w], text, DecodeSettings(allow_null=False, min_confidence=0, top_k=1))
    assert text[result.answers[0].start : result.answers[0].end] == "37°"
    narrow = decode([w], text, DecodeSettings(allow_null=False, min_confidence=0, top_k=1, max_answer_tokens=1))
    assert text[narrow.answers[0].start : narrow.answers[0].end] == "37"


@settings(max_examples=200, deadline=None)
@given(
    st.lists(st.floats(-12, 12), min_size=6, max_size=6),
    st.lists(st.floats(-12, 12), min_size=6, max_size=6),
)
def test_shown_confidence_never_rises_down_the_answer_list(starts, ends):
    text = "alpha beta gamma delta epsilon"
    offsets = [None, (0, 5), (6, 10), (11, 16), (17, 22), (23, 30)]
    w = window([0.0, *starts[1:]], [0.0, *ends[1:]], offsets)
    result = decode([w], text, DecodeSettings(allow_null=False, min_confidence=0, top_k=20, max_answer_tokens=30))
    scores = [a.confidence for a in result.answers]
    assert scores == sorted(scores, reverse=True)
    assert [a.score for a in result.answers] == sorted((a.score for a in result.answers), reverse=True)


def test_identical_answers_at_two_places_are_not_summed():
    """A repeated entity is two candidates with their own scores: each points at a place in the document."""
    text = "Mojave is hot. Mojave is dry."
    offsets = [None, (0, 6), (7, 9), (10, 13), (15, 21), (22, 24), (25, 28), None]
    w = window([0, 4, NEG, NEG, 3, NEG, NEG, 0], [0, 4, NEG, NEG, 3, NEG, NEG, 0], offsets)
    settings_ = DecodeSettings(allow_null=False, min_confidence=0, top_k=2, max_answer_tokens=1)
    first, second = decode([w], text, settings_).answers
    assert (text[first.start : first.end], text[second.start : second.end]) == ("Mojave", "Mojave")
    assert first.start == 0 and second.start == 15
    assert first.confidence == pytest.approx(1 / (1 + math.exp(-0.1 * 8)))
