"""The annotations screen: every answer the user saved (annotations.jsonl), the span shown in its context; a
question can be edited and an annotation deleted, each written back atomically."""

from __future__ import annotations

from collections.abc import Callable

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.coordinate import Coordinate
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Header, Input, Static

from assistant.core.errors import UserError
from assistant.paths import annotations_path
from assistant.rendering import assemble, clip, safe_text
from assistant.tui.actions import Scope, bindings
from assistant.tui.feedback import Annotation, load_all, remove, replace
from assistant.tui.screens.dialogs import ConfirmScreen
from assistant.tui.widgets.text_input import TextInput

TITLE = "Annotations: the answers you saved, which training on “My annotations” learns from"
QUESTION_WIDTH, ANSWER_WIDTH = 48, 32
"""The widest question and answer in the table; the whole of both is shown below it."""
NONE_YET = "No annotations yet: mark an answer right (ctrl+g), or wrong and select the right span (ctrl+b, ctrl+s)."


class AnnotationsScreen(Screen[None]):
    CSS_PATH = "annotations.tcss"
    BINDINGS = [Binding("escape", "back", "Back", id="annotations-back"), *bindings("annotations")]
    SCOPE: Scope = "annotations"

    def __init__(self) -> None:
        super().__init__()
        self.notes: list[Annotation] = []

    def compose(self) -> ComposeResult:
        yield Header()
        with Vertical():
            yield Static(
                "Annotations: the answers you saved, which training on “My annotations” learns from", id="title"
            )
            yield DataTable(id="notes", cursor_type="row", zebra_stripes=True)
            yield Static(id="note-context")
            yield TextInput(
                placeholder="the question, edited: enter saves, escape leaves it",
                id="edit-question",
                select_on_focus=False,  # an edit, not a retype
            )
        yield Footer()

    def on_mount(self) -> None:
        table = self.query_one("#notes", DataTable)
        table.add_columns("question", "answer", "document")
        self.query_one("#edit-question").display = False
        self.reload()

    def reload(self) -> None:
        """Read the file again (the chat may have saved more) and keep the cursor where it was."""
        table = self.query_one("#notes", DataTable)
        row = table.cursor_row
        try:
            self.notes = load_all(annotations_path())
        except (OSError, UserError) as exc:
            self.notes = []
            self.notify(f"Could not read the annotations: {exc}", severity="error")
        table.clear()
        for index, note in enumerate(self.notes):
            cells = (clip(note.question, QUESTION_WIDTH), clip(note.answer_text, ANSWER_WIDTH), note.source or "—")
            table.add_row(*(safe_text(cell, single_line=True) for cell in cells), key=str(index))
        if self.notes:
            table.move_cursor(row=min(row, len(self.notes) - 1))
        self._show(self._selected())

    def on_screen_resume(self) -> None:
        self.reload()

    def _selected(self) -> Annotation | None:
        table = self.query_one("#notes", DataTable)
        if not self.notes or table.row_count == 0:
            return None
        key = table.coordinate_to_cell_key(Coordinate(table.cursor_row, 0)).row_key.value
        return self.notes[int(key)] if key is not None else None

    @on(DataTable.RowHighlighted, "#notes")
    def _highlighted(self) -> None:
        self._show(self._selected())

    def _show(self, note: Annotation | None) -> None:
        """The saved span, highlighted in its context, under the question it answers."""
        shown = self.query_one("#note-context", Static)
        if note is None:
            shown.update(NONE_YET)
            return
        before, span = note.context[: note.answer_start], note.context[note.answer_start :][: len(note.answer_text)]
        after = note.context[note.answer_start + len(note.answer_text) :]
        shown.update(
            assemble(("Q: ", "dim"), (note.question, "b"), "\n", before[-400:], (span, "reverse b"), after[:400])
        )

    # --- actions (the list is assistant.tui.actions) ----------------------------------------------
    def action_delete(self) -> None:
        note = self._selected()
        if note is None:
            return

        def answered(yes: bool | None) -> None:
            if yes:
                self._write(lambda: remove(annotations_path(), note))

        question = f"Delete the annotation of “{clip(note.question, 60)}” (answer “{clip(note.answer_text, 40)}”)?"
        self.app.push_screen(ConfirmScreen(question, default=False), answered)

    def action_edit(self) -> None:
        note = self._selected()
        if note is None:
            return
        editor = self.query_one("#edit-question", Input)
        editor.value = note.question
        editor.cursor_position = len(note.question)
        editor.display = True
        editor.focus()

    @on(Input.Submitted, "#edit-question")
    def _edited(self, event: Input.Submitted) -> None:
        note, question = self._selected(), event.value.strip()
        self._close_editor()
        if note is None or not question or question == note.question:
            return
        edited = Annotation(question, note.context, note.answer_text, note.answer_start, note.source)
        self._write(lambda: replace(annotations_path(), note, edited))

    def _close_editor(self) -> None:
        self.query_one("#edit-question").display = False
        self.query_one("#notes").focus()

    def action_back(self) -> None:
        if self.query_one("#edit-question").display:  # escape leaves the edit first
            self._close_editor()
        else:
            self.app.pop_screen()

    def _write(self, change: Callable[[], object]) -> None:
        try:
            change()
        except (OSError, UserError) as exc:  # a full disk, a read-only folder, a file that is not ours to read
            self.notify(f"Could not change the annotations: {exc}", severity="error")
        self.reload()
