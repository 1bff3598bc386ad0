"""The chat app with names and documents a user did not choose (brackets, a theme that cannot be saved, documents
opened one after another) and the ways between screens, driven with Pilot."""

from __future__ import annotations

from pathlib import Path

import pytest

from assistant.settings import Settings
from assistant.tui.app import AssistantApp
from assistant.tui.screens.dialogs import ModelPicker
from assistant.tui.screens.metrics import MetricsScreen
from assistant.tui.screens.settings import SettingsScreen
from assistant.tui.screens.train import TrainScreen
from assistant.tui.widgets.document_view import DocumentView
from assistant.tui.widgets.recent_documents import RecentDocuments
from assistant.tui.widgets.run_compare import RunCompareScreen
from tests.pilot import notifications, palette_pick, screen_text, settle, wait_until, write_run

SMALL = (80, 24)
TEXT = "The cat sat on the mat.\n\nThe dog ran in the park.\n\nA CAT slept by the door.\n"


async def test_emptying_the_find_query_takes_its_highlight_away(tiny_model_dir, doc):
    """Typing "cat" then deleting it left the "c" of the last match selected, as if it were still found."""
    app = AssistantApp(document_path=doc, model=str(tiny_model_dir))
    async with app.run_test(size=SMALL) as pilot:
        await settle(app, pilot)
        view = app.chat.query_one(DocumentView)
        await pilot.press("ctrl+f", *"cat")
        await pilot.pause()
        assert view.selected_text == "cat"
        await pilot.press("backspace", "backspace", "backspace")
        await pilot.pause()
        assert view.selected_span() is None


async def test_going_between_train_and_metrics_never_stacks_screens(tiny_model_dir):
    """ctrl+t, f2, ctrl+t, f2… pushed a screen each time (the one Train screen twice), so escape had to be pressed
    once per key to get back to the chat."""
    app = AssistantApp(model=str(tiny_model_dir))
    async with app.run_test(size=SMALL) as pilot:
        await settle(app, pilot)
        for key, top in (
            ("ctrl+t", TrainScreen),
            ("f2", MetricsScreen),
            ("ctrl+t", TrainScreen),
            ("f2", MetricsScreen),
        ):
            await pilot.press(key)
            await wait_until(pilot, lambda top=top: isinstance(app.screen, top))
        await pilot.press("f4")
        await wait_until(pilot, lambda: isinstance(app.screen, SettingsScreen))
        await pilot.press("ctrl+t")
        await wait_until(pilot, lambda: isinstance(app.screen, TrainScreen))
        assert [type(s).__name__ for s in app.screen_stack[1:]] == ["ChatScreen", "TrainScreen"]
        await pilot.press("escape")
        await wait_until(pilot, lambda: app.screen is app.chat)


async def test_a_theme_that_cannot_be_saved_is_a_warning_not_a_crash(tiny_model_dir, tmp_path, monkeypatch):
    """Picking a theme in the palette wrote settings.toml unguarded: a settings file that cannot be written ended the
    app. (A folder where settings.toml should be: even root cannot replace it with a file.)"""
    config = tmp_path / "config"
    (config / "settings.toml").mkdir(parents=True)
    monkeypatch.setenv("ASSISTANT_CONFIG_DIR", str(config))
    app = AssistantApp(model=str(tiny_model_dir))
    async with app.run_test(size=SMALL) as pilot:
        await settle(app, pilot)
        await palette_pick(pilot, "theme")  # the palette's theme picker, then a theme in it
        await palette_pick(pilot, "nord")
        await wait_until(pilot, lambda: app.theme == "nord")
        assert any("theme is not kept" in m for m in notifications(app))
    assert Settings.load().theme == Settings().theme


@pytest.fixture
def held_answers(monkeypatch):
    """Answers wait until the test releases them, as a real reader on a long document keeps the user waiting."""
    import threading

    from assistant.core.engine import QAEngine

    release = threading.Event()
    ask = QAEngine.ask

    def slow_ask(self, *args, **kwargs):
        release.wait(60)
        return ask(self, *args, **kwargs)

    monkeypatch.setattr(QAEngine, "ask", slow_ask)
    yield release
    release.set()


