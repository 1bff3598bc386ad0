"""Trained runs in ``models/``: listing them with their metrics and switching the active reader.

Run folders are written by processes that may be killed at any moment and are sometimes edited by hand,
so everything read here is checked: a file of the wrong shape reads as missing, a run whose process has
gone shows as ``interrupted``, and ACTIVE can only ever name a run folder inside ``models/``.
"""

from __future__ import annotations

import json
import math
import os
import shlex
import socket
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path
from typing import Any

from assistant import atomic
from assistant.core.errors import UserError
from assistant.paths import models_dir

ACTIVE_FILE = "ACTIVE"
HEARTBEAT_INTERVAL_S = 30.0
"""How often a training process rewrites its heartbeat in run.json."""
HEARTBEAT_STALE_S = 180.0
"""A heartbeat older than this means the owner is gone (or hung), even if its pid now belongs to another process."""
_MAX_ACTIVE_BYTES = 4096


class RunStatus(str, Enum):
    """The one list of run states; run.json stores the value, listings may derive INTERRUPTED from RUNNING."""

    RUNNING = "running"
    COMPLETED = "completed"
    FAILED = "failed"
    CANCELLED = "cancelled"
    INTERRUPTED = "interrupted"
    """Recorded as running, but its process is gone (killed with -9, crashed, machine rebooted)."""
    UNKNOWN = "unknown"

    def __str__(self) -> str:
        return self.value

    @classmethod
    def parse(cls, value: Any) -> RunStatus:
        """The status a run.json holds; anything that is not one of ours is UNKNOWN."""
        try:
            return cls(value)
        except ValueError:
            return cls.UNKNOWN


def is_number(value: Any) -> bool:
    """A finite int or float (not a bool): what a metric must be before it is formatted."""
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _pid_alive(pid: Any) -> bool:
    if not isinstance(pid, int) or isinstance(pid, bool) or pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except PermissionError:  # it exists, owned by someone else
        return True
    except (OSError, OverflowError):
        return False
    return True


def owner_alive(run: Mapping[str, Any], now: float | None = None) -> bool:
    """Whether the process recorded in run.json is still there: a fresh heartbeat and, on this host, a live pid.

    On another host (a shared models folder) the pid cannot be probed, so the heartbeat alone decides.
    """
    heartbeat = run.get("heartbeat")
    if not is_number(heartbeat) or (now if now is not None else time.time()) - heartbeat > HEARTBEAT_STALE_S:
        return False
    host = run.get("hostname")
    if host != socket.gethostname():
        return isinstance(host, str) and bool(host)
    return _pid_alive(run.get("pid"))


def derive_status(run: Mapping[str, Any], path: Path) -> RunStatus:
    """The status to show for a run: run.json's, except that a run whose owner has gone is INTERRUPTED."""
    if "status" not in run:
        return RunStatus.COMPLETED if (path / "config.json").is_file() else RunStatus.UNKNOWN
    status = RunStatus.parse(run["status"])
    if status is RunStatus.RUNNING and not owner_alive(run):
        return RunStatus.INTERRUPTED
    return status


def resume_hint(path: Path, settings: Mapping[str, Any]) -> str:
    """The command that continues an interrupted run (the flags that pick model and data, then the rest)."""
    parts = ["assistant", "train", "--resume", "--output", str(path)]
    for key, flag in (("base_model", "--base"), ("data", "--data"), ("eval_data", "--eval-data")):
        value = settings.get(key)
        if isinstance(value, str) and value:
            parts += [flag, value]
    return f"resume with: {shlex.join(parts)} ... (the other flags as in run.json's settings)"


@dataclass
class RunInfo:
    name: str
    path: Path
    status: RunStatus
    run: dict[str, Any] = field(default_factory=dict)
    metrics: dict[str, Any] = field(default_factory=dict)
    active: bool = False

    @property
    def has_weights(self) -> bool:
        return any(self.path.glob("*.safetensors"))

    def _eval(self, key: str) -> float | None:
        value = self.metrics.get("eval", {}).get(key)
        return value if is_number(value) else None

    @property
    def exact_match(self) -> float | None:
        return self._eval("exact_match")

    @property
    def f1(self) -> float | None:
        return self._eval("f1")

    @property
    def base_model(self) -> str | None:
        value = self.run.get("base_model")
        return value if isinstance(value, str) else None

    @property
    def hint(self) -> str | None:
        """What to do about the run, for listings: only interrupted runs need it."""
        if self.status is RunStatus.INTERRUPTED:
            return resume_hint(self.path, self.run.get("settings", {}))
        return None


