"""User settings in a TOML file in the user config directory, written atomically."""

from __future__ import annotations

import sys
from dataclasses import asdict, dataclass, fields
from pathlib import Path

import tomli_w

from assistant import atomic
from assistant.paths import user_config_dir

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
