"""The chat screen: the document on the left, the conversation and the question input on the right."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import Screen
from textual.widgets import Footer, Header, Input, ProgressBar, Static

from assistant.core.errors import UserError
from assistant.store import STORE_ERRORS
from assistant.tui.gc_tuning import freeze_heap
from assistant.tui.messages import (
    AnswerFailed,
    AnswerReady,
    DocumentFailed,
    DocumentIndexed,
    IndexProgress,
)
from assistant.tui.widgets.conversation import AnswerCard, Conversation
from assistant.tui.widgets.document_view import DocumentView


class QuestionInput(Input):
    """Enter asks; Up/Down recall earlier questions."""

    BINDINGS = [
        Binding("up", "history(-1)", "Earlier question", show=False, id="history-previous"),
        Binding("down", "history(1)", "Later question", show=False, id="history-next"),
    ]

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(placeholder="Ask a question about the document…", **kwargs)
        self.history: list[str] = []
        self._cursor = 0

    def remember(self, question: str) -> None:
        if not self.history or self.history[-1] != question:
            self.history.append(question)
        self._cursor = len(self.history)

    def action_history(self, step: int) -> None:
        if not self.history:
            return
        self._cursor = max(0, min(len(self.history), self._cursor + step))
        self.value = self.history[self._cursor] if self._cursor < len(self.history) else ""
        self.cursor_position = len(self.value)


class ChatScreen(Screen):
    CSS_PATH = "chat.tcss"
    BINDINGS = [
        Binding("ctrl+j", "candidates", "Candidates", id="chat-candidates"),
        Binding("ctrl+g", "mark_right", "Right", id="chat-mark-right"),
        Binding("ctrl+b", "mark_wrong", "Wrong", id="chat-mark-wrong"),
        Binding("ctrl+s", "save_span", "Save span", id="chat-save-span"),
        Binding("ctrl+l", "focus_question", "Ask", id="chat-focus-question"),
    ]

    def __init__(self, initial_path: Path | None = None) -> None:
        super().__init__()
        self.initial_path = initial_path
        self.document_path: Path | None = None
        self.indexed: Any = None
        self.pending: list[tuple[str, AnswerCard]] = []

    def compose(self) -> ComposeResult:
        yield Header(show_clock=False)
        with Horizontal(id="panes"):
            yield DocumentView(id="document")
            with Vertical(id="chat"):
                yield Conversation(id="conversation")
                yield ProgressBar(id="index-progress", show_eta=False)
                yield QuestionInput(id="question")
        yield Static(id="status")
        yield Footer()

    def on_mount(self) -> None:
        self.query_one("#index-progress").display = False
        self.query_one(DocumentView).border_title = "no document: ctrl+o opens one"
        self.query_one(Conversation).border_title = "conversation"
        self.query_one(QuestionInput).focus()
        self.update_status()
        if self.initial_path:
            self.open_document(self.initial_path)

    # --- status -----------------------------------------------------------------------------------
    def update_status(self) -> None:
        app = self.app
        model = getattr(app, "model_status", "loading model…")
        doc = self.document_path.name if self.document_path else "no document"
        words = f" · {self.indexed.words:,} words" if self.indexed is not None else ""
        self.query_one("#status", Static).update(f" {doc}{words} │ {model}")

    # --- documents --------------------------------------------------------------------------------
    def open_document(self, path: Path) -> None:
        bar = self.query_one("#index-progress", ProgressBar)
        bar.display = True
        bar.update(total=100, progress=0)
        self.query_one(DocumentView).border_title = f"opening {path.name}…"
        self._index_document(path)

    @work(thread=True, exclusive=True, group="index")
    def _index_document(self, path: Path) -> None:
        from assistant.core.documents import load_document

        try:
            document = load_document(path)
        except UserError as exc:
            self.post_message(DocumentFailed(path, str(exc)))
            return
        from assistant.core.engine import EngineSettings, index_document

        indexed = index_document(
            document, EngineSettings(), progress=lambda stage, f: self.post_message(IndexProgress(stage, f))
        )
        self.post_message(DocumentIndexed(path, indexed))

    @on(IndexProgress)
    def _index_progress(self, message: IndexProgress) -> None:
        self.query_one("#index-progress", ProgressBar).update(progress=message.fraction * 100)

    @on(DocumentFailed)
    def _document_failed(self, message: DocumentFailed) -> None:
        self.query_one("#index-progress").display = False
        view = self.query_one(DocumentView)
        view.border_title = self.document_path.name if self.document_path else "no document: ctrl+o opens one"
        self.notify(message.error, title="Cannot open document", severity="error", timeout=8)

    @on(DocumentIndexed)
    def _document_indexed(self, message: DocumentIndexed) -> None:
        self.query_one("#index-progress").display = False
        self.document_path = message.path
        self.indexed = message.indexed
        view = self.query_one(DocumentView)
        view.show(message.indexed.document.text)
        view.border_title = f"{message.path.name}"
        self.restore_history()
        self.update_status()
        self.app.sub_title = message.path.name
        freeze_heap()
        self.query_one(QuestionInput).focus()

    def restore_history(self) -> None:
        conversation = self.query_one(Conversation)
        conversation.clear()
        question_input = self.query_one(QuestionInput)
        store = self.app.store
        if store is None or self.document_path is None:
            return
        try:
            turns = store.turns(self.document_path)
        except STORE_ERRORS as exc:
            self.history_failed("read the earlier questions from", exc)
            return
        for turn in turns:
            conversation.add_turn(turn.question, turn.result, turn.id, turn.feedback)
            question_input.remember(turn.question)
        conversation.scroll_end(animate=False)

    # --- asking -----------------------------------------------------------------------------------
    @on(Input.Submitted, "#question")
    def _submitted(self, event: Input.Submitted) -> None:
        question = event.value.strip()
        if not question:
            return
        if self.indexed is None:
            self.notify("Open a document first (ctrl+o).", severity="warning")
            return
        event.input.value = ""
        event.input.remember(question)
        card = self.query_one(Conversation).add_question(question)
        engine = self.app.engine
        if engine is None:
            self.pending.append((question, card))
            if self.app.model_error:
                self.notify(self.app.model_error, title="No reader model", severity="error", timeout=10)
            return
        self._ask(engine, self.indexed, self.document_path, question, card)

    def model_ready(self) -> None:
        """Answer the questions asked while the model was loading."""
        pending, self.pending = self.pending, []
        for question, card in pending:
            self._ask(self.app.engine, self.indexed, self.document_path, question, card)
        self.update_status()

    @work(thread=True, group="ask")
    def _ask(self, engine: Any, indexed: Any, path: Path | None, question: str, card: AnswerCard) -> None:
        from dataclasses import replace

        settings = self.app.settings
        decode = replace(engine.settings.decode, top_k=settings.top_k, min_confidence=settings.threshold)
        try:
            result = engine.with_settings(decode=decode).ask(indexed, question).to_json()
        except Exception as exc:  # the UI must survive any reader failure
            self.app.call_from_thread(self._answer_failed, card, AnswerFailed(question, f"{type(exc).__name__}: {exc}"))
            return
        turn_id = self._save_turn(path, question, result)
        self.app.call_from_thread(self._answer_ready, card, AnswerReady(question, result, turn_id))

    def _save_turn(self, path: Path | None, question: str, result: dict[str, Any]) -> int | None:
        """In the answer worker: a history failure costs the saved turn, never the answer on screen."""
        store = self.app.store
        if store is None or path is None:
            return None
        try:
            return store.add_turn(path, question, result)
        except STORE_ERRORS as exc:
            self.app.call_from_thread(self.history_failed, "save this answer to", exc)
            return None

    def history_failed(self, action: str, exc: Exception) -> None:
        """A store error is a warning: the conversation on screen goes on without it."""
        self.app.notify(
            f"Could not {action} the conversation history: {type(exc).__name__}: {exc}",
            title="History",
            severity="warning",
            timeout=8,
        )

    def _answer_failed(self, card: AnswerCard, message: AnswerFailed) -> None:
        card.set_result({"answers": []}, None)
        self.notify(message.error, title="The reader failed", severity="error")

    def _answer_ready(self, card: AnswerCard, message: AnswerReady) -> None:
        card.set_result(message.result, message.turn_id)
        answers = message.result.get("answers", [])
        if answers:
            self.query_one(DocumentView).highlight(answers[0]["start"], answers[0]["end"])
        self.query_one(Conversation).scroll_end(animate=False)

    # --- feedback ---------------------------------------------------------------------------------
    def _last_answered(self) -> AnswerCard | None:
        card = self.query_one(Conversation).last_card()
        if card is None or card.result is None:
            self.notify("Ask a question first.", severity="warning")
            return None
        return card

    def action_candidates(self) -> None:
        card = self._last_answered()
        if card:
            card.show_candidates = not card.show_candidates
            card.refresh_card()

    def _mark(self, verdict: str) -> AnswerCard | None:
        card = self._last_answered()
        if card is None:
            return None
        card.feedback = verdict
        card.refresh_card()
        if card.turn_id is not None and self.app.store:
            try:
                self.app.store.set_feedback(card.turn_id, verdict)
            except STORE_ERRORS as exc:
                self.history_failed("save this verdict in", exc)
        return card

    def action_mark_right(self) -> None:
        card = self._mark("right")
        answers = (card.result or {}).get("answers", []) if card else []
        if card and answers:
            self._save_annotation(card.question, answers[0]["start"], answers[0]["end"])

    def action_mark_wrong(self) -> None:
        if self._mark("wrong"):
            self.query_one(DocumentView).focus()
            self.notify("Select the correct answer in the document, then press ctrl+s to save it.")

    def action_save_span(self) -> None:
        card = self._last_answered()
        span = self.query_one(DocumentView).selected_span()
        if card is None:
            return
        if span is None:
            self.notify("Select the answer in the document pane first.", severity="warning")
            return
        self._save_annotation(card.question, *span)

    def _save_annotation(self, question: str, start: int, end: int) -> None:
        from assistant.core.passages import paragraph_spans
        from assistant.paths import annotations_path
        from assistant.squad.annotations import write_annotation

        text = self.indexed.document.text
        while start < end and text[start].isspace():
            start += 1
        while end > start and text[end - 1].isspace():
            end -= 1
        para = next((p for p in paragraph_spans(text) if p.start <= start and end <= p.end), None)
        lo, hi = (para.start, para.end) if para else (max(0, start - 1000), min(len(text), end + 1000))
        write_annotation(
            annotations_path(),
            question,
            text[lo:hi],
            text[start:end],
            start - lo,
            source=self.document_path.name if self.document_path else "",
        )
        self.notify(
            f"Saved “{text[start:end][:40]}” as the answer; train on it from the Train screen.",
            title="Annotation saved",
        )

    def action_focus_question(self) -> None:
        self.query_one(QuestionInput).focus()

    def clear_conversation(self) -> None:
        if self.document_path and self.app.store:
            try:
                self.app.store.clear(self.document_path)
            except STORE_ERRORS as exc:
                self.history_failed("clear", exc)
        self.query_one(Conversation).clear()
