"""Training end to end with a tiny model: it must learn, save a usable run, stop on a flat loss,
cancel cleanly and resume after a kill."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from assistant.cli import main as assistant_main
from assistant.runs.config import TrainConfig
from assistant.runs.registry import active_run_name, list_runs
from tests.helpers import TRAINED_RUN_GROUP, save_tiny_model
from tests.synthetic import DOCUMENT_VOCAB, make_examples, write_jsonl
from trainer.train import freeze_layers, run_training

pytestmark = [pytest.mark.slow, TRAINED_RUN_GROUP]


@pytest.fixture(scope="module")
def tiny_base(tmp_path_factory) -> Path:
    """The shared run's base (its vocabulary): a student that run teaches must share its tokenizer."""
    return save_tiny_model(
        tmp_path_factory.mktemp("base") / "base", DOCUMENT_VOCAB, dim=64, layers=2, heads=4, max_positions=128
    )


@pytest.fixture(scope="module")
def synthetic_files(tmp_path_factory) -> tuple[Path, Path]:
    root = tmp_path_factory.mktemp("data")
    return (
        write_jsonl(root / "train.jsonl", make_examples(600, seed=0)),
        write_jsonl(root / "test.jsonl", make_examples(200, seed=1)),
    )


def _config(base: Path, train: Path, test: Path, out: Path, **kw) -> TrainConfig:
    settings = {
        "epochs": 12,
        "learning_rate": 1e-3,  # shuffled as the plain recipe; 2e-3 overshoots (EM 81 at epoch 12)
        "batch_size": 16,
        "max_length": 64,
        "stride": 16,
        "warmup_ratio": 0.05,
        "sanity_steps": 40,
    }
    settings.update(kw)
    return TrainConfig(base_model=str(base), data=str(train), eval_data=str(test), output=str(out), **settings)


@pytest.fixture
def trained_run(tiny_trained_run):
    """The run :func:`_config`'s settings train (with its int8 file), trained once for the suite."""
    return tiny_trained_run


def test_tiny_model_learns_the_task(trained_run):
    result, _events = trained_run
    assert result.status == "completed", result.message
    metrics = result.metrics
    assert metrics is not None and metrics.eval is not None
    assert (metrics.eval.exact_match or 0) >= 90.0, metrics.eval_per_epoch
    curve = [loss for _, loss in metrics.loss_curve]
    assert sum(curve[-3:]) / 3 < 0.5 * sum(curve[:3]) / 3, "the loss must fall, not sit flat as in the notebook"
    assert len(metrics.eval_per_epoch) == 12
    assert (metrics.train_windows_per_second or 0) > 0


def test_run_directory_is_complete(trained_run):
    result, events = trained_run
    path = result.path
    assert (path / "model.safetensors").exists() and (path / "config.json").exists()
    assert not list(path.glob("*.bin")) and not (path / "checkpoints").exists()
    run = json.loads((path / "run.json").read_text())
    assert run["status"] == "completed"
    assert run["settings"]["learning_rate"] == 1e-3 and run["train_data"]["fingerprint"].startswith("sha256:")
    assert run["label_check"]["rate"] >= 0.99 and run["versions"]["torch"]
    metrics = json.loads((path / "metrics.json").read_text())
    assert metrics["eval"]["f1"] >= 90.0
    lines = [json.loads(x) for x in (path / "events.jsonl").read_text().splitlines()]
    train_events = [e for e in lines if e["phase"] == "train" and "loss" in e]
    assert train_events and all({"step", "total", "loss"} <= set(e) for e in train_events)
    assert lines[-1]["phase"] == "done"
    assert "exact match" in (path / "README.md").read_text()
    assert [str(e.phase) for e in events][-1] == "done"


def test_trained_run_answers_in_assistant_ask(trained_run, tmp_path, capsys):
    result, _ = trained_run
    doc = tmp_path / "people.txt"
    doc.write_text("mallory works for hooli. judy lives in quito. oscar was born in 1961.\n", encoding="utf-8")
    code = assistant_main(
        [
            "ask",
            str(doc),
            "where does judy live?",
            "who does mallory work for?",
            "--model",
            str(result.path),
            "--json",
            "--threshold",
            "0",
        ]
    )
    assert code == 0
    answers = [json.loads(line)["answers"][0]["text"] for line in capsys.readouterr().out.splitlines()]
    assert answers == ["quito", "hooli"]


