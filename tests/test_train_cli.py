"""The trainer's command line is made from TrainConfig: every setting is a flag with help, ``--config FILE``
(what the Train screen writes) round-trips, flags override it, a bad file is one line, and the QA Trainer's
``evaluate`` is what writes the per-epoch evaluations."""

from __future__ import annotations

import json
import os
from dataclasses import fields
from pathlib import Path
from typing import Any

import pytest

from assistant.runs.config import TrainConfig, flag, option_specs
from tests.bad_inputs import assert_one_line_failure, assistant
from trainer.cli import build_parser, config_from_args


def _parse(*argv: str) -> TrainConfig:
    return config_from_args(build_parser().parse_args(list(argv)))


def _changed() -> TrainConfig:
    """A config where every setting differs from its default."""
    return TrainConfig(
        base_model="some/base",
        data="train.jsonl",
        eval_data="test.jsonl",
        output="models/run",
        epochs=3.5,
        learning_rate=1e-4,
        batch_size=8,
        gradient_accumulation=2,
        warmup_ratio=0.2,
        weight_decay=0.0,
        max_length=256,
        stride=64,
        max_train_samples=100,
        max_eval_samples=50,
        max_steps=30,
        freeze_layers=1,
        teacher="some/teacher",
        distill_temperature=3.0,
        distill_alpha=0.25,
        precision="fp32",
        device="cpu",
        nproc=2,
        compile=True,
        workers=2,
        seed=7,
        resplit=True,
        test_size=0.2,
        resume=True,
        save_steps=10,
        logging_steps=5,
        sanity_steps=20,
        export_int8=True,
        activate=True,
        keep_checkpoints=True,
        extra_data=["notes.jsonl", "more.jsonl"],
        replay_data="squad.jsonl",
        group_by_length=True,
        replay_ratio=2.0,
    )


def test_every_setting_has_a_flag_with_help():
    parser = build_parser()
    by_dest = {a.dest: a for a in parser._actions}
    help_text = parser.format_help()
    changed, default = _changed(), TrainConfig()
    for f in fields(TrainConfig):
        assert f.metadata.get("help"), f"{f.name} has no help text"
        action = by_dest.get(f.name)
        assert action is not None, f"{f.name} has no flag"
        assert flag(f.name) in action.option_strings and flag(f.name) in help_text
        assert getattr(changed, f.name) != getattr(default, f.name), f"_changed() leaves {f.name} at its default"
    assert {"--config", "--events-only"} <= {s for a in parser._actions for s in a.option_strings}


def test_flag_names_and_kinds_stay_as_they_were():
    specs = {s.name: s for s in option_specs()}
    assert specs["base_model"].flags == ("--base",)
    assert specs["learning_rate"].flags == ("--learning-rate", "--lr")
    assert specs["gradient_accumulation"].flag == "--gradient-accumulation"
    assert specs["extra_data"].repeated and specs["eval_data"].optional and specs["compile"].kind is bool
    config = _parse("--lr", "1e-3", "--compile", "--extra-data", "a", "--extra-data", "b", "--workers", "3")
    assert (config.learning_rate, config.compile, config.extra_data, config.workers) == (1e-3, True, ["a", "b"], 3)
    assert _parse() == TrainConfig()


def test_a_config_file_round_trips(tmp_path):
    path = tmp_path / "config.json"
    config = _changed()
    config.save(path)
    assert TrainConfig.load(path) == config
    assert _parse("--config", str(path)) == config


def test_flags_override_the_config_file(tmp_path):
    path = tmp_path / "config.json"
    TrainConfig(batch_size=8, epochs=3.0, extra_data=["a.jsonl"], compile=True, output="from-file").save(path)
    config = _parse("--config", str(path), "--batch-size", "4", "--extra-data", "b.jsonl", "--output", "run-dir")
    assert (config.batch_size, config.extra_data, config.output) == (4, ["b.jsonl"], "run-dir")
    assert (config.epochs, config.compile) == (3.0, True)  # what no flag names stays as in the file


BAD_FILES: dict[str, tuple[str, tuple[str, ...]]] = {
    "not json": ("{batch_size: 8", ("is not valid JSON",)),
    "not an object": ("[1, 2]", ("JSON object",)),
    "unknown key": ('{"batch_size": 8, "colour": "red"}', ("unknown settings", "colour")),
    "string for a number": ('{"batch_size": "8"}', ("batch_size", "whole number")),
    "fraction for a whole number": ('{"batch_size": 8.5}', ("batch_size", "whole number")),
    "string for a list": ('{"extra_data": "notes.jsonl"}', ("extra_data", "list")),
    "number for a flag": ('{"compile": 1}', ("compile", "true or false")),
    "null where required": ('{"data": null}', ("data", "not null")),
    "unknown precision": ('{"precision": "fp8"}', ("precision", "fp32")),
    "impossible value": ('{"epochs": 0}', ("--epochs",)),
    "not a number": ('{"learning_rate": NaN}', ("NaN",)),
    "infinite": ('{"learning_rate": -Infinity}', ("Infinity",)),
    "not UTF-8": ("\udcff", ("not UTF-8",)),
}


