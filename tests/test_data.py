"""Every data format the trainer reads, with misaligned and malformed rows, and the label check."""

from __future__ import annotations

import csv
import json

import pytest

from assistant.core.errors import DataError
from assistant.core.reader import WindowSettings
from assistant.squad.annotations import write_annotation
from assistant.squad.formats import Answer, QAExample, load_data
from assistant.squad.validate import align_answer, validate
from tests.helpers import build_tokenizer
from trainer.features import LabelCheck, check_labels, require_good_labels, training_features

CONTEXT = "The Normans were in Normandy. They gave their name to Normandy, a region in France."


def _nested(version_2: bool) -> dict:
    qas = [{"id": "q1", "question": "Where were the Normans?", "answers": [{"text": "Normandy", "answer_start": 20}]}]
    if version_2:
        qas[0]["is_impossible"] = False
        qas.append({"id": "q2", "question": "Who ruled Spain?", "answers": [], "is_impossible": True})
    return {
        "version": "2.0" if version_2 else "1.1",
        "data": [{"title": "Normans", "paragraphs": [{"context": CONTEXT, "qas": qas}]}],
    }


@pytest.mark.parametrize("version_2", [False, True])
def test_official_nested_json(tmp_path, version_2):
    p = tmp_path / "squad.json"
    p.write_text(json.dumps(_nested(version_2)))
    data = load_data(str(p))
    assert data.version_2 is version_2
    assert data.examples[0].answers == [Answer("Normandy", 20)]
    assert data.examples[0].title == "Normans"
    assert data.fingerprint.startswith("sha256:")
    if version_2:
        assert data.examples[1].is_impossible


def test_jsonl_with_hf_columns_and_malformed_lines(tmp_path):
    p = tmp_path / "flat.jsonl"
    rows = [
        {"id": "a", "context": CONTEXT, "question": "Where?", "answers": {"text": ["Normandy"], "answer_start": [20]}},
        {
            "id": "b",
            "context": CONTEXT,
            "question": "What region?",
            "answers": [{"text": "France", "answer_start": 77}],
        },
        {"id": "c", "question": "no context"},
    ]
    p.write_text("\n".join(json.dumps(r) for r in rows) + "\n{not json\n")
    data = load_data(str(p))
    assert [e.id for e in data.examples] == ["a", "b"]
    assert data.malformed == 2


def test_notebook_csv_with_stringified_dicts(tmp_path):
    p = tmp_path / "notebook.csv"
    with open(p, "w", newline="", encoding="utf-8") as fh:
        w = csv.DictWriter(fh, fieldnames=["id", "title", "context", "question", "answers"])
        w.writeheader()
        w.writerow(
            {
                "id": "1",
                "title": "Normans",
                "context": CONTEXT,
                "question": "Where?",
                "answers": "{'text': ['Normandy'], 'answer_start': [20]}",
            }
        )
        w.writerow(
            {
                "id": "2",
                "title": "Normans",
                "context": CONTEXT,
                "question": "Country?",
                "answers": "{'text': array(['France'], dtype=object), 'answer_start': array([77])}",
            }
        )
        w.writerow(
            {
                "id": "3",
                "title": "Normans",
                "context": CONTEXT,
                "question": "Evil?",
                "answers": "__import__('os').system('echo pwned')",
            }
        )
    data = load_data(str(p))
    assert [e.id for e in data.examples] == ["1"]
    assert data.examples[0].answers == [Answer("Normandy", 20)]
    assert data.malformed == 2  # numpy reprs and code are refused, never evaluated


def test_annotations_round_trip(tmp_path):
    p = tmp_path / "annotations.jsonl"
    write_annotation(p, "Where were the Normans?", CONTEXT, "Normandy", 20, source="notes.txt")
    with pytest.raises(DataError):
        write_annotation(p, "q", CONTEXT, "France", 3)
    data = load_data(str(p))
    assert data.examples[0].answers == [Answer("Normandy", 20)] and data.examples[0].title == "notes.txt"


