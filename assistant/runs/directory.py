"""A run directory in ``models/``: settings, status, progress events and metrics, each written safely.

The owner's pid, host and a heartbeat go into run.json so that listings can tell a live run from one
that was killed; the history in events.jsonl outlives the process, so a resumed run's metrics span all.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import socket
import subprocess
import threading
import time
from dataclasses import replace
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from assistant.core import files, ownership
from assistant.core.errors import UserError
from assistant.runs.events import EVENTS_FILE, Phase, RunEvent, read_events
from assistant.runs.registry import HEARTBEAT_INTERVAL_S, RUN_KIND
from assistant.runs.schema import (
    EvalScores,
    RunMetrics,
    RunRecord,
    RunStatus,
    is_number,
    read_json_object,
)


def git_commit() -> str | None:
    root = Path(__file__).resolve().parents[2]
    try:
        out = subprocess.run(["git", "rev-parse", "HEAD"], cwd=root, capture_output=True, text=True, timeout=5)
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() or None if out.returncode == 0 else None


def default_run_name(base: str, data: str) -> str:
    def short(s: str) -> str:
        return re.sub(r"[^A-Za-z0-9]+", "-", Path(s).stem.split("/")[-1]).strip("-")[:24] or "model"

    return f"{short(base)}-{short(data)}-{datetime.now().strftime('%Y%m%d-%H%M%S')}"


class RunDirectory:
    """Writes ``models/<run>/``; only the main process of a distributed run writes, under the folder's lock.

    Made by :mod:`assistant.runs.opening`, which checks that the folder is a run this program owns first.
    """

    def __init__(self, path: Path, writer: bool = True) -> None:
        self.path = path
        self.writer = writer
        self.lock = ownership.FolderLock(path)
        """Held by the writer from opening to :meth:`close`: one writer per run folder."""
        self.created = False
        """Whether this process made the folder (not an empty one it was given): only then may it remove it."""
        self._run = RunRecord()
        self._t0 = time.time()
        self._lock = threading.Lock()
        self._last_beat = 0.0

    def close(self) -> None:
        """Let another process open the run (the lock also goes with this process, however it ends)."""
        self.lock.release()

    @property
    def events_path(self) -> Path:
        return self.path / EVENTS_FILE

    @property
    def checkpoints(self) -> Path:
        return self.path / "checkpoints"

    def load_run(self) -> RunRecord:
        """run.json as it is on disk now; later writes start from it."""
        with self._lock:
            self._run = RunRecord.from_json(read_json_object(self.path / "run.json"))
            return replace(self._run)

    @property
    def record(self) -> RunRecord:
        """run.json as this process last wrote it."""
        with self._lock:
            return replace(self._run)

    def write_run(self, **changes: Any) -> None:
        """Set fields of run.json (names of ``RunRecord``'s fields) and write it atomically."""
        with self._lock:
            self._run = replace(self._run, **changes)
            if self.writer:
                files.write_json(self.path / "run.json", self._run.to_json())

    def set_status(self, status: RunStatus, **changes: Any) -> None:
        self.write_run(
            status=RunStatus(status),
            updated_at=datetime.now(timezone.utc).isoformat(timespec="seconds"),
            **changes,
        )

    def claim(self, **changes: Any) -> None:
        """Mark the run running and owned by this process (pid, host, heartbeat); a past failure's error goes."""
        self._last_beat = time.time()
        self.set_status(
            RunStatus.RUNNING,
            error=None,
            pid=os.getpid(),
            hostname=socket.gethostname(),
            heartbeat=self._last_beat,
            **changes,
        )

    def beat(self, force: bool = False) -> None:
        """Refresh the heartbeat, at most every HEARTBEAT_INTERVAL_S unless forced."""
        now = time.time()
        if force or now - self._last_beat >= HEARTBEAT_INTERVAL_S:
            self._last_beat = now
            self.write_run(heartbeat=round(now, 3))

    def event(self, phase: Phase, **fields: Any) -> RunEvent:
        """Append one progress event to events.jsonl and return it (a field that is not an event's is a TypeError:
        the format is ``RunEvent``). A number that is not finite (a NaN loss) is left out: JSON has no NaN, and the
        run's sanity check reports it in words."""
        now = time.time()
        event = RunEvent(phase, time=round(now, 3), elapsed_s=round(now - self._t0, 2), **fields)
        if self.writer:
            files.append_json(self.events_path, event.to_json())
        return event

    def read_events(self) -> list[RunEvent]:
        """Every event, from every process that has trained this run; a torn last line is skipped."""
        return read_events(self.events_path)

    def trained_anything(self) -> bool:
        """Whether a step, checkpoint or weights exist: a failed run with none of them is not worth keeping."""
        if any(self.path.glob("*.safetensors")) or (self.checkpoints.is_dir() and any(self.checkpoints.iterdir())):
            return True
        return any(e.phase is Phase.TRAIN and e.loss is not None for e in self.read_events())

    def write_metrics(self, metrics: RunMetrics) -> None:
        if self.writer:
            files.write_json(self.path / "metrics.json", metrics.to_json())

    def write_card(self, text: str) -> None:
        if self.writer:
            files.write_text(self.path / "README.md", text)


class Heartbeat:
    """A daemon thread that refreshes run.json's heartbeat while the process loads, trains and evaluates."""

    def __init__(self, run: RunDirectory, interval: float = HEARTBEAT_INTERVAL_S) -> None:
        self.run = run
        self.interval = interval
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        if self.run.writer and self._thread is None:
            self._thread = threading.Thread(target=self._loop, name="run-heartbeat", daemon=True)
            self._thread.start()

    def _loop(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                self.run.beat(force=True)
            except OSError:  # a full disk must not kill training; the next beat retries
                continue

    def stop(self) -> None:
        """Stop and wait, so that no beat rewrites run.json (or recreates the folder) afterwards."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
            self._thread = None


CANCEL_REQUEST = ".cancel-requested"
"""Left by the app in a run it is about to cancel, before its SIGTERM: a launch's process then knows the signal is
the user's cancel, where a SIGTERM alone is its launcher's or a scheduler's stop (the run is then interrupted)."""


def request_cancel(run: Path) -> None:
    """Say, in the run's own folder, that the user cancels it (nothing is written into a folder not a run's)."""
    if ownership.is_ours(run, RUN_KIND):
        with contextlib.suppress(OSError, UserError):
            files.write_text(run / CANCEL_REQUEST, "", follow=False)


def cancel_requested(run: Path) -> bool:
    """Whether the user asked to cancel the run (for the processes of a launch that do not write it: they look)."""
    return os.path.lexists(run / CANCEL_REQUEST)


def take_cancel_request(run: Path) -> bool:
    """Whether the user asked to cancel the run since it last started, using the request up (the process that
    writes the run)."""
    try:
        os.unlink(run / CANCEL_REQUEST)
    except OSError:
        return False
    return True


def _checkpoint_step(path: Path) -> int | None:
    suffix = path.name.removeprefix("checkpoint-")
    return int(suffix) if suffix.isdigit() else None


def checkpoint_problem(path: Path) -> str | None:
    """Why ``path`` cannot be resumed from, or None: its trainer_state.json and weights must both be whole."""
    from safetensors import safe_open

    if read_json_object(path / "trainer_state.json") is None:
        return "trainer_state.json is missing or not a JSON object"
    try:
        special = [p.name for p in path.iterdir() if not (p.is_file() or p.is_dir())]
    except OSError as exc:
        return f"it cannot be read ({exc.strerror or exc})"
    if special:
        return f"{special[0]} is not a regular file"
    weights = path / "model.safetensors"
    try:
        with safe_open(str(weights), framework="pt") as fh:
            fh.keys()
    except Exception:  # safetensors raises its own error types for a torn or foreign file
        return "model.safetensors is missing or unreadable"
    return None


def resumable_checkpoint(checkpoints: Path) -> tuple[Path | None, list[str]]:
    """The newest whole checkpoint, and a note for each newer one skipped as broken."""
    try:
        found = [(step, p) for p in checkpoints.glob("checkpoint-*") if (step := _checkpoint_step(p)) is not None]
    except OSError:
        return None, []
    skipped: list[str] = []
    for _, path in sorted(found, reverse=True):
        problem = checkpoint_problem(path)
        if problem is None:
            return path, skipped
        skipped.append(f"{path.name} ({problem})")
    return None, skipped


def _score(value: float | None) -> str:
    return f"{value:.2f}" if value is not None else "?"


def model_card(run: RunRecord, metrics: RunMetrics) -> str:
    ev = metrics.eval or EvalScores()
    lines = [
        f"# {run.name or 'reader'}",
        "",
        f"Extractive question-answering reader fine-tuned from `{run.base_model}` on "
        f"`{run.train_data.source if run.train_data else None}` with `assistant train`.",
        "",
        "## Evaluation",
        "",
        f"- data: `{run.eval_data.source if run.eval_data else None}` ({ev.total if ev.total is not None else '?'} "
        "questions)",
        f"- exact match: {_score(ev.exact_match)}",
        f"- F1: {_score(ev.f1)}",
    ]
    if metrics.int8 is not None:
        i8 = metrics.int8
        delta = i8.more.get("f1_delta", 0)
        lines.append(
            f"- dynamic int8 on CPU: EM {_score(i8.exact_match)}, F1 {_score(i8.f1)} "
            f"(F1 {delta if is_number(delta) else 0:+.2f} against float)"
        )
    lines += ["", "## Training", "", "```json", json.dumps(run.settings, indent=2), "```", ""]
    return "\n".join(lines)
