"""The file dialogs (textual-fspicker's), showing file and folder names as text, usable by keyboard at 80x24.

A folder the user browses may hold names with control characters or Rich markup in them: the dialogs' entries,
the current folder, the file-name input and the error line show them through the one sanitizer. Every file
dialog of the app comes from here. In the lists, typing a name's first letters jumps to it; the folder dialog
takes a typed or pasted path, and Open takes the folder highlighted in the list.
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

from rich.text import Text
from textual import events, on
from textual.app import ComposeResult
from textual.widgets import Button, Input
from textual_fspicker import FileOpen as _FileOpen
from textual_fspicker import Filters, base_dialog, file_dialog, select_directory
from textual_fspicker import SelectDirectory as _SelectDirectory
from textual_fspicker.base_dialog import Dialog
from textual_fspicker.parts import DirectoryNavigation, current_directory, directory_navigation
from textual_fspicker.suggest_path import SuggestPath

from assistant.core import files
from assistant.core.errors import UserError
from assistant.core.sanitize import one_line
from assistant.rendering import safe_text
from assistant.tui.closing import ClosesOnce
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


class _Navigation(DirectoryNavigation):
    """The folder list: typing letters jumps to the first entry whose name starts with them (a pause of a second
    starts a new name), as in file managers."""

    JUMP_PAUSE_S = 1.0

    def on_key(self, event: events.Key) -> None:
        if self._forward(event):
            return
        super().on_key(event)
        if event.character in ("/", "~"):  # the start of a path: typed where paths go
            self._to_path_input(event.character)
            event.stop()
            return
        if not event.is_printable or not event.character or event.character == ".":  # "." shows hidden entries
            return
        now = time.monotonic()
        typed = getattr(self, "_typed", "")
        self._typed = (typed if now - getattr(self, "_typed_at", 0.0) < self.JUMP_PAUSE_S else "") + event.character
        self._typed_at = now
        wanted = self._typed.casefold()
        for index in range(self.option_count):
            entry = self.get_option_at_index(index)
            if isinstance(entry, directory_navigation.DirectoryEntry) and entry.location.name.casefold().startswith(
                wanted
            ):
                self.highlighted = index
                break
        event.stop()

    def on_focus(self) -> None:
        self._typing_path = False  # back in the list: keys are the list's again

    def on_paste(self, event: events.Paste) -> None:
        """A path pasted over the list goes where paths are typed."""
        self._to_path_input(event.text.strip())
        event.stop()

    def _to_path_input(self, text: str) -> None:
        inputs = self.screen.query(Input)
        if inputs:
            path = inputs.first()
            path.select_on_focus = False  # else the next key typed would replace the "/" just put there
            path.value = text
            path.cursor_position = len(text)
            path.focus()
            self._typing_path = True

    def _forward(self, event: events.Key) -> bool:
        """Keys that reach the list after a path began in the path input (typed fast, or sent at once over a slow
        link: they were on their way before the focus moved) go on into the path input, in order."""
        inputs = self.screen.query(Input)
        if not getattr(self, "_typing_path", False) or not inputs:
            return False
        path = inputs.first()
        if event.is_printable and event.character:
            path.insert_text_at_cursor(event.character)
        elif event.key == "enter":
            self.call_next(path.action_submit)
        elif event.key == "backspace":
            path.action_delete_left()
        else:
            return False
        event.stop()
        event.prevent_default()
        return True


class _ErrorsAsText:
    def _set_error(self, message: str = "") -> None:
        self.query_one(Dialog).border_subtitle = safe_text(message, single_line=True) if message else None  # type: ignore[attr-defined]


SMALL_SCREEN_CSS = """
{name} Dialog {{ width: 90%; height: 90%; min-height: 14; }}
{name} InputBar {{ padding: 0 1; }}
{name} InputBar Button {{ min-width: 10; }}
{name} DirectoryNavigation {{ min-height: 4; }}
"""
"""At 80x24 the dialogs' own spacing left the list a row or two: less of it, and the list keeps its rows."""


class _FirstByName(SuggestPath):
    """fspicker's path completion, completing to the first name in name order (its own took the folder's listing
    order, so "ex" completed to extra16.md before extra01.md, and enter opened it), and reading ``~`` as home."""

    async def get_suggestion(self, value: str) -> str | None:
        head, sep, start = value.rpartition("/")
        typed_folder = head + sep
        if value.startswith("~") and not sep:
            return None
        try:
            folder = files.user_path(typed_folder) if typed_folder.startswith("~") else self.root / typed_folder
            with os.scandir(folder) as entries:
                names = sorted(e.name for e in entries if e.name.startswith(start))
        except (UserError, OSError, ValueError):
            return None
        shown = [name for name in names if start.startswith(".") or not name.startswith(".")]
        return typed_folder + shown[0] if shown else None


