"""Dialogs that close once.

Textual's ``dismiss`` pops whatever screen is on top. A selection queued behind escape (enter then escape typed fast
in a list) closed a dialog twice, and the second close took the chat screen with it, leaving a blank app. Every
dialog of the app derives from :class:`ClosesOnce`, so only its first close counts, and a dialog that another covers
cannot close what covers it.
"""

from __future__ import annotations

from typing import TypeVar

from textual.await_complete import AwaitComplete
from textual.screen import Screen

ResultType = TypeVar("ResultType")


class ClosesOnce(Screen[ResultType]):
    """A screen whose close, and callback, happen only while it is the screen on top."""

    def dismiss(self, result: ResultType | None = None) -> AwaitComplete:
        if not self.is_attached or self.app.screen is not self:  # closed already, or covered: nothing of its to pop
            return AwaitComplete()
        return super().dismiss(result)