def test_misaligned_answers_are_repaired_or_dropped():
    examples = [
        QAExample("ok", "q", CONTEXT, [Answer("Normandy", 20)]),
        QAExample("shifted", "q", CONTEXT, [Answer("France", 70)]),
        QAExample("absent", "q", CONTEXT, [Answer("Spain", 10)]),
    ]
    kept, report = validate(examples)
    assert [e.id for e in kept] == ["ok", "shifted"]
    assert kept[1].answers[0].answer_start == CONTEXT.index("France")
    assert (report.answers_ok, report.answers_repaired, report.answers_dropped, report.examples_dropped) == (1, 1, 1, 1)


def test_repair_picks_the_nearest_occurrence():
    fixed = align_answer(CONTEXT, Answer("Normandy", 60))
    assert fixed is not None and fixed.answer_start == CONTEXT.rindex("Normandy")


def test_bad_files_are_one_sentence(tmp_path):
    with pytest.raises(DataError):
        load_data(str(tmp_path / "missing.json"))
    bad = tmp_path / "bad.json"
    bad.write_text("{")
    with pytest.raises(DataError):
        load_data(str(bad))
    empty = tmp_path / "empty.jsonl"
    empty.write_text("\n")
    with pytest.raises(DataError):
        load_data(str(empty))


def test_labels_decode_back_to_answers_on_long_contexts():
    context = " ".join(f"word{i}" for i in range(300)) + " the answer is Normandy. " + "tail " * 50
    ex = QAExample("long", "what is the answer?", context, [Answer("Normandy", context.index("Normandy"))])
    tok = build_tokenizer(["the", "answer", "is", "normandy", "what", "tail"])
    window = WindowSettings(max_length=64, stride=16, max_question_tokens=16)
    features = training_features([ex], tok, window)
    assert len(features["input_ids"]) > 5
    check = check_labels(features, [ex])
    assert check.labelled >= 1 and check.rate == 1.0
    assert check.cls_windows == len(features["input_ids"]) - check.labelled


def test_label_check_on_real_squad(squad_sample):
    data = load_data(str(squad_sample))
    words = {w.strip(".,;()\"'").lower() for e in data.examples for w in e.context.split()}
    tok = build_tokenizer(words)
    kept, report = validate(data.examples, tok)
    assert report.answerable == 293 and report.unanswerable == 333
    check = check_labels(training_features(kept, tok, WindowSettings()), kept)
    assert check.rate >= 0.99


def test_label_check_fails_loudly():
    with pytest.raises(DataError, match="decode back"):
        require_good_labels(LabelCheck(labelled=100, correct=90, cls_windows=0))


def test_hub_dataset_offline_is_one_sentence(monkeypatch):
    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(DataError) as exc:
        load_data("rajpurkar/squad", "train")
    message = str(exc.value)
    assert "\n" not in message and "--data" in message


def test_replay_mixes_in_a_seeded_draw_of_the_base_readers_data(tmp_path):
    """Fine-tuning on a few annotations replays questions the reader learned from, so it does not forget them."""
    from assistant.runs.config import TrainConfig
    from tests.synthetic import VOCAB, make_examples, write_jsonl
    from trainer.data import load_examples

    notes = write_jsonl(tmp_path / "notes.jsonl", make_examples(6, seed=1))
    original = write_jsonl(tmp_path / "original.jsonl", make_examples(40, seed=2))
    tokenizer = build_tokenizer(VOCAB)

    def train_ids(**replay) -> list[str]:
        config = TrainConfig(data=str(notes), eval_data=str(notes), seed=3, **replay)
        return [e.id for e in load_examples(config, tokenizer).train]

    plain = train_ids()
    assert sorted(plain) == sorted(f"syn-1-{i}" for i in range(6))
    mixed = train_ids(replay_data=str(original), replay_ratio=2.0)
    replayed = [i for i in mixed if i.startswith("syn-2-")]
    assert mixed[:6] == plain and len(replayed) == 12 and len(set(replayed)) == 12
    assert mixed == train_ids(replay_data=str(original), replay_ratio=2.0), "the same seed draws the same questions"
    assert train_ids(replay_data=str(original), replay_ratio=0.0) == plain
    assert len(train_ids(replay_data=str(original), replay_ratio=100.0)) == 6 + 40, "never more than there is"
