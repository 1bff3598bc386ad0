"""Snapshots of the main screens, each a short user story. Regenerate with `pytest --snapshot-update`."""

from __future__ import annotations

import pytest

from assistant.tui.app import AssistantApp
from tests.pilot import settle, write_story

SIZE = (110, 32)


@pytest.fixture
def story(tmp_path, isolated_dirs):
    """A user with one document, one trained run, and the default settings (answers always shown)."""
    return write_story(tmp_path)


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
