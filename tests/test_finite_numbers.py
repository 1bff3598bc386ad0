"""Numbers are finite: non-finite logits or scores mean "no answer" with a warning, evaluation of a broken model is
an error rather than EM 0, and every JSON writer refuses NaN and infinities instead of writing bare ``NaN``."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from assistant.core import files
from assistant.core.decoding import DecodeSettings, WindowLogits, decode
from assistant.core.documents import Document
from assistant.core.engine import NOT_FINITE, QAEngine
from assistant.core.reader import Reader
from tests.bad_inputs import assert_one_line_failure, assistant

BAD = [math.nan, math.inf, -math.inf]


def _not_json(constant: str) -> None:
    raise AssertionError(f"bare {constant} in the output: not JSON")


@settings(max_examples=100)
@given(
    n=st.integers(4, 40),
    where=st.integers(0, 39),
    bad=st.sampled_from(BAD),
    side=st.sampled_from(["start", "end", "cls"]),
    allow_null=st.booleans(),
)
def test_a_window_with_a_non_finite_logit_gives_no_answer_never_a_nan_scored_one(n, where, bad, side, allow_null):
    rng = np.random.default_rng(n)
    start, end = rng.normal(size=n).astype(np.float32), rng.normal(size=n).astype(np.float32)
    index = 0 if side == "cls" else min(where, n - 1)
    (end if side == "end" else start)[index] = bad
    offsets = [None] + [(i, i + 1) for i in range(n - 1)]
    decoded = decode([WindowLogits(start, end, offsets)], "x" * n, DecodeSettings(allow_null=allow_null))
    assert decoded.not_finite and decoded.answers == [] and not decoded.null_won


class _BrokenBackend:
    """A backend whose model produces NaN everywhere (weights that diverged)."""

    kind = "broken"
    max_positions = 512
    uses_token_types = False

    def logits(self, input_ids, attention_mask, token_type_ids):
        shape = input_ids.shape
        return np.full(shape, np.nan, dtype=np.float32), np.full(shape, np.nan, dtype=np.float32)


@pytest.fixture
def broken_reader(tiny_model_dir) -> Reader:
    from assistant.core.tokenizer import JsonTokenizer

    return Reader(_BrokenBackend(), JsonTokenizer.from_directory(tiny_model_dir))


def test_a_broken_model_answers_nothing_and_says_why(broken_reader):
    engine = QAEngine(broken_reader)
    result = engine.ask(engine.index(Document.from_text("The cat sat on the mat.")), "where did the cat sit?")
    assert result.answers == [] and result.no_answer_reason == NOT_FINITE
    json.dumps(result.to_json(), allow_nan=False)  # no NaN anywhere in what --json prints


def test_ask_with_a_broken_model_warns_and_prints_valid_json(broken_reader, tmp_path, capsys, monkeypatch):
    import assistant.core.model_loading as loading

    monkeypatch.setattr(loading, "load_reader", lambda *args, **kwargs: broken_reader)
    doc = tmp_path / "d.txt"
    doc.write_text("The cat sat on the mat.", encoding="utf-8")
    outcome = assistant(capsys, "ask", str(doc), "where did the cat sit?", "--json", "--model", "any")
    assert outcome.code == 0
    assert json.loads(outcome.out, parse_constant=_not_json)["answers"] == []
    assert outcome.err.startswith("warning: the reader's scores were not finite")


def test_evaluating_a_broken_model_is_an_error_not_em_zero(broken_reader, tmp_path, capsys, monkeypatch):
    import assistant.squad.evaluation as evaluation

    monkeypatch.setattr(evaluation, "load_eval_reader", lambda *args, **kwargs: broken_reader)
    data = tmp_path / "data.jsonl"
    row = {"id": "1", "question": "where?", "context": "The cat sat on the mat.", "answers": {"text": ["the mat"]}}
    row["answers"]["answer_start"] = [15]
    data.write_text(json.dumps(row) + "\n", encoding="utf-8")
    out = tmp_path / "eval.json"
    outcome = assistant(capsys, "eval", "--model", "any", "--data", str(data), "--output", str(out))
    assert_one_line_failure(outcome, "not finite", "1 of 1")
    assert not out.exists()


_JSON_WITH_NAN = st.recursive(
    st.sampled_from(BAD),
    lambda inner: (
        st.lists(inner, min_size=1, max_size=3) | st.dictionaries(st.text(max_size=4), inner, min_size=1, max_size=3)
    ),
    max_leaves=6,
)


@settings(max_examples=80)
@given(value=_JSON_WITH_NAN)
def test_every_json_writer_refuses_nan_and_infinity(value):
    with pytest.raises(ValueError):
        files.json_text(value)
    from assistant.core.sanitize import json_for_terminal

    with pytest.raises(ValueError):
        json_for_terminal(value)


def test_a_json_file_with_nan_is_refused_and_nothing_is_written(tmp_path):
    target = tmp_path / "metrics.json"
    target.write_text('{"f1": 1.0}', encoding="utf-8")
    with pytest.raises(ValueError):
        files.write_json(target, {"f1": math.nan})
    assert json.loads(target.read_text()) == {"f1": 1.0} and [p.name for p in tmp_path.iterdir()] == ["metrics.json"]


def test_a_nan_loss_never_reaches_events_jsonl_as_nan(tmp_path):
    from assistant.runs.directory import RunDirectory
    from assistant.runs.events import Phase

    run = RunDirectory(tmp_path)
    run.event(Phase.TRAIN, step=3, loss=math.nan, learning_rate=math.inf, epoch=0.5)
    (line,) = Path(tmp_path / "events.jsonl").read_text().splitlines()
    record = json.loads(line)
    assert record["step"] == 3 and "loss" not in record and "learning_rate" not in record and record["epoch"] == 0.5


@pytest.mark.parametrize("text", ['{"a": NaN}', '{"a": Infinity}', "[-Infinity]"])
def test_a_file_holding_nan_is_not_json(text, tmp_path):
    path = tmp_path / "x.json"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(files.FileProblem, match="not valid JSON"):
        files.read_json(path, files.RECORD)
    assert files.read_json_object_or_none(path) is None
