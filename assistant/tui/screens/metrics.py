"""The metrics panel: every run with its EM/F1 beside published references, and the selected run's curves."""

from __future__ import annotations

import json

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Header, Static
from textual_plotext import PlotextPlot

from assistant.runs.registry import RunInfo, list_runs
from assistant.tui.actions import Scope, bindings
from assistant.tui.messages import ActivateRun
from assistant.tui.state import ReaderState

REFERENCES = [
    ("DistilBERT (published)", "distilbert-base-uncased", "SQuAD v1.1", 77.7, 85.8),
    ("DistilBERT distilled (published)", "distilbert-base-uncased", "SQuAD v1.1", 79.1, 86.9),
    ("BERT-base (published)", "bert-base-uncased", "SQuAD v1.1", 81.2, 88.5),
]


NAME_WIDTH = 32
MODEL_WIDTH = 28
"""The widest run name, base model and data shown: at 160 columns the status column keeps its room."""


def _fmt(value: float | None, digits: int = 1) -> str:
    return "—" if value is None else f"{value:.{digits}f}"


def _clip(text: str, width: int) -> str:
    """At most ``width`` characters, so that every column (status last) fits: a path or hub id by its last part
    when that fits, else cut with an ellipsis."""
    if len(text) <= width:
        return text
    last = text.rstrip("/").rsplit("/", 1)[-1]
    return last if len(last) <= width else text[: width - 1] + "…"


class MetricsScreen(Screen[None]):
    CSS_PATH = "metrics.tcss"
    BINDINGS = [Binding("escape", "app.pop_screen", "Back", id="metrics-back"), *bindings("metrics")]
    SCOPE: Scope = "metrics"

    def __init__(self) -> None:
        super().__init__()
        self.runs: list[RunInfo] = []

    def compose(self) -> ComposeResult:
        yield Header()
        with Vertical():
            yield DataTable(id="runs", cursor_type="row", zebra_stripes=True)
            with Horizontal(id="details"):
                yield PlotextPlot(id="loss-plot")
                yield PlotextPlot(id="eval-plot")
                yield Static(id="settings")
        yield Footer()

    def on_mount(self) -> None:
        table = self.query_one("#runs", DataTable)
        table.add_columns("", "run", "base model", "data", "EM", "F1", "windows/s", "duration", "date", "status")
        self.watch(self.app, "reader_state", self._reader_changed)  # the first call loads the table

    def _reader_changed(self, state: ReaderState) -> None:
        """Another reader (an activated run) changes the active marker."""
        self.action_reload()

    def on_screen_resume(self) -> None:
        self.action_reload()

    def action_reload(self) -> None:
        table = self.query_one("#runs", DataTable)
        table.clear()
        self.runs = list_runs()
        for r in self.runs:
            record, results = r.record, r.results
            source = record.train_data.source if record.train_data else None
            wall = results.wall_time_s
            table.add_row(
                "●" if r.active else "",
                _clip(r.name, NAME_WIDTH),
                _clip(record.base_model or "—", MODEL_WIDTH),
                _clip(source or "—", MODEL_WIDTH),
                _fmt(r.exact_match),
                _fmt(r.f1),
                _fmt(results.train_windows_per_second),
                f"{wall / 60:.1f} min" if wall else "—",
                (record.started_at or "—")[:16],
                str(r.status),
                key=r.name,
            )
        for name, base, data, em, f1 in REFERENCES:
            table.add_row("", name, base, data, _fmt(em), _fmt(f1), "—", "—", "—", "reference", key=f"ref:{name}")
        if self.runs:
            self.show_run(self.runs[0])
        else:
            self.query_one("#settings", Static).update("No runs yet: train one from the Train screen (ctrl+t).")

    @on(DataTable.RowHighlighted, "#runs")
    def _highlighted(self, event: DataTable.RowHighlighted) -> None:
        key = event.row_key.value if event.row_key else None
        run = next((r for r in self.runs if r.name == key), None)
        if run:
            self.show_run(run)

    def show_run(self, run: RunInfo) -> None:
        loss = self.query_one("#loss-plot", PlotextPlot)
        loss.plt.clear_data()
        loss.plt.title("training loss")
        curve = run.results.loss_curve
        if curve:
            loss.plt.plot([s for s, _ in curve], [v for _, v in curve])
        loss.refresh()
        ev = self.query_one("#eval-plot", PlotextPlot)
        ev.plt.clear_data()
        ev.plt.title("eval per epoch (EM, F1)")
        history = run.results.eval_per_epoch
        if history:
            epochs = [h.epoch if h.epoch is not None else i + 1 for i, h in enumerate(history)]
            ev.plt.plot(epochs, [h.exact_match or 0 for h in history], label="EM")
            ev.plt.plot(epochs, [h.f1 or 0 for h in history], label="F1")
        ev.refresh()
        settings = run.record.settings
        shown = {
            k: settings.get(k)
            for k in (
                "base_model",
                "data",
                "epochs",
                "learning_rate",
                "batch_size",
                "max_train_samples",
                "freeze_layers",
                "teacher",
                "precision",
            )
        }
        shown |= {"device": run.record.device, "error": run.record.error}
        text = json.dumps({k: v for k, v in shown.items() if v is not None}, indent=1)
        self.query_one("#settings", Static).update(f"[b]{run.name}[/b]\n{text}")

    def action_activate(self) -> None:
        table = self.query_one("#runs", DataTable)
        if table.cursor_row is None or not self.runs or table.cursor_row >= len(self.runs):
            self.notify("Select a run (not a reference row).", severity="warning")
            return
        self.post_message(ActivateRun(self.runs[table.cursor_row].name))
