"""A run directory in ``models/``: settings, status, progress events and metrics, each written safely.

The owner's pid, host and a heartbeat go into run.json so that listings can tell a live run from one
that was killed; the history in events.jsonl outlives the process, so a resumed run's metrics span all.
"""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import threading
import time
from collections.abc import Iterable
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from assistant import atomic
from assistant.runs.registry import HEARTBEAT_INTERVAL_S, RunStatus, is_number, read_json_object


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
    """Owns ``models/<run>/``; only the main process of a distributed run writes."""

    def __init__(self, path: Path, writer: bool = True) -> None:
        self.path = path
        self.writer = writer
        self._run: dict[str, Any] = {}
        self._t0 = time.time()
        self._lock = threading.Lock()
        self._last_beat = 0.0
        if writer:
            path.mkdir(parents=True, exist_ok=True)
            atomic.remove_stale_temps(path)  # left by a write that a kill cut off

    @property
    def events_path(self) -> Path:
        return self.path / "events.jsonl"

    @property
    def checkpoints(self) -> Path:
        return self.path / "checkpoints"

    def load_run(self) -> dict[str, Any]:
        with self._lock:
            self._run = read_json_object(self.path / "run.json") or {}
            return dict(self._run)

    def write_run(self, **fields: Any) -> None:
        with self._lock:
            self._run.update(fields)
            if self.writer:
                atomic.write_json(self.path / "run.json", self._run)

    def set_status(self, status: RunStatus, **fields: Any) -> None:
        self.write_run(
            status=RunStatus(status).value,
            updated_at=datetime.now(timezone.utc).isoformat(timespec="seconds"),
            **fields,
        )

    def claim(self, **fields: Any) -> None:
        """Mark the run running and owned by this process (pid, host, heartbeat); a past failure's error goes."""
        with self._lock:
            self._run.pop("error", None)
        self._last_beat = time.time()
        self.set_status(
            RunStatus.RUNNING, pid=os.getpid(), hostname=socket.gethostname(), heartbeat=self._last_beat, **fields
        )

    def beat(self, force: bool = False) -> None:
        """Refresh the heartbeat, at most every HEARTBEAT_INTERVAL_S unless forced."""
        now = time.time()
        if force or now - self._last_beat >= HEARTBEAT_INTERVAL_S:
            self._last_beat = now
            self.write_run(heartbeat=round(now, 3))

    def event(self, phase: str, **fields: Any) -> dict[str, Any]:
        record = {"time": round(time.time(), 3), "elapsed_s": round(time.time() - self._t0, 2), "phase": phase}
        record.update({k: v for k, v in fields.items() if v is not None})
        if self.writer:
            atomic.append_jsonl(self.events_path, record)
        return record

    def read_events(self) -> list[dict[str, Any]]:
        """Every whole event line, from every process that has trained this run; a torn last line is skipped."""
        try:
            lines = self.events_path.read_text(encoding="utf-8", errors="replace").splitlines()
        except OSError:
            return []
        events = []
        for line in lines:
            try:
                record = json.loads(line)
            except (ValueError, RecursionError):
                continue
            if isinstance(record, dict):
                events.append(record)
        return events

    def trained_anything(self) -> bool:
        """Whether a step, checkpoint or weights exist: a failed run with none of them is not worth keeping."""
        if any(self.path.glob("*.safetensors")) or (self.checkpoints.is_dir() and any(self.checkpoints.iterdir())):
            return True
        return any(e.get("phase") == "train" and "loss" in e for e in self.read_events())

    def write_metrics(self, metrics: dict[str, Any]) -> None:
        if self.writer:
            atomic.write_json(self.path / "metrics.json", metrics)

    def write_card(self, text: str) -> None:
        if self.writer:
            atomic.write_text(self.path / "README.md", text)


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


def _checkpoint_step(path: Path) -> int | None:
    suffix = path.name.removeprefix("checkpoint-")
    return int(suffix) if suffix.isdigit() else None


def checkpoint_problem(path: Path) -> str | None:
    """Why ``path`` cannot be resumed from, or None: its trainer_state.json and weights must both be whole."""
    from safetensors import safe_open

    if read_json_object(path / "trainer_state.json") is None:
        return "trainer_state.json is missing or not a JSON object"
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
    skipped = []
    for _, path in sorted(found, reverse=True):
        problem = checkpoint_problem(path)
        if problem is None:
            return path, skipped
        skipped.append(f"{path.name} ({problem})")
    return None, skipped


def history_from_events(events: Iterable[dict[str, Any]]) -> tuple[dict[int, float], dict[int, dict[str, Any]]]:
    """Loss per step and evaluation per step over every process that trained the run.

    Each process starts with a ``train`` event holding its first step and no loss; what an earlier process
    logged after that step is dropped, since the checkpoint it resumed from predates it.
    """
    losses: dict[int, float] = {}
    evals: dict[int, dict[str, Any]] = {}
    for e in events:
        step, phase = e.get("step"), e.get("phase")
        if not isinstance(step, int) or isinstance(step, bool):
            continue
        if phase == "train" and "loss" not in e:
            losses = {s: v for s, v in losses.items() if s <= step}
            evals = {s: v for s, v in evals.items() if s <= step}
        elif phase == "train" and is_number(e["loss"]):
            losses[step] = float(e["loss"])
        elif phase == "eval" and is_number(e.get("f1")):
            evals[step] = {"epoch": e.get("epoch"), "step": step, "exact_match": e.get("exact_match"), "f1": e["f1"]}
    return losses, evals


def model_card(run: dict[str, Any], metrics: dict[str, Any]) -> str:
    ev = metrics.get("eval", {})
    lines = [
        f"# {run.get('name', 'reader')}",
        "",
        f"Extractive question-answering reader fine-tuned from `{run.get('base_model')}` on "
        f"`{run.get('train_data', {}).get('source')}` with `assistant train`.",
        "",
        "## Evaluation",
        "",
        f"- data: `{run.get('eval_data', {}).get('source')}` ({ev.get('total', '?')} questions)",
        f"- exact match: {ev.get('exact_match', float('nan')):.2f}",
        f"- F1: {ev.get('f1', float('nan')):.2f}",
    ]
    if "int8" in metrics:
        i8 = metrics["int8"]
        lines.append(
            f"- dynamic int8 on CPU: EM {i8.get('exact_match', 0):.2f}, F1 {i8.get('f1', 0):.2f} "
            f"(F1 {i8.get('f1_delta', 0):+.2f} against float)"
        )
    lines += ["", "## Training", "", "```json", json.dumps(run.get("settings", {}), indent=2), "```", ""]
    return "\n".join(lines)
