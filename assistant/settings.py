"""User settings in a TOML file in the user config directory, written atomically, and the one
resolution of what the CLI and the app use: a flag, then ``settings.toml``, then the built-in default."""

from __future__ import annotations

import math
import os
import sys
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any

import tomli_w

from assistant.core import files
from assistant.core.decoding import DecodeSettings
from assistant.core.defaults import DEFAULT_READER
from assistant.core.errors import UserError
from assistant.core.model_loading import DEVICE_WORDS, is_device
from assistant.paths import user_config_dir
from assistant.runs.registry import active_problem, active_run_path

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

_DECODE = DecodeSettings()


@dataclass
class Settings:
    model: str = ""
    """Default reader; empty means the usual resolution (ASSISTANT_MODEL, active run, hub default)."""
    top_k: int = _DECODE.top_k
    """Answers per question, at least 1."""
    threshold: float = _DECODE.min_confidence
    """Minimum confidence in [0, 1] for an answer."""
    theme: str = "textual-dark"
    int8: bool = False
    device: str = "auto"
    """Where the reader runs: auto, cpu, cuda or cuda:N (the app's --device flag, when given, wins)."""

    @classmethod
    def path(cls) -> Path:
        return user_config_dir() / "settings.toml"

    @classmethod
    def load(cls) -> Settings:
        """The saved settings; a missing or unreadable file, and every bad value in it, give the default."""
        try:
            data = tomllib.loads(files.read_text(cls.path(), files.SETTINGS))
        except (UserError, tomllib.TOMLDecodeError):  # missing, special, too large, not UTF-8, not TOML
            return cls()
        values: dict[str, Any] = {}
        for f in fields(cls):
            if f.name in data:
                value = _checked(f.name, data[f.name])
                if value is not None:
                    values[f.name] = value
        return cls(**values)

    def save(self) -> None:
        files.write_text(self.path(), tomli_w.dumps(asdict(self)))

    def problem(self) -> str | None:
        """The first value that cannot be saved, in one sentence for the user; None when every value is valid."""
        for f in fields(self):
            if _checked(f.name, getattr(self, f.name)) is None:
                return PROBLEMS[f.name]
        return None


PROBLEMS: dict[str, str] = {
    "model": "The default model must be a folder path or a hub id.",
    "top_k": "Answers per question (top-k) must be a whole number of at least 1.",
    "threshold": "The minimum confidence must be a number from 0 to 1.",
    "theme": "The theme must be the name of a theme.",
    "int8": "int8 must be on or off.",
    "device": f"The device must be {DEVICE_WORDS}.",
}
"""What each setting accepts, said when a form gives it something else."""


def form_settings(*, model: str, top_k: str, threshold: str, theme: str, int8: bool, device: str) -> Settings:
    """Settings from a form's fields; a ValueError says, in one sentence, the first value that cannot be saved."""
    try:
        whole = int(top_k.strip())
    except ValueError:
        raise ValueError(PROBLEMS["top_k"]) from None
    try:
        fraction = float(threshold.strip())
    except ValueError:
        raise ValueError(PROBLEMS["threshold"]) from None
    settings = Settings(model=model.strip(), top_k=whole, threshold=fraction, theme=theme, int8=int8, device=device)
    problem = settings.problem()
    if problem is not None:
        raise ValueError(problem)
    return settings


def _checked(name: str, value: object) -> object | None:
    """``value`` as the type setting ``name`` needs, or None when it is the wrong type or out of range."""
    if name in ("model", "theme"):
        return value if isinstance(value, str) else None
    if name == "device":
        return value if is_device(value) else None
    if name == "int8":
        return value if isinstance(value, bool) else None
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    if name == "top_k":
        return value if isinstance(value, int) and value >= 1 else None
    if name == "threshold":
        return float(value) if math.isfinite(value) and 0.0 <= value <= 1.0 else None
    return None


@dataclass(frozen=True)
class ModelChoice:
    ref: str
    source: str
    """Which rule picked it: --model, ASSISTANT_MODEL, settings.toml, active run, or default."""


def resolve_model(cli_model: str | None = None, settings: Settings | None = None) -> ModelChoice:
    """The one order for the CLI and the app: ``--model``, ``$ASSISTANT_MODEL``, ``settings.toml``,
    the active run in ``models/``, then the hub default."""
    if cli_model:
        return ModelChoice(cli_model, "--model")
    env = os.environ.get("ASSISTANT_MODEL", "").strip()
    if env:
        return ModelChoice(env, "ASSISTANT_MODEL")
    saved = (settings or Settings.load()).model.strip()
    if saved:
        return ModelChoice(saved, "settings.toml")
    problem = active_problem()
    if problem:  # answering with another reader than the one made active would be silently wrong
        raise UserError(problem)
    active = active_run_path()
    if active is not None:
        return ModelChoice(str(active), "active run")
    return ModelChoice(DEFAULT_READER, "default")


@dataclass(frozen=True)
class ReadingChoice:
    """How answers are read and filtered, each value from a flag, else ``settings.toml``, else the default."""

    top_k: int
    threshold: float
    int8: bool


def resolve_reading(
    top_k: int | None = None,
    threshold: float | None = None,
    int8: bool | None = None,
    settings: Settings | None = None,
) -> ReadingChoice:
    """Flags given (not None) win; the rest come from ``settings.toml`` (whose bad values are already defaults)."""
    saved = settings or Settings.load()
    return ReadingChoice(
        top_k=saved.top_k if top_k is None else top_k,
        threshold=saved.threshold if threshold is None else threshold,
        int8=saved.int8 if int8 is None else int8,
    )
