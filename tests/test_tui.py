"""The chat app, driven with Textual's Pilot as a user would, with tiny local models and no downloads."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import pytest

from assistant.settings import Settings
from assistant.tui.app import AssistantApp
from assistant.tui.screens.chat import ChatScreen
from assistant.tui.screens.metrics import MetricsScreen
from assistant.tui.screens.train import ConfirmScreen
from assistant.tui.widgets.conversation import AnswerCard
from assistant.tui.widgets.document_view import DocumentView
from tests.helpers import save_tiny_model
from tests.pilot import fill_train_form, settle, wait_until
from tests.synthetic import VOCAB, make_examples, write_jsonl

SIZE = (120, 36)
TEXT = "The cat sat on the mat.\n\nThe dog ran in the park.\n"


@pytest.fixture
def doc(tmp_path) -> Path:
    p = tmp_path / "notes.txt"
    p.write_text(TEXT, encoding="utf-8")
    return p


@pytest.fixture(autouse=True)
def always_answer():
    """Tiny random models give low confidence: let every answer through unless a test says otherwise."""
    settings = Settings(threshold=0.0)
    settings.save()
    return settings


async def _ask(app, pilot, question: str) -> AnswerCard:
    await pilot.click("#question")
    await pilot.press(*question)
    await pilot.press("enter")
    await settle(app, pilot)
    return app.screen.query(AnswerCard).last()


async def test_open_ask_and_see_the_highlighted_answer(tiny_model_dir, doc):
    app = AssistantApp(document_path=doc, model=str(tiny_model_dir))
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        assert isinstance(app.screen, ChatScreen)
        assert app.screen.indexed is not None and app.engine is not None
        assert app.model_status == f"model {tiny_model_dir.name}"
        card = await _ask(app, pilot, "where did the cat sit?")
        answers = card.result["answers"]
        assert answers and TEXT[answers[0]["start"] : answers[0]["end"]] == answers[0]["text"]
        view = app.screen.query_one(DocumentView)
        assert view.selected_text == answers[0]["text"]
        assert view.selected_span() == (answers[0]["start"], answers[0]["end"])


async def test_no_answer_says_not_found(tiny_model_dir, doc):
    Settings(threshold=0.99).save()
    app = AssistantApp(document_path=doc, model=str(tiny_model_dir))
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        card = await _ask(app, pilot, "what colour is the sky?")
        assert card.result["answers"] == []
        assert card.has_class("-none")
        assert "Not found in this document" in card.plain_text


async def test_bad_file_is_a_notification_and_the_app_goes_on(tiny_model_dir, tmp_path):
    binary = tmp_path / "image.png"
    binary.write_bytes(b"\x89PNG\x00\x00" * 100)
    app = AssistantApp(model=str(tiny_model_dir))
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        app.chat.open_document(binary)
        await settle(app, pilot)
        assert any("binary" in n.message for n in app._notifications)
        assert app.chat.indexed is None and app.is_running


async def test_questions_wait_for_a_model_and_switching_model_answers_them(tiny_model_dir, doc, isolated_dirs):
    models = Path(os.environ["ASSISTANT_MODELS_DIR"])
    run = save_tiny_model(models / "my-run", ["cat", "mat", "dog"])
    (run / "run.json").write_text(json.dumps({"status": "completed", "base_model": "tiny"}))
    (run / "metrics.json").write_text(json.dumps({"eval": {"exact_match": 12.5, "f1": 20.0}}))
    app = AssistantApp(document_path=doc, model=str(tmp_path_missing(doc)))
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        assert app.engine is None and app.model_error
        card = await _ask(app, pilot, "where did the cat sit?")
        assert card.result is None  # waiting for a model
        await pilot.press("f3")
        await wait_until(pilot, lambda: type(app.screen).__name__ == "ModelPicker")
        await pilot.pause()
        await pilot.press("enter")  # the first option: my-run
        await settle(app, pilot)
        assert app.engine is not None and "my-run" in app.model_status and "F1 20.0" in app.model_status
        assert card.result is not None and card.result["answers"]


def tmp_path_missing(doc: Path) -> Path:
    return doc.parent / "no-such-model"


async def test_feedback_is_saved_as_an_annotation(tiny_model_dir, doc, isolated_dirs):
    from textual.widgets.text_area import Selection

    app = AssistantApp(document_path=doc, model=str(tiny_model_dir))
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        card = await _ask(app, pilot, "where did the cat sit?")
        await pilot.press("ctrl+b")  # wrong
        view = app.screen.query_one(DocumentView)
        view.selection = Selection((0, 12), (0, 22))  # "on the mat"
        await pilot.press("ctrl+s")
        await pilot.pause()
        assert card.feedback == "wrong"
        assert app.store.turns(doc)[-1].feedback == "wrong"
    rows = [json.loads(x) for x in (isolated_dirs / "data" / "annotations.jsonl").read_text().splitlines()]
    assert rows[-1]["question"] == "where did the cat sit?"
    answer = rows[-1]["answers"]
    assert answer["text"] == ["on the mat"]
    assert rows[-1]["context"][answer["answer_start"][0] :].startswith("on the mat")


async def test_history_is_restored_when_the_document_is_opened_again(tiny_model_dir, doc):
    app = AssistantApp(document_path=doc, model=str(tiny_model_dir))
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        await _ask(app, pilot, "what did the dog do?")
    again = AssistantApp(document_path=doc, model=str(tiny_model_dir))
    async with again.run_test(size=SIZE) as pilot:
        await settle(again, pilot)
        cards = list(again.screen.query(AnswerCard))
        assert [c.question for c in cards] == ["what did the dog do?"]
        assert cards[0].result["answers"]
        await pilot.click("#question")
        await pilot.press("up")
        assert again.screen.query_one("#question").value == "what did the dog do?"
        again.action_export_conversation()
        await pilot.pause()
    exports = list((Path(os.environ["ASSISTANT_DATA_DIR"]) / "exports").glob("notes-*.md"))
    assert exports and "what did the dog do?" in exports[0].read_text()


async def test_metrics_table_lists_runs_beside_references(isolated_dirs):
    models = Path(os.environ["ASSISTANT_MODELS_DIR"])
    run = models / "run-a"
    run.mkdir(parents=True)
    (run / "run.json").write_text(
        json.dumps(
            {
                "status": "completed",
                "base_model": "distilbert-base-uncased",
                "started_at": "2026-11-25T10:00:00",
                "train_data": {"source": "rajpurkar/squad"},
            }
        )
    )
    (run / "metrics.json").write_text(
        json.dumps(
            {
                "eval": {"exact_match": 76.5, "f1": 84.9},
                "loss_curve": [[1, 5.0], [2, 3.0]],
                "eval_per_epoch": [{"epoch": 1, "exact_match": 70, "f1": 80}],
                "train_windows_per_second": 1850.0,
                "wall_time_s": 96,
            }
        )
    )
    app = AssistantApp()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("f2")
        await pilot.pause()
        assert isinstance(app.screen, MetricsScreen)
        table = app.screen.query_one("#runs")
        rows = [table.get_row_at(i) for i in range(table.row_count)]
        assert rows[0][1] == "run-a" and rows[0][4] == "76.5" and rows[0][5] == "84.9" and rows[0][6] == "1850.0"
        names = [r[1] for r in rows]
        assert "DistilBERT (published)" in names and "BERT-base (published)" in names


@pytest.fixture(scope="module")
def training_inputs(tmp_path_factory) -> tuple[Path, Path]:
    root = tmp_path_factory.mktemp("tui-train")
    base = save_tiny_model(root / "base", VOCAB, dim=32, layers=1, heads=2, max_positions=128)
    data = write_jsonl(root / "train.jsonl", make_examples(120))
    return base, data


TINY_ARGS = ["--max-length", "64", "--stride", "16", "--sanity-steps", "100000", "--save-steps", "100000"]


async def test_training_from_the_menu_shows_progress_and_offers_the_new_reader(training_inputs, isolated_dirs):
    base, data = training_inputs
    app = AssistantApp(extra_train_args=TINY_ARGS)
    async with app.run_test(size=SIZE) as pilot:
        screen = await fill_train_form(app, pilot, base, data, "2")
        await pilot.press("ctrl+r")
        await wait_until(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        assert screen.query_one("#train-progress").progress > 0
        assert "Completed" in str(screen.query_one("#run-status").content)
        assert "loss" in str(screen.query_one("#train-figures").content)
        await pilot.click("#yes")
        await settle(app, pilot)
        from assistant.runs.registry import active_run_name

        assert active_run_name() and active_run_name().startswith("tui-")
        assert app.engine is not None


async def test_cancel_stops_the_run_and_changes_nothing_active(training_inputs, isolated_dirs):
    base, data = training_inputs
    models = Path(os.environ["ASSISTANT_MODELS_DIR"])
    models.mkdir(parents=True, exist_ok=True)
    (models / "ACTIVE").write_text("older-run\n")
    app = AssistantApp(extra_train_args=TINY_ARGS)
    async with app.run_test(size=SIZE) as pilot:
        screen = await fill_train_form(app, pilot, base, data, "200")
        await pilot.press("ctrl+r")
        await wait_until(pilot, lambda: screen.query_one("#train-progress").progress > 0)
        await pilot.press("ctrl+b")
        await wait_until(pilot, lambda: "Cancelled" in str(screen.query_one("#run-status").content), timeout=90)
        run_json = json.loads((screen.process.run_path / "run.json").read_text())
        assert run_json["status"] == "cancelled"
    assert (models / "ACTIVE").read_text().strip() == "older-run"


async def test_a_crashing_trainer_shows_the_error_and_the_app_goes_on(training_inputs):
    base, data = training_inputs
    crash = [sys.executable, "-c", "import sys; print('loading...'); print('Segfault-like failure'); sys.exit(139)"]
    app = AssistantApp(trainer_command=crash)
    async with app.run_test(size=SIZE) as pilot:
        screen = await fill_train_form(app, pilot, base, data, "1")
        await pilot.press("ctrl+r")
        await wait_until(pilot, lambda: "Crashed" in str(screen.query_one("#run-status").content))
        status = str(screen.query_one("#run-status").content)
        assert "Crashed" in status and "Segfault-like failure" in status
        assert any("Segfault-like failure" in n.message for n in app._notifications)
        assert not screen.query_one("#start").disabled and app.is_running


async def test_command_palette_offers_every_action():
    from assistant.tui.commands import AssistantCommands

    app = AssistantApp()
    async with app.run_test(size=SIZE) as pilot:
        provider = AssistantCommands(app.screen)
        hits = [hit async for hit in provider.search("metrics")]
        assert hits and "metrics" in str(hits[0].match_display).lower()
        await pilot.press("f1")
        await pilot.pause()
        assert type(app.screen).__name__ == "HelpScreen"


async def test_settings_are_read_and_a_new_theme_is_remembered():
    Settings(theme="nord", top_k=2, threshold=0.0).save()
    app = AssistantApp()
    async with app.run_test(size=SIZE) as pilot:
        assert app.theme == "nord" and app.settings.top_k == 2
        app.theme = "gruvbox"
        await pilot.pause()
    assert Settings.load().theme == "gruvbox"


async def test_ctrl_o_opens_a_file_dialog_that_opens_the_document(tiny_model_dir, doc):
    from textual_fspicker import FileOpen

    app = AssistantApp(model=str(tiny_model_dir))
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        await pilot.press("ctrl+o")
        await wait_until(pilot, lambda: isinstance(app.screen, FileOpen), timeout=30)
        app.screen.dismiss(doc)
        await settle(app, pilot)
        assert app.chat.document_path == doc and app.chat.indexed is not None
