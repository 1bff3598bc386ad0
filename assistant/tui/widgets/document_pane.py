"""The document pane: the document, with its find and go-to-line bars underneath (one open at a time)."""

from __future__ import annotations

from collections.abc import Sequence

from textual import on
from textual.app import ComposeResult
from textual.containers import Vertical

from assistant.tui.messages import BarClosed, FindMatch, LineWanted
from assistant.tui.widgets.document_view import DocumentView
from assistant.tui.widgets.find_bar import FindBar
from assistant.tui.widgets.line_bar import LineBar


class DocumentPane(Vertical):
    """Finds and line jumps are shown with the document's own highlight: the answer's selection."""

    DEFAULT_CSS = "DocumentPane { height: 1fr; } DocumentPane > DocumentView { height: 1fr; }"

    def compose(self) -> ComposeResult:
        yield DocumentView(id="document")
        yield FindBar(id="find-bar")
        yield LineBar(id="line-bar")

    @property
    def view(self) -> DocumentView:
        return self.query_one(DocumentView)

    def show(self, text: str, files: Sequence[tuple[int, int]] = ()) -> None:
        """A document (a folder's: each file's span in ``text``); a find searches all of it."""
        self.view.show(text, files)
        self.query_one(FindBar).set_text(text)
        self.query_one(LineBar).set_lines(self.view.line_count)

    def open_find(self) -> None:
        self.query_one(LineBar).display = False
        self.query_one(FindBar).open(self.view.reading_offset)

    def open_line(self) -> None:
        self.query_one(FindBar).display = False
        self.query_one(LineBar).set_lines(self.view.line_count)  # the file shown: its lines are what the gutter shows
        self.query_one(LineBar).open(self.view.line_count)

    @on(FindMatch)
    def _found(self, message: FindMatch) -> None:
        message.stop()
        if message.span is None:
            self.view.clear_highlight()
        else:
            self.view.highlight(*message.span)

    @on(LineWanted)
    def _line_wanted(self, message: LineWanted) -> None:
        message.stop()
        lines = self.view.line_count
        if not 1 <= message.line <= lines:
            self.query_one(LineBar).refuse(f"There is no line {message.line}: the document has lines 1 to {lines:,}.")
            return
        self.view.go_to_line(message.line)
        self.query_one(LineBar).display = False
        self.view.focus()

    @on(BarClosed)
    def _bar_closed(self, message: BarClosed) -> None:
        message.stop()
        self.view.focus()
