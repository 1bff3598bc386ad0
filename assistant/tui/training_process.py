"""Runs the trainer as a subprocess and turns its JSON event lines into messages; never in the UI process."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

from assistant.tui.messages import TrainingEvent, TrainingFinished, TrainingLog

TRAINER_COMMAND = [sys.executable, "-m", "trainer"]


def status_for(returncode: int) -> str:
    return {0: "completed", 130: "cancelled", 2: "failed"}.get(returncode, "crashed")


class TrainingProcess:
    """One training run in its own process group, so that Cancel stops it and its data loader workers."""

    def __init__(self, args: list[str], run_path: Path, command: list[str] | None = None) -> None:
        self.args = args
        self.run_path = run_path
        self.command = command or TRAINER_COMMAND
        self.proc: subprocess.Popen[str] | None = None
        self.log_tail: list[str] = []

    def run(self, post: Callable[[object], None]) -> None:
        """Blocking: call from a worker thread; posts TrainingEvent/TrainingLog/TrainingFinished."""
        env = dict(os.environ, PYTHONUNBUFFERED="1")
        try:
            self.proc = subprocess.Popen(
                [*self.command, *self.args, "--output", str(self.run_path), "--events-only"],
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                text=True,
                env=env,
                start_new_session=True,
                bufsize=1,
            )
        except OSError as exc:
            post(TrainingFinished(None, "crashed", -1, f"could not start the trainer: {exc}"))
            return
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            line = line.rstrip("\n")
            event = None
            if line.startswith("{"):
                try:
                    event = json.loads(line)
                except ValueError:
                    event = None
            if isinstance(event, dict) and "phase" in event:
                post(TrainingEvent(event))
            elif line.strip():
                self.log_tail = [*self.log_tail[-199:], line]
                post(TrainingLog(line))
        code = self.proc.wait()
        status = status_for(code)
        message = next((ln.removeprefix("error: ") for ln in reversed(self.log_tail) if ln.startswith("error: ")), "")
        if status == "crashed" and not message:
            message = self.log_tail[-1] if self.log_tail else f"the trainer exited with code {code}"
        post(TrainingFinished(self.run_path, status, code, message))

    def cancel(self) -> None:
        """SIGTERM to the trainer's process group: it marks the run cancelled and exits."""
        if self.proc and self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGTERM)

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None
