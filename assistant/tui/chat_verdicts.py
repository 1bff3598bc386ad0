"""The chat's verdicts on answers: right, wrong, and the span the user saves instead, each kept as one annotation
(annotations.jsonl) and in the conversation history."""

from __future__ import annotations

from typing import TYPE_CHECKING

from assistant.core.errors import UserError
from assistant.store import STORE_ERRORS
from assistant.tui.widgets.conversation import AnswerCard
from assistant.tui.widgets.document_view import DocumentView

if TYPE_CHECKING:
    from assistant.tui.feedback import Annotation
    from assistant.tui.screens.chat import ChatScreen


class Verdicts:
    """One verdict and one annotation per answer, for the chat screen it belongs to."""

    def __init__(self, screen: ChatScreen) -> None:
        self.screen = screen
        self.correcting: AnswerCard | None = None
        """The answer marked wrong (ctrl+b) whose right span the user is selecting; None: the last answer."""

    def _annotation(self, card: AnswerCard, start: int, end: int) -> Annotation | None:
        """The annotation of a span of the open document, in its own file's text (a folder's other files never
        come into its context); None when the span is blank or crosses from one file into another."""
        from assistant.tui.feedback import annotation_for

        indexed = self.screen.indexed
        if indexed is None:
            return None
        document = indexed.document
        while start < end and document.text[end - 1].isspace():  # a selection to the start of the next line
            end -= 1
        part = document.part_at(start)
        if end > part.end:
            return None
        text = document.text[part.start : part.end]
        return annotation_for(text, card.question, start - part.start, end - part.start, part.name)

    def _answer_annotation(self, card: AnswerCard) -> Annotation | None:
        best = card.result.best if card.result else None
        indexed = self.screen.indexed
        if best is None or indexed is None:
            return None
        return self._annotation(card, *indexed.document.span(best.path, best.start, best.end))

    def _set(self, card: AnswerCard, verdict: str, note: Annotation | None) -> bool:
        """One verdict and one annotation per answer: the earlier annotation goes, ``note`` is written.

        The earlier one is what this session saved for the card, or the answer itself for a "right" restored
        from the history. False (and a notification) when the annotations file could not be changed."""
        from assistant.paths import annotations_path
        from assistant.tui import feedback

        earlier = card.annotation or (self._answer_annotation(card) if card.feedback == "right" else None)
        try:
            if earlier is not None and earlier != note:
                feedback.remove(annotations_path(), earlier)
            if note is not None:
                feedback.save(annotations_path(), note)
        except (OSError, UserError) as exc:
            self.screen.notify(f"Could not change the annotations: {exc}", title="Annotation", severity="error")
            return False
        changed = card.feedback != verdict or card.annotation != note
        card.annotation = note
        if card.feedback != verdict:
            card.feedback = verdict
            card.refresh_card()
        if changed:  # a span saved for an answer marked wrong is its correction
            self._store(card, verdict, note.answer_text if note is not None and verdict == "wrong" else None)
        return True

    def _store(self, card: AnswerCard, verdict: str, correction: str | None) -> None:
        store = self.screen.store
        if card.turn_id is not None and store:
            try:
                store.set_feedback(card.turn_id, verdict, correction)
            except STORE_ERRORS as exc:
                self.screen.history_failed("save this verdict in", exc)

    def _saved(self, note: Annotation, what: str) -> None:
        self.screen.notify(
            f"Saved “{note.answer_text[:60]}” as {what} to “{note.question[:60]}”; train on it from the Train screen.",
            title="Annotation saved",
        )

    def mark_right(self, card: AnswerCard) -> None:
        if card.feedback == "right":
            self.screen.notify("This answer is already marked right.")
            return
        note = self._answer_annotation(card)
        if self._set(card, "right", note) and note is not None:
            self._saved(note, "the right answer")

    def mark_wrong(self, card: AnswerCard) -> None:
        if card.feedback != "wrong" and not self._set(card, "wrong", None):
            return
        self.correcting = card
        view = self.screen.query_one(DocumentView)
        view.clear_highlight()  # the wrong answer is not the selection to save
        view.focus()
        self.screen.notify("Select the correct answer in the document, then press ctrl+s to save it.")

    def save_span(self, card: AnswerCard) -> None:
        """The span the user selected in the document, as ``card``'s answer."""
        span = self.screen.query_one(DocumentView).user_span()
        note = self._annotation(card, *span) if span else None
        if note is None:
            self.screen.notify("Select the answer, within one file, in the document pane first.", severity="warning")
            return
        if note == card.annotation:
            self.screen.notify("This span is already saved as the answer.")
            return
        # the answer's own span is a "right", unless it was marked wrong: that verdict stays
        right = card.feedback != "wrong" and note == self._answer_annotation(card)
        if self._set(card, "right" if right else "wrong", note):
            self._saved(note, "the answer")
            self.correcting = None
            self.screen.question_input.focus()  # the correction is done: the next question is typed there
