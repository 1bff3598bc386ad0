"""The settings screen: a form made from the settings' one definition (``assistant.settings``), one editor per
setting by its ``Spec.widget``; Save hands the checked values to the App, which saves and applies them."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, VerticalScroll
from textual.screen import Screen
from textual.validation import Function
from textual.widget import Widget
from textual.widgets import Button, Footer, Header, Input, Label, Select, Static, Switch

from assistant.rendering import safe_text
from assistant.settings import Settings, Spec, from_form, specs
from assistant.tui.closing import ClosesOnce
from assistant.tui.messages import SettingsSaved
from assistant.tui.screens.dialogs import checkpoint_dialog
from assistant.tui.widgets.text_input import TextInput

DEVICES: tuple[tuple[str, str], ...] = (
    ("auto: a GPU when there is one", "auto"),
    ("cpu", "cpu"),
    ("cuda (the first GPU)", "cuda"),
)


def device_choices(current: str) -> list[tuple[str, str]]:
    """The devices offered, with a ``cuda:N`` from settings.toml kept as it is."""
    choices = list(DEVICES)
    if current not in (value for _, value in choices):
        choices.append((current, current))
    return choices


class SettingsScreen(ClosesOnce[None], Screen[None]):
    """Every setting of ``Settings``, in its order; a value that cannot be saved is said as it is typed."""

    CSS_PATH = "settings.tcss"
    BINDINGS = [
        Binding("escape", "app.pop_screen", "Back", id="settings-back"),
        Binding("ctrl+s", "save", "Save", id="settings-save"),
    ]

    def __init__(self, settings: Settings) -> None:
        """``settings``: the values the form starts from (the App's, which this screen never changes)."""
        super().__init__()
        self.current = settings

    def compose(self) -> ComposeResult:
        yield Header()
        with VerticalScroll(id="settings-form"):
            yield Static("Settings (settings.toml): ctrl+s saves, escape leaves without saving", id="settings-title")
            for f, spec in specs(type(self.current)):
                yield Label(spec.label)
                yield from self._editor(f.name, spec, getattr(self.current, f.name))
            with Horizontal(id="settings-buttons"):
                yield Button("Save", variant="primary", id="save")
                yield Button("Cancel", id="cancel")
        yield Footer(compact=True)

    def _editor(self, name: str, spec: Spec, value: object) -> Iterator[Widget]:
        if spec.widget == "switch":
            yield Switch(bool(value), id=name)
        elif spec.widget == "device":
            choices = [(safe_text(label, single_line=True), device) for label, device in device_choices(str(value))]
            yield Select(choices, value=str(value), allow_blank=False, id=name)
        elif spec.widget == "theme":
            themes = sorted(set(self.app.available_themes) | {str(value)})
            yield Select(
                [(safe_text(t, single_line=True), t) for t in themes], value=str(value), allow_blank=False, id=name
            )
        elif spec.widget == "model":
            with Horizontal(id="model-row"):
                yield TextInput(str(value), placeholder="the active run, else the hub default", id=name)
                yield Button("Browse…", id="browse-model")
        else:  # a number typed: said as soon as it cannot be saved
            valid = Function(lambda typed: spec.parse(typed) is not None, spec.accepts)
            kind = "integer" if spec.widget == "integer" else "number"
            yield TextInput(str(value), type=kind, id=name, validators=[valid], validate_on=["changed"])
            problem = Static("", id=f"{name}-problem", classes="problem")
            problem.display = False
            yield problem

    def on_mount(self) -> None:
        self.query(Input).first().focus()

    @on(Input.Changed)
    def _typed(self, event: Input.Changed) -> None:
        problem = self.query(f"#{event.input.id}-problem")
        if problem and event.validation_result is not None:
            failures = event.validation_result.failure_descriptions
            line = problem.first(Static)
            line.update(failures[0] if failures else "")
            line.display = bool(failures)

    def _form(self) -> Settings:
        """The form's values; ValueError says which one cannot be saved."""
        values: dict[str, object] = {}
        for f, _ in specs(type(self.current)):
            editor = self.query_one(f"#{f.name}")
            if isinstance(editor, (Input, Switch)):
                values[f.name] = editor.value
            elif isinstance(editor, Select):
                values[f.name] = str(editor.value)
        return from_form(values, type(self.current))

    @on(Button.Pressed, "#save")
    @on(Input.Submitted)
    def action_save(self) -> None:
        """Refuse a bad value with one sentence and keep the form; else hand the values to the App and go back."""
        try:
            chosen = self._form()
        except ValueError as exc:
            self.notify(str(exc), title="Settings not saved", severity="error")
            return
        self.app.post_message(SettingsSaved(chosen))
        self.dismiss(None)

    @on(Button.Pressed, "#cancel")
    def _cancel(self) -> None:
        self.dismiss(None)

    @on(Button.Pressed, "#browse-model")
    def _browse(self) -> None:
        self.app.push_screen(checkpoint_dialog(self.query_one("#model", Input).value.strip()), self._browsed)

    def _browsed(self, folder: Path | None) -> None:
        if folder is not None:
            self.query_one("#model", Input).value = str(folder)
