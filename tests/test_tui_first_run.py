"""A first run that leads somewhere, the model picker that browses, and the settings screen, driven with Pilot."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest
from textual.widgets import Button, Input, OptionList, Select, Static, Switch
from textual_fspicker import SelectDirectory
from textual_fspicker.parts import DirectoryNavigation

from assistant.settings import Settings
from assistant.tui.app import AssistantApp
from assistant.tui.screens.chat import ChatScreen
from assistant.tui.screens.dialogs import ModelPicker
from assistant.tui.screens.first_run import UNREACHABLE, FirstRunScreen
from assistant.tui.screens.settings import SettingsScreen
from assistant.tui.screens.train import TrainScreen
from assistant.tui.state import ReaderStatus
from tests.pilot import screen_text, settle, wait_for_widget, wait_until

SMALL = (80, 24)
SIZE = (120, 36)
TEXT = "The cat sat on the mat.\n\nThe dog ran in the park.\n"


@pytest.fixture(autouse=True)
def always_answer():
    """Tiny random models give low confidence: let every answer through unless a test says otherwise."""
    Settings(threshold=0.0).save()


@pytest.fixture
def models() -> Path:
    path = Path(os.environ["ASSISTANT_MODELS_DIR"])
    path.mkdir(parents=True, exist_ok=True)
    return path


def _checkpoint(tiny_model_dir: Path, folder: Path) -> Path:
    """A copy of the tiny model: a checkpoint folder that is not a run of models/."""
    shutil.copytree(tiny_model_dir, folder)
    return folder


async def _choose_folder(pilot, folder: Path) -> None:
    """In the folder dialog, as a user: highlight ``folder`` (a child of where it opened), enter it, press Open."""
    nav = await wait_for_widget(pilot, SelectDirectory, DirectoryNavigation)
    assert isinstance(nav, DirectoryNavigation)
    await wait_until(pilot, lambda: nav.option_count > 0, timeout=30)
    names = [getattr(nav.get_option_at_index(i), "location", Path()).name for i in range(nav.option_count)]
    nav.focus()
    nav.highlighted = names.index(folder.name)
    await pilot.press("enter")
    await wait_until(pilot, lambda: nav.location == folder.absolute(), timeout=30)
    await pilot.click("#select")


async def _first_run(app, pilot) -> FirstRunScreen:
    await settle(app, pilot)
    screen = app.screen
    assert isinstance(screen, FirstRunScreen)
    await wait_until(pilot, lambda: screen.hub_reachable is not None, timeout=30)
    await pilot.pause()
    return screen


# --- the first-run screen -----------------------------------------------------------------------------------------
async def test_offline_with_no_model_the_first_run_screen_says_what_is_missing():
    app = AssistantApp()
    async with app.run_test(size=SMALL) as pilot:
        screen = await _first_run(app, pilot)
        shown = " ".join(screen_text(app).split())
        assert "No reader model yet" in shown
        assert "is not in the local cache and the hub cannot be reached." in shown
        assert "assistant train" not in shown  # no shell command: the ways forward are the buttons
        for label in ("Download the default reader", "Open a local checkpoint folder", "Train a reader"):
            assert label in shown
        assert screen.query_one("#download", Button).disabled  # offline: nothing can be downloaded
        assert " ".join(UNREACHABLE.split()[:6]) in shown
        assert not any(n.severity == "error" for n in app._notifications)  # the screen says it, not a red toast
        for key in ("esc Chat", "f3 Model", "f4 Settings", "f1 Help"):
            assert key in screen_text(app).splitlines()[-1]  # the footer shows the main keys at 80x24
        await pilot.press("escape")
        await wait_until(pilot, lambda: isinstance(app.screen, ChatScreen), timeout=30)
        assert "no model (f3 picks one)" in str(app.chat.query_one("#status").content)


async def test_opening_a_local_checkpoint_folder_loads_it_and_leaves_for_the_chat(tiny_model_dir, models, tmp_path):
    folder = _checkpoint(tiny_model_dir, models / "my-reader")  # not a run: no run.json, no ACTIVE
    doc = tmp_path / "notes.txt"
    doc.write_text(TEXT, encoding="utf-8")
    app = AssistantApp(document_path=doc)
    async with app.run_test(size=SMALL) as pilot:
        await _first_run(app, pilot)
        await pilot.click("#open-folder")
        await _choose_folder(pilot, folder)
        await wait_until(pilot, lambda: app.reader_state.status is ReaderStatus.READY, timeout=120)
        await settle(app, pilot)
        assert app.reader_state.name == "my-reader" and app.engine is not None
        assert isinstance(app.screen, ChatScreen)
        assert any("my-reader is loaded" in n.message for n in app._notifications)
        assert "model my-reader" in str(app.chat.query_one("#status").content)


async def test_a_folder_that_is_no_reader_is_refused_in_one_sentence_on_the_first_run_screen(models):
    (models / "holiday-photos").mkdir()
    app = AssistantApp()
    async with app.run_test(size=SIZE) as pilot:
        screen = await _first_run(app, pilot)
        await pilot.click("#open-folder")
        await _choose_folder(pilot, models / "holiday-photos")
        await settle(app, pilot)
        assert app.screen is screen and app.engine is None
        error = str(screen.query_one("#first-run-error").content)
        assert "holiday-photos is not a model directory (it has no config.json)." in error
        assert "Traceback" not in screen_text(app)


async def test_once_the_hub_is_reachable_download_loads_the_default_reader(tiny_model_dir, monkeypatch):
    """Offline at start, online by the time the screen checks: the download is the normal load of the hub
    default (here the "hub" hands out the tiny model, once the test lets it)."""
    import threading

    import assistant.core.model_loading
    from assistant.core.defaults import DEFAULT_READER
    from assistant.core.errors import ModelUnavailableError

    real = assistant.core.model_loading.load_reader
    tries: list[str] = []
    downloaded = threading.Event()

    def hub(ref, device=None, quantize=False, **options):
        tries.append(ref)
        if len(tries) == 1:
            raise ModelUnavailableError(f"Model {ref!r} is not in the local cache and the hub cannot be reached.")
        assert downloaded.wait(timeout=60)
        reader = real(str(tiny_model_dir), device="cpu", **options)
        reader.name = ref
        return reader

    monkeypatch.setattr(assistant.core.model_loading, "load_reader", hub)
    monkeypatch.setattr(assistant.core.model_loading, "hub_reachable", lambda: True)
    app = AssistantApp()
    async with app.run_test(size=SIZE) as pilot:
        screen = await _first_run(app, pilot)
        assert not screen.query_one("#download", Button).disabled
        await pilot.click("#download")
        await wait_until(pilot, lambda: screen.query_one("#first-run-progress").display, timeout=30)
        assert "Downloading" in str(screen.query_one("#first-run-status").content)
        assert screen.query_one("#download", Button).disabled  # one download at a time
        downloaded.set()
        await wait_until(pilot, lambda: app.reader_state.status is ReaderStatus.READY, timeout=120)
        await settle(app, pilot)
        assert isinstance(app.screen, ChatScreen) and app.reader_state.name == DEFAULT_READER
        assert any(f"{DEFAULT_READER} is loaded" in n.message for n in app._notifications)
    assert tries == [DEFAULT_READER, DEFAULT_READER]


async def test_train_a_reader_opens_the_train_screen_and_escape_comes_back():
    app = AssistantApp()
    async with app.run_test(size=SIZE) as pilot:
        screen = await _first_run(app, pilot)
        await pilot.click("#train")
        await wait_for_widget(pilot, TrainScreen, "#start")
        await pilot.press("escape")
        await wait_until(pilot, lambda: app.screen is screen, timeout=30)


async def test_a_model_named_on_the_command_line_that_fails_stays_on_the_chat(tmp_path):
    """--model names one reader: its error is the answer (a notification), not the first-run screen."""
    app = AssistantApp(model=str(tmp_path / "no-such-model"))
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        assert isinstance(app.screen, ChatScreen) and app.reader_state.status is ReaderStatus.FAILED
        assert any("does not exist" in n.message and n.severity == "error" for n in app._notifications)


# --- the model picker ---------------------------------------------------------------------------------------------
def _prompts(app) -> list[str]:
    options = app.screen.query_one(OptionList)
    return [str(options.get_option_at_index(i).prompt) for i in range(options.option_count)]


async def test_the_picker_marks_the_loaded_reader_and_browses_to_any_checkpoint(tiny_model_dir, models, tmp_path):
    run = _checkpoint(tiny_model_dir, models / "my-run")
    (run / "run.json").write_text(json.dumps({"status": "completed", "base_model": "tiny"}))
    (run / "metrics.json").write_text(json.dumps({"eval": {"exact_match": 12.5, "f1": 20.0}}))
    first = _checkpoint(tiny_model_dir, tmp_path / "checkpoints" / "first-reader")
    second = _checkpoint(tiny_model_dir, tmp_path / "checkpoints" / "second-reader")
    app = AssistantApp(model=str(first))
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        await pilot.press("f3")
        await wait_for_widget(pilot, ModelPicker, "#models")
        prompts = _prompts(app)
        marked = [p for p in prompts if p.startswith("●")]
        assert marked == [f"● first-reader  ·  {first}  ·  loaded"]  # a folder outside models/, marked
        assert any(p.strip().startswith("my-run") and "F1 20.0" in p and "loaded" not in p for p in prompts)
        assert prompts[-1].strip() == "Browse for a checkpoint folder…"
        await pilot.press("end", "enter")
        await _choose_folder(pilot, second)  # the dialog opens beside the loaded folder
        await wait_until(pilot, lambda: app.reader_state.name == "second-reader", timeout=120)
        await settle(app, pilot)
        assert isinstance(app.screen, ChatScreen) and app.engine is not None
        await pilot.press("f3")
        await wait_for_widget(pilot, ModelPicker, "#models")
        marked = [p for p in _prompts(app) if p.startswith("●")]  # and offered as a recent folder from now on
        assert marked == [f"● second-reader  ·  recent: {second.resolve()}  ·  loaded"]
        await pilot.press("home", "enter")  # my-run: a run of models/, marked once it is the one loaded
        await wait_until(pilot, lambda: app.reader_state.name == "my-run", timeout=120)
        await settle(app, pilot)
        await pilot.press("f3")
        await wait_for_widget(pilot, ModelPicker, "#models")
        assert [p for p in _prompts(app) if p.startswith("●")] == ["● my-run  ·  F1 20.0  ·  loaded"]


async def _folder_dialog(app, pilot) -> DirectoryNavigation:
    await pilot.press("f3")
    await wait_for_widget(pilot, ModelPicker, "#models")
    await pilot.press("end", "enter")
    nav = await wait_for_widget(pilot, SelectDirectory, DirectoryNavigation)
    await wait_until(pilot, lambda: nav.option_count > 1, timeout=30)
    return nav


async def test_in_the_folder_dialog_open_takes_the_folder_highlighted_and_typing_jumps_to_it(tiny_model_dir, models):
    for name in ("alpha", "bravo", "charlie"):
        _checkpoint(tiny_model_dir, models / name)
    app = AssistantApp()
    async with app.run_test(size=SMALL) as pilot:
        await settle(app, pilot)
        await pilot.press("escape")  # the first-run screen
        nav = await _folder_dialog(app, pilot)
        assert nav.location == models.absolute()  # models/ holds runs: the dialog opens there
        await pilot.press(*"br")
        assert nav.highlighted_option.location.name == "bravo"
        await pilot.press("tab", "tab")  # the list, the path, Open: Cancel is escape's, never in the way
        assert isinstance(app.focused, Button) and app.focused.id == "select"
        await pilot.press("enter")
        await wait_until(pilot, lambda: app.reader_state.name == "bravo" and not app.reader_state.busy, timeout=60)
        nav = await _folder_dialog(app, pilot)
        assert nav.location == models.resolve()  # beside the folder picked last


async def test_in_the_folder_dialog_a_typed_path_is_taken(tiny_model_dir, tmp_path):
    folder = _checkpoint(tiny_model_dir, tmp_path / "deep" / "typed-reader")
    app = AssistantApp()
    async with app.run_test(size=SMALL) as pilot:
        await settle(app, pilot)
        await pilot.press("escape")
        await _folder_dialog(app, pilot)
        path = app.screen.query_one("#folder-path", Input)
        path.value = str(tmp_path / "nowhere")
        path.focus()
        await pilot.press("enter")
        await wait_until(pilot, lambda: "No folder" in str(app.screen.query_one("Dialog").border_subtitle), timeout=10)
        path.value = str(folder)
        await pilot.press("enter")
        await wait_until(pilot, lambda: app.reader_state.name == "typed-reader" and not app.reader_state.busy)


# --- the settings screen ------------------------------------------------------------------------------------------
async def _open_settings(app, pilot) -> SettingsScreen:
    await pilot.press("f4")
    await wait_for_widget(pilot, SettingsScreen, "#save")
    screen = app.screen
    assert isinstance(screen, SettingsScreen)
    return screen


async def _click(pilot, selector: str) -> None:
    """Scroll the form to a widget, as a user does on a small terminal, and click it."""
    pilot.app.screen.query_one(selector).scroll_visible(animate=False)
    await pilot.pause()
    await pilot.click(selector)


async def _type(pilot, selector: str, text: str) -> None:
    """Replace an input's text as a user does: clear it, then type."""
    await _click(pilot, selector)
    pilot.app.screen.query_one(selector, Input).value = ""
    await pilot.press(*text)


