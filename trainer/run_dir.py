"""A run directory in ``models/``: settings, status, progress events and metrics, each written safely."""

from __future__ import annotations

import json
import re
import subprocess
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from assistant import atomic

STATUS_RUNNING = "running"
STATUS_COMPLETED = "completed"
STATUS_FAILED = "failed"
STATUS_CANCELLED = "cancelled"


def git_commit() -> str | None:
    root = Path(__file__).resolve().parent.parent
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
        if writer:
            path.mkdir(parents=True, exist_ok=True)

    @property
    def events_path(self) -> Path:
        return self.path / "events.jsonl"

    @property
    def checkpoints(self) -> Path:
        return self.path / "checkpoints"

    def load_run(self) -> dict[str, Any]:
        try:
            self._run = json.loads((self.path / "run.json").read_text(encoding="utf-8"))
        except (OSError, ValueError):
            self._run = {}
        return self._run

    def write_run(self, **fields: Any) -> None:
        self._run.update(fields)
        if self.writer:
            atomic.write_json(self.path / "run.json", self._run)

    def set_status(self, status: str, **fields: Any) -> None:
        self.write_run(status=status, updated_at=datetime.now(timezone.utc).isoformat(timespec="seconds"), **fields)

    def event(self, phase: str, **fields: Any) -> dict[str, Any]:
        record = {"time": round(time.time(), 3), "elapsed_s": round(time.time() - self._t0, 2), "phase": phase}
        record.update({k: v for k, v in fields.items() if v is not None})
        if self.writer:
            atomic.append_jsonl(self.events_path, record)
        return record

    def write_metrics(self, metrics: dict[str, Any]) -> None:
        if self.writer:
            atomic.write_json(self.path / "metrics.json", metrics)

    def write_card(self, text: str) -> None:
        if self.writer:
            atomic.write_text(self.path / "README.md", text)


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
