"""The metrics panel: every run with its EM/F1 beside published references, and the selected run's curves.

A run that is training updates as it goes: its row and curves follow the lines appended to its events.jsonl.
Runs can be deleted (after asking; never the active or a running one) and two compared side by side. When the
terminal is too narrow for every column before EM/F1, EM/F1 and the status move next to the run's name.
"""

from __future__ import annotations

from collections.abc import Callable

from rich.table import Table
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.coordinate import Coordinate
from textual.events import Resize
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Header, Static
from textual.worker import Worker

from assistant.core.errors import UserError
from assistant.rendering import clip, safe_text
from assistant.runs.events import ENDED, EVENTS_FILE, EventTail, RunEvent
from assistant.runs.registry import RunInfo, RunStatus, delete_run, list_runs, load_run
from assistant.tui import workers
from assistant.tui.actions import Scope, bindings
from assistant.tui.messages import ActivateRun, ResumeRun, RunDeleted
from assistant.tui.screens.dialogs import ConfirmScreen
from assistant.tui.state import ReaderState
from assistant.tui.widgets.loss_plot import CurvePlot, RunHistory, Series, loss_series
from assistant.tui.widgets.run_compare import RunCompareScreen

REFERENCES = [
    ("DistilBERT (published)", "distilbert-base-uncased", "SQuAD v1.1", 77.7, 85.8),
    ("DistilBERT distilled (published)", "distilbert-base-uncased", "SQuAD v1.1", 79.1, 86.9),
    ("BERT-base (published)", "bert-base-uncased", "SQuAD v1.1", 81.2, 88.5),
]

NAME_WIDTH = 32
MODEL_WIDTH = 28
"""The widest run name, base model and data shown: at 160 columns the status column keeps its room."""
COMPACT_NAME_WIDTH = 24
"""The widest run name when the terminal is narrow (80 columns): EM/F1 and the status follow it."""
COLUMNS = {
    "mark": "",
    "run": "run",
    "base": "base model",
    "data": "data",
    "em": "EM",
    "f1": "F1",
    "speed": "windows/s",
    "duration": "duration",
    "date": "date",
    "status": "status",
}
FULL = tuple(COLUMNS)
COMPACT = ("mark", "run", "em", "f1", "status", "date", "duration", "speed", "base", "data")
TABLE_CHROME = 4
"""Columns the table's border and scroll bar take."""
NARROW = 100
"""Below this width the panel drops its per-epoch plot, so that the loss curve keeps its room."""
POLL_S = 1.0
"""How often a training run's events.jsonl is read for new lines."""
DELETE = "metrics-delete"
NO_CURVES_RECORDED = "no {what} recorded"
NO_CURVES_OF_A_REFERENCE = "a published figure: no curves"


def _fmt(value: float | None, digits: int = 1) -> str:
    return "—" if value is None else f"{value:.{digits}f}"


def run_cells(run: RunInfo, name_width: int) -> dict[str, str]:
    """A run's row, by column key."""
    record, results = run.record, run.results
    source = record.train_data.source if record.train_data else None
    wall = results.wall_time_s
    return {
        "mark": "●" if run.active else "",
        "run": clip(run.name, name_width),
        "base": clip(record.base_model or "—", MODEL_WIDTH),
        "data": clip(source or "—", MODEL_WIDTH),
        "em": _fmt(run.exact_match),
        "f1": _fmt(run.f1),
        "speed": _fmt(results.train_windows_per_second),
        "duration": f"{wall / 60:.1f} min" if wall else "—",
        "date": (record.started_at or "—")[:16].replace("T", " "),
        "status": str(run.status),
    }


def reference_cells(reference: tuple[str, str, str, float, float], name_width: int) -> dict[str, str]:
    name, base, data, em, f1 = reference
    dashes = dict.fromkeys(("speed", "duration", "date"), "—")
    cells = {"mark": "", "run": clip(name, name_width), "base": base, "data": data, "em": _fmt(em), "f1": _fmt(f1)}
    return cells | dashes | {"status": "reference"}


def full_layout_fits(rows: list[dict[str, str]], width: int) -> bool:
    """Whether every column, status (the last) included, fits in ``width`` in the usual order; else the compact
    order shows EM, F1 and the status first."""
    needed = sum(max(len(COLUMNS[key]), *(len(row[key]) for row in rows)) + 2 for key in FULL)
    return needed + TABLE_CHROME <= width


