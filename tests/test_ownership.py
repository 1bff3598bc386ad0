"""Ownership: the program writes only into what it created and marked as its own, one writer at a time; a write
is atomic, goes through a symlink to the file it names, and never replaces a special file."""

from __future__ import annotations

import json
import multiprocessing
import os
import shutil
import socket
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from assistant.core import files, ownership
from assistant.core.errors import UserError
from tests.bad_inputs import assert_one_line_failure, assistant

QUESTION = "where did the cat sit?"


def _data(tmp_path: Path) -> Path:
    row = {"id": "1", "question": QUESTION, "context": "The cat sat on the mat.", "answers": {"text": ["the mat"]}}
    row["answers"]["answer_start"] = [15]
    path = tmp_path / "data.jsonl"
    path.write_text(json.dumps(row) + "\n", encoding="utf-8")
    return path


def _snapshot(folder: Path) -> dict[str, bytes | str]:
    """Every file (its bytes) and folder under ``folder``."""
    seen: dict[str, bytes | str] = {}
    for path in sorted(folder.rglob("*")):
        seen[str(path.relative_to(folder))] = path.read_bytes() if path.is_file() else "dir"
    return seen


# --- run folders -------------------------------------------------------------------------------------------------


def _users_model_folder(tmp_path: Path, tiny: Path) -> Path:
    folder = shutil.copytree(tiny, tmp_path / "my-model")
    (folder / "README.md").write_text("my notes", encoding="utf-8")
    (folder / "checkpoints").mkdir()
    (folder / "checkpoints" / "keep.txt").write_text("mine", encoding="utf-8")
    return folder


@pytest.mark.parametrize(
    "what",
    ["a model folder", "a folder with a run.json of another program", "a symlink to a run", "a file"],
)
def test_resume_refuses_anything_but_a_run_it_made_and_changes_nothing(what, tmp_path, tiny_model_dir, capsys):
    folder = _users_model_folder(tmp_path, tiny_model_dir)
    if what == "a folder with a run.json of another program":
        (folder / "run.json").write_text(json.dumps({"status": "ok", "owner": "someone"}), encoding="utf-8")
    elif what == "a symlink to a run":
        run = tmp_path / "run"
        run.mkdir()
        ownership.mark(run, "run")
        (run / "run.json").write_text(json.dumps({"status": "interrupted"}), encoding="utf-8")
        folder = tmp_path / "link"
        folder.symlink_to(run, target_is_directory=True)
    elif what == "a file":
        folder = tmp_path / "a-file"
        folder.write_text("x", encoding="utf-8")
    before = _snapshot(tmp_path)
    argv = ["train", "--resume", "--output", str(folder), "--base", str(tiny_model_dir), "--data", str(_data(tmp_path))]
    after_data = _snapshot(tmp_path)
    outcome = assistant(capsys, *argv, "--max-steps", "1")
    assert_one_line_failure(outcome, str(folder))
    assert _snapshot(tmp_path) == after_data and set(after_data) - set(before) == {"data.jsonl"}


def _run_folder(tmp_path: Path, status: str, **run: object) -> Path:
    folder = tmp_path / "run"
    folder.mkdir()
    ownership.mark(folder, "run")
    (folder / "run.json").write_text(json.dumps({"status": status, **run}), encoding="utf-8")
    return folder


def test_a_failed_run_leaves_an_empty_output_folder_it_was_given_as_it_was(tmp_path, tiny_model_dir, capsys):
    given = tmp_path / "empty-for-the-run"
    given.mkdir()
    missing = tmp_path / "missing.jsonl"
    outcome = assistant(capsys, "train", "--base", str(tiny_model_dir), "--data", str(missing), "--output", str(given))
    assert_one_line_failure(outcome, "missing.jsonl")
    assert given.is_dir() and list(given.iterdir()) == []


@pytest.mark.parametrize("status", ["completed", "unknown-status"])
def test_resume_refuses_a_run_that_cannot_continue(status, tmp_path, tiny_model_dir, capsys):
    """A completed run (perhaps the active reader) is never reopened: a ctrl+c would have turned it "cancelled"."""
    folder = _run_folder(tmp_path, status, settings={"base_model": str(tiny_model_dir)})
    before = _snapshot(folder)
    outcome = assistant(capsys, "train", "--resume", "--output", str(folder), "--events-only")
    assert_one_line_failure(outcome, "--resume")
    assert _snapshot(folder) == before


def test_resume_refuses_other_settings_and_takes_the_runs_own(tmp_path, tiny_model_dir, capsys):
    from trainer.cli import build_parser, config_from_args

    folder = _run_folder(tmp_path, "interrupted", settings={"base_model": "base-a", "learning_rate": 1e-4, "seed": 3})
    config = config_from_args(build_parser().parse_args(["--resume", "--output", str(folder)]))
    assert (config.base_model, config.learning_rate, config.seed) == ("base-a", 1e-4, 3)
    outcome = assistant(capsys, "train", "--resume", "--output", str(folder), "--lr", "0.1")
    assert_one_line_failure(outcome, "--learning-rate", "keeps its settings")


