"""Small modal screens: a yes/no question, the model picker and the help (its keys come from the action registry)."""

from __future__ import annotations

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Button, Label, Markdown, OptionList
from textual.widgets.option_list import Option

from assistant.core.defaults import DEFAULT_READER
from assistant.runs.registry import RunStatus, list_runs
from assistant.tui.actions import help_markdown

MODAL_CSS = """
{name} {{ align: center middle; }}
{name} > Vertical {{ width: 80%; max-width: 100; height: auto; max-height: 80%; border: thick $accent;
    background: $surface; padding: 1 2; }}
"""


class ModelPicker(ModalScreen[str | None]):
    """Pick a reader: trained runs in models/ and the hub default."""

    DEFAULT_CSS = MODAL_CSS.format(name="ModelPicker")
    BINDINGS = [Binding("escape", "dismiss(None)", "Close", id="picker-close")]

    def compose(self) -> ComposeResult:
        options = []
        for run in list_runs():
            if run.status is RunStatus.COMPLETED and run.has_weights:
                f1 = f"F1 {run.f1:.1f}" if run.f1 is not None else "no eval"
                active = " (active)" if run.active else ""
                options.append(Option(f"{run.name}{active}  ·  {f1}", id=str(run.path)))
        options.append(Option(f"{DEFAULT_READER}  ·  hub default", id=DEFAULT_READER))
        with Vertical():
            yield Label("Switch the reader model")
            yield OptionList(*options, id="models")

    @on(OptionList.OptionSelected)
    def _selected(self, event: OptionList.OptionSelected) -> None:
        self.dismiss(event.option.id)


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


class HelpScreen(ModalScreen[None]):
    DEFAULT_CSS = MODAL_CSS.format(name="HelpScreen").replace("> Vertical", "> VerticalScroll")
    BINDINGS = [Binding("escape,f1,q", "dismiss(None)", "Close", id="help-close")]

    def compose(self) -> ComposeResult:
        with VerticalScroll():
            yield Markdown(help_text(), id="help")


class ConfirmScreen(ModalScreen[bool]):
    BINDINGS = [Binding("escape", "dismiss(False)", "No", id="confirm-no")]
    DEFAULT_CSS = """
    ConfirmScreen { align: center middle; }
    ConfirmScreen > Vertical { width: 64; height: auto; border: thick $accent; padding: 1 2; background: $surface; }
    ConfirmScreen Horizontal { height: auto; margin-top: 1; }
    """

    def __init__(self, question: str, default: bool = True) -> None:
        """``default``: the answer that has the focus (what Enter answers)."""
        super().__init__()
        self.question = question
        self.default = default

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Label(self.question, id="confirm-text")
            with Horizontal():
                yield Button("Yes", variant="primary", id="yes")
                yield Button("No", id="no")

    def on_mount(self) -> None:
        self.query_one("#yes" if self.default else "#no", Button).focus()

    @on(Button.Pressed)
    def _answer(self, event: Button.Pressed) -> None:
        self.dismiss(event.button.id == "yes")
