"""A SQuAD 2.0 run answers by the no-answer threshold its evaluation chose (the official script's best-F1 one), saved
with the run in metrics.json; a run without one, or with one that is not a probability, answers as before."""

from __future__ import annotations

import json
import math
import shutil

import pytest

from assistant.core.engine import EngineSettings
from assistant.runs.reader_defaults import THRESHOLD_KEY, reader_defaults
from tests.bad_inputs import assistant

QUESTION = "who works for hooli?"
TEXT = "mallory works for hooli. oscar was born in 1961.\n"


def _run_with(tmp_path, tiny_model_dir, **eval_scores):
    run = tmp_path / "run"
    shutil.copytree(tiny_model_dir, run)
    (run / "metrics.json").write_text(json.dumps({"eval": {"exact_match": 50.0, "f1": 60.0, **eval_scores}}))
    return run


def test_the_saved_threshold_is_the_null_margin_it_stands_for(tmp_path, tiny_model_dir):
    run = _run_with(tmp_path, tiny_model_dir, **{THRESHOLD_KEY: 0.9})
    assert reader_defaults(str(run)).decode.null_threshold == pytest.approx(math.log(0.9 / 0.1))


@pytest.mark.parametrize("value", [None, "0.5", 1.5, -0.1, float("nan"), True])
def test_a_missing_or_unsound_threshold_leaves_the_default(tmp_path, tiny_model_dir, value):
    scores = {} if value is None else {THRESHOLD_KEY: value}
    run = _run_with(tmp_path, tiny_model_dir, **scores)
    assert reader_defaults(str(run)) == EngineSettings()
    assert reader_defaults("distilbert/distilbert-base-cased-distilled-squad") == EngineSettings()


def _answers(capsys, doc, run) -> list:
    outcome = assistant(capsys, "ask", str(doc), QUESTION, "--model", str(run), "--json", "--threshold", "0")
    assert outcome.code == 0, outcome.err
    return json.loads(outcome.out)["answers"]


def test_ask_says_no_answer_or_answers_as_the_runs_threshold_says(tmp_path, tiny_model_dir, capsys):
    never_null = _run_with(tmp_path / "a", tiny_model_dir, **{THRESHOLD_KEY: 1.0})
    always_null = _run_with(tmp_path / "b", tiny_model_dir, **{THRESHOLD_KEY: 0.0})
    doc = tmp_path / "doc.txt"
    doc.write_text(TEXT, encoding="utf-8")
    assert _answers(capsys, doc, never_null)
    assert _answers(capsys, doc, always_null) == []


async def test_the_chat_app_answers_by_the_runs_threshold(tmp_path, tiny_model_dir, doc):
    from assistant.tui.app import AssistantApp
    from tests.pilot import allow_every_answer, ask, settle

    allow_every_answer()
    run = _run_with(tmp_path, tiny_model_dir, **{THRESHOLD_KEY: 0.0})
    app = AssistantApp(document_path=doc, model=str(run))
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(app, pilot)
        card = await ask(app, pilot, QUESTION)
        assert card.result.answers == []
        assert "Not found in this document" in card.plain_text


def test_a_run_named_through_the_home_folder_brings_its_threshold(tmp_path, tiny_model_dir, monkeypatch):
    run = _run_with(tmp_path, tiny_model_dir, **{THRESHOLD_KEY: 0.9})
    monkeypatch.setenv("HOME", str(run.parent))
    assert reader_defaults(f"~/{run.name}").decode.null_threshold == pytest.approx(math.log(0.9 / 0.1))
