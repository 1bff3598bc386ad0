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
import os
import socket
import time
from collections.abc import Callable
from datetime import timedelta

import torch
import torch.distributed as dist
from torch._C._distributed_c10d import TCPStore  # what torch.distributed re-exports, typed

from assistant.core.errors import UserError
from assistant.runs.config import launch_processes
from trainer.callbacks import CancelToken

JOIN_LIMIT_S = 600.0
"""How long a process waits for the others of its launch (torchrun's own rendezvous waits as long)."""
DEFAULT_PORT = 29500
"""The port torchrun uses when none is given."""
POLL_S = 0.25


def joins_by_itself() -> bool:
    """Whether this process is one of a launch that no elastic launcher gathered."""
    elastic = os.environ.get("TORCHELASTIC_RUN_ID") or os.environ.get("TORCHELASTIC_USE_AGENT_STORE")
    return launch_processes() > 1 and not elastic and not dist.is_initialized()


def join_launch(device: str, cancel: CancelToken, say: Callable[[str], None]) -> None:
    """Wait, stoppably, until every process of the launch has joined its store, then make the process group."""
    if not joins_by_itself():
        return
    from transformers import TrainingArguments

    world, rank = launch_processes(), int(os.environ.get("RANK") or 0)
    address, port = os.environ["MASTER_ADDR"], _port()
    if rank >= world:
        raise UserError(f"RANK must be below WORLD_SIZE={world} (got {rank}).")
    deadline = time.monotonic() + JOIN_LIMIT_S
    say(f"waiting for the {world} processes of the launch at {address}:{port} (this is rank {rank}; ctrl+c stops)")
    store = _store(address, port, world, rank, cancel, deadline)
    store.set(f"assistant-joined/{rank}", "1")
    everyone = [f"assistant-joined/{r}" for r in range(world)]
    while not store.check(everyone):
        _go_on_waiting(cancel, deadline, world, address, port)
        time.sleep(POLL_S)
    timeout = timedelta(seconds=TrainingArguments.ddp_timeout)  # what the Trainer would have used
    backend = "nccl" if device.startswith("cuda") and torch.cuda.is_available() else "gloo"
    dist.init_process_group(backend, store=store, rank=rank, world_size=world, timeout=timeout)


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


def _store(address: str, port: int, world: int, rank: int, cancel: CancelToken, deadline: float) -> TCPStore:
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
            return TCPStore(address, port, world, False, timedelta(seconds=10))
        except (RuntimeError, OSError):
            _go_on_waiting(cancel, deadline, world, address, port)
            time.sleep(POLL_S)


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
