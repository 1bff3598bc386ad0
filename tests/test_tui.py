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
from assistant.tui.screens.dialogs import ConfirmScreen
from assistant.tui.screens.metrics import MetricsScreen
from assistant.tui.screens.train import TrainScreen
from assistant.tui.state import ReaderStatus
from assistant.tui.widgets.conversation import AnswerCard
from assistant.tui.widgets.document_view import DocumentView
from tests.helpers import save_tiny_model
from tests.pilot import (
    allow_every_answer,
    ask,
    fake_trainer_command,
    fill_train_form,
    notifications,
    settle,
    wait_for_widget,
    wait_until,
)
from tests.synthetic import VOCAB, make_examples, write_jsonl

SIZE = (120, 36)
TEXT = "The cat sat on the mat.\n\nThe dog ran in the park.\n"


@pytest.fixture(autouse=True)
def always_answer():
    """Tiny random models give low confidence: let every answer through unless a test says otherwise."""
    return allow_every_answer()


async def test_open_ask_and_see_the_highlighted_answer(tiny_model_dir, doc):
    app = AssistantApp(document_path=doc, model=str(tiny_model_dir))
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        assert isinstance(app.screen, ChatScreen)
        assert app.screen.indexed is not None and app.engine is not None
        assert app.reader_state.status is ReaderStatus.READY
        assert app.reader_state.label == f"model {tiny_model_dir.name} (--model)"  # and where it came from
        assert app.reader_state.label in str(app.screen.query_one("#status").content)
        card = await ask(app, pilot, "where did the cat sit?")
        best = card.result.best
        assert best is not None and TEXT[best.start : best.end] == best.text
        view = app.screen.query_one(DocumentView)
        assert view.selected_text == best.text
        assert view.selected_span() == (best.start, best.end)


async def test_no_answer_says_not_found(tiny_model_dir, doc):
    Settings(threshold=0.99).save()
    app = AssistantApp(document_path=doc, model=str(tiny_model_dir))
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        card = await ask(app, pilot, "what colour is the sky?")
        assert card.result.answers == []
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
        assert app.engine is None and app.reader_state.status is ReaderStatus.FAILED and app.reader_state.error
        assert "no model" in str(app.screen.query_one("#status").content)
        card = await ask(app, pilot, "where did the cat sit?")
        assert card.result is None and "waiting for a reader model: f3 picks one" in card.plain_text
        await pilot.press("f3")
        await wait_until(pilot, lambda: type(app.screen).__name__ == "ModelPicker")
        await pilot.pause()
        await pilot.press("enter")  # the first option: my-run
        await settle(app, pilot)
        state = app.reader_state
        assert app.engine is not None and (state.name, state.exact_match, state.f1) == ("my-run", 12.5, 20.0)
        assert "model my-run (settings) · EM 12.5 / F1 20.0" in str(app.screen.query_one("#status").content)
        assert card.result is not None and card.result.answers


def tmp_path_missing(doc: Path) -> Path:
    return doc.parent / "no-such-model"


async def test_feedback_is_saved_as_an_annotation(tiny_model_dir, doc, isolated_dirs):
    from textual.widgets.text_area import Selection

    app = AssistantApp(document_path=doc, model=str(tiny_model_dir))
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        card = await ask(app, pilot, "where did the cat sit?")
        await pilot.press("ctrl+b")  # wrong
        view = app.screen.query_one(DocumentView)
        view.selection = Selection((0, 12), (0, 22))  # "on the mat"
        await pilot.press("ctrl+s")
        await pilot.pause()
        assert card.feedback == "wrong"
        assert (app.store.turns(doc)[-1].feedback, app.store.turns(doc)[-1].correction) == ("wrong", "on the mat")
        assert app.focused is app.chat.query_one("#question")  # the correction is done: the next question
        app.action_export_conversation()
        await wait_until(pilot, lambda: any("Saved" in n for n in notifications(app)))
    (exported,) = (isolated_dirs / "data" / "exports").glob("notes-*.md")
    assert "- **Corrected answer**: on the mat" in exported.read_text(encoding="utf-8")
    rows = [json.loads(x) for x in (isolated_dirs / "data" / "annotations.jsonl").read_text().splitlines()]
    assert rows[-1]["question"] == "where did the cat sit?"
    answer = rows[-1]["answers"]
    assert answer["text"] == ["on the mat"]
    assert rows[-1]["context"][answer["answer_start"][0] :].startswith("on the mat")


