"""Snapshots of the metrics panel at the smallest supported terminal and a large one.

Regenerate with `pytest tests/test_snapshots_metrics.py --snapshot-update`.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from assistant.settings import Settings
from assistant.tui.app import AssistantApp
from tests.pilot import settle, write_run, write_squad_run

WORDS = ["the", "cat", "sat", "on", "mat", "dog", "where", "did"]


@pytest.fixture
def runs(isolated_dirs, tmp_path):
    """A user with three runs: the active one (completed, with curves), a distilled one and a failed one."""
    from tests.helpers import save_tiny_model

    Settings(threshold=0.0).save()
    models = Path(os.environ["ASSISTANT_MODELS_DIR"])
    model = save_tiny_model(tmp_path / "tiny", WORDS)
    write_squad_run(models, model, epochs=2, learning_rate=5e-5, batch_size=32)
    write_run(
        models,
        "distilled-from-bert-large-teacher",
        status="completed",
        base_model="/home/me/models/distilbert-base-uncased",
        started_at="2026-11-24T18:05:00",
        train_data={"source": "/home/me/data/squad-train-plus-my-annotations.json"},
        settings={"epochs": 3, "learning_rate": 3e-5, "teacher": "bert-large-uncased-whole-word-masking-finetuned"},
        metrics={"eval": {"exact_match": 79.0, "f1": 86.8}, "train_windows_per_second": 1410.0, "wall_time_s": 300},
    )
    write_run(
        models,
        "notes-only",
        status="failed",
        error="the data has no answers",
        base_model="distilbert/distilbert-base-uncased",
        started_at="2026-11-20T08:00:00",
        train_data={"source": "annotations.jsonl"},
    )
    (models / "ACTIVE").write_text("squad-run\n")


async def _open_metrics(pilot) -> None:
    await settle(pilot.app, pilot)
    await pilot.press("f2")
    await pilot.pause()


@pytest.mark.parametrize("size", [(80, 24), (160, 45)], ids=["80x24", "160x45"])
def test_the_metrics_panel_keeps_em_and_f1_in_view(snap_compare, runs, size):
    assert snap_compare(AssistantApp(), terminal_size=size, run_before=_open_metrics)
