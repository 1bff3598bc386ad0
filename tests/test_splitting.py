"""Splitting over the whole text at once gives exactly the paragraphs, sentences and passages of a plain reading of
the rules, paragraph by paragraph and sentence by sentence (the reference below, which is how they used to be
found, one Python step at a time)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from assistant.core.sentences import CLOSERS, LIST_OR_HEADING, TERMINATORS, WRAP_MIN_WIDTH, is_abbreviation
from assistant.core.splitting import MAX_WORD_CHARS, PARAGRAPH_BREAK, WORD, split_text

_TERMINATOR = re.compile(rf"[{re.escape(TERMINATORS)}]+[{re.escape(CLOSERS)}]*(?=\s|$)")


def _trimmed(text: str, start: int, end: int) -> list[tuple[int, int]]:
    piece = text[start:end]
    kept = piece.strip()
    if not kept:
        return []
    first = start + piece.index(kept[0])
    return [(first, first + len(kept))]


def _paragraphs(text: str) -> list[tuple[int, int]]:
    spans, pos = [], 0
    for match in PARAGRAPH_BREAK.finditer(text):
        spans += _trimmed(text, pos, match.start())
        pos = match.end()
    return spans + _trimmed(text, pos, len(text))


def _soft_line_breaks(text: str, start: int, end: int) -> set[int]:
    breaks = [m.start() for m in re.finditer("\n", text[:end]) if m.start() >= start]
    edges, ends = [start, *(b + 1 for b in breaks)], [*breaks, end]
    widths = [len(text[a:b].rstrip()) for a, b in zip(edges, ends, strict=True)]
    if not breaks or max(widths) < WRAP_MIN_WIDTH:
        return set()
    soft = set()
    for i, pos in enumerate(breaks):
        next_line = text[pos + 1 : ends[i + 1]]
        if widths[i] >= 0.6 * max(widths) and not LIST_OR_HEADING.match(next_line) and next_line.strip():
            soft.add(pos)
    return soft


def _sentence_ends(text: str, start: int, end: int) -> list[int]:
    soft = _soft_line_breaks(text, start, end)
    candidates = [(m.end(), m.start()) for m in _TERMINATOR.finditer(text, start, end)]
    candidates += [(pos + 1, -1) for pos in range(start, end) if text[pos] == "\n" and pos not in soft]
    ends = []
    for after, terminator in sorted(candidates):
        if terminator >= 0:
            rest = text[after:end].lstrip()
            if is_abbreviation(text, terminator) or (rest and rest[0].islower()):
                continue
        ends.append(after)
    return ends


def _sentences(text: str, paragraph: tuple[int, int]) -> list[tuple[int, int]]:
    spans, pos = [], paragraph[0]
    for stop in _sentence_ends(text, *paragraph):
        spans += _trimmed(text, pos, stop)
        pos = stop
    return spans + _trimmed(text, pos, paragraph[1])


def _pieces(text: str, sentence: tuple[int, int], max_words: int) -> list[tuple[int, int, int]]:
    start, end = sentence
    n = len(text[start:end].split())
    if n <= max_words and not re.search(rf"\S{{{MAX_WORD_CHARS + 1}}}", text[start:end]):
        return [(start, end, n)]
    words = list(WORD.finditer(text, start, end))
    return [
        (words[i].start(), words[min(i + max_words, len(words)) - 1].end(), len(words[i : i + max_words]))
        for i in range(0, len(words), max_words)
    ]


def reference_split(text: str, max_words: int) -> tuple[list, list, list]:
    paragraphs = _paragraphs(text)
    sentences, passages = [], []
    for paragraph in paragraphs:
        chunk: list[tuple[int, int, int]] = []
        for sentence in _sentences(text, paragraph):
            sentences.append(sentence)
            for piece in _pieces(text, sentence, max_words):
                if chunk and sum(n for _, _, n in chunk) + piece[2] > max_words:
                    passages.append((chunk[0][0], chunk[-1][1], sum(n for _, _, n in chunk)))
                    chunk = []
                chunk.append(piece)
        if chunk:
            passages.append((chunk[0][0], chunk[-1][1], sum(n for _, _, n in chunk)))
    return paragraphs, sentences, passages


def split_lists(text: str, max_words: int) -> tuple[list, list, list]:
    split = split_text(text, max_words)

    def pairs(*arrays):
        return list(zip(*(a.tolist() for a in arrays), strict=True))

    return (
        pairs(split.paragraph_starts, split.paragraph_ends),
        pairs(split.sentence_starts, split.sentence_ends),
        pairs(split.passage_starts, split.passage_ends, split.passage_words),
    )


PIECES = [
    "a", "b", ".", " ", "  ", "\n", "\n\n", "\t", "!", "?", "\u3002", '"', "'", ")", "]", "e.g.", "Dr.", "U.S.", "x.",
    "- item", "* ", "1. ", "12) ", "(a) ", "b) ", "## Title", "CHAPTER ONE", "I ", "The", "the", "approx.", "Fig.",
    "\u00a0", "\u2028", "\x0c", "\x85", "\u0130.", "\U0001d400", "\U0001d41a", "_", "2.", "x" * 40, "y" * 35,
    " " * 30, "wrapped line of prose that is long enough ", "\u00e9.", "\ufffe",
]  # fmt: skip


@settings(max_examples=400, deadline=None)
@given(st.lists(st.sampled_from(PIECES), max_size=60), st.sampled_from([3, 7, 40]))
def test_splitting_matches_a_plain_reading_of_the_rules(pieces, max_words):
    text = "".join(pieces)
    assert split_lists(text, max_words) == reference_split(text, max_words)


REAL_TEXTS = [
    Path("/usr/share/common-licenses/GPL-3"),
    Path("/usr/share/common-licenses/Apache-2.0"),
    *sorted(Path("/usr/share/vim").glob("vim*/doc/[a-c]*.txt"))[:12],
]


@pytest.mark.parametrize("path", [p for p in REAL_TEXTS if p.exists()], ids=lambda p: p.name)
def test_splitting_real_documents_matches_the_plain_reading(path):
    text = path.read_text(encoding="utf-8", errors="replace")
    assert split_lists(text, 40) == reference_split(text, 40)


def test_text_without_words_has_no_paragraphs():
    for text in ("", "   ", "\n\n\t\u00a0\n"):
        assert split_lists(text, 40) == ([], [], [])
