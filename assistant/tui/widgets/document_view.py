"""The document pane: read-only text with line numbers, answer highlighting and span selection."""

from __future__ import annotations

from bisect import bisect_right
from typing import Any

from textual.widgets import TextArea
from textual.widgets.text_area import Selection


class DocumentView(TextArea):
    """Shows the document; the reader's answer is selected (highlighted) and scrolled into view.

    Selecting text with the mouse or shift+arrows marks the span a user wants to teach the reader.
    """

    DEFAULT_CSS = """
    DocumentView { border: round $primary-darken-2; }
    DocumentView:focus { border: round $accent; }
    """

    def __init__(self, **kwargs: Any) -> None:
        super().__init__("", read_only=True, show_line_numbers=True, soft_wrap=True, **kwargs)
        self._line_starts: list[int] = [0]
        self.document_text = ""

    WRAP_LIMIT = 300_000
    """Characters up to which lines are soft-wrapped: wrapping a longer text would stall the UI."""

    def show(self, text: str) -> None:
        self.document_text = text
        self.soft_wrap = len(text) <= self.WRAP_LIMIT
        self._line_starts = [0] + [i + 1 for i, ch in enumerate(text) if ch == "\n"]
        self.load_text(text)
        self.border_title = None

    def location(self, offset: int) -> tuple[int, int]:
        """Character offset in the document to (row, column) in the text area."""
        row = bisect_right(self._line_starts, offset) - 1
        return row, offset - self._line_starts[row]

    def offset_of(self, location: tuple[int, int]) -> int:
        """(row, column) in the text area to a character offset in the document."""
        row, col = location
        return self._line_starts[min(row, len(self._line_starts) - 1)] + col

    def highlight(self, start: int, end: int) -> None:
        self.selection = Selection(self.location(start), self.location(end))
        self.scroll_cursor_visible(center=True, animate=False)

    def selected_span(self) -> tuple[int, int] | None:
        """The user's selection as document offsets, or None when nothing is selected."""
        start, end = sorted((self.selection.start, self.selection.end))
        a, b = self.offset_of(start), self.offset_of(end)
        return (a, b) if b > a else None
