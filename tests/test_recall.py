"""Gold sets for retrieval recall: SQuAD files and hand-written questions about one document."""

from __future__ import annotations

import json

import pytest

from assistant.core.errors import UserError
from assistant.core.model_loading import load_reader
from assistant.recall import load_gold_set, retrieval_recall

FILLER = "Filler sentence number {i} talks about nothing in particular at all. "


@pytest.fixture
def long_document(tmp_path):
    """Forty paragraphs; the answer sits in paragraph 30, on a hard-wrapped line."""
    paragraphs = [FILLER.format(i=i) * 4 for i in range(40)]
    paragraphs[30] = "The release is dedicated to Sven\nGuckes, who registered the domain."
    path = tmp_path / "notes.txt"
    path.write_text("\n\n".join(paragraphs), encoding="utf-8")
    return path


def questions_file(tmp_path, document, answer="Sven Guckes", line=1):
    path = tmp_path / "questions.json"
    item = {"question": "Who is the release dedicated to?", "answer": answer, "line": line}
    path.write_text(json.dumps({"document": str(document), "questions": [item]}), encoding="utf-8")
    return path


def test_a_questions_file_finds_its_answer_across_a_hard_wrap(tmp_path, long_document):
    gold = load_gold_set(questions_file(tmp_path, long_document))
    text = gold.document.text
    (question, [(start, end)]) = gold.questions[0]
    assert question == "Who is the release dedicated to?"
    assert text[start:end] == "Sven\nGuckes"


def test_recall_counts_the_gold_span_inside_the_text_read(tmp_path, long_document, tiny_model_dir):
    gold = load_gold_set(questions_file(tmp_path, long_document))
    rows = retrieval_recall(gold, load_reader(str(tiny_model_dir), backend="torch"), (1.0, 2.0))
    assert [r["read_windows"] for r in rows] == [1.0, 2.0]
    assert all(r["recall"] == 1.0 and r["questions"] == 1 for r in rows)
    assert rows[0]["windows_run_mean"] <= rows[1]["windows_run_mean"]
    assert rows[0]["tokens_run_mean"] <= 384


def test_a_squad_file_is_one_document_with_every_answerable_question(tmp_path):
    squad = {
        "data": [
            {
                "paragraphs": [
                    {
                        "context": "Cats sit.",
                        "qas": [{"question": "Who sits?", "answers": [{"text": "Cats", "answer_start": 0}]}],
                    },
                    {"context": "Dogs run.", "qas": [{"question": "Who flies?", "answers": [], "is_impossible": True}]},
                ]
            }
        ]
    }
    path = tmp_path / "squad.json"
    path.write_text(json.dumps(squad), encoding="utf-8")
    gold = load_gold_set(path)
    assert gold.document.text == "Cats sit.\n\nDogs run."
    assert gold.questions == [("Who sits?", [(0, 4)])]


@pytest.mark.parametrize(
    "content, fragment",
    [("{not json", "is not valid JSON"), ('{"rows": []}', "neither SQuAD JSON nor a questions file")],
)
def test_a_bad_gold_file_is_one_sentence(tmp_path, content, fragment):
    path = tmp_path / "gold.json"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(UserError, match=fragment):
        load_gold_set(path)


def test_an_answer_missing_from_the_document_names_it(tmp_path, long_document):
    with pytest.raises(UserError, match="'Bram' is not in"):
        load_gold_set(questions_file(tmp_path, long_document, answer="Bram"))
