"""Where runs, the active-model pointer, user data and settings live.

A folder named by an environment variable (``ASSISTANT_MODELS_DIR``, ``..._DATA_DIR``, ``..._CACHE_DIR``,
``..._CONFIG_DIR``) must be a folder or not exist yet: a file there is one sentence, before any work.
"""

from __future__ import annotations

import os
from pathlib import Path

import platformdirs

from assistant.core import files
from assistant.core.errors import UserError

FOLDER_VARIABLES = ("ASSISTANT_MODELS_DIR", "ASSISTANT_DATA_DIR", "ASSISTANT_CACHE_DIR", "ASSISTANT_CONFIG_DIR")


def _folder(variable: str) -> Path | None:
    """The folder an environment variable names, checked: it may not exist yet, but must not be anything else."""
    value = os.environ.get(variable, "")
    if not value.strip():
        return None
    path = files.user_path(value)
    blocker = next((p for p in (path, *path.parents) if os.path.lexists(p)), None)
    if blocker is not None and not blocker.is_dir():
        where = "is a file" if blocker == path else f"is under {blocker}, which is a file"
        raise UserError(f"{variable}={value} {where}, not a folder; point it at a folder.")
    return path


def check_folders() -> None:
    """Refuse, in one sentence, a folder variable that names a file (commands call this before they start)."""
    for variable in FOLDER_VARIABLES:
        _folder(variable)


APP_NAME = "doc-assistant"
_SOURCE_ROOT = Path(__file__).resolve().parent.parent


def models_dir() -> Path:
    """``ASSISTANT_MODELS_DIR``, else ``models/`` of a source checkout, else the user data dir."""
    env = _folder("ASSISTANT_MODELS_DIR")
    if env:
        return env
    if (_SOURCE_ROOT / "pyproject.toml").exists():
        return _SOURCE_ROOT / "models"
    return user_data_dir() / "models"


def user_data_dir() -> Path:
    return _folder("ASSISTANT_DATA_DIR") or Path(platformdirs.user_data_dir(APP_NAME))


def user_cache_dir() -> Path:
    """``ASSISTANT_CACHE_DIR``; else ``cache/`` in ``ASSISTANT_DATA_DIR`` when that relocates the app's data
    (tests, portable installs); else the platform's user cache folder. ONNX exports of readers live here."""
    env = _folder("ASSISTANT_CACHE_DIR")
    if env:
        return env
    data = _folder("ASSISTANT_DATA_DIR")
    if data:
        return data / "cache"
    return Path(platformdirs.user_cache_dir(APP_NAME))


def index_cache_dir() -> Path:
    """Saved indexes of documents already opened (``assistant.core.index_cache``); safe to delete."""
    return user_cache_dir() / "index"


def folder_index_dir() -> Path:
    """Saved indexes of folders already opened, file by file (``assistant.core.folder_index``); safe to delete."""
    return user_cache_dir() / "folders"


def user_config_dir() -> Path:
    return _folder("ASSISTANT_CONFIG_DIR") or Path(platformdirs.user_config_dir(APP_NAME))


def annotations_path() -> Path:
    return user_data_dir() / "annotations.jsonl"
