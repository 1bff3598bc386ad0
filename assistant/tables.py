"""Rich table of trained runs, shared by `assistant models` and the docs."""

from __future__ import annotations

from rich.table import Table

from assistant.runs.registry import RunInfo


def _fmt(value: float | None) -> str:
    return "—" if value is None else f"{value:.1f}"


def runs_table(runs: list[RunInfo]) -> Table:
    table = Table(title="Reader runs (models/)")
    for column in ("", "run", "status", "base", "EM", "F1", "windows/s", "date"):
        table.add_column(column)
    for r in runs:
        table.add_row(
            "●" if r.active else "",
            r.name,
            r.status,
            str(r.run.get("base_model", "—")),
            _fmt(r.exact_match),
            _fmt(r.f1),
            _fmt(r.metrics.get("train_windows_per_second")),
            str(r.run.get("started_at", "—"))[:16],
        )
    return table
