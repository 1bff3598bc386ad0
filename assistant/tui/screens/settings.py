"""The settings screen: the values of settings.toml as a form; Save writes the file and the App applies them."""

from __future__ import annotations

from pathlib import Path

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, VerticalScroll
from textual.screen import Screen
from textual.widgets import Button, Footer, Header, Input, Label, Select, Switch

from assistant.core import files
from assistant.settings import Settings, form_settings
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


class SettingsScreen(Screen[None]):
    """Answers per question, confidence, int8, device, theme and the default model."""

    CSS_PATH = "settings.tcss"
    BINDINGS = [Binding("escape", "app.pop_screen", "Back", id="settings-back")]

    def __init__(self, settings: Settings) -> None:
        """``settings``: the values the form starts from (the App's, which this screen never changes)."""
        super().__init__()
        self.current = settings

    def compose(self) -> ComposeResult:
        now = self.current
        themes = sorted(set(self.app.available_themes) | {now.theme})
        yield Header()
        with VerticalScroll(id="settings-form"):
            yield Label("Answers per question (top-k, at least 1)")
            yield TextInput(str(now.top_k), type="integer", id="top_k")
            yield Label("Minimum confidence for an answer (0 to 1)")
            yield TextInput(str(now.threshold), type="number", id="threshold")
            yield Label("int8: a quantized reader on the CPU (faster, slightly less exact)")
            yield Switch(now.int8, id="int8")
            yield Label("Device for the reader")
            yield Select(device_choices(now.device), value=now.device, allow_blank=False, id="device")
            yield Label("Theme")
            yield Select([(t, t) for t in themes], value=now.theme, allow_blank=False, id="theme")
            yield Label("Default model: a checkpoint folder or a hub id (empty: the active run, else the hub default)")
            with Horizontal(id="model-row"):
                yield TextInput(now.model, placeholder="the active run, else the hub default", id="model")
                yield Button("Browse…", id="browse-model")
            with Horizontal(id="settings-buttons"):
                yield Button("Save", variant="primary", id="save")
                yield Button("Cancel", id="cancel")
        yield Footer(compact=True)

    def on_mount(self) -> None:
        self.query_one("#top_k", Input).focus()

    def _form(self) -> Settings:
        """The form's values; ValueError says which one cannot be saved."""
        return form_settings(
            model=self.query_one("#model", Input).value,
            top_k=self.query_one("#top_k", Input).value,
            threshold=self.query_one("#threshold", Input).value,
            theme=str(self.query_one("#theme", Select).value),
            int8=self.query_one("#int8", Switch).value,
            device=str(self.query_one("#device", Select).value),
        )

    @on(Button.Pressed, "#save")
    @on(Input.Submitted)
    def save(self) -> None:
        """Refuse a bad value with one sentence and write nothing; else write settings.toml and go back."""
        try:
            chosen = self._form()
        except ValueError as exc:
            self.notify(str(exc), title="Settings not saved", severity="error")
            return
        try:
            chosen.save()
        except files.WRITE_ERRORS as exc:
            self.notify(f"Could not write {Settings.path()}: {files.write_problem(exc)}.", severity="error")
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