class FileOpen(_ErrorsAsText, ClosesOnce[Path], _FileOpen):
    """Pick a file to open."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if self._suggest_path is not None:
            self._suggest_path = _FirstByName()

    DEFAULT_CSS = (
        SMALL_SCREEN_CSS.format(name="FileOpen")
        + """
    FileOpen InputBar Input { width: 1fr; }
    FileOpen InputBar Select { width: 20; }
    """
    )

    @on(Input.Submitted)
    def _typed_folder(self, event: Input.Submitted) -> None:
        """A folder's path typed and entered is gone into with the focus left where it was typed, so that a file's
        name can be typed next (fspicker's own moved it to the list, where the name typed went nowhere)."""
        typed = event.value.strip()
        if not typed:
            return
        navigation = self.query_one(DirectoryNavigation)
        if _took_completion(event.input, typed, navigation.location):
            event.stop()
            event.prevent_default()
            self.call_next(event.input.action_submit)
            return
        folder = files.local_dir(typed if typed.startswith("~") else navigation.location / typed)
        if folder is None:  # a file's name: the dialog's own handler opens it
            return
        event.stop()
        event.prevent_default()
        navigation.location = folder
        event.input.value = ""

    @on(DirectoryNavigation.Selected)
    async def _open_selected(self, event: DirectoryNavigation.Selected) -> None:
        """Enter on a file in the list opens it (fspicker's own only put its name in the input, for a second enter)."""
        event.stop()
        event.prevent_default()
        name = self.query_one(Input)
        name.value = str(event.path.name)
        await name.action_submit()


def _took_completion(field: Input, typed: str, location: Path) -> bool:
    """Enter on a name that names nothing while a completion of it shows: the completion is what was meant, so it is
    taken, as the right arrow takes it (an enter that said "no such file" beside the shown name read as a bug)."""
    try:
        named = files.user_path(typed) if typed.startswith("~") else location / typed
    except UserError:
        return False
    if files.path_kind(named) is not None:
        return False
    before = field.value
    field.action_cursor_right()
    return field.value != before


class SelectDirectory(_ErrorsAsText, ClosesOnce[Path], _SelectDirectory):
    """Pick a checkpoint folder: from the list (Open takes the one highlighted), or by its path typed or pasted
    (enter takes a checkpoint, one with config.json, and goes into any other folder)."""

    DEFAULT_CSS = (
        SMALL_SCREEN_CSS.format(name="SelectDirectory")
        + """
    SelectDirectory CurrentDirectory { display: none; }
    SelectDirectory #folder-path { width: 1fr; }
    """
    )

    def __init__(self, *args: Any, take_typed: bool = False, **kwargs: Any) -> None:
        """``take_typed``: a folder's path typed and entered is the folder picked (a folder of documents), not only
        gone into (a checkpoint is the one with config.json)."""
        super().__init__(*args, **kwargs)
        self.take_typed = take_typed

    def _input_bar(self) -> ComposeResult:
        yield from super()._input_bar()
        yield TextInput(placeholder="or type a folder's path, then enter", id="folder-path")

    def on_mount(self) -> None:
        super().on_mount()
        self.query_one("#cancel", Button).can_focus = False  # escape cancels; tab goes list, path, Open

    @on(DirectoryNavigation.Changed)
    def _show_path(self, event: DirectoryNavigation.Changed) -> None:
        self.query_one("#folder-path", Input).value = str(event.control.location)

    @on(Input.Submitted, "#folder-path")
    def _typed_path(self, event: Input.Submitted) -> None:
        event.stop()
        folder = files.local_dir(event.value.strip())
        if folder is None:
            self._set_error(f"No folder {event.value.strip()}")
        elif self.take_typed or files.path_kind(folder / "config.json") == "file":  # a checkpoint: taken
            self._picked(folder)
        else:  # any other folder: gone into, to pick from
            navigation = self.query_one(DirectoryNavigation)
            navigation.location = folder
            navigation.focus()

    @on(Button.Pressed, "#select")
    def _select_highlighted(self, event: Button.Pressed) -> None:
        """The folder the list points at: the one highlighted, else (on "..", or an empty list) the one shown."""
        event.stop()
        event.prevent_default()  # instead of the dialog's own, which takes the folder shown
        navigation = self.query_one(DirectoryNavigation)
        entry = navigation.highlighted_option
        chosen = navigation.location
        if isinstance(entry, directory_navigation.DirectoryEntry) and entry.location.name != "..":
            chosen = entry.location if entry.location.is_dir() else chosen
        self._picked(chosen)

    def _picked(self, folder: Path) -> None:
        global LAST_FOLDER
        LAST_FOLDER = folder.resolve()
        self.dismiss(LAST_FOLDER)


LAST_FOLDER: Path | None = None
"""The folder picked last in this session: the next folder dialog opens beside it."""


_TEXT_PARTS = (
    (directory_navigation, "DirectoryEntry", _Entry),
    (file_dialog, "CurrentDirectory", _CurrentDirectory),
    (select_directory, "CurrentDirectory", _CurrentDirectory),
    (file_dialog, "Input", TextInput),
    (base_dialog, "DirectoryNavigation", _Navigation),
)
for _module, _name, _part in _TEXT_PARTS:  # the dialogs build their parts by these names: they get these
    setattr(_module, _name, _part)
