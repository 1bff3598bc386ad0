"""The Train form and the metrics panel, driven with Pilot as a user would: a fake trainer, tiny local models."""

from __future__ import annotations

import json
import os
import socket
import time
from pathlib import Path

import pytest

from assistant.core.defaults import DEFAULT_BASE
from assistant.paths import annotations_path, user_config_dir
from assistant.tui.app import AssistantApp
from assistant.tui.messages import TrainingActivity
from assistant.tui.screens.dialogs import ConfirmScreen
from assistant.tui.screens.metrics import COMPACT, FULL, MetricsScreen
from assistant.tui.screens.train import TrainScreen
from assistant.tui.widgets.run_compare import RunCompareScreen
from tests.pilot import (
    fake_trainer_command,
    fill_train_form,
    screen_text,
    settle,
    wait_for_widget,
    wait_until,
    write_run,
    write_squad_run,
)
from tests.synthetic import make_examples, write_jsonl

SIZE = (120, 36)
REMEMBERED = (
    "base-choice",
    "base_model",
    "data-choice",
    "data-path",
    "epochs",
    "learning_rate",
    "batch_size",
    "device",
)


@pytest.fixture
def models() -> Path:
    root = Path(os.environ["ASSISTANT_MODELS_DIR"])
    root.mkdir(parents=True, exist_ok=True)
    return root


@pytest.fixture
def data(tmp_path) -> Path:
    """120 questions: a local file holds out 10% of them, 12 questions, to evaluate on."""
    return write_jsonl(tmp_path / "train.jsonl", make_examples(120))


@pytest.fixture
def fake_trainer(tmp_path, tiny_model_dir):
    return lambda mode: fake_trainer_command(tmp_path, tiny_model_dir, mode)


@pytest.fixture
def offline_hub(monkeypatch):
    """Nothing is in the hub cache, whatever this machine has downloaded."""
    import assistant.core.model_loading as loading
    import assistant.tui.train_check as check

    monkeypatch.setattr(loading, "hub_model_cached", lambda ref: False)
    monkeypatch.setattr(check, "hub_dataset_cached", lambda name: False)


async def _open_train(app, pilot) -> TrainScreen:
    await pilot.press("ctrl+t")
    await wait_for_widget(pilot, TrainScreen, "#start")
    await pilot.pause()
    assert isinstance(app.screen, TrainScreen)
    return app.screen


def _form(screen) -> dict[str, str]:
    return {name: str(screen.query_one(f"#{name}").value) for name in REMEMBERED}


def _note(screen, selector: str) -> str:
    return str(screen.query_one(selector).content)


# --- the form remembers ------------------------------------------------------------------------------------------


async def test_the_form_shows_the_values_of_the_last_start(fake_trainer, tiny_model_dir, data):
    app = AssistantApp(trainer_command=fake_trainer("fail"))
    async with app.run_test(size=SIZE) as pilot:
        screen = await fill_train_form(app, pilot, tiny_model_dir, data, "3")
        screen.query_one("#device").value = "cpu"
        await pilot.press("ctrl+r")
        await wait_until(pilot, lambda: "Failed" in _note(screen, "#run-status"), timeout=60)
    app = AssistantApp()
    async with app.run_test(size=SIZE) as pilot:
        screen = await _open_train(app, pilot)
        assert _form(screen) == {
            "base-choice": "other",  # a model typed over the default one
            "base_model": str(tiny_model_dir),
            "data-choice": "file",
            "data-path": str(data),
            "epochs": "3",
            "learning_rate": "1e-3",
            "batch_size": "8",
            "device": "cpu",
        }
        assert screen.query_one("#data-file").display  # the file field shows, since a file is the data


