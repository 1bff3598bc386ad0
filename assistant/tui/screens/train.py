"""The Train screen: choose base model, data and settings, then watch a trainer subprocess run.

The form is built from ``TrainConfig``'s fields (defaults, types, help), and a run starts from a
``TrainConfig`` written to a file: the settings are typed once, in assistant.runs.config.
"""

from __future__ import annotations

import dataclasses
import re
import time
import types
import typing
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.markup import escape
from textual.reactive import reactive
from textual.screen import ModalScreen, Screen
from textual.widget import Widget
from textual.widgets import Button, Footer, Header, Input, Label, Log, ProgressBar, Select, Static
from textual.worker import Worker

from assistant.core.defaults import DEFAULT_DATASET
from assistant.core.errors import UserError
from assistant.paths import annotations_path, models_dir
from assistant.tui import workers
from assistant.tui.actions import Scope, bindings
from assistant.tui.messages import ActivateRun, TrainingEvent, TrainingFinished, TrainingOutcome
from assistant.tui.training_process import TrainingProcess

if TYPE_CHECKING:  # the config imports torch: it is imported when the screen is first shown
    from assistant.runs.config import TrainConfig

DATA_CHOICES = [
    ("SQuAD v1.1 (hub)", "squad"),
    ("SQuAD v2.0 (hub)", "squad_v2"),
    ("A local file", "file"),
    ("My annotations", "annotations"),
    ("SQuAD + my annotations", "squad+annotations"),
]
DEVICE_CHOICES = [("auto", "auto"), ("cpu", "cpu"), ("cuda", "cuda")]


@dataclass(frozen=True)
class FormField:
    """One input of the form: a TrainConfig field, shown with its default, typed by its type, helped by its help."""

    name: str
    label: str | None = None
    """Default: the field's name in words ("learning_rate" -> "Learning rate")."""
    also: tuple[str, ...] = ()
    """More TrainConfig fields that take the same value."""


FORM_BEFORE_DATA = (FormField("base_model"),)
FORM_AFTER_DATA = (
    FormField("epochs"),
    FormField("learning_rate"),
    FormField("batch_size"),
    FormField("max_train_samples", "Sample limit (empty = all)", also=("max_eval_samples",)),
)


def _config_fields() -> dict[str, tuple[dataclasses.Field[Any], Any]]:
    """Each TrainConfig field with its resolved type."""
    from assistant.runs.config import TrainConfig

    hints = typing.get_type_hints(TrainConfig)
    return {f.name: (f, hints.get(f.name, str)) for f in dataclasses.fields(TrainConfig)}


def _scalar(hint: Any) -> tuple[type, bool]:
    """The value type of a field's type and whether it may be None (``int | None`` -> ``(int, True)``)."""
    if isinstance(hint, types.UnionType) or typing.get_origin(hint) is typing.Union:
        args = [a for a in typing.get_args(hint) if a is not type(None)]
        return (args[0] if len(args) == 1 and isinstance(args[0], type) else str), type(None) in typing.get_args(hint)
    return (hint if isinstance(hint, type) else str), False


def _default(field: dataclasses.Field[Any]) -> Any:
    if field.default is not dataclasses.MISSING:
        return field.default
    if field.default_factory is not dataclasses.MISSING:
        return field.default_factory()
    return None


def _shown(value: Any) -> str:
    """A default as the form shows it: 2.0 -> "2", 5e-05 -> "5e-5", None -> ""."""
    if value is None:
        return ""
    if isinstance(value, float):
        return re.sub(r"e([+-])0*(\d)", lambda m: f"e{'-' if m[1] == '-' else ''}{m[2]}", f"{value:g}")
    return str(value)


def _label(spec: FormField) -> str:
    return spec.label or spec.name.replace("_", " ").capitalize()


def _help(field: dataclasses.Field[Any]) -> str | None:
    """The field's ``metadata["help"]``, when the config has one."""
    help_text = field.metadata.get("help") if field.metadata else None
    return help_text if isinstance(help_text, str) and help_text else None


class ConfirmScreen(ModalScreen[bool]):
    BINDINGS = [Binding("escape", "dismiss(False)", "No", id="confirm-no")]
    DEFAULT_CSS = """
    ConfirmScreen { align: center middle; }
    ConfirmScreen > Vertical { width: 64; height: auto; border: thick $accent; padding: 1 2; background: $surface; }
    ConfirmScreen Horizontal { height: auto; margin-top: 1; }
    """

    def __init__(self, question: str) -> None:
        super().__init__()
        self.question = question

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Label(self.question)
            with Horizontal():
                yield Button("Yes", variant="primary", id="yes")
                yield Button("No", id="no")

    @on(Button.Pressed)
    def _answer(self, event: Button.Pressed) -> None:
        self.dismiss(event.button.id == "yes")


