"""Runs ship their own ONNX reader: training writes ``model.onnx`` (and with ``--export-int8`` a measured
``model.int8.onnx``), loading a run reads them without exporting again, and `assistant eval` reads through
the same backend choice as `assistant ask`."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from assistant.cli import main as assistant_main
from assistant.core import onnx_export
from assistant.core.model_loading import load_reader
from tests.helpers import TRAINED_RUN_GROUP
from tests.synthetic import make_examples, write_jsonl
from trainer import export_onnx

pytestmark = [pytest.mark.slow, TRAINED_RUN_GROUP]


class Notices:
    def __init__(self) -> None:
        self.lines: list[tuple[str, str]] = []

    def __call__(self, kind: str, message: str) -> None:
        self.lines.append((kind, message))


@pytest.fixture(scope="module")
def data_files(tmp_path_factory) -> tuple[Path, Path]:
    root = tmp_path_factory.mktemp("data")
    return (
        write_jsonl(root / "train.jsonl", make_examples(600, seed=0)),
        write_jsonl(root / "test.jsonl", make_examples(200, seed=1)),
    )


@pytest.fixture
def int8_run(tiny_trained_run):
    result, events = tiny_trained_run
    assert result.status.value == "completed", result.message
    return result.path, events


def test_training_writes_model_onnx_and_a_measured_int8_file(int8_run):
    path, events = int8_run
    assert {"model.onnx", "model.onnx.data", "model.int8.onnx"} <= {p.name for p in path.iterdir()}
    assert not (path / ".onnx-export").exists()
    metrics = json.loads((path / "metrics.json").read_text())
    assert metrics["int8"]["file"] == "model.int8.onnx" and "model.int8.onnx" in metrics["int8"]["how"]
    assert metrics["int8"]["f1"] >= metrics["eval"]["f1"] - 5.0, "int8 keeps the float reader's answers"
    assert any("model.onnx" in (e.message or "") for e in events)


def test_a_run_reads_its_own_onnx_files_without_exporting(int8_run, tmp_path):
    path, _ = int8_run
    for quantize, name, kind in ((False, "model.onnx", "onnx"), (True, "model.int8.onnx", "onnx-int8")):
        notices = Notices()
        reader = load_reader(str(path), device="cpu", quantize=quantize, cache_dir=tmp_path, notify=notices)
        assert (reader.backend.kind, reader.backend.path) == (kind, path / name)
        assert notices.lines == []
    exported = [p for p in (tmp_path / "onnx").iterdir() if p.is_dir()]
    assert not exported, "nothing exported or quantized into the cache (only checksums remembered there)"


def test_a_run_answers_in_ask_on_onnx_as_on_torch(int8_run, tmp_path, capsys):
    path, _ = int8_run
    doc = tmp_path / "people.txt"
    doc.write_text("mallory works for hooli. judy lives in quito. oscar was born in 1961.\n", encoding="utf-8")
    answers = {}
    for backend in ("onnx", "torch"):
        argv = ["ask", str(doc), "where does judy live?", "who does mallory work for?", "--model", str(path)]
        assert assistant_main([*argv, "--json", "--threshold", "0", "--backend", backend]) == 0
        answers[backend] = [json.loads(line)["answers"][0] for line in capsys.readouterr().out.splitlines()]
    assert [a["text"] for a in answers["onnx"]] == ["quito", "hooli"]
    assert answers["onnx"] == answers["torch"]


def test_eval_reads_through_the_chosen_backend(int8_run, data_files, tmp_path, capsys):
    path, _ = int8_run
    _, test = data_files
    printed = {}
    for backend in ("auto", "torch"):
        out = tmp_path / f"{backend}.json"
        argv = ["eval", "--model", str(path), "--data", str(test), "--limit", "40", "--output", str(out)]
        assert assistant_main([*argv, "--backend", backend]) == 0
        printed[backend] = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert printed["auto"]["backend"] == "onnx" and printed["torch"]["backend"] == "torch"
    assert printed["auto"]["exact_match"] >= 50, "the trained reader answers most questions"
    assert (printed["auto"]["exact_match"], printed["auto"]["f1"]) == (
        printed["torch"]["exact_match"],
        printed["torch"]["f1"],
    )


def test_eval_saves_predictions_and_candidates_and_lists_the_worst_misses(int8_run, data_files, tmp_path, capsys):
    from assistant.squad.formats import load_data
    from assistant.squad.metric import compute
    from assistant.squad.squad_metric.squad_metric import f1

    path, _ = int8_run
    _, test = data_files
    out = tmp_path / "metrics.json"
    victim = tmp_path / "victim.txt"
    victim.write_text("kept\n", encoding="utf-8")
    (tmp_path / "metrics.nbest_predictions.json").symlink_to(victim)  # planted beside the metrics: replaced
    argv = ["eval", "--model", str(path), "--data", str(test), "--limit", "40", "--output", str(out), "--errors", "3"]
    assert assistant_main(argv) == 0
    printed = capsys.readouterr()
    predictions = json.loads((tmp_path / "metrics.predictions.json").read_text(encoding="utf-8"))
    nbest = json.loads((tmp_path / "metrics.nbest_predictions.json").read_text(encoding="utf-8"))
    examples = {e.id: e for e in load_data(str(test), "validation").examples[:40]}
    assert set(predictions) == set(nbest) == set(examples)
    assert victim.read_text(encoding="utf-8") == "kept\n"
    for qid, answer in predictions.items():
        candidates = nbest[qid]["candidates"]
        assert answer == (candidates[0]["text"] if candidates else "")
        for candidate in candidates:  # each candidate's offsets give its text back
            assert examples[qid].context[candidate["start"] : candidate["end"]] == candidate["text"]
            assert 0.0 <= candidate["confidence"] <= 1.0
    references = {qid: [a.text for a in e.answers] for qid, e in examples.items()}
    saved = json.loads(out.read_text(encoding="utf-8"))
    assert compute(predictions, references)["f1"] == saved["f1"]  # the metrics are those of the saved answers
    misses = [q for q in examples if max(f1(gold, predictions[q]) for gold in references[q] or [""]) < 1.0]
    assert printed.err.count("question:") == min(3, len(misses))
    for block in printed.err.split("F1 ")[1:]:
        assert "gold:" in block and "predicted:" in block


def test_an_int8_file_not_recorded_with_its_model_onnx_is_not_used(int8_run, tmp_path):
    folder = shutil.copytree(int8_run[0], tmp_path / "run")
    (folder / "model.int8.onnx").write_bytes((folder / "model.int8.onnx").read_bytes() + b"\0")  # not what was recorded
    notices = Notices()
    reader = load_reader(str(folder), device="cpu", quantize=True, cache_dir=tmp_path / "cache", notify=notices)
    assert reader.backend.kind == "onnx-int8" and reader.backend.path != folder / "model.int8.onnx"
    assert [kind for kind, _ in notices.lines] == ["progress"], "quantized again, into the cache"


def test_a_failed_export_leaves_the_run_without_model_onnx(tiny_model_dir, tmp_path, monkeypatch):
    folder = shutil.copytree(tiny_model_dir, tmp_path / "run")

    def fail(*args, **kwargs):
        raise onnx_export.ExportError("the exporter gave up")

    monkeypatch.setattr(onnx_export, "export_reader", fail)
    messages: list[str] = []
    assert export_onnx.export_run(folder, lambda phase, message: messages.append(message)) is None
    assert not (folder / "model.onnx").exists() and not (folder / ".onnx-export").exists()
    assert "the exporter gave up" in messages[-1]