@pytest.mark.parametrize("gpus", [0, 1, 2])
async def test_the_processes_field_is_offered_with_several_gpus_and_goes_into_the_run(gpus, monkeypatch, data):
    monkeypatch.setattr("assistant.runs.config.visible_gpus", lambda: gpus)
    app = AssistantApp()
    async with app.run_test(size=SIZE) as pilot:
        screen = await _open_train(app, pilot)
        field = screen.query_one("#nproc")
        assert field.display is (gpus >= 2) and screen.query_one("#nproc-label").display is (gpus >= 2)
        screen.query_one("#data-choice").value = "file"
        await pilot.pause()
        screen.query_one("#data-path").value = str(data)
        if gpus >= 2:
            field.value = "2"
        assert screen.form.build_config({}).nproc == (2 if gpus >= 2 else 1)
        assert "nproc" not in _form(screen)  # the next machine's GPUs decide again


@pytest.mark.parametrize(
    "content",
    [
        "{not json",
        "[1, 2]",
        '{"version": 99, "values": {"epochs": "7"}}',
        '{"version": 1, "values": {"epochs": 7, "device": "tpu", "data-choice": "nowhere", "base-choice": "active"}}',
    ],
)
async def test_a_damaged_or_older_memory_file_shows_the_defaults(content):
    path = user_config_dir() / "train_form.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(content)
    app = AssistantApp()
    async with app.run_test(size=SIZE) as pilot:
        screen = await _open_train(app, pilot)
        form = _form(screen)
        assert (form["epochs"], form["device"], form["data-choice"]) == ("2", "auto", "squad")
        assert (form["base-choice"], form["base_model"]) == ("default", DEFAULT_BASE)


# --- the base model: the active reader -----------------------------------------------------------------------------


async def test_a_run_can_start_from_the_active_reader(fake_trainer, tiny_model_dir, data, models):
    active = write_run(models, "best-run", tiny_model_dir, status="completed")
    (models / "ACTIVE").write_text("best-run\n")
    app = AssistantApp(trainer_command=fake_trainer("complete"))
    async with app.run_test(size=SIZE) as pilot:
        screen = await fill_train_form(app, pilot, tiny_model_dir, data, "1")
        await pilot.pause()
        choice = screen.query_one("#base-choice")
        assert choice.value == "other"
        choice.value = "active"
        await wait_until(pilot, lambda: screen.query_one("#base_model").value == str(active), timeout=10)
        await pilot.press("ctrl+r")
        await wait_for_widget(pilot, ConfirmScreen, "#yes", timeout=60)
        settings = json.loads((screen.process.run_path / "run.json").read_text())["settings"]
        assert settings["base_model"] == str(active)


async def test_the_active_reader_choice_follows_a_run_activated_meanwhile(models, tiny_model_dir):
    app = AssistantApp()
    async with app.run_test(size=SIZE) as pilot:
        screen = await _open_train(app, pilot)
        screen.query_one("#epochs").value = "4"
        await pilot.press("escape")
        run = write_run(models, "new-best", tiny_model_dir, status="completed")
        (models / "ACTIVE").write_text("new-best\n")
        await _open_train(app, pilot)
        screen.query_one("#base-choice").value = "active"
        await wait_until(pilot, lambda: screen.query_one("#base_model").value == str(run), timeout=10)
        assert screen.query_one("#epochs").value == "4"  # what was typed stays


# --- the data is checked before a run starts ---------------------------------------------------------------------

LOST = {"context": "the cat sat on the mat.", "question": "where?", "answers": {"text": ["zebra"], "answer_start": [0]}}
WRONG_FILES = {
    "broken.json": ('{"data": [', "is not valid JSON"),
    "empty.json": ('{"data": []}', "holds no questions"),
    "lost.jsonl": (
        "".join(json.dumps(LOST | {"id": str(i)}) + "\n" for i in range(20)),
        "none of its 18 training questions is usable (18 dropped because their answer is not in their context)",
    ),
    "one.jsonl": (
        json.dumps(LOST | {"id": "1", "answers": {"text": ["cat"], "answer_start": [4]}}) + "\n",
        "with 1 question held out to evaluate, none is left to train on; a run needs at least 2 questions",
    ),
    "notes.txt": ("just some text", "unknown data format"),
}


