"""Trained runs in ``models/``: listing them with their metrics and switching the active reader.

Run folders are written by processes that may be killed at any moment and are sometimes edited by hand,
so everything read here is checked: a file of the wrong shape reads as missing, a run whose process has
gone shows as ``interrupted``, and ACTIVE can only ever name a run folder inside ``models/``.
"""

from __future__ import annotations

import os
import shlex
import shutil
import socket
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from assistant.core import files, ownership
from assistant.core.errors import UserError
from assistant.paths import models_dir
from assistant.runs.schema import JsonObject, RunMetrics, RunRecord
from assistant.runs.schema import RunStatus as RunStatus  # re-exported: the app imports it from here
from assistant.runs.schema import is_number as is_number
from assistant.runs.schema import read_json_object as read_json_object

ACTIVE_FILE = "ACTIVE"
HEARTBEAT_INTERVAL_S = 30.0
"""How often a training process rewrites its heartbeat in run.json."""
HEARTBEAT_STALE_S = 180.0
"""A heartbeat older than this means the owner is gone (or hung), even if its pid now belongs to another process."""
RUN_KIND = "run"
"""The marker kind of a run directory (``assistant.core.ownership``)."""
_RUN_STATUSES = {s.value for s in RunStatus}


def _pid_alive(pid: Any) -> bool:
    if not isinstance(pid, int) or isinstance(pid, bool) or pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except PermissionError:  # it exists, owned by someone else
        return True
    except (OSError, OverflowError):
        return False
    return not _zombie(pid)


def _zombie(pid: int) -> bool:
    """A process that has exited but not been reaped (a rank killed with its launcher, its new parent slow to
    reap): dead, though signals still reach its pid. Linux says so in /proc; elsewhere it is taken as alive."""
    try:
        return Path(f"/proc/{pid}/stat").read_bytes().rsplit(b")", 1)[1].split()[0] == b"Z"
    except (OSError, IndexError):
        return False


def owner_alive(run: RunRecord, now: float | None = None) -> bool:
    """Whether the process recorded in run.json is still there: a fresh heartbeat and, on this host, a live pid.

    On another host (a shared models folder) the pid cannot be probed, so the heartbeat alone decides.
    """
    heartbeat = run.heartbeat
    if heartbeat is None or (now if now is not None else time.time()) - heartbeat > HEARTBEAT_STALE_S:
        return False
    if run.hostname != socket.gethostname():
        return bool(run.hostname)
    return _pid_alive(run.pid)


def derive_status(run: RunRecord, path: Path) -> RunStatus:
    """The status to show for a run: run.json's, except that a run whose owner has gone is INTERRUPTED."""
    if run.status is None:
        return RunStatus.COMPLETED if (path / "config.json").is_file() else RunStatus.UNKNOWN
    if run.status is RunStatus.RUNNING and not owner_alive(run):
        return RunStatus.INTERRUPTED
    return run.status


def resume_hint(path: Path) -> str:
    """The command that continues an interrupted run: it takes the run's own settings from its run.json."""
    return f"resume with: {shlex.join(['assistant', 'train', '--resume', '--output', str(path)])}"


@dataclass
class RunInfo:
    """A run folder as listings show it: typed run.json and metrics.json, and the status derived from them."""

    name: str
    path: Path
    status: RunStatus
    record: RunRecord = field(default_factory=RunRecord)
    results: RunMetrics = field(default_factory=RunMetrics)
    active: bool = False
    problem: str | None = None
    """Why the folder could not be read, when it could not."""

    @property
    def run(self) -> JsonObject:
        """run.json as a plain object (well-formed entries only)."""
        return self.record.to_json()

    @property
    def metrics(self) -> JsonObject:
        """metrics.json as a plain object (well-formed entries only)."""
        return self.results.to_json()

    @property
    def has_weights(self) -> bool:
        return any(self.path.glob("*.safetensors"))

    @property
    def exact_match(self) -> float | None:
        return self.results.eval.exact_match if self.results.eval else None

    @property
    def f1(self) -> float | None:
        return self.results.eval.f1 if self.results.eval else None

    @property
    def base_model(self) -> str | None:
        return self.record.base_model

    @property
    def hint(self) -> str | None:
        """What to do about the run, for listings: interrupted runs, and folders that cannot be read."""
        if self.problem:
            return self.problem
        if self.status is RunStatus.INTERRUPTED:
            return resume_hint(self.path)
        return None


