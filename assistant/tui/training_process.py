"""Runs the trainer as a subprocess and follows its run directory; never in the UI process.

The run's settings go to the trainer as a config file (``python -m trainer --config FILE --output RUN``).
Progress is read from ``RUN/events.jsonl`` as the trainer appends to it, and the outcome from ``RUN/run.json``
once it exits. Its stdout and stderr are only kept as a log tail, shown when it crashed.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import tempfile
import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import IO, TYPE_CHECKING

from textual.message import Message

from assistant.core import files
from assistant.runs.directory import request_cancel
from assistant.runs.events import EVENTS_FILE, EventTail
from assistant.runs.registry import RunStatus, load_run
from assistant.tui.messages import TrainingEvent, TrainingFinished, TrainingOutcome

if TYPE_CHECKING:  # the config imports torch: only its type is needed here
    from assistant.runs.config import TrainConfig

TRAINER_COMMAND = [sys.executable, "-m", "trainer"]
POLL_S = 0.25
"""How often events.jsonl is read while the trainer runs."""
LOG_TAIL_LINES = 40


SHELL_HINTS = ("make it the active reader:",)
"""The trainer CLI's advice for a shell (``assistant models activate RUN``): the app asks instead, so never shows it."""


def log_tail(log: IO[bytes], lines: int = LOG_TAIL_LINES) -> list[str]:
    """The last non-empty lines written to ``log`` (the trainer's stdout and stderr), less its shell hints."""
    log.seek(0)
    text = log.read().decode("utf-8", errors="replace")
    kept = [line.rstrip() for line in text.splitlines() if line.strip()]
    return [line for line in kept if not line.strip().startswith(SHELL_HINTS)][-lines:]


def _stamp(run_path: Path) -> int | None:
    """When run.json was last written (None: there is none)."""
    try:
        return (run_path / "run.json").stat().st_mtime_ns
    except OSError:
        return None


def outcome(run_path: Path, returncode: int, tail: list[str], before: int | None = None) -> TrainingFinished:
    """How the run ended, from its run.json: what the trainer recorded, else (no end recorded) a crash. A run.json
    the trainer never wrote (``before``: its stamp at the start; a resumed run's old "cancelled") records nothing."""
    written = (run_path / "run.json").is_file() and (before is None or _stamp(run_path) != before)
    info = load_run(run_path) if written else None
    status = info.status if info is not None else RunStatus.UNKNOWN
    if status is RunStatus.COMPLETED:
        return TrainingFinished(run_path, TrainingOutcome.COMPLETED, returncode, log_tail=tail)
    if status is RunStatus.CANCELLED:
        return TrainingFinished(run_path, TrainingOutcome.CANCELLED, returncode, log_tail=tail)
    if status is RunStatus.FAILED and info is not None:
        message = info.record.error or f"the trainer exited with code {returncode}"
        return TrainingFinished(run_path, TrainingOutcome.FAILED, returncode, message, tail)
    message = tail[-1] if tail else f"the trainer exited with code {returncode}"
    return TrainingFinished(run_path, TrainingOutcome.CRASHED, returncode, message, tail)


class TrainingProcess:
    """One training run in its own process group, so that Cancel stops it and its data loader workers."""

    def __init__(self, config: TrainConfig, run_path: Path, command: Sequence[str] | None = None) -> None:
        self.config = config
        self.run_path = run_path
        self.config_path = run_path.parent / f".{run_path.name}.config.json"
        self.command = list(command or TRAINER_COMMAND)
        self.proc: subprocess.Popen[bytes] | None = None
        self._before: int | None = None
        self._cancelled = threading.Event()

    @property
    def argv(self) -> list[str]:
        return [*self.command, "--config", str(self.config_path), "--output", str(self.run_path)]

    def run(self, post: Callable[[Message], object]) -> None:
        """Blocking: call from a worker thread; posts TrainingEvent while it runs, then one TrainingFinished."""
        try:
            self.config.save(self.config_path)
        except files.WRITE_ERRORS as exc:
            message = f"could not write the run's settings: {files.write_problem(exc)}"
            post(TrainingFinished(None, TrainingOutcome.CRASHED, -1, message))
            return
        try:
            with tempfile.TemporaryFile() as log:
                finished = self._follow(log, post)
        finally:
            self.cancel()  # a no-op once it has exited; stops it if following it raised
            self.config_path.unlink(missing_ok=True)
        post(finished)

    def _follow(self, log: IO[bytes], post: Callable[[Message], object]) -> TrainingFinished:
        self._before = _stamp(self.run_path)  # a resumed run's run.json already says how it ended last time
        try:
            self.proc = subprocess.Popen(
                self.argv,
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                env=dict(os.environ, PYTHONUNBUFFERED="1"),
                start_new_session=True,
            )
        except OSError as exc:
            return TrainingFinished(None, TrainingOutcome.CRASHED, -1, f"could not start the trainer: {exc}")
        if self._cancelled.is_set():  # Cancel came before the process existed
            self.cancel()
        events = EventTail(self.run_path / EVENTS_FILE)
        before = self._before
        while True:
            exited = self._wait(POLL_S)
            for event in events.poll():  # after the exit check, so that the last events are read too
                post(TrainingEvent(event))
            if exited:
                break
        return outcome(self.run_path, self.proc.returncode, log_tail(log), before)

    def _wait(self, seconds: float) -> bool:
        assert self.proc is not None
        try:
            self.proc.wait(timeout=seconds)
        except subprocess.TimeoutExpired:
            return False
        return True

    def cancel(self) -> None:
        """SIGTERM to the trainer's process group, said first to be the user's: it marks the run cancelled and exits
        (a launch's processes take a SIGTERM alone for their launcher's stop)."""
        self._cancelled.set()
        if self.proc and self.proc.poll() is None:
            request_cancel(self.run_path)
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(self.proc.pid, signal.SIGTERM)

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None
