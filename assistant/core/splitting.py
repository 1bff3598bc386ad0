"""Where a text's paragraphs, sentences and passages begin and end, found over the whole text at once.

Splitting was most of what indexing a file cost while it went paragraph by paragraph and sentence by sentence in
Python (a help file has a sentence per line). Here the characters are classified as numpy masks, and boundaries are
found with a few array passes; Python looks only at what no mask decides: a full stop after a short word (an
abbreviation?), a line that may be a list item or a heading, a sentence too long for one passage. The rules are
those of :mod:`assistant.core.sentences`; ``tests/test_splitting.py`` holds them to a plain reading of each.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np

from assistant.core.sentences import (
    CLOSERS,
    LIST_OR_HEADING,
    LONGEST_ABBREVIATION,
    TERMINATORS,
    WRAP_MIN_WIDTH,
    is_abbreviation,
)

PARAGRAPH_BREAK = re.compile(r"\n[ \t]*\n\s*")
MAX_WORD_CHARS = 32
"""A run of more characters without a space (a base64 blob, a minified line) counts as several words, so that no
"word" can make a passage, and what is read of it, grow without bound."""
WORD = re.compile(rf"\S{{1,{MAX_WORD_CHARS}}}")
_LIST_MARKS = "-*+•#("
"""What a list item or a Markdown heading of :data:`LIST_OR_HEADING` may begin with (or a digit)."""
_HEADING = np.asarray([ord(c) for c in " ,'-"])
"""What may follow a heading's first capital, besides capitals and digits."""
_TABLE = 0x10000


@dataclass(frozen=True)
class Split:
    """A text's paragraphs, sentences and passages as offset arrays (int64), each in order and trimmed of space."""

    paragraph_starts: np.ndarray
    paragraph_ends: np.ndarray
    sentence_starts: np.ndarray
    sentence_ends: np.ndarray
    passage_starts: np.ndarray
    passage_ends: np.ndarray
    passage_words: np.ndarray
    """How many words each passage holds (a run of more than ``MAX_WORD_CHARS`` counts as several)."""


_SPACE, _WORD_CHAR, _TERMINATOR, _CLOSER, _LOWER, _LIST_MARK = 1, 2, 4, 8, 16, 32
"""What a character is, as bits: space (``str.isspace``), a word character (``re``'s ``\\w``), a terminator, a
closing quote or bracket, lower case."""


def _kinds_of(chars: list[str]) -> np.ndarray:
    kinds = np.zeros(len(chars), dtype=np.uint8)
    for kind, test in (
        (_SPACE, str.isspace),
        (_WORD_CHAR, str.isalnum),
        (_LOWER, str.islower),
        (_TERMINATOR, TERMINATORS.__contains__),
        (_CLOSER, CLOSERS.__contains__),
        (_LIST_MARK, str.isdecimal),
        (_LIST_MARK, _LIST_MARKS.__contains__),
    ):
        kinds[np.fromiter(map(test, chars), dtype=bool, count=len(chars))] |= kind
    kinds[[i for i, c in enumerate(chars) if c == "_"]] |= _WORD_CHAR
    return kinds


_UNKNOWN = 0x80
"""A character whose kinds are not yet in the table."""
_KIND_TABLE = np.full(_TABLE, _UNKNOWN, dtype=np.uint8)
"""The kinds of the characters below U+10000 met so far in this process: classifying all of them up front costs a
twentieth of a second in every process that splits a text, where a text holds a few hundred distinct characters."""


def _kinds(codes: np.ndarray) -> np.ndarray:
    """Each character's kinds: a table lookup (filled in for characters not met before), and Python for the few
    above the table."""
    below = np.minimum(codes, _TABLE - 1)
    kinds: np.ndarray = _KIND_TABLE[below]
    unknown = kinds == _UNKNOWN
    if unknown.any():
        new = np.unique(below[unknown])
        _KIND_TABLE[new] = _kinds_of([chr(c) for c in new.tolist()])
        kinds = _KIND_TABLE[below]
    high = codes >= _TABLE
    if high.any():
        kinds[high] = _kinds_of([chr(c) for c in codes[high].tolist()])
    return kinds


