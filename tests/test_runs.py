"""Runs at the edges: activation only of a completed run inside models/, listings that survive garbage
files and killed runs, training flags refused before anything is created, and resumes past broken checkpoints."""

from __future__ import annotations

import json
import os
import pickle
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from safetensors.torch import save_file

from assistant.core.defaults import DEFAULT_READER
from assistant.core.errors import UserError
from assistant.core.ownership import mark
from assistant.runs.config import TrainConfig
from assistant.runs.directory import resumable_checkpoint
from assistant.runs.events import RunEvent, history_from_events
from assistant.runs.opening import open_resume
from assistant.runs.registry import (
    HEARTBEAT_STALE_S,
    RunStatus,
    active_problem,
    active_run_name,
    active_run_path,
    list_runs,
    load_run,
)
from assistant.runs.schema import DataRecord, EpochEval, EvalScores, RunMetrics, RunRecord
from assistant.settings import resolve_model
from tests.bad_inputs import Outcome, assert_one_line_failure, assistant
from trainer.train import CancelToken, run_training

# --- fixtures -------------------------------------------------------------------------------------------------


@pytest.fixture
def models() -> Path:
    root = Path(os.environ["ASSISTANT_MODELS_DIR"])
    root.mkdir(parents=True, exist_ok=True)
    return root


def _run(models: Path, name: str, tiny: Path | None, **run_json) -> Path:
    """A run folder: the tiny model's files (when given) and a run.json with the given fields."""
    path = models / name
    if tiny is not None:
        shutil.copytree(tiny, path)
    else:
        path.mkdir()
    if run_json:
        (path / "run.json").write_text(json.dumps(run_json), encoding="utf-8")
    return path


def _dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


@pytest.fixture
def runs(models: Path, tiny_model_dir: Path, tmp_path: Path) -> Path:
    """A completed run named ``good`` (the active one) and one run of every kind that must not be activated."""
    _run(models, "good", tiny_model_dir, status="completed")
    _run(models, "other", tiny_model_dir, status="completed")
    _run(models, "failed", tiny_model_dir, status="failed", error="boom")
    _run(models, "cancelled", tiny_model_dir, status="cancelled")
    live = {"pid": os.getpid(), "hostname": socket.gethostname(), "heartbeat": time.time()}
    _run(models, "running", tiny_model_dir, status="running", **live)
    _run(models, "killed", tiny_model_dir, status="running", **(live | {"pid": _dead_pid(), "heartbeat": 1}))
    weightless = _run(models, "weightless", tiny_model_dir, status="completed")
    for weights in weightless.glob("*.safetensors"):
        weights.unlink()
    (_run(models, "listconfig", tiny_model_dir, status="completed") / "config.json").write_text("[1, 2]")
    (models / "a-file").write_text("not a run")
    outside = tmp_path / "outside"
    shutil.copytree(tiny_model_dir, outside)
    (outside / "run.json").write_text(json.dumps({"status": "completed"}))
    (models / "link-out").symlink_to(outside, target_is_directory=True)
    (models / "ACTIVE").write_text("good\n")
    return outside


# --- activation ----------------------------------------------------------------------------------------------

REFUSED = {
    "../x": "not a path",
    "../outside": "not a path",
    "absolute": "not a path",
    "good/../other": "not a path",
    "other/": "not a path",
    "link-out": "outside",
    "": "empty",
    "   ": "empty",
    "a-file": "no run named",
    "missing": "no run named",
    "failed": "it is failed",
    "cancelled": "it is cancelled",
    "running": "it is running",
    "killed": "it is interrupted",
    "weightless": "no weights",
    "listconfig": "config.json",
}


@pytest.mark.parametrize("name", list(REFUSED))
def test_activation_refuses_anything_but_a_completed_run_inside_models(name, runs, models, capsys):
    argument = str(runs) if name == "absolute" else name
    before = (models / "ACTIVE").read_bytes()
    outcome = assistant(capsys, "models", "activate", argument)
    assert_one_line_failure(outcome, REFUSED[name])
    assert (models / "ACTIVE").read_bytes() == before


