"""The document pane: read-only text with line numbers, answer highlighting and span selection.

A folder's document is shown one file at a time, numbered from its own first line as answers cite it; every offset
the view takes or gives is the document's, and showing an offset in another file brings that file up.
"""

from __future__ import annotations

import re
from bisect import bisect_right
from collections.abc import Callable, Sequence
from typing import Any

from textual.binding import Binding
from textual.widgets import TextArea
from textual.widgets.text_area import Selection, WrappedDocument

from assistant.core.sanitize import visible
from assistant.rendering import safe_text
from assistant.tui.actions import pager_bindings


class _RowIndexedWrap(WrappedDocument):
    """A wrapped document whose height costs nothing.

    Textual's TextArea asks for the height once per line it renders, and WrappedDocument sums every line's
    wraps for it: redrawing 40 rows of a 30,000-line document took a quarter of a second, on every keystroke
    of a find. Its row index already holds one entry per wrapped row."""

    @property
    def height(self) -> int:
        return len(self._offset_to_line_info)


class DocumentView(TextArea):
    """Shows the document; the reader's answer is selected (highlighted) and scrolled into view.

    Selecting text with the mouse or shift+arrows marks the span a user wants to teach the reader. With the focus,
    it takes less's keys (``assistant.tui.actions.PAGER_KEYS``).
    """

    BINDINGS = [*pager_bindings(), Binding("f6", "screen.sources", "Sources", show=False)]
    """f6 is TextArea's "select line": here it is the sources, as everywhere else in the chat."""

    DEFAULT_CSS = """
    DocumentView { border: round $primary-darken-2; }
    DocumentView:focus { border: round $accent; }
    DocumentView > .text-area--selection { background: $accent 75%; color: $text; text-style: bold; }
    """
    """The answer's highlight is the theme's accent, strong enough to stay apart from the text's background once a
    256-colour terminal has rounded both (Textual's own, a light tint, became grey 238 on 237 in gruvbox)."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__("", read_only=True, show_line_numbers=True, soft_wrap=True, **kwargs)
        self._document_text = ""
        self._files: list[tuple[int, int]] = [(0, 0)]
        """Each file's ``[start, end)`` in the document (one, the whole text, for a single document)."""
        self._shown = 0
        """The file shown: its index in ``_files``."""
        self._shown_end = 0
        """Where the text shown ends: the file's end, less a newline that ends it."""
        self._line_starts: list[int] = [0]
        """Where the shown file's lines start, as document offsets."""
        self._highlighted: Selection | None = None
        """The answer's highlight while it is the selection: the app's, not a span the user chose."""
        self.placer: Callable[[int], str] | None = None
        """Names the place of a document offset (file, page, section), shown under the text for the cursor."""

    @property
    def text(self) -> str:
        """The whole text, joined once per loaded document (the view never edits it).

        Textual's TextArea asks for it on every line it draws, and joining a 30,000-line document each time
        made a redraw cost a tenth of a second."""
        joined = getattr(self, "_joined", None)
        if joined is None or joined[0] is not self.document:
            joined = self._joined = (self.document, self.document.text)
        return joined[1]

    @text.setter
    def text(self, value: str) -> None:
        self.load_text(value)

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """A read-only text has nothing to undo or redo: its ctrl+z and ctrl+y go on to the screen's keys."""
        if action in ("undo", "redo") and self.read_only:
            return False
        return super().check_action(action, parameters)

    def on_mount(self) -> None:
        self.watch(self.app, "theme", self._keep_scroll, init=False)

    def action_document_start(self) -> None:
        self.selection = Selection.cursor((0, 0))
        self.scroll_cursor_visible(animate=False)

    def action_document_end(self) -> None:
        self.selection = Selection.cursor((self.document.line_count - 1, 0))
        self.scroll_cursor_visible(animate=False)

    def action_scroll_line(self, direction: int) -> None:
        """One line down (1) or up (-1), the view first, as less's j and k."""
        self.scroll_relative(y=direction, animate=False)
        self.move_cursor_relative(rows=direction)

    def action_half_page(self, direction: int) -> None:
        """Half a page down (1) or up (-1), the cursor with it, as less's ctrl+d and ctrl+u."""
        rows = max(1, self.scrollable_content_region.height // 2)
        self.scroll_relative(y=direction * rows, animate=False)
        self.move_cursor_relative(rows=direction * rows)

    def _keep_scroll(self) -> None:
        """A new theme restyles every widget: the document stays where the user was reading."""
        x, y = self.scroll_x, self.scroll_y
        self.call_after_refresh(self.scroll_to, x, y, animate=False)

    WRAP_LIMIT = 300_000
    """Characters up to which lines are soft-wrapped: wrapping a longer text would stall the UI."""

    def show(self, text: str, files: Sequence[tuple[int, int]] = ()) -> None:
        """Show a document (a folder's: ``files``, each one's span in ``text``), its first file first."""
        self._document_text = text
        self._files = sorted(files) or [(0, len(text))]
        self._show_file(0)
        self.border_title = None
        self.border_subtitle = None

    def _show_file(self, index: int) -> None:
        """Show one file: its control and bidi-control characters as visible stand-ins, one for one, so that the
        terminal never obeys them and every document offset still points at the same character. A newline that
        ends the file ends its last line: no empty line is numbered after it."""
        start, end = self._files[index]
        if end > start and self._document_text[end - 1] == "\n":
            end -= 1
        text = self._document_text[start:end]
        self._shown, self._shown_end = index, end
        self.soft_wrap = len(text) <= self.WRAP_LIMIT
        self._line_starts = [start] + [start + m.end() for m in re.finditer("\n", text)]
        self._highlighted = None
        self.load_text(visible(text))
        self.wrapped_document.__class__ = _RowIndexedWrap  # the same wrapping, read in O(1): see the class

    def _bring_up(self, offset: int) -> None:
        """Show the file that holds a document offset (text between two files counts as the first's)."""
        index = max(0, bisect_right(self._files, (offset, len(self._document_text) + 1)) - 1)
        if index != self._shown:
            self._show_file(index)
            self.show_place()  # the cursor may sit where it sat in the other file: no selection change says so

    def location(self, offset: int) -> tuple[int, int]:
        """Character offset in the document to (row, column) in the file shown."""
        offset = min(max(offset, self._files[self._shown][0]), self._shown_end)
        row = bisect_right(self._line_starts, offset) - 1
        return row, offset - self._line_starts[row]

    def offset_of(self, location: tuple[int, int]) -> int:
        """(row, column) in the file shown to a character offset in the document."""
        row, col = location
        return self._line_starts[min(row, len(self._line_starts) - 1)] + col

    def highlight(self, start: int, end: int) -> None:
        """Select an answer's span (the app's highlight, never taken for the user's selection) and show it."""
        self._bring_up(start)
        self.selection = Selection(self.location(start), self.location(end))
        self._highlighted = self.selection
        self._show_from(self.location(start), end - start)

    def _show_from(self, location: tuple[int, int], length: int = 0) -> None:
        """Scroll a span into the middle, its line's start in view when the span fits beside it: a long unwrapped
        line, scrolled sideways for an earlier answer, must not show the next one with its line start cut off."""
        self.scroll_cursor_visible(center=True, animate=False)
        if self.soft_wrap:
            return
        column = location[1]
        width = max(1, self.scrollable_content_region.width - self.gutter_width)
        self.scroll_to(x=0 if column + length < width else max(0, column - 8), animate=False)

    def on_resize(self) -> None:
        """A resize keeps the answer (or the cursor) in view from its line's start, as a new answer is shown."""
        if not self.soft_wrap:
            start = min(self.selection.start, self.selection.end)
            self.call_after_refresh(self._show_from, start)

    @property
    def line_count(self) -> int:
        """The shown file's lines as people count them: a newline at the very end ends the last line, it starts
        none."""
        return len(self._line_starts)

    @property
    def reading_offset(self) -> int:
        """Where the user is reading (the cursor, or the start of the selection or answer), as a document
        offset: a find starts there, so an answer's own words are found first."""
        return self.offset_of(min(self.selection.start, self.selection.end))

    def go_to_offset(self, offset: int) -> None:
        """Put the cursor at a document offset, its file shown, its line in the middle (a file's start: at the top)."""
        self._bring_up(offset)
        self.go_to_line(self.location(offset)[0] + 1)

    def go_to_line(self, line: int) -> None:
        """Put the cursor at the start of a line of the file shown (1-based, as the gutter numbers it) and show it in
        the middle."""
        self.selection = Selection.cursor((line - 1, 0))
        self._show_from((line - 1, 0))

    def clear_highlight(self) -> None:
        """Take the answer's highlight away (the cursor stays where it began); a selection of the user's stays."""
        if self._highlighted is not None and self.selection == self._highlighted:
            self.selection = Selection.cursor(min(self.selection.start, self.selection.end))
        self._highlighted = None

    def on_text_area_selection_changed(self, event: TextArea.SelectionChanged) -> None:
        """The user moved the cursor or the selection: from now on it is theirs, whatever it spans.

        A message about an earlier selection (the app highlighted twice in a row) is stale and changes nothing."""
        current = self.selection
        if self._highlighted is not None and event.selection == current and current != self._highlighted:
            self._highlighted = None
        self.show_place()

    def show_place(self) -> None:
        """Where the cursor is, under the text: a PDF's page, a folder's file, the section (page boundaries show as
        the cursor crosses them)."""
        label = self.placer(self.reading_offset) if self.placer is not None else ""
        room = max(8, self.size.width - 6)
        if len(label) > room:  # the end says the most: the file's name, its page, its section
            label = "…" + label[-(room - 1) :]
        self.border_subtitle = safe_text(label, single_line=True) if label else None

    def selected_span(self) -> tuple[int, int] | None:
        """The selection (the user's or the answer's highlight) as document offsets, or None when it is empty."""
        start, end = sorted((self.selection.start, self.selection.end))
        a, b = self.offset_of(start), self.offset_of(end)
        return (a, b) if b > a else None

    def user_span(self) -> tuple[int, int] | None:
        """The span the user selected, as document offsets; None when nothing is, or only the answer's highlight."""
        if self._highlighted is not None and self.selection == self._highlighted:
            return None
        return self.selected_span()
