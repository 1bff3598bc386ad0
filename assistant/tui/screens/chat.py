"""The chat screen: the document on the left, the conversation and the question input on the right."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.notifications import SeverityLevel
from textual.screen import Screen
from textual.widgets import Footer, Header, Input, ProgressBar, Static
from textual.worker import Worker, get_current_worker

from assistant.core import files
from assistant.core.errors import UserError
from assistant.core.sanitize import one_line
from assistant.rendering import safe_text
from assistant.settings import Settings
from assistant.store import STORE_ERRORS, Context, ConversationStore
from assistant.tui import workers
from assistant.tui.actions import Scope, bindings
from assistant.tui.chat_answers import AnswerNavigation
from assistant.tui.chat_history import History
from assistant.tui.chat_verdicts import Verdicts
from assistant.tui.gc_tuning import freeze_heap
from assistant.tui.messages import (
    AnswerReady,
    ClearConversation,
    DocumentFailed,
    DocumentIndexed,
    ExportConversation,
    IndexProgress,
    JumpToAnswer,
    PickDocument,
    TrainingActivity,
)
from assistant.tui.screens.dialogs import ConfirmScreen
from assistant.tui.screens.first_run import what_is_missing
from assistant.tui.state import ReaderState, ReaderStatus
from assistant.tui.widgets.conversation import AnswerCard, Conversation
from assistant.tui.widgets.document_pane import DocumentPane
from assistant.tui.widgets.document_view import DocumentView
from assistant.tui.widgets.find_bar import FindBar
from assistant.tui.widgets.recent_documents import (
    BROWSE,
    BROWSE_FOLDER,
    RecentChoice,
    RecentDocuments,
    text_file_filters,
)
from assistant.tui.widgets.text_input import TextInput

if TYPE_CHECKING:  # the engine imports torch: only its types are needed here
    from collections.abc import Callable

    from assistant.core.documents import Document
    from assistant.core.engine import IndexedDocument, QAEngine
    from assistant.core.folders import Skipped

NO_DOCUMENT = "no document: ctrl+o opens one"
WAITING_FOR_READER = {
    True: "waiting for the reader to load…",
    False: "waiting for a reader model: f3 picks one; asked once it has loaded",
}
"""A question asked with no reader yet says what it waits for (keyed by: is one loading?)."""
RECENT_LIMIT = 10


class QuestionInput(TextInput):
    """Enter asks; Up/Down recall earlier questions, and Down past the newest brings back the question being typed
    (as readline keeps its draft)."""

    BINDINGS = [
        Binding("up", "history(-1)", "Earlier question", show=False, id="history-previous"),
        Binding("down", "history(1)", "Later question", show=False, id="history-next"),
    ]

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(placeholder="Ask about the document…", **kwargs)
        self.history: list[str] = []
        self._cursor = 0
        self._draft = ""
        """What was being typed when Up was first pressed."""

    def remember(self, question: str) -> None:
        if not self.history or self.history[-1] != question:
            self.history.append(question)
        self._cursor = len(self.history)

    def action_history(self, step: int) -> None:
        if not self.history:
            return
        if self._cursor == len(self.history):
            self._draft = self.value
        self._cursor = max(0, min(len(self.history), self._cursor + step))
        self.value = self.history[self._cursor] if self._cursor < len(self.history) else self._draft
        self.cursor_position = len(self.value)


class ChatScreen(Screen[None]):
    CSS_PATH = "chat.tcss"
    BINDINGS = bindings("chat")
    SCOPE: Scope = "chat"

    def __init__(
        self, initial: Context | None = None, store: ConversationStore | None = None, settings: Settings | None = None
    ) -> None:
        super().__init__()
        self.initial = initial
        self.store = store
        self.settings = settings or Settings()
        self.context: Context | None = None
        """What is open: a document, a folder, or several paths read as one."""
        self.told_skipped = False
        """Whether a toast about the open context's files not read may still be up."""
        self.skipped: list[Skipped] = []
        """The files of the open folder that were not read, with why (the sources screen lists them)."""
        self.indexed: IndexedDocument | None = None
        self.reader = ReaderState()
        self.opening: Context | None = None
        """The document being opened (read and indexed), if any."""
        self.pending: list[tuple[str, AnswerCard, Context | None]] = []
        """Questions asked before the reader or the document being opened was ready, each with the document it
        is about (the one being opened, else the one open): asked once both are."""
        self.asking: dict[Worker[None], AnswerCard] = {}
        self.verdicts = Verdicts(self)
        self.answers = AnswerNavigation(self)
        self.history = History(self)

    def compose(self) -> ComposeResult:
        yield Header(show_clock=False)
        with Horizontal(id="panes"):
            yield DocumentPane(id="document-pane")
            with Vertical(id="chat"):
                yield Conversation(id="conversation")
                yield ProgressBar(id="index-progress", show_eta=False)
                yield QuestionInput(id="question")
        with Horizontal(id="status-row"):
            yield Static(id="status")
            yield Static(id="training")
        yield Footer(compact=True)

    def on_screen_resume(self) -> None:
        """Back from another screen (Train, annotations, a dialog): typing goes to the question again."""
        if self.is_mounted and not isinstance(self.focused, (DocumentView, FindBar)):
            self.question_input.focus()

    def on_mount(self) -> None:
        self.query_one("#index-progress").display = False
        self.query_one("#training").display = False
        self.query_one(DocumentView).border_title = NO_DOCUMENT
        self.query_one("#chat").border_title = "conversation"  # the pane with the border
        self.query_one(QuestionInput).focus()
        self.watch(self.app, "reader_state", self._reader_changed)
        if self.initial is not None:
            self.open_document(self.initial)
        elif self.settings.reopen_last and (last := self._recent_documents()[:1]):
            self.open_document(last[0])

    # --- the reader and the status line -----------------------------------------------------------
    def _reader_changed(self, state: ReaderState) -> None:
        self.reader = state
        self._ask_pending()  # the questions asked while it was loading
        self.update_status()

    def _ask_pending(self) -> None:
        """Ask the waiting questions once there is a reader and the document being opened is ready."""
        engine = self.reader.engine
        if engine is None or self.indexed is None or self.opening is not None:
            return
        pending, self.pending = self.pending, []
        for question, card, _ in pending:
            self._start_asking(engine, question, card)

    def update_status(self) -> None:
        doc = self.context.name if self.context else "no document"
        words = f" · {self.indexed.words:,} words" if self.indexed is not None else ""
        if self.indexed is not None and self.skipped:  # said for as long as it is open, not only in a passing toast
            words += f" · {len(self.skipped):,} not read (f6)"
        status = self.query_one("#status", Static)
        said = f" {doc}{words} │ {self.reader.label}"
        if 0 < status.size.width < len(said):  # at 80 columns with a folder open, the scores went past the edge
            said = f" {doc}{words} │ {self.reader.describe(with_source=False)}"
        status.update(safe_text(said, single_line=True))

    def on_resize(self) -> None:
        self.call_after_refresh(self.update_status)  # the room the status line has changed

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
        """The documents and folders asked about before that are still there, then "Browse…" (the file dialog) and
        "Open a folder…" (the folder dialog)."""
        if self.app.screen is not self:  # a dialog is up (ctrl+o twice, fast): one list, not two stacked
            return
        self._take_down_skipped_toast()  # it would cover the dialogs' buttons and errors: the status line says it
        self.app.push_screen(RecentDocuments(self._recent_documents(), self.context), self._recent_picked)

    @property
    def document_path(self) -> Path | None:
        """The document or folder open (with several paths open: the first)."""
        return self.context.first if self.context is not None else None

    def _recent_documents(self) -> list[Context]:
        if self.store is None:
            return []
        try:
            recent = self.store.recent_documents(RECENT_LIMIT)
        except STORE_ERRORS as exc:
            self.history_failed("read the recent documents from", exc)
            return []
        current = [self.context] if self.context is not None else []  # the open one first
        keys = {context.key for context in current}
        kept = [c for c in recent if all(files.path_kind(p) in ("file", "dir") for p in c.paths)]  # gone: not offered
        return current + [context for context in kept if context.key not in keys]

    def _recent_picked(self, choice: RecentChoice) -> None:
        if choice == BROWSE:
            self._browse()
        elif choice == BROWSE_FOLDER:
            self._browse_folder()
        elif isinstance(choice, Context):
            self.open_document(choice)

    def action_sources(self) -> None:
        from assistant.tui.screens.sources import SourcesScreen

        if self.app.screen is not self:  # already up (f6 twice, fast)
            return
        if self.indexed is None:
            self.notify("Open a document first (ctrl+o).", severity="warning")
            return
        document = self.indexed.document

        def chosen(offset: int | None) -> None:
            if offset is not None and self.indexed is not None and self.indexed.document is document:
                self.query_one(DocumentView).go_to_offset(offset)

        context = self.context
        name = context.name if context is not None else None
        walked = context is not None and (bool(context.also) or files.path_kind(context.first) == "dir")
        self.app.push_screen(SourcesScreen(document, self.skipped, name, walked), chosen)

    def _start_folder(self) -> Path:
        first = self.document_path
        if first is None:
            return Path.cwd()
        return first if files.path_kind(first) == "dir" else first.parent

    def _browse(self) -> None:
        from assistant.tui.file_dialogs import FileOpen

        self.app.push_screen(FileOpen(self._start_folder(), filters=text_file_filters()), self._picked)

    def _browse_folder(self) -> None:
        from assistant.tui.file_dialogs import SelectDirectory

        dialog = SelectDirectory(self._start_folder(), title="Open a folder", take_typed=True)
        self.app.push_screen(dialog, self._picked)

    def _picked(self, path: Path | None) -> None:
        if path is not None:
            self.open_document(Context.of(path))

    def _take_down_skipped_toast(self) -> None:
        """Take down the toast about files not read (Textual takes toasts back all at once, not one by one)."""
        if self.told_skipped:
            self.app.clear_notifications()
            self.told_skipped = False

    def open_document(self, what: Context | Path, password: str | None = None) -> None:
        """Open a document, a folder (a path), or several paths as one context, in a worker."""
        context = what if isinstance(what, Context) else Context.of(what)
        self._take_down_skipped_toast()  # about the context being left
        bar = self.query_one("#index-progress", ProgressBar)
        bar.display = True
        bar.update(total=100, progress=0)
        self.query_one(DocumentView).border_title = safe_text(f"opening {context.name}…", single_line=True)
        self.opening = context
        self._index_document(context, password)

    @work(thread=True, exclusive=True, exit_on_error=False, group=workers.INDEX)
    def _index_document(self, context: Context, password: str | None) -> None:
        from assistant.core.engine import EngineSettings
        from assistant.core.errors import PasswordNeeded
        from assistant.core.folder_index import open_indexed
        from assistant.paths import folder_index_dir, index_cache_dir

        def progress(stage: str, fraction: float) -> None:
            self._post_unless_replaced(IndexProgress(stage, fraction))

        worker = get_current_worker()
        try:
            opened, indexed = open_indexed(
                context.first,
                EngineSettings(),
                also=context.also,
                file_cache=index_cache_dir(),
                folder_cache=folder_index_dir(),
                password=password,
                progress=progress,
                stopped=lambda: worker.is_cancelled,
            )
        except PasswordNeeded as exc:
            self._post_unless_replaced(DocumentFailed(context, str(exc), "wrong" if exc.wrong else "missing"))
            return
        except UserError as exc:
            self._post_unless_replaced(DocumentFailed(context, str(exc)))
            return
        self._post_unless_replaced(DocumentIndexed(context, indexed, opened.skipped))

    def _post_unless_replaced(self, message: DocumentIndexed | DocumentFailed | IndexProgress) -> None:
        """A document opened after this one cancelled its worker: a slow first document must not come in last."""
        if not get_current_worker().is_cancelled:
            self.post_message(message)

    @on(IndexProgress)
    def _index_progress(self, message: IndexProgress) -> None:
        self.query_one("#index-progress", ProgressBar).update(progress=message.fraction * 100)
        if self.opening is not None:
            title = f"opening {self.opening.name}… {message.stage} (escape stops)"
            self.query_one(DocumentView).border_title = safe_text(title, single_line=True)

    def stop_opening(self) -> bool:
        """Stop the open under way, if any (escape): the document open before stays, and the questions asked about
        the one stopped are not asked."""
        if self.opening is None:
            return False
        self.workers.cancel_group(self, workers.INDEX)
        self._index_failed(f"Stopped opening {self.opening.name}.", title="Not opened", severity="information")
        return True

    @on(DocumentFailed)
    def _document_failed(self, message: DocumentFailed) -> None:
        if message.password:
            self._ask_password(message)
        else:
            self._index_failed(message.error)

    def _ask_password(self, message: DocumentFailed) -> None:
        """A protected PDF: its password is asked for, and it is opened again with it (escape: not opened)."""
        from assistant.tui.screens.password import PasswordScreen

        def typed(password: str | None) -> None:
            if password:
                self.open_document(message.context, password)
            else:
                self._index_failed(f"{message.context.name} was not opened: it needs its password.")

        self.app.push_screen(PasswordScreen(message.context.name, message.password == "wrong"), typed)

    def _index_failed(self, error: str, title: str = "Cannot open document", severity: SeverityLevel = "error") -> None:
        self.query_one("#index-progress").display = False
        view = self.query_one(DocumentView)
        view.border_title = safe_text(self.context.name, single_line=True) if self.context else NO_DOCUMENT
        self.notify(error, title=title, severity=severity, timeout=8)
        failed = self.opening
        self.opening = None
        for _, card, about in self.pending:
            if about == failed:
                card.set_not_asked("Not asked: the document did not open (up recalls the question).")
        self.pending = [waiting for waiting in self.pending if waiting[2] != failed]
        self._ask_pending()  # those about the document still open

    @on(DocumentIndexed)
    def _document_indexed(self, message: DocumentIndexed) -> None:
        self.query_one("#index-progress").display = False
        self.opening = None
        self.context = message.context
        self.indexed = message.indexed
        self.skipped = message.skipped
        self.query_one(Conversation).document_name = message.indexed.document.name
        document = message.indexed.document
        self.query_one(DocumentPane).show(document.text, [(part.start, part.end) for part in document.parts])
        self.query_one(DocumentView).placer = _placer(message.indexed.document)
        self.query_one(DocumentView).show_place()
        self.query_one(DocumentView).border_title = safe_text(message.context.name, single_line=True)
        self.history.opened(message.context)
        self.restore_history()
        conversation = self.query_one(Conversation)  # the questions asked while it opened, after its history
        waiting = [(q, about) for q, _, about in self.pending if about == message.context]  # others left with theirs
        self.pending = [(q, conversation.add_question(q), about) for q, about in waiting]
        self._ask_pending()
        self.update_status()
        self.app.sub_title = one_line(message.context.name)
        freeze_heap()
        self.query_one(QuestionInput).focus()
        if message.skipped:
            first = message.skipped[0]
            more = f" and {len(message.skipped) - 1:,} more" if len(message.skipped) > 1 else ""
            self.notify(
                f"Not read: {first.path}: {first.why}{more}. f6 lists the sources.", severity="warning", timeout=10
            )
            self.told_skipped = True

    def restore_history(self) -> None:
        self.verdicts.correcting = self.answers.shown = None
        self.history.restore()

    @property
    def question_input(self) -> QuestionInput:
        return self.query_one(QuestionInput)

    # --- asking -----------------------------------------------------------------------------------
    @on(Input.Submitted, "#question")
    def _submitted(self, event: Input.Submitted) -> None:
        question = event.value.strip()
        if not question:
            return
        if self.indexed is None and self.opening is None:
            self.notify("Open a document first (ctrl+o).", severity="warning")
            return
        event.input.value = ""
        self.query_one(QuestionInput).remember(question)
        card = self.query_one(Conversation).add_question(question)
        self.pending.append((question, card, self.opening or self.context))  # asked once all is ready
        if self.reader.engine is None:
            card.set_waiting(WAITING_FOR_READER[self.reader.status is ReaderStatus.LOADING])
        self._ask_pending()
        if self.pending and self.reader.status is ReaderStatus.FAILED and self.reader.error:
            self.notify(
                f"{what_is_missing(self.reader.error)} f3 picks a reader; ctrl+t trains one.",
                title="No reader model",
                severity="error",
                timeout=10,
            )

    def _start_asking(self, engine: QAEngine, question: str, card: AnswerCard) -> None:
        """The settings are read here, on the UI thread; the worker gets everything it needs."""
        from assistant.settings import engine_settings

        if self.indexed is None:
            return
        card.model = self.reader.name or None
        card.set_waiting("")
        reading = engine_settings(self.settings, engine.settings)
        worker = self._ask(engine.with_settings(**vars(reading)), self.indexed, self.context, question, card)
        self.asking[worker] = card

    @work(thread=True, exit_on_error=False, group=workers.ASK)
    def _ask(
        self, engine: QAEngine, indexed: IndexedDocument, context: Context | None, question: str, card: AnswerCard
    ) -> None:
        """Not exclusive: questions asked in a row are all answered. It only posts the answer: the App keeps it."""
        result = engine.ask(indexed, question)
        if not get_current_worker().is_cancelled:  # the conversation was cleared meanwhile: nothing to keep
            self.post_message(AnswerReady(card, result, context))

    @on(AnswerReady)
    def _answer_ready(self, message: AnswerReady) -> None:
        """Kept in the document's history (even when another document is open now), and shown."""
        card = message.card
        turn_id = self.history.save_answer(message.context, card.question, message.result, card.model)
        if not card.is_attached:  # about a document no longer open: kept in its history, shown there
            return
        card.set_result(message.result, turn_id)
        best = message.result.best
        view = self.query_one(DocumentView)
        if best is not None and self.indexed is not None:
            view.highlight(*self.indexed.document.span(best.path, best.start, best.end))
        else:  # "Not found": the previous answer's highlight must not stand for this one
            view.clear_highlight()
        self.verdicts.correcting = None  # a new answer: ctrl+s is about it now
        self.answers.shown = card
        card.reveal()  # its answer line, not its tail

    def history_failed(self, action: str, exc: Exception) -> None:
        """A store error is a warning: the conversation on screen goes on without it."""
        self.notify(
            f"Could not {action} the conversation history: {type(exc).__name__}: {exc}",
            title="History",
            severity="warning",
            timeout=8,
        )

    # --- verdicts on answers (assistant.tui.chat_verdicts) ----------------------------------------
    def last_answered(self) -> AnswerCard | None:
        card = self.query_one(Conversation).last_card()
        if card is None or card.result is None:
            self.notify("Ask a question first.", severity="warning")
            return None
        return card

    def action_candidates(self) -> None:
        card = self.last_answered()
        if card:
            card.show_candidates = not card.show_candidates
            card.refresh_card()
            if card.show_candidates:  # the list grows below the fold: bring the card's end into view
                self.call_after_refresh(card.scroll_visible, animate=False, top=False)

    def action_mark_right(self) -> None:
        if card := self.last_answered():
            self.verdicts.mark_right(card)

    def action_mark_wrong(self) -> None:
        if card := self.last_answered():
            self.verdicts.mark_wrong(card)

    def action_save_span(self) -> None:
        if card := self.verdicts.correcting or self.last_answered():
            self.verdicts.save_span(card)

    def action_focus_question(self) -> None:
        self.query_one(QuestionInput).focus()

    # --- finding in the document, and showing answers in it --------------------------------------
    def _document_pane(self) -> DocumentPane | None:
        if self.indexed is None:
            self.notify("Open a document first (ctrl+o).", severity="warning")
            return None
        return self.query_one(DocumentPane)

    def action_find(self) -> None:
        pane = self._document_pane()
        if pane:
            pane.open_find()

    def action_go_to_line(self) -> None:
        pane = self._document_pane()
        if pane:
            pane.open_line()

    def _step_match(self, by: int) -> None:
        bar = self.query_one(FindBar)
        if not bar.search.query:
            self.notify("Find something first (ctrl+f).", severity="warning")
            return
        bar.action_step(by)

    def action_find_next(self) -> None:
        self._step_match(1)

    def action_find_previous(self) -> None:
        self._step_match(-1)

    # --- answers in the document (assistant.tui.chat_answers) -----------------------------------------
    @on(JumpToAnswer)
    def _jump_to_answer(self, message: JumpToAnswer) -> None:
        self.answers.show(message.card, message.index)

    def action_next_candidate(self) -> None:
        self.answers.step(1)

    def action_previous_candidate(self) -> None:
        self.answers.step(-1)

    def action_copy_answer(self) -> None:
        self.answers.copy()

    # --- training elsewhere -----------------------------------------------------------------------
    @on(TrainingActivity)
    def _training_activity(self, message: TrainingActivity) -> None:
        """The Train screen's run, shown here while it goes; hidden once it has ended."""
        indicator = self.query_one("#training", Static)
        indicator.display = message.running
        indicator.update(Text(one_line(f"⏵ training {message.summary}".rstrip()), no_wrap=True, overflow="ellipsis"))

    # --- the conversation as a whole --------------------------------------------------------------
    @on(ClearConversation)
    def _clear_requested(self) -> None:
        """Asked first, No by default: a conversation cleared is gone from the history too."""

        def answered(clear: bool | None) -> None:
            if clear:
                self.clear_conversation()
                self.notify("Conversation cleared.")

        about = f" about {self.context.name}" if self.context else ""
        question = f"Clear the conversation{about}? Its questions and answers will be forgotten."
        self.app.push_screen(ConfirmScreen(question, default=False), answered)

    def clear_conversation(self) -> None:
        self.history.clear(self.context)
        self.workers.cancel_group(self, workers.ASK)  # an answer on its way is neither saved nor shown
        self.query_one(Conversation).clear()
        self.pending, self.verdicts.correcting, self.answers.shown = [], None, None

    @on(ExportConversation)
    def export_conversation(self) -> None:
        self.history.export(self.context)


def _placer(document: Document) -> Callable[[int], str] | None:
    """What names a cursor's place in the document pane: None for a plain text file (the gutter's line is all)."""
    several = len(document.parts) > 1
    if not several and not document.parts[0].locations:
        return None
    return lambda offset: document.place(offset, offset).label(several)
