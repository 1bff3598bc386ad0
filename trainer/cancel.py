"""Stopping a training run: the request (from a signal handler, another thread or another process of a launch) and
the exception that carries it out. No library of its own: a launch's first step, joining, needs it before torch's
training stack is imported."""

from __future__ import annotations

import threading


class TrainingCancelled(BaseException):
    """The user asked to stop (SIGTERM, Ctrl-C, the app's Cancel): the run is marked cancelled, never activated."""


class CancelToken:
    """A request to stop training, made from a signal handler or another thread.

    The training loop stops at the next step boundary (raising in the middle of a step could land in library
    code that swallows it); ``run_training`` also checks between its stages. ``in_loop`` says whether a
    step boundary is coming, so that a caller can raise ``TrainingCancelled`` itself when none is.
    """

    def __init__(self) -> None:
        self._event = threading.Event()
        self.reason = ""
        self.in_loop = False
        self.signalled = False
        """Whether this process had a signal of its own (a second one stops it at once; a launch's agreed stop,
        learnt from another process, does not count)."""

    @property
    def requested(self) -> bool:
        return self._event.is_set()

    def request(self, reason: str = "cancelled") -> None:
        if not self._event.is_set():
            self.reason = reason
            self._event.set()

    def raise_if_requested(self) -> None:
        if self.requested:
            raise TrainingCancelled(self.reason)
