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
from assistant.store import Context
from assistant.tui.closing import ClosesOnce
from assistant.tui.file_dialogs import Filters
from assistant.tui.screens.dialogs import MODAL_CSS

BROWSE: Literal["browse"] = "browse"
BROWSE_FOLDER: Literal["folder"] = "folder"
RecentChoice = Context | Literal["browse", "folder"] | None
"""A document (folder, context) to open again, BROWSE for the file dialog, BROWSE_FOLDER for the folder dialog, or
None (escape)."""

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


def _label(context: Context, open_context: Context | None) -> Text:
    """``notes.md  ·  ~/docs``, ``docs/  ·  ~`` for a folder, ``a.md + b.pdf  ·  ~/docs`` for several paths."""
    home = str(Path.home())
    folder = str(context.first.parent)
    if folder.startswith(home):
        folder = "~" + folder[len(home) :]
    is_open = "  (open)" if open_context is not None and context.key == open_context.key else ""
    slash = "/" if not context.also and files.path_kind(context.first) == "dir" else ""
    return safe_text(f"{context.name}{slash}{is_open}  ·  {folder}", single_line=True)  # "[draft]" is a name here


class RecentDocuments(ClosesOnce[RecentChoice], ModalScreen[RecentChoice]):
    """Enter opens the highlighted document (or folder) again; the last two entries browse for a file or a folder."""

    DEFAULT_CSS = MODAL_CSS.format(name="RecentDocuments")
    BINDINGS = [Binding("escape", "dismiss(None)", "Close", id="recent-close")]

    def __init__(self, contexts: list[Context], open_context: Context | None = None) -> None:
        super().__init__()
        self.contexts = contexts
        self.open_context = open_context

    def compose(self) -> ComposeResult:
        options = [Option(_label(context, self.open_context)) for context in self.contexts]
        with Vertical():
            yield Label("Open a document")
            yield OptionList(
                *options, Option("Browse…", id=BROWSE), Option("Open a folder…", id=BROWSE_FOLDER), id="recent"
            )

    @on(OptionList.OptionSelected)
    def _selected(self, event: OptionList.OptionSelected) -> None:
        index, count = event.option_index, len(self.contexts)
        self.dismiss(self.contexts[index] if index < count else BROWSE if index == count else BROWSE_FOLDER)