async def test_history_is_restored_when_the_document_is_opened_again(tiny_model_dir, doc):
    app = AssistantApp(document_path=doc, model=str(tiny_model_dir))
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        await ask(app, pilot, "what did the dog do?")
    again = AssistantApp(document_path=doc, model=str(tiny_model_dir))
    async with again.run_test(size=SIZE) as pilot:
        await settle(again, pilot)
        cards = list(again.screen.query(AnswerCard))
        assert [c.question for c in cards] == ["what did the dog do?"]
        assert cards[0].result.answers and cards[0].result.question == "what did the dog do?"
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
        keys = [column.key.value for column in table.ordered_columns]
        rows = [dict(zip(keys, map(str, table.get_row_at(i)), strict=True)) for i in range(table.row_count)]
        assert (rows[0]["run"], rows[0]["em"], rows[0]["f1"], rows[0]["speed"]) == ("run-a", "76.5", "84.9", "1850.0")
        assert rows[0]["status"] == "completed"
        names = [r["run"] for r in rows]
        assert "DistilBERT (published)" in names and "BERT-base (published)" in names


@pytest.fixture(scope="module")
def training_inputs(tmp_path_factory) -> tuple[Path, Path]:
    root = tmp_path_factory.mktemp("tui-train")
    base = save_tiny_model(root / "base", VOCAB, dim=32, layers=1, heads=2, max_positions=128)
    data = write_jsonl(root / "train.jsonl", make_examples(120))
    return base, data


TINY_OVERRIDES = {"max_length": 64, "stride": 16, "sanity_steps": 100000, "save_steps": 100000}


@pytest.mark.slow
async def test_training_from_the_menu_shows_progress_and_offers_the_new_reader(training_inputs, isolated_dirs):
    """The real trainer, end to end: `python -m trainer --config FILE --output RUN`."""
    base, data = training_inputs
    app = AssistantApp(train_overrides=TINY_OVERRIDES)
    async with app.run_test(size=SIZE) as pilot:
        screen = await fill_train_form(app, pilot, base, data, "2")
        await pilot.press("ctrl+r")
        await wait_for_widget(pilot, ConfirmScreen, "#yes")
        assert screen.query_one("#train-progress").progress > 0
        assert "Completed" in str(screen.query_one("#run-status").content)
        assert "loss" in str(screen.query_one("#train-figures").content)
        await pilot.click("#yes")
        await wait_until(pilot, lambda: app.reader_state.status in (ReaderStatus.READY, ReaderStatus.FAILED))
        from assistant.runs.registry import active_run_name

        assert active_run_name() and active_run_name().startswith("tui-")
        assert app.reader_state.status is ReaderStatus.READY and app.reader_state.name == active_run_name()


@pytest.mark.slow
async def test_cancel_stops_the_run_and_changes_nothing_active(training_inputs, isolated_dirs):
    base, data = training_inputs
    models = Path(os.environ["ASSISTANT_MODELS_DIR"])
    models.mkdir(parents=True, exist_ok=True)
    (models / "ACTIVE").write_text("older-run\n")
    app = AssistantApp(train_overrides=TINY_OVERRIDES)
    async with app.run_test(size=SIZE) as pilot:
        screen = await fill_train_form(app, pilot, base, data, "200")
        await pilot.press("ctrl+r")
        await wait_until(pilot, lambda: screen.query_one("#train-progress").progress > 0)
        await pilot.press("ctrl+b")
        await wait_until(pilot, lambda: "Cancelled" in str(screen.query_one("#run-status").content), timeout=90)
        run_json = json.loads((screen.process.run_path / "run.json").read_text())
        assert run_json["status"] == "cancelled"
    assert (models / "ACTIVE").read_text().strip() == "older-run"


