"""Asks for a protected PDF's password: enter opens the document with it, escape gives up."""

from __future__ import annotations

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, Label

from assistant.rendering import safe_text
from assistant.tui.closing import ClosesOnce
from assistant.tui.screens.dialogs import MODAL_CSS
from assistant.tui.widgets.text_input import TextInput


class PasswordScreen(ClosesOnce[str | None], ModalScreen[str | None]):
    """Dismissed with the password typed, or None."""

    DEFAULT_CSS = MODAL_CSS.format(name="PasswordScreen")
    BINDINGS = [Binding("escape", "dismiss(None)", "Cancel", id="password-cancel")]

    def __init__(self, name: str, wrong: bool) -> None:
        super().__init__()
        self.document_name = name
        self.wrong = wrong

    def compose(self) -> ComposeResult:
        what = "That password does not open" if self.wrong else "A password protects"
        with Vertical():
            yield Label(safe_text(f"{what} {self.document_name}. Its password, then enter (escape: cancel):"))
            yield TextInput(password=True, id="password")

    @on(Input.Submitted, "#password")
    def _entered(self, event: Input.Submitted) -> None:
        event.stop()
        self.dismiss(event.value)
