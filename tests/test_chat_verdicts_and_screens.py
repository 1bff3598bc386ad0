"""The chat app, driven with Pilot as a user would: saving spans and verdicts, a failed model switch, questions
asked while a document opens, the theme and scroll position, the Train screen's log and its "make active" dialog,
modal screens and a reopened conversation."""

from __future__ import annotations

import json
import os
import sqlite3
import threading
from pathlib import Path

import pytest
from textual.widgets.text_area import Selection

from assistant.tui.app import AssistantApp
from assistant.tui.screens.chat import ChatScreen
from assistant.tui.screens.dialogs import ConfirmScreen
from assistant.tui.state import ReaderStatus
from assistant.tui.widgets.conversation import AnswerCard
from tests.helpers import save_tiny_model
from tests.pilot import (
    allow_every_answer,
    ask,
    document_view,
    fake_trainer_command,
    fill_train_form,
    frame_drawn,
    notifications,
    palette_pick,
    screen_text,
    settle,
    wait_for_widget,
    wait_until,
)
from tests.synthetic import make_examples, write_jsonl

SIZE = (120, 36)
TEXT = "The cat sat on the mat.\n\nThe dog ran in the park.\n"
QUESTION = "where did the cat sit?"


@pytest.fixture(autouse=True)
def always_answer():
    """Tiny random models give low confidence: let every answer through unless a test says otherwise."""
    return allow_every_answer()


def _annotations() -> list[dict]:
    path = Path(os.environ["ASSISTANT_DATA_DIR"]) / "annotations.jsonl"
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


# --- ctrl+s saves only what the user selected, for the question it answers -------------------------------------
async def test_ctrl_s_saves_only_a_span_the_user_selected(tiny_model_dir, doc):
    app = AssistantApp(document_path=doc, model=str(tiny_model_dir))
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        card = await ask(app, pilot, QUESTION)
        assert document_view(app).selected_span() is not None  # the answer is highlighted...
        await pilot.press("ctrl+s")  # ...but that is not a selection the user made
        await pilot.press("ctrl+b")
        await pilot.press("ctrl+s")  # "wrong", then ctrl+s at once: the wrong answer must not be saved as right
        await pilot.pause()
        assert _annotations() == []
        app.chat.settings.threshold = 0.99  # the next answer is "Not found"
        not_found = await ask(app, pilot, "what colour is the sky?")
        assert not_found.result.answers == []
        await pilot.press("ctrl+s")  # the previous answer's highlight must not be saved for this question
        await pilot.pause()
        assert _annotations() == []
        assert document_view(app).selected_span() is None  # "Not found" highlights nothing
        document_view(app).selection = Selection((0, 12), (0, 22))  # the user selects "on the mat"
        await pilot.press("ctrl+s")
        await pilot.pause()
    [row] = _annotations()
    assert row["question"] == "what colour is the sky?" and row["answers"]["text"] == ["on the mat"]
    saved = [n for n in app._notifications if n.title == "Annotation saved"]
    assert len(saved) == 1 and "on the mat" in saved[0].message and "what colour is the sky?" in saved[0].message
    assert card.question == QUESTION


async def test_ctrl_s_after_ctrl_b_saves_the_selection_for_the_question_marked_wrong(tiny_model_dir, doc):
    app = AssistantApp(document_path=doc, model=str(tiny_model_dir))
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        card = await ask(app, pilot, QUESTION)
        await pilot.press("ctrl+b")
        document_view(app).selection = Selection((0, 22), (0, 12))  # selected right to left
        await pilot.press("ctrl+s")
        await pilot.pause()
        assert card.feedback == "wrong"
    [row] = _annotations()
    assert (row["question"], row["answers"]["text"]) == (QUESTION, ["on the mat"])
    [saved] = [n.message for n in app._notifications if n.title == "Annotation saved"]
    assert "on the mat" in saved and QUESTION in saved


# --- the footer at 80x24 --------------------------------------------------------------------------------------
async def test_the_footer_ends_with_the_palette_key_at_80_columns():
    from textual.screen import Screen

    app = AssistantApp()
    async with app.run_test(size=(80, 24)) as pilot:
        palette = await wait_for_widget(pilot, Screen, "FooterKey.-command-palette", timeout=30)
        assert palette.region.right == 80  # nothing of the keys that do not fit shows after it
        assert screen_text(app).splitlines()[-1].rstrip().endswith("palette")


