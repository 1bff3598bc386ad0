"""Snapshots of the find bar with a match, at the smallest supported terminal and a large one.

Regenerate with `pytest tests/test_snapshots_find.py --snapshot-update`."""

from __future__ import annotations

from pathlib import Path

import pytest

from assistant.settings import Settings
from assistant.tui.app import AssistantApp
from tests.pilot import settle

TEXT = "\n".join(
    [
        "Field notes, spring.",
        "",
        "The cat sat on the mat while the dog ran in the park.",
        "Birds sing at dawn; the cat listens from the window.",
        "",
        "In the evening the CAT sleeps by the door.",
    ]
    + [f"Line {n}: nothing about animals here." for n in range(7, 60)]
)


@pytest.fixture
def notes(tmp_path) -> Path:
    Settings(threshold=0.0).save()
    doc = tmp_path / "notes.txt"
    doc.write_text(TEXT + "\n", encoding="utf-8")
    return doc


async def _find_the_second_cat(pilot) -> None:
    await settle(pilot.app, pilot)
    await pilot.press("ctrl+f", *"cat", "enter")
    await pilot.pause()


@pytest.mark.parametrize("size", [(80, 24), (160, 45)], ids=["80x24", "160x45"])
def test_the_find_bar_shows_the_match_and_its_count(snap_compare, notes, tiny_model_dir, size):
    app = AssistantApp(document_path=notes, model=str(tiny_model_dir))
    assert snap_compare(app, terminal_size=size, run_before=_find_the_second_cat)