@pytest.fixture
def fake_trainer(tmp_path, tiny_model_dir):
    return lambda mode: fake_trainer_command(tmp_path, tiny_model_dir, mode)


def _log(screen) -> str:
    return "\n".join(str(line) for line in screen.query_one("#train-log").lines)


async def test_progress_comes_from_events_jsonl_and_the_outcome_from_run_json(fake_trainer, training_inputs):
    base, data = training_inputs
    models = Path(os.environ["ASSISTANT_MODELS_DIR"])
    app = AssistantApp(trainer_command=fake_trainer("complete"), train_overrides={"seed": 7})
    async with app.run_test(size=SIZE) as pilot:
        screen = await fill_train_form(app, pilot, base, data, "3")
        await pilot.press("ctrl+r")
        await wait_for_widget(pilot, ConfirmScreen, "#yes", timeout=60)
        assert "Completed" in str(screen.query_one("#run-status").content)
        bar = screen.query_one("#train-progress")
        assert (bar.progress, bar.total) == (4, 4)
        assert "step 4/4" in str(screen.query_one("#train-figures").content)
        log = _log(screen)
        assert "[train] first step" in log  # the line written in two parts, read whole
        assert "eval: EM 50.00  F1 60.00" in log
        assert "from stdout" not in log and "99" not in str(screen.query_one("#train-figures").content)
        run_path = screen.process.run_path
        settings = json.loads((run_path / "run.json").read_text())["settings"]
        assert (settings["base_model"], settings["data"], settings["output"]) == (str(base), str(data), str(run_path))
        assert (settings["epochs"], settings["learning_rate"], settings["batch_size"]) == (3.0, 1e-3, 8)
        assert settings["max_train_samples"] is None and settings["seed"] == 7
        assert not list(models.glob(".*.config.json"))  # the config file goes when the run ends
        await pilot.click("#yes")
        await wait_until(pilot, lambda: app.reader_state.status is ReaderStatus.READY, timeout=60)
        assert app.reader_state.name == run_path.name
    assert (models / "ACTIVE").read_text().strip() == run_path.name


async def test_a_run_recorded_as_failed_shows_the_reason_from_run_json(fake_trainer, training_inputs):
    base, data = training_inputs
    app = AssistantApp(trainer_command=fake_trainer("fail"))
    async with app.run_test(size=SIZE) as pilot:
        screen = await fill_train_form(app, pilot, base, data, "1")
        await pilot.press("ctrl+r")
        await wait_until(pilot, lambda: "Failed" in str(screen.query_one("#run-status").content), timeout=60)
        assert "the data has no answers" in str(screen.query_one("#run-status").content)
        await wait_until(pilot, lambda: any(n.message == "the data has no answers" for n in app._notifications))
        assert not any("stdout" in n.message for n in app._notifications)  # a notice is posted, then shown
        assert not screen.query_one("#start").disabled and screen.query_one("#cancel").disabled


async def test_cancel_sigterms_the_trainer_and_run_json_says_cancelled(fake_trainer, training_inputs):
    base, data = training_inputs
    app = AssistantApp(trainer_command=fake_trainer("wait"))
    async with app.run_test(size=SIZE) as pilot:
        screen = await _training(app, pilot, base, data)
        assert screen.query_one("#start").disabled and not screen.query_one("#cancel").disabled
        await pilot.press("ctrl+b")
        await wait_until(pilot, lambda: "Cancelled" in str(screen.query_one("#run-status").content), timeout=60)
        assert not screen.process.running
        assert json.loads((screen.process.run_path / "run.json").read_text())["status"] == "cancelled"


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
        assert "loading...\nSegfault-like failure" in _log(screen)  # the log tail, shown on a crash
        assert not screen.query_one("#start").disabled and app.is_running


