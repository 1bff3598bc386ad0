"""Split a document into passages that respect paragraphs and sentences, each with its character span."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import NamedTuple, overload

import numpy as np

from assistant.core.sentences import sentence_ends

_PARAGRAPH_BREAK = re.compile(r"\n[ \t]*\n\s*")
MAX_WORD_CHARS = 32
"""A run of more characters without a space (a base64 blob, a minified line) counts as several words, so that no
"word" can make a passage, and what is read of it, grow without bound."""
_WORD = re.compile(rf"\S{{1,{MAX_WORD_CHARS}}}")
_LONG_RUN = re.compile(rf"\S{{{MAX_WORD_CHARS + 1}}}")


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


def check_spans(starts: np.ndarray, ends: np.ndarray, length: int) -> None:
    """Raise ValueError unless saved offsets are spans inside a text of ``length`` characters, in order."""
    if starts.shape != ends.shape or starts.ndim != 1:
        raise ValueError("offsets of different shapes")
    if starts.size and (
        starts.min() < 0 or ends.max() > length or bool(np.any(ends <= starts)) or bool(np.any(np.diff(starts) < 0))
    ):
        raise ValueError("offsets outside the text or out of order")


class PassageList(Sequence[Passage]):
    """Passages kept as offset arrays, each made when it is asked for: a folder has hundreds of thousands, and a
    question reads a few."""

    def __init__(self, text: str, starts: np.ndarray, ends: np.ndarray) -> None:
        self.text, self.starts, self.ends = text, starts, ends

    def __len__(self) -> int:
        return int(self.starts.size)

    @overload
    def __getitem__(self, index: int) -> Passage: ...
    @overload
    def __getitem__(self, index: slice) -> Sequence[Passage]: ...
    def __getitem__(self, index: int | slice) -> Passage | Sequence[Passage]:
        if isinstance(index, slice):
            return [self[i] for i in range(*index.indices(len(self)))]
        if not -len(self) <= index < len(self):
            raise IndexError(index)
        index %= len(self)
        start, end = int(self.starts[index]), int(self.ends[index])
        return Passage(index, start, end, self.text[start:end])


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
    piece = text[start:end]
    kept = piece.strip()  # str.strip and str.isspace agree on what whitespace is
    if not kept:
        return []
    first = start + piece.index(kept[0])
    return [Span(first, first + len(kept))]


def sentence_spans(
    text: str, start: int = 0, end: int | None = None, paragraphs: Sequence[Span] | None = None
) -> list[Span]:
    """Sentences of ``text[start:end]`` as absolute spans, never across a paragraph break (``paragraphs``: its
    ``paragraph_spans``, when the caller has them).

    A line break ends a sentence unless it only wraps a line of a hard-wrapped paragraph; see
    :mod:`assistant.core.sentences`.
    """
    spans: list[Span] = []
    for paragraph in paragraph_spans(text, start, end) if paragraphs is None else paragraphs:
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
    text: str, max_words: int = 100, sentences: Sequence[Span] | None = None, paragraphs: Sequence[Span] | None = None
) -> list[tuple[int, int, int]]:
    """:func:`split_passages`' passages as (start, end, words): the words are counted once, as they are packed."""
    paragraphs = paragraph_spans(text) if paragraphs is None else paragraphs
    sentences = sentence_spans(text, paragraphs=paragraphs) if sentences is None else sentences
    passages: list[tuple[int, int, int]] = []
    first = 0
    for paragraph in paragraphs:
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
    for start, end in sentences:
        if not _LONG_RUN.search(text, start, end):  # no word counts as several: split() counts them, at C speed
            n = len(text[start:end].split())
            if n <= max_words:
                out.append((start, end, n))  # a sentence span is trimmed: it starts and ends with a word
                continue
        words = list(_WORD.finditer(text, start, end))
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
        self.starts = np.asarray([s.start for s in spans], dtype=np.int64)
        self.ends = np.asarray([s.end for s in spans], dtype=np.int64)

    @classmethod
    def of_arrays(cls, starts: np.ndarray, ends: np.ndarray) -> SentenceIndex:
        """From offsets kept as arrays (a folder's index: a list of a million spans would cost its reopen)."""
        index = cls.__new__(cls)
        index.starts, index.ends = starts.astype(np.int64), ends.astype(np.int64)
        return index

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
        if not self.starts.size:
            return Span(start, end)
        first = max(0, int(np.searchsorted(self.starts, start, side="right")) - 1)
        last = max(first, int(np.searchsorted(self.starts, max(start, end - 1), side="right")) - 1)
        return Span(min(int(self.starts[first]), start), max(int(self.ends[last]), end))
