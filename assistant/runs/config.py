"""A training run's settings: the one source of every option, for the trainer's CLI, the Train screen and run.json.

Each field carries its help text in ``metadata["help"]`` (and, where the flag is not the field's name with dashes,
``metadata["flag"]`` and ``metadata["aliases"]``); ``option_specs`` turns the fields into command-line options.
The app starts a run by writing this as a JSON file with ``save`` and launching
``python -m trainer --config FILE --output RUN_DIR``.
"""

from __future__ import annotations

import difflib
import json
import os
import typing
from collections.abc import Iterator
from dataclasses import Field, asdict, dataclass, field, fields, replace
from functools import cache
from pathlib import Path
from typing import Any

from assistant.core import files
from assistant.core.defaults import DEFAULT_BASE, DEFAULT_DATASET
from assistant.core.errors import UserError
from assistant.core.model_loading import DEVICE_WORDS, is_device
from assistant.core.reader import WindowSettings
from assistant.runs.schema import is_number

MIN_MAX_LENGTH = 32
"""Shorter windows leave a question of a few tokens and almost no context."""
PRECISIONS = ("auto", "bf16", "fp16", "fp32")


@dataclass
class TrainConfig:
    base_model: str = field(
        default=DEFAULT_BASE,
        metadata={"help": "base model: a hub id or a local model folder", "flag": "--base", "metavar": "MODEL"},
    )
    data: str = field(
        default=DEFAULT_DATASET,
        metadata={
            "help": "training data: a hub dataset id or a local SQuAD JSON, JSONL or CSV file",
            "metavar": "DATA",
        },
    )
    eval_data: str | None = field(
        default=None, metadata={"help": "test data (default: the official validation split)", "metavar": "DATA"}
    )
    output: str | None = field(
        default=None, metadata={"help": "run directory (default: models/<base>-<data>-<time>)", "metavar": "DIR"}
    )
    epochs: float = field(default=2.0, metadata={"help": "training epochs (a fraction is allowed)"})
    learning_rate: float = field(
        default=5e-5, metadata={"help": "peak learning rate", "flag": "--learning-rate", "aliases": ["--lr"]}
    )
    batch_size: int = field(default=32, metadata={"help": "training windows per batch and device"})
    gradient_accumulation: int = field(default=1, metadata={"help": "batches per optimizer step"})
    warmup_ratio: float = field(default=0.1, metadata={"help": "fraction of the steps that warm the learning rate up"})
    weight_decay: float = field(default=0.01, metadata={"help": "AdamW weight decay"})
    max_length: int = field(default=384, metadata={"help": "window length in tokens"})
    stride: int = field(default=128, metadata={"help": "tokens shared by consecutive windows"})
    max_train_samples: int | None = field(default=None, metadata={"help": "train on at most this many examples"})
    max_eval_samples: int | None = field(default=None, metadata={"help": "evaluate on at most this many questions"})
    max_steps: int = field(
        default=-1, metadata={"help": "stop after this many optimizer steps (-1: train for --epochs)"}
    )
    freeze_layers: int = field(default=0, metadata={"help": "freeze embeddings + first N layers (the head trains)"})
    teacher: str | None = field(
        default=None, metadata={"help": "distil from this QA model (same tokenizer)", "metavar": "MODEL"}
    )
    distill_temperature: float = field(default=2.0, metadata={"help": "softmax temperature of the distillation loss"})
    distill_alpha: float = field(
        default=0.5, metadata={"help": "weight of the SQuAD loss; 1 - alpha goes to the KL term against the teacher"}
    )
    precision: str = field(
        default="auto",
        metadata={
            "help": "auto (bf16 where supported, else fp16 on CUDA, fp32 on CPU), bf16, fp16 or fp32",
            "choices": list(PRECISIONS),
        },
    )
    device: str = field(default="auto", metadata={"help": "auto, cpu, cuda or cuda:N"})
    nproc: int = field(
        default=1,
        metadata={
            "help": "processes on this machine, one per GPU (torchrun --standalone --nproc_per_node N): --batch-size "
            "is per process; leave it out under a launcher of your own (torchrun would take it for its own flag)",
            "metavar": "N",
        },
    )
    compile: bool = field(default=False, metadata={"help": "torch.compile the model"})
    workers: int | None = field(
        default=None, metadata={"help": "data loader workers (default: 0 on CPU, up to 4 on CUDA)"}
    )
    group_by_length: bool = field(
        default=False,
        metadata={"help": "batch windows of similar length together: less padding, a less random order"},
    )
    seed: int = field(default=42, metadata={"help": "random seed (shuffling, --resplit, initialisation)"})
    resplit: bool = field(default=False, metadata={"help": "hold out --test-size of --data as the test set"})
    test_size: float = field(default=0.1, metadata={"help": "fraction of --data held out by --resplit"})
    resume: bool = field(default=False, metadata={"help": "continue --output from its last whole checkpoint"})
    save_steps: int = field(default=500, metadata={"help": "checkpoint every N steps (for --resume)"})
    logging_steps: int | None = field(
        default=None, metadata={"help": "log the loss every N steps (default: about 10 times an epoch, at most 50)"}
    )
    sanity_steps: int = field(default=50, metadata={"help": "stop if the loss has not moved after this many steps"})
    export_int8: bool = field(default=False, metadata={"help": "also measure the dynamic-int8 CPU reader's F1"})
    activate: bool = field(default=False, metadata={"help": "make the run the active reader when it completes"})
    keep_checkpoints: bool = field(default=False, metadata={"help": "keep checkpoints/ after the run completes"})
    extra_data: list[str] = field(
        default_factory=list,
        metadata={"help": "more training data, e.g. your annotations (repeatable)", "metavar": "FILE"},
    )
    replay_data: str | None = field(
        default=None,
        metadata={
            "help": "data the base reader learned from, replayed beside new data so it is not forgotten",
            "metavar": "DATA",
        },
    )
    replay_ratio: float = field(
        default=1.0, metadata={"help": "replayed questions per training question (with --replay-data)"}
    )

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

    def save(self, path: Path) -> None:
        """Write every setting as one JSON object, the file ``python -m trainer --config`` reads."""
        files.write_json(path, asdict(self))

    @classmethod
    def load(cls, path: Path) -> TrainConfig:
        """Read a config file written by ``save`` (or by hand); unknown keys and wrong types are one sentence."""
        return cls(**read_config_file(path))


