"""Which reader loads: what the user last chose in the app (a run made active, a reader picked, a default model
saved) is what the next start loads; --model wins for one process; the status line says where the reader came
from; a reader that cannot load changes nothing saved; a long first load says what it does and can be stopped."""

from __future__ import annotations

import os
import shutil
import threading
from pathlib import Path

import pytest
from textual.widgets import Input

from assistant.settings import Settings
from assistant.tui.app import AssistantApp
from assistant.tui.screens.chat import ChatScreen
from assistant.tui.screens.metrics import MetricsScreen
from assistant.tui.screens.settings import SettingsScreen
from assistant.tui.state import ReaderStatus
from tests.pilot import notifications, settle, wait_for_widget, wait_until, write_squad_run

SIZE = (120, 36)


@pytest.fixture
def models() -> Path:
    path = Path(os.environ["ASSISTANT_MODELS_DIR"])
    path.mkdir(parents=True, exist_ok=True)
    return path


@pytest.fixture
def folder(tiny_model_dir, tmp_path) -> Path:
    """A checkpoint folder outside models/: a reader picked by path."""
    return Path(shutil.copytree(tiny_model_dir, tmp_path / "picked-reader"))


@pytest.fixture
def slow_load(folder, monkeypatch):
    """Loading ``folder`` says it is exporting to ONNX and then waits until the test sets the event it returns (a
    first export of a full-size reader takes half a minute); every other reader loads as usual."""
    import assistant.core.model_loading as loading

    real, release = loading.load_reader, threading.Event()

    def slow_for_the_folder(ref, *args, notify=None, **kwargs):
        if ref == str(folder):
            if notify is not None:
                notify("progress", "Exporting picked-reader to ONNX for fast CPU answers (once; cached in /c)...")
            release.wait(60)
        return real(ref, *args, notify=notify, **kwargs)

    monkeypatch.setattr(loading, "load_reader", slow_for_the_folder)
    yield release
    release.set()


def status_line(app) -> str:
    return str(app.chat.query_one("#status").content)


async def started(**kwargs) -> tuple[str, str]:
    """Start the app as a user would, and say which reader it loaded and where the status line says it came from."""
    app = AssistantApp(**kwargs)
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        state = app.reader_state
        if state.status is ReaderStatus.READY:
            assert f"({state.source})" in status_line(app)
        return state.name, state.source


async def test_a_run_made_active_in_the_app_is_what_the_next_start_loads(tiny_model_dir, folder, models):
    write_squad_run(models, tiny_model_dir)
    Settings(model=str(folder), threshold=0.0).save()  # an earlier default model, which would win over ACTIVE
    assert await started() == ("picked-reader", "settings")
    app = AssistantApp()
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        await pilot.press("f2")
        await wait_for_widget(pilot, MetricsScreen, "#runs")
        await pilot.press("a")
        await wait_until(pilot, lambda: app.reader_state.name == "squad-run" and not app.reader_state.busy)
        assert app.reader_state.source == "active run"
    assert Settings.load().model == ""
    assert (models / "ACTIVE").read_text(encoding="utf-8") == "squad-run\n"
    assert await started() == ("squad-run", "active run")


async def test_a_reader_picked_in_the_app_is_what_the_next_start_loads(tiny_model_dir, folder, models):
    write_squad_run(models, tiny_model_dir)
    (models / "ACTIVE").write_text("squad-run\n", encoding="utf-8")
    app = AssistantApp()
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        assert app.reader_state.source == "active run"
        app.action_switch_model()
        picker = app.screen
        picker.dismiss(str(folder))  # what the picker returns for a browsed folder
        await wait_until(pilot, lambda: app.reader_state.name == "picked-reader" and not app.reader_state.busy)
        assert "model picked-reader (settings)" in status_line(app)
    assert Settings.load().model == str(folder)
    assert await started() == ("picked-reader", "settings")


async def test_a_model_on_the_command_line_wins_for_that_process_only(tiny_model_dir, folder, models):
    write_squad_run(models, tiny_model_dir)
    (models / "ACTIVE").write_text("squad-run\n", encoding="utf-8")
    before = Settings.path().read_bytes() if Settings.path().exists() else None
    assert await started(model=str(folder)) == ("picked-reader", "--model")
    assert (Settings.path().read_bytes() if Settings.path().exists() else None) == before
    assert await started() == ("squad-run", "active run")


