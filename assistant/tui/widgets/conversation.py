"""The conversation pane: questions and answer cards, newest at the bottom."""

from __future__ import annotations

from typing import TYPE_CHECKING

from rich.console import Group
from rich.style import Style
from rich.text import Text
from textual import events
from textual.containers import VerticalScroll
from textual.widgets import Static

from assistant.rendering import assemble, safe_text
from assistant.tui.messages import JumpToAnswer

if TYPE_CHECKING:  # the engine imports torch: only its type is needed here
    from assistant.core.engine import AskResult
    from assistant.tui.feedback import Annotation


class QuestionBubble(Static):
    DEFAULT_CSS = "QuestionBubble { color: $text; background: $boost; padding: 0 1; margin: 1 0 0 4; }"

    def __init__(self, question: str) -> None:
        super().__init__(safe_text(question))  # the user's words: "list[int]" or "[/]" is what they typed


class AnswerCard(Static):
    """One answer: text, confidence, line and the sentence around it; candidates on request.

    A click shows the answer (or the candidate clicked) in the document."""

    DEFAULT_CSS = """
    AnswerCard { padding: 0 1; margin: 0 4 0 0; border-left: thick $success; }
    AnswerCard.-none { border-left: thick $warning; }
    AnswerCard.-pending { border-left: thick $primary; color: $text-muted; }
    """

    def __init__(
        self,
        question: str,
        result: AskResult | None = None,
        turn_id: int | None = None,
        model: str | None = None,
        document_name: str = "",
    ) -> None:
        super().__init__()
        self.question = question
        self.document_name = document_name
        """The document pane's file: answers from it say only their page or line; others name their file."""
        self.result = result
        self.turn_id = turn_id
        self.model = model
        """The reader that answered (or is answering)."""
        self.show_candidates = False
        self.feedback: str | None = None
        self.annotation: Annotation | None = None
        """The annotation this answer's verdict saved in this session (its one annotation)."""
        self.note: str | None = None
        """Why a question was not asked (shown instead of "thinking…")."""
        self.current = 0
        """The candidate shown in the document (0: the answer), in bold."""
        self.revealing = False
        """Scrolled to its top whenever it is laid out anew while it is the newest answer (an answer grows the card
        after it is set, and a scroll bar appearing wraps it again)."""

    def on_mount(self) -> None:
        self.refresh_card()

    def reveal(self) -> None:
        """Bring the card's top into view now, and again once it has grown to its new height."""
        self.revealing = True
        self.call_after_refresh(self.scroll_visible, animate=False, top=True)

    def on_resize(self) -> None:
        parent = self.parent
        newest = parent is not None and parent.query_children(AnswerCard).last() is self
        if self.revealing and newest:  # once the conversation around it has its new height too
            self.call_after_refresh(self.scroll_visible, animate=False, top=True)

    def set_result(self, result: AskResult, turn_id: int | None) -> None:
        self.result = result
        self.turn_id = turn_id
        self.refresh_card()

    def set_waiting(self, what: str) -> None:
        """Shown instead of "thinking…" until the question is asked (then it is cleared)."""
        self.note = what
        self.refresh_card()

    def set_not_asked(self, why: str) -> None:
        self.note = why
        self.refresh_card()

    def set_failed(self, error: str) -> None:
        """The reader raised: the card shows no answer (the error is a notification)."""
        from assistant.core.engine import AskResult

        self.set_result(AskResult(self.question, [], [], {}, no_answer_reason=error), None)

    def on_click(self, event: events.Click) -> None:
        """Each candidate's lines carry its rank (style meta); a click elsewhere on the card means the answer."""
        if self.result is not None and self.result.answers:
            self.post_message(JumpToAnswer(self, int(event.style.meta.get("candidate", 0))))

    def refresh_card(self) -> None:
        self.set_class(self.result is None, "-pending")
        self.set_class(self.result is not None and not self.result.answers, "-none")
        self.update(Group(*self._lines()))

    @property
    def plain_text(self) -> str:
        return "\n".join(line.plain for line in self._lines())

    def _lines(self) -> list[Text]:
        if self.result is None:
            return [safe_text(self.note or "thinking…", "italic")]  # "" (asked now) is thinking too
        by = f" · {self.model}" if self.model else ""
        answers = self.result.answers
        if not answers:
            return [assemble(("Not found in this document", "bold yellow"), (by, "dim"))]
        parts = []
        shown = answers if self.show_candidates else answers[:1]
        for rank, a in enumerate(shown):
            clickable = Style(meta={"candidate": rank})
            head = assemble((" ".join(a.text.split()), "bold" if rank == self.current else ""))  # one line, always
            cite = a.where if a.path in ("", self.document_name) else a.source  # a folder's answers name their file
            head.append_text(assemble((f"  {a.score:.0%} · {cite}{by if rank == 0 else ''}", "dim")))
            head.stylize(clickable)
            parts.append(head)
            context = safe_text(a.context, single_line=True)
            context.stylize(Style.parse("italic dim") + clickable)
            parts.append(context)
        if not self.show_candidates and len(answers) > 1:
            parts.append(Text(f"{len(answers) - 1} more candidate(s): ctrl+j", style="dim"))
        if self.feedback:
            parts.append(Text(f"marked {self.feedback}", style="dim green" if self.feedback == "right" else "dim red"))
        return parts


class Conversation(VerticalScroll, can_focus=False):
    """The cards; never focused, so that Tab from the document goes to the question and typing is never lost."""

    DEFAULT_CSS = "Conversation { height: 1fr; }"

    document_name = ""
    """The open document's name (a folder's: none of its files'), for the cards' citations."""

    def add_question(self, question: str) -> AnswerCard:
        card = AnswerCard(question, document_name=self.document_name)
        self.mount(QuestionBubble(question))
        self.mount(card)
        self.scroll_end(animate=False)
        return card

    def add_turn(
        self, question: str, result: AskResult, turn_id: int | None, feedback: str | None, model: str | None = None
    ) -> AnswerCard:
        card = AnswerCard(question, result, turn_id, model, self.document_name)
        card.feedback = feedback
        self.mount(QuestionBubble(question))
        self.mount(card)
        return card

    def last_card(self) -> AnswerCard | None:
        cards = list(self.query(AnswerCard))
        return cards[-1] if cards else None

    def clear(self) -> None:
        self.remove_children()