# --- the fields as command-line options ------------------------------------------------------------------------


@dataclass(frozen=True)
class OptionSpec:
    """One TrainConfig field as a command-line option: its flags, value type, default and help."""

    name: str
    flags: tuple[str, ...]
    """The flag first, then its aliases."""
    kind: type
    """str, int, float or bool (for ``repeated``, the type of each item)."""
    optional: bool
    """None is a value (the field's type is ``X | None``)."""
    repeated: bool
    """A list, given by repeating the flag."""
    default: Any
    help: str
    choices: tuple[str, ...] | None = None
    metavar: str | None = None

    @property
    def flag(self) -> str:
        return self.flags[0]

    def type_problem(self, value: Any) -> str | None:
        """What ``value`` should have been, or None when it fits this option's type."""
        if value is None:
            return None if self.optional else f"{_KIND_NAMES[self.kind]}, not null"
        if self.repeated:
            ok = isinstance(value, list) and all(_fits(self.kind, v) for v in value)
            return None if ok else f"a list ({_KIND_NAMES[self.kind]} each)"
        if not _fits(self.kind, value):
            return _KIND_NAMES[self.kind]
        if self.choices is not None and value not in self.choices:
            return f"one of {', '.join(self.choices)}"
        return None


_KIND_NAMES = {str: "text", int: "a whole number", float: "a number", bool: "true or false"}


def _fits(kind: type, value: Any) -> bool:
    """Whether ``value`` is of ``kind``; a whole number is a number, a bool is neither (NaN is left to validate)."""
    if kind in (int, float) and isinstance(value, bool):
        return False
    return isinstance(value, (int, float)) if kind is float else isinstance(value, kind)


def _option_spec(f: Field[Any], hint: Any) -> OptionSpec:
    args = typing.get_args(hint)
    optional = type(None) in args
    if optional:
        hint = next(a for a in args if a is not type(None))
    repeated = typing.get_origin(hint) is list
    kind = typing.get_args(hint)[0] if repeated else hint
    if kind not in _KIND_NAMES:
        raise TypeError(f"TrainConfig.{f.name}: {hint} cannot be a command-line option")
    factory = f.default_factory
    default = factory() if callable(factory) else f.default
    flag = f.metadata.get("flag", "--" + f.name.replace("_", "-"))
    choices = f.metadata.get("choices")
    return OptionSpec(
        name=f.name,
        flags=(flag, *f.metadata.get("aliases", ())),
        kind=kind,
        optional=optional,
        repeated=repeated,
        default=default,
        help=f.metadata.get("help", ""),
        choices=tuple(choices) if choices is not None else None,
        metavar=f.metadata.get("metavar"),
    )


