"""The chat screen: the document on the left, the conversation and the question input on the right."""

from __future__ import annotations

import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import Screen
from textual.widgets import Footer, Header, Input, ProgressBar, Static
from textual.worker import Worker

from assistant.core.errors import UserError
from assistant.settings import Settings
from assistant.store import STORE_ERRORS, ConversationStore
from assistant.tui import workers
from assistant.tui.actions import Scope, bindings
from assistant.tui.gc_tuning import freeze_heap
from assistant.tui.messages import (
    AnswerReady,
    ClearConversation,
    DocumentFailed,
    DocumentIndexed,
    ExportConversation,
    HistoryFailed,
    IndexProgress,
    PickDocument,
)
from assistant.tui.state import ReaderState, ReaderStatus
from assistant.tui.widgets.conversation import AnswerCard, Conversation
from assistant.tui.widgets.document_view import DocumentView

if TYPE_CHECKING:  # the engine imports torch: only its types are needed here
    from assistant.core.engine import IndexedDocument, QAEngine

NO_DOCUMENT = "no document: ctrl+o opens one"


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


class ChatScreen(Screen[None]):
    CSS_PATH = "chat.tcss"
    BINDINGS = bindings("chat")
    SCOPE: Scope = "chat"

    def __init__(
        self, initial_path: Path | None = None, store: ConversationStore | None = None, settings: Settings | None = None
    ) -> None:
        super().__init__()
        self.initial_path = initial_path
        self.store = store
        self.settings = settings or Settings()
        self.document_path: Path | None = None
        self.indexed: IndexedDocument | None = None
        self.reader = ReaderState()
        self.pending: list[tuple[str, AnswerCard]] = []
        """Questions asked before a reader was ready."""
        self.asking: dict[Worker[None], AnswerCard] = {}

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
        self.query_one(DocumentView).border_title = NO_DOCUMENT
        self.query_one(Conversation).border_title = "conversation"
        self.query_one(QuestionInput).focus()
        self.watch(self.app, "reader_state", self._reader_changed)
        if self.initial_path:
            self.open_document(self.initial_path)

    # --- the reader and the status line -----------------------------------------------------------
    def _reader_changed(self, state: ReaderState) -> None:
        self.reader = state
        if state.engine is not None:  # answer the questions asked while it was loading
            pending, self.pending = self.pending, []
            for question, card in pending:
                self._start_asking(state.engine, question, card)
        self.update_status()

    def update_status(self) -> None:
        doc = self.document_path.name if self.document_path else "no document"
        words = f" · {self.indexed.words:,} words" if self.indexed is not None else ""
        self.query_one("#status", Static).update(f" {doc}{words} │ {self.reader.label}")

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        """The screen's workers end here: a worker that raised is a notification, never the end of the app."""
        card = self.asking.pop(event.worker, None) if event.state in workers.FINISHED else None
        error = workers.failure(event)
        if error is None:
            return
        if event.worker.group == workers.INDEX:
            self._index_failed(error)
        elif card is not None:
            card.set_failed(error)
            self.notify(error, title="The reader failed", severity="error")
        else:
            self.notify(error, title="Something went wrong", severity="error")

    # --- documents --------------------------------------------------------------------------------
    @on(PickDocument)
    def _pick_document(self) -> None:
        from textual_fspicker import FileOpen

        start = self.document_path.parent if self.document_path else Path.cwd()
        self.app.push_screen(FileOpen(start), self._picked)

    def _picked(self, path: Path | None) -> None:
        if path is not None:
            self.open_document(Path(path))

    def open_document(self, path: Path) -> None:
        bar = self.query_one("#index-progress", ProgressBar)
        bar.display = True
        bar.update(total=100, progress=0)
        self.query_one(DocumentView).border_title = f"opening {path.name}…"
        self._index_document(path)

    @work(thread=True, exclusive=True, exit_on_error=False, group=workers.INDEX)
    def _index_document(self, path: Path) -> None:
        from assistant.core.documents import load_document

        try:
            document = load_document(path)
        except UserError as exc:
            self.post_message(DocumentFailed(path, str(exc)))
            return
        from assistant.core.engine import EngineSettings, index_document

        def progress(stage: str, fraction: float) -> None:
            self.post_message(IndexProgress(stage, fraction))

        self.post_message(DocumentIndexed(path, index_document(document, EngineSettings(), progress=progress)))

    @on(IndexProgress)
    def _index_progress(self, message: IndexProgress) -> None:
        self.query_one("#index-progress", ProgressBar).update(progress=message.fraction * 100)

    @on(DocumentFailed)
    def _document_failed(self, message: DocumentFailed) -> None:
        self._index_failed(message.error)

    def _index_failed(self, error: str) -> None:
        self.query_one("#index-progress").display = False
        view = self.query_one(DocumentView)
        view.border_title = self.document_path.name if self.document_path else NO_DOCUMENT
        self.notify(error, title="Cannot open document", severity="error", timeout=8)

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
        if self.store is None or self.document_path is None:
            return
        try:
            turns = self.store.turns(self.document_path)
        except STORE_ERRORS as exc:
            self._history_failed("read the earlier questions from", exc)
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
        self.query_one(QuestionInput).remember(question)
        card = self.query_one(Conversation).add_question(question)
        if self.reader.engine is None:
            self.pending.append((question, card))
            if self.reader.status is ReaderStatus.FAILED and self.reader.error:
                self.notify(self.reader.error, title="No reader model", severity="error", timeout=10)
            return
        self._start_asking(self.reader.engine, question, card)

    def _start_asking(self, engine: QAEngine, question: str, card: AnswerCard) -> None:
        """The settings are read here, on the UI thread; the worker gets everything it needs."""
        from dataclasses import replace

        if self.indexed is None:
            return
        decode = replace(engine.settings.decode, top_k=self.settings.top_k, min_confidence=self.settings.threshold)
        worker = self._ask(engine.with_settings(decode=decode), self.indexed, self.document_path, question, card)
        self.asking[worker] = card

    @work(thread=True, exit_on_error=False, group=workers.ASK)
    def _ask(
        self, engine: QAEngine, indexed: IndexedDocument, path: Path | None, question: str, card: AnswerCard
    ) -> None:
        """Not exclusive: questions asked in a row are all answered."""
        result = engine.ask(indexed, question)
        turn_id = None
        if self.store is not None and path is not None:
            try:  # a history failure costs the saved turn, never the answer on screen
                turn_id = self.store.add_turn(path, question, result)
            except STORE_ERRORS as exc:
                self.post_message(HistoryFailed("save this answer to", f"{type(exc).__name__}: {exc}"))
        self.post_message(AnswerReady(card, result, turn_id))

    @on(AnswerReady)
    def _answer_ready(self, message: AnswerReady) -> None:
        message.card.set_result(message.result, message.turn_id)
        best = message.result.best
        if best is not None:
            self.query_one(DocumentView).highlight(best.start, best.end)
        self.query_one(Conversation).scroll_end(animate=False)

    @on(HistoryFailed)
    def _history_failed_message(self, message: HistoryFailed) -> None:
        self.notify(
            f"Could not {message.action} the conversation history: {message.error}",
            title="History",
            severity="warning",
            timeout=8,
        )

    def _history_failed(self, action: str, exc: Exception) -> None:
        """A store error is a warning: the conversation on screen goes on without it."""
        self._history_failed_message(HistoryFailed(action, f"{type(exc).__name__}: {exc}"))

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
        if card.turn_id is not None and self.store:
            try:
                self.store.set_feedback(card.turn_id, verdict)
            except STORE_ERRORS as exc:
                self._history_failed("save this verdict in", exc)
        return card

    def action_mark_right(self) -> None:
        card = self._mark("right")
        best = card.result.best if card and card.result else None
        if card and best:
            self._save_annotation(card.question, best.start, best.end)

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

        if self.indexed is None:
            return
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

    # --- the conversation as a whole --------------------------------------------------------------
    @on(ClearConversation)
    def _clear_requested(self) -> None:
        self.clear_conversation()
        self.notify("Conversation cleared.")

    def clear_conversation(self) -> None:
        if self.document_path and self.store:
            try:
                self.store.clear(self.document_path)
            except STORE_ERRORS as exc:
                self._history_failed("clear", exc)
        self.query_one(Conversation).clear()

    @on(ExportConversation)
    def export_conversation(self) -> None:
        from assistant import atomic
        from assistant.paths import user_data_dir
        from assistant.store import conversation_markdown

        path = self.document_path
        if path is None:
            self.notify("Open a document first.", severity="warning")
            return
        if self.store is None:
            self.notify("Conversations are not kept this session, so there is nothing to export.", severity="warning")
            return
        out = user_data_dir() / "exports" / f"{path.stem}-{time.strftime('%Y%m%d-%H%M%S')}.md"
        try:
            atomic.write_text(out, conversation_markdown(path, self.store.turns(path)))
        except STORE_ERRORS as exc:
            self.notify(f"Could not export the conversation: {type(exc).__name__}: {exc}", severity="warning")
            return
        self.notify(f"Saved {out}", title="Conversation exported")
