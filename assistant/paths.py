"""Where runs, the active-model pointer, user data and settings live."""

from __future__ import annotations

import os
from pathlib import Path

import platformdirs

APP_NAME = "doc-assistant"
_SOURCE_ROOT = Path(__file__).resolve().parent.parent


def models_dir() -> Path:
    """``ASSISTANT_MODELS_DIR``, else ``models/`` of a source checkout, else the user data dir."""
    env = os.environ.get("ASSISTANT_MODELS_DIR")
    if env:
        return Path(env).expanduser()
    if (_SOURCE_ROOT / "pyproject.toml").exists():
        return _SOURCE_ROOT / "models"
    return user_data_dir() / "models"


def user_data_dir() -> Path:
    env = os.environ.get("ASSISTANT_DATA_DIR")
    return Path(env).expanduser() if env else Path(platformdirs.user_data_dir(APP_NAME))


def user_config_dir() -> Path:
    env = os.environ.get("ASSISTANT_CONFIG_DIR")
    return Path(env).expanduser() if env else Path(platformdirs.user_config_dir(APP_NAME))


def annotations_path() -> Path:
    return user_data_dir() / "annotations.jsonl"