class TrainScreen(Screen[None]):
    CSS_PATH = "train.tcss"
    BINDINGS = [Binding("escape", "app.pop_screen", "Back", id="train-back"), *bindings("train")]
    SCOPE: Scope = "train"

    running: reactive[bool] = reactive(False)
    """A run is being started, trained or stopped: Start is off and Cancel on."""

    def __init__(self, command: Sequence[str] | None = None, overrides: Mapping[str, Any] | None = None) -> None:
        """``command`` replaces ``python -m trainer``; ``overrides`` are TrainConfig fields set over the form."""
        super().__init__()
        self.command = list(command) if command else None
        self.overrides = dict(overrides or {})
        self.process: TrainingProcess | None = None
        self.started_at = 0.0

    def compose(self) -> ComposeResult:
        config = _config_fields()
        yield Header()
        with Horizontal(id="train-body"):
            with VerticalScroll(id="form"):
                for spec in FORM_BEFORE_DATA:
                    yield from self._field_widgets(spec, *config[spec.name])
                yield Label("Data")
                yield Select(DATA_CHOICES, value="squad", allow_blank=False, id="data-choice")
                yield Input(placeholder="path to SQuAD JSON / JSONL / CSV", id="data-path")
                for spec in FORM_AFTER_DATA:
                    yield from self._field_widgets(spec, *config[spec.name])
                yield Label(_label(FormField("device")))
                device = str(_default(config["device"][0]))
                yield Select(DEVICE_CHOICES, value=device, allow_blank=False, id="device")
                with Horizontal(id="buttons"):
                    yield Button("Start", variant="primary", id="start")
                    yield Button("Cancel", variant="error", id="cancel", disabled=True)
            with Vertical(id="progress-pane"):
                yield Static("No run yet.", id="run-status")
                yield ProgressBar(id="train-progress", show_eta=True)
                yield Static("", id="train-figures")
                yield Log(id="train-log", max_lines=500)
        yield Footer()

    @staticmethod
    def _field_widgets(spec: FormField, field: dataclasses.Field[Any], hint: Any) -> Iterator[Widget]:
        kind, _ = _scalar(hint)
        input_type: typing.Literal["integer", "number", "text"] = (
            "integer" if kind is int else "number" if kind is float else "text"
        )
        yield Label(_label(spec))
        widget = Input(_shown(_default(field)), id=spec.name, type=input_type)
        widget.tooltip = _help(field)
        yield widget

    def on_mount(self) -> None:
        self.query_one("#data-path").display = False
        self.query_one("#train-progress").display = False  # indeterminate until the first step arrives

    @on(Select.Changed, "#data-choice")
    def _data_changed(self, event: Select.Changed) -> None:
        self.query_one("#data-path").display = event.value == "file"

    def watch_running(self, running: bool) -> None:
        self.query_one("#start", Button).disabled = running
        self.query_one("#cancel", Button).disabled = not running

    # --- the form to a TrainConfig ----------------------------------------------------------------
    def _data(self) -> tuple[str, list[str]]:
        """``data`` and ``extra_data`` from the data choice; raises ValueError with a message for the user."""
        choice = self.query_one("#data-choice", Select).value
        notes = annotations_path()
        if choice == "file":
            path = self.query_one("#data-path", Input).value.strip()
            if not path or not Path(path).expanduser().exists():
                raise ValueError("Give the path of an existing data file.")
            return path, []
        if choice == "annotations":
            if not notes.exists():
                raise ValueError("No annotations yet: mark an answer right or save a span in the chat first.")
            return str(notes), []
        data = "rajpurkar/squad_v2" if choice == "squad_v2" else DEFAULT_DATASET
        return data, [str(notes)] if choice == "squad+annotations" and notes.exists() else []

    def _field_value(self, spec: FormField, field: dataclasses.Field[Any], hint: Any) -> Any:
        """One input's value as its field's type: empty is None where allowed, else the default."""
        text = self.query_one(f"#{spec.name}", Input).value.strip()
        kind, optional = _scalar(hint)
        if not text:
            return None if optional else _default(field)
        if kind not in (int, float):
            return text
        try:
            return kind(text)
        except ValueError:
            what = "a whole number" if kind is int else "a number"
            raise ValueError(f"{_label(spec)} must be {what} (got {text!r}).") from None

    def build_config(self, run_path: Path) -> TrainConfig:
        """The run's settings from the form; raises ValueError with a message for the user."""
        from assistant.runs.config import TrainConfig

        config = _config_fields()
        data, extra = self._data()
        values: dict[str, Any] = {"data": data, "extra_data": extra, "output": str(run_path)}
        for spec in (*FORM_BEFORE_DATA, *FORM_AFTER_DATA):
            value = self._field_value(spec, *config[spec.name])
            values |= {name: value for name in (spec.name, *spec.also)}
        values["device"] = str(self.query_one("#device", Select).value)
        try:
            train_config = dataclasses.replace(TrainConfig(**values), **self.overrides)
            train_config.validate()
        except (TypeError, UserError) as exc:
            raise ValueError(str(exc)) from None
        return train_config

    # --- a run ------------------------------------------------------------------------------------
    @on(Button.Pressed, "#start")
    def action_start(self) -> None:
        if self.running:
            self.notify("A run is already in progress.", severity="warning")
            return
        run_path = models_dir() / f"tui-{time.strftime('%Y%m%d-%H%M%S')}"
        try:
            config = self.build_config(run_path)
        except ValueError as exc:
            self.notify(str(exc), severity="error")
            return
        self.process = TrainingProcess(config, run_path, self.command)
        self.started_at = time.time()
        self.query_one("#train-log", Log).clear()
        bar = self.query_one("#train-progress", ProgressBar)
        bar.display = True
        bar.update(total=None, progress=0)
        self.query_one("#run-status", Static).update(f"Running [b]{run_path.name}[/b]…")
        self.running = True
        self._run(self.process)

    @work(thread=True, exclusive=True, exit_on_error=False, group=workers.TRAIN)
    def _run(self, process: TrainingProcess) -> None:
        process.run(self.post_message)

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        """Following the run raised (a bug, a full disk): the run ends as crashed, the app goes on."""
        error = workers.failure(event)
        if error is not None and event.worker.group == workers.TRAIN:
            run_path = self.process.run_path if self.process else None
            self._finished(TrainingFinished(run_path, TrainingOutcome.CRASHED, -1, error))

    @on(Button.Pressed, "#cancel")
    def action_cancel(self) -> None:
        if self.process and self.running:
            self.process.cancel()
            self.query_one("#run-status", Static).update("Cancelling…")

    @on(TrainingEvent)
    def _event(self, message: TrainingEvent) -> None:
        e = message.event
        if e.get("phase") == "train" and isinstance(e.get("step"), int):
            total = e.get("total") if isinstance(e.get("total"), int) else None
            self.query_one("#train-progress", ProgressBar).update(total=total or None, progress=e["step"])
            parts = [f"step {e['step']}/{total or '?'}"]
            if isinstance(e.get("loss"), (int, float)):
                parts.append(f"loss {e['loss']:.4f}")
            if isinstance(e.get("eta_s"), (int, float)):
                parts.append(f"ETA {int(e['eta_s']) // 60}:{int(e['eta_s']) % 60:02d}")
            self.query_one("#train-figures", Static).update("  ".join(parts))
        log = self.query_one("#train-log", Log)
        if isinstance(e.get("f1"), (int, float)) and isinstance(e.get("exact_match"), (int, float)):
            log.write_line(f"eval: EM {e['exact_match']:.2f}  F1 {e['f1']:.2f}")
        if e.get("message"):
            log.write_line(f"[{e.get('phase')}] {e['message']}")

    @on(TrainingFinished)
    def _finished(self, message: TrainingFinished) -> None:
        self.running = False
        status = self.query_one("#run-status", Static)
        name = message.run_path.name if message.run_path else "run"
        if message.outcome is TrainingOutcome.COMPLETED:
            status.update(f"[green]Completed[/] {name}")
            bar = self.query_one("#train-progress", ProgressBar)
            bar.update(progress=bar.total or 100)
            self.notify(f"Training finished: {name}", title="Training complete")
            self.app.push_screen(ConfirmScreen(f"Make {name} the active reader?"), self._activate(name))
        elif message.outcome is TrainingOutcome.CANCELLED:
            status.update(f"[yellow]Cancelled[/] {name}; the active reader is unchanged")
            self.notify("Training cancelled.", severity="warning")
        else:
            detail = message.message or f"exit code {message.returncode}"
            status.update(f"[red]{str(message.outcome).capitalize()}[/] {name}: {escape(detail)}")
            if message.outcome is TrainingOutcome.CRASHED and message.log_tail:
                log = self.query_one("#train-log", Log)
                log.write_line("--- the trainer's last output ---")
                log.write_lines(message.log_tail)
            self.notify(detail, title=f"Training {message.outcome}", severity="error", timeout=10)

    def _activate(self, name: str) -> typing.Callable[[bool | None], None]:
        def answered(yes: bool | None) -> None:
            if yes:
                self.post_message(ActivateRun(name))

        return answered

    def on_unmount(self) -> None:
        if self.process:
            self.process.cancel()
