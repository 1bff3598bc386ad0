"""Small modal screens: a yes/no question, the model picker and the help (its keys come from the action registry)."""

from __future__ import annotations

from pathlib import Path

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Button, Label, Markdown, OptionList
from textual.widgets.option_list import Option

from assistant.core import files
from assistant.core.defaults import DEFAULT_READER
from assistant.paths import models_dir
from assistant.rendering import safe_text
from assistant.runs.registry import RunStatus, list_runs
from assistant.tui.actions import help_markdown
from assistant.tui.closing import ClosesOnce
from assistant.tui.file_dialogs import SelectDirectory
from assistant.tui.state import ReaderState

MODAL_CSS = """
{name} {{ align: center middle; }}
{name} > Vertical {{ width: 80%; max-width: 100; height: auto; max-height: 80%; border: thick $accent;
    background: $surface; padding: 1 2; }}
"""


BROWSE = "browse"
"""The picker's option that opens the folder dialog."""
LOADED = "●"
"""Marks the reader answering now."""


def checkpoint_dialog(near: str = "") -> SelectDirectory:
    """The folder dialog for a checkpoint, opened beside ``near`` (a folder path) when it is one, else beside the
    folder picked last, else in models/ when it holds anything, else in the current folder."""
    from assistant.tui import file_dialogs

    folder = files.local_dir(near) if near else None
    beside = folder.parent if folder is not None else None
    last = file_dialogs.LAST_FOLDER.parent if file_dialogs.LAST_FOLDER is not None else None
    models = models_dir() if models_dir().is_dir() and any(models_dir().iterdir()) else None
    start = next((p for p in (beside, last, models, Path.cwd()) if p is not None and p.is_dir()), Path.home())
    return SelectDirectory(start, title="Open a checkpoint folder", select_button="Open")


def hub_default_offered() -> bool:
    """The hub default is offered unless it cannot load: offline (HF_HUB_OFFLINE) and not in the local cache. (No
    network lookup here: the picker opens at once.)"""
    from assistant.core.model_loading import hub_model_cached, hub_offline

    return not hub_offline() or hub_model_cached(DEFAULT_READER)


def reader_options(state: ReaderState, recent: list[str] | None = None, hub: bool = True) -> list[Option]:
    """Completed runs in models/, folders chosen before (``recent``, newest first, those still there), the hub
    default (unless ``hub`` is False: offline), the loaded reader when it is none of these (a browsed folder), and
    the folder dialog; the loaded one is marked."""
    choices: list[tuple[str, str]] = []
    for run in list_runs():
        if run.status is RunStatus.COMPLETED and run.has_weights:
            f1 = f"F1 {run.f1:.1f}" if run.f1 is not None else "no eval"
            active = " (active)" if run.active else ""
            choices.append((str(run.path), f"{run.name}{active}  ·  {f1}"))
    for ref in recent or []:
        if files.local_dir(ref) is not None and not any(_same(ref, known) for known, _ in choices):
            choices.append((ref, f"{Path(ref).name}  ·  recent: {ref}"))
    if hub:
        choices.append((DEFAULT_READER, f"{DEFAULT_READER}  ·  hub default"))
    if state.ref and not any(state.is_loaded(ref) for ref, _ in choices):
        choices.append((state.ref, f"{state.name}  ·  {state.ref}"))
    options = [  # a prompt is text: a run named "run [b]" or holding control characters reads as named
        Option(
            safe_text(f"{LOADED} {label}  ·  loaded" if state.is_loaded(ref) else f"  {label}", single_line=True),
            id=ref,
        )
        for ref, label in choices
    ]
    options.append(Option("  Browse for a checkpoint folder…", id=BROWSE))
    return options


def _same(a: str, b: str) -> bool:
    return files.same_place(a, b)


class ModelPicker(ClosesOnce[str | None], ModalScreen[str | None]):
    """Pick a reader: trained runs in models/, the hub default, or any local checkpoint folder."""

    DEFAULT_CSS = MODAL_CSS.format(name="ModelPicker")
    BINDINGS = [Binding("escape", "dismiss(None)", "Close", id="picker-close")]

    def __init__(self, state: ReaderState | None = None, recent: list[str] | None = None) -> None:
        """``state``: the app's reader, whose entry is marked; ``recent``: readers chosen before, newest first."""
        super().__init__()
        self.state = state or ReaderState()
        self.recent = recent or []

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Label("Switch the reader model")
            yield OptionList(*reader_options(self.state, self.recent, hub_default_offered()), id="models")

    @on(OptionList.OptionSelected)
    def _selected(self, event: OptionList.OptionSelected) -> None:
        if event.option.id == BROWSE:
            self.app.push_screen(checkpoint_dialog(self.state.ref), self._browsed)
        else:
            self.dismiss(event.option.id)

    def _browsed(self, folder: Path | None) -> None:
        """A folder picked is loaded (the loader says in one sentence why one is not a reader); none: pick again."""
        if folder is not None:
            self.dismiss(str(folder))


HELP_INTRO = """
# Document assistant

Ask questions about the open document; every answer is an exact span of it, highlighted on the left.
"""

HELP_OUTRO = """
Corrections are saved as SQuAD-format annotations that the Train screen can learn from
("My annotations"). Conversations are kept per document and restored when it is opened again.
"""


def help_text() -> str:
    return "\n".join([HELP_INTRO, help_markdown(), HELP_OUTRO])


class HelpScreen(ClosesOnce[None], ModalScreen[None]):
    DEFAULT_CSS = MODAL_CSS.format(name="HelpScreen").replace("> Vertical", "> VerticalScroll")
    BINDINGS = [Binding("escape,f1,q", "dismiss(None)", "Close", id="help-close")]

    def compose(self) -> ComposeResult:
        with VerticalScroll():
            yield Markdown(help_text(), id="help")


class ConfirmScreen(ClosesOnce[bool], ModalScreen[bool]):
    """A yes/no question: y or n answer it from anywhere in it, escape is No, enter the button with the focus."""

    BINDINGS = [
        Binding("escape,n", "dismiss(False)", "No", id="confirm-no"),
        Binding("y", "dismiss(True)", "Yes", id="confirm-yes"),
    ]
    DEFAULT_CSS = """
    ConfirmScreen { align: center middle; }
    ConfirmScreen > Vertical { width: 64; max-width: 95%; height: auto; max-height: 95%; border: thick $accent;
        padding: 1 2; background: $surface; }
    ConfirmScreen #confirm-text { width: 100%; }
    ConfirmScreen Horizontal { height: auto; margin-top: 1; }
    """

    def __init__(self, question: str, default: bool = True) -> None:
        """``question``: text, shown as it is (run names, paths); ``default``: the answer that has the focus (what
        Enter answers)."""
        super().__init__()
        self.question = question
        self.default = default

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Label(safe_text(self.question), id="confirm-text")
            with Horizontal():
                yield Button("Yes (y)", variant="primary", id="yes")
                yield Button("No (n)", id="no")

    def on_mount(self) -> None:
        self.query_one("#yes" if self.default else "#no", Button).focus()

    @on(Button.Pressed)
    def _answer(self, event: Button.Pressed) -> None:
        self.dismiss(event.button.id == "yes")