async def test_settings_refuses_bad_values_and_writes_nothing(tiny_model_dir):
    before = Settings.path().read_bytes()
    app = AssistantApp(model=str(tiny_model_dir))
    async with app.run_test(size=SMALL) as pilot:
        await settle(app, pilot)
        screen = await _open_settings(app, pilot)
        for field, bad, sentence in (
            ("#top_k", "0", "Answers per question (top-k) must be a whole number from 1 to 100."),
            ("#threshold", "2", "The minimum confidence must be a number from 0 to 1."),
            ("#threshold", "1.5", "The minimum confidence must be a number from 0 to 1."),
            ("#read_windows", "-", "The reading budget must be a number of windows from 1 to 64."),
        ):
            await _type(pilot, field, bad)
            problem = screen.query_one(f"{field}-problem", Static)
            await wait_until(pilot, lambda p=problem, s=sentence: str(p.content) == s, timeout=10)  # said while typing
            await pilot.press("enter")
            await pilot.pause()
            assert app.screen is screen  # still here, with the value to fix
            assert [n.message for n in app._notifications if n.severity == "error"][-1] == sentence
            assert Settings.path().read_bytes() == before
            await _type(pilot, field, "1")
        await pilot.press("escape")
        await wait_until(pilot, lambda: isinstance(app.screen, ChatScreen), timeout=30)
    assert Settings.path().read_bytes() == before