def load_run(path: Path, active_name: str | None = None) -> RunInfo:
    """A run folder as listings show it; files of the wrong shape read as empty, never raise."""
    record = RunRecord.from_json(read_json_object(path / "run.json"))
    results = RunMetrics.from_json(read_json_object(path / "metrics.json"))
    return RunInfo(path.name, path, derive_status(record, path), record, results, active=path.name == active_name)


def _name_problem(name: str) -> str | None:
    """Why ``name`` is not a run name (one folder name, no path, as typed: nothing trimmed), or None."""
    if not name.strip():
        return "the run name is empty"
    if name != name.strip():
        return "a run name has no spaces at either end"
    if "\x00" in name or "\n" in name or "\r" in name:
        return "a run name cannot hold a NUL character or a line break"
    if len(name.encode("utf-8", "surrogateescape")) > 255:
        return "a run name is at most 255 bytes, as a folder name is"
    try:
        name.encode("utf-8")
    except UnicodeEncodeError:
        return "a run name must be valid UTF-8"
    if "/" in name or "\\" in name or name in (".", "..") or os.path.isabs(name):
        return "a run name is one folder name inside the models folder, not a path"
    return None


def run_folder(name: str, root: Path | None = None) -> Path:
    """The folder of run ``name``: an existing directory in ``root`` that stays inside it after resolving links."""
    root = root or models_dir()
    problem = _name_problem(name)
    if problem:
        raise UserError(f"{problem[0].upper()}{problem[1:]} (got {name!r}); `assistant models` lists the runs.")
    path = root / name
    if not path.is_dir():
        raise UserError(f"No run named {name!r} in {root}; `assistant models` lists the runs.")
    try:
        real, real_root = path.resolve(strict=True), root.resolve(strict=True)
    except (OSError, RuntimeError):
        real, real_root = None, None
    if real is None or real_root is None or real == real_root or not real.is_relative_to(real_root):
        raise UserError(f"Run {name!r} leads outside {root} (a link?); only runs inside it can be made active.")
    return path


def is_run_folder(path: Path) -> bool:
    """A run directory to list and to let the user delete: one ``assistant train`` made (its marker), or one made
    before markers (a run.json with a status). Only a marked one is ever written into (``assistant.runs.opening``)."""
    if ownership.is_ours(path, RUN_KIND):
        return True
    if path.is_symlink() or not path.is_dir() or (path / ownership.MARKER).exists():
        return False
    record = read_json_object(path / "run.json")
    status = record.get("status") if record is not None else None
    return isinstance(status, str) and status in _RUN_STATUSES


def activation_problem(info: RunInfo) -> str | None:
    """Why a run cannot be the active reader, or None: only completed runs with a config and weights can."""
    if info.status is not RunStatus.COMPLETED:
        extra = f"; {info.hint}" if info.hint else ""
        return f"it is {info.status}, not completed{extra}"
    if read_json_object(info.path / "config.json") is None:
        return "its config.json is missing or not a JSON object"
    if not info.has_weights:
        return "it has no weights (*.safetensors)"
    return None


def activatable(name: str, root: Path | None = None) -> RunInfo:
    """Run ``name``, if it can be made the active reader; a UserError says why not."""
    info = load_run(run_folder(name, root or models_dir()))
    problem = activation_problem(info)
    if problem:
        raise UserError(f"Run {name!r} cannot be made active: {problem}.")
    return info


def activate(name: str, root: Path | None = None) -> RunInfo:
    """Make a completed run the active reader; the pointer is replaced atomically."""
    root = root or models_dir()
    info = activatable(name, root)
    files.write_text(root / ACTIVE_FILE, name + "\n")
    info.active = True
    return info


