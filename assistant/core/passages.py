"""Split a document into passages that respect paragraphs and sentences, each with its character span."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import NamedTuple, overload

import numpy as np

from assistant.core.splitting import split_text


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


def spans_of(starts: np.ndarray, ends: np.ndarray) -> list[Span]:
    """Offset arrays as spans, for the few that need a list."""
    return [Span(start, end) for start, end in zip(starts.tolist(), ends.tolist(), strict=True)]


def paragraph_spans(text: str) -> list[Span]:
    """Non-blank paragraphs of ``text``, separated by blank lines, trimmed of surrounding whitespace."""
    split = split_text(text)
    return spans_of(split.paragraph_starts, split.paragraph_ends)


def split_passages(text: str, max_words: int = 100) -> list[Passage]:
    """Whole sentences of one paragraph packed into passages of at most ``max_words`` words: a sentence longer than
    the limit is cut at word boundaries, and paragraphs are never merged, so a passage never straddles a topic
    break."""
    split = split_text(text, max_words)
    return [
        Passage(i, start, end, text[start:end])
        for i, (start, end) in enumerate(spans_of(split.passage_starts, split.passage_ends))
    ]


MAX_CONTEXT_CHARS = 400
"""The most of an answer's sentence shown around it (a card, `ask`'s panel, the JSON): a few lines of text."""


class SentenceIndex:
    """Finds the sentence around an answer in O(log n)."""

    def __init__(self, spans: Sequence[Span]) -> None:
        """``spans``: a text's sentences (:func:`assistant.core.splitting.split_text`), sorted and not overlapping."""
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
        split = split_text(text)
        return cls.of_arrays(split.sentence_starts, split.sentence_ends)

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