def test_the_event_tail_reads_whole_event_lines_only(tmp_path):
    from assistant.runs.events import EventTail, Phase, RunEvent

    path = tmp_path / "events.jsonl"
    tail = EventTail(path)
    assert tail.poll() == []  # not written yet
    path.write_text('{"phase": "train", "step": 1}\n{"phase": "tr')
    assert tail.poll() == [RunEvent(Phase.TRAIN, step=1)]
    assert tail.poll() == []  # the second line is not whole yet
    with path.open("a") as fh:
        fh.write('ain", "step": 2}\n[1, 2]\nnot json\n{"no": "phase"}\n{"phase": "eval", "f1": 50}\n')
        fh.write('{"phase": "lunch"}\n{"phase": "train", "step": "3", "loss": true, "message": 7}\n')
    assert tail.poll() == [RunEvent(Phase.TRAIN, step=2), RunEvent(Phase.EVAL, f1=50.0), RunEvent(Phase.TRAIN)]


def test_the_outcome_comes_from_run_json_and_a_missing_end_is_a_crash(tmp_path):
    from assistant.tui.messages import TrainingOutcome
    from assistant.tui.training_process import outcome

    run = tmp_path / "run"
    assert outcome(run, 1, []).outcome is TrainingOutcome.CRASHED  # no run folder at all
    run.mkdir()
    for record, code, expected, message in [
        ({"status": "completed"}, 0, TrainingOutcome.COMPLETED, ""),
        ({"status": "cancelled"}, 130, TrainingOutcome.CANCELLED, ""),
        ({"status": "failed", "error": "no answers"}, 2, TrainingOutcome.FAILED, "no answers"),
        ({"status": "running", "pid": 2**22 + 1}, -9, TrainingOutcome.CRASHED, "last line"),
        ({"status": "completed?"}, 1, TrainingOutcome.CRASHED, "last line"),
    ]:
        (run / "run.json").write_text(json.dumps(record))
        finished = outcome(run, code, ["first line", "last line"])
        assert (finished.outcome, finished.message, finished.returncode) == (expected, message, code)
    assert outcome(run, 3, []).message == "the trainer exited with code 3"


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


async def test_every_registered_action_is_in_the_help_screen_and_the_palette():
    """One registry feeds the bindings, the palette (app actions + the screen's own) and the help table."""
    from textual.widgets import Markdown

    from assistant.tui.actions import ACTIONS
    from assistant.tui.commands import AssistantCommands
    from assistant.tui.screens.dialogs import HelpScreen
    from assistant.tui.screens.train import TrainScreen

    app = AssistantApp()
    async with app.run_test(size=SIZE) as pilot:
        offered = {}
        from assistant.tui.screens.annotations import AnnotationsScreen

        screens = ((None, ChatScreen), ("ctrl+t", TrainScreen), ("f2", MetricsScreen), ("f5", AnnotationsScreen))
        for key, screen_type in screens:
            if key:
                await pilot.press(key)
            await wait_until(pilot, lambda t=screen_type: isinstance(app.screen, t), timeout=30)
            provider = AssistantCommands(app.screen)
            hits = [hit async for hit in provider.discover()]
            offered[app.screen.SCOPE] = {hit.text for hit in hits}
            keyed = {hit.text: hit.help for hit in hits}
            for action in ACTIONS:  # each with its key, so that the palette teaches it
                if action.key and action.title in keyed:
                    assert keyed[action.title].startswith(f"{action.key} · ")
        for action in ACTIONS:
            scopes = offered if action.scope == "app" else {action.scope: offered[action.scope]}
            assert all(action.title in titles for titles in scopes.values()), action
        owners = {
            "app": AssistantApp,
            "chat": ChatScreen,
            "train": TrainScreen,
            "metrics": MetricsScreen,
            "annotations": AnnotationsScreen,
        }
        for action in ACTIONS:
            bindings = {b.id: b for b in owners[action.scope].BINDINGS}
            if action.key:
                assert (bindings[action.id].key, bindings[action.id].action) == (action.key, action.name)
                assert bindings[action.id].show == (action.footer is not None)
        await pilot.press("f1")
        await wait_until(pilot, lambda: isinstance(app.screen, HelpScreen), timeout=30)
        help_text = app.screen.query_one("#help", Markdown).source
        for action in ACTIONS:
            assert f"| {action.help_key} | {action.title}: {action.description} |" in help_text
        assert "| palette | Clear conversation:" in help_text  # no key of its own: ctrl+p's palette runs it
        assert "| n (document) | Next match:" in help_text  # a key of the document's, as in less