def test_activation_of_a_run_name_prints_the_active_run(runs, models, capsys):
    outcome = assistant(capsys, "models", "activate", "other")
    assert outcome.code == 0, outcome.err
    assert "Active reader is now other" in outcome.out and str(models / "other") in outcome.out
    assert (models / "ACTIVE").read_text() == "other\n"
    assert active_run_path() == models / "other"


@pytest.mark.parametrize(
    "content",
    ["../outside", "link-out", "/etc", "good/../other", "missing", "failed/", "failed", "good ", "two\nlines"],
)
def test_an_active_pointer_naming_no_usable_run_is_an_error_never_another_reader(content, runs, models, capsys):
    (models / "ACTIVE").write_text(content + "\n")
    assert active_run_name() is None or content == "failed"
    assert active_run_path() is None and "active reader" in active_problem()
    with pytest.raises(UserError, match="models activate"):
        resolve_model()
    listing = assistant(capsys, "models")
    assert listing.code == 0 and "warning: The active reader" in listing.err


def test_no_active_pointer_means_the_default_reader(runs, models):
    (models / "ACTIVE").unlink()
    assert active_run_name() is None and active_run_path() is None
    assert resolve_model().ref == DEFAULT_READER


# --- listings that survive garbage and killed runs -----------------------------------------------------------


def _list_ok(capsys, warning: str = "") -> list[dict]:
    """The listing, as a table and as JSON; stderr holds nothing, or one line starting with ``warning``."""
    for flags in ([], ["--json"]):
        listed = assistant(capsys, "models", *flags)
        assert listed.code == 0, listed.err
        assert listed.err.startswith(warning) and listed.err.count("\n") == (1 if warning else 0), listed.err
    return json.loads(listed.out)


def test_a_run_whose_process_died_lists_as_interrupted_with_a_resume_hint(models, tiny_model_dir, capsys):
    settings = {"base_model": "base-dir", "data": "train.jsonl"}
    stale = time.time() - HEARTBEAT_STALE_S - 60
    owner = {"pid": _dead_pid(), "hostname": socket.gethostname(), "heartbeat": stale}
    _run(models, "killed", None, status="running", settings=settings, **owner)
    live = {"pid": os.getpid(), "hostname": socket.gethostname(), "heartbeat": time.time()}
    _run(models, "alive", None, status="running", **live)
    _run(models, "alive-but-silent", None, status="running", **(live | {"heartbeat": stale}))
    rows = {r["name"]: r for r in _list_ok(capsys)}
    assert rows["killed"]["status"] == "interrupted"
    assert rows["killed"]["hint"] == f"resume with: assistant train --resume --output {models / 'killed'}"
    assert rows["alive"]["status"] == "running" and rows["alive"]["hint"] is None
    assert rows["alive-but-silent"]["status"] == "interrupted"
    assert "resume with: assistant train --resume" in assistant(capsys, "models").out
    assert json.loads((models / "killed" / "run.json").read_text())["status"] == "running"  # only the view changes


GARBAGE: list[bytes] = [
    b"[1, 2, 3]",
    b'{"eval": 5}',
    b'{"eval": {"f1": "x", "exact_match": [1]}}',
    b'{"eval": {"f1": NaN}, "train_windows_per_second": "fast", "loss_curve": 3, "eval_per_epoch": [1, {"f1": "x"}]}',
    b'{"loss_curve": [[1], ["a", 2], {"x": 1}], "wall_time_s": true}',
    b"\xff\xfe\x00garbage",
    b'{"status": 7, "started_at": [1], "settings": [], "train_data": "x", "pid": "me", "heartbeat": "now"}',
    b'{"status": "running", "pid": 1e400, "hostname": 5, "heartbeat": 1e308}',
    b"[" * 100_000,
    b"",
]


