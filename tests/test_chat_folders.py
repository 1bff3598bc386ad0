"""The chat app with a folder (or a PDF) open: answers name their file and page, the document pane says where the
cursor is, the sources screen lists every file read and not read, the conversation is kept for the folder, and an
answer marked right becomes an annotation that trains like any other."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from assistant.paths import annotations_path
from assistant.tui.app import AssistantApp
from assistant.tui.screens.sources import LEFT_OUT_UNLISTED, SourcesScreen
from assistant.tui.widgets.conversation import AnswerCard, Conversation
from tests.document_files import pdf_bytes
from tests.pilot import allow_every_answer, ask, document_view, notifications, screen_text, settle, wait_until

SIZE = (120, 36)


@pytest.fixture
def folder(tmp_path) -> Path:
    root = tmp_path / "library"
    (root / "reports").mkdir(parents=True)
    (root / "reports" / "museum.pdf").write_bytes(
        pdf_bytes([["The museum opened in 1923."], ["The silver compass is kept in Lisbon."]])
    )
    (root / "notes.md").write_text("# Notes\n\nThe key is under the mat.\n", encoding="utf-8")
    (root / "photo.bin").write_bytes(bytes(range(256)) * 8)
    return root


async def _open(app, pilot) -> None:
    await settle(app, pilot)
    await wait_until(pilot, lambda: app.chat.indexed is not None)


async def test_a_folders_answers_name_their_file_and_show_in_the_document(tiny_model_dir, folder):
    allow_every_answer()
    app = AssistantApp(document_path=folder, model=str(tiny_model_dir))
    async with app.run_test(size=SIZE) as pilot:
        await _open(app, pilot)
        assert any("Not read: photo.bin" in n and "f6" in n for n in notifications(app))
        assert "· 1 not read (f6)" in str(app.chat.query_one("#status").render())
        card = await ask(app, pilot, "where is the silver compass kept?")
        best = card.result.best
        assert best is not None and f"{best.path} · {best.where}" in card.plain_text
        document = app.chat.indexed.document
        start, end = document.span(best.path, best.start, best.end)
        view = document_view(app)
        assert view.selected_span() == (start, end) and document.text[start:end] == best.text
        await wait_until(pilot, lambda: str(view.border_subtitle or "").startswith(best.path))


async def test_files_not_read_are_no_longer_announced_once_another_context_opens(tiny_model_dir, folder, tmp_path):
    other = tmp_path / "other.md"
    other.write_text("The lamp is on the desk.\n", encoding="utf-8")
    app = AssistantApp(document_path=folder, model=str(tiny_model_dir))
    async with app.run_test(size=SIZE) as pilot:
        await _open(app, pilot)
        assert any("Not read: photo.bin" in n for n in notifications(app))
        await pilot.press("ctrl+o")  # the list of what to open comes up uncovered: the status line still says it
        await wait_until(pilot, lambda: type(app.screen).__name__ == "RecentDocuments")
        assert not any("Not read" in n for n in notifications(app))
        assert "· 1 not read (f6)" in str(app.chat.query_one("#status").render())
        await pilot.press("escape")
        await wait_until(pilot, lambda: app.screen is app.chat)
        app.chat.open_document(other)
        await wait_until(pilot, lambda: app.chat.context is not None and app.chat.context.first == other.resolve())
        assert not any("Not read" in n for n in notifications(app))  # about the folder left, not what is open
        assert "not read" not in str(app.chat.query_one("#status").render())


async def test_each_new_answer_shows_whole_when_the_conversation_is_longer_than_the_screen(tiny_model_dir, folder):
    allow_every_answer(top_k=3)
    app = AssistantApp(document_path=folder, model=str(tiny_model_dir))
    async with app.run_test(size=(80, 24)) as pilot:
        await _open(app, pilot)
        conversation = app.chat.query_one(Conversation)
        for question in ["where is the key?", "when did the museum open?", "where is the compass?"] * 2:
            card = await ask(app, pilot, question)
            assert card.result is not None and card.result.answers
            await wait_until(pilot, lambda c=card: conversation.region.contains_region(c.region), timeout=10)
        assert conversation.max_scroll_y > 0  # the conversation did outgrow the screen


async def test_the_sources_screen_lists_files_read_and_not_read_and_jumps_to_one(tiny_model_dir, folder):
    (folder / ".draft.md").write_text("A hidden draft.\n", encoding="utf-8")
    app = AssistantApp(document_path=folder, model=str(tiny_model_dir))
    async with app.run_test(size=SIZE) as pilot:
        await _open(app, pilot)
        await pilot.press("f6")
        await wait_until(pilot, lambda: isinstance(app.screen, SourcesScreen))
        shown = [str(o.prompt) for o in app.screen.query_one("#sources").options]
        assert [line.split("  ")[0] for line in shown] == ["✓ notes.md", "✓ reports/museum.pdf", "✗ photo.bin"]
        assert "binary" in shown[2]
        shown = screen_text(app)  # why .draft.md is not there, said whole
        assert all(word in shown for word in LEFT_OUT_UNLISTED.split()), shown
        await pilot.press("down", "enter")  # reports/museum.pdf
        await wait_until(pilot, lambda: not isinstance(app.screen, SourcesScreen))
        document = app.chat.indexed.document
        view = document_view(app)
        museum = document.parts[1]
        assert view.text == document.text[museum.start : museum.end].removesuffix("\n")  # the file alone, from line 1
        assert view.cursor_location == (0, 0) and view.reading_offset == museum.start
        await wait_until(pilot, lambda: str(view.border_subtitle) == "reports/museum.pdf · page 1 · line 1")
        view.focus()
        await pilot.press("f6")  # the document's own f6 ("select line") gives way to the sources
        await wait_until(pilot, lambda: isinstance(app.screen, SourcesScreen))


async def test_the_sources_of_one_file_say_nothing_of_files_left_out(tiny_model_dir, folder):
    app = AssistantApp(document_path=folder / "notes.md", model=str(tiny_model_dir))
    async with app.run_test(size=SIZE) as pilot:
        await _open(app, pilot)
        await pilot.press("f6")
        await wait_until(pilot, lambda: isinstance(app.screen, SourcesScreen))
        assert [str(o.prompt).split("  ")[0] for o in app.screen.query_one("#sources").options] == ["✓ notes.md"]
        assert "hidden files" not in screen_text(app)


async def test_every_file_not_read_can_be_reached_in_the_sources_and_says_why_in_full(tiny_model_dir, folder):
    for n in range(30):  # more files read than the list shows at 80x24: the rows not read come after them
        (folder / f"extra-{n:02}.md").write_text(f"Extra note {n} about otters and badgers.\n", encoding="utf-8")
    app = AssistantApp(document_path=folder, model=str(tiny_model_dir))
    async with app.run_test(size=(80, 24)) as pilot:
        await _open(app, pilot)
        await pilot.press("f6")
        await wait_until(pilot, lambda: isinstance(app.screen, SourcesScreen))
        await pilot.press("end")
        sources = app.screen.query_one("#sources")
        await wait_until(pilot, lambda: "✗ photo.bin" in screen_text(app))  # scrolled to, as the user sees it
        assert sources.highlighted == sources.option_count - 1
        assert all(word in screen_text(app) for word in LEFT_OUT_UNLISTED.split())  # and the note under the list
        await pilot.press("enter")
        await wait_until(pilot, lambda: any(n.title == "Not read: photo.bin" for n in app._notifications))
        [told] = [n.message for n in app._notifications if n.title == "Not read: photo.bin"]
        assert "binary" in told and isinstance(app.screen, SourcesScreen)  # the list stays up


async def _folder_dialog(app, pilot) -> None:
    """ctrl+o, then "Open a folder…": the folder dialog, up."""
    from assistant.tui.file_dialogs import SelectDirectory
    from assistant.tui.widgets.recent_documents import RecentDocuments

    await settle(app, pilot)
    await pilot.press("ctrl+o")
    await wait_until(pilot, lambda: isinstance(app.screen, RecentDocuments))
    await pilot.press("end", "enter")  # Open a folder…
    await wait_until(pilot, lambda: isinstance(app.screen, SelectDirectory))


async def test_ctrl_o_opens_a_folder_and_its_conversation_comes_back(tiny_model_dir, folder):
    app = AssistantApp(model=str(tiny_model_dir))
    async with app.run_test(size=SIZE) as pilot:
        await _folder_dialog(app, pilot)
        typed = app.screen.query_one("#folder-path")
        typed.value = str(folder)
        typed.focus()
        await pilot.press("enter")  # a typed folder is the one opened
        await _open(app, pilot)
        assert [p.name for p in app.chat.indexed.document.parts] == ["notes.md", "reports/museum.pdf"]
        await ask(app, pilot, "where is the key?")
    again = AssistantApp(model=str(tiny_model_dir))
    async with again.run_test(size=SIZE) as pilot:
        await _open(again, pilot)  # the last context opened, reopened
        assert again.chat.document_path == folder
        assert [c.question for c in again.chat.query(AnswerCard)] == ["where is the key?"]


async def test_several_paths_chat_as_one_context_kept_apart_and_offered_again(tiny_model_dir, folder, tmp_path):
    from assistant.tui.widgets.recent_documents import RecentDocuments

    allow_every_answer()
    extra = tmp_path / "extra.md"
    extra.write_text("# Extra\n\nThe spare key is in the blue jar.\n", encoding="utf-8")
    app = AssistantApp(document_path=extra, also=[folder / "notes.md"], model=str(tiny_model_dir))
    async with app.run_test(size=SIZE) as pilot:
        await _open(app, pilot)
        assert [p.name for p in app.chat.indexed.document.parts] == ["extra.md", "library/notes.md"]
        assert str(app.chat.query_one("#status").render()).lstrip().startswith("extra.md + notes.md")
        card = await ask(app, pilot, "where is the spare key?")
        assert card.result.best is not None and card.result.best.path in ("extra.md", "library/notes.md")
    alone = AssistantApp(document_path=extra, model=str(tiny_model_dir))
    async with alone.run_test(size=SIZE) as pilot:
        await _open(alone, pilot)  # the file alone: a conversation of its own
        assert list(alone.chat.query(AnswerCard)) == []
        await pilot.press("ctrl+o")
        await wait_until(pilot, lambda: isinstance(alone.screen, RecentDocuments))
        shown = [str(o.prompt) for o in alone.screen.query_one("#recent").options]
        assert shown[0].startswith("extra.md  (open)") and shown[1].startswith("extra.md + notes.md  ·")
        await pilot.press("down", "enter")
        await wait_until(pilot, lambda: len(alone.chat.indexed.document.parts) == 2)
        asked = ["where is the spare key?"]
        await wait_until(pilot, lambda: [c.question for c in alone.chat.query(AnswerCard)] == asked)


async def test_a_span_saved_in_a_folder_keeps_to_its_own_file(tiny_model_dir, folder):
    from textual.widgets.text_area import Selection

    allow_every_answer()
    app = AssistantApp(document_path=folder, model=str(tiny_model_dir))
    async with app.run_test(size=SIZE) as pilot:
        await _open(app, pilot)
        await ask(app, pilot, "where is the silver compass kept?")
        document = app.chat.indexed.document
        view = document_view(app)
        notes = document.parts[0]
        across = document.text.index("mat.")  # the end of notes.md, then on into the PDF
        view.go_to_offset(across)  # notes.md comes up, as from the sources screen
        view.selection = Selection(view.location(across), view.location(document.text.index("museum") + 6))
        start, stop = view.selected_span()
        assert start == across and stop <= notes.end  # a selection stops at its file's end
        line = document.text.index("The key")  # the file's last line, whole
        view.selection = Selection(view.location(line), view.location(document.text.index("mat.") + 4))
        await pilot.press("ctrl+s")
        await wait_until(pilot, lambda: annotations_path().exists())
        assert json.loads(annotations_path().read_text(encoding="utf-8"))["title"] == "notes.md"
        at = document.text.index("Lisbon")
        view.go_to_offset(at)
        view.selection = Selection(view.location(at), view.location(at + 6))
        await pilot.press("ctrl+s")
        await wait_until(pilot, lambda: "Lisbon" in annotations_path().read_text(encoding="utf-8"))
    (row,) = [json.loads(line) for line in annotations_path().read_text(encoding="utf-8").splitlines()]
    assert row["title"] == "reports/museum.pdf" and "key" not in row["context"]
    assert row["context"][row["answers"]["answer_start"][0] :].startswith("Lisbon")


async def test_a_protected_pdf_asks_for_its_password_until_it_opens(tiny_model_dir, tmp_path):
    from assistant.tui.screens.password import PasswordScreen
    from tests.document_files import encrypted_pdf

    pdf = tmp_path / "locked.pdf"
    pdf.write_bytes(encrypted_pdf(pdf_bytes([["The vault code is in the blue book."]]), "s3cret"))
    app = AssistantApp(document_path=pdf, model=str(tiny_model_dir))
    async with app.run_test(size=SIZE) as pilot:
        await wait_until(pilot, lambda: isinstance(app.screen, PasswordScreen))
        assert not app.screen.wrong
        await pilot.press(*"guess", "enter")
        await wait_until(pilot, lambda: isinstance(app.screen, PasswordScreen) and app.screen.wrong)
        await pilot.press(*"s3cret", "enter")
        await _open(app, pilot)
        assert "vault code" in app.chat.indexed.document.text


@pytest.mark.slow
async def test_an_answer_marked_right_in_a_pdf_trains_like_any_annotation(tiny_model_dir, folder, tmp_path):
    from assistant.runs.config import TrainConfig
    from trainer.train import run_training

    allow_every_answer()
    pdf = folder / "reports" / "museum.pdf"
    app = AssistantApp(document_path=pdf, model=str(tiny_model_dir))
    async with app.run_test(size=SIZE) as pilot:
        await _open(app, pilot)
        card = await ask(app, pilot, "where is the silver compass kept?")
        assert f"{card.result.best.where}" in card.plain_text and "page" in card.plain_text
        await pilot.press("ctrl+g")  # right
        await wait_until(pilot, lambda: annotations_path().exists())
        text = app.chat.indexed.document.text
    (row,) = [json.loads(line) for line in annotations_path().read_text(encoding="utf-8").splitlines()]
    start = row["answers"]["answer_start"][0]
    assert row["context"] in text
    assert row["context"][start:].startswith(row["answers"]["text"][0])
    config = TrainConfig(
        base_model=str(tiny_model_dir),
        data=str(annotations_path()),
        eval_data=str(annotations_path()),
        output=str(tmp_path / "run"),
        epochs=1,
        max_length=64,
        stride=16,
        sanity_steps=1,
    )
    result = run_training(config)
    assert result.status == "completed", result.message


async def test_a_path_typed_in_the_file_dialog_keeps_its_first_slash(tiny_model_dir, folder):
    from textual.widgets import Input
    from textual_fspicker import FileOpen

    from assistant.tui.widgets.recent_documents import RecentDocuments

    app = AssistantApp(model=str(tiny_model_dir))
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        await pilot.press("ctrl+o")
        await wait_until(pilot, lambda: isinstance(app.screen, RecentDocuments))
        await pilot.press("enter")  # Browse…
        await wait_until(pilot, lambda: isinstance(app.screen, FileOpen))
        await pilot.press(*"/tmp")
        assert app.screen.query(Input).first().value == "/tmp"


async def test_a_folder_path_typed_fast_over_the_folder_list_is_opened_whole(tiny_model_dir, folder):
    from textual import events
    from textual.keys import _character_to_key
    from textual_fspicker.parts import DirectoryNavigation

    app = AssistantApp(model=str(tiny_model_dir))
    async with app.run_test(size=SIZE) as pilot:
        await _folder_dialog(app, pilot)
        nav = app.screen.query_one(DirectoryNavigation)
        nav.focus()
        await pilot.pause()
        for character in str(folder):  # all on their way to the list before the first one moves the focus
            nav.post_message(events.Key(_character_to_key(character), character))
        nav.post_message(events.Key("enter", None))
        await _open(app, pilot)
        assert app.chat.document_path == folder and len(app.chat.indexed.document.parts) == 2


async def test_a_folders_files_are_shown_one_at_a_time_numbered_as_answers_cite_them(tiny_model_dir, folder):
    allow_every_answer()
    app = AssistantApp(document_path=folder, model=str(tiny_model_dir))
    async with app.run_test(size=SIZE) as pilot:
        await _open(app, pilot)
        document, view = app.chat.indexed.document, document_view(app)
        notes = document.parts[0]
        assert view.text == document.text[notes.start : notes.end].removesuffix("\n") and view.line_count == 3
        card = await ask(app, pilot, "where is the silver compass kept?")
        best = card.result.best
        assert best is not None
        part = next(p for p in document.parts if p.name == best.path)
        assert view.text == document.text[part.start : part.end].removesuffix("\n")  # the answer's file came up
        assert view.selection.start[0] + 1 == best.line  # the gutter numbers the file's lines as the answer does
        assert view.selected_span() == document.span(best.path, best.start, best.end)


async def test_a_folder_read_by_worker_processes_opens_in_the_app(tiny_model_dir, tmp_path, monkeypatch):
    """Inside the app, sys.stderr is Textual's capture, which has no file descriptor: starting the workers that read
    a large folder must not depend on it."""
    from assistant.core import folder_index

    monkeypatch.setattr(folder_index, "PARALLEL_BYTES", 0)
    monkeypatch.setattr(folder_index, "processes", lambda: 2)
    root = tmp_path / "big"
    root.mkdir()
    for i in range(3):
        (root / f"part{i}.txt").write_text(f"Part {i} says the lamp {i} is blue.\n" * 20, encoding="utf-8")
    app = AssistantApp(document_path=root, model=str(tiny_model_dir))
    async with app.run_test(size=SIZE) as pilot:
        await _open(app, pilot)
        assert {p.name for p in app.chat.indexed.document.parts} == {"part0.txt", "part1.txt", "part2.txt"}
        assert not any("Cannot open" in n for n in notifications(app))


@pytest.mark.parametrize(
    ("key", "dialog"), [("f6", "SourcesScreen"), ("ctrl+o", "RecentDocuments"), ("f3", "ModelPicker")]
)
async def test_enter_then_escape_typed_fast_in_a_list_dialog_closes_only_the_dialog(
    tiny_model_dir, folder, key, dialog
):
    """Both keys reach the dialog before either is handled: its choice and its close, one after the other."""
    from textual import events

    app = AssistantApp(document_path=folder, model=str(tiny_model_dir))
    async with app.run_test(size=(80, 24)) as pilot:
        await _open(app, pilot)
        await pilot.press(key)
        await wait_until(pilot, lambda: type(app.screen).__name__ == dialog)
        app.post_message(events.Key("enter", "\r"))
        app.post_message(events.Key("escape", "\x1b"))
        await wait_until(pilot, lambda: type(app.screen).__name__ != dialog)
        await pilot.pause()
        assert app.screen is app.chat  # the chat, not a blank screen
        await pilot.press("f1")  # and it still answers its keys
        await wait_until(pilot, lambda: type(app.screen).__name__ == "HelpScreen")


@pytest.mark.parametrize(
    ("key", "dialog"), [("f6", "SourcesScreen"), ("ctrl+o", "RecentDocuments"), ("f3", "ModelPicker")]
)
async def test_a_list_dialog_key_typed_twice_fast_opens_one_dialog(tiny_model_dir, folder, key, dialog):
    """Both presses reach the app before the first is handled: one dialog comes up, and one escape closes it."""
    from textual import events

    app = AssistantApp(document_path=folder, model=str(tiny_model_dir))
    async with app.run_test(size=(80, 24)) as pilot:
        await _open(app, pilot)
        app.post_message(events.Key(key, None))
        app.post_message(events.Key(key, None))
        await wait_until(pilot, lambda: type(app.screen).__name__ == dialog)
        await pilot.pause()
        assert [type(s).__name__ for s in app.screen_stack].count(dialog) == 1
        await pilot.press("escape")
        await wait_until(pilot, lambda: app.screen is app.chat)


async def test_escape_stops_an_open_and_the_document_open_before_stays(tiny_model_dir, folder, tmp_path, monkeypatch):
    """An open that takes long (a large folder read for the first time) says how far it is and stops on escape."""
    import threading

    from assistant.core import folder_index
    from assistant.core.formats.base import Cancelled

    app = AssistantApp(document_path=folder, model=str(tiny_model_dir))
    async with app.run_test(size=(80, 24)) as pilot:
        await _open(app, pilot)
        shown_before = document_view(app).text
        asked_to_stop = threading.Event()

        def slow_open(path, settings, *, progress=None, stopped=None, **kw):
            while not stopped():  # a large folder, file after file, until the user stops it
                progress("file 3 of 900", 0.01)
                asked_to_stop.wait(0.05)
            asked_to_stop.set()
            raise Cancelled(f"Reading {path} was stopped.")

        monkeypatch.setattr(folder_index, "open_indexed", slow_open)
        big = tmp_path / "big"
        big.mkdir()
        app.chat.open_document(big)
        await wait_until(pilot, lambda: "file 3 of 900 (escape stops)" in screen_text(app))
        await pilot.press("escape")
        await wait_until(pilot, asked_to_stop.is_set)
        await wait_until(pilot, lambda: any("Stopped opening big" in n for n in notifications(app)))
        assert app.chat.opening is None and app.chat.context.first == folder
        assert document_view(app).text == shown_before and "opening" not in screen_text(app)