def test_run_is_listed_and_can_be_activated(trained_run, monkeypatch, capsys):
    result, _ = trained_run
    monkeypatch.setenv("ASSISTANT_MODELS_DIR", str(result.path.parent))
    assert assistant_main(["models", "activate", result.path.name]) == 0
    assert active_run_name(result.path.parent) == result.path.name
    runs = list_runs(result.path.parent)
    assert runs[0].active and runs[0].exact_match >= 90
    assert assistant_main(["models"]) == 0
    assert result.path.name in capsys.readouterr().out


def test_flat_loss_stops_with_a_clear_message(tiny_base, synthetic_files, tmp_path):
    train, test = synthetic_files
    result = run_training(
        # a learning rate of 0 is refused up front now; 1e-9 moves nothing either
        _config(tiny_base, train, test, tmp_path / "flat", learning_rate=1e-9, epochs=3, sanity_steps=20)
    )
    assert result.status == "failed"
    assert "has not moved" in result.message
    assert json.loads((tmp_path / "flat" / "run.json").read_text())["status"] == "failed"


def test_freeze_layers_keeps_the_head_trainable(tiny_base):
    from transformers import AutoModelForQuestionAnswering

    model = AutoModelForQuestionAnswering.from_pretrained(str(tiny_base))
    freeze_layers(model, 2)
    assert all(p.requires_grad for p in model.qa_outputs.parameters())
    assert not any(p.requires_grad for p in model.distilbert.embeddings.parameters())
    assert not any(p.requires_grad for p in model.distilbert.transformer.layer.parameters())


def test_the_seed_draws_the_new_qa_head(tiny_base, synthetic_files, tmp_path):
    """A base encoder gets a new QA head: --seed must draw it (as run_qa.py), so one seed trains one reader."""
    import torch
    from safetensors.torch import load_file
    from transformers import AutoModelForQuestionAnswering, AutoTokenizer

    encoder = tmp_path / "encoder"
    AutoModelForQuestionAnswering.from_pretrained(str(tiny_base)).distilbert.save_pretrained(encoder)
    AutoTokenizer.from_pretrained(str(tiny_base)).save_pretrained(encoder)
    train, test = synthetic_files
    heads = []
    for name, seed in (("a", 3), ("b", 3), ("c", 4)):
        torch.manual_seed(len(heads))  # whatever ran before in the process must not matter
        config = _config(encoder, train, test, tmp_path / name, seed=seed, max_steps=2, max_eval_samples=5)
        result = run_training(config)
        assert result.status == "completed", result.message
        heads.append(load_file(str(tmp_path / name / "model.safetensors"))["qa_outputs.weight"])
    assert torch.equal(heads[0], heads[1])
    assert not torch.equal(heads[0], heads[2])


def _trainer_cmd(base: Path, train: Path, test: Path, out: Path, *extra: str) -> list[str]:
    return [
        sys.executable,
        "-m",
        "trainer",
        "--base",
        str(base),
        "--data",
        str(train),
        "--eval-data",
        str(test),
        "--output",
        str(out),
        "--max-length",
        "64",
        "--stride",
        "16",
        "--batch-size",
        "8",
        "--lr",
        "1e-3",
        "--events-only",
        *extra,
    ]


def _wait_for(predicate, timeout: float = 120.0) -> None:
    deadline = time.time() + timeout
    while time.time() < deadline:
        if predicate():
            return
        time.sleep(0.1)
    raise AssertionError("timed out")


def test_cancel_leaves_the_active_reader_alone(tiny_base, synthetic_files, tmp_path, isolated_dirs):
    train, test = synthetic_files
    models = Path(os.environ["ASSISTANT_MODELS_DIR"])
    models.mkdir(parents=True, exist_ok=True)
    (models / "ACTIVE").write_text("previous-run\n")
    out = models / "cancelled-run"
    proc = subprocess.Popen(
        _trainer_cmd(tiny_base, train, test, out, "--epochs", "50"),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        _wait_for(lambda: (out / "events.jsonl").exists() and '"loss"' in (out / "events.jsonl").read_text())
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=60)
    finally:
        proc.kill()
    assert proc.returncode == 130
    assert json.loads((out / "run.json").read_text())["status"] == "cancelled"
    assert (models / "ACTIVE").read_text().strip() == "previous-run"
    assert not (out / "model.safetensors").exists()