@cache
def option_specs() -> tuple[OptionSpec, ...]:
    """Every TrainConfig field as a command-line option, in field order."""
    hints = typing.get_type_hints(TrainConfig)
    return tuple(_option_spec(f, hints[f.name]) for f in fields(TrainConfig))


def flag(name: str) -> str:
    """The command-line flag of TrainConfig field ``name`` (``base_model`` -> ``--base``)."""
    return next(spec.flag for spec in option_specs() if spec.name == name)


CONFIG_FILE = files.FileKind("config file", 16 * files.MiB)


def read_config_file(path: Path) -> dict[str, Any]:
    """The settings in a config file, each checked against its field's type; any problem is one sentence."""
    where = f"The config file {path}"
    return checked_settings(files.parse_json(files.read_text(path, CONFIG_FILE), where, UserError), where)


def checked_settings(data: Any, where: str) -> dict[str, Any]:
    """``data`` as TrainConfig settings: an object of known settings, each of its field's type; else one sentence."""
    if not isinstance(data, dict):
        raise UserError(f"{where} must hold a JSON object of settings, not {type(data).__name__}.")
    specs = {spec.name: spec for spec in option_specs()}
    unknown = sorted(set(data) - set(specs))
    if unknown:
        guesses = [m for name in unknown for m in difflib.get_close_matches(name, specs, n=1)]
        hint = f"did you mean {', '.join(guesses)}?" if guesses else "`python -m trainer --help` lists the settings"
        raise UserError(f"{where} has unknown settings: {', '.join(map(repr, unknown))} ({hint}).")
    for name, value in data.items():
        expected = specs[name].type_problem(value)
        if expected:
            raise UserError(f"{where} sets {name} to {json.dumps(value)[:80]}; it must be {expected}.")
    return data


# --- impossible settings ---------------------------------------------------------------------------------------

_AT_LEAST_ONE = (
    "batch_size",
    "nproc",
    "gradient_accumulation",
    "save_steps",
    "sanity_steps",
    "max_train_samples",
    "max_eval_samples",
    "logging_steps",
)
_NOT_NEGATIVE = ("stride", "freeze_layers", "workers", "weight_decay", "replay_ratio")
_ABOVE_ZERO = ("epochs", "learning_rate", "distill_temperature")
_FRACTIONS = ("warmup_ratio", "distill_alpha")


