"""A training run's settings: the one source of every option, for the trainer's CLI, the Train screen and run.json.

The app starts a run by writing this as a JSON file and launching ``python -m trainer --config FILE``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

from assistant import atomic
from assistant.core.defaults import DEFAULT_BASE, DEFAULT_DATASET
from assistant.core.errors import UserError
from assistant.core.reader import WindowSettings
from assistant.runs.registry import is_number

MIN_MAX_LENGTH = 32
"""Shorter windows leave a question of a few tokens and almost no context."""
_DEVICE_PATTERN = re.compile(r"auto|cpu|cuda(:\d+)?")


@dataclass
class TrainConfig:
    base_model: str = DEFAULT_BASE
    data: str = DEFAULT_DATASET
    eval_data: str | None = None
    output: str | None = None
    """Run directory; default ``models/<base>-<data>-<time>``."""
    epochs: float = 2.0
    learning_rate: float = 5e-5
    batch_size: int = 32
    gradient_accumulation: int = 1
    warmup_ratio: float = 0.1
    weight_decay: float = 0.01
    max_length: int = 384
    stride: int = 128
    max_train_samples: int | None = None
    max_eval_samples: int | None = None
    max_steps: int = -1
    freeze_layers: int = 0
    teacher: str | None = None
    distill_temperature: float = 2.0
    distill_alpha: float = 0.5
    """Weight of the SQuAD loss; ``1 - alpha`` goes to the KL term against the teacher."""
    precision: str = "auto"
    """auto (bf16 where supported, else fp16 on CUDA, fp32 on CPU), bf16, fp16 or fp32."""
    device: str = "auto"
    compile: bool = False
    workers: int | None = None
    seed: int = 42
    resplit: bool = False
    test_size: float = 0.1
    resume: bool = False
    save_steps: int = 500
    logging_steps: int | None = None
    sanity_steps: int = 50
    export_int8: bool = False
    activate: bool = False
    keep_checkpoints: bool = False
    extra_data: list[str] = field(default_factory=list)
    """More training files (e.g. the TUI's annotations) added to ``data``."""

    @property
    def window(self) -> WindowSettings:
        return WindowSettings(
            max_length=self.max_length, stride=self.stride, max_question_tokens=min(64, self.max_length // 4)
        )

    def validate(self) -> None:
        """Refuse impossible settings in one sentence before any model or data is loaded.

        They used to fail deep inside the Trainer with a traceback or, worse (``--epochs 0``), "complete" an
        untrained run that could then be made the active reader.
        """
        problem = next(_config_problems(self), None)
        if problem:
            raise UserError(problem)


_AT_LEAST_ONE = {
    "batch_size": "--batch-size",
    "gradient_accumulation": "--gradient-accumulation",
    "save_steps": "--save-steps",
    "sanity_steps": "--sanity-steps",
    "max_train_samples": "--max-train-samples",
    "max_eval_samples": "--max-eval-samples",
    "logging_steps": "--logging-steps",
}
_NOT_NEGATIVE = {
    "stride": "--stride",
    "freeze_layers": "--freeze-layers",
    "workers": "--workers",
    "weight_decay": "--weight-decay",
}
_ABOVE_ZERO = {"epochs": "--epochs", "learning_rate": "--learning-rate", "distill_temperature": "--distill-temperature"}
_FRACTIONS = {"warmup_ratio": "--warmup-ratio", "distill_alpha": "--distill-alpha"}


def _is_whole(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _config_problems(config: TrainConfig) -> Iterator[str]:
    """One sentence per impossible setting, in flag order of importance (None-valued optional flags pass)."""
    for name, flag in _AT_LEAST_ONE.items():
        value = getattr(config, name)
        if value is not None and not (_is_whole(value) and value >= 1):
            yield f"{flag} must be a whole number of at least 1 (got {value})."
    for name, flag in _NOT_NEGATIVE.items():
        value = getattr(config, name)
        if value is not None and not (is_number(value) and value >= 0):
            yield f"{flag} must be 0 or more (got {value})."
    for name, flag in _ABOVE_ZERO.items():
        value = getattr(config, name)
        if not (is_number(value) and value > 0):
            yield f"{flag} must be a finite number above 0 (got {value})."
    for name, flag in _FRACTIONS.items():
        value = getattr(config, name)
        if not (is_number(value) and 0 <= value <= 1):
            yield f"{flag} must be between 0 and 1 (got {value})."
    if not (is_number(config.test_size) and 0 < config.test_size < 1):
        yield f"--test-size must be a fraction strictly between 0 and 1 (got {config.test_size})."
    if not (_is_whole(config.max_length) and config.max_length >= MIN_MAX_LENGTH):
        yield (
            f"--max-length must be at least {MIN_MAX_LENGTH} tokens, room for a question and its context "
            f"(got {config.max_length})."
        )
    if not (_is_whole(config.max_steps) and (config.max_steps == -1 or config.max_steps >= 1)):
        yield f"--max-steps must be at least 1, or -1 to train for --epochs (got {config.max_steps})."
    if not _DEVICE_PATTERN.fullmatch(str(config.device)):
        yield f"--device must be auto, cpu, cuda or cuda:N (got {config.device!r})."
    yield from _output_problems(config.output, config.resume)


def _output_problems(output: str | None, resume: bool) -> Iterator[str]:
    """--output must be a folder path: not a file, not under one, and not another run unless resuming it."""
    if output is None:
        return
    if not output.strip() or "\x00" in output:
        yield f"--output must be a folder path (got {output!r})."
        return
    out = Path(output).expanduser()
    try:
        blocker = next((p for p in (out, *out.parents) if p.exists()), None)
        occupied = blocker == out and out.is_dir() and any(out.iterdir())
    except OSError as exc:
        yield f"--output {out} cannot be checked ({exc.strerror or exc})."
        return
    if blocker is not None and not blocker.is_dir():
        where = "is a file" if blocker == out else f"is under {blocker}, which is a file"
        yield f"--output {out} {where}; pass a folder for the run."
    elif occupied and not resume:
        yield f"{out} already exists; pass --resume to continue it or choose another --output."

    def save(self, path: Path) -> None:
        atomic.write_json(path, asdict(self))

    @classmethod
    def load(cls, path: Path) -> TrainConfig:
        """Read a config file written by ``save`` (or by hand); unknown keys and wrong types are one sentence."""
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError, RecursionError) as exc:
            raise UserError(f"The config file {path} could not be read as JSON ({exc}).") from None
        if not isinstance(data, dict):
            raise UserError(f"The config file {path} must hold a JSON object of settings.")
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise UserError(f"The config file {path} has unknown settings: {', '.join(unknown)}.")
        try:
            return cls(**data)
        except TypeError as exc:
            raise UserError(f"The config file {path} does not fit the settings ({exc}).") from None