async def test_at_80_by_24_ctrl_s_saves_the_settings_with_save_out_of_sight(tiny_model_dir):
    app = AssistantApp(model=str(tiny_model_dir))
    async with app.run_test(size=SMALL) as pilot:
        await settle(app, pilot)
        await _open_settings(app, pilot)
        assert "^s Save" in screen_text(app).splitlines()[-1]
        await _type(pilot, "#top_k", "4")
        await pilot.press("ctrl+s")
        await wait_until(pilot, lambda: isinstance(app.screen, ChatScreen), timeout=30)
    assert Settings.load().top_k == 4


async def test_settings_are_saved_and_apply_to_the_next_question_and_the_theme(tiny_model_dir, tmp_path):
    doc = tmp_path / "notes.txt"
    doc.write_text(TEXT, encoding="utf-8")
    app = AssistantApp(document_path=doc, model=str(tiny_model_dir))
    async with app.run_test(size=SMALL) as pilot:
        await settle(app, pilot)
        engine = app.engine
        screen = await _open_settings(app, pilot)
        await _type(pilot, "#top_k", "1")
        screen.query_one("#theme", Select).value = "nord"
        await _click(pilot, "#save")
        await wait_until(pilot, lambda: isinstance(app.screen, ChatScreen), timeout=30)
        assert app.theme == "nord"  # at once, no restart
        assert app.engine is engine  # nothing that needs a reload changed
        await pilot.click("#question")
        await pilot.press(*"where did the cat sit?", "enter")
        await settle(app, pilot)
        assert len(app.chat.query("AnswerCard").last().result.answers) == 1  # top-k 1: one answer
    saved = Settings.load()
    assert (saved.top_k, saved.threshold, saved.theme, saved.int8, saved.device) == (1, 0.0, "nord", False, "auto")