@pytest.mark.parametrize("garbage", GARBAGE, ids=range(len(GARBAGE)))
def test_garbage_run_files_do_not_crash_the_listing(garbage, models, tiny_model_dir, capsys):
    for name in ("metrics.json", "run.json"):
        path = _run(models, f"bad-{name}", tiny_model_dir)
        (path / name).write_bytes(garbage)
    (models / "ACTIVE").write_bytes(garbage)
    rows = {r["name"]: r for r in _list_ok(capsys, warning="warning: The active reader cannot be used")}
    assert set(rows) == {"bad-metrics.json", "bad-run.json"}
    assert all(r["f1"] is None and r["exact_match"] is None and not r["active"] for r in rows.values())
    with pytest.raises(UserError, match="active reader"):
        resolve_model()


def test_well_formed_metrics_still_show(models, tiny_model_dir, capsys):
    path = _run(models, "fine", tiny_model_dir, status="completed")
    (path / "metrics.json").write_text(json.dumps({"eval": {"f1": 80, "exact_match": 70.5}, "loss_curve": [[1, 2.0]]}))
    info = load_run(path)
    assert (info.f1, info.exact_match, info.metrics["loss_curve"], info.status) == (80, 70.5, [[1, 2.0]], "completed")
    assert info.status is RunStatus.COMPLETED and list_runs()[0].name == "fine"


# --- training flags refused before anything is created -------------------------------------------------------

BAD_FLAGS: list[tuple[list[str], str]] = [
    (["--batch-size", "0"], "--batch-size"),
    (["--batch-size", "-8"], "--batch-size"),
    (["--learning-rate", "nan"], "--learning-rate"),
    (["--learning-rate", "inf"], "--learning-rate"),
    (["--learning-rate", "0"], "--learning-rate"),
    (["--learning-rate=-1e-5"], "--learning-rate"),
    (["--epochs", "0"], "--epochs"),
    (["--epochs", "-2"], "--epochs"),
    (["--epochs", "nan"], "--epochs"),
    (["--max-length", "8"], "--max-length"),
    (["--max-length", "0"], "--max-length"),
    (["--stride", "-1"], "--stride"),
    (["--test-size", "0"], "--test-size"),
    (["--test-size", "1"], "--test-size"),
    (["--test-size", "-0.5"], "--test-size"),
    (["--gradient-accumulation", "0"], "--gradient-accumulation"),
    (["--save-steps", "0"], "--save-steps"),
    (["--max-steps", "0"], "--max-steps"),
    (["--warmup-ratio", "1.5"], "--warmup-ratio"),
    (["--device", "tpu"], "--device"),
    (["--batch-size", "many"], "--batch-size"),
    (["--output", "{file}"], "is a file"),
    (["--output", "{file}/run"], "which is a file"),
    (["--output", "{dir}"], "already exists"),
]


@pytest.mark.parametrize(("flags", "fragment"), BAD_FLAGS, ids=[" ".join(f) for f, _ in BAD_FLAGS])
def test_bad_training_flags_fail_in_one_sentence_and_leave_no_folder(flags, fragment, models, tmp_path, capsys):
    a_file = tmp_path / "a-file"
    a_file.write_text("x")
    (models / "keep").mkdir()
    before = sorted(p.name for p in models.iterdir())
    argv = [f.replace("{file}", str(a_file)).replace("{dir}", str(tmp_path)) for f in flags]
    outcome: Outcome = assistant(capsys, "train", "--data", str(tmp_path / "missing.jsonl"), *argv)
    assert_one_line_failure(outcome, fragment)
    assert sorted(p.name for p in models.iterdir()) == before
    assert a_file.read_text() == "x"


@pytest.mark.parametrize("name", ["notes.txt", "data"])
def test_a_data_file_of_no_data_format_is_refused_before_any_progress(name, tiny_model_dir, models, tmp_path, capsys):
    data = tmp_path / name
    data.write_text("just some text\n")
    argv = ["--data", str(data), "--base", str(tiny_model_dir), "--device", "cpu"]
    assert_one_line_failure(assistant(capsys, "train", *argv), "unknown data format")
    assert sorted(models.iterdir()) == []


