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
from textual.screen import Screen
from textual.widget import Widget
from textual.widgets import Button, Footer, Header, Input, Label, Log, ProgressBar, Select, Static
from textual.worker import Worker

from assistant.core.defaults import DEFAULT_DATASET
from assistant.core.errors import UserError
from assistant.paths import annotations_path, models_dir
from assistant.tui import workers
from assistant.tui.actions import Scope, bindings
from assistant.tui.messages import ActivateRun, TrainingEvent, TrainingFinished, TrainingOutcome
from assistant.tui.screens.dialogs import ConfirmScreen
from assistant.tui.training_process import TrainingProcess

if TYPE_CHECKING:  # the config imports torch: it is imported when the screen is first shown
    from assistant.runs.config import TrainConfig
    from assistant.runs.registry import RunInfo

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


def _scores(info: RunInfo) -> str:
    if info.f1 is None:
        return "not evaluated"
    em = "—" if info.exact_match is None else f"{info.exact_match:.1f}"
    return f"EM {em} / F1 {info.f1:.1f}"


def activation_question(run_path: Path) -> tuple[str, bool]:
    """The question that offers a completed run as the active reader, beside the active run's figures, and the
    answer to default to: No when the new run is worse (a lower F1, or none) than the active run."""
    from assistant.runs.registry import active_run_path, load_run

    new = load_run(run_path)
    lines = [f"Make {new.name} the active reader?", "", f"  new     {new.name}: {_scores(new)}"]
    active_path = active_run_path(run_path.parent)
    active = load_run(active_path) if active_path is not None and active_path != run_path else None
    if active is None:
        lines.append("  active  none (no trained run is active)")
        return "\n".join(lines), True
    lines.append(f"  active  {active.name}: {_scores(active)}")
    worse = active.f1 is not None and (new.f1 is None or new.f1 < active.f1)
    if worse:
        lines += ["", "The new run scores lower than the active one."]
    return "\n".join(lines), not worse


def new_run_path() -> Path:
    """A fresh run folder name (two runs started in the same second get -2, -3, ...)."""
    base = models_dir() / f"tui-{time.strftime('%Y%m%d-%H%M%S')}"
    path, n = base, 1
    while path.exists() or (path.parent / f".{path.name}.config.json").exists():
        n += 1
        path = base.with_name(f"{base.name}-{n}")
    return path


QUIET_PHASES = ("cancelled", "failed")
"""Events whose message is the run's outcome: the status line says it, the log does not repeat it."""


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
        self._last_eval: tuple[Any, Any, Any] | None = None
        """(epoch, EM, F1) of the last evaluation logged: the final evaluation and "done" repeat them."""
        self.offer: Path | None = None
        """A completed run to offer as the active reader when this screen is next shown."""

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
        run_path = new_run_path()
        try:
            config = self.build_config(run_path)
        except ValueError as exc:
            self.notify(str(exc), severity="error")
            return
        self.process = TrainingProcess(config, run_path, self.command)
        self.started_at = time.time()
        self.query_one("#train-log", Log).clear()
        self.query_one("#train-figures", Static).update("")  # nothing of the previous run's
        self._last_eval = None
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
            self._show_step(e)
        log = self.query_one("#train-log", Log)
        em, f1, epoch = e.get("exact_match"), e.get("f1"), e.get("epoch")
        if isinstance(f1, (int, float)) and isinstance(em, (int, float)):
            last = self._last_eval
            repeated = last is not None and last[1:] == (em, f1) and epoch in (None, last[0])
            if not repeated:  # an epoch's evaluation, then the final one and "done" with the same figures
                when = f"  (epoch {epoch:g})" if isinstance(epoch, (int, float)) else ""
                log.write_line(f"eval: EM {em:.2f}  F1 {f1:.2f}{when}")
                self._last_eval = (epoch, em, f1)
        if e.get("message") and e.get("phase") not in QUIET_PHASES:
            log.write_line(f"[{e.get('phase')}] {e['message']}")

    def _show_step(self, e: dict[str, Any]) -> None:
        total = e.get("total") if isinstance(e.get("total"), int) else None
        self.query_one("#train-progress", ProgressBar).update(total=total or None, progress=e["step"])
        parts = [f"step {e['step']}/{total or '?'}"]
        if isinstance(e.get("loss"), (int, float)):
            parts.append(f"loss {e['loss']:.4f}")
        if isinstance(e.get("eta_s"), (int, float)):
            parts.append(f"ETA {int(e['eta_s']) // 60}:{int(e['eta_s']) % 60:02d}")
        self.query_one("#train-figures", Static).update("  ".join(parts))

    @on(TrainingFinished)
    def _finished(self, message: TrainingFinished) -> None:
        self.running = False
        status = self.query_one("#run-status", Static)
        name = message.run_path.name if message.run_path else "run"
        bar = self.query_one("#train-progress", ProgressBar)
        if message.outcome is TrainingOutcome.COMPLETED:
            status.update(f"[green]Completed[/] {name}")
            bar.update(total=bar.total or 100, progress=bar.total or 100)
            if message.run_path is not None:
                self._completed(message.run_path)
            return
        if bar.total is None:  # no step was measured: an indeterminate bar would go on animating
            bar.display = False
        if message.outcome is TrainingOutcome.CANCELLED:
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

    def _completed(self, run_path: Path) -> None:
        """Offer the new run as the active reader, on this screen only: an Enter meant elsewhere must not answer."""
        self.offer = run_path
        if self.app.screen is self:
            self.notify(f"Training finished: {run_path.name}", title="Training complete")
            self._offer_activation()
            return
        self.notify(
            f"Training finished: {run_path.name}. Open the Train screen (ctrl+t) to make it the active reader, "
            "or pick it in the metrics panel (f2, then a).",
            title="Training complete",
            timeout=15,
        )

    def on_screen_resume(self) -> None:
        if self.offer is not None and self.app.screen is self:
            self._offer_activation()

    def _offer_activation(self) -> None:
        run_path, self.offer = self.offer, None
        if run_path is None:
            return
        question, default = activation_question(run_path)
        self.app.push_screen(ConfirmScreen(question, default), self._activate(run_path.name))

    def _activate(self, name: str) -> typing.Callable[[bool | None], None]:
        def answered(yes: bool | None) -> None:
            if yes:
                self.post_message(ActivateRun(name))

        return answered

    def on_unmount(self) -> None:
        if self.process:
            self.process.cancel()