async def test_turning_int8_on_or_changing_the_device_reloads_the_reader(tiny_model_dir, monkeypatch):
    import assistant.core.model_loading

    real = assistant.core.model_loading.load_reader
    calls: list[tuple[str, object, bool]] = []

    def recording(ref, device=None, quantize=False, **options):
        calls.append((ref, device, quantize))
        return real(ref, device="cpu", quantize=False, **options)

    monkeypatch.setattr(assistant.core.model_loading, "load_reader", recording)
    app = AssistantApp(model=str(tiny_model_dir))
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        screen = await _open_settings(app, pilot)
        screen.query_one("#int8", Switch).value = True
        screen.query_one("#device", Select).value = "cpu"
        await _click(pilot, "#save")
        await wait_until(pilot, lambda: len(calls) == 2, timeout=60)
        await settle(app, pilot)
        assert app.reader_state.status is ReaderStatus.READY and app.reader_state.name == tiny_model_dir.name
    assert calls == [(str(tiny_model_dir), "auto", False), (str(tiny_model_dir), "cpu", True)]
    assert (Settings.load().int8, Settings.load().device) == (True, "cpu")


async def test_the_default_model_can_be_browsed_to_and_is_loaded(tiny_model_dir, models):
    folder = _checkpoint(tiny_model_dir, models / "chosen-reader")
    app = AssistantApp()
    async with app.run_test(size=SIZE) as pilot:
        await _first_run(app, pilot)
        screen = await _open_settings(app, pilot)
        await _click(pilot, "#browse-model")
        await _choose_folder(pilot, folder)
        await wait_until(pilot, lambda: screen.query_one("#model", Input).value == str(folder), timeout=30)
        await _click(pilot, "#save")
        await wait_until(pilot, lambda: app.reader_state.name == "chosen-reader", timeout=120)
        await settle(app, pilot)
        assert isinstance(app.screen, ChatScreen)  # the first-run screen went once a reader had loaded
    assert Settings.load().model == str(folder)


