"""A run's curves: its training loss and its evaluations, from metrics.json or, while it trains, events.jsonl.

The metrics panel and the comparison view draw the same curves the same way, one run or two overlaid.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from textual_plotext import PlotextPlot

from assistant.core.sanitize import one_line
from assistant.runs.directory import RunDirectory
from assistant.runs.events import RunEvent, history_from_events
from assistant.runs.registry import RunInfo
from assistant.runs.schema import EpochEval


@dataclass
class RunHistory:
    """The loss per step and the evaluations of one run."""

    loss: list[tuple[int, float]] = field(default_factory=list)
    evals: list[EpochEval] = field(default_factory=list)

    @classmethod
    def of(cls, run: RunInfo, events: list[RunEvent] | None = None) -> RunHistory:
        """A live run's history from its events so far; a finished one's from metrics.json, or from its events when
        it wrote none (a cancelled or interrupted run: its loss was logged as it went)."""
        if events is None and not run.results.loss_curve:
            events = RunDirectory(run.path, writer=False).read_events()
        if events is not None:
            losses, evals = history_from_events(events)
            return cls(sorted(losses.items()), [evals[step] for step in sorted(evals)])
        return cls(list(run.results.loss_curve), list(run.results.eval_per_epoch))

    def eval_points(self) -> tuple[list[float], list[float], list[float]]:
        """Epochs (or their order, when not recorded), EM and F1 of each evaluation."""
        epochs = [e.epoch if e.epoch is not None else i + 1 for i, e in enumerate(self.evals)]
        return epochs, [e.exact_match or 0 for e in self.evals], [e.f1 or 0 for e in self.evals]


Series = tuple[str, list[float], list[float]]
"""A curve: its legend label ("" for none), x and y."""


class CurvePlot(PlotextPlot):
    """A plot redrawn whole from named series of points."""

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.series: list[Series] = []
        """What the plot shows now."""

    def draw(self, title: str, series: list[Series], when_empty: str = "") -> None:
        """Replace the plot with ``series``, each (label, x, y); an empty label draws without a legend entry. A plot
        with no point is titled ``when_empty`` when given (why it is empty), not left as a blank frame."""
        self.series = series
        self.plt.clear_data()
        empty = not any(xs for _, xs, _ in series)
        self.plt.title(one_line(when_empty if empty and when_empty else title))
        for label, xs, ys in series:
            if xs:
                self.plt.plot(xs, ys, label=one_line(label) or None)  # labels are run names: text, as named
        self.refresh()


def loss_series(label: str, history: RunHistory) -> Series:
    return label, [float(s) for s, _ in history.loss], [v for _, v in history.loss]