@pytest.mark.parametrize("name", list(WRONG_FILES))
async def test_a_wrong_data_file_fails_in_seconds_with_the_reason_and_starts_nothing(
    name, fake_trainer, tiny_model_dir, tmp_path, models
):
    content, reason = WRONG_FILES[name]
    wrong = tmp_path / name
    wrong.write_text(content)
    app = AssistantApp(trainer_command=fake_trainer("complete"))
    async with app.run_test(size=SIZE) as pilot:
        screen = await fill_train_form(app, pilot, tiny_model_dir, wrong, "1")
        started = time.monotonic()
        await pilot.press("ctrl+r")
        await wait_until(pilot, lambda: reason in _note(screen, "#data-status"), timeout=30)
        assert time.monotonic() - started < 10  # the trainer took 40 s to say it
        assert any(reason in n.message and n.severity == "error" for n in app._notifications)
        assert screen.process is None and not screen.running and not screen.query_one("#start").disabled
    assert not any(models.iterdir())  # no run folder, no config file


async def test_cancel_while_the_data_is_checked_starts_nothing(fake_trainer, tiny_model_dir, data, models, monkeypatch):
    import threading

    import assistant.tui.train_check as check

    release = threading.Event()
    real = check.check_training

    def slow(config):
        release.wait(30)
        return real(config)

    monkeypatch.setattr(check, "check_training", slow)
    app = AssistantApp(trainer_command=fake_trainer("complete"))
    async with app.run_test(size=SIZE) as pilot:
        screen = await fill_train_form(app, pilot, tiny_model_dir, data, "1")
        await pilot.press("ctrl+r")
        await pilot.pause()
        assert screen.query_one("#start").disabled and not screen.query_one("#cancel").disabled
        await pilot.press("ctrl+b")
        await pilot.pause()
        release.set()
        await app.workers.wait_for_complete()
        await wait_until(pilot, lambda: "Cancelled before it started" in _note(screen, "#run-status"), timeout=30)
        assert screen.process is None and not screen.running and not screen.query_one("#start").disabled
    assert not any(models.iterdir())


async def test_hub_defaults_offline_fail_at_once_instead_of_after_35_seconds(offline_hub):
    app = AssistantApp()
    async with app.run_test(size=SIZE) as pilot:
        screen = await _open_train(app, pilot)
        await pilot.press("ctrl+r")
        await wait_until(pilot, lambda: "hub cannot be reached" in _note(screen, "#base-note"), timeout=30)
        assert screen.process is None


async def test_too_few_questions_to_evaluate_is_a_warning_and_the_run_starts(fake_trainer, tiny_model_dir, data):
    app = AssistantApp(trainer_command=fake_trainer("complete"))
    async with app.run_test(size=SIZE) as pilot:
        screen = await fill_train_form(app, pilot, tiny_model_dir, data, "1")
        await pilot.press("ctrl+r")
        await wait_for_widget(pilot, ConfirmScreen, "#yes", timeout=60)
        warning = "Only 12 questions to evaluate on: EM/F1 over fewer than 50 questions is mostly noise"
        assert any(warning in n.message and n.severity == "warning" for n in app._notifications)
        assert warning in _note(screen, "#data-status")
        assert "120 questions: 108 to train on, 12 to evaluate" in _note(screen, "#data-status")
        assert screen.process is not None and (screen.process.run_path / "run.json").exists()


async def test_picking_a_data_file_in_the_dialog_checks_it(tiny_model_dir, data):
    from textual_fspicker import FileOpen

    app = AssistantApp()
    async with app.run_test(size=SIZE) as pilot:
        screen = await _open_train(app, pilot)
        screen.query_one("#base_model").value = str(tiny_model_dir)
        screen.query_one("#data-choice").value = "file"
        await pilot.pause()
        await pilot.click("#browse")
        await wait_until(pilot, lambda: isinstance(app.screen, FileOpen), timeout=30)
        app.screen.dismiss(data)
        await wait_until(pilot, lambda: "12 to evaluate" in _note(screen, "#data-status"), timeout=30)
        assert screen.query_one("#data-path").value == str(data) and screen.process is None