def test_a_base_model_not_cached_while_offline_says_how_to_get_one_but_not_to_train_one(models, tmp_path, capsys):
    from tests.synthetic import make_examples, write_jsonl

    data = write_jsonl(tmp_path / "train.jsonl", make_examples(8))
    argv = ["--data", str(data), "--base", "nobody/not-a-cached-model", "--device", "cpu"]
    said = assert_one_line_failure(assistant(capsys, "train", *argv), "not in the local cache", "local model directory")
    assert "assistant train" not in said and sorted(models.iterdir()) == []


def test_validate_accepts_the_defaults():
    TrainConfig().validate()
    TrainConfig(max_steps=10, stride=0, workers=0, test_size=0.5, output=None).validate()


def test_a_failed_training_removes_the_folder_it_made(tiny_model_dir, models, tmp_path):
    result = run_training(TrainConfig(base_model=str(tiny_model_dir), data=str(tmp_path / "missing.jsonl")))
    assert result.status is RunStatus.FAILED and "missing.jsonl" in result.message
    assert not result.path.exists() and list(models.iterdir()) == []


def test_a_failed_resume_keeps_the_existing_folder(tiny_model_dir, tmp_path):
    out = tmp_path / "existing"
    out.mkdir()
    mark(out, "run")
    (out / "run.json").write_text(json.dumps({"status": "failed", "started_at": "2020-01-01T00:00:00"}))
    config = TrainConfig(base_model=str(tiny_model_dir), data=str(tmp_path / "missing.jsonl"), output=str(out))
    config.resume = True
    assert run_training(config).status is RunStatus.FAILED
    run = json.loads((out / "run.json").read_text())
    assert run["status"] == "failed" and run["started_at"] == "2020-01-01T00:00:00" and run["pid"] == os.getpid()


def test_resuming_a_live_run_is_refused(tiny_model_dir, tmp_path):
    out = tmp_path / "live"
    live = {"pid": os.getpid(), "hostname": socket.gethostname(), "heartbeat": time.time()}
    mark(_run(tmp_path, "live", None, status="running", **live), "run")
    config = TrainConfig(base_model=str(tiny_model_dir), data="x.jsonl", output=str(out), resume=True)
    with pytest.raises(UserError, match="still being trained"):
        run_training(config)


# --- run folder pieces ---------------------------------------------------------------------------------------


def test_resuming_a_run_removes_temp_files_of_killed_writes(tmp_path):
    out = tmp_path / "run"
    out.mkdir()
    (out / ".run.json.abc123.tmp").write_text('{"status": "runn')  # an earlier version's temporary
    (out / f".run.json.tmp-{_dead_pid()}-0a1b2c3d").write_text('{"status": "runn')
    (out / f".metrics.json.tmp-{os.getpid()}-0a1b2c3d").write_text("{}")  # a live writer's: kept
    (out / "run.json").write_text('{"status": "interrupted"}')
    mark(out, "run")
    open_resume(out, {}).close()
    assert sorted(p.name for p in out.iterdir()) == [
        ".doc-assistant",
        ".lock",
        f".metrics.json.tmp-{os.getpid()}-0a1b2c3d",
        "run.json",
    ]


def _checkpoint(root: Path, step: int, state: str = '{"global_step": 1}', weights: bytes | None = None) -> Path:
    path = root / f"checkpoint-{step}"
    path.mkdir(parents=True)
    (path / "trainer_state.json").write_text(state)
    if weights is None:
        import torch

        save_file({"w": torch.zeros(2)}, str(path / "model.safetensors"))
    else:
        (path / "model.safetensors").write_bytes(weights)
    return path


def test_an_interrupted_launch_says_whether_resume_continues_or_starts_over(tmp_path):
    from trainer.train import how_to_resume

    run = tmp_path / "run"
    (run / "checkpoints" / "checkpoint-7").mkdir(parents=True)  # begun, never written whole
    assert "before its first checkpoint" in how_to_resume(run, run / "checkpoints")
    assert f"--resume --output {run}" in how_to_resume(run, run / "checkpoints")
    _checkpoint(run / "checkpoints", 10)
    assert how_to_resume(run, run / "checkpoints") == f"continue it with the same launcher and --resume --output {run}"