def test_a_saved_device_is_checked_like_every_other_setting():
    Settings.path().write_text('device = "gpu"\ntop_k = 2\n', encoding="utf-8")
    assert (Settings.load().device, Settings.load().top_k) == ("auto", 2)
    Settings.path().write_text('device = "cuda:1"\n', encoding="utf-8")
    assert Settings.load().device == "cuda:1"


async def test_a_newcomer_trains_a_reader_from_the_first_run_screen_and_chats_with_it(tiny_model_dir, tmp_path):
    """Offline, no reader: first-run screen, Train a reader, a run completes, Yes to making it active; the app
    stays up and the chat opens with the new run loaded."""
    from tests.pilot import fake_trainer_command
    from tests.synthetic import make_examples, write_jsonl

    data = write_jsonl(tmp_path / "data.jsonl", make_examples(40, seed=0))
    app = AssistantApp(trainer_command=fake_trainer_command(tmp_path, tiny_model_dir, "complete"))
    async with app.run_test(size=SMALL) as pilot:
        screen = await _first_run(app, pilot)
        await pilot.click("#train")
        train = await wait_for_widget(pilot, TrainScreen, "#start")
        assert train is not None
        form = app.screen
        form.query_one("#base_model").value = str(tiny_model_dir)
        form.query_one("#data-choice").value = "file"
        await pilot.pause()
        form.query_one("#data-path").value = str(data)
        await pilot.press("ctrl+r")
        from assistant.tui.screens.dialogs import ConfirmScreen

        await wait_for_widget(pilot, ConfirmScreen, "#yes")
        await pilot.click("#yes")
        await wait_until(pilot, lambda: app.reader_state.status is ReaderStatus.READY)
        assert app.reader_state.name.startswith("tui-")
        await pilot.press("escape")  # back from the Train screen: the first-run screen's work is done
        await wait_until(pilot, lambda: isinstance(app.screen, ChatScreen) and not screen.is_attached)
        assert app.reader_state.name in str(app.chat.query_one("#status").content)
        assert app.return_code is None, "the app is still running"
    assert app.return_code in (None, 0)