async def test_a_problem_with_the_base_model_is_said_under_it_and_goes_once_the_base_changes(offline_hub, tmp_path):
    app = AssistantApp()
    async with app.run_test(size=SIZE) as pilot:
        screen = await _open_train(app, pilot)
        await pilot.press("ctrl+r")
        await wait_until(pilot, lambda: "hub cannot be reached" in _note(screen, "#base-note"), timeout=30)
        assert "hub cannot be reached" not in _note(screen, "#data-status")
        screen.query_one("#base_model").value = str(tmp_path / "elsewhere")
        await wait_until(pilot, lambda: not screen.query_one("#base-note").display, timeout=10)


async def test_the_data_check_goes_once_the_data_changes(tiny_model_dir, data, tmp_path):
    other = tmp_path / "other.jsonl"
    other.write_bytes(data.read_bytes())
    app = AssistantApp()
    async with app.run_test(size=SIZE) as pilot:
        screen = await _open_train(app, pilot)
        screen.query_one("#base_model").value = str(tiny_model_dir)
        screen.query_one("#data-choice").value = "file"
        screen.query_one("#data-path").value = str(data)
        await pilot.pause()
        screen.action_check_data()
        await wait_until(pilot, lambda: "12 to evaluate" in _note(screen, "#data-status"), timeout=30)
        screen.query_one("#data-path").value = str(other)
        await wait_until(pilot, lambda: not screen.query_one("#data-status").display, timeout=10)
        screen.action_check_data()
        await wait_until(pilot, lambda: "12 to evaluate" in _note(screen, "#data-status"), timeout=30)
        screen.query_one("#data-choice").value = "squad"
        await wait_until(pilot, lambda: not screen.query_one("#data-status").display, timeout=10)


async def test_other_base_model_clears_the_hub_id_for_a_path_to_be_typed(offline_hub):
    app = AssistantApp()
    async with app.run_test(size=SIZE) as pilot:
        screen = await _open_train(app, pilot)
        base = screen.query_one("#base_model")
        assert base.value == DEFAULT_BASE
        screen.query_one("#base-choice").value = "other"
        await wait_until(pilot, lambda: base.value == "" and base.has_focus, timeout=10)
        await pilot.press(*"/models/mine")
        assert base.value == "/models/mine" and screen.query_one("#base-choice").value == "other"


def test_the_check_holds_out_the_questions_the_trainer_will(tmp_path, data):
    """The count the form warns about is the trainer's own split, not a guess."""
    from assistant.runs.config import TrainConfig
    from assistant.squad.formats import load_data
    from assistant.tui.train_check import held_out
    from trainer.data import split

    for seed, test_size in ((42, 0.1), (3, 0.25)):
        config = TrainConfig(data=str(data), seed=seed, test_size=test_size)
        loaded = load_data(str(data))
        train, test = held_out(loaded.examples, config)
        trainer_train, trainer_test, _ = split(loaded, config)
        assert [e.id for e in test] == [e.id for e in trainer_test]
        assert [e.id for e in train] == [e.id for e in trainer_train]


def test_the_warning_starts_below_fifty_questions():
    from assistant.tui.train_check import few_questions_warning

    assert few_questions_warning(49) is not None and "49 questions" in few_questions_warning(49)
    assert few_questions_warning(50) is None and few_questions_warning(None) is None


# --- offline: the first-run screen pre-fills the form --------------------------------------------------------------


async def test_offline_the_form_starts_from_the_active_reader_and_the_annotations(models, tiny_model_dir):
    active = write_run(models, "best-run", tiny_model_dir, status="completed")
    (models / "ACTIVE").write_text("best-run\n")
    annotations_path().parent.mkdir(parents=True, exist_ok=True)
    write_jsonl(annotations_path(), make_examples(5))
    app = AssistantApp()
    async with app.run_test(size=SIZE) as pilot:
        train = app.get_screen("train")
        train.prefill_offline()  # before the screen was ever shown, as the first-run screen may call it
        await pilot.press("ctrl+t")
        await wait_until(pilot, lambda: train.is_mounted and "best-run" in _note(train, "#base-note"), timeout=30)
        assert train.query_one("#base_model").value == str(active)
        assert train.query_one("#base-choice").value == "active"
        assert train.query_one("#data-choice").value == "annotations"


