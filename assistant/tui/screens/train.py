"""The Train screen: choose base model, data and settings, then watch a trainer subprocess run."""

from __future__ import annotations

import time
from pathlib import Path

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import ModalScreen, Screen
from textual.widgets import Button, Footer, Header, Input, Label, Log, ProgressBar, Select, Static

from assistant.core.defaults import DEFAULT_BASE, DEFAULT_DATASET
from assistant.paths import annotations_path, models_dir
from assistant.tui.messages import TrainingEvent, TrainingFinished, TrainingLog
from assistant.tui.training_process import TrainingProcess

DATA_CHOICES = [
    ("SQuAD v1.1 (hub)", "squad"),
    ("SQuAD v2.0 (hub)", "squad_v2"),
    ("A local file", "file"),
    ("My annotations", "annotations"),
    ("SQuAD + my annotations", "squad+annotations"),
]


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


class TrainScreen(Screen):
    CSS_PATH = "train.tcss"
    BINDINGS = [
        Binding("escape", "app.pop_screen", "Back", id="train-back"),
        Binding("ctrl+r", "start", "Start", id="train-start"),
        Binding("ctrl+b", "cancel", "Cancel run", id="train-cancel"),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.process: TrainingProcess | None = None
        self.started_at = 0.0

    def compose(self) -> ComposeResult:
        yield Header()
        with Horizontal(id="train-body"):
            with VerticalScroll(id="form"):
                yield Label("Base model")
                yield Input(DEFAULT_BASE, id="base")
                yield Label("Data")
                yield Select(DATA_CHOICES, value="squad", allow_blank=False, id="data-choice")
                yield Input(placeholder="path to SQuAD JSON / JSONL / CSV", id="data-path")
                yield Label("Epochs")
                yield Input("2", id="epochs", type="number")
                yield Label("Learning rate")
                yield Input("5e-5", id="lr")
                yield Label("Batch size")
                yield Input("32", id="batch", type="integer")
                yield Label("Sample limit (empty = all)")
                yield Input("", id="limit", type="integer")
                yield Label("Device")
                yield Select(
                    [("auto", "auto"), ("cpu", "cpu"), ("cuda", "cuda")], value="auto", allow_blank=False, id="device"
                )
                with Horizontal(id="buttons"):
                    yield Button("Start", variant="primary", id="start")
                    yield Button("Cancel", variant="error", id="cancel", disabled=True)
            with Vertical(id="progress-pane"):
                yield Static("No run yet.", id="run-status")
                yield ProgressBar(id="train-progress", show_eta=True)
                yield Static("", id="train-figures")
                yield Log(id="train-log", max_lines=500)
        yield Footer()

    def on_mount(self) -> None:
        self.query_one("#data-path").display = False
        self.query_one("#train-progress").display = False  # indeterminate until the first step arrives

    @on(Select.Changed, "#data-choice")
    def _data_changed(self, event: Select.Changed) -> None:
        self.query_one("#data-path").display = event.value == "file"

    def _value(self, widget_id: str) -> str:
        return self.query_one(f"#{widget_id}", Input).value.strip()

    def build_args(self) -> list[str]:
        """Trainer arguments from the form; raises ValueError with a message for the user."""
        choice = self.query_one("#data-choice", Select).value
        args = ["--base", self._value("base") or DEFAULT_BASE]
        notes = str(annotations_path())
        if choice == "file":
            path = self._value("data-path")
            if not path or not Path(path).expanduser().exists():
                raise ValueError("Give the path of an existing data file.")
            args += ["--data", path]
        elif choice == "annotations":
            if not Path(notes).exists():
                raise ValueError("No annotations yet: mark an answer right or save a span in the chat first.")
            args += ["--data", notes]
        else:
            args += ["--data", "rajpurkar/squad_v2" if choice == "squad_v2" else DEFAULT_DATASET]
            if choice == "squad+annotations" and Path(notes).exists():
                args += ["--extra-data", notes]
        try:
            epochs = float(self._value("epochs") or 2)
            lr = float(self._value("lr") or 5e-5)
            batch = int(self._value("batch") or 32)
            limit = self._value("limit")
        except ValueError:
            raise ValueError("Epochs, learning rate and batch size must be numbers.") from None
        if epochs <= 0 or lr <= 0 or batch <= 0:
            raise ValueError("Epochs, learning rate and batch size must be positive.")
        args += [
            "--epochs",
            str(epochs),
            "--learning-rate",
            str(lr),
            "--batch-size",
            str(batch),
            "--device",
            str(self.query_one("#device", Select).value),
        ]
        if limit:
            args += ["--max-train-samples", limit, "--max-eval-samples", limit]
        return args + list(getattr(self.app, "extra_train_args", []))

    @on(Button.Pressed, "#start")
    def action_start(self) -> None:
        if self.process and self.process.running:
            self.notify("A run is already in progress.", severity="warning")
            return
        try:
            args = self.build_args()
        except ValueError as exc:
            self.notify(str(exc), severity="error")
            return
        run_path = models_dir() / f"tui-{time.strftime('%Y%m%d-%H%M%S')}"
        self.process = TrainingProcess(args, run_path, getattr(self.app, "trainer_command", None))
        self.started_at = time.time()
        self.query_one("#train-log", Log).clear()
        bar = self.query_one("#train-progress", ProgressBar)
        bar.display = True
        bar.update(total=None, progress=0)
        self.query_one("#run-status", Static).update(f"Running [b]{run_path.name}[/b]…")
        self.query_one("#start", Button).disabled = True
        self.query_one("#cancel", Button).disabled = False
        self._run(self.process)

    @work(thread=True, exclusive=True, group="train")
    def _run(self, process: TrainingProcess) -> None:
        process.run(self.post_message)

    @on(Button.Pressed, "#cancel")
    def action_cancel(self) -> None:
        if self.process and self.process.running:
            self.process.cancel()
            self.query_one("#run-status", Static).update("Cancelling…")

    @on(TrainingEvent)
    def _event(self, message: TrainingEvent) -> None:
        e = message.event
        bar = self.query_one("#train-progress", ProgressBar)
        if e.get("phase") == "train" and "step" in e:
            bar.update(total=e.get("total") or None, progress=e["step"])
            parts = [f"step {e['step']}/{e.get('total', '?')}"]
            if "loss" in e:
                parts.append(f"loss {e['loss']:.4f}")
            if "eta_s" in e:
                parts.append(f"ETA {int(e['eta_s']) // 60}:{int(e['eta_s']) % 60:02d}")
            self.query_one("#train-figures", Static).update("  ".join(parts))
        if e.get("f1") is not None:
            self.query_one("#train-log", Log).write_line(f"eval: EM {e['exact_match']:.2f}  F1 {e['f1']:.2f}")
        if e.get("message"):
            self.query_one("#train-log", Log).write_line(f"[{e['phase']}] {e['message']}")

    @on(TrainingLog)
    def _log(self, message: TrainingLog) -> None:
        self.query_one("#train-log", Log).write_line(message.line)

    @on(TrainingFinished)
    def _finished(self, message: TrainingFinished) -> None:
        self.query_one("#start", Button).disabled = False
        self.query_one("#cancel", Button).disabled = True
        status = self.query_one("#run-status", Static)
        name = message.run_path.name if message.run_path else "run"
        if message.status == "completed":
            status.update(f"[green]Completed[/] {name}")
            self.query_one("#train-progress", ProgressBar).update(
                progress=self.query_one("#train-progress", ProgressBar).total or 100
            )
            self.notify(f"Training finished: {name}", title="Training complete")
            self.app.push_screen(
                ConfirmScreen(f"Make {name} the active reader?"),
                lambda yes: self.app.activate_run(name) if yes else None,
            )
        elif message.status == "cancelled":
            status.update(f"[yellow]Cancelled[/] {name}; the active reader is unchanged")
            self.notify("Training cancelled.", severity="warning")
        else:
            detail = message.message or f"exit code {message.returncode}"
            status.update(f"[red]{message.status.capitalize()}[/] {name}: {detail}")
            self.notify(detail, title=f"Training {message.status}", severity="error", timeout=10)

    def on_unmount(self) -> None:
        if self.process:
            self.process.cancel()
