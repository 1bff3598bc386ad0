"""Snapshots of the main screens, each a short user story. Regenerate with `pytest --snapshot-update`."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from assistant.settings import Settings
from assistant.tui.app import AssistantApp
from tests.helpers import save_tiny_model
from tests.pilot import settle, write_squad_run

SIZE = (110, 32)


@pytest.fixture
def story(tmp_path, isolated_dirs):
    """A user with one document, one trained run, and the default settings (answers always shown)."""
    Settings(threshold=0.0).save()
    doc = tmp_path / "notes.txt"
    doc.write_text("The cat sat on the mat.\n\nThe dog ran in the park.\n\nBirds sing at dawn.\n", encoding="utf-8")
    models = Path(os.environ["ASSISTANT_MODELS_DIR"])
    model = save_tiny_model(tmp_path / "tiny", ["the", "cat", "sat", "on", "mat", "dog", "where", "did"])
    write_squad_run(models, model, epochs=2, learning_rate=5e-5)
    (models / "ACTIVE").write_text("squad-run\n")
    return doc


def test_asking_a_question_shows_the_answer_beside_the_document(snap_compare, story):
    async def ask(pilot):
        await settle(pilot.app, pilot)
        await pilot.click("#question")
        await pilot.press(*"where did the cat sit?", "enter")
        await settle(pilot.app, pilot)

    assert snap_compare(AssistantApp(document_path=story), terminal_size=SIZE, run_before=ask)


def test_the_metrics_panel_compares_runs_with_published_figures(snap_compare, story):
    async def open_metrics(pilot):
        await settle(pilot.app, pilot)
        await pilot.press("f2")
        await pilot.pause()

    assert snap_compare(AssistantApp(), terminal_size=SIZE, run_before=open_metrics)


def test_the_train_screen_offers_base_data_and_settings(snap_compare, story):
    async def open_train(pilot):
        await settle(pilot.app, pilot)
        await pilot.press("ctrl+t")
        await pilot.pause()

    assert snap_compare(AssistantApp(), terminal_size=SIZE, run_before=open_train)