@pytest.mark.parametrize("case", list(BAD_FILES))
def test_a_bad_config_file_is_one_line_and_creates_nothing(case, tmp_path, capsys):
    text, fragments = BAD_FILES[case]
    path = tmp_path / "config.json"
    path.write_bytes(text.encode("utf-8", errors="surrogateescape"))
    models = Path(os.environ["ASSISTANT_MODELS_DIR"])
    outcome = assistant(capsys, "train", "--config", str(path))
    assert_one_line_failure(outcome, *fragments)
    assert not models.exists() or not any(models.iterdir())


def test_a_missing_config_file_is_one_line(tmp_path, capsys):
    outcome = assistant(capsys, "train", "--config", str(tmp_path / "nowhere.json"))
    assert_one_line_failure(outcome, "nowhere.json")


def test_the_qa_trainers_evaluate_writes_one_evaluation_per_epoch(tmp_path, monkeypatch, capsys):
    """A tiny two-epoch run launched as the Train screen does (--config FILE --output RUN_DIR): the Trainer's
    epoch-end evaluation goes through QATrainer.evaluate, twice, and only there."""
    from tests.helpers import save_tiny_model
    from tests.synthetic import VOCAB, make_examples, write_jsonl
    from trainer import cli
    from trainer.trainers import QATrainer

    calls: list[float | None] = []
    original = QATrainer.evaluate

    def counting(self, *args, **kwargs):
        calls.append(self.state.epoch)
        return original(self, *args, **kwargs)

    monkeypatch.setattr(QATrainer, "evaluate", counting)
    base = save_tiny_model(tmp_path / "base", VOCAB, dim=32, layers=1, heads=2, max_positions=128)
    config = TrainConfig(
        base_model=str(base),
        data=str(write_jsonl(tmp_path / "train.jsonl", make_examples(64, seed=0))),
        eval_data=str(write_jsonl(tmp_path / "test.jsonl", make_examples(16, seed=1))),
        epochs=2,
        batch_size=8,
        max_length=64,
        stride=16,
        sanity_steps=1000,
    )
    config.save(tmp_path / "config.json")
    out = tmp_path / "run"
    assert cli.main(["--config", str(tmp_path / "config.json"), "--output", str(out), "--events-only"]) == 0

    events = [json.loads(line) for line in (out / "events.jsonl").read_text().splitlines()]
    evals = [e for e in events if e["phase"] == "eval" and "step" in e and "f1" in e]
    assert [e["epoch"] for e in evals] == [1.0, 2.0] and calls == [1.0, 2.0]
    assert events[-1]["phase"] == "done"
    printed = [json.loads(line) for line in capsys.readouterr().out.splitlines() if line.startswith("{")]
    assert printed == events  # what the CLI prints is what the run directory holds
    metrics = json.loads((out / "metrics.json").read_text())
    assert [e["step"] for e in metrics["eval_per_epoch"]] == [e["step"] for e in evals]
    assert metrics["eval"]["f1"] == evals[-1]["f1"]
    run = json.loads((out / "run.json").read_text())
    assert run["status"] == "completed" and run["settings"]["epochs"] == 2 and run["settings"]["output"] == str(out)


def _updates(config: TrainConfig, n_windows: int, tmp_path: Path) -> tuple[Any, int]:
    from trainer.trainers import training_arguments

    args = training_arguments(config, "cpu", tmp_path, n_windows)
    batches = -(-n_windows // config.batch_size)
    return args, int(config.epochs * batches)


def test_a_warmup_ratio_of_one_warms_up_over_every_step(tmp_path):
    """The Trainer reads a warm-up of 1 or more as steps: a ratio of 1.0 once warmed up for a single step."""
    args, total = _updates(TrainConfig(warmup_ratio=1.0, epochs=2, batch_size=16), 160, tmp_path)
    assert args.get_warmup_steps(total) == total == 20
    args, total = _updates(TrainConfig(warmup_ratio=0.1, epochs=2, batch_size=16), 160, tmp_path)
    assert args.get_warmup_steps(total) == 2


@pytest.mark.parametrize(
    ("environment", "fragments"),
    [
        ({"WORLD_SIZE": "abc", "RANK": "xyz"}, ("WORLD_SIZE", "whole number")),
        ({"WORLD_SIZE": "2", "RANK": "1"}, ("MASTER_ADDR", "torchrun")),
        ({"WORLD_SIZE": "2", "RANK": "-1", "MASTER_ADDR": "localhost"}, ("RANK", "whole number")),
        ({"WORLD_SIZE": "0", "RANK": "0"}, ("WORLD_SIZE", "at least 1")),
        ({"WORLD_SIZE": "2", "MASTER_ADDR": "localhost"}, ("RANK is not", "0 to 1")),
    ],
)
def test_launch_variables_no_launcher_set_are_one_line_before_anything_is_read(environment, fragments, capsys):
    for name in ("WORLD_SIZE", "RANK", "LOCAL_RANK", "MASTER_ADDR"):
        os.environ.pop(name, None)
    try:
        os.environ.update(environment)
        outcome = assistant(capsys, "train", "--data", "nowhere.json", "--output", "somewhere")
    finally:
        for name in environment:
            os.environ.pop(name, None)
    assert_one_line_failure(outcome, *fragments)


def test_a_flag_cut_short_is_one_sentence_not_a_guess(capsys):
    """A prefix (``--st`` for --stride) is refused: it could reach torchrun, which reads prefixes as its own."""
    assert_one_line_failure(assistant(capsys, "train", "--st", "16", "--data", "nowhere.json"), "--st")
