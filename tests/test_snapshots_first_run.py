"""Snapshots of the first-run and settings screens at 80x24 and 160x45.

Regenerate with `pytest tests/test_snapshots_first_run.py --snapshot-update`."""

from __future__ import annotations

import pytest

from assistant.tui.app import AssistantApp
from assistant.tui.screens.first_run import FirstRunScreen
from assistant.tui.screens.settings import SettingsScreen
from tests.pilot import settle, wait_for_widget, wait_until

SIZES = [(80, 24), (160, 45)]


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_offline_with_no_model_the_first_run_screen_offers_each_way_forward(snap_compare, size):
    async def first_run(pilot):
        await settle(pilot.app, pilot)
        await wait_for_widget(pilot, FirstRunScreen, "#train")
        screen = pilot.app.screen
        await wait_until(pilot, lambda: screen.hub_reachable is not None, timeout=30)
        await pilot.pause()

    assert snap_compare(AssistantApp(), terminal_size=size, run_before=first_run)


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_the_settings_screen_shows_every_setting_as_a_form(snap_compare, size, tiny_model_dir):
    async def open_settings(pilot):
        await settle(pilot.app, pilot)
        await pilot.press("f4")
        await wait_for_widget(pilot, SettingsScreen, "#save")
        await pilot.pause()

    assert snap_compare(AssistantApp(model=str(tiny_model_dir)), terminal_size=size, run_before=open_settings)
