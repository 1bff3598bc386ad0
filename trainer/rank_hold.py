"""One process a rank in a launch started by hand: a second process given a RANK already held is told so.

Without it, two processes given the same ``RANK`` both passed the roll call, and torch's process group took one of
them: the other waited in torch's C++ for ever, deaf to ctrl+c and SIGTERM. Here the launch's store keeps who holds
each rank, and a count that its holder raises while it waits. A process that finds its rank held watches the count
for :data:`ALIVE_S`: when it moves, the holder is alive and the newcomer is refused in one sentence; when it does
not, the holder went away (killed, stopped) and the newcomer takes its place, as a rank started again should.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field

from torch._C._distributed_c10d import TCPStore  # what torch.distributed re-exports, typed

from assistant.core.errors import UserError


def rank_0_went_away(where: str) -> UserError:
    """What a process says when the store it waits on (rank 0's) stops answering."""
    return UserError(f"Rank 0 of the launch at {where} went away while this process waited: start the launch again.")


ALIVE_S = 2.0
"""How long a newcomer watches a holder's count: a holder that waits raises it every poll (a quarter second)."""
WATCH_S = 0.25


@dataclass
class RankHold:
    """This process's hold on ``rank`` in the launch whose store is ``store``."""

    store: TCPStore
    rank: int
    world: int
    where: str
    """The launch's address and port, as its sentences name it."""
    token: str = field(default_factory=lambda: uuid.uuid4().hex)

    @property
    def _holder(self) -> str:
        return f"assistant-holder/{self.rank}"

    @property
    def _count(self) -> str:
        return f"assistant-alive/{self.rank}"

    def claim(self, waiting: Callable[[], None]) -> None:
        """Hold the rank, or say in one sentence that a live process holds it; ``waiting`` is called between looks
        (it raises when the wait is stopped)."""
        try:
            self._claim(waiting)
        except RuntimeError:  # torch's DistNetworkError: rank 0, which serves the store, is gone
            raise rank_0_went_away(self.where) from None

    def _claim(self, waiting: Callable[[], None]) -> None:
        held = self.store.compare_set(self._holder, "", self.token).decode()
        while held != self.token:
            before = self.store.add(self._count, 0)
            watched_until = time.monotonic() + ALIVE_S
            while time.monotonic() < watched_until:
                waiting()
                time.sleep(WATCH_S)
            if self.store.add(self._count, 0) != before:
                raise UserError(
                    f"Rank {self.rank} of the launch at {self.where} is already held by a running process: give each "
                    f"process its own RANK, 0 to {self.world - 1}."
                )
            held = self.store.compare_set(self._holder, held, self.token).decode()

    def beat(self) -> None:
        """Say this process is alive; one sentence when another took the rank (this one stopped answering)."""
        try:
            holder = self.store.get(self._holder).decode()
            self.store.add(self._count, 1)
        except RuntimeError:
            raise rank_0_went_away(self.where) from None
        if holder != self.token:
            raise UserError(
                f"Another process took rank {self.rank} of the launch at {self.where} while this one did not answer: "
                "it is no longer one of the launch."
            )