def test_resume_under_a_launch_of_another_size_says_how_many_processes_trained_it(tmp_path, capsys, monkeypatch):
    """The size may come from a launcher's WORLD_SIZE, not a flag: the sentence names both ways to give it."""
    folder = _run_folder(tmp_path, "interrupted", settings={"base_model": "base-a", "nproc": 1})
    for name, value in {"WORLD_SIZE": "2", "RANK": "0", "MASTER_ADDR": "127.0.0.1"}.items():
        monkeypatch.setenv(name, value)
    outcome = assistant(capsys, "train", "--resume", "--output", str(folder))
    assert_one_line_failure(outcome, "trained by 1 process(es), not 2", "WORLD_SIZE")


def test_of_several_trainers_started_on_one_folder_exactly_one_gets_it(tmp_path):
    ctx = multiprocessing.get_context("fork")
    target = tmp_path / "run"
    results: multiprocessing.Queue = ctx.Queue()
    release: multiprocessing.Queue = ctx.Queue()
    workers = [ctx.Process(target=_claim_and_wait, args=(str(target), results, release)) for _ in range(6)]
    for worker in workers:
        worker.start()
    outcomes = [results.get(timeout=60) for _ in workers]
    for _ in workers:
        release.put("go")
    for worker in workers:
        worker.join(timeout=60)
    assert [kind for kind, _ in outcomes].count("opened") == 1, outcomes
    assert all("already exists" in why or "being trained" in why for kind, why in outcomes if kind == "refused")


def _claim_and_wait(path: str, results: multiprocessing.Queue, release: multiprocessing.Queue) -> None:
    from assistant.runs.opening import open_new

    try:
        run = open_new(Path(path))
    except UserError as exc:
        results.put(("refused", str(exc)))
        return
    results.put(("opened", ""))
    release.get(timeout=60)
    run.close()


def test_a_cache_folder_another_process_is_marking_is_shared_not_refused(tmp_path):
    cache = tmp_path / "onnx"
    cache.mkdir()
    files.temp_path(cache, ownership.MARKER).write_text("{", encoding="utf-8")  # its marker, half written
    assert ownership.claim(cache, "onnx-cache")
    assert ownership.is_ours(cache, "onnx-cache")


def test_parallel_first_runs_all_get_the_shared_cache_folder(tmp_path):
    ctx = multiprocessing.get_context("fork")
    target = tmp_path / "cache" / "onnx"
    results: multiprocessing.Queue = ctx.Queue()
    workers = [ctx.Process(target=_claim_cache, args=(str(target), results)) for _ in range(8)]
    for worker in workers:
        worker.start()
    outcomes = [results.get(timeout=60) for _ in workers]
    for worker in workers:
        worker.join(timeout=60)
    assert outcomes == [True] * len(workers)


def _claim_cache(path: str, results: multiprocessing.Queue) -> None:
    results.put(ownership.claim(Path(path), "onnx-cache"))


def test_a_run_being_trained_cannot_be_resumed_or_deleted(tmp_path, tiny_model_dir, monkeypatch):
    from assistant.runs.opening import open_resume
    from assistant.runs.registry import delete_run

    monkeypatch.setenv("ASSISTANT_MODELS_DIR", str(tmp_path))
    folder = _run_folder(tmp_path, "interrupted")
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import fcntl, sys, time; f = open(sys.argv[1], 'w'); fcntl.flock(f, fcntl.LOCK_EX); "
            "print('held', flush=True); time.sleep(60)",
            str(folder / ".lock"),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        with pytest.raises(ownership.Busy):
            open_resume(folder, {})
        with pytest.raises(UserError, match="still running"):
            delete_run("run")
    finally:
        holder.kill()
        holder.wait()
    open_resume(folder, {}).close()  # the lock died with its holder: a kill -9 never leaves a folder locked


def test_eval_writes_eval_json_only_into_a_run_it_made(tmp_path, tiny_model_dir, capsys):
    users = shutil.copytree(tiny_model_dir, tmp_path / "mine")
    data = _data(tmp_path)
    assert assistant(capsys, "eval", "--model", str(users), "--data", str(data)).code == 0
    assert not (users / "eval.json").exists()
    run = shutil.copytree(tiny_model_dir, tmp_path / "run")
    ownership.mark(run, "run")
    (run / "run.json").write_text(json.dumps({"status": "completed"}), encoding="utf-8")
    assert assistant(capsys, "eval", "--model", str(run), "--data", str(data)).code == 0
    assert json.loads((run / "eval.json").read_text())["questions"] == 1


# --- writes --------------------------------------------------------------------------------------------------------


def _special(kind: str, path: Path) -> Path:
    if kind == "fifo":
        os.mkfifo(path)
    elif kind == "socket":
        sock = socket.socket(socket.AF_UNIX)
        sock.bind(str(path))
        sock.close()
    elif kind == "directory":
        path.mkdir()
    elif kind == "link to /dev/null":
        path.symlink_to("/dev/null")
    return path


