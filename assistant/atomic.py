"""Atomic file writes: a crash leaves either the old file or the new one, never half of each."""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any


def write_text(path: Path, text: str) -> None:
    """Write to a hidden ``.<name>.*.tmp`` next to ``path``, fsync, then rename over it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_json(path: Path, data: Any) -> None:
    write_text(path, json.dumps(data, indent=2, ensure_ascii=False, default=str) + "\n")


def append_jsonl(path: Path, record: Any) -> None:
    """Append one line; a line is written whole with one write call and flushed."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a", encoding="utf-8") as fh:
        fh.write(json.dumps(record, ensure_ascii=False, default=str) + "\n")
        fh.flush()


def remove_stale_temps(directory: Path) -> list[Path]:
    """Delete the ``.<name>.*.tmp`` files that writes killed before their rename left in ``directory``.

    Call it only when this process owns the folder (e.g. a run being opened again): a live writer's
    temp file would go too.
    """
    removed = []
    try:
        candidates = [p for p in directory.glob(".*.tmp") if p.is_file()]
    except OSError:
        return []
    for path in candidates:
        try:
            path.unlink()
        except OSError:  # gone already, or not ours to delete
            continue
        removed.append(path)
    return removed