async def test_a_model_loader_that_raises_leaves_the_app_running_with_a_failed_reader(monkeypatch, doc):
    import assistant.core.model_loading

    def broken(*args, **kwargs):
        raise RuntimeError("the loader broke")

    monkeypatch.setattr(assistant.core.model_loading, "load_reader", broken)
    app = AssistantApp(document_path=doc, model="anything")
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        assert app.is_running and app.reader_state.status is ReaderStatus.FAILED and app.engine is None
        assert "RuntimeError: the loader broke" in app.reader_state.error
        assert any("the loader broke" in n.message and n.severity == "error" for n in app._notifications)
        assert "no model (f3 picks one)" in str(app.chat.query_one("#status").content)
        card = await ask(app, pilot, "where did the cat sit?")  # the question waits; the error is repeated
        assert card.result is None and app.is_running


async def test_indexing_and_answering_that_raise_are_notifications(monkeypatch, tiny_model_dir, doc):
    import assistant.core.folder_index

    def broken(*args, **kwargs):
        raise RuntimeError("broken on purpose")

    app = AssistantApp(model=str(tiny_model_dir))
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        with monkeypatch.context() as patch:
            patch.setattr(assistant.core.folder_index, "index_document", broken)
            app.chat.open_document(doc)
            await settle(app, pilot)
        assert app.is_running and app.chat.indexed is None
        assert not app.chat.query_one("#index-progress").display
        assert any(n.title == "Cannot open document" and "broken on purpose" in n.message for n in app._notifications)
        app.chat.open_document(doc)
        await settle(app, pilot)
        monkeypatch.setattr(assistant.core.engine.QAEngine, "ask", broken)
        card = await ask(app, pilot, "where did the cat sit?")
        assert app.is_running and card.result is not None and card.result.answers == []
        assert "Not found in this document" in card.plain_text
        assert any(n.title == "The reader failed" and "broken on purpose" in n.message for n in app._notifications)


async def test_the_train_form_comes_from_train_config():
    """Labels, defaults, input types and help of the form are TrainConfig's fields, typed once."""
    import dataclasses

    from assistant.runs.config import TrainConfig
    from assistant.tui.screens.train import FORM_AFTER_DATA, FORM_BEFORE_DATA, TrainScreen

    fields = {f.name: f for f in dataclasses.fields(TrainConfig)}
    app = AssistantApp()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("ctrl+t")
        await wait_for_widget(pilot, TrainScreen, "#start")
        for spec in (*FORM_BEFORE_DATA, *FORM_AFTER_DATA):
            widget = app.screen.query_one(f"#{spec.name}")
            default = fields[spec.name].default
            if isinstance(default, (int, float)):
                assert float(widget.value) == default
            else:
                assert widget.value == ("" if default is None else default)
            assert widget.tooltip == fields[spec.name].metadata.get("help")
        assert app.screen.query_one("#epochs").type == "number"
        assert app.screen.query_one("#batch_size").type == "integer"
        assert app.screen.query_one("#device").value == TrainConfig().device
        app.screen.query_one("#batch_size").value = "0"
        await pilot.press("ctrl+r")
        await pilot.pause()
        assert any(n.message.startswith("Batch size must be a whole number of at least 1") for n in app._notifications)
        assert not any("--batch-size" in n.message for n in app._notifications), "the form's words, not the flag"
        assert not app.screen.running  # an impossible setting starts nothing


async def test_settings_are_read_and_a_new_theme_is_remembered():
    Settings(theme="nord", top_k=2, threshold=0.0).save()
    app = AssistantApp()
    async with app.run_test(size=SIZE) as pilot:
        assert app.theme == "nord" and app.settings.top_k == 2
        app.theme = "gruvbox"
        await pilot.pause()
    assert Settings.load().theme == "gruvbox"