def read_json_object(path: Path) -> dict[str, Any] | None:
    """The JSON object in ``path``; None when it is missing, unreadable, not UTF-8, not JSON or not an object."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError, RecursionError):
        return None
    return data if isinstance(data, dict) else None


_RUN_OBJECTS = ("settings", "train_data", "eval_data", "versions", "data_report", "label_check")
_NUMERIC_METRICS = (
    "train_windows",
    "train_windows_per_second",
    "train_runtime_s",
    "wall_time_s",
    "global_step",
    "eval_examples",
)


def _clean_run(run: dict[str, Any]) -> dict[str, Any]:
    """Drop nested entries of the wrong type, so that readers of ``info.run`` can call ``.get`` on them."""
    return {k: v for k, v in run.items() if k not in _RUN_OBJECTS or isinstance(v, dict)}


def _clean_epoch(entry: Any) -> dict[str, Any] | None:
    if not isinstance(entry, dict):
        return None
    return {k: v for k, v in entry.items() if is_number(v)}


def _clean_metrics(metrics: dict[str, Any]) -> dict[str, Any]:
    """Keep only well-formed metrics: numbers where numbers go, [step, loss] pairs in the loss curve."""
    clean = {k: v for k, v in metrics.items() if k not in _NUMERIC_METRICS or is_number(v)}
    for key in ("eval", "int8"):
        if key in clean and not isinstance(clean[key], dict):
            del clean[key]
    curve = clean.get("loss_curve")
    if curve is not None:
        ok = isinstance(curve, list)
        clean["loss_curve"] = (
            [p for p in curve if isinstance(p, list) and len(p) == 2 and all(map(is_number, p))] if ok else []
        )
    history = clean.get("eval_per_epoch")
    if history is not None:
        entries = [_clean_epoch(e) for e in history] if isinstance(history, list) else []
        clean["eval_per_epoch"] = [e for e in entries if e]
    return clean


def load_run(path: Path, active_name: str | None = None) -> RunInfo:
    """A run folder as listings show it; files of the wrong shape read as empty, never raise."""
    run = _clean_run(read_json_object(path / "run.json") or {})
    metrics = _clean_metrics(read_json_object(path / "metrics.json") or {})
    return RunInfo(path.name, path, derive_status(run, path), run, metrics, active=path.name == active_name)


def _name_problem(name: str) -> str | None:
    """Why ``name`` is not a run name (one folder name, no path), or None."""
    if not name.strip():
        return "the run name is empty"
    if "\x00" in name:
        return "a run name cannot hold a NUL character"
    try:
        name.encode("utf-8")
    except UnicodeEncodeError:
        return "a run name must be valid UTF-8"
    if "/" in name or "\\" in name or name in (".", "..") or os.path.isabs(name):
        return "a run name is one folder name inside the models folder, not a path"
    return None


def run_folder(name: str, root: Path | None = None) -> Path:
    """The folder of run ``name``: an existing directory in ``root`` that stays inside it after resolving links."""
    root = root or models_dir()
    problem = _name_problem(name)
    if problem:
        raise UserError(f"{problem[0].upper()}{problem[1:]} (got {name!r}); `assistant models` lists the runs.")
    path = root / name
    if not path.is_dir():
        raise UserError(f"No run named {name!r} in {root}; `assistant models` lists the runs.")
    try:
        real, real_root = path.resolve(strict=True), root.resolve(strict=True)
    except (OSError, RuntimeError):
        real, real_root = None, None
    if real is None or real_root is None or real == real_root or not real.is_relative_to(real_root):
        raise UserError(f"Run {name!r} leads outside {root} (a link?); only runs inside it can be made active.")
    return path


def activation_problem(info: RunInfo) -> str | None:
    """Why a run cannot be the active reader, or None: only completed runs with a config and weights can."""
    if info.status is not RunStatus.COMPLETED:
        extra = f"; {info.hint}" if info.hint else ""
        return f"it is {info.status}, not completed{extra}"
    if read_json_object(info.path / "config.json") is None:
        return "its config.json is missing or not a JSON object"
    if not info.has_weights:
        return "it has no weights (*.safetensors)"
    return None


def activate(name: str, root: Path | None = None) -> RunInfo:
    """Make a completed run the active reader; the pointer is replaced atomically."""
    root = root or models_dir()
    info = load_run(run_folder(name, root))
    problem = activation_problem(info)
    if problem:
        raise UserError(f"Run {name!r} cannot be made active: {problem}.")
    atomic.write_text(root / ACTIVE_FILE, name + "\n")
    info.active = True
    return info


def active_run_name(root: Path | None = None) -> str | None:
    """The run ACTIVE names, if it is a valid run name inside ``root``; garbage or a path outside reads as none."""
    root = root or models_dir()
    try:
        with open(root / ACTIVE_FILE, "rb") as fh:
            raw = fh.read(_MAX_ACTIVE_BYTES + 1)
    except OSError:
        return None
    try:
        name = raw.decode("utf-8").strip()
    except UnicodeDecodeError:
        return None
    if len(raw) > _MAX_ACTIVE_BYTES or not name:
        return None
    try:
        run_folder(name, root)
    except UserError:
        return None
    return name


def active_run_path(root: Path | None = None) -> Path | None:
    """The active run's folder, checked as at activation (inside ``root``, a config.json object), else None."""
    root = root or models_dir()
    name = active_run_name(root)
    if name and read_json_object(root / name / "config.json") is not None:
        return root / name
    return None


def list_runs(root: Path | None = None) -> list[RunInfo]:
    """Every run directory (one with run.json or config.json), newest first."""
    root = root or models_dir()
    try:
        entries = list(root.iterdir()) if root.is_dir() else []
    except OSError:
        return []
    active = active_run_name(root)
    runs = [
        load_run(p, active)
        for p in entries
        if p.is_dir() and ((p / "run.json").exists() or (p / "config.json").exists())
    ]
    runs.sort(key=lambda r: str(r.run.get("started_at", "")), reverse=True)
    return runs
