"""Sentence boundaries in plain text as people write it: hard-wrapped lines, abbreviations, lists.

A line break inside a hard-wrapped paragraph (licences, READMEs, RFCs, e-mails wrapped at ~70
columns) is a space, not the end of a sentence; a short line, a list item or a heading still is.
"Dr.", "U.S.", "e.g." and initials do not end a sentence.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

_TERMINATOR = re.compile(r"""[.!?。！？]+["'”’)\]]*(?=\s|$)""")
_LINE_BREAK = re.compile(r"\n")
_LIST_OR_HEADING = re.compile(r"[ \t]*(?:[-*+•]\s|\d{1,3}[.)]\s|\(?[a-zA-Z]\)\s|#{1,6}\s|[A-Z][A-Z0-9 ,'-]{2,}$)")
_WORD_BEFORE = re.compile(r"([\w.]+)$")
ABBREVIATIONS = frozenset(
    [
        "mr",
        "mrs",
        "ms",
        "dr",
        "prof",
        "sr",
        "jr",
        "st",
        "mt",
        "vs",
        "etc",
        "e.g",
        "i.e",
        "eg",
        "ie",
        "cf",
        "al",
        "approx",
        "dept",
        "est",
        "fig",
        "figs",
        "no",
        "nos",
        "vol",
        "vols",
        "ed",
        "eds",
        "inc",
        "ltd",
        "co",
        "corp",
        "jan",
        "feb",
        "mar",
        "apr",
        "jun",
        "jul",
        "aug",
        "sep",
        "sept",
        "oct",
        "nov",
        "dec",
        "mon",
        "tue",
        "wed",
        "thu",
        "fri",
        "sat",
        "sun",
        "u.s",
        "u.k",
        "u.n",
        "a.m",
        "p.m",
        "ph.d",
        "b.a",
        "m.a",
        "gen",
        "col",
        "lt",
        "sgt",
        "capt",
        "rev",
        "hon",
        "gov",
        "sen",
        "rep",
        "ca",
        "op",
        "ch",
        "sec",
        "art",
        "p",
        "pp",
    ]
)
"""Lower-case words that end with a full stop yet rarely end a sentence (a single letter is an initial)."""
WRAP_MIN_WIDTH = 40
"""Lines at least this long, in a paragraph of several lines, are taken to be wrapped by the writer."""


def _abbreviation(text: str, dot: int) -> bool:
    """Whether the full stop at ``dot`` closes an abbreviation or an initial rather than a sentence."""
    if text[dot] != ".":
        return False
    match = _WORD_BEFORE.search(text, max(0, dot - 12), dot)
    if match is None:
        return False
    word = match.group(1).lower().strip(".")
    return (len(word) == 1 and word.isalpha()) or word in ABBREVIATIONS


def _next_starts_lower(text: str, pos: int, end: int) -> bool:
    while pos < end and text[pos].isspace():
        pos += 1
    return pos < end and text[pos].islower()


def soft_line_breaks(text: str, start: int, end: int) -> set[int]:
    """Positions of the line breaks in ``text[start:end]`` (one paragraph) that only wrap a line."""
    breaks = [m.start() for m in _LINE_BREAK.finditer(text, start, end)]
    if not breaks:
        return set()
    edges = [start, *(b + 1 for b in breaks)]
    ends = [*breaks, end]
    widths = [len(text[a:b].rstrip()) for a, b in zip(edges, ends, strict=True)]
    width = max(widths)
    if width < WRAP_MIN_WIDTH:
        return set()
    soft: set[int] = set()
    for i, pos in enumerate(breaks):
        long_line = widths[i] >= 0.6 * width
        next_line = text[pos + 1 : ends[i + 1]]
        if long_line and not _LIST_OR_HEADING.match(next_line) and next_line.strip():
            soft.add(pos)
    return soft


def sentence_ends(text: str, start: int, end: int) -> Iterator[int]:
    """Offsets just after each sentence end in ``text[start:end]``, one paragraph, in order."""
    soft = soft_line_breaks(text, start, end)
    candidates: list[tuple[int, int]] = []  # (position after the end, position of the terminator)
    for match in _TERMINATOR.finditer(text, start, end):
        candidates.append((match.end(), match.start()))
    for match in _LINE_BREAK.finditer(text, start, end):
        if match.start() not in soft:
            candidates.append((match.end(), -1))
    for after, terminator in sorted(candidates):
        if terminator >= 0 and (_abbreviation(text, terminator) or _next_starts_lower(text, after, end)):
            continue
        yield after