async def _open_dialog(app, pilot):
    """ctrl+o, then Browse… (the first choice when nothing was opened before): the file dialog."""
    from textual_fspicker import FileOpen

    from assistant.tui.widgets.recent_documents import RecentDocuments

    await settle(app, pilot)
    await pilot.press("ctrl+o")
    await wait_until(pilot, lambda: isinstance(app.screen, RecentDocuments), timeout=30)
    await pilot.press("enter")
    await wait_until(pilot, lambda: isinstance(app.screen, FileOpen), timeout=30)
    return app.screen


async def test_ctrl_o_opens_a_file_dialog_that_opens_the_document(tiny_model_dir, doc):
    app = AssistantApp(model=str(tiny_model_dir))
    async with app.run_test(size=SIZE) as pilot:
        dialog = await _open_dialog(app, pilot)
        dialog.dismiss(doc)
        await settle(app, pilot)
        assert app.chat.document_path == doc and app.chat.indexed is not None


@pytest.mark.parametrize("letters", [None, 3], ids=["the whole name", "its first letters, then its completion"])
async def test_the_open_dialog_takes_a_folder_typed_then_a_file_name_typed(tiny_model_dir, doc, letters):
    """Typed as a user would: a folder's path, enter, then the file's name (or its first letters, its completion
    shown), enter, and the document is open."""
    from textual.widgets import Input

    app = AssistantApp(model=str(tiny_model_dir))
    async with app.run_test(size=SIZE) as pilot:
        dialog = await _open_dialog(app, pilot)
        path = dialog.query_one(Input)
        path.focus()
        await pilot.press(*str(doc.parent), "enter")
        await wait_until(pilot, lambda: app.screen is dialog and path.value == "" and path.has_focus)
        await pilot.press(*doc.name[:letters])
        if letters is not None:
            await wait_until(pilot, lambda: path._suggestion == doc.name)  # what the input shows after the letters
        await pilot.press("enter")
        await wait_until(pilot, lambda: app.chat.document_path == doc, timeout=30)


async def test_the_open_dialogs_completion_is_the_first_name_in_name_order(tmp_path, monkeypatch):
    """Whatever order the folder lists its files in; a hidden name only for a typed dot; ``~`` is the home folder."""
    from assistant.tui.file_dialogs import FileOpen

    for name in ("extra16.md", "extra01.md", "extra02.md", ".extra.md"):
        (tmp_path / name).write_text("x")
    monkeypatch.setenv("HOME", str(tmp_path))
    completion = FileOpen()._suggest_path
    completion.root = tmp_path
    assert await completion.get_suggestion("ex") == "extra01.md"
    assert await completion.get_suggestion(".ex") == ".extra.md"
    assert await completion.get_suggestion(f"{tmp_path}/extra1") == f"{tmp_path}/extra16.md"
    assert await completion.get_suggestion("~/extra0") == "~/extra01.md"
    assert await completion.get_suggestion("zz") is None


async def _training(app, pilot, base: Path, data: Path) -> TrainScreen:
    """The Train screen with a run started from the form, once its first step has shown."""
    screen = await fill_train_form(app, pilot, base, data, "1")
    await pilot.press("ctrl+r")
    await wait_until(pilot, lambda: screen.query_one("#train-progress").progress > 0, timeout=60)
    return screen


async def test_a_cancelled_run_stops_its_clock_and_can_be_resumed_from_the_metrics_panel(fake_trainer, training_inputs):
    base, data = training_inputs
    app = AssistantApp(trainer_command=fake_trainer("wait"))
    async with app.run_test(size=SIZE) as pilot:
        screen = await _training(app, pilot, base, data)
        await pilot.press("ctrl+b")
        await wait_until(pilot, lambda: "Cancelled" in str(screen.query_one("#run-status").content), timeout=60)
        assert not screen.query_one("#train-progress #eta").display  # no ETA counting for a run that stopped
        status = str(screen.query_one("#run-status").content)
        assert "no checkpoint yet, so resuming it (f2, select it, R) starts it over" in status  # none was saved
        run_path = screen.process.run_path
        screen.command = fake_trainer("complete")  # this time the trainer runs to the end
        await pilot.press("f2")
        await wait_for_widget(pilot, MetricsScreen, "#runs")
        await pilot.press("R")
        await wait_for_widget(pilot, ConfirmScreen, "#yes", timeout=60)
        assert screen.process.run_path == run_path  # the same run, continued
        assert not screen.query_one("#train-progress #eta").display  # completed: no clock counting on
        await pilot.click("#no")
    record = json.loads((run_path / "run.json").read_text())
    assert record["status"] == "completed" and record["settings"]["resume"] is True


