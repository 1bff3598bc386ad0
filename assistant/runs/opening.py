"""Opening a run directory to train into: a new one, or one to resume, never a folder that is not a run.

The trainer writes only into a run directory it created and marked (``.doc-assistant``, kind ``run``), and only
while it holds the directory's lock: two trainers started on the same ``--output`` cannot both write it (the
second is refused in one sentence), and a kill -9 frees the lock with the process. ``--resume`` continues only
a run that did not complete (interrupted, cancelled or failed), with the settings it was started with.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from assistant.core import files, ownership
from assistant.core.errors import UserError
from assistant.runs.config import flag
from assistant.runs.directory import RunDirectory
from assistant.runs.registry import RUN_KIND, RunStatus, load_run
from assistant.runs.schema import RunRecord, read_json_object

RESUMABLE = (RunStatus.INTERRUPTED, RunStatus.CANCELLED, RunStatus.FAILED)
FREE_ON_RESUME = frozenset(
    {
        "resume",
        "output",
        "activate",
        "keep_checkpoints",
        "export_int8",
        "device",
        "workers",
        "compile",
        "logging_steps",
        "save_steps",
        "sanity_steps",
    }
)
"""Settings a resume may change: where the run goes and how it reports, never what is learned or how."""
_EXISTS = "{path} already exists; pass --resume to continue it or choose another --output."


def _busy(path: Path) -> str:
    run = load_run(path).record
    who = f"process {run.pid} on {run.hostname}" if run.pid and run.hostname else "another process"
    return f"{path} is being trained by {who}; wait for it or cancel it first."


def _entries(path: Path) -> list[str]:
    return [name for name in os.listdir(path) if name != ownership.LOCK]


def open_new(path: Path, writer: bool = True) -> RunDirectory:
    """A new run in ``path``, which must not exist or be an empty folder; it is created, locked and marked.

    Of two processes started on the same path, exactly one gets it; the other is refused in one sentence.
    Non-writing ranks of a distributed run only get a handle: rank 0 owns the folder.
    """
    if not writer:
        return RunDirectory(path, writer=False)
    created = True
    try:
        path.mkdir(parents=True)
    except FileExistsError:
        created = False
        if path.is_symlink() or not path.is_dir() or _entries(path):
            raise UserError(
                f"{path} already exists; pass --resume to continue it or choose another --output."
            ) from None
    except OSError as exc:
        raise UserError(f"--output {path} cannot be created: {exc.strerror or exc}.") from None
    run = RunDirectory(path)
    run.created = created
    if not run.lock.acquire():
        raise ownership.Busy(_busy(path))
    if _entries(path):  # another process claimed it between our look and our lock
        run.close()
        raise UserError(_EXISTS.format(path=path))
    ownership.mark(path, RUN_KIND)
    return run


def saved_settings(path: Path) -> dict[str, Any]:
    """The settings a run was started with (run.json's), for ``--resume`` to start from; {} when there are none."""
    return (
        RunRecord.from_json(read_json_object(path / "run.json")).settings if ownership.is_ours(path, RUN_KIND) else {}
    )


def settings_changed(saved: Mapping[str, Any], given: Mapping[str, Any]) -> list[str]:
    """The settings a resume would change that it must not (see ``FREE_ON_RESUME``), in the given order."""
    return [
        name for name, value in given.items() if name in saved and name not in FREE_ON_RESUME and saved[name] != value
    ]


def check_resume(path: Path, settings: Mapping[str, Any]) -> None:
    """Refuse, in one sentence, to resume ``path`` unless it is a run folder this program made, that did not
    complete, that no process is training, resumed with the settings it was started with."""
    if not path.is_dir():
        raise UserError(f"--resume: {path} is not a run folder (it does not exist); start a new run without --resume.")
    if not ownership.is_ours(path, RUN_KIND):
        raise ownership.NotOurs(
            f"--resume: {path} was not made by `assistant train` (it has no {ownership.MARKER} marker), "
            "so nothing in it is written; choose a run folder or a new --output."
        )
    if ownership.lock_is_held(path):
        raise ownership.Busy(_busy(path))
    _check_resumable(path, settings)


def open_resume(path: Path, settings: Mapping[str, Any], writer: bool = True) -> RunDirectory:
    """The run in ``path`` to continue (see :func:`check_resume`), locked by this process; anything else is
    refused before any work."""
    if not writer:
        return RunDirectory(path, writer=False)
    check_resume(path, settings)
    run = RunDirectory(path)
    if not run.lock.acquire():
        raise ownership.Busy(_busy(path))
    try:
        _check_resumable(path, settings)
        files.sweep_temps(path, legacy=True)  # writes a kill cut off; this process alone owns the folder now
    except BaseException:
        run.close()
        raise
    return run


def _check_resumable(path: Path, settings: Mapping[str, Any]) -> None:
    info = load_run(path)
    status = info.status
    if status is RunStatus.RUNNING:
        raise ownership.Busy(
            f"{path} is still being trained by process {info.record.pid} on {info.record.hostname}; "
            "wait for it or cancel it before resuming."
        )
    if status is RunStatus.COMPLETED:
        raise UserError(f"--resume: {path} has completed; train a new run (another --output) to train further.")
    if status not in RESUMABLE:
        raise UserError(f"--resume: {path} records no run status that can be resumed ({status}).")
    changed = settings_changed(info.record.settings, settings)
    if changed and changed[0] == "nproc":  # the launch's size: from --nproc, or from the WORLD_SIZE a launcher set
        was, now = info.record.settings["nproc"], settings["nproc"]
        raise UserError(
            f"--resume: {path} was trained by {was} process(es), not {now}; resume it with as many (--nproc {was}, "
            "or a launcher of that WORLD_SIZE)."
        )
    if changed:
        name = changed[0]
        raise UserError(
            f"--resume: {path} was started with {flag(name)} {info.record.settings[name]!r}, not {settings[name]!r}; "
            "a resumed run keeps its settings (leave the flag out to use the run's)."
        )


def discard_new(run: RunDirectory) -> None:
    """Undo a new run that never trained a step (it holds only noise): the folder goes if this process created it;
    an empty folder the user gave as --output is left empty, as it was."""
    if not run.writer or not ownership.is_ours(run.path, RUN_KIND) or run.trained_anything():
        return
    if run.created:
        shutil.rmtree(run.path, ignore_errors=True)
        return
    for entry in list(run.path.iterdir()):
        if entry.is_dir() and not entry.is_symlink():
            shutil.rmtree(entry, ignore_errors=True)
        else:
            entry.unlink(missing_ok=True)