# --- the help screen at 80x24 ----------------------------------------------------------------------------------
async def test_every_help_row_can_be_scrolled_into_view_at_80x24():
    from textual.containers import VerticalScroll

    from assistant.tui.actions import ACTIONS, OTHER_KEYS
    from assistant.tui.screens.dialogs import HelpScreen

    app = AssistantApp()
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("f1")
        await wait_until(pilot, lambda: isinstance(app.screen, HelpScreen), timeout=30)
        await pilot.pause()
        scroll = app.screen.query_one(VerticalScroll)
        assert app.focused is scroll and scroll.max_scroll_y > 0  # it is longer than the screen, and scrolls
        seen = screen_text(app)
        for _ in range(40):
            if scroll.scroll_y >= scroll.max_scroll_y:
                break
            await pilot.press("pagedown")
            await pilot.pause()
            seen += screen_text(app)
        assert scroll.scroll_y == scroll.max_scroll_y
        assert "opened again" in screen_text(app)  # the last line of the help, reached
        for key in [a.key for a in ACTIONS if a.key] + [key for key, _ in OTHER_KEYS]:
            assert f"│ {key} " in seen, key


# --- a failed model switch keeps the working reader ------------------------------------------------------------
async def test_a_failed_model_switch_keeps_answering_with_the_old_reader(tiny_model_dir, doc):
    models = Path(os.environ["ASSISTANT_MODELS_DIR"])
    broken = models / "broken-run"
    broken.mkdir(parents=True)
    (broken / "run.json").write_text(json.dumps({"status": "completed"}))
    (broken / "config.json").write_text(json.dumps({"model_type": "distilbert"}))
    (broken / "model.safetensors").write_bytes(b"not weights at all")
    app = AssistantApp(document_path=doc, model=str(tiny_model_dir))
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        await pilot.press("f3")
        await wait_until(pilot, lambda: type(app.screen).__name__ == "ModelPicker", timeout=30)
        await pilot.pause()
        await pilot.press("enter")  # the first option: broken-run
        await settle(app, pilot)
        state = app.reader_state
        assert state.status is ReaderStatus.READY and state.name == tiny_model_dir.name and app.engine is not None
        assert any("broken-run" in n.title and n.severity == "error" for n in app._notifications)
        assert f"model {tiny_model_dir.name}" in str(app.chat.query_one("#status").content)
        card = await ask(app, pilot, QUESTION)
        assert card.result is not None and card.result.answers  # answered, not "thinking…" forever


# --- a question asked while the document opens waits for it ----------------------------------------------------
async def test_a_question_asked_while_the_document_opens_is_answered_once_it_is_indexed(
    monkeypatch, tiny_model_dir, doc
):
    import assistant.core.folder_index

    opened = threading.Event()
    index = assistant.core.folder_index.index_document

    def slow_index(*args, **kwargs):
        opened.wait(30)
        return index(*args, **kwargs)

    monkeypatch.setattr(assistant.core.folder_index, "index_document", slow_index)
    app = AssistantApp(document_path=doc, model=str(tiny_model_dir))
    async with app.run_test(size=SIZE) as pilot:
        await wait_until(pilot, lambda: app.reader_state.status is ReaderStatus.READY, timeout=60)
        assert app.chat.indexed is None  # still opening
        await pilot.click("#question")
        await pilot.press(*QUESTION, "enter")
        await pilot.pause()
        assert not any("Open a document" in m for m in notifications(app))
        [card] = app.chat.query(AnswerCard)
        assert card.question == QUESTION and card.result is None
        opened.set()
        await wait_until(pilot, lambda: app.chat.query(AnswerCard).last().result is not None, timeout=60)
        [card] = app.chat.query(AnswerCard)  # once, in the document's conversation
        assert card.question == QUESTION and card.result.answers
        assert [t.question for t in app.store.turns(doc)] == [QUESTION]


# --- one verdict per answer ------------------------------------------------------------------------------------
async def test_one_verdict_per_answer_and_a_changed_verdict_removes_its_annotation(tiny_model_dir, doc):
    notes = Path(os.environ["ASSISTANT_DATA_DIR"]) / "annotations.jsonl"
    notes.parent.mkdir(parents=True, exist_ok=True)
    other = {"id": "note-other", "question": "older?", "context": "x", "answers": {"text": ["x"], "answer_start": [0]}}
    notes.write_text(json.dumps(other) + "\n", encoding="utf-8")
    app = AssistantApp(document_path=doc, model=str(tiny_model_dir))
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        card = await ask(app, pilot, QUESTION)
        best = card.result.best
        await pilot.press("ctrl+g")
        await pilot.press("ctrl+g")  # again: a no-op
        await pilot.pause()
        assert [r["answers"]["text"] for r in _annotations()] == [["x"], [best.text]]
        await pilot.press("ctrl+b")  # changed: the "right" annotation goes
        await pilot.pause()
        assert _annotations() == [other] and card.feedback == "wrong"
        assert app.store.turns(doc)[-1].feedback == "wrong"
        document_view(app).selection = Selection((0, 12), (0, 22))
        await pilot.press("ctrl+s")
        await pilot.press("ctrl+s")  # the same span again: a no-op
        await pilot.pause()
        assert [r["answers"]["text"] for r in _annotations()] == [["x"], ["on the mat"]]
        await pilot.press("ctrl+g")  # right after all: the correction goes, the answer is saved
        await pilot.pause()
        assert [r["answers"]["text"] for r in _annotations()] == [["x"], [best.text]]
        assert card.feedback == "right" and app.store.turns(doc)[-1].feedback == "right"
    assert not list(notes.parent.glob(".annotations.jsonl.*.tmp"))  # rewritten atomically, no temp file left