async def test_quitting_while_a_run_trains_asks_first_and_says_it_can_be_resumed(fake_trainer, training_inputs):
    base, data = training_inputs
    app = AssistantApp(trainer_command=fake_trainer("wait"))
    async with app.run_test(size=SIZE) as pilot:
        screen = await _training(app, pilot, base, data)
        await pilot.press("ctrl+q")
        await wait_for_widget(pilot, ConfirmScreen, "#no")
        assert "can be resumed" in str(app.screen.query_one("#confirm-text").content)
        await pilot.press("enter")  # No has the focus: the run goes on
        await wait_until(pilot, lambda: isinstance(app.screen, TrainScreen))
        assert screen.process.running
        await pilot.press("ctrl+q")
        await wait_for_widget(pilot, ConfirmScreen, "#yes")
        await pilot.click("#yes")
        await wait_until(pilot, lambda: not app.is_running)
    screen.process.proc.wait(timeout=30)  # stopped with the app
    assert json.loads((screen.process.run_path / "run.json").read_text())["status"] == "cancelled"


async def test_up_then_down_brings_back_the_question_being_typed(tiny_model_dir, doc):
    app = AssistantApp(document_path=doc, model=str(tiny_model_dir))
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        await ask(app, pilot, "where did the cat sit?")
        await pilot.press(*"who ran")
        question = app.screen.query_one("#question")
        await pilot.press("up")
        assert question.value == "where did the cat sit?"
        await pilot.press("down")
        assert question.value == "who ran" and question.cursor_position == len("who ran")


async def test_ctrl_j_scrolls_the_candidates_it_opens_into_view(tiny_model_dir, doc):
    allow_every_answer(top_k=5)
    app = AssistantApp(document_path=doc, model=str(tiny_model_dir))
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        for question in ("where did the cat sit?", "where did the dog run?", "who sat on the mat?"):
            card = await ask(app, pilot, question)
        assert len(card.result.answers) > 1
        conversation = app.chat.query_one("#conversation")
        await pilot.press("ctrl+j")

        def candidates_in_view() -> bool:
            shown = card.region.intersection(conversation.region).height
            return card.show_candidates and card.region.height > 4 and shown >= min(card.region.height, 15)

        await wait_until(pilot, candidates_in_view, timeout=30)


async def test_the_last_document_reopens_at_start_and_the_open_one_comes_first_in_recent(tiny_model_dir, tmp_path):
    from assistant.tui.widgets.recent_documents import RecentDocuments

    first, second = tmp_path / "first.txt", tmp_path / "second.txt"
    first.write_text("The cat sat on the mat.\n", encoding="utf-8")
    second.write_text("The dog ran in the park.\n", encoding="utf-8")
    app = AssistantApp(document_path=first, model=str(tiny_model_dir))
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        app.chat.open_document(second)  # opened, never asked about
        await wait_until(pilot, lambda: app.chat.document_path == second)
    again = AssistantApp(model=str(tiny_model_dir))
    async with again.run_test(size=SIZE) as pilot:
        await settle(again, pilot)
        await wait_until(pilot, lambda: again.chat.document_path == second)  # where the user left off
        await pilot.press("ctrl+o")
        await wait_until(pilot, lambda: isinstance(again.screen, RecentDocuments))
        assert [c.first.resolve() for c in again.screen.contexts[:2]] == [second.resolve(), first.resolve()]
    Settings(reopen_last=False, threshold=0.0).save()
    off = AssistantApp(model=str(tiny_model_dir))
    async with off.run_test(size=SIZE) as pilot:
        await settle(off, pilot)
        assert off.chat.document_path is None


