"""Learning from a user's annotations: the reader learns their document without forgetting what it knew.

A tiny reader first learns the synthetic facts (who lives, works, was born where) to near 100 F1. The
user's document asks new kinds of question (who plays, drives what) on contexts that also state known
facts. Many steps on the annotations alone make the reader forget; replaying the data its run learned
from, as "My annotations" does, keeps what it knew while it learns the document.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from assistant.core.model_loading import load_reader
from assistant.runs.annotation_training import ANNOTATION_SETTINGS, replay_source
from assistant.runs.config import TrainConfig
from assistant.runs.schema import RunStatus
from assistant.squad.evaluation import evaluate_reader
from assistant.squad.formats import load_data
from tests.helpers import TRAINED_RUN_GROUP
from tests.synthetic import make_document_examples, make_examples, write_jsonl
from trainer.train import run_training

pytestmark = [pytest.mark.slow, TRAINED_RUN_GROUP]

WINDOWS = {"max_length": 64, "stride": 16, "warmup_ratio": 0.05}


@pytest.fixture
def reader(tiny_trained_run) -> Path:
    """A tiny reader trained on the known facts (the suite's shared run); its run records that data, so it can be
    replayed."""
    result, _ = tiny_trained_run
    assert result.status is RunStatus.COMPLETED, result.message
    return result.path


def f1_scores(model: Path, files: dict[str, Path]) -> dict[str, float]:
    loaded = load_reader(str(model), device="cpu", backend="torch")
    examples = {name: load_data(str(path), "train").examples for name, path in files.items()}
    return {name: evaluate_reader(loaded, questions, False)["f1"] for name, questions in examples.items()}


def test_replaying_the_readers_data_keeps_what_it_knew(reader, tmp_path):
    document = make_document_examples(300, seed=5)
    notes = write_jsonl(tmp_path / "notes.jsonl", document[:100])
    files = {
        "held-out": write_jsonl(tmp_path / "held-out.jsonl", make_examples(200, seed=7)),
        "document": write_jsonl(tmp_path / "document.jsonl", document[100:]),
    }

    def fine_tune(name: str, **replay) -> dict[str, float]:
        """Many steps (10 epochs) at the tiny reader's own learning rate: forgetting is real here."""
        out = tmp_path / name
        config = TrainConfig(
            base_model=str(reader),
            data=str(notes),
            eval_data=str(tmp_path / "notes.jsonl"),
            output=str(out),
            epochs=10,
            learning_rate=1e-3,
            batch_size=16,
            save_steps=10_000,
            **WINDOWS,
            **replay,
        )
        result = run_training(config)
        assert result.status is RunStatus.COMPLETED, result.message
        return f1_scores(out, files)

    before = f1_scores(reader, files)
    alone = fine_tune("alone")
    source = replay_source(str(reader))
    assert source is not None, "the reader's run names its local training data"
    replayed = fine_tune("replayed", replay_data=source, replay_ratio=ANNOTATION_SETTINGS["replay_ratio"])

    assert before["held-out"] >= 95 and before["document"] <= 50, before
    assert alone["held-out"] <= before["held-out"] - 15, f"annotations alone should forget here: {alone}"
    assert replayed["held-out"] >= before["held-out"] - 1, f"replay should keep what it knew: {replayed}"
    assert replayed["document"] >= before["document"] + 40, f"and still learn the document: {replayed}"