async def test_a_verdict_restored_from_history_is_changed_not_repeated(tiny_model_dir, doc):
    app = AssistantApp(document_path=doc, model=str(tiny_model_dir))
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        await ask(app, pilot, QUESTION)
        await pilot.press("ctrl+g")
        await pilot.pause()
    assert len(_annotations()) == 1
    again = AssistantApp(document_path=doc, model=str(tiny_model_dir))
    async with again.run_test(size=SIZE) as pilot:
        await settle(again, pilot)
        await pilot.press("ctrl+g")  # already right (from the history): nothing new
        await pilot.pause()
        assert len(_annotations()) == 1
        await pilot.press("ctrl+b")
        await pilot.pause()
        assert _annotations() == []


# --- the theme and the document's scroll position --------------------------------------------------------------
async def test_changing_the_theme_keeps_the_document_scroll_position(tiny_model_dir, tmp_path):
    long_doc = tmp_path / "long.txt"
    long_doc.write_text("\n\n".join(f"Line {i}: the cat sat on the mat." for i in range(300)), encoding="utf-8")
    app = AssistantApp(document_path=long_doc, model=str(tiny_model_dir))
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        view = document_view(app)
        view.scroll_to(y=150, animate=False)  # the user scrolled down; the cursor is still on line 1
        await pilot.pause()
        for theme in ("nord", "textual-light", "gruvbox"):
            app.theme = theme
            await frame_drawn(pilot)
            assert view.scroll_y == 150, theme
        await palette_pick(pilot, "theme")  # and from the palette, as a user picks one
        await palette_pick(pilot, "dracula")
        await wait_until(pilot, lambda: isinstance(app.screen, ChatScreen) and app.theme == "dracula", timeout=30)
        await frame_drawn(pilot)
        assert view.scroll_y == 150


# --- the Train screen says each thing once, and only what is true now ------------------------------------------
@pytest.fixture
def train_inputs(tmp_path, tiny_model_dir) -> tuple[Path, Path]:
    return tiny_model_dir, write_jsonl(tmp_path / "train.jsonl", make_examples(20))


def _log(screen) -> str:
    return "\n".join(str(line) for line in screen.query_one("#train-log").lines)


def _figures(screen) -> str:
    return str(screen.query_one("#train-figures").content)


async def test_a_new_run_starts_blank_and_a_failed_run_stops_the_progress_bar(tmp_path, tiny_model_dir, train_inputs):
    app = AssistantApp(trainer_command=fake_trainer_command(tmp_path, tiny_model_dir, "complete"))
    async with app.run_test(size=SIZE) as pilot:
        screen = await fill_train_form(app, pilot, *train_inputs, "1")
        await pilot.press("ctrl+r")
        await wait_for_widget(pilot, ConfirmScreen, "#no", timeout=60)
        assert "step 4/4" in _figures(screen)
        await pilot.press("escape")  # not now
        await wait_until(pilot, lambda: app.screen is screen, timeout=30)
        screen.command = fake_trainer_command(tmp_path, tiny_model_dir, "fail")
        await pilot.press("ctrl+r")
        bar = screen.query_one("#train-progress")
        assert _figures(screen) == "" and bar.progress == 0  # not the previous run's step, loss and ETA
        await wait_until(pilot, lambda: "Failed" in str(screen.query_one("#run-status").content), timeout=60)
        assert not (bar.display and bar.total is None)  # an indeterminate bar animates: none after the end
        assert "step 4/4" not in _figures(screen)


