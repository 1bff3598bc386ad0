"""Pilot helpers shared by the app tests, the snapshots and the responsiveness benchmark."""

from __future__ import annotations

import contextlib
import time
from pathlib import Path

from textual.screen import Screen
from textual.widget import Widget
from textual.worker import WorkerCancelled, WorkerFailed

from assistant.tui.screens.train import TrainScreen
from assistant.tui.state import ReaderStatus

SETTLED = (ReaderStatus.READY, ReaderStatus.FAILED)


async def settle(app, pilot) -> None:
    """Wait until the model has loaded (or failed) and no worker is left running.

    A worker that raised is the app's to report (a notification); here it only has to be finished."""
    deadline = time.time() + 120
    while time.time() < deadline:
        with contextlib.suppress(WorkerFailed, WorkerCancelled):
            await app.workers.wait_for_complete()
        await pilot.pause()
        if app.reader_state.status in SETTLED and not any(w.is_running for w in app.workers):
            break
    await pilot.pause()


async def wait_until(pilot, predicate, timeout: float = 180.0) -> None:
    deadline = time.time() + timeout
    while not predicate():
        assert time.time() < deadline, "timed out"
        await pilot.pause(0.2)


async def wait_for_widget(pilot, screen_type: type[Screen], selector: str, timeout: float = 180.0) -> Widget:
    """Wait until a screen of ``screen_type`` is on top with ``selector`` mounted and laid out, so a click lands."""

    def ready() -> bool:
        screen = pilot.app.screen
        if not isinstance(screen, screen_type) or not screen.is_mounted:
            return False
        found = screen.query(selector)
        return bool(found) and found.first().region.area > 0

    await wait_until(pilot, ready, timeout)
    return pilot.app.screen.query_one(selector)


async def fill_train_form(app, pilot, base: Path, data: Path, epochs: str) -> TrainScreen:
    """Open the Train screen and fill it as a user would: a local base model and a local data file."""
    await pilot.press("ctrl+t")
    await wait_for_widget(pilot, TrainScreen, "#start")
    screen = app.screen
    assert isinstance(screen, TrainScreen)
    screen.query_one("#base_model").value = str(base)
    screen.query_one("#data-choice").value = "file"
    await pilot.pause()
    screen.query_one("#data-path").value = str(data)
    screen.query_one("#epochs").value = epochs
    screen.query_one("#learning_rate").value = "1e-3"
    screen.query_one("#batch_size").value = "8"
    return screen
