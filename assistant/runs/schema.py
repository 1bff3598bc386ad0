"""The files of a run directory as typed records: run.json (``RunRecord``) and metrics.json (``RunMetrics``).

Run folders are written by processes that may be killed at any moment and are sometimes edited by hand, so
``from_json`` accepts anything: a value of the wrong type reads as missing (None or empty) and nothing raises.
``to_json`` leaves missing values out, so that a reader of the JSON can ``.get`` with its own default; keys
this module does not know are kept in ``more`` and written back unchanged.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path
from typing import Any, TypeGuard

from assistant.core import files

JsonObject = dict[str, Any]


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


def is_number(value: Any) -> TypeGuard[int | float]:
    """A finite int or float (not a bool): what a metric must be before it is formatted."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return False
    try:
        return math.isfinite(value)
    except OverflowError:  # an integer too large for a float: JSON allows it, no metric is one
        return False


def read_json_object(path: Path) -> JsonObject | None:
    """The JSON object in ``path``; None when it is missing, unreadable, special, too large, not UTF-8, not JSON or
    not an object (through the one opener: a FIFO in its place never blocks)."""
    return files.read_json_object_or_none(path, files.RECORD)


def _number(value: Any) -> int | float | None:
    return value if is_number(value) else None


def _whole(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _count(value: Any) -> int | None:
    """A whole number, also when written as one (``120.0``)."""
    if is_number(value) and float(value).is_integer():
        return int(value)
    return None


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def _flag(value: Any) -> bool | None:
    return value if isinstance(value, bool) else None


def _object(value: Any) -> JsonObject | None:
    return value if isinstance(value, dict) else None


def _present(values: JsonObject) -> JsonObject:
    """The entries that hold a value (None is left out)."""
    return {k: v for k, v in values.items() if v is not None}


# --- metrics.json ----------------------------------------------------------------------------------------------

_SCORE_KEYS = ("exact_match", "f1", "total")


@dataclass
class EvalScores:
    """What the SQuAD metric reports for one evaluation (metrics.json's ``eval`` and ``int8``)."""

    exact_match: float | None = None
    f1: float | None = None
    total: int | None = None
    more: JsonObject = field(default_factory=dict)
    """Every other figure: HasAns_f1, best_f1... (and f1_delta and how for the int8 measurement)."""

    @classmethod
    def from_json(cls, data: Any) -> EvalScores | None:
        if not isinstance(data, dict):
            return None
        more = {k: v for k, v in data.items() if k not in _SCORE_KEYS and (is_number(v) or isinstance(v, str))}
        return cls(_number(data.get("exact_match")), _number(data.get("f1")), _count(data.get("total")), more)

    def to_json(self) -> JsonObject:
        return _present({"exact_match": self.exact_match, "f1": self.f1, "total": self.total}) | self.more


@dataclass
class EpochEval:
    """One evaluation during training (the QA Trainer's ``evaluate`` at the end of an epoch)."""

    step: int | None = None
    epoch: float | None = None
    exact_match: float | None = None
    f1: float | None = None
    more: dict[str, float] = field(default_factory=dict)

    @classmethod
    def from_metrics(cls, step: int, epoch: float | None, metrics: JsonObject, prefix: str = "") -> EpochEval:
        """From a metric result, e.g. the Trainer's ``{"eval_f1": ...}`` with ``prefix="eval_"``."""
        scores = {k.removeprefix(prefix): v for k, v in metrics.items() if k.startswith(prefix) and is_number(v)}
        entry = cls.from_json(scores | {"step": step, "epoch": epoch})
        return entry if entry is not None else cls(step, epoch)

    @classmethod
    def from_json(cls, data: Any) -> EpochEval | None:
        """None for anything that is not an object holding at least one number."""
        if not isinstance(data, dict):
            return None
        known = ("step", "epoch", "exact_match", "f1")
        more = {k: v for k, v in data.items() if k not in known and is_number(v)}
        entry = cls(
            _whole(data.get("step")),
            _number(data.get("epoch")),
            _number(data.get("exact_match")),
            _number(data.get("f1")),
            more,
        )
        return entry if entry.to_json() else None

    def to_json(self) -> JsonObject:
        fields = {"epoch": self.epoch, "step": self.step, "exact_match": self.exact_match, "f1": self.f1}
        return _present(fields) | self.more


def _loss_point(value: Any) -> tuple[int, float] | None:
    if not (isinstance(value, list) and len(value) == 2 and all(map(is_number, value))):
        return None
    step, loss = value
    return (int(step), float(loss)) if float(step).is_integer() else None


_METRIC_NUMBERS = (
    "train_windows",
    "train_windows_per_second",
    "train_runtime_s",
    "wall_time_s",
    "global_step",
    "eval_examples",
)
_METRIC_KEYS = ("eval", "int8", "eval_per_epoch", "loss_curve", "eval_report", *_METRIC_NUMBERS)


@dataclass
class RunMetrics:
    """metrics.json: the final evaluation, its history over the epochs, the loss curve and throughput."""

    eval: EvalScores | None = None
    eval_per_epoch: list[EpochEval] = field(default_factory=list)
    loss_curve: list[tuple[int, float]] = field(default_factory=list)
    """(step, loss) for every logged step, over every process that trained the run."""
    train_windows: int | None = None
    train_windows_per_second: float | None = None
    train_runtime_s: float | None = None
    wall_time_s: float | None = None
    global_step: int | None = None
    eval_examples: int | None = None
    eval_report: JsonObject | None = None
    int8: EvalScores | None = None
    """The dynamic-int8 CPU reader on the same questions (``--export-int8``)."""
    more: JsonObject = field(default_factory=dict)

    @classmethod
    def from_json(cls, data: Any) -> RunMetrics:
        if not isinstance(data, dict):
            return cls()
        curve = data.get("loss_curve")
        history = data.get("eval_per_epoch")
        points = [p for p in map(_loss_point, curve) if p is not None] if isinstance(curve, list) else []
        epochs = [e for e in map(EpochEval.from_json, history) if e is not None] if isinstance(history, list) else []
        return cls(
            eval=EvalScores.from_json(data.get("eval")),
            eval_per_epoch=epochs,
            loss_curve=points,
            train_windows=_whole(data.get("train_windows")),
            train_windows_per_second=_number(data.get("train_windows_per_second")),
            train_runtime_s=_number(data.get("train_runtime_s")),
            wall_time_s=_number(data.get("wall_time_s")),
            global_step=_whole(data.get("global_step")),
            eval_examples=_whole(data.get("eval_examples")),
            eval_report=_object(data.get("eval_report")),
            int8=EvalScores.from_json(data.get("int8")),
            more={k: v for k, v in data.items() if k not in _METRIC_KEYS},
        )

    def to_json(self) -> JsonObject:
        numbers = {name: getattr(self, name) for name in _METRIC_NUMBERS}
        return (
            _present({"eval": self.eval.to_json() if self.eval is not None else None})
            | {
                "eval_per_epoch": [e.to_json() for e in self.eval_per_epoch],
                "loss_curve": [[step, loss] for step, loss in self.loss_curve],
            }
            | _present(numbers)
            | _present(
                {"eval_report": self.eval_report, "int8": self.int8.to_json() if self.int8 is not None else None}
            )
            | self.more
        )


# --- run.json --------------------------------------------------------------------------------------------------


@dataclass
class DataRecord:
    """Where a run's training or test data came from (run.json's ``train_data`` and ``eval_data``)."""

    source: str | None = None
    fingerprint: str | None = None
    examples: int | None = None
    windows: int | None = None
    """Training windows (train_data only)."""
    version_2: bool | None = None
    """Whether the test set has unanswerable questions (eval_data only)."""
    extra: list[JsonObject] = field(default_factory=list)
    """``--extra-data`` files as ``{"source", "fingerprint"}`` (train_data only)."""

    @classmethod
    def from_json(cls, data: Any) -> DataRecord | None:
        if not isinstance(data, dict):
            return None
        extra = data.get("extra")
        return cls(
            source=_text(data.get("source")),
            fingerprint=_text(data.get("fingerprint")),
            examples=_whole(data.get("examples")),
            windows=_whole(data.get("windows")),
            version_2=_flag(data.get("version_2")),
            extra=[e for e in extra if isinstance(e, dict)] if isinstance(extra, list) else [],
        )

    def to_json(self) -> JsonObject:
        return _present(
            {
                "source": self.source,
                "fingerprint": self.fingerprint,
                "extra": self.extra or None,
                "examples": self.examples,
                "windows": self.windows,
                "version_2": self.version_2,
            }
        )


_RUN_TEXT = ("name", "error", "base_model", "started_at", "updated_at", "finished_at", "hostname")
_RUN_TEXT_MORE = ("device", "device_name", "git_commit")
_RUN_KEYS = (
    *_RUN_TEXT,
    *_RUN_TEXT_MORE,
    "status",
    "settings",
    "wall_time_s",
    "pid",
    "heartbeat",
    "versions",
    "train_data",
    "eval_data",
    "data_report",
    "label_check",
)


@dataclass
class RunRecord:
    """run.json: what the run is (settings, data, versions), who owns it (pid, host, heartbeat) and how it ended."""

    name: str | None = None
    status: RunStatus | None = None
    """None when run.json records none (a plain model folder); anything not ours reads as UNKNOWN."""
    error: str | None = None
    """Why the run failed or was cancelled, in one sentence."""
    base_model: str | None = None
    settings: JsonObject = field(default_factory=dict)
    """The run's TrainConfig as saved (a plain object: older runs may hold settings that no longer exist)."""
    started_at: str | None = None
    updated_at: str | None = None
    finished_at: str | None = None
    wall_time_s: float | None = None
    pid: int | None = None
    hostname: str | None = None
    heartbeat: float | None = None
    device: str | None = None
    device_name: str | None = None
    git_commit: str | None = None
    versions: dict[str, str] = field(default_factory=dict)
    train_data: DataRecord | None = None
    eval_data: DataRecord | None = None
    data_report: JsonObject | None = None
    label_check: JsonObject | None = None
    more: JsonObject = field(default_factory=dict)

    @classmethod
    def from_json(cls, data: Any) -> RunRecord:
        if not isinstance(data, dict):
            return cls()
        texts = {name: _text(data.get(name)) for name in (*_RUN_TEXT, *_RUN_TEXT_MORE)}
        versions = _object(data.get("versions")) or {}
        return cls(
            **texts,
            status=RunStatus.parse(data["status"]) if "status" in data else None,
            settings=_object(data.get("settings")) or {},
            wall_time_s=_number(data.get("wall_time_s")),
            pid=_whole(data.get("pid")),
            heartbeat=_number(data.get("heartbeat")),
            versions={k: v for k, v in versions.items() if isinstance(v, str)},
            train_data=DataRecord.from_json(data.get("train_data")),
            eval_data=DataRecord.from_json(data.get("eval_data")),
            data_report=_object(data.get("data_report")),
            label_check=_object(data.get("label_check")),
            more={k: v for k, v in data.items() if k not in _RUN_KEYS},
        )

    def to_json(self) -> JsonObject:
        values: JsonObject = {name: getattr(self, name) for name in _RUN_KEYS}
        values["status"] = self.status.value if self.status is not None else None
        values["train_data"] = self.train_data.to_json() if self.train_data else None
        values["eval_data"] = self.eval_data.to_json() if self.eval_data else None
        return _present(values) | self.more