async def test_offline_without_an_active_reader_the_newest_usable_run_is_the_base(models, tiny_model_dir):
    write_run(models, "older", tiny_model_dir, status="completed", started_at="2026-01-01T10:00:00")
    write_run(models, "newer-failed", tiny_model_dir, status="failed", started_at="2026-02-01T10:00:00")
    app = AssistantApp()
    async with app.run_test(size=SIZE) as pilot:
        screen = await _open_train(app, pilot)
        screen.prefill_offline()
        await wait_until(pilot, lambda: "older" in _note(screen, "#base-note"), timeout=30)
        assert screen.query_one("#base_model").value == str(models / "older")
        assert screen.query_one("#base-choice").value == "other"
        assert screen.query_one("#data-choice").value == "file" and screen.query_one("#data-file").display
        assert "pick a local SQuAD JSON or CSV file" in _note(screen, "#data-status")


@pytest.mark.parametrize("cached", [True, False])
async def test_offline_with_no_run_the_cached_hub_base_or_a_sentence(cached, monkeypatch):
    import assistant.core.model_loading as loading

    monkeypatch.setattr(loading, "hub_model_cached", lambda ref: cached and ref == DEFAULT_BASE)
    app = AssistantApp()
    async with app.run_test(size=SIZE) as pilot:
        screen = await _open_train(app, pilot)
        screen.query_one("#base_model").value = "something/typed"
        screen.prefill_offline()
        await wait_until(pilot, lambda: "Looking" not in _note(screen, "#base-note"), timeout=30)
        if cached:
            assert screen.query_one("#base_model").value == DEFAULT_BASE
            assert "in the local cache" in _note(screen, "#base-note")
        else:
            assert "No base model can be loaded offline" in _note(screen, "#base-note")


# --- the chat screen hears of the run ----------------------------------------------------------------------------


async def test_the_chat_screen_hears_how_far_the_run_is_and_when_it_ends(
    fake_trainer, tiny_model_dir, data, monkeypatch
):
    app = AssistantApp(trainer_command=fake_trainer("complete"))
    async with app.run_test(size=SIZE) as pilot:
        chat = app.get_screen("chat")
        heard: list[tuple[bool, str]] = []
        post = chat.post_message

        def record(message):
            if isinstance(message, TrainingActivity):
                heard.append((message.running, message.summary))
            return post(message)

        monkeypatch.setattr(chat, "post_message", record)
        screen = await fill_train_form(app, pilot, tiny_model_dir, data, "2")
        await pilot.press("ctrl+r")
        await wait_for_widget(pilot, ConfirmScreen, "#yes", timeout=60)
        await wait_until(pilot, lambda: heard and not heard[-1][0], timeout=10)
        assert not screen.running
    assert heard[0] == (True, "starting")
    assert (True, "epoch 1/2 · 25%") in heard and (True, "epoch 2/2 · 100%") in heard
    assert heard[-1] == (False, "") and all(running for running, _ in heard[:-1])


# --- the metrics panel -------------------------------------------------------------------------------------------


def _append(path: Path, *events: dict) -> None:
    with open(path, "a", encoding="utf-8") as fh:
        fh.writelines(json.dumps(e) + "\n" for e in events)


async def test_a_cancelled_run_shows_the_loss_it_logged_before_it_stopped(models):
    run = write_run(models, "stopped-run", status="cancelled", started_at="2026-11-25T10:00:00")
    _append(
        run / "events.jsonl",
        {"phase": "train", "step": 1, "total": 10, "loss": 3.0},
        {"phase": "train", "step": 4, "total": 10, "loss": 2.5},
        {"phase": "cancelled", "message": "training cancelled"},
    )
    app = AssistantApp()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("f2")
        await wait_for_widget(pilot, MetricsScreen, "#runs")
        plot = app.screen.query_one("#loss-plot")
        await wait_until(pilot, lambda: plot.series == [("", [1.0, 4.0], [3.0, 2.5])], timeout=10)


