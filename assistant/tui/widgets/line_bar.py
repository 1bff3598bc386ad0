"""The go-to-line bar under the document: type a line number, enter goes there."""

from __future__ import annotations

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal
from textual.widgets import Input, Label

from assistant.tui.messages import BarClosed, LineWanted
from assistant.tui.widgets.text_input import TextInput


class LineBar(Horizontal):
    """Posts ``LineWanted``; its parent checks the line against the document and moves there."""

    DEFAULT_CSS = """
    LineBar { height: 1; display: none; background: $boost; }
    LineBar > Label { width: auto; padding: 0 1; color: $text-muted; }
    LineBar > Input { width: 1fr; }
    """
    BINDINGS = [Binding("escape", "close", "Close", show=False, id="line-close")]

    def compose(self) -> ComposeResult:
        yield Label("go to line")
        yield TextInput(type="integer", id="line-input", compact=True)

    @property
    def input(self) -> Input:
        return self.query_one("#line-input", Input)

    def set_lines(self, lines: int) -> None:
        """The range the placeholder offers: the open document's (a new one may have come in while open)."""
        self.input.placeholder = f"1–{lines:,}"

    def open(self, lines: int) -> None:
        """Shown empty, each time: a number typed before (a wrong one, left when the bar was closed) would be
        added to."""
        self.set_lines(lines)
        self.input.value = ""
        self.display = True
        self.input.focus()

    def refuse(self, why: str) -> None:
        """A line that is not in the document: said, and the field emptied for the next number."""
        self.notify(why, severity="warning")
        self.input.value = ""

    def action_close(self) -> None:
        self.display = False
        self.post_message(BarClosed())

    @on(Input.Submitted, "#line-input")
    def _submitted(self, event: Input.Submitted) -> None:
        event.stop()
        try:
            line = int(event.value)
        except ValueError:
            self.refuse("Type a line number, then press enter.")
            return
        self.post_message(LineWanted(line))
