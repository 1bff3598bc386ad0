"""The Train form's values at its last Start, kept in the config folder so that the next run starts from them.

The file is the form's own (widget id -> text), written atomically; a missing, damaged or older file reads as
no values, so the form shows its defaults instead of failing.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from assistant.core import files
from assistant.paths import user_config_dir
from assistant.runs.schema import read_json_object

FORM_FILE = "train_form.json"
VERSION = 1
"""Bumped when the form's fields change meaning: values saved by another version are not restored."""


def form_memory_path() -> Path:
    return user_config_dir() / FORM_FILE


def load_form_values() -> dict[str, str]:
    """The values saved at the last Start, by widget id; text values only, anything else is dropped."""
    data = read_json_object(form_memory_path())
    values = data.get("values") if data is not None and data.get("version") == VERSION else None
    if not isinstance(values, dict):
        return {}
    return {key: value for key, value in values.items() if isinstance(value, str)}


def save_form_values(values: Mapping[str, str]) -> None:
    """Replace the saved values atomically; raises OSError when the config folder cannot be written."""
    files.write_json(form_memory_path(), {"version": VERSION, "values": dict(values)})