async def _ask_and_hold(app, pilot, question: str) -> None:
    await pilot.click("#question")
    await pilot.press(*question, "enter")
    await wait_until(pilot, lambda: bool(app.chat.asking))


async def test_an_answer_about_the_previous_document_is_not_highlighted_in_the_new_one(
    tiny_model_dir, doc, tmp_path, held_answers
):
    """Opening another document while a question was answered: the old answer's offsets selected some unrelated
    text of the new document, and ctrl+y then copied the old answer."""
    Settings(threshold=0.0).save()
    other = tmp_path / "other.txt"
    other.write_text("Nothing here is about felines at all, only about the weather today.\n", encoding="utf-8")
    app = AssistantApp(document_path=doc, model=str(tiny_model_dir))
    async with app.run_test(size=SMALL) as pilot:
        await settle(app, pilot)
        await _ask_and_hold(app, pilot, "where is the cat")
        app.chat.open_document(other)
        await wait_until(pilot, lambda: app.chat.document_path == other)
        held_answers.set()
        await settle(app, pilot)
        assert app.chat.query_one(DocumentView).selected_span() is None
        await pilot.press("ctrl+y")
        await pilot.pause()
        assert notifications(app)[-1] == "Ask a question first."


async def test_a_cleared_conversation_does_not_come_back_with_the_answer_that_was_coming(
    tiny_model_dir, doc, held_answers
):
    """Clearing while a question was answered: the answer was saved after the clear, so the conversation the user
    had just cleared came back the next time the document was opened."""
    Settings(threshold=0.0).save()
    app = AssistantApp(document_path=doc, model=str(tiny_model_dir))
    async with app.run_test(size=SMALL) as pilot:
        await settle(app, pilot)
        await _ask_and_hold(app, pilot, "where is the cat")
        app.action_clear_conversation()
        await pilot.pause()
        await pilot.click("#yes")
        await wait_until(pilot, lambda: "Conversation cleared." in notifications(app))
        held_answers.set()
        await settle(app, pilot)
        store = app.chat.store
        assert store is not None and store.turns(doc) == []


async def test_a_document_named_with_brackets_is_shown_by_its_name(tiny_model_dir, tmp_path):
    """ "report [draft].txt" read as markup: the title, the status line and the recent documents said "report .txt"."""
    Settings(threshold=0.0).save()
    doc = tmp_path / "report [draft].txt"
    doc.write_text(TEXT, encoding="utf-8")
    app = AssistantApp(document_path=doc, model=str(tiny_model_dir))
    async with app.run_test(size=SMALL) as pilot:
        await settle(app, pilot)
        await pilot.click("#question")
        await pilot.press(*"where is the cat", "enter")
        await settle(app, pilot)
        rows = screen_text(app).splitlines()
        assert "report [draft].txt" in rows[1] and "report [draft].txt" in rows[-2]  # the title, the status line
        await pilot.press("ctrl+o")
        await wait_until(pilot, lambda: isinstance(app.screen, RecentDocuments))
        await pilot.pause()
        assert "report [draft].txt  (open)" in screen_text(app)


async def test_a_run_named_with_brackets_is_shown_by_its_name(tiny_model_dir, isolated_dirs):
    """A run folder "run [b]" (a name --output accepts) was listed, detailed, compared and offered as "run"."""
    models = isolated_dirs / "models"
    write_run(
        models,
        "run-a",
        tiny_model_dir,
        {"eval": {"exact_match": 10.0, "f1": 20.0}},
        status="completed",
        started_at="2026-01-02T00:00",
    )
    write_run(models, "run [b]", tiny_model_dir, status="completed", started_at="2026-01-01T00:00")
    app = AssistantApp(model=str(tiny_model_dir))
    async with app.run_test(size=SMALL) as pilot:
        await settle(app, pilot)
        await pilot.press("f2")
        await wait_until(pilot, lambda: isinstance(app.screen, MetricsScreen))
        await pilot.press("down")
        await pilot.pause()
        listed = screen_text(app)
        assert listed.count("run [b]") == 2  # its row, and the details beside the plot
        await pilot.press("space", "up", "c")
        await wait_until(pilot, lambda: isinstance(app.screen, RunCompareScreen))
        await pilot.pause()
        assert "run [b]  vs  run-a" in screen_text(app)
        await pilot.press("f3")
        await wait_until(pilot, lambda: isinstance(app.screen, ModelPicker))
        await pilot.pause()
        assert "run [b]  ·  no eval" in screen_text(app)


