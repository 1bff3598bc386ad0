"""Every screen at 80x24, the smallest terminal people use: a user with a document, two trained runs and one saved
annotation goes through each. Regenerate with `pytest --snapshot-update`."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from assistant.paths import annotations_path
from assistant.tui.app import AssistantApp
from tests.pilot import frame_drawn, palette_pick, settle, wait_until, write_run, write_story

SMALL = (80, 24)


@pytest.fixture
def story(tmp_path, isolated_dirs):
    doc = write_story(tmp_path)
    models = Path(os.environ["ASSISTANT_MODELS_DIR"])
    write_run(models, "older-run", status="cancelled", started_at="2026-11-20T08:00:00", settings={"epochs": 1})
    row = {
        "id": "note-1",
        "title": "notes.txt",
        "question": "where did the cat sit?",
        "context": "The cat sat on the mat.",
        "answers": {"text": ["on the mat"], "answer_start": [12]},
    }
    annotations_path().parent.mkdir(parents=True, exist_ok=True)
    annotations_path().write_text(json.dumps(row) + "\n", encoding="utf-8")
    return doc


async def _chat(pilot) -> None:
    await settle(pilot.app, pilot)
    await pilot.click("#question")
    await pilot.press(*"where did the cat sit?", "enter")
    await settle(pilot.app, pilot)


def _then(*keys: str, screen: str):
    """Ask a question, then press ``keys`` and wait for the screen named ``screen`` to be on top."""

    async def run_before(pilot) -> None:
        await _chat(pilot)
        await pilot.press(*keys)
        await wait_until(pilot, lambda: type(pilot.app.screen).__name__ == screen, timeout=30)
        await frame_drawn(pilot)

    return run_before


STORIES = {
    "chat": _then(screen="ChatScreen"),
    "help": _then("f1", screen="HelpScreen"),
    "model-picker": _then("f3", screen="ModelPicker"),
    "train": _then("ctrl+t", screen="TrainScreen"),
    "metrics": _then("f2", screen="MetricsScreen"),
    "compare": _then("f2", "space", "down", "c", screen="RunCompareScreen"),
    "annotations": _then("f5", screen="AnnotationsScreen"),
    "settings": _then("f4", screen="SettingsScreen"),
}


async def _clear_conversation(pilot) -> None:
    await _chat(pilot)
    await palette_pick(pilot, "clear conversation")
    await wait_until(pilot, lambda: type(pilot.app.screen).__name__ == "ConfirmScreen", timeout=30)
    await frame_drawn(pilot)


STORIES["clear-conversation"] = _clear_conversation


@pytest.mark.parametrize("name", list(STORIES))
def test_every_screen_fits_80_by_24(snap_compare, story, name):
    assert snap_compare(AssistantApp(document_path=story), terminal_size=SMALL, run_before=STORIES[name])
