"""User settings in a TOML file in the user config directory, written atomically."""

from __future__ import annotations

import os
import sys
from dataclasses import asdict, dataclass, fields
from pathlib import Path

import tomli_w

from assistant import atomic
from assistant.core.defaults import DEFAULT_READER
from assistant.paths import user_config_dir
from assistant.runs.registry import active_run_path

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib


@dataclass
class Settings:
    model: str = ""
    """Default reader; empty means the usual resolution (ASSISTANT_MODEL, active run, hub default)."""
    top_k: int = 3
    threshold: float = 0.1
    theme: str = "textual-dark"
    int8: bool = False

    @classmethod
    def path(cls) -> Path:
        return user_config_dir() / "settings.toml"

    @classmethod
    def load(cls) -> Settings:
        try:
            data = tomllib.loads(cls.path().read_text(encoding="utf-8"))
        except (OSError, tomllib.TOMLDecodeError):
            return cls()
        known = {f.name: f.type for f in fields(cls)}
        values = {}
        defaults = cls()
        for key, value in data.items():
            if key in known and isinstance(value, type(getattr(defaults, key))):
                values[key] = value
        return cls(**values)

    def save(self) -> None:
        atomic.write_text(self.path(), tomli_w.dumps(asdict(self)))


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
    env = os.environ.get("ASSISTANT_MODEL")
    if env:
        return ModelChoice(env, "ASSISTANT_MODEL")
    saved = (settings or Settings.load()).model
    if saved:
        return ModelChoice(saved, "settings.toml")
    active = active_run_path()
    if active is not None:
        return ModelChoice(str(active), "active run")
    return ModelChoice(DEFAULT_READER, "default")