async def test_the_metrics_panel_follows_a_run_as_it_trains(models):
    live = {"pid": os.getpid(), "hostname": socket.gethostname(), "heartbeat": time.time()}
    run = write_run(models, "training-now", status="running", started_at="2026-11-25T10:00:00", **live)
    events = run / "events.jsonl"
    _append(events, {"phase": "train", "step": 0, "total": 10}, {"phase": "train", "step": 1, "total": 10, "loss": 3.0})
    app = AssistantApp()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("f2")
        await wait_for_widget(pilot, MetricsScreen, "#runs")
        screen = app.screen
        table = screen.query_one("#runs")

        def cell(column: str) -> str:
            return str(table.get_cell("training-now", column))

        await wait_until(pilot, lambda: cell("status") == "running 10%", timeout=10)
        assert "▶" in cell("mark")  # the run training now, marked
        _append(
            events,
            {"phase": "train", "step": 5, "total": 10, "loss": 2.0},
            {"phase": "eval", "step": 5, "total": 10, "epoch": 0.5, "exact_match": 40.0, "f1": 50.0},
        )
        await wait_until(pilot, lambda: cell("status") == "running 50%", timeout=10)
        assert (cell("em"), cell("f1")) == ("40.0", "50.0")
        assert screen.query_one("#loss-plot").series == [("", [1.0, 5.0], [3.0, 2.0])]
        await pilot.press("d")  # a running run is not deleted
        await pilot.pause()
        assert not isinstance(app.screen, ConfirmScreen) and run.exists()
        assert any("still training" in n.message for n in app._notifications)
        (run / "metrics.json").write_text(json.dumps({"eval": {"exact_match": 45.0, "f1": 55.0}}))
        (run / "run.json").write_text(json.dumps({"status": "completed", "started_at": "2026-11-25T10:00:00"}))
        _append(events, {"phase": "done", "exact_match": 45.0, "f1": 55.0})
        await wait_until(pilot, lambda: cell("status") == "completed", timeout=10)
        assert cell("f1") == "55.0"


async def test_deleting_asks_first_and_never_takes_the_active_run(models, tiny_model_dir):
    write_run(models, "active-run", tiny_model_dir, status="completed", started_at="2026-11-25T10:00:00")
    old = write_run(models, "old-run", status="failed", started_at="2026-11-20T10:00:00")
    (models / "ACTIVE").write_text("active-run\n")
    app = AssistantApp()
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        await pilot.press("f2")
        await wait_for_widget(pilot, MetricsScreen, "#runs")
        table = app.screen.query_one("#runs")
        await pilot.press("d")  # the cursor is on the active run, the newest
        await pilot.pause()
        assert not isinstance(app.screen, ConfirmScreen)
        assert any("active-run is the active reader" in n.message for n in app._notifications)
        await pilot.press("down", "d")
        await wait_for_widget(pilot, ConfirmScreen, "#no")
        assert "Delete the run old-run?" in str(app.screen.query_one("#confirm-text").content)
        await pilot.press("enter")  # No has the focus
        await wait_until(pilot, lambda: isinstance(app.screen, MetricsScreen), timeout=10)
        assert old.exists()
        await pilot.press("d")
        await wait_for_widget(pilot, ConfirmScreen, "#yes")
        await pilot.click("#yes")
        await wait_until(pilot, lambda: "old-run" not in table.rows, timeout=10)
        assert not old.exists() and (models / "active-run").exists()
        assert any(n.message == "Deleted the run old-run." for n in app._notifications)