def test_resume_picks_the_newest_whole_checkpoint(tmp_path):
    good = _checkpoint(tmp_path, 10)
    _checkpoint(tmp_path, 20, weights=b"\x10\x00\x00\x00\x00\x00\x00\x00{")
    _checkpoint(tmp_path, 30, state='{"global_step": ')
    _checkpoint(tmp_path, 40, state="[]")
    (tmp_path / "checkpoint-abc").mkdir()
    (tmp_path / "checkpoint-50").mkdir()
    path, skipped = resumable_checkpoint(tmp_path)
    assert path == good
    assert [s.split()[0] for s in skipped] == ["checkpoint-50", "checkpoint-40", "checkpoint-30", "checkpoint-20"]
    assert resumable_checkpoint(tmp_path / "none") == (None, [])


def test_history_spans_processes_and_drops_what_a_resume_replays():
    events = [
        {"phase": "train", "step": 0, "total": 20},
        *({"phase": "train", "step": s, "loss": 10.0 - s} for s in range(1, 9)),
        {"phase": "eval", "step": 5, "epoch": 1.0, "exact_match": 1.0, "f1": 2.0},
        {"phase": "train", "message": "resuming from checkpoint-5"},
        {"phase": "train", "step": 5, "total": 20},  # the second process starts at its checkpoint
        *({"phase": "train", "step": s, "loss": 100.0 + s} for s in range(6, 21)),
        {"phase": "eval", "step": 20, "epoch": 4.0, "exact_match": 3.0, "f1": 4.0},
        {"phase": "train", "step": "x", "loss": "nan"},
    ]
    losses, evals = history_from_events(e for e in map(RunEvent.from_json, events) if e is not None)
    assert sorted(losses) == list(range(1, 21))
    assert losses[5] == 5.0 and losses[6] == 106.0
    assert sorted(evals) == [5, 20]


# --- resume end to end ---------------------------------------------------------------------------------------


class _Planted:
    """A pickle that would run code if a checkpoint loader trusted it."""

    @staticmethod
    def target() -> Path:
        return Path(os.environ["ASSISTANT_MODELS_DIR"]).parent / "pwned"

    def __reduce__(self):
        return (Path.touch, (self.target(),))


def test_resume_skips_a_broken_checkpoint_and_keeps_the_whole_loss_curve(tmp_path, capsys):
    """Three processes on one run (about 5 s): a run cancelled at step 11, past checkpoint-10, a resume that meets a
    planted pickle, and a resume past a truncated trainer_state.json whose metrics still hold the first losses."""
    from tests.helpers import save_tiny_model
    from tests.synthetic import VOCAB, make_examples, write_jsonl

    base = save_tiny_model(tmp_path / "base", VOCAB, dim=32, layers=1, heads=2, max_positions=128)
    train = write_jsonl(tmp_path / "train.jsonl", make_examples(200, seed=0))
    test = write_jsonl(tmp_path / "test.jsonl", make_examples(20, seed=1))
    out = tmp_path / "run"
    settings = {
        "base_model": str(base),
        "data": str(train),
        "eval_data": str(test),
        "output": str(out),
        "max_length": 64,
        "stride": 16,
        "batch_size": 8,
        "learning_rate": 1e-3,
        "save_steps": 5,
        "logging_steps": 1,
        "sanity_steps": 1000,
        "max_steps": 16,
    }
    token = CancelToken()

    def stop_after_ten(event: RunEvent) -> None:
        if event.step == 11 and event.loss is not None:
            token.request("SIGTERM")

    first = run_training(TrainConfig(**settings), stop_after_ten, token)
    assert first.status is RunStatus.CANCELLED, first.message
    checkpoints = out / "checkpoints"
    assert (checkpoints / "checkpoint-10").is_dir()

    (checkpoints / "checkpoint-10" / "optimizer.pt").write_bytes(pickle.dumps(_Planted(), protocol=4))
    planted = assistant(capsys, "train", "--resume", f"--output={out}", "--events-only")  # the run's own settings
    assert_one_line_failure(planted, "checkpoint-10", "cannot be loaded")
    assert json.loads((out / "run.json").read_text())["status"] == "failed" and not _Planted.target().exists()

    state = checkpoints / "checkpoint-10" / "trainer_state.json"
    state.write_text(state.read_text()[:40])
    events: list[RunEvent] = []
    resumed = run_training(TrainConfig(**settings, resume=True), events.append)
    assert resumed.status is RunStatus.COMPLETED, resumed.message
    messages = [e.message or "" for e in events]
    assert any("skipping broken checkpoint checkpoint-10" in m for m in messages)
    assert "resuming from checkpoint-5" in messages
    first_step = next(e.step for e in events if e.is_step)
    assert first_step == 5  # the third process never logged steps 1-5 itself
    metrics = json.loads((out / "metrics.json").read_text())
    assert [step for step, _ in metrics["loss_curve"]] == list(range(1, 17))
    assert metrics["global_step"] == 16 and metrics["eval_per_epoch"][-1]["step"] == 16