async def test_the_annotations_screen_shows_the_saved_span_and_edits_or_deletes_it(tiny_model_dir, doc, isolated_dirs):
    from textual.widgets.text_area import Selection

    from assistant.tui.feedback import load_all
    from assistant.tui.screens.annotations import AnnotationsScreen

    app = AssistantApp(document_path=doc, model=str(tiny_model_dir))
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        await ask(app, pilot, "where did the cat sit?")
        await pilot.press("ctrl+b")
        app.screen.query_one(DocumentView).selection = Selection((0, 12), (0, 22))  # "on the mat"
        await pilot.press("ctrl+s")
        await pilot.press("f5")
        await wait_until(pilot, lambda: isinstance(app.screen, AnnotationsScreen))
        screen = app.screen
        await wait_until(pilot, lambda: "on the mat" in str(screen.query_one("#note-context").content))
        await pilot.press("e")
        await pilot.press(*" exactly", "enter")
        await wait_until(
            pilot, lambda: load_all(isolated_dirs / "data" / "annotations.jsonl")[0].question.endswith("exactly")
        )
        note = load_all(isolated_dirs / "data" / "annotations.jsonl")[0]
        assert (note.question, note.answer_text) == ("where did the cat sit? exactly", "on the mat")
        await pilot.press("d")
        await wait_for_widget(pilot, ConfirmScreen, "#no")
        await pilot.press("y")
        await wait_until(pilot, lambda: not load_all(isolated_dirs / "data" / "annotations.jsonl"))
        assert "No annotations yet" in str(screen.query_one("#note-context").content)


async def test_r_in_the_metrics_panel_resumes_a_run_before_the_train_screen_was_ever_shown(fake_trainer, isolated_dirs):
    from assistant.core import ownership

    models = Path(os.environ["ASSISTANT_MODELS_DIR"])
    run = models / "stopped"
    run.mkdir(parents=True)
    ownership.mark(run, "run")
    settings = {"base_model": "distilbert/distilbert-base-uncased", "data": "rajpurkar/squad", "epochs": 1.0}
    record = {"status": "cancelled", "started_at": "2026-12-01T10:00:00", "settings": settings}
    (run / "run.json").write_text(json.dumps(record), encoding="utf-8")
    app = AssistantApp(trainer_command=fake_trainer("complete"))
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        await pilot.press("escape", "f2")  # no reader offline: past the first-run screen
        await wait_for_widget(pilot, MetricsScreen, "#runs")
        await pilot.press("R")
        await wait_for_widget(pilot, ConfirmScreen, "#no", timeout=60)  # it ran to the end: make it active?
        await pilot.press("n")
        screen = app.get_screen("train")
        assert screen.process.run_path == run and app.is_running
    assert json.loads((run / "run.json").read_text())["status"] == "completed"


def test_a_resumed_run_that_the_trainer_refused_is_not_taken_for_its_last_outcome(tmp_path):
    from assistant.tui.messages import TrainingOutcome
    from assistant.tui.training_process import _stamp, outcome

    run = tmp_path / "run"
    run.mkdir()
    (run / "run.json").write_text(json.dumps({"status": "cancelled"}), encoding="utf-8")
    before = _stamp(run)
    refused = outcome(run, 2, ["error: --batch-size must be at most 2,147,483,647."], before)
    assert refused.outcome is TrainingOutcome.CRASHED and "--batch-size" in refused.message
    (run / "run.json").write_text(json.dumps({"status": "completed"}), encoding="utf-8")
    os.utime(run / "run.json", ns=(before + 10**9, before + 10**9))
    assert outcome(run, 0, [], before).outcome is TrainingOutcome.COMPLETED


async def test_a_notice_asked_for_twice_fast_shows_once(tiny_model_dir, doc):
    app = AssistantApp(document_path=doc, model=str(tiny_model_dir))
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        await settle(app, pilot)
        await pilot.press("ctrl+s", "ctrl+s")  # nothing asked yet: the same notice twice
        await wait_until(pilot, lambda: len(app.screen.query("Toast")) >= 1)
        await pilot.pause()
        assert notifications(app) == ["Ask a question first."] and len(app.screen.query("Toast")) == 1
