"""The Train screen: the form (base model, data, settings), a check of the data, then a trainer subprocess.

The form is built from ``TrainConfig``'s fields (assistant.tui.widgets.train_form) and remembered between
sessions. Start checks the base model and the data in a worker, as the trainer will read them, so a wrong
file fails in a second rather than after the model has loaded; a run then starts from a ``TrainConfig``
written to a file. Its progress is shown here and, in one line, on the chat screen.
"""

from __future__ import annotations

import dataclasses
import math
import time
import typing
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.reactive import reactive
from textual.screen import Screen
from textual.widgets import Button, Footer, Header, Input, Log, ProgressBar, Static
from textual.worker import Worker, get_current_worker

from assistant.core import files
from assistant.core.sanitize import one_line
from assistant.paths import annotations_path, models_dir
from assistant.rendering import assemble
from assistant.runs.events import Phase, RunEvent
from assistant.runs.registry import active_run_path, load_run
from assistant.tui import workers
from assistant.tui.actions import Scope, bindings
from assistant.tui.messages import (
    ActivateRun,
    OfflineBase,
    TrainingActivity,
    TrainingChecked,
    TrainingEvent,
    TrainingFinished,
    TrainingOutcome,
)
from assistant.tui.screens.dialogs import ConfirmScreen
from assistant.tui.train_memory import load_form_values, save_form_values
from assistant.tui.training_process import TrainingProcess
from assistant.tui.widgets.train_form import FORM_AFTER_DATA as FORM_AFTER_DATA
from assistant.tui.widgets.train_form import FORM_BEFORE_DATA as FORM_BEFORE_DATA
from assistant.tui.widgets.train_form import TrainForm, check_note

if TYPE_CHECKING:  # the config imports torch: it is imported when the screen is first shown
    from assistant.runs.config import TrainConfig
    from assistant.runs.registry import RunInfo

CHECK = "train-check"
"""The worker group of data checks: its own, so that a check never cancels the run's worker."""
OFFLINE = "train-offline"
PHASE_ACTIVITY = {
    Phase.LOAD: "loading the model",
    Phase.PREPARE: "preparing the data",
    Phase.EVAL: "evaluating",
    Phase.SAVE: "saving the model",
}
"""The chat screen's line for the phases that have no step count."""


def _scores(info: RunInfo) -> str:
    if info.f1 is None:
        return "not evaluated"
    em = "—" if info.exact_match is None else f"{info.exact_match:.1f}"
    return f"EM {em} / F1 {info.f1:.1f}"


def activation_question(run_path: Path, answering: str = "") -> tuple[str, bool]:
    """The question that offers a completed run as the active reader, beside the active run's figures (and the
    reader answering now, ``answering``, when that is not the active run), and the answer to default to: No when the
    new run is worse (a lower F1, or none) than the active run."""
    new = load_run(run_path)
    lines = [f"Make {new.name} the active reader?", "", f"  new     {new.name}: {_scores(new)}"]
    if answering:
        lines.append(f"  now     {answering} (answering now; not a trained run made active)")
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


def activity_summary(event: RunEvent, epochs: float) -> str | None:
    """The chat screen's one line for a progress event ("epoch 1/2 · 40%"), or None to keep the last."""
    step, total = event.step, event.total
    if event.is_step and step is not None and total is not None and total > 0:
        done = event.epoch if event.epoch is not None else step / total * epochs
        last = max(1, math.ceil(epochs))
        return f"epoch {min(int(done) + 1, last)}/{last} · {min(100, 100 * step // total)}%"
    return PHASE_ACTIVITY.get(event.phase)


def _is_data_file(path: Path) -> bool:
    from assistant.tui.train_check import DATA_SUFFIXES

    return path.suffix.lower() in DATA_SUFFIXES


