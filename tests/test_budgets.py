"""Budgets in the unit that costs: the reading budget is counted in model tokens after tokenization, so no word,
line, blob or question can multiply the windows a question costs; questions, thread counts and environment
numbers are refused or lowered with their limits named."""

from __future__ import annotations

import base64
import math
import os
import random

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from assistant.core.documents import Document
from assistant.core.engine import EngineSettings, QAEngine
from assistant.core.limits import MAX_QUESTION_CHARS
from tests.bad_inputs import assert_one_line_failure, assistant

QUESTION = "where did the cat sit?"


@pytest.fixture(scope="module")
def reader(tiny_model_dir):
    from assistant.core.model_loading import load_reader

    return load_reader(str(tiny_model_dir), device="cpu", backend="torch")


def _blob(rng: random.Random, n: int) -> str:
    return base64.b64encode(rng.randbytes(n)).decode()


PIECES = {
    "sentence": lambda rng: "The cat sat on the mat near the door. ",
    "huge word": lambda rng: "cat" * rng.randint(1000, 30000),
    "base64 blob": lambda rng: _blob(rng, rng.randint(1000, 60000)),
    "punctuation run": lambda rng: "!?.,;:" * rng.randint(100, 5000),
    "cjk run": lambda rng: "猫坐在垫子上" * rng.randint(100, 3000),
    "spaces": lambda rng: " " * rng.randint(1, 20000),
    "newlines": lambda rng: "\n" * rng.randint(1, 50),
    "one-letter words": lambda rng: "x " * rng.randint(10, 3000),
}


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    pieces=st.lists(st.sampled_from(sorted(PIECES)), min_size=1, max_size=8),
    seed=st.integers(0, 10**6),
    read_windows=st.sampled_from([1.0, 1.4, 2.0, 3.0]),
    question=st.text(min_size=1, max_size=3 * MAX_QUESTION_CHARS).filter(str.strip),
)
def test_no_text_shape_or_question_buys_more_windows_than_the_budget(pieces, seed, read_windows, question, reader):
    rng = random.Random(seed)
    text = "".join(PIECES[name](rng) for name in pieces)
    if not text.strip():
        return
    engine = QAEngine(reader, EngineSettings(read_windows=read_windows))
    indexed = engine.index(Document.from_text(text))
    result = engine.ask(indexed, question)
    assert result.windows_run <= math.ceil(read_windows) + 1, (pieces, result.windows_run)
    for answer in result.answers:
        assert text[answer.start : answer.end] == answer.text and len(answer.text) <= 500


def test_a_one_megabyte_blob_costs_what_a_sentence_costs(tmp_path, tiny_model_dir, capsys):
    import json

    doc = tmp_path / "blob.md"
    doc.write_text("# Notes\n\nThe cat sat on the mat.\n\n" + _blob(random.Random(0), 750_000) + "\n", encoding="utf-8")
    outcome = assistant(capsys, "ask", str(doc), QUESTION, "--model", str(tiny_model_dir), "--json")
    assert outcome.code == 0, outcome.err
    assert json.loads(outcome.out)["windows_run"] <= 2


def test_a_question_past_the_limit_is_refused_naming_it(tmp_path, tiny_model_dir, capsys, monkeypatch):
    import io

    doc = tmp_path / "d.txt"
    doc.write_text("The cat sat on the mat.", encoding="utf-8")
    long = "where " * (MAX_QUESTION_CHARS // 5)
    outcome = assistant(capsys, "ask", str(doc), long, "--model", str(tiny_model_dir))
    assert_one_line_failure(outcome, f"{MAX_QUESTION_CHARS:,}")
    monkeypatch.setattr("sys.stdin", io.StringIO("where " * 2_000_000 + "\n"))
    assert_one_line_failure(assistant(capsys, "ask", str(doc), "-", "--model", str(tiny_model_dir)), "limit")


@pytest.mark.parametrize("value", ["5000", "0", "-3", "lots"])
def test_thread_counts_past_the_cpus_are_lowered_with_a_note(value, tmp_path, tiny_model_dir, capsys, monkeypatch):
    from assistant.core.limits import cpu_count

    monkeypatch.setenv("OMP_NUM_THREADS", value)
    doc = tmp_path / "d.txt"
    doc.write_text("The cat sat on the mat.", encoding="utf-8")
    outcome = assistant(capsys, "ask", str(doc), QUESTION, "--model", str(tiny_model_dir), "--json")
    assert outcome.code == 0, outcome.err
    assert f"OMP_NUM_THREADS={value} is not a thread count from 1 to" in outcome.err
    assert os.environ["OMP_NUM_THREADS"] == str(cpu_count())


@pytest.mark.parametrize("value", ["", "  "])
def test_a_thread_count_set_to_nothing_is_taken_as_unset(value, tmp_path, tiny_model_dir, capsys, monkeypatch):
    monkeypatch.setenv("OMP_NUM_THREADS", value)
    doc = tmp_path / "d.txt"
    doc.write_text("The cat sat on the mat.", encoding="utf-8")
    outcome = assistant(capsys, "ask", str(doc), QUESTION, "--model", str(tiny_model_dir), "--json")
    assert outcome.code == 0 and outcome.err == "", outcome.err
    assert "OMP_NUM_THREADS" not in os.environ


@pytest.mark.parametrize("value", ["0", "-1", "9" * 30, "1e9", "2000000000"])
def test_the_document_size_limit_is_a_number_in_its_range(value, tmp_path, tiny_model_dir, capsys, monkeypatch):
    monkeypatch.setenv("ASSISTANT_MAX_DOCUMENT_BYTES", value)
    doc = tmp_path / "d.txt"
    doc.write_text("The cat sat on the mat.", encoding="utf-8")
    outcome = assistant(capsys, "ask", str(doc), QUESTION, "--model", str(tiny_model_dir))
    assert_one_line_failure(outcome, "ASSISTANT_MAX_DOCUMENT_BYTES", "1 GiB")


@pytest.mark.parametrize("text", ["x " * 250, "the a of and " * 300, "... --- *** " * 400], ids=["x", "stop", "punct"])
def test_a_document_with_nothing_to_rank_by_is_read_in_order(text, tmp_path, tiny_model_dir, capsys):
    import json

    doc = tmp_path / "d.txt"
    doc.write_text(text, encoding="utf-8")
    outcome = assistant(capsys, "ask", str(doc), QUESTION, "--model", str(tiny_model_dir), "--json")
    assert outcome.code == 0 and outcome.err == "", outcome.err
    assert json.loads(outcome.out)["windows_run"] <= 2