@pytest.mark.parametrize("kind", ["fifo", "socket", "directory", "link to /dev/null"])
@pytest.mark.parametrize("write", ["write_text", "write_json", "append_line"])
def test_a_write_never_replaces_a_special_file(kind, write, tmp_path):
    path = _special(kind, tmp_path / "target")
    mode = os.lstat(path).st_mode
    with pytest.raises(files.WRITE_ERRORS):
        {"write_text": lambda: files.write_text(path, "x"), "write_json": lambda: files.write_json(path, {})}.get(
            write, lambda: files.append_line(path, "x")
        )()
    assert os.lstat(path).st_mode == mode and not list(tmp_path.glob(".*tmp*"))


@pytest.mark.parametrize("kind", ["fifo", "link to /dev/null"])
def test_eval_output_over_a_special_file_is_refused_before_work(kind, tmp_path, tiny_model_dir, capsys):
    target = _special(kind, tmp_path / "out.json")
    mode = os.lstat(target).st_mode
    outcome = assistant(
        capsys, "eval", "--model", str(tiny_model_dir), "--data", str(_data(tmp_path)), "--output", str(target)
    )
    assert_one_line_failure(outcome, "not a regular file")
    assert os.lstat(target).st_mode == mode and outcome.out == ""


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    old=st.binary(max_size=200),
    new=st.text(st.characters(exclude_categories=["Cs"]), max_size=200),
    mode=st.sampled_from([0o600, 0o644, 0o640]),
)
def test_an_atomic_write_through_a_dotfile_link_keeps_the_link_and_the_mode(old, new, mode, tmp_path):
    real = tmp_path / "dotfiles" / "settings.toml"
    real.parent.mkdir(exist_ok=True)
    real.write_bytes(old)
    real.chmod(mode)
    link = tmp_path / "settings.toml"
    link.unlink(missing_ok=True)
    link.symlink_to(real)
    files.write_text(link, new)
    assert link.is_symlink() and real.read_bytes().decode("utf-8", "surrogatepass") == new
    assert stat.S_IMODE(real.stat().st_mode) == mode
    assert not [p for p in real.parent.iterdir() if p.name.startswith(".")]


def test_a_file_the_program_names_itself_replaces_a_link_there_and_never_writes_through_it(tmp_path):
    victim = tmp_path / "elsewhere" / "passwd"
    victim.parent.mkdir()
    victim.write_text("root:x:0:0\n", encoding="utf-8")
    planted = tmp_path / "eval.predictions.json"
    planted.symlink_to(victim)
    files.write_json(planted, {"q1": "an answer"}, follow=False)
    assert victim.read_text(encoding="utf-8") == "root:x:0:0\n"
    assert not planted.is_symlink() and json.loads(planted.read_text(encoding="utf-8")) == {"q1": "an answer"}


def test_saving_settings_keeps_a_dotfile_symlink(tmp_path):
    from assistant.settings import Settings

    real = tmp_path / "dotfiles" / "settings.toml"
    real.parent.mkdir()
    real.write_text("top_k = 2\n", encoding="utf-8")
    path = Settings.path()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.symlink_to(real)
    saved = Settings.load()
    saved.top_k = 5
    saved.save()
    assert path.is_symlink() and Settings.load().top_k == 5 and "top_k = 5" in real.read_text(encoding="utf-8")


def test_temporaries_a_kill_left_are_swept_and_a_live_writers_are_kept(tmp_path):
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    dead_pid = int(dead.stdout)
    left = tmp_path / f".run.json.tmp-{dead_pid}-00aa11bb"
    left.write_text("{", encoding="utf-8")
    half = tmp_path / f".abcdef.tmp-{dead_pid}-00aa11cc"
    half.mkdir()
    live = files.temp_path(tmp_path, "metrics.json")
    live.write_text("{", encoding="utf-8")
    assert sorted(files.sweep_temps(tmp_path)) == sorted([left, half])
    assert live.exists()


def test_a_kill_in_the_middle_of_a_write_leaves_the_old_file(tmp_path):
    """The write is killed (SIGKILL) after the temporary is written and before the rename: the old file is whole."""
    target = tmp_path / "state.json"
    target.write_text('{"old": true}', encoding="utf-8")
    script = (
        "import os, signal, sys\n"
        "from pathlib import Path\n"
        "from assistant.core import files\n"
        "real_replace = os.replace\n"
        "os.replace = lambda *a: os.kill(os.getpid(), signal.SIGKILL)\n"
        f"files.write_json(Path({str(target)!r}), {{'new': True}})\n"
    )
    proc = subprocess.run([sys.executable, "-c", script], cwd=Path(__file__).resolve().parent.parent)
    assert proc.returncode == -9
    assert json.loads(target.read_text(encoding="utf-8")) == {"old": True}
    assert files.sweep_temps(tmp_path), "the temporary it left is recognised and swept"
