"""Pilot helpers shared by the app tests, the snapshots and the responsiveness benchmark."""

from __future__ import annotations

import contextlib
import sys
import time
from pathlib import Path

from textual.screen import Screen
from textual.widget import Widget
from textual.worker import WorkerCancelled, WorkerFailed

from assistant.settings import Settings
from assistant.tui.screens.train import TrainScreen
from assistant.tui.state import ReaderStatus
from assistant.tui.widgets.conversation import AnswerCard
from assistant.tui.widgets.document_view import DocumentView

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


def allow_every_answer(**more) -> Settings:
    """Save settings that let every answer through (tiny random models give low confidence), with ``more`` on top."""
    settings = Settings(threshold=0.0, **more)
    settings.save()
    return settings


def notifications(app) -> list[str]:
    """The messages of the notifications the app has shown."""
    return [n.message for n in app._notifications]


async def ask(app, pilot, question: str) -> AnswerCard:
    """Type ``question`` in the question box and send it as a user would; return its answer card once settled."""
    await pilot.click("#question")
    await pilot.press(*question)
    await pilot.press("enter")
    await settle(app, pilot)
    return app.screen.query(AnswerCard).last()


def document_view(app) -> DocumentView:
    """The chat screen's document view."""
    return app.chat.query_one(DocumentView)


async def wait_until(pilot, predicate, timeout: float = 180.0) -> None:
    deadline = time.time() + timeout
    while not predicate():
        assert time.time() < deadline, "timed out"
        await pilot.pause(0.2)


async def palette_pick(pilot, query: str) -> None:
    """In the command palette (opened if it is not), type ``query`` and take the first entry once it is offered."""
    from textual.command import CommandList, CommandPalette

    app = pilot.app
    if not isinstance(app.screen, CommandPalette):
        await pilot.press("ctrl+p")
        await wait_until(pilot, lambda: isinstance(app.screen, CommandPalette), timeout=30)
    await pilot.press(*query)
    await wait_until(pilot, lambda: app.screen.query_one(CommandList).option_count > 0, timeout=30)
    await pilot.press("enter")


async def frame_drawn(pilot) -> None:
    """Every message and every refresh the last change caused has been handled (no time passes otherwise), with
    every text cursor steady: a blink's phase depends on how long the story took, not on what it shows."""
    from textual.widgets import Input

    for screen in pilot.app.screen_stack:
        for box in screen.query(Input):
            box.cursor_blink = False
    await pilot.pause()
    await pilot.wait_for_scheduled_animations()
    await pilot.pause()


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


def screen_text(app) -> str:
    """What the terminal shows now, as plain text, one line per row."""
    return "\n".join(strip.text for strip in app.screen._compositor.render_strips())


