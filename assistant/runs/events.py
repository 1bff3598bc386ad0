"""The trainer -> app channel, typed once: one progress event per line of a run's ``events.jsonl``.

The trainer writes them (``RunDirectory.event``); the trainer's progress view, the app's Train screen and its metrics
panel read them, all as ``RunEvent``. A line that is not an event (torn, foreign, an unknown phase) is skipped; a
field of the wrong type is left out, as a missing one is.
"""

from __future__ import annotations

import json
import os
import typing
from collections.abc import Iterable
from dataclasses import asdict, dataclass, fields
from enum import Enum
from pathlib import Path
from typing import Any

from assistant.core import files
from assistant.core.errors import UserError
from assistant.runs.schema import EpochEval, JsonObject, is_number

EVENTS_FILE = "events.jsonl"
POLL_BYTES = 8 * 1024 * 1024
"""A poll reads at most this much of the file; the rest comes at the next."""


class Phase(str, Enum):
    """What a run is doing; the last three end it."""

    LOAD = "load"
    PREPARE = "prepare"
    TRAIN = "train"
    EVAL = "eval"
    SAVE = "save"
    DONE = "done"
    FAILED = "failed"
    CANCELLED = "cancelled"

    def __str__(self) -> str:
        return self.value


ENDED = frozenset({Phase.DONE, Phase.FAILED, Phase.CANCELLED})


@dataclass(frozen=True)
class RunEvent:
    phase: Phase
    message: str | None = None
    step: int | None = None
    """The optimizer step: with ``total`` on training progress; an evaluation's step."""
    total: int | None = None
    loss: float | None = None
    epoch: float | None = None
    eta_s: float | None = None
    learning_rate: float | None = None
    exact_match: float | None = None
    f1: float | None = None
    windows: int | None = None
    label_rate: float | None = None
    report: JsonObject | None = None
    """The training data's validation report (``DataReport.to_json``)."""
    time: float | None = None
    elapsed_s: float | None = None

    def to_json(self) -> JsonObject:
        """The event's line: fields that are None or not finite are left out (JSON has no NaN)."""
        out: JsonObject = {}
        for name, value in asdict(self).items():
            if files.finite_or_none(value) is not None:
                out[name] = str(value) if name == "phase" else value
        return out

    @classmethod
    def from_json(cls, data: object) -> RunEvent | None:
        """The event a line holds; None when it holds none (not an object, no known phase)."""
        if not isinstance(data, dict):
            return None
        try:
            phase = Phase(data.get("phase"))
        except ValueError:
            return None
        values: dict[str, Any] = {}
        for name, kind in _FIELD_TYPES.items():
            value = data.get(name)
            if value is not None and _fits(value, kind):
                values[name] = float(value) if kind is float else value
        return cls(phase, **values)

    @property
    def is_step(self) -> bool:
        """Training progress: a step out of a total (the Train screen's bar, the panel's percentage)."""
        return self.phase is Phase.TRAIN and self.step is not None

    @property
    def scores(self) -> tuple[float, float] | None:
        """(EM, F1) when the event reports an evaluation."""
        return (self.exact_match, self.f1) if self.exact_match is not None and self.f1 is not None else None


def _field_types() -> dict[str, type]:
    """Each optional field's type (``int | None`` -> int), from the dataclass: the one definition of the format."""
    hints = typing.get_type_hints(RunEvent)
    out: dict[str, type] = {}
    for f in fields(RunEvent):
        if f.name == "phase":
            continue
        hint = hints[f.name]
        args = [a for a in typing.get_args(hint) if a is not type(None)] or [hint]
        out[f.name] = typing.get_origin(args[0]) or args[0]
    return out


def _fits(value: Any, kind: type) -> bool:
    if kind is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if kind is float:
        return is_number(value)
    return isinstance(value, kind)


_FIELD_TYPES = _field_types()


def parse_line(line: bytes | str) -> RunEvent | None:
    try:
        return RunEvent.from_json(json.loads(line))
    except (ValueError, RecursionError):
        return None


def read_events(path: Path) -> list[RunEvent]:
    """Every event in a run's events.jsonl (none when it is missing or unreadable); a torn last line is skipped."""
    try:
        lines = files.lines_of(files.read_bytes(path, files.EVENTS))
    except UserError:
        return []
    return [event for event in map(parse_line, lines) if event is not None]


class EventTail:
    """The whole event lines appended to a file since the last poll; a line still being written waits."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._offset = 0
        self._partial = b""

    def poll(self) -> list[RunEvent]:
        try:
            fd = files.open_regular(self.path, files.EVENTS)
        except UserError:  # not created yet (or not a file the trainer wrote)
            return []
        try:
            chunk = os.pread(fd, POLL_BYTES, self._offset)
        except OSError:
            return []
        finally:
            os.close(fd)
        self._offset += len(chunk)
        *lines, self._partial = (self._partial + chunk).split(b"\n")
        return [event for event in map(parse_line, lines) if event is not None]


def history_from_events(events: Iterable[RunEvent]) -> tuple[dict[int, float], dict[int, EpochEval]]:
    """Loss per step and evaluation per step over every process that trained the run.

    Each process starts with a ``train`` event holding its first step and no loss; what an earlier process
    logged after that step is dropped, since the checkpoint it resumed from predates it.
    """
    losses: dict[int, float] = {}
    evals: dict[int, EpochEval] = {}
    for e in events:
        if e.step is None:
            continue
        if e.phase is Phase.TRAIN and e.loss is None:
            losses = {s: v for s, v in losses.items() if s <= e.step}
            evals = {s: v for s, v in evals.items() if s <= e.step}
        elif e.phase is Phase.TRAIN and e.loss is not None:
            losses[e.step] = e.loss
        elif e.phase is Phase.EVAL and e.f1 is not None:
            entry = EpochEval.from_json({"epoch": e.epoch, "step": e.step, "exact_match": e.exact_match, "f1": e.f1})
            if entry is not None:
                evals[e.step] = entry
    return losses, evals
