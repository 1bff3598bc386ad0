"""Split a document into passages that respect paragraphs and sentences, each with its character span."""

from __future__ import annotations

import re
from bisect import bisect_right
from collections.abc import Sequence
from dataclasses import dataclass
from typing import NamedTuple

from assistant.core.sentences import sentence_ends

_PARAGRAPH_BREAK = re.compile(r"\n[ \t]*\n\s*")
MAX_WORD_CHARS = 32
"""A run of more characters without a space (a base64 blob, a minified line) counts as several words, so that no
"word" can make a passage, and what is read of it, grow without bound."""
_WORD = re.compile(rf"\S{{1,{MAX_WORD_CHARS}}}")


class Span(NamedTuple):
    """Character offsets ``[start, end)``; a tuple, as a long document has tens of thousands (a cached index
    loads them all)."""

    start: int
    end: int


@dataclass(frozen=True)
class Passage:
    """A contiguous piece of the document: ``document.text[start:end] == text``."""

    index: int
    start: int
    end: int
    text: str


def paragraph_spans(text: str, start: int = 0, end: int | None = None) -> list[Span]:
    """Non-blank paragraphs of ``text[start:end]``, separated by blank lines, trimmed of surrounding whitespace."""
    end = len(text) if end is None else end
    spans: list[Span] = []
    pos = start
    for match in _PARAGRAPH_BREAK.finditer(text, start, end):
        spans.extend(_trimmed(text, pos, match.start()))
        pos = match.end()
    spans.extend(_trimmed(text, pos, end))
    return spans


def _trimmed(text: str, start: int, end: int) -> list[Span]:
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    return [Span(start, end)] if end > start else []


def sentence_spans(text: str, start: int = 0, end: int | None = None) -> list[Span]:
    """Sentences of ``text[start:end]`` as absolute spans, never across a paragraph break.

    A line break ends a sentence unless it only wraps a line of a hard-wrapped paragraph; see
    :mod:`assistant.core.sentences`.
    """
    spans: list[Span] = []
    for paragraph in paragraph_spans(text, start, end):
        pos = paragraph.start
        for stop in sentence_ends(text, paragraph.start, paragraph.end):
            spans.extend(_trimmed(text, pos, stop))
            pos = stop
        spans.extend(_trimmed(text, pos, paragraph.end))
    return spans


def split_passages(text: str, max_words: int = 100, sentences: Sequence[Span] | None = None) -> list[Passage]:
    """Pack whole sentences of one paragraph into passages of at most ``max_words`` words.

    A sentence longer than the limit is cut at word boundaries; paragraphs are never merged, so a
    passage never straddles a topic break. ``sentences`` are ``sentence_spans(text)`` when the caller
    has them already (splitting sentences is most of the cost).
    """
    return [
        Passage(i, start, end, text[start:end])
        for i, (start, end, _) in enumerate(passage_spans(text, max_words, sentences))
    ]


def passage_spans(
    text: str, max_words: int = 100, sentences: Sequence[Span] | None = None
) -> list[tuple[int, int, int]]:
    """:func:`split_passages`' passages as (start, end, words): the words are counted once, as they are packed."""
    sentences = sentence_spans(text) if sentences is None else sentences
    passages: list[tuple[int, int, int]] = []
    first = 0
    for paragraph in paragraph_spans(text):
        last = first
        while last < len(sentences) and sentences[last].start < paragraph.end:
            last += 1
        chunk_start: int | None = None
        chunk_end = 0
        words = 0
        for start, end, n in _bounded_sentences(text, sentences[first:last], max_words):
            if chunk_start is not None and words + n > max_words:
                passages.append((chunk_start, chunk_end, words))
                chunk_start = None
                words = 0
            if chunk_start is None:
                chunk_start = start
            chunk_end = end
            words += n
        if chunk_start is not None:
            passages.append((chunk_start, chunk_end, words))
        first = last
    return passages


def _bounded_sentences(text: str, sentences: Sequence[Span], max_words: int) -> list[tuple[int, int, int]]:
    """Each sentence as (start, end, words), one cut at word boundaries into pieces of ``max_words`` when longer."""
    out: list[tuple[int, int, int]] = []
    for sentence in sentences:
        words = list(_WORD.finditer(text, sentence.start, sentence.end))
        for i in range(0, len(words), max_words):
            piece = words[i : i + max_words]
            out.append((piece[0].start(), piece[-1].end(), len(piece)))
    return out


MAX_CONTEXT_CHARS = 400
"""The most of an answer's sentence shown around it (a card, `ask`'s panel, the JSON): a few lines of text."""


class SentenceIndex:
    """Finds the sentence around an answer in O(log n)."""

    def __init__(self, spans: Sequence[Span]) -> None:
        """``spans``: ``sentence_spans(text)``, sorted and not overlapping."""
        self.spans = list(spans)
        self._starts = [s.start for s in self.spans]

    @classmethod
    def of(cls, text: str) -> SentenceIndex:
        return cls(sentence_spans(text))

    def context(self, text: str, start: int, end: int, limit: int = MAX_CONTEXT_CHARS) -> Span:
        """The sentence(s) around ``[start, end)``, cut to about ``limit`` characters around the answer at spaces:
        a "sentence" of a file with no full stops can be a whole 2,000-word line."""
        around = self.around(start, end)
        room = max(0, limit - (end - start)) // 2
        if around.end - around.start <= limit or room == 0:
            return around if around.end - around.start <= limit else Span(start, end)
        left, right = max(around.start, start - room), min(around.end, end + room)
        if left > around.start:  # start at a word, not inside one
            space = text.find(" ", left, start)
            left = space + 1 if space != -1 else left
        if right < around.end:
            space = text.rfind(" ", end, right)
            right = space if space != -1 else right
        return Span(left, right)

    def around(self, start: int, end: int) -> Span:
        """The sentence(s) covering ``[start, end)``."""
        if not self.spans:
            return Span(start, end)
        first = max(0, bisect_right(self._starts, start) - 1)
        last = max(first, bisect_right(self._starts, max(start, end - 1)) - 1)
        return Span(min(self.spans[first].start, start), max(self.spans[last].end, end))