# A stand-in for `python -m trainer --config FILE --output RUN`: it writes events.jsonl and run.json as the trainer
# does (the same events, in the same order), and prints on stdout and stderr what must never be taken for progress
# or an outcome, or shown by the app (the CLI's hint to activate a run: the app asks instead).
FAKE_TRAINER = r"""
import json, shutil, signal, sys, time
from pathlib import Path

from assistant.core.ownership import mark
from assistant.runs.events import Phase, RunEvent

mode, model = sys.argv[1], Path(sys.argv[2])
args = dict(zip(sys.argv[3::2], sys.argv[4::2]))
config = json.loads(Path(args["--config"]).read_text())
out = Path(args["--output"])
out.mkdir(parents=True, exist_ok=bool(config.get("resume")))  # a resumed run continues in its own folder
mark(out, "run")  # the trainer's marker: a folder it made, that it may resume
events = open(out / "events.jsonl", "a")

def record(**run):
    (out / "run.json").write_text(json.dumps({"settings": config, **run}))

def event(text):
    events.write(text)
    events.flush()

def emit(phase, **fields):  # the trainer's own format, RunEvent
    event(json.dumps(RunEvent(phase, **fields).to_json()) + "\n")

def hint():
    print(f"done: {out}  EM 50.00  F1 60.00", file=sys.stderr)
    print(f"make it the active reader: assistant models activate {out.name}", file=sys.stderr, flush=True)

record(status="running")
print('{"phase": "train", "step": 99, "total": 99, "message": "from stdout"}')
print("error: stdout is not where the outcome comes from", flush=True)
if mode == "complete":
    first = json.dumps(RunEvent(Phase.TRAIN, step=1, total=4, loss=2.5, message="first step").to_json()) + "\n"
    event(first[:30])  # a line written in two parts
    time.sleep(0.6)
    event(first[30:])
    for step in (2, 3, 4):
        emit(Phase.TRAIN, step=step, total=4, loss=2.5 - step / 4)
    event("not json\n")
    emit(Phase.EVAL, message="evaluating on 12 questions")
    emit(Phase.EVAL, step=4, total=4, epoch=1.0, exact_match=50.0, f1=60.0)  # the epoch's evaluation
    emit(Phase.EVAL, exact_match=50.0, f1=60.0, message="final evaluation")  # the same figures, again
    for f in model.iterdir():
        shutil.copy(f, out / f.name)
    (out / "metrics.json").write_text(json.dumps({"eval": {"exact_match": 50.0, "f1": 60.0}}))
    record(status="completed")
    emit(Phase.DONE, exact_match=50.0, f1=60.0, message=f"saved {out}")  # and once more
    hint()
elif mode == "fail":
    record(status="failed", error="the data has no answers")
    emit(Phase.FAILED, message="the data has no answers")
    sys.exit(2)
elif mode == "wait":
    def stop(*_):
        record(status="cancelled", error="cancelled by the user")
        emit(Phase.CANCELLED, message="training cancelled; the active reader is unchanged")
        print("cancelled; the active reader is unchanged", file=sys.stderr, flush=True)
        sys.exit(130)
    signal.signal(signal.SIGTERM, stop)
    for step in range(1, 100000):
        emit(Phase.TRAIN, step=step, total=100000)
        time.sleep(0.05)
elif mode == "crash-after-done":  # finished its work and printed the CLI's report, then died before recording it
    for step in (1, 2):
        emit(Phase.TRAIN, step=step, total=2, loss=1.0)
    hint()
    sys.exit(139)
"""


def fake_trainer_command(folder: Path, model: Path, mode: str) -> list[str]:
    """The command line of FAKE_TRAINER in ``mode`` (complete, fail, wait, crash-after-done), copying ``model``."""
    script = folder / "fake_trainer.py"
    script.write_text(FAKE_TRAINER)
    return [sys.executable, str(script), mode, str(model)]


def write_run(models: Path, name: str, model: Path | None = None, metrics: dict | None = None, **run_json) -> Path:
    """A run folder as the trainer leaves it: ``model``'s files (when given), run.json and metrics.json."""
    import json
    import shutil

    path = models / name
    if model is not None:
        shutil.copytree(model, path)
    path.mkdir(parents=True, exist_ok=True)
    (path / "run.json").write_text(json.dumps(run_json), encoding="utf-8")
    if metrics is not None:
        (path / "metrics.json").write_text(json.dumps(metrics), encoding="utf-8")
    return path


def write_squad_run(models: Path, model: Path | None, **settings) -> Path:
    """The completed run "squad-run" (``model``'s files, when given), trained with ``settings``: EM 77.9, F1 86.1,
    with a loss curve and an evaluation per epoch."""
    return write_run(
        models,
        "squad-run",
        model,
        status="completed",
        base_model="distilbert/distilbert-base-uncased",
        started_at="2026-11-25T09:30:00",
        train_data={"source": "rajpurkar/squad"},
        settings=settings,
        metrics={
            "eval": {"exact_match": 77.9, "f1": 86.1},
            "train_windows_per_second": 1912.4,
            "wall_time_s": 101,
            "loss_curve": [[i * 50, 5.5 / (1 + i)] for i in range(12)],
            "eval_per_epoch": [
                {"epoch": 1, "exact_match": 75.2, "f1": 84.0},
                {"epoch": 2, "exact_match": 77.9, "f1": 86.1},
            ],
        },
    )


def write_story(folder: Path) -> Path:
    """The snapshots' user: one document, the completed run "squad-run" made active, and settings that let every
    answer through; the document's path."""
    import os

    from tests.helpers import save_tiny_model

    Settings(threshold=0.0).save()
    doc = folder / "notes.txt"
    doc.write_text("The cat sat on the mat.\n\nThe dog ran in the park.\n\nBirds sing at dawn.\n", encoding="utf-8")
    models = Path(os.environ["ASSISTANT_MODELS_DIR"])
    model = save_tiny_model(folder / "tiny", ["the", "cat", "sat", "on", "mat", "dog", "where", "did"])
    write_squad_run(models, model, epochs=2, learning_rate=5e-5)
    (models / "ACTIVE").write_text("squad-run\n")
    return doc