def _is_whole(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _range_problems(config: TrainConfig) -> Iterator[str]:
    """Numbers out of range (None-valued optional settings pass)."""
    for name in _AT_LEAST_ONE:
        value = getattr(config, name)
        if value is not None and not (_is_whole(value) and value >= 1):
            yield f"{flag(name)} must be a whole number of at least 1 (got {value})."
    for name in _NOT_NEGATIVE:
        value = getattr(config, name)
        if value is not None and not (is_number(value) and value >= 0):
            yield f"{flag(name)} must be 0 or more (got {value})."
    for name in _ABOVE_ZERO:
        value = getattr(config, name)
        if not (is_number(value) and value > 0):
            yield f"{flag(name)} must be a finite number above 0 (got {value})."
    for name in _FRACTIONS:
        value = getattr(config, name)
        if not (is_number(value) and 0 <= value <= 1):
            yield f"{flag(name)} must be between 0 and 1 (got {value})."


MAX_PROCESSES = 256
"""The most processes ``--nproc`` starts on one machine."""
MAX_WHOLE = 2**31 - 1
"""The largest whole-number setting: past it a count means nothing here and overflows the libraries it reaches."""


def _type_problems(config: TrainConfig) -> Iterator[str]:
    for spec in option_specs():
        value = getattr(config, spec.name)
        expected = spec.type_problem(value)
        if expected:
            yield f"{spec.flag} must be {expected} (got {value!r})."
        elif spec.kind is int and _is_whole(value) and abs(value) > MAX_WHOLE and spec.name != "seed":
            yield f"{spec.flag} must be at most {MAX_WHOLE:,} (got {value})."


def _config_problems(config: TrainConfig) -> Iterator[str]:
    """One sentence per impossible setting, in flag order of importance."""
    yield from _type_problems(config)
    yield from _range_problems(config)
    if not (is_number(config.test_size) and 0 < config.test_size < 1):
        yield f"--test-size must be a fraction strictly between 0 and 1 (got {config.test_size})."
    if not (_is_whole(config.max_length) and config.max_length >= MIN_MAX_LENGTH):
        yield (
            f"--max-length must be at least {MIN_MAX_LENGTH} tokens, room for a question and its context "
            f"(got {config.max_length})."
        )
    if not (_is_whole(config.max_steps) and (config.max_steps == -1 or config.max_steps >= 1)):
        yield f"--max-steps must be at least 1, or -1 to train for --epochs (got {config.max_steps})."
    if not (_is_whole(config.seed) and 0 <= config.seed < 2**32):
        yield f"--seed must be a whole number from 0 to {2**32 - 1} (got {config.seed})."
    if not is_device(config.device):
        yield f"--device must be {DEVICE_WORDS} (got {config.device!r})."
    if _is_whole(config.nproc) and config.nproc > MAX_PROCESSES:
        yield f"--nproc must be at most {MAX_PROCESSES} processes (got {config.nproc})."
    yield from _output_problems(config.output, config.resume)
    yield from _launch_problems()


def _launch_number(name: str) -> int | None:
    value = os.environ.get(name, "").strip()
    return int(value) if value.isdecimal() else None


def launch_processes() -> int:
    """How many processes train this run together: ``WORLD_SIZE`` under torchrun or accelerate, else 1."""
    return max(1, _launch_number("WORLD_SIZE") or 1)


def visible_gpus() -> int:
    """The NVIDIA GPUs this process may use, without importing torch: the driver's list, narrowed by
    CUDA_VISIBLE_DEVICES (what decides whether the Train screen offers several processes)."""
    try:
        present = sum(1 for _ in Path("/proc/driver/nvidia/gpus").iterdir())
    except OSError:
        return 0
    chosen = os.environ.get("CUDA_VISIBLE_DEVICES")
    if chosen is None:
        return present
    return min(present, len([d for d in chosen.split(",") if d.strip() and d.strip() != "-1"]))


def writes_the_run() -> bool:
    """Whether this process writes the run folder: the only process, or rank 0 of a distributed launch (torchrun,
    accelerate); the other ranks train and read, and never touch it. Numbers are read as the launchers read them
    (``WORLD_SIZE=01`` is one process)."""
    return launch_processes() == 1 or _launch_number("RANK") in (None, 0)


def _launch_problems() -> Iterator[str]:
    """A launch's variables that no launcher set: garbage, or a WORLD_SIZE above 1 left in a shell."""
    for name in ("WORLD_SIZE", "RANK"):
        value = os.environ.get(name)
        if value is not None and _launch_number(name) is None and (name == "WORLD_SIZE" or launch_processes() > 1):
            yield f"{name} must be a whole number, as torchrun and accelerate set it (got {value!r}); unset it."
            return
    if _launch_number("WORLD_SIZE") == 0:
        yield "WORLD_SIZE must be at least 1, as torchrun and accelerate set it (got 0); unset it."
        return
    if launch_processes() > 1 and os.environ.get("RANK") is None:
        yield (
            f"WORLD_SIZE={launch_processes()} is set but RANK is not: give each process its own RANK, 0 to "
            f"{launch_processes() - 1} (torchrun and accelerate set both), or unset WORLD_SIZE."
        )
        return
    if launch_processes() > 1 and not os.environ.get("MASTER_ADDR"):
        yield (
            f"WORLD_SIZE={launch_processes()} is set but MASTER_ADDR is not: start several processes with "
            "`torchrun --nproc_per_node N -m trainer ...` (or `accelerate launch`), or unset WORLD_SIZE."
        )


def _output_problems(output: str | None, resume: bool) -> Iterator[str]:
    """--output must be a folder path: not a file, not under one, and not another run unless resuming it (asked of
    the process that writes it: the other ranks of a launch find the folder rank 0 has just made)."""
    if output is None:
        return
    if not output.strip() or "\x00" in output:
        yield f"--output must be a folder path (got {output!r})."
        return
    out = files.user_path(output)
    try:
        blocker = next((p for p in (out, *out.parents) if p.exists()), None)
        occupied = blocker == out and out.is_dir() and any(out.iterdir())
    except OSError as exc:
        yield f"--output {out} cannot be checked ({exc.strerror or exc})."
        return
    if blocker is not None and not blocker.is_dir():
        where = "is a file" if blocker == out else f"is under {blocker}, which is a file"
        yield f"--output {out} {where}; pass a folder for the run."
    elif occupied and not resume and writes_the_run():
        yield f"{out} already exists; pass --resume to continue it or choose another --output."


def resumed_config(run_path: Path) -> TrainConfig:
    """The settings run.json says a run was started with, to resume it with: ``--resume --output RUN`` needs no
    other flag, and the app's Resume none at all."""
    from assistant.runs.opening import saved_settings

    saved = saved_settings(run_path)
    base = TrainConfig(**checked_settings(saved, f"{run_path}/run.json")) if saved else TrainConfig()
    return replace(base, resume=True, output=str(run_path))
