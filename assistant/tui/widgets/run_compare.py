"""Two runs side by side: their figures and settings in one table (differences marked), their curves overlaid."""

from __future__ import annotations

from typing import Any

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Header, Static

from assistant.rendering import assemble, clip, safe_text
from assistant.runs.registry import RunInfo
from assistant.tui.widgets.loss_plot import CurvePlot, RunHistory, loss_series

SETTINGS = (
    "base_model",
    "data",
    "epochs",
    "learning_rate",
    "batch_size",
    "max_train_samples",
    "max_length",
    "freeze_layers",
    "teacher",
    "precision",
    "seed",
)
"""The settings compared, in this order (those that differ are marked)."""


def _figure(value: float | None) -> str:
    return "—" if value is None else f"{value:.1f}"


def _setting(value: Any) -> str:
    if value is None:
        return "—"
    return f"{value:g}" if isinstance(value, float) else str(value)


def _minutes(run: RunInfo) -> float | None:
    wall = run.results.wall_time_s
    return wall / 60 if wall else None


def comparison_rows(a: RunInfo, b: RunInfo) -> list[tuple[str, str, str]]:
    """(what, run A's, run B's) for the figures, then the settings either run recorded."""
    rows = [
        ("status", str(a.status), str(b.status)),
        ("EM", _figure(a.exact_match), _figure(b.exact_match)),
        ("F1", _figure(a.f1), _figure(b.f1)),
        ("windows/s", _figure(a.results.train_windows_per_second), _figure(b.results.train_windows_per_second)),
        ("minutes", _figure(_minutes(a)), _figure(_minutes(b))),
        ("device", _setting(a.record.device), _setting(b.record.device)),
    ]
    for key in SETTINGS:
        left, right = a.record.settings.get(key), b.record.settings.get(key)
        if left is not None or right is not None:
            rows.append((key, _setting(left), _setting(right)))
    return rows


VALUE_WIDTH = 24
"""The widest name or value in the table: both runs' columns fit beside the names of what is compared at 80 columns
(a path shows as its last part, the title above names the runs whole)."""


class RunComparison(Vertical):
    """The comparison of two runs: a table of what differs and what not, and both runs' curves."""

    def __init__(self, runs: tuple[RunInfo, RunInfo], histories: tuple[RunHistory, RunHistory]) -> None:
        super().__init__(id="comparison")
        self.runs = runs
        self.histories = histories

    def compose(self) -> ComposeResult:
        a, b = self.runs
        title = assemble((a.name, "b"), "  vs  ", (b.name, "b"), "   (differences in yellow)")
        yield Static(title, id="compare-title")
        with Horizontal(id="compare-body"):
            yield DataTable(id="compare-table", cursor_type="row", zebra_stripes=True)
            with Vertical(id="compare-plots"):
                yield CurvePlot(id="compare-loss")
                yield CurvePlot(id="compare-eval")

    def on_mount(self) -> None:
        a, b = self.runs
        table = self.query_one("#compare-table", DataTable)
        table.add_columns("", *(safe_text(clip(run.name, VALUE_WIDTH), single_line=True) for run in self.runs))
        for what, left, right in comparison_rows(a, b):
            style = "bold yellow" if left != right else ""
            left_cell, right_cell = (safe_text(clip(v, VALUE_WIDTH), style, single_line=True) for v in (left, right))
            table.add_row(what, left_cell, right_cell, key=what)
        self.query_one("#compare-loss", CurvePlot).draw(
            "training loss", [loss_series(run.name, h) for run, h in zip(self.runs, self.histories, strict=True)]
        )
        evals = []
        for run, history in zip(self.runs, self.histories, strict=True):
            epochs, _, f1 = history.eval_points()
            evals.append((f"{run.name} F1", epochs, f1))
        self.query_one("#compare-eval", CurvePlot).draw("F1 per epoch", evals)


class RunCompareScreen(Screen[None]):
    """The metrics panel's comparison view; escape goes back to the panel."""

    BINDINGS = [Binding("escape", "app.pop_screen", "Back", id="compare-back")]
    DEFAULT_CSS = """
    #compare-title { height: auto; padding: 0 1; }
    #compare-body { height: 1fr; }
    #compare-table { width: 1fr; min-width: 40; border: round $primary-darken-2; }
    #compare-plots { width: 1fr; }
    #compare-loss, #compare-eval { border: round $panel; }
    RunCompareScreen.-narrow #compare-body { layout: vertical; }
    RunCompareScreen.-narrow #compare-table { width: 100%; height: auto; max-height: 60%; }
    RunCompareScreen.-narrow #compare-plots { width: 100%; height: 1fr; min-height: 8; }
    RunCompareScreen.-short #compare-eval { display: none; }
    """
    NARROW = 120
    """Below this width the table takes the whole width, above the curves: side by side, a run's column is cut."""

    SHORT = 40
    """Stacked, below this height one plot (the loss) keeps rows enough to be read."""

    def on_resize(self) -> None:
        narrow = self.size.width < self.NARROW
        self.set_class(narrow, "-narrow")
        self.set_class(narrow and self.size.height < self.SHORT, "-short")

    def __init__(self, runs: tuple[RunInfo, RunInfo], histories: tuple[RunHistory, RunHistory]) -> None:
        super().__init__()
        self.runs = runs
        self.histories = histories

    def compose(self) -> ComposeResult:
        yield Header()
        yield RunComparison(self.runs, self.histories)
        yield Footer()