async def test_two_marked_runs_compare_side_by_side(models):
    loss = {"loss_curve": [[1, 3.0], [2, 2.0]], "eval_per_epoch": [{"epoch": 1, "exact_match": 70.0, "f1": 80.0}]}
    write_run(
        models,
        "run-a",
        status="completed",
        started_at="2026-11-25T10:00:00",
        settings={"learning_rate": 5e-5, "epochs": 2},
        metrics={"eval": {"exact_match": 70.0, "f1": 80.0}} | loss,
    )
    write_run(
        models,
        "run-b",
        status="completed",
        started_at="2026-11-24T10:00:00",
        settings={"learning_rate": 3e-5, "epochs": 2},
        metrics={"eval": {"exact_match": 71.5, "f1": 82.5}, "loss_curve": [[1, 2.5]]},
    )
    app = AssistantApp()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("f2")
        await wait_for_widget(pilot, MetricsScreen, "#runs")
        table = app.screen.query_one("#runs")
        await pilot.press("c")
        await pilot.pause()
        assert any("Mark two runs" in n.message for n in app._notifications)
        await pilot.press("space", "down", "space")
        assert (str(table.get_cell("run-a", "mark")), str(table.get_cell("run-b", "mark"))) == ("✓", "✓")
        await pilot.press("c")
        await wait_for_widget(pilot, RunCompareScreen, "#compare-table")
        compared = app.screen.query_one("#compare-table")
        assert [str(c) for c in compared.get_row("F1")] == ["F1", "80.0", "82.5"]
        rate, epochs = compared.get_row("learning_rate"), compared.get_row("epochs")
        assert (rate[1].plain, rate[2].plain, str(rate[1].style)) == ("5e-05", "3e-05", "bold yellow")
        assert (epochs[1].plain, epochs[2].plain, str(epochs[1].style)) == ("2", "2", "")
        assert [label for label, _, _ in app.screen.query_one("#compare-loss").series] == ["run-a", "run-b"]
        await pilot.press("escape")
        await wait_until(pilot, lambda: isinstance(app.screen, MetricsScreen), timeout=10)


# --- 80x24 -------------------------------------------------------------------------------------------------------


async def test_at_80_columns_em_and_f1_follow_the_run_name_and_its_date_and_duration_show_whole(models):
    write_run(
        models,
        "a-run-with-a-rather-long-name-indeed",
        status="completed",
        started_at="2026-11-25T09:30:00",
        base_model="distilbert/distilbert-base-uncased",
        train_data={"source": "rajpurkar/squad"},
        metrics={"eval": {"exact_match": 77.9, "f1": 86.1}, "wall_time_s": 102.0},
    )
    app = AssistantApp()
    async with app.run_test(size=(160, 45)) as pilot:
        await pilot.press("f2")
        await wait_for_widget(pilot, MetricsScreen, "#runs")
        screen = app.screen
        assert screen.columns == FULL
        await pilot.resize_terminal(80, 24)
        await wait_until(pilot, lambda: screen.columns == COMPACT, timeout=10)
        await pilot.pause()
        lines = screen_text(app).splitlines()
        header = next(line for line in lines if " run " in line)
        row = next(line for line in lines if "a-run-with" in line)
        assert " EM " in header and " F1 " in header and "77.9" in row and "86.1" in row
        assert " date " in header and " duration " in header and "11-25 09:30" in row and "1.7 min" in row
        table = screen.query_one("#runs")
        for _ in range(60):  # to the base model and the data, past the screen's edge
            if table.scroll_x >= table.max_scroll_x > 0:
                break
            await pilot.press("right")
        await pilot.pause()
        assert any("a-run-with" in line and "rajpurkar/squad" in line for line in screen_text(app).splitlines())


async def test_at_80_by_24_the_train_form_scrolls_to_start_and_the_footer_shows_it(offline_hub):
    app = AssistantApp()
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await _open_train(app, pilot)
        footer = screen_text(app).splitlines()[-1]
        assert "^r Start" in footer and "^b Cancel run" in footer
        form = screen.query_one("#form")
        assert form.max_scroll_y > 0
        form.scroll_end(animate=False)
        await pilot.pause()
        await pilot.click("#start")
        await wait_until(pilot, lambda: "hub cannot be reached" in _note(screen, "#base-note"), timeout=30)


