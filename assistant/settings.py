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

from assistant import atomic
from assistant.core.decoding import DecodeSettings
from assistant.core.defaults import DEFAULT_READER
from assistant.paths import user_config_dir
from assistant.runs.registry import active_run_path

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

    @classmethod
    def path(cls) -> Path:
        return user_config_dir() / "settings.toml"

    @classmethod
    def load(cls) -> Settings:
        """The saved settings; a missing or unreadable file, and every bad value in it, give the default."""
        try:
            data = tomllib.loads(cls.path().read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError):
            return cls()
        values: dict[str, Any] = {}
        for f in fields(cls):
            if f.name in data:
                value = _checked(f.name, data[f.name])
                if value is not None:
                    values[f.name] = value
        return cls(**values)

    def save(self) -> None:
        atomic.write_text(self.path(), tomli_w.dumps(asdict(self)))


def _checked(name: str, value: object) -> object | None:
    """``value`` as the type setting ``name`` needs, or None when it is the wrong type or out of range."""
    if name in ("model", "theme"):
        return value if isinstance(value, str) else None
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
