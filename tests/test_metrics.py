"""The SQuAD metric against hand-computed cases and as the official script's command line."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from assistant.squad.metric import compute


def test_articles_punctuation_and_case_are_ignored():
    assert compute({"a": "The Eiffel Tower!"}, {"a": ["eiffel tower"]})["exact_match"] == 100.0


def test_best_of_several_gold_answers():
    result = compute({"a": "in 1066"}, {"a": ["1066", "in 1066 AD"]})
    assert result["exact_match"] == 0.0
    # F1 against "in 1066 AD": precision 2/2, recall 2/3 -> 0.8
    assert result["f1"] == pytest.approx(80.0)


def test_partial_overlap_f1():
    # pred tokens {red, car}, gold {big, red, car, door}: p=1, r=0.5 -> f1 = 2/3
    assert compute({"a": "red car"}, {"a": ["big red car door"]})["f1"] == pytest.approx(66.6667, abs=1e-3)


def test_v2_no_answer_scoring_and_threshold():
    refs = {"has": ["Paris"], "none": []}
    right = compute({"has": "Paris", "none": ""}, refs, {"has": 0.1, "none": 0.9})
    assert right["exact_match"] == 100.0 and right["NoAns_exact"] == 100.0 and right["HasAns_total"] == 1
    wrong = compute({"has": "Paris", "none": "London"}, refs, {"has": 0.1, "none": 0.9})
    assert wrong["exact_match"] == 50.0 and wrong["NoAns_exact"] == 0.0
    # abstaining above a threshold between 0.1 and 0.9 would have scored 100
    assert wrong["best_exact"] == 100.0 and wrong["best_exact_thresh"] == pytest.approx(0.1)


def test_command_line_like_the_official_script(tmp_path):
    dataset = {
        "version": "1.1",
        "data": [
            {
                "title": "t",
                "paragraphs": [
                    {
                        "context": "Paris is in France.",
                        "qas": [
                            {
                                "id": "1",
                                "question": "Where is Paris?",
                                "answers": [{"text": "France", "answer_start": 12}],
                            },
                            {
                                "id": "2",
                                "question": "What is in France?",
                                "answers": [{"text": "Paris", "answer_start": 0}],
                            },
                        ],
                    }
                ],
            }
        ],
    }
    (tmp_path / "d.json").write_text(json.dumps(dataset))
    (tmp_path / "p.json").write_text(json.dumps({"1": "France.", "2": "Lyon"}))
    out = subprocess.run(
        [sys.executable, "-m", "trainer.metrics", str(tmp_path / "d.json"), str(tmp_path / "p.json")],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout) == {"exact_match": 50.0, "f1": 50.0}