async def test_a_default_model_that_cannot_load_is_refused_and_nothing_is_saved(tiny_model_dir, tmp_path):
    Settings(threshold=0.0).save()
    before = Settings.path().read_bytes()
    app = AssistantApp(model=str(tiny_model_dir))
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        await pilot.press("f4")
        await wait_for_widget(pilot, SettingsScreen, "#model")
        screen = app.screen
        screen.query_one("#top_k", Input).value = "2"
        screen.query_one("#model", Input).value = str(tmp_path / "no-such-reader")
        await pilot.press("ctrl+s")
        await wait_until(pilot, lambda: any("settings were not saved" in n for n in notifications(app)))
        assert app.reader_state.name == tiny_model_dir.name  # the reader that worked goes on
        assert app.settings.top_k == 3
        await wait_for_widget(pilot, SettingsScreen, "#model")  # back, with what was typed, to fix
        form = app.screen
        assert form.query_one("#model", Input).value == str(tmp_path / "no-such-reader")
        assert form.query_one("#top_k", Input).value == "2"
    assert Settings.path().read_bytes() == before


async def test_a_default_model_saved_in_settings_is_saved_with_the_form_once_it_loads(folder):
    Settings(threshold=0.0).save()
    app = AssistantApp()
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        await pilot.press("escape")  # the first-run screen: no reader offline
        await pilot.press("f4")
        await wait_for_widget(pilot, SettingsScreen, "#model")
        screen = app.screen
        screen.query_one("#top_k", Input).value = "2"
        screen.query_one("#model", Input).value = str(folder)
        await pilot.press("ctrl+s")
        await wait_until(pilot, lambda: app.reader_state.name == "picked-reader" and not app.reader_state.busy)
        assert isinstance(app.screen, ChatScreen)
    saved = Settings.load()
    assert (saved.model, saved.top_k) == (str(folder), 2)
    assert await started() == ("picked-reader", "settings")


async def test_a_long_first_load_says_what_it_does_and_escape_stops_it(tiny_model_dir, folder, slow_load):
    """A first ONNX export of a full-size reader takes half a minute: the status line says so, and escape goes back
    to the reader that was answering, saving nothing."""
    Settings(threshold=0.0).save()
    before = Settings.path().read_bytes()
    app = AssistantApp(model=str(tiny_model_dir))
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        app.action_switch_model()
        app.screen.dismiss(str(folder))
        await wait_until(pilot, lambda: "Exporting picked-reader to ONNX" in status_line(app))
        assert "escape stops" in status_line(app)
        await pilot.press("escape")
        await wait_until(pilot, lambda: not app.reader_state.busy)
        slow_load.set()
        await settle(app, pilot)
        assert app.reader_state.name == tiny_model_dir.name  # the stopped load never replaces it
        assert "Exporting" not in status_line(app)
        assert any("Stopped loading picked-reader" in n for n in notifications(app))
    assert Settings.path().read_bytes() == before


async def test_f3_offers_the_folders_chosen_before_and_no_hub_reader_while_offline(tiny_model_dir, folder, models):
    from assistant.core.defaults import DEFAULT_READER
    from assistant.tui.screens.dialogs import ModelPicker

    write_squad_run(models, tiny_model_dir)
    (models / "ACTIVE").write_text("squad-run\n", encoding="utf-8")
    app = AssistantApp()
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        app.action_switch_model()
        app.screen.dismiss(str(folder))
        await wait_until(pilot, lambda: app.reader_state.name == "picked-reader" and not app.reader_state.busy)
        await pilot.press("f3")  # the run made active stays on offer too
        await wait_for_widget(pilot, ModelPicker, "#models")
        await pilot.press("home", "enter")
        await wait_until(pilot, lambda: app.reader_state.name == "squad-run" and not app.reader_state.busy)
    again = AssistantApp()
    async with again.run_test(size=SIZE) as pilot:
        await settle(again, pilot)
        await pilot.press("f3")
        await wait_for_widget(pilot, ModelPicker, "#models")
        picker = again.screen.query_one("#models")
        prompts = [str(picker.get_option_at_index(i).prompt) for i in range(picker.option_count)]
        assert any("picked-reader  ·  recent:" in p for p in prompts)
        assert not any(DEFAULT_READER in p for p in prompts)  # HF_HUB_OFFLINE, and not in the local cache


async def test_escape_while_a_settings_form_waits_on_its_model_keeps_none_of_the_form(
    tiny_model_dir, folder, slow_load
):
    Settings(threshold=0.0).save()
    app = AssistantApp(model=str(tiny_model_dir))
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        await pilot.press("f4")
        await wait_for_widget(pilot, SettingsScreen, "#model")
        screen = app.screen
        screen.query_one("#top_k", Input).value = "42"
        screen.query_one("#model", Input).value = str(folder)
        await pilot.press("ctrl+s")
        await wait_until(pilot, lambda: app.reader_state.busy and isinstance(app.screen, ChatScreen))
        await pilot.press("escape")
        await wait_until(pilot, lambda: not app.reader_state.busy)
        assert app.settings.top_k == 3  # the form waited on its model: none of it holds
        slow_load.set()  # the abandoned load ends later, as a real export would: still none of the form holds
        await app.workers.wait_for_complete()
    assert Settings.load().top_k == 3 and app.settings.top_k == 3
