"""Dialogs that close once.

Textual's ``dismiss`` pops whatever screen is on top. A selection queued behind escape (enter then escape typed fast
in a list) closed a dialog twice, and the second close took the chat screen with it, leaving a blank app. Every
dialog of the app takes :class:`ClosesOnce` first among its bases, so only its first close counts, and a dialog that
another covers cannot close what covers it. (A mixin, not a Screen: a Screen base would bring Screen's own styles
ahead of ModalScreen's, and a dialog would hide the screen below it.)
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Generic, TypeVar, cast

from textual.await_complete import AwaitComplete

if TYPE_CHECKING:
    from textual.screen import Screen

ResultType = TypeVar("ResultType")


class ClosesOnce(Generic[ResultType]):
    """For a screen: its close, and callback, happen only while it is the screen on top."""

    def dismiss(self, result: ResultType | None = None) -> AwaitComplete:
        screen = cast("Screen[ResultType]", self)
        if not screen.is_attached or screen.app.screen is not screen:  # closed already, or covered
            return AwaitComplete()
        return cast(AwaitComplete, super().dismiss(result))  # type: ignore[misc]