async def test_my_annotations_fill_in_the_measured_settings_and_replay_the_base_readers_data(
    fake_trainer, tiny_model_dir, data, models
):
    from assistant.runs.annotation_training import ANNOTATION_SETTINGS, MEASURED

    write_run(models, "best-run", tiny_model_dir, status="completed", settings={"data": str(data)})
    (models / "ACTIVE").write_text("best-run\n")
    annotations_path().parent.mkdir(parents=True, exist_ok=True)
    write_jsonl(annotations_path(), make_examples(30))
    app = AssistantApp(trainer_command=fake_trainer("complete"))
    async with app.run_test(size=SIZE) as pilot:
        screen = await _open_train(app, pilot)
        screen.query_one("#base-choice").value = "active"
        screen.query_one("#data-choice").value = "annotations"
        await wait_until(pilot, lambda: screen.query_one("#annotation-note").display, timeout=10)
        assert MEASURED in _note(screen, "#annotation-note")
        shown = {name: float(screen.query_one(f"#{name}").value) for name in ("epochs", "learning_rate", "batch_size")}
        assert shown == {name: ANNOTATION_SETTINGS[name] for name in shown}
        await pilot.press("ctrl+r")
        await wait_for_widget(pilot, ConfirmScreen, "#yes", timeout=60)
        settings = json.loads((screen.process.run_path / "run.json").read_text())["settings"]
        assert settings["data"] == str(annotations_path())
        assert (settings["replay_data"], settings["replay_ratio"]) == (str(data), ANNOTATION_SETTINGS["replay_ratio"])
        assert settings["learning_rate"] == ANNOTATION_SETTINGS["learning_rate"]
        screen.query_one("#data-choice").value = "file"
        await wait_until(pilot, lambda: not screen.query_one("#annotation-note").display, timeout=10)


async def test_a_deleted_run_with_brackets_in_its_name_is_named_as_it_is(models):
    write_run(models, "notes[b]v2", status="failed", started_at="2026-11-20T10:00:00")
    app = AssistantApp()
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        await pilot.press("f2")
        await wait_for_widget(pilot, MetricsScreen, "#runs")
        await pilot.press("d")
        await wait_for_widget(pilot, ConfirmScreen, "#yes")
        await pilot.click("#yes")
        await wait_until(pilot, lambda: not (models / "notes[b]v2").exists(), timeout=10)
        await wait_until(pilot, lambda: any("Deleted" in n.message for n in app._notifications), timeout=10)
        shown = [n.message for n in app._notifications]
        assert "Deleted the run notes[b]v2." in shown and not any(n.markup for n in app._notifications)


async def test_a_runs_details_read_as_a_table_of_named_settings(models, tiny_model_dir):
    write_squad_run(models, tiny_model_dir, learning_rate=3e-5, batch_size=16, data="rajpurkar/squad")
    app = AssistantApp()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("f2")
        await wait_for_widget(pilot, MetricsScreen, "#runs")
        text = screen_text(app)
        await wait_until(pilot, lambda: "learning rate 3e-05" in " ".join(screen_text(app).split()), timeout=10)
        assert "{" not in text.split("squad-run")[-1]  # not JSON


async def test_the_details_follow_the_cursor_onto_a_published_reference(models, tiny_model_dir):
    write_squad_run(models, tiny_model_dir, learning_rate=3e-5)
    app = AssistantApp()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("f2")
        await wait_for_widget(pilot, MetricsScreen, "#runs")
        await wait_until(pilot, lambda: "learning rate 3e-05" in " ".join(screen_text(app).split()), timeout=10)
        await pilot.press("down")  # the first published reference, under the one run
        shown = lambda: " ".join(screen_text(app).split())  # noqa: E731
        await wait_until(pilot, lambda: "status published reference" in shown(), timeout=10)
        await wait_until(pilot, lambda: "a published figure: no curves" in shown(), timeout=10)
        assert "learning rate" not in shown()


async def test_a_local_base_model_can_be_browsed_to(offline_hub, tiny_model_dir):
    from assistant.tui.file_dialogs import SelectDirectory

    app = AssistantApp()
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await _open_train(app, pilot)
        screen.query_one("#browse-base").scroll_visible(animate=False)
        await pilot.click("#browse-base")
        await wait_until(pilot, lambda: isinstance(app.screen, SelectDirectory), timeout=30)
        app.screen.dismiss(tiny_model_dir)
        await wait_until(pilot, lambda: screen.query_one("#base_model").value == str(tiny_model_dir), timeout=10)
        assert screen.query_one("#base-choice").value == "other"