class _Words:
    """Where the runs of non-space characters begin and end: what trims a span and counts its words."""

    def __init__(self, space: np.ndarray) -> None:
        solid = ~space
        self.starts = np.flatnonzero(solid & np.concatenate(([True], space[:-1])))
        self.ends = np.flatnonzero(solid & np.concatenate((space[1:], [True]))) + 1

    def trimmed(self, starts: np.ndarray, ends: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """``[start, end)`` spans, each beginning where a word may begin, trimmed of space; blank ones dropped."""
        at = np.searchsorted(self.starts, starts)
        first = np.append(self.starts, np.iinfo(np.int64).max)[at]
        kept = first < ends
        last = self.ends[np.searchsorted(self.ends, ends[kept], side="right") - 1]
        return first[kept], last

    def count(self, starts: np.ndarray, ends: np.ndarray) -> np.ndarray:
        """Words in each trimmed span."""
        return np.searchsorted(self.starts, ends) - np.searchsorted(self.starts, starts)


def _runs(mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Starts and ends of the runs of True."""
    edges = np.diff(mask.view(np.int8), prepend=np.int8(0), append=np.int8(0))
    return np.flatnonzero(edges == 1), np.flatnonzero(edges == -1)


class _Text:
    """A text with what its splitting looks up: its characters' codes and kinds, its words and its paragraphs."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.codes = np.frombuffer(text.encode("utf-32-le", "surrogatepass"), dtype="<u4")
        self.kinds = _kinds(self.codes)
        self.words = _Words((self.kinds & _SPACE) != 0)
        breaks = np.asarray([m.span() for m in PARAGRAPH_BREAK.finditer(text)], dtype=np.int64).reshape(-1, 2)
        starts = np.concatenate(([0], breaks[:, 1]))
        ends = np.concatenate((breaks[:, 0], [len(text)]))
        self.para_starts, self.para_ends = self.words.trimmed(starts, ends)

    def has(self, at: np.ndarray, kind: int) -> np.ndarray:
        found: np.ndarray = (self.kinds[at] & kind) != 0
        return found

    def paragraph_of(self, positions: np.ndarray) -> np.ndarray:
        """The paragraph each position is in or after (-1: before the first)."""
        return np.searchsorted(self.para_starts, positions, side="right") - 1


def _ends_at_terminators(t: _Text) -> np.ndarray:
    """Just after each terminator run (with its closing quotes) that ends a sentence: one followed by a space or the
    end, not closing an abbreviation, and not followed by a lower-case word in its paragraph."""
    n = t.codes.size
    starts, ends = _runs((t.kinds & _TERMINATOR) != 0)
    closer_starts, closer_ends = _runs((t.kinds & _CLOSER) != 0)
    after = ends.copy()
    if closer_starts.size:
        at = np.minimum(np.searchsorted(closer_starts, ends), closer_starts.size - 1)
        closed = closer_starts[at] == ends
        after[closed] = closer_ends[at[closed]]
    keep = (after == n) | t.has(np.minimum(after, n - 1), _SPACE)
    starts, after = starts[keep], after[keep]
    # a full stop after more than LONGEST_ABBREVIATION word characters closes no abbreviation: no need to look
    reach = range(1, LONGEST_ABBREVIATION + 2)
    before = np.stack([t.has(np.maximum(starts - d, 0), _WORD_CHAR) & (starts >= d) for d in reach])
    maybe = (t.codes[starts] == ord(".")) & before[0] & ~before.all(axis=0)
    abbreviation = np.zeros(starts.size, dtype=bool)
    abbreviation[maybe] = [is_abbreviation(t.text, s) for s in starts[maybe].tolist()]
    first_after = np.append(t.words.starts, n)[np.searchsorted(t.words.starts, after)]
    inside = first_after < t.para_ends[t.paragraph_of(starts)]
    lower = np.zeros(starts.size, dtype=bool)
    lower[inside] = t.has(first_after[inside], _LOWER)
    sentence_ends: np.ndarray = after[~(abbreviation | lower)]
    return sentence_ends


def _may_start_list_or_heading(t: _Text, starts: np.ndarray) -> np.ndarray:
    """Whether :data:`LIST_OR_HEADING` may match the lines at ``starts``, from their first two characters after
    the indent: a bullet, ``#``, ``(`` or a digit; a letter and ``)``; or a capital and a heading's character."""
    n = t.codes.size
    first = np.append(t.words.starts, n - 1)[np.searchsorted(t.words.starts, starts)]
    one, two = t.codes[first], t.codes[np.minimum(first + 1, n - 1)]
    letter = ((one | 32) >= ord("a")) & ((one | 32) <= ord("z"))
    capital = (one >= ord("A")) & (one <= ord("Z"))
    heading = ((two >= ord("A")) & (two <= ord("Z"))) | ((two >= ord("0")) & (two <= ord("9"))) | np.isin(two, _HEADING)
    marked: np.ndarray = t.has(first, _LIST_MARK) | (letter & (two == ord(")"))) | (capital & heading)
    return marked


def _ends_at_line_breaks(t: _Text) -> np.ndarray:
    """Just after each line break in a paragraph that is not a wrap: in a paragraph whose longest line is at least
    ``WRAP_MIN_WIDTH`` wide, a break after a line 60% as long, before a line with text that is not a list item or a
    heading, only wraps."""
    breaks: np.ndarray = np.flatnonzero(t.codes == ord("\n"))
    owner = t.paragraph_of(breaks)
    inside = (owner >= 0) & (breaks < t.para_ends[np.maximum(owner, 0)])
    breaks, owner = breaks[inside], owner[inside]
    if not breaks.size:
        return breaks
    first = np.concatenate(([True], owner[1:] != owner[:-1]))
    last = np.concatenate((owner[1:] != owner[:-1], [True]))
    line_starts = np.where(first, t.para_starts[owner], np.concatenate(([0], breaks[:-1] + 1)))
    line_ends = t.words.ends[np.searchsorted(t.words.ends, breaks, side="right") - 1]
    widths = np.maximum(line_ends - line_starts, 0)
    last_widths = t.para_ends[owner] - (breaks + 1)  # the paragraph's last line (it ends with a word)
    next_widths = np.where(last, last_widths, np.append(widths[1:], 0))
    widest = np.maximum(np.maximum.reduceat(widths, np.flatnonzero(first)), last_widths[last])[np.cumsum(first) - 1]
    soft = (widest >= WRAP_MIN_WIDTH) & (widths >= 0.6 * widest) & (next_widths > 0)
    may_list = soft & _may_start_list_or_heading(t, breaks + 1)
    next_ends = np.where(last, t.para_ends[owner], np.append(breaks[1:], 0))
    lines = zip(breaks[may_list].tolist(), next_ends[may_list].tolist(), strict=True)
    soft[may_list] = [LIST_OR_HEADING.match(t.text, a + 1, b) is None for a, b in lines]
    hard: np.ndarray = breaks[~soft] + 1
    return hard


def _sentences(t: _Text) -> tuple[np.ndarray, np.ndarray]:
    """Each paragraph cut after every sentence end in it, the pieces trimmed (blank ones dropped)."""
    bounds = np.sort(np.concatenate((t.para_starts, _ends_at_terminators(t), _ends_at_line_breaks(t))))
    owner = t.paragraph_of(bounds)
    stops = np.where(np.append(owner[1:] == owner[:-1], False), np.append(bounds[1:], 0), t.para_ends[owner])
    return t.words.trimmed(bounds, stops)


def _pieces(
    text: str, starts: np.ndarray, ends: np.ndarray, counts: np.ndarray, max_words: int, long_word: np.ndarray
) -> list[tuple[int, int, int]]:
    """Each sentence as (start, end, words), one of more than ``max_words`` words, or with a word longer than
    ``MAX_WORD_CHARS``, cut at word boundaries into pieces of ``max_words``."""
    pieces: list[tuple[int, int, int]] = []
    for start, end, n, long in zip(starts.tolist(), ends.tolist(), counts.tolist(), long_word.tolist(), strict=True):
        if n <= max_words and not long:
            pieces.append((start, end, n))
            continue
        found = list(WORD.finditer(text, start, end))
        for i in range(0, len(found), max_words):
            piece = found[i : i + max_words]
            pieces.append((piece[0].start(), piece[-1].end(), len(piece)))
    return pieces


def _passages(pieces: list[tuple[int, int, int]], para_ends: list[int], max_words: int) -> list[tuple[int, int, int]]:
    """Whole sentences (pieces) of one paragraph packed into passages of at most ``max_words`` words."""
    passages: list[tuple[int, int, int]] = []
    paragraph = 0
    chunk_start, chunk_end, count = -1, 0, 0
    for start, end, n in pieces:
        if start >= para_ends[paragraph] or (chunk_start >= 0 and count + n > max_words):
            passages.append((chunk_start, chunk_end, count))
            chunk_start, count = -1, 0
            while start >= para_ends[paragraph]:
                paragraph += 1
        if chunk_start < 0:
            chunk_start = start
        chunk_end = end
        count += n
    if chunk_start >= 0:
        passages.append((chunk_start, chunk_end, count))
    return passages


def split_text(text: str, max_words: int = 100) -> Split:
    """Paragraphs (separated by blank lines), their sentences and passages of whole sentences of one paragraph with
    at most ``max_words`` words (a longer sentence cut at word boundaries): a passage never straddles a topic
    break."""
    t = _Text(text)
    if not t.para_starts.size:
        none = np.zeros(0, dtype=np.int64)
        return Split(none, none, none, none, none, none, none)
    starts, ends = _sentences(t)
    words = t.words
    counts = words.count(starts, ends)
    longest = np.cumsum(np.concatenate(([0], (words.ends - words.starts) > MAX_WORD_CHARS)))
    long_word = longest[np.searchsorted(words.starts, ends)] > longest[np.searchsorted(words.starts, starts)]
    pieces = _pieces(text, starts, ends, counts, max_words, long_word)
    packed = np.asarray(_passages(pieces, t.para_ends.tolist(), max_words), dtype=np.int64).reshape(-1, 3)
    return Split(t.para_starts, t.para_ends, starts, ends, packed[:, 0], packed[:, 1], packed[:, 2])
