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


def user_cache_dir() -> Path:
    """``ASSISTANT_CACHE_DIR``; else ``cache/`` in ``ASSISTANT_DATA_DIR`` when that relocates the app's data
    (tests, portable installs); else the platform's user cache folder. ONNX exports of readers live here."""
    env = os.environ.get("ASSISTANT_CACHE_DIR")
    if env:
        return Path(env).expanduser()
    data = os.environ.get("ASSISTANT_DATA_DIR")
    if data:
        return Path(data).expanduser() / "cache"
    return Path(platformdirs.user_cache_dir(APP_NAME))


def index_cache_dir() -> Path:
    """Saved indexes of documents already opened (``assistant.core.index_cache``); safe to delete."""
    return user_cache_dir() / "index"


def user_config_dir() -> Path:
    env = os.environ.get("ASSISTANT_CONFIG_DIR")
    return Path(env).expanduser() if env else Path(platformdirs.user_config_dir(APP_NAME))


def annotations_path() -> Path:
    return user_data_dir() / "annotations.jsonl"