DETAILS: tuple[tuple[str, str], ...] = (
    ("base_model", "base model"),
    ("data", "data"),
    ("epochs", "epochs"),
    ("learning_rate", "learning rate"),
    ("batch_size", "batch size"),
    ("max_train_samples", "at most"),
    ("freeze_layers", "frozen layers"),
    ("teacher", "teacher"),
    ("precision", "precision"),
)
"""The settings the details show, with their names for people."""


def _details_table(title: str) -> Table:
    """Two columns, a name (dim) and its value (folded where long), under ``title``."""
    table = Table(title=safe_text(title, "b", single_line=True), show_header=False, box=None, padding=(0, 1, 0, 0))
    table.add_column(style="dim", no_wrap=True)
    table.add_column(overflow="fold")
    return table


def run_details(run: RunInfo) -> Table:
    """A run's status and settings as a two-column table, every value as text (paths and errors as they are)."""
    table = _details_table(run.name)
    rows: list[tuple[str, object]] = [("status", run.status)]
    rows += [(label, run.record.settings.get(key)) for key, label in DETAILS]
    rows += [("device", run.record.device), ("error", run.record.error)]
    for label, value in rows:
        if value is not None:
            shown = f"{value:g}" if isinstance(value, float) else str(value)
            table.add_row(label, safe_text(shown, single_line=True))
    return table


def _reference_key(reference: tuple[str, str, str, float, float]) -> str:
    """A published reference's row key in the runs table (a run's is its name)."""
    return f"ref:{reference[0]}"


def reference_details(reference: tuple[str, str, str, float, float]) -> Table:
    """A published reference's row, in the shape of a run's details: what it is and what it was trained from."""
    name, base, data, em, f1 = reference
    table = _details_table(name)
    rows = [("status", "published reference"), ("base model", base), ("data", data)]
    for label, value in [*rows, ("EM", _fmt(em)), ("F1", _fmt(f1))]:
        table.add_row(label, value)
    return table


class LiveRun:
    """A run that is training: its events so far, read a few new lines at a time."""

    def __init__(self, run: RunInfo) -> None:
        self.run = run
        self.tail = EventTail(run.path / EVENTS_FILE)
        self.events: list[RunEvent] = []
        self.poll()

    def poll(self) -> list[RunEvent]:
        """The events appended since the last poll (whole lines only)."""
        new = self.tail.poll()
        self.events.extend(new)
        return new

    def status(self) -> str:
        """ "running", with how far when a step has been logged."""
        last = next((e for e in reversed(self.events) if e.is_step), None)
        if last is None or last.step is None or not last.total or last.total <= 0:
            return "running"
        return f"running {min(100, 100 * last.step // last.total)}%"

    def scores(self) -> tuple[float | None, float | None]:
        """EM and F1 of the latest evaluation, if any."""
        last = next((e for e in reversed(self.events) if e.f1 is not None), None)
        return (last.exact_match, last.f1) if last is not None else (None, None)


RESUMABLE = (RunStatus.CANCELLED, RunStatus.INTERRUPTED, RunStatus.FAILED)
"""Runs that stopped before completing: what the trainer's --resume continues."""


