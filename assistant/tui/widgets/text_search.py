"""Case-insensitive matches of a query in one text, fast enough to run on every keystroke of a long document."""

from __future__ import annotations

import re
from bisect import bisect_left


def _overlaps_itself(needle: str) -> bool:
    """True when two matches of ``needle`` could overlap ("aa" in "aaa"): then find/count disagree on them."""
    return any(needle[:k] == needle[-k:] for k in range(1, len(needle)))


class TextSearch:
    """The matches of the last query and which one is current, as in an editor's find (matches never overlap).

    The text is lowered once and scanned in C: ``str.count`` gives the total and ``str.find``/``rfind`` the
    next and previous match, so a one-letter query on a 130,000-word document costs milliseconds, not a list
    of 80,000 offsets. A query whose matches could overlap, or a text whose lowering changes its length,
    lists its matches with ``re`` instead.
    """

    def __init__(self, text: str = "") -> None:
        self.text = text
        self._lowered: str | None = None
        self.query = ""
        self.count = 0
        self.index = -1
        """The current match, counted from the document's start; -1 when there is none."""
        self.start = -1
        """Where the current match starts in the text."""
        self.length = 0
        self._haystack = ""
        self._needle = ""
        self._starts: list[int] | None = None
        """Every match's start, for the queries that ``str.find`` cannot step through; else None."""

    def _haystack_for(self) -> tuple[str, int]:
        """The text to scan and the ``re`` flags: the lowered text, unless lowering changed its length (then
        offsets would shift), in which case the text itself, matched ignoring case."""
        if self._lowered is None:
            lowered = self.text.lower()
            self._lowered = lowered if len(lowered) == len(self.text) else ""
        if self._lowered or not self.text:
            return self._lowered, 0
        return self.text, re.IGNORECASE

    def find(self, query: str, anchor: int = 0) -> tuple[int, int] | None:
        """Count the matches of ``query``; the current one is the first at or after ``anchor`` (wrapping round)."""
        self.query = query
        self.count, self.index, self.start, self._starts = 0, -1, -1, None
        if not query:
            return None
        haystack, flags = self._haystack_for()
        needle = query if flags else query.lower()
        self._haystack, self._needle, self.length = haystack, needle, len(needle)
        if flags or _overlaps_itself(needle):
            self._starts = [m.start() for m in re.finditer(re.escape(needle), haystack, flags)]
            self.count = len(self._starts)
        else:
            self.count = haystack.count(needle)
        if self.count:
            self._first_from(anchor)
        return self.span

    def _first_from(self, anchor: int) -> None:
        if self._starts is not None:
            self.index = bisect_left(self._starts, anchor) % self.count
            self.start = self._starts[self.index]
            return
        start = self._haystack.find(self._needle, anchor)
        self.start = start if start != -1 else self._haystack.find(self._needle)
        self.index = self._haystack.count(self._needle, 0, self.start)

    def step(self, by: int) -> tuple[int, int] | None:
        """Move to the next (``by`` > 0) or previous match, wrapping round at either end."""
        if not self.count:
            return None
        forward = by > 0
        self.index = (self.index + (1 if forward else -1)) % self.count
        if self._starts is not None:
            self.start = self._starts[self.index]
        elif forward:
            start = self._haystack.find(self._needle, self.start + self.length)
            self.start = start if start != -1 else self._haystack.find(self._needle)
        else:
            start = self._haystack.rfind(self._needle, 0, self.start)
            self.start = start if start != -1 else self._haystack.rfind(self._needle)
        return self.span

    @property
    def span(self) -> tuple[int, int] | None:
        return (self.start, self.start + self.length) if self.index >= 0 else None

    @property
    def label(self) -> str:
        """What the find bar shows: "3/17", "no match", or nothing before a query."""
        if not self.query:
            return ""
        return f"{self.index + 1}/{self.count}" if self.count else "no match"
