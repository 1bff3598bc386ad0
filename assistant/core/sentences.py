"""Sentence boundaries in plain text as people write it: hard-wrapped lines, abbreviations, lists.

A line break inside a hard-wrapped paragraph (licences, READMEs, RFCs, e-mails wrapped at ~70
columns) is a space, not the end of a sentence; a short line, a list item or a heading still is.
"Dr.", "U.S.", "e.g." and initials do not end a sentence.
"""

from __future__ import annotations

import re

TERMINATORS = ".!?。！？"
"""A run of these, with any closing quotes or brackets (``CLOSERS``) and then a space, may end a sentence."""
CLOSERS = "\"'”’)]"
LIST_OR_HEADING = re.compile(r"[ \t]*(?:[-*+•]\s|\d{1,3}[.)]\s|\(?[a-zA-Z]\)\s|#{1,6}\s|[A-Z][A-Z0-9 ,'-]{2,}$)")
_WORD_BEFORE = re.compile(r"([\w.]+)\Z")
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


LONGEST_ABBREVIATION = max(map(len, ABBREVIATIONS))


def is_abbreviation(text: str, dot: int) -> bool:
    """Whether the full stop at ``dot`` closes an abbreviation or an initial rather than a sentence."""
    if text[dot] != ".":
        return False
    match = _WORD_BEFORE.search(text, max(0, dot - 12), dot)
    if match is None:
        return False
    word = match.group(1).lower().strip(".")
    return (len(word) == 1 and word.isalpha()) or word in ABBREVIATIONS