async def test_at_80_columns_the_settings_labels_wrap_instead_of_being_cut(tiny_model_dir):
    """The default model's label ended "(empty: the active run, els" at 80 columns: what empty means was cut."""
    app = AssistantApp(model=str(tiny_model_dir))
    async with app.run_test(size=SMALL) as pilot:
        await settle(app, pilot)
        await pilot.press("f4")
        await wait_until(pilot, lambda: isinstance(app.screen, SettingsScreen))
        app.screen.query_one("#model").focus()  # scrolls the form to it, as tab would
        await pilot.pause()
        assert "else the hub default)" in screen_text(app)


@pytest.mark.parametrize("question", ["what does list[int] mean", "what is [/] here"])
async def test_a_question_with_brackets_is_shown_as_typed_and_can_be_marked(tiny_model_dir, doc, question):
    """The question bubble read the question as markup: "list[int]" showed as "list", and "[/]" ended the app with
    a MarkupError (again on every later opening of the document, from its history)."""
    Settings(threshold=0.0).save()
    app = AssistantApp(document_path=doc, model=str(tiny_model_dir))
    async with app.run_test(size=(160, 45)) as pilot:
        await settle(app, pilot)
        await pilot.click("#question")
        await pilot.press(*question, "enter")
        await settle(app, pilot)
        await pilot.press("ctrl+g")  # marked right: the notification quotes the question
        await pilot.pause()
        assert question in screen_text(app)
        assert any(question in m for m in notifications(app))


async def test_the_document_opened_last_is_the_one_shown(tiny_model_dir, doc, tmp_path, monkeypatch):
    """Opening a slow (long) document, then another: the first one, read last, replaced the one the user chose."""
    import threading

    from assistant.core import documents

    slow, release = tmp_path / "long.txt", threading.Event()
    slow.write_text("A long book.\n", encoding="utf-8")
    load = documents.load_document

    def held_load(path, *args, **kwargs):
        if Path(path) == slow:
            release.wait(60)
        return load(path, *args, **kwargs)

    monkeypatch.setattr(documents, "load_document", held_load)
    app = AssistantApp(model=str(tiny_model_dir))
    async with app.run_test(size=SMALL) as pilot:
        await settle(app, pilot)
        app.chat.open_document(slow)
        await pilot.pause()
        app.chat.open_document(doc)
        await wait_until(pilot, lambda: app.chat.document_path == doc)
        release.set()
        await settle(app, pilot)
        assert app.chat.document_path == doc and app.chat.query_one(DocumentView).text == TEXT.removesuffix("\n")


async def test_the_go_to_line_bar_offers_the_lines_of_the_document_open_now(tiny_model_dir, doc, tmp_path):
    """The bar, left open while another document came in, still offered the first document's lines."""
    short = tmp_path / "short.txt"
    short.write_text("One line.\n", encoding="utf-8")
    app = AssistantApp(document_path=doc, model=str(tiny_model_dir))
    async with app.run_test(size=SMALL) as pilot:
        await settle(app, pilot)
        await pilot.press("ctrl+n")
        await pilot.pause()
        assert "go to line 1–5" in screen_text(app)  # a last newline ends line 5; it starts no line 6
        app.chat.open_document(short)
        await settle(app, pilot)
        assert "go to line 1–1" in screen_text(app)