def test_resume_continues_after_a_kill(tiny_base, synthetic_files, tmp_path):
    train, test = synthetic_files
    out = tmp_path / "resumable"
    cmd = _trainer_cmd(tiny_base, train, test, out, "--epochs", "2", "--save-steps", "10", "--sanity-steps", "1000")
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        _wait_for(lambda: (out / "checkpoints" / "checkpoint-10" / "trainer_state.json").exists())
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
    finally:
        proc.kill()
    assert json.loads((out / "run.json").read_text())["status"] == "running"  # what a crash leaves
    (out / "checkpoints" / "checkpoint-999").mkdir()  # a checkpoint the crash cut off while writing
    resumed = subprocess.run([*cmd, "--resume"], capture_output=True, text=True, timeout=300)
    assert resumed.returncode == 0, resumed.stderr
    events = [json.loads(x) for x in resumed.stdout.splitlines() if x.startswith("{")]
    resumed_from = [e["message"] for e in events if "resuming from checkpoint-" in e.get("message", "")]
    assert resumed_from and "checkpoint-999" not in resumed_from[0]
    first_step = next(e["step"] for e in events if e["phase"] == "train" and "step" in e)
    assert first_step >= 10
    run = json.loads((out / "run.json").read_text())
    assert run["status"] == "completed"
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["global_step"] == max(e["total"] for e in events if e.get("total"))
    steps = [step for step, _ in metrics["loss_curve"]]
    assert steps == sorted(set(steps)) and steps[0] < first_step and steps[-1] > first_step  # both processes
    assert metrics["eval_per_epoch"] and metrics["eval_per_epoch"][-1]["step"] == metrics["global_step"]


def test_a_killed_run_lists_as_interrupted_until_resumed(tiny_base, synthetic_files, tmp_path, capsys, monkeypatch):
    train, test = synthetic_files
    out = tmp_path / "killed"
    cmd = _trainer_cmd(tiny_base, train, test, out, "--epochs", "2", "--save-steps", "10", "--sanity-steps", "1000")
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        _wait_for(lambda: '"loss"' in ((out / "events.jsonl").read_text() if (out / "events.jsonl").exists() else ""))
        run = json.loads((out / "run.json").read_text())
        assert run["pid"] == proc.pid and run["status"] == "running" and run["heartbeat"] > time.time() - 60
        assert list_runs(tmp_path)[0].status == "running"
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
    finally:
        proc.kill()
    info = list_runs(tmp_path)[0]
    assert info.status == "interrupted"
    assert info.hint.startswith(f"resume with: assistant train --resume --output {out}")
    monkeypatch.setenv("ASSISTANT_MODELS_DIR", str(tmp_path))
    assert assistant_main(["models", "activate", "killed"]) != 0
    assert "interrupted" in capsys.readouterr().err


def test_assistant_eval_prints_and_saves_metrics(trained_run, synthetic_files, tmp_path, capsys):
    result, _ = trained_run
    _, test = synthetic_files
    out = tmp_path / "eval.json"
    code = assistant_main(
        ["eval", "--model", str(result.path), "--data", str(test), "--limit", "50", "--output", str(out)]
    )
    assert code == 0
    printed = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert printed["questions"] == 50 and printed["exact_match"] >= 90
    assert json.loads(out.read_text())["f1"] == printed["f1"]


def test_distillation_from_a_teacher_trains(trained_run, tiny_base, synthetic_files, tmp_path):
    result, _ = trained_run
    train, test = synthetic_files
    distilled = run_training(
        _config(
            tiny_base,
            train,
            test,
            tmp_path / "student",
            teacher=str(result.path),
            max_steps=30,
            epochs=1,
            sanity_steps=10,
        )
    )
    assert distilled.status == "completed", distilled.message
    assert distilled.metrics is not None
    curve = [loss for _, loss in distilled.metrics.loss_curve]
    assert all(loss == loss for loss in curve) and curve[-1] < curve[0]
    run = json.loads((tmp_path / "student" / "run.json").read_text())
    assert run["settings"]["teacher"] == str(result.path)


def test_evaluation_on_real_squad_v2_reports_has_and_no_answer(squad_sample, tiny_model_dir):
    """The real SQuAD 2.0 sample goes through the reader's decoder and the v2 metric end to end."""
    from assistant.core.model_loading import load_reader
    from assistant.squad.evaluation import evaluate_reader, predict
    from assistant.squad.formats import load_data

    data = load_data(str(squad_sample))
    reader = load_reader(str(tiny_model_dir), device="cpu")
    examples = data.examples[:120]
    predictions = predict(reader, examples, version_2=True)
    for ex in examples:
        assert predictions.text[ex.id] == "" or predictions.text[ex.id] in ex.context
        assert 0.0 <= predictions.na_prob[ex.id] <= 1.0
    metrics = evaluate_reader(reader, examples, version_2=True)
    assert {"exact_match", "f1", "HasAns_f1", "NoAns_f1", "best_f1", "best_f1_thresh"} <= set(metrics)
    assert metrics["HasAns_total"] + metrics["NoAns_total"] == metrics["total"] == 120
