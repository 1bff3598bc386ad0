"""The file dialogs (textual-fspicker's), showing file and folder names as text.

A folder the user browses may hold names with control characters or Rich markup in them: the dialogs' entries,
the current folder, the file-name input and the error line show them through the one sanitizer. Every file
dialog of the app comes from here.
"""

from __future__ import annotations

from pathlib import Path

from rich.text import Text
from textual_fspicker import FileOpen as _FileOpen
from textual_fspicker import Filters, file_dialog, select_directory
from textual_fspicker import SelectDirectory as _SelectDirectory
from textual_fspicker.base_dialog import Dialog
from textual_fspicker.parts import current_directory, directory_navigation

from assistant.core.sanitize import one_line
from assistant.rendering import safe_text
from assistant.tui.widgets.text_input import TextInput

__all__ = ["FileOpen", "Filters", "SelectDirectory"]


class _Entry(directory_navigation.DirectoryEntry):
    @classmethod
    def _name(cls, location: Path) -> Text:
        """The entry's name from the path itself (Rich would drop a BEL from it before the sanitizer saw it)."""
        name = safe_text(location.name, single_line=True)
        return Text.assemble(name, " ", cls.LINK_ICON if location.is_symlink() else "")


class _CurrentDirectory(current_directory.CurrentDirectory):
    def _watch_current_directory(self) -> None:
        path = "" if self.current_directory is None else one_line(str(self.current_directory))
        width = max(1, self.size.width)
        shown = path[-width:]
        self.update(safe_text(f"…{shown[1:]}" if len(shown) >= width else shown))


class _ErrorsAsText:
    def _set_error(self, message: str = "") -> None:
        self.query_one(Dialog).border_subtitle = safe_text(message, single_line=True) if message else None  # type: ignore[attr-defined]


class FileOpen(_ErrorsAsText, _FileOpen):
    """Pick a file to open."""


class SelectDirectory(_ErrorsAsText, _SelectDirectory):
    """Pick a folder."""


_TEXT_PARTS = (
    (directory_navigation, "DirectoryEntry", _Entry),
    (file_dialog, "CurrentDirectory", _CurrentDirectory),
    (select_directory, "CurrentDirectory", _CurrentDirectory),
    (file_dialog, "Input", TextInput),
)
for _module, _name, _part in _TEXT_PARTS:  # the dialogs build their parts by these names: they get these
    setattr(_module, _name, _part)