async def test_the_train_log_says_each_thing_once_and_no_shell_hint(tmp_path, tiny_model_dir, train_inputs):
    app = AssistantApp(trainer_command=fake_trainer_command(tmp_path, tiny_model_dir, "complete"))
    async with app.run_test(size=SIZE) as pilot:
        screen = await fill_train_form(app, pilot, *train_inputs, "1")
        await pilot.press("ctrl+r")
        await wait_for_widget(pilot, ConfirmScreen, "#no", timeout=60)
        log = _log(screen)
        assert log.count("EM 50.00  F1 60.00") == 1, log  # the epoch's, the final and the done event: one line
        await pilot.press("escape")
        await wait_until(pilot, lambda: app.screen is screen, timeout=30)
        screen.command = fake_trainer_command(tmp_path, tiny_model_dir, "wait")
        await pilot.press("ctrl+r")
        await wait_until(pilot, lambda: screen.query_one("#train-progress").progress > 0, timeout=60)
        await pilot.press("ctrl+b")
        await wait_until(pilot, lambda: "Cancelled" in str(screen.query_one("#run-status").content), timeout=60)
        shown = str(screen.query_one("#run-status").content) + "\n" + _log(screen)
        assert shown.count("the active reader is unchanged") == 1, shown
        screen.command = fake_trainer_command(tmp_path, tiny_model_dir, "crash-after-done")
        await pilot.press("ctrl+r")
        await wait_until(pilot, lambda: "Crashed" in str(screen.query_one("#run-status").content), timeout=60)
        assert "done:" in _log(screen)  # the trainer's last output is shown...
        assert "assistant models activate" not in _log(screen)  # ...but not its shell hint: the app asks instead


# --- the "make it active?" dialog ------------------------------------------------------------------------------
def _active_run(name: str, f1: float) -> None:
    models = Path(os.environ["ASSISTANT_MODELS_DIR"])
    run = save_tiny_model(models / name, ["cat"])
    (run / "run.json").write_text(json.dumps({"status": "completed"}))
    (run / "metrics.json").write_text(json.dumps({"eval": {"exact_match": f1 - 10, "f1": f1}}))
    (models / "ACTIVE").write_text(f"{name}\n")


async def test_the_make_active_dialog_compares_runs_and_defaults_to_no_for_a_worse_one(
    tmp_path, tiny_model_dir, train_inputs
):
    _active_run("good-run", 90.0)
    app = AssistantApp(trainer_command=fake_trainer_command(tmp_path, tiny_model_dir, "complete"))
    async with app.run_test(size=SIZE) as pilot:
        await fill_train_form(app, pilot, *train_inputs, "1")
        await pilot.press("ctrl+r")
        await wait_for_widget(pilot, ConfirmScreen, "#no", timeout=60)
        question = str(app.screen.query_one("#confirm-text").content)
        assert "EM 50.0 / F1 60.0" in question and "good-run" in question and "EM 80.0 / F1 90.0" in question
        assert app.focused is app.screen.query_one("#no")
        await pilot.press("enter")
        await pilot.pause()
    assert (Path(os.environ["ASSISTANT_MODELS_DIR"]) / "ACTIVE").read_text().strip() == "good-run"


async def test_the_make_active_dialog_waits_for_the_train_screen(tmp_path, tiny_model_dir, train_inputs):
    _active_run("weak-run", 20.0)
    app = AssistantApp(trainer_command=fake_trainer_command(tmp_path, tiny_model_dir, "complete"))
    async with app.run_test(size=SIZE) as pilot:
        screen = await fill_train_form(app, pilot, *train_inputs, "1")
        await pilot.press("ctrl+r")
        await pilot.press("escape")  # back to the chat while it trains
        await wait_until(pilot, lambda: isinstance(app.screen, ChatScreen), timeout=30)
        await wait_until(pilot, lambda: not screen.running, timeout=60)
        await pilot.pause()
        assert isinstance(app.screen, ChatScreen)  # no dialog over the chat...
        await pilot.press("enter")  # ...so an Enter meant for the chat activates nothing
        await pilot.pause()
        assert any("ctrl+t" in m for m in notifications(app))  # the notification says where to answer it
        await pilot.press("ctrl+t")
        await wait_for_widget(pilot, ConfirmScreen, "#yes", timeout=30)
        assert app.focused is app.screen.query_one("#yes")  # better than the active run: Yes
        run_name = screen.process.run_path.name
        await pilot.press("enter")
        await wait_until(pilot, lambda: app.reader_state.name == run_name, timeout=60)
    assert (Path(os.environ["ASSISTANT_MODELS_DIR"]) / "ACTIVE").read_text().strip() == run_name


