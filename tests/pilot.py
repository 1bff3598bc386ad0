"""Pilot helpers shared by the app tests, the snapshots and the responsiveness benchmark."""

from __future__ import annotations

import time
from pathlib import Path

from assistant.tui.screens.train import TrainScreen


async def settle(app, pilot) -> None:
    """Wait until the model has loaded (or failed) and no worker is left running."""
    deadline = time.time() + 120
    while time.time() < deadline:
        await app.workers.wait_for_complete()
        await pilot.pause()
        if (app.engine is not None or app.model_error) and not any(w.is_running for w in app.workers):
            break
    await pilot.pause()


async def wait_until(pilot, predicate, timeout: float = 180.0) -> None:
    deadline = time.time() + timeout
    while not predicate():
        assert time.time() < deadline, "timed out"
        await pilot.pause(0.2)


async def fill_train_form(app, pilot, base: Path, data: Path, epochs: str) -> TrainScreen:
    """Open the Train screen and fill it as a user would: a local base model and a local data file."""
    await pilot.press("ctrl+t")
    await pilot.pause()
    screen = app.screen
    assert isinstance(screen, TrainScreen)
    screen.query_one("#base").value = str(base)
    screen.query_one("#data-choice").value = "file"
    await pilot.pause()
    screen.query_one("#data-path").value = str(data)
    screen.query_one("#epochs").value = epochs
    screen.query_one("#lr").value = "1e-3"
    screen.query_one("#batch").value = "8"
    return screen