class MetricsScreen(Screen[None]):
    CSS_PATH = "metrics.tcss"
    BINDINGS = [Binding("escape", "app.pop_screen", "Back", id="metrics-back"), *bindings("metrics")]
    SCOPE: Scope = "metrics"

    def __init__(self) -> None:
        super().__init__()
        self.runs: list[RunInfo] = []
        self.live: dict[str, LiveRun] = {}
        """The runs that are training, by name."""
        self.marked: list[str] = []
        """The runs marked to compare (at most two; marking a third drops the first)."""
        self.columns = FULL

    def compose(self) -> ComposeResult:
        yield Header()
        with Vertical():
            # the mark and the run's name stay while the other columns scroll under them (at 80 columns they do)
            yield DataTable(id="runs", cursor_type="row", zebra_stripes=True, fixed_columns=2)
            with Horizontal(id="details"):
                yield CurvePlot(id="loss-plot")
                yield CurvePlot(id="eval-plot")
                yield Static(id="settings")
        yield Footer()

    def on_mount(self) -> None:
        self.watch(self.app, "reader_state", self._reader_changed)  # the first call loads the table
        self.set_interval(POLL_S, self._poll)

    def _reader_changed(self, state: ReaderState) -> None:
        """Another reader (an activated run) changes the active marker."""
        self.action_reload()

    def on_screen_resume(self) -> None:
        self.action_reload()

    def on_resize(self, event: Resize) -> None:
        self.set_class(event.size.width < NARROW, "narrow")
        if self._layout() != self.columns:
            self._fill()

    # --- the table --------------------------------------------------------------------------------
    def action_reload(self) -> None:
        self.runs = list_runs()
        names = {r.name for r in self.runs}
        self.marked = [name for name in self.marked if name in names]
        running = [r for r in self.runs if r.status is RunStatus.RUNNING]
        self.live = {r.name: self.live.get(r.name) or LiveRun(r) for r in running}
        self._fill()

    def _rows(self, name_width: int) -> list[tuple[str, dict[str, str]]]:
        """Every row by key: the runs (with what their events say while they train), then the references."""
        rows = []
        for run in self.runs:
            cells = run_cells(run, name_width) | {"mark": self._mark(run)}
            live = self.live.get(run.name)
            if live is not None:
                em, f1 = live.scores()
                cells |= {"em": _fmt(em), "f1": _fmt(f1), "status": live.status()}
            rows.append((run.name, cells))
        rows += [(_reference_key(ref), reference_cells(ref, name_width)) for ref in REFERENCES]
        return rows

    def _layout(self) -> tuple[str, ...]:
        full = [cells for _, cells in self._rows(NAME_WIDTH)]
        return FULL if full_layout_fits(full, self.app.size.width) else COMPACT

    def _fill(self) -> None:
        """Rebuild the table in the layout that fits, keeping the cursor on the same row."""
        table = self.query_one("#runs", DataTable)
        selected = self._selected_key()
        layout = self._layout()
        if layout != self.columns or not table.columns:
            self.columns = layout
            table.clear(columns=True)  # only then: a table whose widths did not change would not redraw them
            for key in self.columns:
                table.add_column(COLUMNS[key], key=key)
        else:
            table.clear()
        name_width = NAME_WIDTH if self.columns is FULL else COMPACT_NAME_WIDTH
        for key, cells in self._rows(name_width):
            if self.columns is COMPACT:  # the month and day: the year's five columns let the duration show whole
                cells["date"] = cells["date"][5:] if cells["date"] != "—" else "—"
            table.add_row(*(safe_text(cells[column], single_line=True) for column in self.columns), key=key)
        if selected is not None and selected in table.rows:
            table.move_cursor(row=table.get_row_index(selected))
        run = self._selected_run() or (self.runs[0] if self.runs else None)
        if run is not None:
            self.show_run(run)
        else:
            self.query_one("#settings", Static).update("No runs yet: train one from the Train screen (ctrl+t).")

    def _mark(self, run: RunInfo) -> str:
        """● the active reader, ▶ training now, ✓ marked to compare."""
        running = "▶" if run.status is RunStatus.RUNNING else ""
        return ("●" if run.active else "") + running + ("✓" if run.name in self.marked else "")

    def _selected_key(self) -> str | None:
        table = self.query_one("#runs", DataTable)
        if table.row_count == 0:
            return None
        key = table.coordinate_to_cell_key(Coordinate(table.cursor_row, 0)).row_key.value
        return key if isinstance(key, str) else None

    def _selected_run(self) -> RunInfo | None:
        """The run under the cursor; None on a reference row."""
        key = self._selected_key()
        return next((r for r in self.runs if r.name == key), None)

    @on(DataTable.RowHighlighted, "#runs")
    def _highlighted(self, event: DataTable.RowHighlighted) -> None:
        key = event.row_key.value if event.row_key else None
        run = next((r for r in self.runs if r.name == key), None)
        reference = next((ref for ref in REFERENCES if _reference_key(ref) == key), None)
        if run:
            self.show_run(run)
        elif reference:
            self._draw([], [], NO_CURVES_OF_A_REFERENCE)
            self.query_one("#settings", Static).update(reference_details(reference))

    def show_run(self, run: RunInfo) -> None:
        history = self._history(run)
        epochs, em, f1 = history.eval_points()
        self._draw([loss_series("", history)], [("EM", epochs, em), ("F1", epochs, f1)], NO_CURVES_RECORDED)
        self.query_one("#settings", Static).update(run_details(run))

    def _draw(self, loss: list[Series], evals: list[Series], none: str) -> None:
        """The two plots, each saying why it is empty when it is (``none``, of what is missing)."""
        self.query_one("#loss-plot", CurvePlot).draw("training loss", loss, none.format(what="training loss"))
        self.query_one("#eval-plot", CurvePlot).draw("eval per epoch (EM, F1)", evals, none.format(what="evaluation"))

    def _history(self, run: RunInfo) -> RunHistory:
        live = self.live.get(run.name)
        return RunHistory.of(run, live.events if live is not None else None)

    # --- live runs --------------------------------------------------------------------------------
    def _poll(self) -> None:
        """Show what the training runs appended to their events.jsonl; reload when one has ended."""
        ended = False
        for name, live in self.live.items():
            new = live.poll()
            if new:
                self._update_row(name, live)
                ended = ended or any(e.phase in ENDED for e in new)
        if ended or any(load_run(live.run.path).status is not RunStatus.RUNNING for live in self.live.values()):
            self.action_reload()

    def _update_row(self, name: str, live: LiveRun) -> None:
        table = self.query_one("#runs", DataTable)
        em, f1 = live.scores()
        for column, value in (("em", _fmt(em)), ("f1", _fmt(f1)), ("status", live.status())):
            table.update_cell(name, column, value, update_width=True)
        if self._selected_key() == name:
            self.show_run(live.run)

    # --- actions (the list is assistant.tui.actions) ----------------------------------------------
    def action_activate(self) -> None:
        run = self._selected_run()
        if run is None:
            self.notify("Select a run (not a reference row).", severity="warning")
            return
        self.post_message(ActivateRun(run.name))

    def action_resume(self) -> None:
        run = self._selected_run()
        if run is None or run.status not in RESUMABLE:
            self.notify("Select a cancelled, interrupted or failed run to resume.", severity="warning")
            return
        self.post_message(ResumeRun(run.path))

    def action_mark(self) -> None:
        run = self._selected_run()
        if run is None:
            self.notify("Only runs can be marked, not the published references.", severity="warning")
            return
        if run.name in self.marked:
            self.marked.remove(run.name)
        else:
            self.marked = [*self.marked, run.name][-2:]
        table = self.query_one("#runs", DataTable)
        for each in self.runs:
            table.update_cell(each.name, "mark", self._mark(each))

    def action_compare(self) -> None:
        names = self.marked
        selected = self._selected_run()
        if len(names) == 1 and selected is not None and selected.name != names[0]:
            names = [names[0], selected.name]
        if len(names) != 2:
            self.notify("Mark two runs with space (or one, then select the other), then press c.", severity="warning")
            return
        a, b = (next(r for r in self.runs if r.name == name) for name in names)
        self.app.push_screen(RunCompareScreen((a, b), (self._history(a), self._history(b))))

    def action_delete(self) -> None:
        run = self._selected_run()
        if run is None:
            self.notify("Select a run to delete; the published references cannot be.", severity="warning")
            return
        problem = self._delete_problem(run)
        if problem:
            self.notify(problem, severity="warning")
            return
        question = f"Delete the run {run.name}?\n\nIts folder goes, weights, metrics and log:\n{run.path}"
        self.app.push_screen(ConfirmScreen(question, default=False), self._delete_answered(run.name))

    def _delete_problem(self, run: RunInfo) -> str | None:
        """Why the run must not be deleted now, or None."""
        if run.active:
            return f"{run.name} is the active reader; make another run active before deleting it."
        train = self.app.get_screen("train") if self.app.is_screen_installed("train") else None
        process = getattr(train, "process", None)
        training_here = process is not None and process.running and process.run_path == run.path
        if run.name in self.live or training_here:
            return f"{run.name} is still training; cancel it on the Train screen (ctrl+t) before deleting it."
        return None

    def _delete_answered(self, name: str) -> Callable[[bool | None], None]:
        def answered(yes: bool | None) -> None:
            if yes:
                self._delete(name)

        return answered

    @work(thread=True, exclusive=True, exit_on_error=False, group=DELETE)
    def _delete(self, name: str) -> None:
        try:
            delete_run(name)
        except UserError as exc:
            self.post_message(RunDeleted(name, str(exc)))
            return
        self.post_message(RunDeleted(name))

    @on(RunDeleted)
    def _deleted(self, message: RunDeleted) -> None:
        if message.error:
            self.notify(message.error, title="Not deleted", severity="error")
        else:
            self.notify(f"Deleted the run {message.name}.")
        self.action_reload()

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        error = workers.failure(event)
        if error is not None and event.worker.group == DELETE:
            self.notify(error, title="Could not delete the run", severity="error", timeout=10)
            self.action_reload()
