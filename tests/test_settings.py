"""One settings resolution for the CLI and the app: flag, then environment, then settings.toml, then defaults."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from assistant.cli import main
from assistant.core.defaults import DEFAULT_READER
from assistant.settings import Settings, resolve_model

DEFAULTS = Settings()


def write_settings(text: str | bytes) -> Path:
    """Write settings.toml in the config dir the autouse fixture points ASSISTANT_CONFIG_DIR at."""
    path = Path(os.environ["ASSISTANT_CONFIG_DIR"]) / "settings.toml"
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text, encoding="utf-8")
    assert Settings.path() == path
    return path


def make_active_run(name: str = "run-1") -> Path:
    """A run folder with a config.json object, weights, and ACTIVE naming it, as `assistant models activate` leaves
    them."""
    models = Path(os.environ["ASSISTANT_MODELS_DIR"])
    run = models / name
    run.mkdir(parents=True)
    (run / "config.json").write_text("{}", encoding="utf-8")
    (run / "model.safetensors").write_bytes(b"")  # what activation looks for; never loaded here
    (models / "ACTIVE").write_text(name + "\n", encoding="utf-8")
    return run


# --- the model: --model, $ASSISTANT_MODEL, settings.toml, the active run, the hub default ------------------


def test_model_flag_wins_over_everything(monkeypatch):
    make_active_run()
    write_settings('model = "from-settings"\n')
    monkeypatch.setenv("ASSISTANT_MODEL", "from-env")
    choice = resolve_model("from-flag")
    assert (choice.ref, choice.source) == ("from-flag", "--model")


def test_environment_wins_over_settings_and_active_run(monkeypatch):
    make_active_run()
    write_settings('model = "from-settings"\n')
    monkeypatch.setenv("ASSISTANT_MODEL", "from-env")
    choice = resolve_model(None)
    assert (choice.ref, choice.source) == ("from-env", "ASSISTANT_MODEL")


def test_settings_toml_wins_over_active_run():
    make_active_run()
    write_settings('model = "from-settings"\n')
    choice = resolve_model()
    assert (choice.ref, choice.source) == ("from-settings", "settings")


def test_settings_passed_in_are_used_instead_of_the_file():
    write_settings('model = "from-file"\n')
    assert resolve_model(None, Settings(model="from-app")).ref == "from-app"


def test_active_run_wins_over_the_hub_default():
    run = make_active_run()
    choice = resolve_model()
    assert (choice.ref, choice.source) == (str(run), "active run")


def test_hub_default_when_nothing_is_set():
    choice = resolve_model()
    assert (choice.ref, choice.source) == (DEFAULT_READER, "default")


def test_blank_values_fall_through_to_the_next_rule(monkeypatch):
    monkeypatch.setenv("ASSISTANT_MODEL", "   ")
    write_settings('model = ""\n')
    assert resolve_model("").source == "default"


# --- top_k, threshold, int8: flag, settings.toml, built-in default ---------------------------------------


def reading(settings: Settings) -> tuple[int, float, bool]:
    return settings.top_k, settings.threshold, settings.int8


def test_reading_defaults_without_flags_or_file():
    assert reading(Settings.load()) == (3, 0.1, False)


def test_reading_takes_settings_toml_when_no_flag_is_given():
    write_settings("top_k = 5\nthreshold = 0.4\nint8 = true\n")
    assert reading(Settings.load()) == (5, 0.4, True)


def test_reading_flags_win_over_settings_toml():
    from assistant.cli import build_parser
    from assistant.settings import with_flags

    write_settings("top_k = 5\nthreshold = 0.4\nint8 = true\n")
    args = build_parser().parse_args(["ask", "f.txt", "q", "--top-k", "1", "--threshold", "0", "--no-int8"])
    assert reading(with_flags(Settings.load(), args)) == (1, 0.0, False)


def test_settings_round_trip():
    Settings(model="m", top_k=4, threshold=0.25, theme="nord", int8=True).save()
    assert Settings.load() == Settings(model="m", top_k=4, threshold=0.25, theme="nord", int8=True)


def test_a_whole_number_threshold_is_accepted():
    write_settings("threshold = 0\n")
    assert Settings.load().threshold == 0.0


# --- a broken settings.toml falls back to defaults -----------------------------------------------------------

BROKEN_FILES = {
    "bad toml": "top_k = = 3\n[[[",
    "not utf-8": b"top_k = 5\n\xff\xfe\x00",
    "empty": "",
    "a table where a value belongs": "[top_k]\nx = 1\n",
}

BAD_VALUES = {
    "model": ["3", "true", "[1, 2]"],
    "top_k": ['"3"', "true", "0", "-2", "2.5"],
    "threshold": ['"high"', "true", "-0.1", "1.5", "nan", "inf"],
    "int8": ['"yes"', "1"],
    "theme": ["7", '"[/]"', '"[bold red]boom"', '"\\u001b]0;pwn\\u0007x"', '"\\u202eabc"', '"../x"'],
}


@pytest.mark.parametrize("content", BROKEN_FILES.values(), ids=list(BROKEN_FILES))
def test_unreadable_settings_file_gives_defaults(content):
    write_settings(content)
    assert Settings.load() == DEFAULTS
    assert resolve_model().source == "default"


def test_settings_path_that_is_a_directory_gives_defaults():
    Settings.path().mkdir(parents=True)
    assert Settings.load() == DEFAULTS


@pytest.mark.parametrize(
    ("key", "value"), [(k, v) for k, values in BAD_VALUES.items() for v in values], ids=lambda x: str(x)
)
def test_a_wrong_value_gives_its_default_and_keeps_the_others(key, value):
    good = Settings(model="kept", top_k=4, threshold=0.3, theme="nord", int8=True)
    lines = [f"{k} = {json.dumps(v)}" for k, v in vars(good).items() if k != key]
    write_settings("\n".join([*lines, f"{key} = {value}"]) + "\n")
    loaded = Settings.load()
    assert getattr(loaded, key) == getattr(DEFAULTS, key)
    for other in vars(good):
        if other != key:
            assert getattr(loaded, other) == getattr(good, other)


# --- `assistant ask` uses the same resolution ----------------------------------------------------------------


@pytest.fixture
def spy(monkeypatch):
    """Record the model reference, int8 flag and engine settings `assistant ask` ends up with."""
    import assistant.core.engine as engine_module
    import assistant.core.model_loading as loading

    seen: dict[str, object] = {}
    real_load, real_engine = loading.load_reader, engine_module.QAEngine

    def load_reader(ref, device=None, quantize=False, window=None, **backend_options):
        seen["model"], seen["int8"] = ref, quantize
        return real_load(ref, device="cpu", quantize=False, window=window, **backend_options)

    class RecordingEngine(real_engine):
        def __init__(self, reader, settings=None, load_model_ms=0.0):
            super().__init__(reader, settings, load_model_ms)
            seen["top_k"] = self.settings.decode.top_k
            seen["threshold"] = self.settings.decode.min_confidence

    monkeypatch.setattr(loading, "load_reader", load_reader)
    monkeypatch.setattr(engine_module, "QAEngine", RecordingEngine)
    return seen


@pytest.fixture
def doc(tmp_path):
    path = tmp_path / "notes.txt"
    path.write_text("The cat sat on the mat.\n\nThe dog ran in the park.\n", encoding="utf-8")
    return path


def test_ask_reads_top_k_threshold_int8_and_model_from_settings_toml(spy, doc, tiny_model_dir, capsys):
    write_settings(f"model = {json.dumps(str(tiny_model_dir))}\ntop_k = 1\nthreshold = 0.0\nint8 = true\n")
    assert main(["ask", str(doc), "where did the cat sit?", "--json"]) == 0
    assert spy == {"model": str(tiny_model_dir), "int8": True, "top_k": 1, "threshold": 0.0}
    assert len(json.loads(capsys.readouterr().out)["answers"]) <= 1


def test_ask_flags_win_over_settings_toml(spy, doc, tiny_model_dir, capsys):
    write_settings('model = "no-such-model"\ntop_k = 1\nthreshold = 0.9\nint8 = true\n')
    argv = ["ask", str(doc), "where?", "--json", "--model", str(tiny_model_dir)]
    assert main([*argv, "--top-k", "2", "--threshold", "0.05", "--no-int8"]) == 0
    assert spy == {"model": str(tiny_model_dir), "int8": False, "top_k": 2, "threshold": 0.05}


def test_ask_with_a_broken_settings_toml_uses_the_defaults(spy, doc, tiny_model_dir, capsys):
    write_settings("top_k = [oops\nthreshold = 'x'")
    assert main(["ask", str(doc), "where?", "--json", "--model", str(tiny_model_dir)]) == 0
    assert spy == {"model": str(tiny_model_dir), "int8": False, "top_k": 3, "threshold": 0.1}
    assert json.loads(capsys.readouterr().out)["question"] == "where?"


# --- one definition per setting: a setting added once is read, checked, edited, flagged and used ---------------------


def _with_passage_words() -> type[Settings]:
    from dataclasses import dataclass

    from assistant.settings import Spec, setting, whole

    @dataclass
    class WithPassageWords(Settings):
        passage_words: int = setting(
            40,
            Spec(
                "Largest passage, in words (10 to 200)",
                "The passage size must be a whole number of words from 10 to 200.",
                whole(10, 200),
                "integer",
                flag="largest passage in words",
                engine="passage_words",
            ),
        )

    return WithPassageWords


def test_a_setting_defined_once_is_read_and_checked_in_settings_toml():
    schema = _with_passage_words()
    write_settings("passage_words = 25\n")
    assert schema.load().passage_words == 25
    write_settings("passage_words = 5\ntop_k = 2\n")
    assert (schema.load().passage_words, schema.load().top_k) == (40, 2)
    assert schema(passage_words=500).problem() == "The passage size must be a whole number of words from 10 to 200."


def test_a_setting_defined_once_is_a_flag_and_reaches_the_engine(capsys):
    import argparse

    from assistant.settings import add_setting_flags, engine_settings, with_flags

    schema = _with_passage_words()
    parser = argparse.ArgumentParser()
    add_setting_flags(parser, schema)
    assert "largest passage in words (default: settings.toml's passage_words, else 40)" in " ".join(
        parser.format_help().split()
    )
    chosen = with_flags(schema(), parser.parse_args(["--passage-words", "60", "--top-k", "2"]))
    engine = engine_settings(chosen)
    assert (engine.passage_words, engine.decode.top_k, engine.decode.min_confidence) == (60, 2, DEFAULTS.threshold)
    with pytest.raises(SystemExit):
        parser.parse_args(["--passage-words", "5"])
    assert "the passage size must be a whole number of words from 10 to 200 (got '5')" in capsys.readouterr().err


async def test_a_setting_defined_once_has_its_editor_in_the_settings_form():
    from textual import on
    from textual.app import App
    from textual.widgets import Input

    from assistant.tui.messages import SettingsSaved
    from assistant.tui.screens.settings import SettingsScreen

    schema = _with_passage_words()
    saved: list[Settings] = []

    class Host(App[None]):
        def on_mount(self) -> None:
            self.push_screen(SettingsScreen(schema()))

        @on(SettingsSaved)
        def _saved(self, message: SettingsSaved) -> None:
            saved.append(message.settings)

    app = Host()
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        field = app.screen.query_one("#passage_words", Input)
        assert field.value == "40"
        field.value = "5"
        await pilot.press("ctrl+s")
        await pilot.pause()
        assert not saved and isinstance(app.screen, SettingsScreen)  # refused, the form stays
        field.value = "64"
        await pilot.press("ctrl+s")
        await pilot.pause()
    assert [s.passage_words for s in saved] == [64]


def test_a_value_that_gives_way_to_its_default_is_said_on_stderr(spy, doc, tiny_model_dir, capsys):
    write_settings(f"model = {json.dumps(str(tiny_model_dir))}\nthreshold = nan\ntop_k = 500\n")
    assert main(["ask", str(doc), "where did the cat sit?", "--json"]) == 0
    err = capsys.readouterr().err
    assert "threshold is not used: The minimum confidence must be a number from 0 to 1; it is 0.1." in err
    assert "top_k is not used" in err and "unexpected" not in err
    write_settings("top_k = = 3\n")
    assert Settings.load_checked()[1] and "every setting is its default" in Settings.load_checked()[1][0]
