"""The find bar under the document: type to find, enter or down for the next match, up for the previous one
(shift+enter too, where the terminal can send it: most cannot tell it from enter)."""

from __future__ import annotations

from typing import Any

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal
from textual.widgets import Input, Label, Static

from assistant.tui.messages import BarClosed, FindMatch
from assistant.tui.widgets.text_input import TextInput
from assistant.tui.widgets.text_search import TextSearch


class FindBar(Horizontal):
    """Posts ``FindMatch`` with the current match on every keystroke and step; its parent shows it."""

    DEFAULT_CSS = """
    FindBar { height: 1; display: none; background: $boost; }
    FindBar > Label { width: auto; padding: 0 1; color: $text-muted; }
    FindBar > Input { width: 1fr; }
    FindBar > #find-count { width: 16; height: 1; padding: 0 1; color: $text-muted; }  /* fixed: no relayout */
    """
    BINDINGS = [
        Binding("down", "step(1)", "Next match", show=False, id="find-next-key"),
        Binding("shift+enter,up", "step(-1)", "Previous match", show=False, id="find-previous-key"),
        Binding("escape", "close", "Close", show=False, id="find-close"),
    ]

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.search = TextSearch()
        self.find_from = 0
        """Where the search starts: the reading position when the bar opened, then the current match."""

    def compose(self) -> ComposeResult:
        yield Label("find")
        yield TextInput(placeholder="enter/↓ next · ↑ back", id="find-input", compact=True)
        yield Static(id="find-count")

    @property
    def input(self) -> Input:
        return self.query_one("#find-input", Input)

    def set_text(self, text: str) -> None:
        """A new document: the query, if any, is found again in it from its start."""
        self.search = TextSearch(text)
        self.find_from = 0
        if self.display and self.input.value:
            self._find()
        else:
            self._show_count()

    def open(self, find_from: int) -> None:
        self.find_from = find_from
        self.display = True
        self.input.focus()
        if self.input.value:
            self._find()

    def action_close(self) -> None:
        self.display = False
        self.post_message(BarClosed())

    def action_step(self, by: int) -> None:
        self._show(self.search.step(by))

    @on(Input.Changed, "#find-input")
    def _changed(self) -> None:
        self._find()

    @on(Input.Submitted, "#find-input")
    def _submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self.action_step(1)

    def _find(self) -> None:
        if not self.input.value:  # the query was emptied: its last match must not stay highlighted
            self.post_message(FindMatch(None))
        self._show(self.search.find(self.input.value, self.find_from))

    def _show(self, span: tuple[int, int] | None) -> None:
        if span is not None:
            self.find_from = span[0]
            self.post_message(FindMatch(span))
        elif self.search.query:
            self.post_message(FindMatch(None))
        self._show_count()

    def _show_count(self) -> None:
        self.query_one("#find-count", Static).update(self.search.label, layout=False)  # its size is fixed