def _active_pointer(root: Path) -> str | None:
    """What ACTIVE holds (its one line), None when there is no ACTIVE; a file that is not one line of UTF-8 text
    (or not a regular file) is a UserError."""
    path = root / ACTIVE_FILE
    if not os.path.lexists(path):
        return None
    raw = files.read_bytes(path, files.POINTER)
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise UserError(f"{path} is not UTF-8 text.") from None
    name = text[:-1] if text.endswith("\n") else text
    if "\n" in name or not name:
        raise UserError(f"{path} does not hold one run name.")
    return name


def active_problem(root: Path | None = None) -> str | None:
    """Why ACTIVE does not name a run that can answer, in one sentence with what to do; None when it does or there
    is no ACTIVE (then no run is active)."""
    root = root or models_dir()
    fix = f"activate a run with `assistant models activate RUN`, or delete {root / ACTIVE_FILE} to use no run"
    try:
        name = _active_pointer(root)
        if name is None:
            return None
        info = load_run(run_folder(name, root))
    except UserError as exc:
        return f"The active reader cannot be used: {str(exc).rstrip('.')}; {fix}."
    problem = activation_problem(info)
    if problem:
        return f"The active reader {name!r} cannot be used: {problem}; {fix}."
    return None


def active_run_name(root: Path | None = None) -> str | None:
    """The run ACTIVE names, if it is a valid run name inside ``root``; garbage or a path outside reads as none."""
    root = root or models_dir()
    try:
        name = _active_pointer(root)
        if name is not None:
            run_folder(name, root)
    except UserError:
        return None
    return name


def active_run_path(root: Path | None = None) -> Path | None:
    """The active run's folder, checked as at activation; None when no run is active or ACTIVE names no usable
    run (say why with :func:`active_problem`: choosing a reader, that is an error, never another reader)."""
    root = root or models_dir()
    name = active_run_name(root)
    return root / name if name and active_problem(root) is None else None


def _unreadable(path: Path, exc: OSError) -> RunInfo:
    return RunInfo(path.name, path, RunStatus.UNKNOWN, problem=f"cannot be read ({exc.strerror or exc})")


def list_runs(root: Path | None = None) -> list[RunInfo]:
    """Every run directory (one with run.json, config.json or the run marker), newest first; a folder that cannot
    be read is listed as such, never left out."""
    root = root or models_dir()
    try:
        entries = sorted(root.iterdir()) if root.is_dir() else []
    except OSError:
        return []
    active = active_run_name(root)
    runs = []
    for path in entries:
        if path.name.startswith(".") or not path.is_dir():
            continue
        try:
            names = set(os.listdir(path))
        except OSError as exc:
            runs.append(_unreadable(path, exc))
            continue
        if names & {"run.json", "config.json", ownership.MARKER}:
            runs.append(load_run(path, active))
    runs.sort(key=lambda r: r.record.started_at or "", reverse=True)
    return runs


def delete_run(name: str, root: Path | None = None) -> Path:
    """Delete run ``name``'s folder; refuse anything but a run folder inside ``root`` that is neither the active
    reader nor running.

    The folder is first renamed to a hidden name and its run files removed, so that a delete cut short leaves no
    half-deleted folder that listings would show as a run.
    """
    root = root or models_dir()
    path = run_folder(name, root)
    if path.is_symlink():
        raise UserError(f"Run {name!r} is a link; only run folders inside {root} are deleted.")
    if not is_run_folder(path):
        raise UserError(f"{path} is not a run folder made by `assistant train`; it is left alone.")
    if active_run_name(root) == name:
        raise UserError(f"Run {name!r} is the active reader; make another run active before deleting it.")
    if ownership.lock_is_held(path) or load_run(path).status is RunStatus.RUNNING:
        raise UserError(f"Run {name!r} is still running; cancel it before deleting it.")
    files.sweep_temps(root)  # deletes a kill cut short
    doomed = files.temp_path(root, name)
    try:
        os.replace(path, doomed)
    except OSError as exc:
        raise UserError(f"Run {name!r} could not be deleted ({exc.strerror or exc}); nothing was removed.") from None
    try:
        for marker in ("run.json", "config.json", ownership.MARKER):
            (doomed / marker).unlink(missing_ok=True)
        shutil.rmtree(doomed)
    except OSError as exc:
        raise UserError(f"Run {name!r} is gone from the list, but {doomed} is left ({exc.strerror or exc}).") from None
    return path
