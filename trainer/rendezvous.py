"""The processes of a launch that no elastic launcher started (``RANK``, ``WORLD_SIZE`` and ``MASTER_ADDR`` set by
hand or by a cluster's scheduler, one process per command) find each other here, in a wait that can be stopped.

torch's own wait, inside the Trainer's set-up, blocks in C++ for the whole ``ddp_timeout`` (30 minutes), deaf to
ctrl+c and silent: one process started alone looked hung. Here each process leaves its rank in the launch's store and
polls for the others, so that ctrl+c stops the wait, the process that writes the run says what it waits for, and the
wait ends at :data:`JOIN_LIMIT_S` in one sentence. The process group is then made from that store, so the Trainer
finds it ready. Under torchrun or ``accelerate launch`` (an elastic agent) nothing is done: the launcher has already
gathered its processes, and its store holds the port.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

import torch
import torch.distributed as dist
from torch._C._distributed_c10d import TCPStore  # what torch.distributed re-exports, typed

from assistant.core import files
from assistant.core.errors import UserError
from assistant.runs.config import launch_processes
from assistant.squad.formats import DATA_FILE
from trainer.cancel import CancelToken
from trainer.rank_hold import RankHold, rank_0_went_away

JOIN_LIMIT_S = 600.0
"""How long a process waits for the others of its launch (torchrun's own rendezvous waits as long)."""
DEFAULT_PORT = 29500
"""The port torchrun uses when none is given."""
POLL_S = 0.25
ROLL_CALL_S = 5.0
"""How long after everyone joined the processes that have not answered the roll call are said to be gone."""
DATA_SETTINGS = ("data", "eval_data", "extra_data", "replay_data")
"""Settings that name data files: compared by the files' contents."""
OWN_SETTINGS = frozenset({"device", "workers", "logging_steps", "activate", "keep_checkpoints"})
"""Settings each process may have its own of: where and how it shows or loads, not what is trained."""
FORMED = "assistant-formed"
"""Set by rank 0, to the launch's size, once every process has answered the roll call: the launch is whole, and
takes no one else."""
GREETING_LIMIT_S = 30.0
"""How long a process waits for an answer from what accepted its connection at the launch's port (rank 0's store
answers at once)."""


def joins_by_itself() -> bool:
    """Whether this process is one of a launch that no elastic launcher gathered."""
    elastic = os.environ.get("TORCHELASTIC_RUN_ID") or os.environ.get("TORCHELASTIC_USE_AGENT_STORE")
    return launch_processes() > 1 and not elastic and not dist.is_initialized()


def join_launch(device: str, settings: dict[str, Any], cancel: CancelToken, say: Callable[[str], None]) -> None:
    """Wait, stoppably, until every process of the launch has joined its store and answered the roll call with the
    same ``settings`` (those of the run, :data:`OWN_SETTINGS` left out), then make the process group."""
    if not joins_by_itself():
        return
    world, rank = launch_processes(), int(os.environ.get("RANK") or 0)
    if rank >= world:
        raise UserError(f"RANK must be below WORLD_SIZE={world} (got {rank}).")
    deadline = time.monotonic() + JOIN_LIMIT_S
    store, hold = _joined(world, rank, say, cancel, deadline)
    joined = [f"assistant-joined/{r}" for r in range(world)]
    _wait_for(store, joined, lambda: _same_world(store, joined, world), cancel, deadline, hold)
    _same_world(store, joined, world)
    shared = json.dumps(_compared(settings), sort_keys=True, default=str)
    store.set(f"assistant-ready/{rank}", shared)
    roll_call = [f"assistant-ready/{r}" for r in range(world)]
    _wait_for(store, roll_call, _Absentees(store, roll_call, say), cancel, deadline, hold)
    if rank == 0:  # everyone answered: from now on a process that comes to this port is another launch's, told so
        store.set(FORMED, str(world))
    try:
        _same_settings(json.loads(shared), [json.loads(store.get(key)) for key in roll_call])
    finally:
        store.set(f"assistant-checked/{rank}", "1")
        if rank == 0:  # serve the store until every process has read the roll call, even to say it differs
            with contextlib.suppress(UserError):
                checked = [f"assistant-checked/{r}" for r in range(world)]
                _wait_for(store, checked, lambda: None, cancel, time.monotonic() + ROLL_CALL_S, hold)
    from transformers import TrainingArguments  # here, not above: a process refused at the roll call never needs it

    timeout = timedelta(seconds=TrainingArguments.ddp_timeout)  # what the Trainer would have used
    backend = "nccl" if device.startswith("cuda") and torch.cuda.is_available() else "gloo"
    dist.init_process_group(backend, store=store, rank=rank, world_size=world, timeout=timeout)


def _joined(
    world: int, rank: int, say: Callable[[str], None], cancel: CancelToken, deadline: float
) -> tuple[TCPStore, RankHold]:
    """The launch's store, with this process's rank held in it and its mark left: once it is one of the launch."""
    address, port = os.environ["MASTER_ADDR"], _port()
    waiting = _SaidOnce(
        f"waiting for the {world} processes of the launch at {address}:{port} (this is rank {rank}; ctrl+c stops)", say
    )
    store = _store(address, port, world, rank, cancel, deadline, waiting)
    hold = RankHold(store, rank, world, f"{address}:{port}")
    _refuse_if_formed(store, address, port)
    hold.claim(lambda: _go_on_waiting(cancel, deadline, world, address, port))
    _refuse_if_formed(store, address, port)  # again: the launch may have formed while the rank was claimed
    waiting()
    store.set(f"assistant-joined/{rank}", str(world))
    return store, hold


def _refuse_if_formed(store: TCPStore, address: str, port: int) -> None:
    if store.check([FORMED]):
        raise UserError(
            f"The launch at {address}:{port} already has its {store.get(FORMED).decode()} processes and is training: "
            "this process is not one of it (give it another MASTER_PORT, or wait until that launch ends)."
        )


def _wait_for(
    store: TCPStore,
    keys: list[str],
    meanwhile: Callable[[], None],
    cancel: CancelToken,
    deadline: float,
    hold: RankHold,
) -> None:
    world, address, port = len(keys), os.environ["MASTER_ADDR"], _port()
    while not _checked(store, keys, address, port):
        _go_on_waiting(cancel, deadline, world, address, port)
        hold.beat()
        meanwhile()
        time.sleep(POLL_S)


def _checked(store: TCPStore, keys: list[str], address: str, port: int) -> bool:
    try:
        return store.check(keys)
    except RuntimeError:  # torch's DistNetworkError: rank 0, which serves the store, is gone
        raise rank_0_went_away(f"{address}:{port}") from None


@dataclass
class _Absentees:
    """Says, once, which processes joined but do not answer the roll call that follows at once: gone (killed, or
    stopped) since they joined; the launch waits for them to be started again."""

    store: TCPStore
    keys: list[str]
    say: Callable[[str], None]
    since: float = field(default_factory=time.monotonic)
    told: bool = False

    def __call__(self) -> None:
        if self.told or time.monotonic() - self.since < ROLL_CALL_S:
            return
        missing = [str(rank) for rank, key in enumerate(self.keys) if not self.store.check([key])]
        self.say(f"rank {', '.join(missing)} joined the launch and went away: start it again (ctrl+c stops)")
        self.told = True


def _same_world(store: TCPStore, joined: list[str], world: int) -> None:
    """One sentence when a process that joined was given another WORLD_SIZE (it would wait for processes that never
    come, or be said to have gone)."""
    for rank, key in enumerate(joined):
        if store.check([key]) and (theirs := store.get(key).decode()) != str(world):
            raise UserError(
                f"Rank {rank} of the launch was started with WORLD_SIZE={theirs} and this process with {world}: start "
                "every process with the same WORLD_SIZE."
            )


def _compared(settings: dict[str, Any]) -> dict[str, Any]:
    """The settings the processes must share: local data files by their contents (a path may be spelt differently,
    or lead to another file on another machine), the rest as given."""
    compared = {name: value for name, value in settings.items() if name not in OWN_SETTINGS}
    for name in DATA_SETTINGS:
        value = compared.get(name)
        paths = value if isinstance(value, list) else [value]
        if paths and all(isinstance(p, str) and files.path_kind(files.user_path(p)) == "file" for p in paths):
            compared[name] = [_contents(files.user_path(str(p))) for p in paths]
    return compared


def _contents(path: Path) -> str:
    digest = hashlib.sha256()
    fd = files.open_regular(path, DATA_FILE)
    try:
        while chunk := os.read(fd, 8 * files.MiB):
            digest.update(chunk)
    finally:
        os.close(fd)
    return f"sha256:{digest.hexdigest()}"


def _same_settings(own: dict[str, Any], everyone: list[dict[str, Any]]) -> None:
    """One sentence, in every process, when the processes of the launch were given different settings."""
    for rank, theirs in enumerate(everyone):
        differ = sorted(name for name in own.keys() | theirs.keys() if own.get(name) != theirs.get(name))
        if differ:
            raise UserError(
                f"The processes of the launch were started with different settings (rank {rank} differs in "
                f"{', '.join(differ)}): start every process with the same flags."
            )


def _port() -> int:
    value = os.environ.get("MASTER_PORT", "").strip()
    if not value:
        return DEFAULT_PORT
    if not value.isdecimal() or not 0 < int(value) < 65536:
        raise UserError(f"MASTER_PORT must be a port number, 1 to 65535 (got {value!r}).")
    return int(value)


def _go_on_waiting(cancel: CancelToken, deadline: float, world: int, address: str, port: int) -> None:
    cancel.raise_if_requested()
    if time.monotonic() > deadline:
        raise UserError(
            f"The other processes of the launch did not join at {address}:{port} within {JOIN_LIMIT_S:.0f} s: start "
            f"all {world} with the same MASTER_ADDR, MASTER_PORT and WORLD_SIZE and RANK 0 to {world - 1}, or use "
            "`torchrun --nproc_per_node N -m trainer ...`."
        )


class _SaidOnce:
    """A line said the first time it is called for: a process says it waits only once it does (one refused at once
    says only why)."""

    def __init__(self, line: str, say: Callable[[str], None]) -> None:
        self.line, self.say, self.said = line, say, False

    def __call__(self) -> None:
        if not self.said:
            self.said = True
            self.say(self.line)


def _store(
    address: str, port: int, world: int, rank: int, cancel: CancelToken, deadline: float, waiting: Callable[[], None]
) -> TCPStore:
    """The launch's store: rank 0 serves it, the others connect, retrying in short tries so that ctrl+c is heard."""
    _check_address(address, port, serving=rank == 0)
    if rank == 0:
        try:
            return TCPStore(address, port, world, True, timedelta(seconds=JOIN_LIMIT_S), wait_for_workers=False)
        except (RuntimeError, OSError):
            raise UserError(
                f"Rank 0 cannot serve the launch at {address}:{port}: the port is in use, or the address is not one "
                "of this machine's."
            ) from None
    while True:  # knocked at in Python first: torch's own tries block deaf to signals and log each failure at length
        try:
            socket.create_connection((address, port), timeout=1).close()
        except OSError:
            waiting()
            _go_on_waiting(cancel, deadline, world, address, port)
            time.sleep(POLL_S)
            continue
        store = _greeted(address, port, world, cancel, deadline, waiting)
        if store is not None:
            return store
        time.sleep(POLL_S)  # rank 0 went between the knock and the greeting: knock again


def _greeted(
    address: str, port: int, world: int, cancel: CancelToken, deadline: float, waiting: Callable[[], None]
) -> TCPStore | None:
    """A client of the store that answers at the port, made in a thread so that this one hears ctrl+c: torch's
    greeting waits, deaf to signals, for as long as whatever listens there says nothing (another program's port).
    Past a second of silence (rank 0's store answers at once) the process says it waits."""
    made: list[TCPStore | BaseException] = []

    def greet() -> None:
        try:
            made.append(TCPStore(address, port, world, False, timedelta(seconds=10)))
        except (RuntimeError, OSError) as exc:
            made.append(exc)

    greeting = threading.Thread(target=greet, name="launch-store", daemon=True)
    greeting.start()
    started = time.monotonic()
    silent_until = started + GREETING_LIMIT_S
    while greeting.is_alive():
        _go_on_waiting(cancel, deadline, world, address, port)
        if time.monotonic() > started + 1.0:
            waiting()
        if time.monotonic() > silent_until:
            raise UserError(
                f"What listens at {address}:{port} is not rank 0 of the launch (another program's port?): give every "
                "process the MASTER_PORT that rank 0 serves, one that no other program uses."
            )
        greeting.join(POLL_S)
    return made[0] if made and isinstance(made[0], TCPStore) else None


def _check_address(address: str, port: int, serving: bool) -> None:
    """MASTER_ADDR must name a machine, and rank 0's must be its own (torch's store would retry either for the whole
    wait, deaf to ctrl+c)."""
    try:
        found = socket.getaddrinfo(address, port, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError):
        raise UserError(f"MASTER_ADDR={address!r} names no machine this one can find.") from None
    if not serving:
        return
    for family, kind, proto, _, place in found:
        with contextlib.suppress(OSError), socket.socket(family, kind, proto) as probe:
            probe.bind((place[0], 0))
            return
    raise UserError(
        f"MASTER_ADDR={address!r} is not an address of this machine, so rank 0 cannot serve the launch there."
    )