def resume_hint(run_path: Path | None) -> str:
    """How the run can go on: from its last checkpoint, or (none saved yet) from the start."""
    from assistant.runs.directory import resumable_checkpoint

    checkpoint = resumable_checkpoint(run_path / "checkpoints")[0] if run_path is not None else None
    if checkpoint is None:
        return "It has no checkpoint yet, so resuming it (f2, select it, R) starts it over with its settings."
    return f"It can be resumed from {checkpoint.name}: f2, select it, R."


QUIET_PHASES = (Phase.CANCELLED, Phase.FAILED)
"""Events whose message is the run's outcome: the status line says it, the log does not repeat it."""


class TrainScreen(Screen[None]):
    CSS_PATH = "train.tcss"
    BINDINGS = [Binding("escape", "app.pop_screen", "Back", id="train-back"), *bindings("train")]
    SCOPE: Scope = "train"

    running: reactive[bool] = reactive(False)
    """A run is being started (its data checked), trained or stopped: Start is off and Cancel on."""

    def __init__(self, command: Sequence[str] | None = None, overrides: Mapping[str, Any] | None = None) -> None:
        """``command`` replaces ``python -m trainer``; ``overrides`` are TrainConfig fields set over the form."""
        super().__init__()
        self.command = list(command) if command else None
        self.overrides = dict(overrides or {})
        self.process: TrainingProcess | None = None
        self.started_at = 0.0
        self._last_eval: tuple[float | None, float, float] | None = None
        """(epoch, EM, F1) of the last evaluation logged: the final evaluation and "done" repeat them."""
        self.offer: Path | None = None
        """A completed run to offer as the active reader when this screen is next shown."""
        self._prefill_pending = False
        """prefill_offline was called before the screen was first shown: it runs once the form exists."""
        self._activity = ""
        """The last line posted to the chat screen, so that the same line is not posted again."""
        self.checking = False
        """Start was pressed and the base model and data are being checked; the run starts once they pass."""

    def compose(self) -> ComposeResult:
        yield Header()
        with Horizontal(id="train-body"):
            yield TrainForm(active_run_path(), id="form")
            with Vertical(id="progress-pane"):
                yield Static(self._no_run_yet(), id="run-status")
                yield ProgressBar(id="train-progress", show_eta=True)
                yield Static("", id="train-figures")
                yield Log(id="train-log", max_lines=500)
        yield Footer()

    @staticmethod
    def _no_run_yet() -> str:
        """ "No run yet" only when there is none: earlier runs are in the metrics panel."""
        from assistant.runs.registry import list_runs

        if list_runs():
            return "No run started here yet; f2 lists your earlier runs."
        return "No run yet."

    @property
    def training(self) -> bool:
        """A trainer process is running now."""
        return self.process is not None and self.process.running

    @property
    def form(self) -> TrainForm:
        return self.query_one("#form", TrainForm)

    def on_mount(self) -> None:
        self.query_one("#base-choice").focus()  # the form's first field: enter and arrows work at once
        self.query_one("#train-progress").display = False  # indeterminate until the first step arrives
        self.form.restore(load_form_values())
        if self._prefill_pending:
            self._prefill()

    def watch_running(self, running: bool) -> None:
        self.query_one("#start", Button).disabled = running
        self.query_one("#cancel", Button).disabled = not running

    # --- offline: what can train without the hub ---------------------------------------------------
    def prefill_offline(self) -> None:
        """Fill the fields that can work offline: a local base model (looked for in a worker) and the user's
        annotations as data, else the data file field with a hint to pick one."""
        if not self.is_mounted:
            self._prefill_pending = True
            return
        self._prefill()

    def _prefill(self) -> None:
        self._prefill_pending = False
        form = self.form
        if annotations_path().exists():
            form.choose_data("annotations")
            form.show_note("#data-status", "Offline: training on your annotations.", about=("data",))
        else:
            form.choose_data("file")
            form.show_note(
                "#data-status",
                "Offline, the hub datasets cannot be downloaded: pick a local SQuAD JSON or CSV file (Browse…).",
                about=("data",),
            )
        form.show_note("#base-note", "Looking for a base model that works offline…", about=())
        self._find_offline_base()

    @work(thread=True, exclusive=True, exit_on_error=False, group=OFFLINE)
    def _find_offline_base(self) -> None:
        from assistant.tui.train_check import offline_base

        base, note = offline_base()
        self.post_message(OfflineBase(base, note))

    @on(OfflineBase)
    def _offline_base(self, message: OfflineBase) -> None:
        if message.base is None:
            self.form.show_note("#base-note", assemble((message.note, "yellow")), about=("base",))
            return
        self.form.set_base(message.base)
        self.form.show_note("#base-note", f"Offline: starting from {message.note}.", about=("base",))

    # --- the data: picked, then checked ------------------------------------------------------------
    @on(Button.Pressed, "#browse-base")
    def _browse_base(self) -> None:
        """A local model folder as the base: the folder dialog, opened beside the base typed (if it is a folder)."""
        from assistant.tui.screens.dialogs import checkpoint_dialog

        typed = self.query_one("#base_model", Input).value.strip()
        self.app.push_screen(checkpoint_dialog(typed), self._base_picked)

    def _base_picked(self, folder: Path | None) -> None:
        if folder is not None:
            self.form.set_base(str(folder))

    @on(Button.Pressed, "#browse")
    def action_browse_data(self) -> None:
        from assistant.tui.file_dialogs import FileOpen, Filters

        filters = Filters(("SQuAD data (.json .jsonl .csv)", _is_data_file), ("Any file", lambda _: True))
        self.app.push_screen(FileOpen(Path.cwd(), "Training data", filters=filters), self._data_picked)

    def _data_picked(self, path: Path | None) -> None:
        if path is not None:
            self.form.set_data_file(path)
            self.action_check_data()

    @on(Input.Submitted, "#data-path")
    def action_check_data(self) -> None:
        """Check the base model and the data now, without starting; the outcome is shown on the form."""
        if self.running:
            return
        try:
            config = self.form.build_config(self.overrides)
        except ValueError as exc:
            self.form.show_note("#data-status", assemble(("✗", "b red"), f" {exc}"))
            return
        self.form.show_note("#data-status", "Checking the base model and the data…")
        self._check(config, False)

    @work(thread=True, exclusive=True, exit_on_error=False, group=CHECK)
    def _check(self, config: TrainConfig, start: bool) -> None:
        from assistant.tui.train_check import check_training

        check = check_training(config)
        if not get_current_worker().is_cancelled:  # a newer check replaced this one
            self.post_message(TrainingChecked(config, check, start))

    @on(TrainingChecked)
    def _checked(self, message: TrainingChecked) -> None:
        check = message.check
        if message.start and not self.checking:  # Cancel came while it was checked: nothing to show or start
            return
        if check.about == "base":  # said under the base model, the field to fix
            self.form.show_note("#base-note", check_note(check), about=("base",))
            self.form.show_note("#data-status", "")
        else:
            self.form.show_note("#data-status", check_note(check))
        if not message.start:
            return
        self.checking = False
        if check.problem:
            self.running = False
            self.query_one("#run-status", Static).update("No run started: the check failed.")
            self.notify(check.problem, title="Cannot start training", severity="error", timeout=10)
            return
        if check.warning:
            self.notify(check.warning, title="Few questions to evaluate", severity="warning", timeout=10)
        self._launch(message.config)

    # --- a run ------------------------------------------------------------------------------------
    @on(Button.Pressed, "#start")
    def action_start(self) -> None:
        if self.running:
            self.notify("A run is already starting or in progress.", severity="warning")
            return
        try:
            config = self.form.build_config(self.overrides)
        except ValueError as exc:
            self.notify(str(exc), severity="error")
            return
        self._remember()
        self.checking = self.running = True
        self.query_one("#train-progress").display = False  # the last run's bar and figures are not this one's
        self.query_one("#train-figures", Static).update("")
        self.query_one("#run-status", Static).update("Checking the base model and the data…")
        self.form.show_note("#data-status", "Checking the base model and the data…")
        self._check(config, True)

    def _remember(self) -> None:
        try:
            save_form_values(self.form.values())
        except files.WRITE_ERRORS as exc:
            self.notify(f"The form could not be saved for next time ({files.write_problem(exc)}).", severity="warning")

    def resume(self, run_path: Path) -> None:
        """Continue a cancelled, interrupted or failed run from its last checkpoint, with the settings it was started
        with; one that cannot be resumed is said in one sentence."""
        from assistant.core.errors import UserError
        from assistant.runs.config import resumed_config
        from assistant.runs.opening import check_resume

        if not self.is_mounted:  # asked from the metrics panel before this screen was ever shown
            self.call_after_refresh(self.resume, run_path)
            return
        if self.running:
            self.notify("A run is already starting or in progress.", severity="warning")
            return
        try:
            config = resumed_config(run_path)
            check_resume(run_path, dataclasses.asdict(config))
        except UserError as exc:
            self.notify(str(exc), title="Cannot resume", severity="error", timeout=10)
            return
        self._launch(config, run_path)

    def _launch(self, config: TrainConfig, run_path: Path | None = None) -> None:
        """Start the trainer: a new run folder, or ``run_path`` to resume."""
        run_path = run_path or new_run_path()
        self.process = TrainingProcess(dataclasses.replace(config, output=str(run_path)), run_path, self.command)
        self.started_at = time.time()
        self.query_one("#train-log", Log).clear()
        self.query_one("#train-figures", Static).update("")  # nothing of the previous run's
        self._last_eval = None
        bar = self.query_one("#train-progress", ProgressBar)
        bar.display = True
        bar.update(total=None, progress=0)
        self._show_clock(True)
        verb = "Resuming " if config.resume else "Running "
        self.query_one("#run-status", Static).update(assemble(verb, (run_path.name, "b"), "…"))
        self.running = True
        self._post_activity(True, "starting")
        self._run(self.process)

    @work(thread=True, exclusive=True, exit_on_error=False, group=workers.TRAIN)
    def _run(self, process: TrainingProcess) -> None:
        process.run(self.post_message)

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        """A worker raised (a bug, a full disk): a check ends with its error shown, a run ends as crashed."""
        error = workers.failure(event)
        if error is None:
            return
        if event.worker.group == workers.TRAIN:
            run_path = self.process.run_path if self.process else None
            self._finished(TrainingFinished(run_path, TrainingOutcome.CRASHED, -1, error))
        elif event.worker.group in (CHECK, OFFLINE):
            if self.checking:
                self.checking = self.running = False
                self.query_one("#run-status", Static).update("No run started.")
            self.form.show_note("#data-status", assemble(("✗", "b red"), f" The check failed: {error}"))
            self.notify(error, title="The check failed", severity="error", timeout=10)

    @on(Button.Pressed, "#cancel")
    def action_cancel(self) -> None:
        if self.checking:  # the run has not started: the check's outcome is dropped
            self.checking = self.running = False
            self.workers.cancel_group(self, CHECK)
            self.query_one("#run-status", Static).update("Cancelled before it started.")
            self.form.show_note("#data-status", "")
        elif self.process and self.running:
            self.process.cancel()
            self._show_clock(False)
            self.query_one("#run-status", Static).update("Cancelling…")

    def _show_clock(self, shown: bool) -> None:
        """The ETA counts only while a run goes: once it is being stopped, or has ended, it would count on."""
        for eta in self.query("#train-progress #eta"):
            eta.display = shown
        if not shown:
            figures = self.query_one("#train-figures", Static)
            figures.update("  ".join(part for part in str(figures.content).split("  ") if not part.startswith("ETA")))

    def _post_activity(self, running: bool, summary: str = "") -> None:
        """Tell the chat screen (its training indicator) that a run is going, and how far, or has ended."""
        if running and summary == self._activity:
            return
        self._activity = summary if running else ""
        if self.app.is_screen_installed("chat"):
            self.app.get_screen("chat").post_message(TrainingActivity(running, summary))

    @on(TrainingEvent)
    def _event(self, message: TrainingEvent) -> None:
        e = message.event
        if e.is_step:
            self._show_step(e)
        if self.process is not None and (summary := activity_summary(e, self.process.config.epochs)):
            self._post_activity(True, summary)
        log = self.query_one("#train-log", Log)
        if e.scores is not None:
            em, f1 = e.scores
            last = self._last_eval
            repeated = last is not None and last[1:] == (em, f1) and e.epoch in (None, last[0])
            if not repeated:  # an epoch's evaluation, then the final one and "done" with the same figures
                when = f"  (epoch {e.epoch:g})" if e.epoch is not None else ""
                log.write_line(f"eval: EM {em:.2f}  F1 {f1:.2f}{when}")
                self._last_eval = (e.epoch, em, f1)
        if e.message and e.phase not in QUIET_PHASES:
            log.write_line(one_line(f"[{e.phase}] {e.message}"))

    def _show_step(self, e: RunEvent) -> None:
        self.query_one("#train-progress", ProgressBar).update(total=e.total or None, progress=e.step or 0)
        parts = [f"step {e.step}/{e.total or '?'}"]
        if e.loss is not None:
            parts.append(f"loss {e.loss:.4f}")
        if e.eta_s is not None:
            parts.append(f"ETA {int(e.eta_s) // 60}:{int(e.eta_s) % 60:02d}")
        self.query_one("#train-figures", Static).update("  ".join(parts))

    @on(TrainingFinished)
    def _finished(self, message: TrainingFinished) -> None:
        self.running = False
        self._post_activity(False)
        status = self.query_one("#run-status", Static)
        name = message.run_path.name if message.run_path else "run"
        bar = self.query_one("#train-progress", ProgressBar)
        self._show_clock(False)
        if message.outcome is TrainingOutcome.COMPLETED:
            status.update(assemble(("Completed", "green"), f" {name}"))
            bar.update(total=bar.total or 100, progress=bar.total or 100)
            if message.run_path is not None:
                self._completed(message.run_path)
            return
        if bar.total is None:  # no step was measured: an indeterminate bar would go on animating
            bar.display = False
        if message.outcome is TrainingOutcome.CANCELLED:
            hint = resume_hint(message.run_path)
            status.update(assemble(("Cancelled", "yellow"), f" {name}; the active reader is unchanged. {hint}"))
            self.notify(f"Training cancelled. {hint}", severity="warning")
        else:
            detail = message.message or f"exit code {message.returncode}"
            status.update(assemble((str(message.outcome).capitalize(), "red"), f" {name}: {detail}"))
            if message.outcome is TrainingOutcome.CRASHED and message.log_tail:
                log = self.query_one("#train-log", Log)
                log.write_line("--- the trainer's last output ---")
                log.write_lines(one_line(line) for line in message.log_tail)
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
        self.form.refresh_base_choices(active_run_path())  # another run may have been activated meanwhile
        if self.offer is not None and self.app.screen is self:
            self._offer_activation()

    def _offer_activation(self) -> None:
        run_path, self.offer = self.offer, None
        if run_path is None:
            return
        state = getattr(self.app, "reader_state", None)
        source = getattr(state, "source", "")
        answering = getattr(state, "name", "") if source and source != "active run" else ""
        question, default = activation_question(run_path, answering)
        self.app.push_screen(ConfirmScreen(question, default), self._activate(run_path.name))

    def _activate(self, name: str) -> typing.Callable[[bool | None], None]:
        def answered(yes: bool | None) -> None:
            if yes:
                self.post_message(ActivateRun(name))

        return answered

    def on_unmount(self) -> None:
        if self.process:
            self.process.cancel()
