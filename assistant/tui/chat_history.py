"""The conversation kept per document (the SQLite store): restored when a document opens, each answer saved as it
comes, cleared after asking, exported as Markdown. A store error is a warning: the conversation on screen goes on."""

from __future__ import annotations

import re
import time
from typing import TYPE_CHECKING

from assistant.store import STORE_ERRORS, Context
from assistant.tui.widgets.conversation import Conversation
from assistant.tui.widgets.document_view import DocumentView

if TYPE_CHECKING:
    from assistant.core.engine import AskResult
    from assistant.tui.screens.chat import ChatScreen


class History:
    """The chat screen's conversation history, on the UI thread (the ask worker only posts its answer)."""

    def __init__(self, screen: ChatScreen) -> None:
        self.screen = screen

    def opened(self, context: Context) -> None:
        store = self.screen.store
        if store is not None:
            try:
                store.opened(context)
            except STORE_ERRORS as exc:
                self.screen.history_failed("keep this document in the recent list of", exc)

    def restore(self) -> None:
        """The document's earlier conversation, its last answer highlighted again."""
        screen = self.screen
        conversation = screen.query_one(Conversation)
        conversation.clear()
        if screen.store is None or screen.context is None:
            return
        try:
            turns = screen.store.turns(screen.context)
        except STORE_ERRORS as exc:
            screen.history_failed("read the earlier questions from", exc)
            return
        for turn in turns:
            conversation.add_turn(turn.question, turn.result, turn.id, turn.feedback, turn.model)
            screen.question_input.remember(turn.question)
        conversation.call_after_refresh(conversation.scroll_end, animate=False)  # once the cards are laid out
        best = turns[-1].result.best if turns else None
        if best is None or screen.indexed is None:
            return
        start, end = screen.indexed.document.span(best.path, best.start, best.end)
        if screen.indexed.document.text[start:end] == best.text:  # the document may have changed since
            screen.query_one(DocumentView).highlight(start, end)

    def save_answer(self, context: Context | None, question: str, result: AskResult, model: str | None) -> int | None:
        """The answer's turn id, once kept; None when it cannot be (no store, no document, a store error)."""
        store = self.screen.store
        if store is None or context is None:
            return None
        try:  # a history failure costs the saved turn, never the answer on screen
            return store.add_turn(context, question, result, model=model)
        except STORE_ERRORS as exc:
            self.screen.history_failed("save this answer to", exc)
            return None

    def clear(self, context: Context | None) -> None:
        store = self.screen.store
        if context and store:
            try:
                store.clear(context)
            except STORE_ERRORS as exc:
                self.screen.history_failed("clear", exc)

    def export(self, context: Context | None) -> None:
        """The document's conversation as a Markdown file in the data folder's exports/."""
        from assistant.core import files
        from assistant.paths import user_data_dir
        from assistant.store import conversation_markdown

        screen, store = self.screen, self.screen.store
        if context is None:
            screen.notify("Open a document first.", severity="warning")
            return
        if store is None:
            screen.notify("Conversations are not kept this session, so there is nothing to export.", severity="warning")
            return
        try:
            turns = store.turns(context)
        except STORE_ERRORS as exc:
            screen.notify(f"Could not export the conversation: {type(exc).__name__}: {exc}", severity="warning")
            return
        if not turns:
            screen.notify(f"Nothing to export: no question has been asked about {context.name} yet.", timeout=6)
            return
        named = context.name if context.also else context.first.stem
        stem = re.sub(r"[^\w.-]+", "-", named).strip("-.")[:60] or "conversation"  # a name any shell lists
        out = user_data_dir() / "exports" / f"{stem}-{time.strftime('%Y%m%d-%H%M%S')}.md"
        try:
            files.write_text(out, conversation_markdown(context, turns))
        except (*STORE_ERRORS, *files.WRITE_ERRORS) as exc:
            screen.notify(f"Could not export the conversation: {type(exc).__name__}: {exc}", severity="warning")
            return
        screen.notify(f"Saved {out}", title="Conversation exported")
