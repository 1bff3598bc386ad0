"""The sources of what is open: each file read (its format, where it starts) and each file of a folder that was
not read, with why. Enter on a file read shows its start in the document; on a file not read, the whole reason."""

from __future__ import annotations

from typing import TYPE_CHECKING

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Label, OptionList, Static
from textual.widgets.option_list import Option

from assistant.core.sanitize import one_line
from assistant.rendering import assemble
from assistant.tui.closing import ClosesOnce
from assistant.tui.screens.dialogs import MODAL_CSS

if TYPE_CHECKING:
    from assistant.core.documents import Document
    from assistant.core.folders import Skipped


LEFT_OUT_UNLISTED = (
    "Not listed: hidden files and what a .gitignore names, left out as ripgrep does (name one to read it)."
)
"""Why a file the user knows is in the folder may be missing from the list (the walk leaves these out unnamed)."""


class SourcesScreen(ClosesOnce[int | None], ModalScreen[int | None]):
    """Dismissed with the offset of the file chosen (its first character in the document), or None."""

    DEFAULT_CSS = MODAL_CSS.format(name="SourcesScreen") + "SourcesScreen OptionList { max-height: 50vh; }"
    """The list fits the dialog (80% of the screen, less its border, padding, title and the note under a folder's
    list, two rows at 80 columns) from 24 rows up: a list taller than the dialog had its last rows, the files not
    read, cut off out of reach, and then the note's second row."""
    BINDINGS = [Binding("escape", "dismiss(None)", "Close", id="sources-close")]

    def __init__(
        self, document: Document, skipped: list[Skipped], name: str | None = None, walked: bool = False
    ) -> None:
        """``name``: what was opened, as the chat names it (several paths: theirs), else the document's name;
        ``walked``: whether a folder was walked to find the files (then some were left out unnamed)."""
        super().__init__()
        self.walked = walked
        self.document = document
        self.skipped = skipped
        self.name_opened = name or document.name

    def compose(self) -> ComposeResult:
        parts = self.document.parts
        read = [
            Option(assemble(("✓ ", "green"), one_line(part.name), (f"  {part.format}", "dim")), id=f"read-{n}")
            for n, part in enumerate(parts)
        ]
        not_read = [
            Option(
                assemble(("✗ ", "red"), one_line(entry.path), (f"  {one_line(entry.why)}", "dim")),
                id=f"skip-{n}",  # not disabled: the keys reach it (a disabled last row was never scrolled to)
            )
            for n, entry in enumerate(self.skipped)
        ]
        head = f"{len(parts):,} file(s) read" + (f", {len(self.skipped):,} not read" if self.skipped else "")
        with Vertical():
            yield Label(assemble((f"Sources of {one_line(self.name_opened)}", "bold"), f"  ·  {head}"))
            yield OptionList(*read, *not_read, id="sources")
            if self.walked:
                yield Static(LEFT_OUT_UNLISTED, id="left-out", classes="dim")  # wraps: a Label is cut at the edge

    @on(OptionList.OptionSelected)
    def _selected(self, event: OptionList.OptionSelected) -> None:
        option_id = event.option.id or ""
        if option_id.startswith("read-"):
            self.dismiss(self.document.parts[int(option_id.removeprefix("read-"))].start)
        elif option_id.startswith("skip-"):  # the whole reason, which the row may cut at the screen's edge
            entry = self.skipped[int(option_id.removeprefix("skip-"))]
            self.app.notify(entry.why, title=f"Not read: {entry.path}", timeout=15)  # the app's notify shows text
