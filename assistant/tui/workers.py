"""The app's worker groups and the one way a worker that raised is described.

Every worker runs with ``exit_on_error=False``: an unexpected exception never ends the app. The node that
owns the worker (the App or a screen) handles ``Worker.StateChanged`` and turns ``failure(event)`` into a
notification and the right state.
"""

from __future__ import annotations

from textual.worker import Worker, WorkerState

MODEL = "model"
INDEX = "index"
ASK = "ask"
TRAIN = "train"

FINISHED = (WorkerState.SUCCESS, WorkerState.ERROR, WorkerState.CANCELLED)


def failure(event: Worker.StateChanged) -> str | None:
    """One line describing the exception of a worker that raised; None for every other state change."""
    if event.state is not WorkerState.ERROR:
        return None
    error = event.worker.error
    if error is None:
        return "unknown error"
    text = " ".join(str(error).split())
    return f"{type(error).__name__}: {text}" if text else type(error).__name__
