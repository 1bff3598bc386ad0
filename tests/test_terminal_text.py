"""One way to the terminal: every string that came from outside (document text, file and run names, questions,
errors quoting them) reaches the terminal as text, never as markup, with its control and bidi-control characters
shown as visible stand-ins, in the CLI, the chat app and exported Markdown."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from assistant.core.sanitize import BIDI_CONTROLS, NONCHARACTERS, json_for_terminal, one_line, visible
from tests.bad_inputs import assistant
from tests.pilot import allow_every_answer, ask, settle, wait_for_widget, wait_until, write_run

SEQUENCES = {
    "clear screen": "\x1b[2J\x1b[H",
    "terminal reset": "\x1bc",
    "window title": "\x1b]0;owned\x07",
    "clipboard write (OSC 52)": "\x1b]52;c;ZXZpbA==\x07",
    "hyperlink (OSC 8)": "\x1b]8;;https://evil.example\x1b\\click\x1b]8;;\x1b\\",
    "8-bit CSI": "\x9b31m",
    "8-bit OSC": "\x9d0;owned\x9c",
    "bell and backspace": "\x07\x08\x08",
    "bidi override": "\u202etxt.exe\u202c",
    "bidi isolate": "\u2067reversed\u2069",
    "delete": "\x7f",
    "noncharacters": "\ufffe\uffff\ufdd0\U0010fffe",
}
HOSTILE = "".join(SEQUENCES.values())
HOSTILE_NAME = HOSTILE.replace("/", "")
"""The same, as a file or run name can hold it."""
MARKUP = "[link=https:evil.example]report[/link] [conceal]hidden[/] [/]"
"""Rich markup that would make a link and hide text, if parsed (no slash in the URL: it is also a file name)."""
_UNSAFE = re.compile(f"[\x00-\x08\x0b-\x1f\x7f-\x9f{BIDI_CONTROLS}\ud800-\udfff{''.join(map(chr, NONCHARACTERS))}]")


def unsafe(text: str) -> list[str]:
    """The characters in ``text`` a terminal would obey."""
    return _UNSAFE.findall(text)


# --- the sanitizer ---------------------------------------------------------------------------------------------


@settings(max_examples=300)
@given(text=st.text())
def test_visible_text_keeps_length_and_offsets_and_holds_nothing_a_terminal_obeys(text):
    shown = visible(text)
    assert len(shown) == len(text)
    assert not unsafe(shown)
    for i, (a, b) in enumerate(zip(text, shown, strict=True)):
        assert a == b or unsafe(a) or "\ud800" <= a <= "\udfff", i
    assert visible(shown) == shown


@settings(max_examples=200)
@given(text=st.text())
def test_one_line_text_has_no_line_break(text):
    line = one_line(text)
    assert len(line) == len(text) and "\n" not in line and "\r" not in line and not unsafe(line)


@settings(max_examples=200)
@given(
    value=st.recursive(
        st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | st.text(),
        lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3),
        max_leaves=10,
    )
)
def test_json_for_the_terminal_is_the_same_value_with_nothing_a_terminal_obeys(value):
    text = json_for_terminal(value)
    assert not unsafe(text)
    assert json.loads(text) == value or value != value  # a lone surrogate round-trips as itself


# --- the command line ----------------------------------------------------------------------------------------------


@pytest.fixture
def hostile_doc(tmp_path: Path) -> Path:
    path = tmp_path / f"notes{HOSTILE_NAME}{MARKUP.replace('/', '')}.txt"
    plain = "The visitors watched the cat for a long while as it slept in the sun by the door. " * 8
    path.write_text(f"{plain}The cat sat on the mat {HOSTILE} near the door. {MARKUP}\n{plain}\n", encoding="utf-8")
    return path


@pytest.mark.parametrize("flags", [[], ["--json"]], ids=["panel", "json"])
def test_ask_shows_a_hostile_document_name_text_and_question_as_text(flags, hostile_doc, tiny_model_dir, capsys):
    question = f"where did the cat sit {HOSTILE}?"
    outcome = assistant(
        capsys, "ask", str(hostile_doc), question, "--model", str(tiny_model_dir), "--threshold", "0", *flags
    )
    assert outcome.code == 0, outcome.err
    assert not unsafe(outcome.out + outcome.err)
    if flags:
        record = json.loads(outcome.out)
        assert record["question"] == question.strip() and record["answers"], "the JSON keeps the exact text"
    else:
        assert "␛[2J" in outcome.out, "the escape is shown as its stand-in"


@pytest.mark.parametrize(
    "argv",
    [
        ["ask", "{doc}", "q", "--model", "{missing}"],
        ["ask", "{missing}", "q"],
        ["eval", "--model", "{model}", "--data", "{missing}"],
        ["train", "--data", "{missing}", "--output", "{missing}"],
        ["models", "activate", "{name}"],
    ],
    ids=["model", "document", "eval data", "train data", "run name"],
)
def test_error_lines_quote_paths_and_names_as_text(argv, tmp_path, tiny_model_dir, capsys):
    doc = tmp_path / "d.txt"
    doc.write_text("The cat sat.", encoding="utf-8")
    names = {"doc": str(doc), "missing": str(tmp_path / f"x{HOSTILE_NAME}.json"), "model": str(tiny_model_dir)}
    names["name"] = f"run{HOSTILE_NAME}"
    outcome = assistant(capsys, *(a.format(**names) for a in argv))
    assert outcome.code != 0 and outcome.err.startswith("error: ")
    assert not unsafe(outcome.out + outcome.err), outcome.err


@pytest.mark.cold_onnx_cache  # the export's notice names the paths too
def test_notices_and_warnings_quote_paths_as_text(tmp_path, tiny_model_dir, capsys):
    import shutil

    from tests.bad_inputs import run_entry
    from trainer import metrics

    model = shutil.copytree(tiny_model_dir, tmp_path / f"model{HOSTILE_NAME}")
    data = tmp_path / "data.jsonl"
    row = {"id": "1", "question": "where?", "context": "The cat sat on the mat.", "answers": {"text": ["the mat"]}}
    row["answers"]["answer_start"] = [15]
    data.write_text(json.dumps(row) + "\n", encoding="utf-8")
    evaluated = assistant(capsys, "eval", "--model", str(model), "--data", str(data))  # says it exports the model
    assert evaluated.code == 0 and "Exporting" in evaluated.err and not unsafe(evaluated.err + evaluated.out)
    squad = tmp_path / "squad.json"
    qas = [{"id": str(i), "question": "q?", "answers": [{"text": "cat", "answer_start": 4}]} for i in (1, 2)]
    squad.write_text(json.dumps({"data": [{"paragraphs": [{"context": "The cat.", "qas": qas}]}]}), encoding="utf-8")
    predictions = tmp_path / f"p{HOSTILE_NAME}.json"
    predictions.write_text(json.dumps({"1": "cat"}), encoding="utf-8")
    scored = run_entry(capsys, metrics.main, [str(squad), str(predictions)])
    assert scored.code == 0 and "warning: 1 of 2" in scored.err and not unsafe(scored.err)


def test_the_run_listing_shows_hostile_run_files_as_text(tiny_model_dir, capsys):
    models = Path(os.environ["ASSISTANT_MODELS_DIR"])
    write_run(models, f"run{HOSTILE_NAME}", tiny_model_dir, status="completed", started_at="[/]", base_model=MARKUP)
    write_run(models, "[conceal]hidden", None, status="running", pid=1, hostname="x", heartbeat=1)
    table = assistant(capsys, "models")
    listed = assistant(capsys, "models", "--json")
    assert table.code == 0 and listed.code == 0, table.err
    assert not unsafe(table.out + table.err + listed.out)
    assert "[conceal]hidden: resume with" in table.out  # the markup shown as typed, nothing concealed
    assert {r["name"] for r in json.loads(listed.out)} == {f"run{HOSTILE_NAME}", "[conceal]hidden"}


def test_exported_markdown_holds_nothing_a_terminal_obeys(tmp_path):
    from assistant.core.engine import Answer, AskResult
    from assistant.store import ConversationStore, conversation_markdown

    store = ConversationStore(tmp_path / "c.sqlite3")
    path = tmp_path / f"doc{HOSTILE_NAME}.txt"
    answer = Answer(f"mat{HOSTILE}", 0, 3, 0.5, 0.5, 1, f"context {HOSTILE}", 0)
    store.add_turn(path, f"where {HOSTILE}?", AskResult(f"where {HOSTILE}?", [answer], [], {}), f"model{HOSTILE}")
    markdown = conversation_markdown(path, store.turns(path))
    assert not unsafe(markdown) and "mat" in markdown


# --- the chat app: every character on screen ----------------------------------------------------------------------


def screen_problems(app) -> list[str]:
    """What the whole screen (notifications too) would send a terminal that it must not: characters the terminal
    obeys, and links (the app makes none, so any one came from a string parsed as markup)."""
    problems = []
    for strip in app.screen._compositor.render_strips():
        for segment in strip:
            bad = unsafe(segment.text)
            if bad:
                problems.append(f"{bad!r} in {segment.text!r}")
            if segment.style is not None and segment.style.link:
                problems.append(f"a link to {segment.style.link} on {segment.text!r}")
    return problems


SIZE = (120, 40)


async def test_the_chat_app_shows_a_hostile_document_question_and_runs_as_text(hostile_doc, tiny_model_dir, tmp_path):
    from assistant.tui.app import AssistantApp
    from assistant.tui.screens.dialogs import ModelPicker
    from assistant.tui.screens.metrics import MetricsScreen
    from assistant.tui.widgets.recent_documents import RecentDocuments

    models = Path(os.environ["ASSISTANT_MODELS_DIR"])
    write_run(models, f"run{HOSTILE_NAME}", tiny_model_dir, status="completed", base_model=MARKUP, error=HOSTILE)
    write_run(models, f"[link=https:evil.example]x{SEQUENCES['bidi override']}", None, status="failed")
    allow_every_answer()
    app = AssistantApp(document_path=hostile_doc, model=str(tiny_model_dir))
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        assert not screen_problems(app)
        app.chat.query_one("#question").value = f"where {HOSTILE} did the cat sit?"
        await pilot.press("enter")
        await settle(app, pilot)
        assert not screen_problems(app)
        app.notify(f"a path {HOSTILE} {MARKUP}", title=f"title {HOSTILE}")
        await pilot.pause()
        assert not screen_problems(app)
        for key, screen, selector in (("f2", MetricsScreen, "#runs"), ("f3", ModelPicker, "OptionList")):
            await pilot.press(key)
            await wait_for_widget(pilot, screen, selector)
            assert not screen_problems(app), key
            await pilot.press("escape")
        await pilot.press("ctrl+o")
        await wait_for_widget(pilot, RecentDocuments, "#recent")
        assert not screen_problems(app)
        await pilot.press("escape")
        missing = tmp_path / f"gone{HOSTILE_NAME}.txt"
        app.chat.open_document(missing)
        await wait_until(pilot, lambda: any("gone" in n.message for n in app._notifications))
        await pilot.pause()
        assert not screen_problems(app)


async def test_the_file_dialogs_show_hostile_file_names_as_text(tmp_path, monkeypatch):
    from assistant.tui.app import AssistantApp
    from assistant.tui.file_dialogs import FileOpen, SelectDirectory
    from assistant.tui.screens.dialogs import checkpoint_dialog

    folder = tmp_path / f"folder{HOSTILE_NAME}"
    folder.mkdir()
    for name in (f"a{HOSTILE_NAME}.txt", f"{MARKUP.replace('/', '')}.txt", "plain.txt"):
        (folder / name).write_text("The cat sat on the mat.", encoding="utf-8")
    (folder / f"sub{HOSTILE_NAME}").mkdir()
    monkeypatch.chdir(folder)
    app = AssistantApp(model=str(tmp_path / "no-model"))
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        for dialog in (FileOpen(folder), SelectDirectory(folder), checkpoint_dialog(str(folder))):
            app.push_screen(dialog)
            await wait_for_widget(pilot, type(dialog), "DirectoryNavigation")
            await pilot.press("down", "down")
            await pilot.pause()
            assert not screen_problems(app), type(dialog).__name__
            await pilot.press("escape")


async def test_the_document_view_keeps_answer_offsets_with_stand_ins(tiny_model_dir, tmp_path):
    """The view shows ␛ where the file has ESC: one character for one, so a highlighted answer is the answer."""
    from assistant.tui.app import AssistantApp
    from tests.pilot import document_view

    doc = tmp_path / "doc.txt"
    doc.write_text(f"{HOSTILE} the cat sat on the mat. " + "the dog ran in the park. " * 20, encoding="utf-8")
    allow_every_answer()
    app = AssistantApp(document_path=doc, model=str(tiny_model_dir))
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        card = await ask(app, pilot, "where did the cat sit")
        view = document_view(app)
        answer = card.result.answers[0]
        start, end = view.selected_span()
        assert (start, end) == (answer.start, answer.end)
        assert view.text == visible(doc.read_text(encoding="utf-8")) and not unsafe(view.text)


async def test_the_train_form_offers_a_hostile_active_run_as_text(tiny_model_dir):
    from assistant.runs.registry import activate
    from assistant.tui.app import AssistantApp
    from assistant.tui.screens.train import TrainScreen
    from tests.pilot import screen_text

    models = Path(os.environ["ASSISTANT_MODELS_DIR"])
    name = "run\x1b]0;OWNED\x07[reverse]x"
    write_run(models, name, tiny_model_dir, status="completed")
    activate(name)
    app = AssistantApp(model=str(tiny_model_dir))
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        await pilot.press("ctrl+t")
        await wait_for_widget(pilot, TrainScreen, "#base-choice")
        app.screen.query_one("#base-choice").expanded = True
        await pilot.pause()
        assert not screen_problems(app) and "Active reader: run␛]0;OWNED" in screen_text(app)


async def test_inputs_show_a_pasted_control_character_as_its_stand_in(tiny_model_dir):
    from assistant.tui.app import AssistantApp
    from tests.pilot import screen_text

    app = AssistantApp(model=str(tiny_model_dir))
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        question = app.chat.query_one("#question")
        question.focus()
        question.insert_text_at_cursor("bell\x07 escape\x1b[2J end")
        await pilot.pause()
        assert question.value == "bell\x07 escape\x1b[2J end", "the value is what was pasted"
        assert "bell␇ escape␛[2J end" in screen_text(app) and not screen_problems(app)


async def test_an_exported_conversation_gets_a_file_name_any_shell_lists(hostile_doc, tiny_model_dir):
    from assistant.paths import user_data_dir
    from assistant.tui.app import AssistantApp

    allow_every_answer()
    app = AssistantApp(document_path=hostile_doc, model=str(tiny_model_dir))
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        await ask(app, pilot, "where did the cat sit")
        app.action_export_conversation()
        await wait_until(pilot, lambda: any(n.title == "Conversation exported" for n in app._notifications))
    (exported,) = (user_data_dir() / "exports").iterdir()
    assert not unsafe(exported.name) and exported.name.startswith("notes-") and exported.suffix == ".md"
    assert not unsafe(exported.read_text(encoding="utf-8"))
