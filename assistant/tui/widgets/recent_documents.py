"""The open dialog's first step: the documents and folders asked about most recently, or browse for another."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Label, OptionList
from textual.widgets.option_list import Option

from assistant.core import files
from assistant.rendering import safe_text
from assistant.tui.file_dialogs import Filters
from assistant.tui.screens.dialogs import MODAL_CSS

BROWSE: Literal["browse"] = "browse"
BROWSE_FOLDER: Literal["folder"] = "folder"
RecentChoice = Path | Literal["browse", "folder"] | None
"""A document to open again, BROWSE for the file dialog, BROWSE_FOLDER for the folder dialog, or None (escape)."""

TEXT_SUFFIXES = (".log", ".csv", ".tsv", ".json", ".xml")
"""Text a user may well ask about besides what a format's loader names."""


def document_suffixes() -> tuple[str, ...]:
    from assistant.core.formats.registry import suffixes

    return (*suffixes(), *TEXT_SUFFIXES)


def text_file_filters() -> Filters:
    """The file dialog's filters: documents first (the default), then everything."""
    known = document_suffixes()
    return Filters(
        ("Documents", lambda path: path.suffix.lower() in known),
        ("All files", lambda _: True),
    )


def _label(path: Path, open_path: Path | None) -> Text:
    home = str(Path.home())
    folder = str(path.parent)
    if folder.startswith(home):
        folder = "~" + folder[len(home) :]
    is_open = "  (open)" if open_path is not None and path == open_path.resolve() else ""
    slash = "/" if files.path_kind(path) == "dir" else ""
    return safe_text(f"{path.name}{slash}{is_open}  ·  {folder}", single_line=True)  # "[draft]" is a name here


class RecentDocuments(ModalScreen[RecentChoice]):
    """Enter opens the highlighted document (or folder) again; the last two entries browse for a file or a folder."""

    DEFAULT_CSS = MODAL_CSS.format(name="RecentDocuments")
    BINDINGS = [Binding("escape", "dismiss(None)", "Close", id="recent-close")]

    def __init__(self, paths: list[Path], open_path: Path | None = None) -> None:
        super().__init__()
        self.paths = paths
        self.open_path = open_path

    def compose(self) -> ComposeResult:
        options = [Option(_label(path, self.open_path)) for path in self.paths]
        with Vertical():
            yield Label("Open a document")
            yield OptionList(
                *options, Option("Browse…", id=BROWSE), Option("Open a folder…", id=BROWSE_FOLDER), id="recent"
            )

    @on(OptionList.OptionSelected)
    def _selected(self, event: OptionList.OptionSelected) -> None:
        index = event.option_index
        self.dismiss(
            self.paths[index] if index < len(self.paths) else BROWSE if index == len(self.paths) else BROWSE_FOLDER
        )
