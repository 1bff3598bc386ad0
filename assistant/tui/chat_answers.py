"""Answers shown in the document: a card's answer or candidate highlighted, stepping through candidates, copying
the one shown."""

from __future__ import annotations

from typing import TYPE_CHECKING

from assistant.core.sanitize import visible
from assistant.tui.widgets.conversation import AnswerCard
from assistant.tui.widgets.document_view import DocumentView

if TYPE_CHECKING:
    from assistant.tui.screens.chat import ChatScreen


class AnswerNavigation:
    """Which answer the document shows, for the chat screen it belongs to."""

    def __init__(self, screen: ChatScreen) -> None:
        self.screen = screen
        self.shown: AnswerCard | None = None
        """The answer the document shows (clicked, or the newest): ctrl+down/up and ctrl+y are about it."""

    def show(self, card: AnswerCard, index: int) -> None:
        """Highlight a card's candidate ``index`` in the document; that card is the one shown from now on."""
        answers = card.result.answers if card.result else []
        if not answers:
            return
        index %= len(answers)
        answer = answers[index]
        indexed = self.screen.indexed
        if indexed is None:
            return
        start, end = indexed.document.span(answer.path, answer.start, answer.end)
        if indexed.document.text[start:end] != answer.text:  # the document may have changed since
            self.screen.notify("This answer is not in the document as it is now.", severity="warning")
            return
        card.current = index
        card.show_candidates = card.show_candidates or index > 0
        card.refresh_card()
        self.shown = card
        self.screen.query_one(DocumentView).highlight(start, end)

    def shown_card(self) -> AnswerCard | None:
        if self.shown is not None and self.shown.is_attached:
            return self.shown
        return self.screen.last_answered()

    def step(self, by: int) -> None:
        card = self.shown_card()
        if card is None or card.result is None:
            return
        if len(card.result.answers) < 2:
            self.screen.notify("This question has no other candidates.", severity="warning")
            return
        self.show(card, card.current + by)

    def copy(self) -> None:
        card = self.shown_card()
        if card is None or card.result is None:
            return
        answers = card.result.answers
        if not answers:
            self.screen.notify("This question has no answer to copy.", severity="warning")
            return
        text = visible(answers[min(card.current, len(answers) - 1)].text)  # never a raw ESC for a later paste
        self.screen.app.copy_to_clipboard(text)
        short = " ".join(text.split())
        self.screen.notify(f"Copied “{short[:60]}{'…' if len(short) > 60 else ''}” to the clipboard.")
