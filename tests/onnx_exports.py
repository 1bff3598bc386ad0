"""The suite's store of ONNX exports: each test's cache starts with the exports of the tests before it.

Every tiny reader the tests build is the same bytes each time, so its export (about a second of torch.onnx per
test that loads a reader) is made once per worker and lent to every test after it; the app checks each entry's
checksums when it loads it, as it does a user's cache. Tests about exporting are marked ``cold_onnx_cache``."""

from __future__ import annotations

import contextlib
import os
import shutil
from pathlib import Path

from assistant.core import onnx_cache

_WHOLE = onnx_cache.META_FILE
"""An entry is whole once its record is written (the last file an export writes)."""


def lend(exports: Path, cache: Path) -> None:
    """Copy the stored exports into ``cache``'s ONNX folder, made and marked as the app makes it."""
    if not exports.is_dir():
        return
    root = onnx_cache.cache_root(cache)
    assert root is not None
    for entry in exports.iterdir():
        shutil.copytree(entry, root / entry.name)


def keep(cache: Path, exports: Path) -> None:
    """Store the whole entries ``cache`` gained that the store lacks (renamed into place: a worker reads whole ones)."""
    root = cache / "onnx"
    if not root.is_dir() or root.is_symlink():
        return
    exports.mkdir(exist_ok=True)
    for entry in root.iterdir():
        if entry.name.startswith(".") or not (entry / _WHOLE).is_file() or (exports / entry.name).exists():
            continue
        staging = exports / f".{entry.name}.{os.getpid()}"
        with contextlib.suppress(OSError):
            shutil.copytree(entry, staging, symlinks=True)
            staging.rename(exports / entry.name)
        shutil.rmtree(staging, ignore_errors=True)
