"""Sentence ends in hard-wrapped text, with abbreviations, lists and headings."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from assistant.core.passages import MAX_CONTEXT_CHARS, SentenceIndex
from assistant.core.splitting import split_text


def sentences(text: str) -> list[str]:
    split = split_text(text)
    return [" ".join(text[a:b].split()) for a, b in zip(split.sentence_starts, split.sentence_ends, strict=True)]


WRAPPED = """The licenses for most software and other practical works are designed
to take away your freedom to share and change the works.  By contrast,
the GNU General Public License is intended to guarantee your freedom to
share and change all versions of a program."""


def test_a_hard_wrapped_paragraph_splits_at_sentences_not_at_lines():
    assert sentences(WRAPPED) == [
        "The licenses for most software and other practical works are designed to take away your freedom "
        "to share and change the works.",
        "By contrast, the GNU General Public License is intended to guarantee your freedom to share and "
        "change all versions of a program.",
    ]


@pytest.mark.parametrize(
    "text, expected",
    [
        ("Dr. Smith met Mr. Jones in the U.S. office. They talked.", 2),
        ("Use a splitter, e.g. a rule set. It works.", 2),
        ("J. R. R. Tolkien wrote it. Then he left.", 2),
        ("It was 37.5 degrees. Hot.", 2),
        ("He said no. then left", 1),  # a lower-case word does not start a sentence
    ],
)
def test_abbreviations_and_initials_do_not_end_a_sentence(text, expected):
    assert len(sentences(text)) == expected, sentences(text)


def test_list_items_headings_and_short_lines_stay_breaks():
    text = (
        "Installation steps that you should follow carefully before you start:\n"
        "- download the archive from the release page of the project\n"
        "- unpack it somewhere\n"
        "1. run the installer\n"
        "Short line\n"
        "Another line that is long enough to look like a wrapped line of prose here"
    )
    got = sentences(text)
    assert got[1] == "- download the archive from the release page of the project"
    assert "- unpack it somewhere" in got and "1. run the installer" in got
    assert "Short line" in got


def test_lines_of_a_short_verse_are_not_joined():
    text = "Roses are red\nViolets are blue\nSugar is sweet"
    assert sentences(text) == ["Roses are red", "Violets are blue", "Sugar is sweet"]


GPL = Path("/usr/share/common-licenses/GPL-3")


@pytest.mark.skipif(not GPL.exists(), reason="no GPL-3 text on this machine")
def test_few_sentence_ends_fall_mid_sentence_in_the_gpl():
    text = GPL.read_text(encoding="utf-8")
    split = split_text(text)
    mid = total = 0
    for end in split.sentence_ends.tolist():
        total += 1
        rest = text[end:].lstrip(" \t")
        if text[end - 1].isalnum() and rest.startswith("\n") and rest[1:2].strip():
            mid += rest[1:].lstrip()[0].islower()
    assert total > 100
    assert mid / total < 0.05


# --- the context shown around an answer --------------------------------------------------------------------------
@given(
    words=st.lists(st.text("abcdefgh", min_size=1, max_size=12), min_size=1, max_size=600),
    first=st.integers(0, 599),
    length=st.integers(1, 8),
)
def test_an_answers_context_holds_it_whole_and_stays_within_a_few_lines(words, first, length):
    """A line of 2,000 words with no full stop is one "sentence": what is shown around an answer is cut to the
    limit, at spaces, and always holds the whole answer."""
    text = " ".join(words)
    first = min(first, len(words) - 1)
    start = len(" ".join(words[:first])) + (1 if first else 0)
    end = len(" ".join(words[: min(len(words), first + length)]))
    span = SentenceIndex.of(text).context(text, start, end)
    assert span.start <= start and end <= span.end
    assert span.end - span.start <= max(MAX_CONTEXT_CHARS, end - start)
    assert span.start == 0 or span.start == start or text[span.start - 1] == " "  # a word's start