async def test_the_first_run_screen_has_a_button_focused_and_drops_the_last_error_while_loading(
    tiny_model_dir, models, monkeypatch
):
    import threading

    import assistant.core.model_loading as loading

    folder = _checkpoint(tiny_model_dir, models / "slow-reader")
    real, release = loading.load_reader, threading.Event()

    def slow(ref, *args, **kwargs):
        if ref == str(folder):
            release.wait(60)
        return real(ref, *args, **kwargs)

    monkeypatch.setattr(loading, "load_reader", slow)
    app = AssistantApp()
    try:
        async with app.run_test(size=SMALL) as pilot:
            screen = await _first_run(app, pilot)
            error = screen.query_one("#first-run-error", Static)
            assert str(error.content)  # why there is no reader
            assert isinstance(app.focused, Button)
            await pilot.press("enter")  # the focused way forward: the folder dialog
            await wait_for_widget(pilot, SelectDirectory, DirectoryNavigation)
            app.screen.dismiss(folder)
            await wait_until(pilot, lambda: app.reader_state.busy and app.screen is screen, timeout=30)
            assert not str(error.content)  # the last try's error is not about this one
    finally:
        release.set()


async def test_in_the_folder_dialog_a_path_typed_over_the_list_goes_to_the_path_and_a_plain_folder_is_entered(
    tiny_model_dir, tmp_path
):
    plain = tmp_path / "somewhere"
    _checkpoint(tiny_model_dir, plain / "inner-reader")
    app = AssistantApp()
    async with app.run_test(size=SMALL) as pilot:
        await settle(app, pilot)
        await pilot.press("escape")
        nav = await _folder_dialog(app, pilot)
        nav.focus()
        await pilot.press("slash")  # a path begins: typed where paths go
        path = app.screen.query_one("#folder-path", Input)
        assert app.focused is path and path.value == "/"
        path.value = str(plain)
        await pilot.press("enter")  # no config.json: gone into, not taken
        await wait_until(pilot, lambda: nav.location == plain.resolve() and app.focused is nav, timeout=30)
        assert isinstance(app.screen, SelectDirectory)
        await pilot.press(*"inn")
        await wait_until(pilot, lambda: nav.highlighted_option.location.name == "inner-reader", timeout=10)
        await pilot.click("#select")
        await wait_until(pilot, lambda: app.reader_state.name == "inner-reader" and not app.reader_state.busy)