# --- the run directory's schema --------------------------------------------------------------------------------

_JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=20,
)
_RUN_KEYS = [*RunRecord().to_json(), "status", "name", "pid", "heartbeat", "train_data", "eval_data", "error"]
_METRIC_KEYS = [*RunMetrics().to_json(), "eval", "int8", "global_step", "wall_time_s", "eval_report"]
_SUB_KEYS = ["exact_match", "f1", "total", "step", "epoch", "source", "extra", "examples", "version_2"]


def _objects(keys: list[str]) -> st.SearchStrategy[dict]:
    named = st.dictionaries(st.sampled_from(keys), _JSON | st.dictionaries(st.sampled_from(_SUB_KEYS), _JSON))
    return named | _JSON


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(run=_objects(_RUN_KEYS), metrics=_objects(_METRIC_KEYS))
def test_the_schema_reads_anything_and_writes_back_what_it_read(run, metrics):
    for kind, data in ((RunRecord, run), (RunMetrics, metrics)):
        record = kind.from_json(data)
        written = json.loads(json.dumps(record.to_json()))
        assert kind.from_json(written) == record


def test_the_schema_keeps_what_the_trainer_writes():
    metrics = RunMetrics(
        eval=EvalScores(exact_match=90.0, f1=95.5, total=120, more={"HasAns_f1": 97.0}),
        eval_per_epoch=[EpochEval(step=10, epoch=1.0, exact_match=80.0, f1=85.0, more={"total": 120})],
        loss_curve=[(1, 5.5), (2, 4.25)],
        train_windows=640,
        global_step=10,
        int8=EvalScores(exact_match=89.0, f1=95.0, more={"f1_delta": -0.5, "how": "load with --int8"}),
        more={"written_by": "a future version"},
    )
    assert RunMetrics.from_json(json.loads(json.dumps(metrics.to_json()))) == metrics
    record = RunRecord(
        name="run",
        status=RunStatus.FAILED,
        error="boom",
        settings={"epochs": 2},
        pid=12,
        heartbeat=1.5,
        train_data=DataRecord(source="train.jsonl", fingerprint="sha256:x", examples=3, windows=4),
        eval_data=DataRecord(source="test.jsonl", examples=2, version_2=True),
        more={"note": "by hand"},
    )
    assert RunRecord.from_json(json.loads(json.dumps(record.to_json()))) == record
    assert RunRecord.from_json({}).status is None and RunRecord.from_json({"status": [1]}).status is RunStatus.UNKNOWN


def _small_run(tmp_path: Path, **kw) -> TrainConfig:
    from tests.helpers import save_tiny_model
    from tests.synthetic import VOCAB, make_examples, write_jsonl

    base = save_tiny_model(tmp_path / "base", VOCAB, dim=32, layers=1, heads=2, max_positions=128)
    settings = {"max_length": 64, "stride": 16, "batch_size": 8, "logging_steps": 1, "sanity_steps": 1000}
    return TrainConfig(
        base_model=str(base),
        data=str(write_jsonl(tmp_path / "train.jsonl", make_examples(80, seed=0))),
        eval_data=str(write_jsonl(tmp_path / "test.jsonl", make_examples(8, seed=1))),
        output=str(tmp_path / "run"),
        **(settings | kw),
    )


