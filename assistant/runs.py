"""Trained runs in ``models/``: listing them with their metrics and switching the active reader."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from assistant import atomic
from assistant.errors import UserError
from assistant.paths import models_dir

ACTIVE_FILE = "ACTIVE"


@dataclass
class RunInfo:
    name: str
    path: Path
    status: str
    run: dict[str, Any] = field(default_factory=dict)
    metrics: dict[str, Any] = field(default_factory=dict)
    active: bool = False

    @property
    def has_weights(self) -> bool:
        return any(self.path.glob("*.safetensors"))

    @property
    def exact_match(self) -> float | None:
        return self.metrics.get("eval", {}).get("exact_match")

    @property
    def f1(self) -> float | None:
        return self.metrics.get("eval", {}).get("f1")


def _read_json(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def active_run_name(root: Path | None = None) -> str | None:
    root = root or models_dir()
    try:
        name = (root / ACTIVE_FILE).read_text(encoding="utf-8").strip()
    except OSError:
        return None
    return name or None


def load_run(path: Path, active_name: str | None = None) -> RunInfo:
    run = _read_json(path / "run.json")
    metrics = _read_json(path / "metrics.json")
    status = run.get("status", "completed" if (path / "config.json").exists() else "unknown")
    return RunInfo(path.name, path, status, run, metrics, active=path.name == active_name)


def list_runs(root: Path | None = None) -> list[RunInfo]:
    """Every run directory (one with run.json or config.json), newest first."""
    root = root or models_dir()
    if not root.is_dir():
        return []
    active = active_run_name(root)
    runs = [
        load_run(p, active)
        for p in root.iterdir()
        if p.is_dir() and ((p / "run.json").exists() or (p / "config.json").exists())
    ]
    runs.sort(key=lambda r: str(r.run.get("started_at", "")), reverse=True)
    return runs


def activate(name: str, root: Path | None = None) -> RunInfo:
    """Make a completed run the active reader; the pointer is replaced atomically."""
    root = root or models_dir()
    path = root / name
    if not path.is_dir():
        raise UserError(f"No run named {name!r} in {root}; `assistant models` lists them.")
    info = load_run(path)
    if info.status not in ("completed", "unknown") or not (path / "config.json").exists() or not info.has_weights:
        raise UserError(f"Run {name!r} did not complete ({info.status}) and cannot be made active.")
    atomic.write_text(root / ACTIVE_FILE, name + "\n")
    info.active = True
    return info


def active_run_path(root: Path | None = None) -> Path | None:
    root = root or models_dir()
    name = active_run_name(root)
    if name and (root / name / "config.json").exists():
        return root / name
    return None