# --- how it looks ----------------------------------------------------------------------------------------------
async def test_modal_screens_show_the_screen_below(tiny_model_dir, doc):
    from assistant.tui.screens.dialogs import HelpScreen

    app = AssistantApp(document_path=doc, model=str(tiny_model_dir))
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        await pilot.press("f1")
        await wait_until(pilot, lambda: isinstance(app.screen, HelpScreen), timeout=30)
        await pilot.pause()
        assert app.screen.styles.background.a < 1
        assert "notes.txt" in screen_text(app)  # the chat shows through around the dialog


async def test_the_conversation_pane_shows_its_title(tiny_model_dir, doc):
    app = AssistantApp(document_path=doc, model=str(tiny_model_dir))
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        top_borders = [line for line in screen_text(app).splitlines() if "╭" in line]
        assert any("conversation" in line for line in top_borders)


def test_a_multi_line_answer_stays_on_the_card_title_line():
    from assistant.core.engine import Answer, AskResult

    answer = Answer.from_json(
        {
            "text": "on the\n   mat",
            "start": 12,
            "end": 25,
            "score": 0.5,
            "raw_score": 1.0,
            "line": 1,
            "context": "The cat sat on the\n   mat.",
            "context_start": 0,
        }
    )
    card = AnswerCard(QUESTION, AskResult(QUESTION, [answer], [], {}), 1)
    first = card.plain_text.splitlines()[0]
    assert first.startswith("on the mat  50% · lines 1–2"), first


async def test_the_metrics_table_shows_whole_statuses_at_160_columns():
    models = Path(os.environ["ASSISTANT_MODELS_DIR"])
    for name, status in (
        ("squad-distilbert-base-uncased-20261125-093000", "completed"),
        ("tui-20261125-101500", "cancelled"),
        ("tui-20261125-111500", "failed"),
    ):
        run = models / name
        run.mkdir(parents=True)
        record = {
            "status": status,
            "base_model": "distilbert/distilbert-base-uncased",
            "started_at": "2026-11-25T09:30:00",
            "train_data": {"source": "rajpurkar/squad_v2"},
        }
        (run / "run.json").write_text(json.dumps(record))
        (run / "metrics.json").write_text(
            json.dumps({"eval": {"exact_match": 77.9, "f1": 86.1}, "train_windows_per_second": 1912.4})
        )
    app = AssistantApp()
    async with app.run_test(size=(160, 40)) as pilot:
        await pilot.press("f2")
        await pilot.pause()
        text = screen_text(app)
        for status in ("completed", "cancelled", "failed", "reference"):
            assert f" {status} " in text, status


# --- a reopened conversation ----------------------------------------------------------------------------------
async def test_a_reopened_conversation_highlights_the_last_answer_and_cards_name_the_model(tiny_model_dir, doc):
    app = AssistantApp(document_path=doc, model=str(tiny_model_dir))
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        await ask(app, pilot, "what did the dog do?")
        card = await ask(app, pilot, QUESTION)
        assert f"· {tiny_model_dir.name}" in card.plain_text.splitlines()[0]
        assert [t.model for t in app.store.turns(doc)] == [tiny_model_dir.name] * 2
    again = AssistantApp(document_path=doc, model=str(tiny_model_dir))
    async with again.run_test(size=SIZE) as pilot:
        await settle(again, pilot)
        cards = list(again.chat.query(AnswerCard))
        best = cards[-1].result.best
        assert document_view(again).selected_span() == (best.start, best.end)
        assert all(f"· {tiny_model_dir.name}" in c.plain_text.splitlines()[0] for c in cards)


def test_the_store_keeps_the_model_of_each_turn_and_migrates_older_files(tmp_path):
    from assistant.core.engine import AskResult
    from assistant.store import MIGRATIONS, ConversationStore

    db, doc = tmp_path / "history.sqlite3", tmp_path / "notes.txt"
    con = sqlite3.connect(db)
    con.executescript(MIGRATIONS[0] + MIGRATIONS[1] + "\nPRAGMA user_version = 2;")
    con.execute("INSERT INTO documents(path, opened_at) VALUES (?, 1.0)", (str(doc.resolve()),))
    con.execute(
        "INSERT INTO turns(document_id, question, result, created_at) VALUES (1, 'old?', ?, 2.0)",
        ('{"question": "old?", "answers": [], "passages": [], "timings": {}}',),
    )
    con.commit()
    con.close()
    store = ConversationStore(db)
    try:
        assert store.schema_version == len(MIGRATIONS)
        store.add_turn(doc, "new?", AskResult("new?", [], [], {}), model="my-run")
        assert [(t.question, t.model) for t in store.turns(doc)] == [("old?", None), ("new?", "my-run")]
    finally:
        store.close()