def test_a_cancel_request_stops_at_a_step_boundary_and_the_run_directory_says_so(tmp_path):
    """run_training takes a cancel token (the CLI's signal handlers set it): the loop stops after the step
    during which it was set, and run.json and events.jsonl hold the outcome; no weights are saved."""
    token = CancelToken()
    seen: list[RunEvent] = []

    def sink(event: RunEvent) -> None:
        seen.append(event)
        if event.loss is not None:
            token.request("SIGTERM")

    result = run_training(_small_run(tmp_path, epochs=20), sink, token)
    assert result.status is RunStatus.CANCELLED
    out = tmp_path / "run"
    run = json.loads((out / "run.json").read_text())
    assert run["status"] == "cancelled" and run["error"] == "cancelled by the user"
    events = [json.loads(line) for line in (out / "events.jsonl").read_text().splitlines()]
    assert events[-1]["phase"] == "cancelled" and events == json.loads(
        json.dumps([e.to_json() for e in seen])
    )  # the file's
    steps = [e["step"] for e in events if e.get("loss") is not None]
    assert steps == [1] and not (out / "model.safetensors").exists()


# --- deleting a run --------------------------------------------------------------------------------------------

DELETE_REFUSED = {
    "good": "active reader",
    "running": "still running",
    "link-out": "outside",
    "alias": "is a link",
    "plain": "not a run folder",
    "../x": "not a path",
    "a-file": "No run named",
    "missing": "No run named",
    "": "is empty",
}


@pytest.mark.parametrize("name", list(DELETE_REFUSED))
def test_deleting_refuses_the_active_a_running_and_anything_not_a_run_folder_inside_models(name, runs, models):
    from assistant.runs.registry import delete_run

    (models / "alias").symlink_to(models / "other", target_is_directory=True)
    (models / "plain").mkdir()
    (models / "plain" / "notes.txt").write_text("mine")
    before = sorted(p.name for p in models.iterdir())
    with pytest.raises(UserError, match=DELETE_REFUSED[name]):
        delete_run(name)
    assert sorted(p.name for p in models.iterdir()) == before
    assert (runs / "model.safetensors").exists() and (models / "other" / "model.safetensors").exists()


@pytest.mark.parametrize("name", ["other", "failed", "killed", "weightless"])
def test_deleting_a_run_removes_its_folder_and_nothing_else(name, runs, models):
    from assistant.runs.registry import delete_run

    others = sorted(p.name for p in models.iterdir() if p.name != name)
    assert delete_run(name) == models / name
    assert sorted(p.name for p in models.iterdir()) == others  # no hidden leftover either
    assert name not in {r.name for r in list_runs()} and active_run_name() == "good"


def test_a_run_on_annotations_replays_its_base_readers_local_data_only(tmp_path):
    from assistant.runs.annotation_training import replay_source

    squad = tmp_path / "squad.json"
    squad.write_text("{}", encoding="utf-8")

    def run(name: str, **settings: object) -> str:
        folder = tmp_path / name
        folder.mkdir()
        (folder / "run.json").write_text(json.dumps({"settings": settings}), encoding="utf-8")
        return str(folder)

    assert replay_source(run("local", data=str(squad))) == str(squad)
    notes = tmp_path / "notes.jsonl"
    notes.write_text("", encoding="utf-8")
    chained = run("chained", data=str(notes), replay_data=str(squad))
    assert replay_source(chained) == str(squad), "a run that learned from annotations replays what its base replayed"
    assert replay_source(run("hub", data="rajpurkar/squad")) is None
    assert replay_source(run("moved", data=str(tmp_path / "gone.json"))) is None
    assert replay_source(str(tmp_path / "no-run")) is None
    assert replay_source("distilbert/distilbert-base-uncased") is None
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "run.json").write_text("{not json", encoding="utf-8")
    assert replay_source(str(broken)) is None
