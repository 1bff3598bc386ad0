"""`torchrun --nproc_per_node 2 -m trainer` (gloo, on the CPU): one run folder written by rank 0 alone, its events
and metrics whole, one evaluation, and the optimizer steps and learning-rate schedule of one process at the same
global batch."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.helpers import save_tiny_model
from tests.synthetic import VOCAB, make_examples, write_jsonl

TORCHRUN = shutil.which("torchrun", path=str(Path(sys.executable).parent))
TINY = ["--epochs", "1", "--max-length", "64", "--stride", "16", "--device", "cpu", "--events-only"]
TINY += ["--sanity-steps", "100000", "--save-steps", "100000"]


@pytest.fixture(scope="module")
def inputs(tmp_path_factory) -> tuple[Path, Path]:
    root = tmp_path_factory.mktemp("distributed")
    base = save_tiny_model(root / "base", VOCAB, dim=32, layers=1, heads=2, max_positions=128)
    return base, write_jsonl(root / "train.jsonl", make_examples(240))


WITH_PROC = pytest.mark.skipif(TORCHRUN is None or not Path("/proc/self/stat").exists(), reason="needs torchrun, /proc")


@pytest.fixture(scope="module")
def long_inputs(tmp_path_factory) -> tuple[Path, Path]:
    """A run long enough to be stopped after its first checkpoint: 1,080 windows, 68 steps an epoch."""
    root = tmp_path_factory.mktemp("long")
    base = save_tiny_model(root / "base", VOCAB, dim=32, layers=1, heads=2, max_positions=128)
    return base, write_jsonl(root / "train.jsonl", make_examples(1200))


def _environment() -> dict[str, str]:
    return os.environ | {"HF_HUB_OFFLINE": "1", "OMP_NUM_THREADS": "1"}


FIRST_CHECKPOINT = ["--save-steps", "8"]
"""A checkpoint early in the run: the tests that stop a launch stop it once it has one."""


def _started_until_a_checkpoint(argv: list[str], run: Path, **pipes) -> subprocess.Popen:
    """A training launched in the background, once it has saved its first checkpoint (``FIRST_CHECKPOINT``)."""
    launcher = subprocess.Popen(argv, env=_environment(), **pipes)
    deadline = time.time() + 300
    while not (run / "checkpoints" / f"checkpoint-{FIRST_CHECKPOINT[1]}").exists():
        assert launcher.poll() is None and time.time() < deadline, "no checkpoint before the run ended"
        time.sleep(0.2)
    return launcher


def _train(launcher: list[str], base: Path, data: Path, output: Path, batch: int) -> subprocess.CompletedProcess[str]:
    argv = [*launcher, "--base", str(base), "--data", str(data), "--output", str(output), "--batch-size", str(batch)]
    return subprocess.run([*argv, *TINY], capture_output=True, text=True, timeout=600, env=_environment())


def _children(pid: int) -> list[int]:
    """The processes ``pid`` started (the launcher's ranks), from /proc."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            found.append(int(stat.parent.name))
    return found


def _alive(pid: int) -> bool:
    """Running: not gone, and not a zombie its new parent has yet to reap."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return False


def _events(run: Path) -> list[dict]:
    return [json.loads(line) for line in (run / "events.jsonl").read_text(encoding="utf-8").splitlines()]


@pytest.mark.slow
@pytest.mark.skipif(TORCHRUN is None, reason="torchrun is not installed beside this Python")
def test_two_processes_train_one_run_as_one_process_would(inputs, tmp_path):
    base, data = inputs
    assert TORCHRUN is not None
    two = _train([TORCHRUN, "--standalone", "--nproc_per_node", "2", "-m", "trainer"], base, data, tmp_path / "two", 8)
    assert two.returncode == 0, two.stderr[-2000:]
    assert (two.stdout + two.stderr).count("done: ") == 1  # rank 0 reports; rank 1 says nothing
    one = _train([sys.executable, "-m", "trainer"], base, data, tmp_path / "one", 16)
    assert one.returncode == 0, one.stderr[-2000:]

    run, alone = tmp_path / "two", tmp_path / "one"
    assert json.loads((run / "run.json").read_text())["status"] == "completed"
    metrics, metrics_alone = (json.loads((r / "metrics.json").read_text()) for r in (run, alone))
    assert metrics["global_step"] == metrics_alone["global_step"] > 1
    events, events_alone = _events(run), _events(alone)
    steps = [e["step"] for e in events if e["phase"] == "train" and "loss" in e]
    assert steps == sorted(set(steps))  # each step logged once, by one process
    schedule = [e.get("learning_rate") for e in events if e["phase"] == "train"]
    assert schedule == [e.get("learning_rate") for e in events_alone if e["phase"] == "train"]
    evaluations = [e for e in events if e["phase"] == "eval" and "f1" in e]
    assert len(evaluations) == len([e for e in events_alone if e["phase"] == "eval" and "f1" in e])
    assert evaluations[-1]["f1"] == metrics["eval"]["f1"]
    printed = [line for line in two.stdout.splitlines() if line.startswith("{")]
    assert len(printed) == len(events)  # every event shown once, not once per process


@pytest.mark.slow
@WITH_PROC
def test_a_rank_killed_leaves_the_run_interrupted_and_resume_under_the_launcher_finishes_it(long_inputs, tmp_path):
    import signal

    base, data = long_inputs
    run = tmp_path / "run"
    launch = [TORCHRUN, "--standalone", "--nproc_per_node", "2", "-m", "trainer"]
    argv = [*launch, "--base", str(base), "--data", str(data), "--output", str(run), "--batch-size", "8"]
    argv += [*TINY, *FIRST_CHECKPOINT]
    launcher = _started_until_a_checkpoint(argv, run, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    (rank_1,) = [p for p in _children(launcher.pid) if b"\0RANK=1\0" in b"\0" + Path(f"/proc/{p}/environ").read_bytes()]
    os.kill(rank_1, signal.SIGKILL)  # the process that does not write the run
    _, err = launcher.communicate(timeout=300)
    assert launcher.returncode != 0
    record = json.loads((run / "run.json").read_text())
    assert record["status"] == "interrupted" and "--resume --output" in record["error"]
    assert f"--resume --output {run}" in err

    resumed = subprocess.run(
        [*launch, "--resume", "--output", str(run), "--events-only"],
        capture_output=True,
        text=True,
        timeout=600,
        env=_environment(),
    )
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    assert "resuming from checkpoint-" in resumed.stdout
    assert json.loads((run / "run.json").read_text())["status"] == "completed"
    assert json.loads((run / "metrics.json").read_text())["global_step"] == 68  # 1,080 windows, 16 a step


@pytest.mark.parametrize(
    ("environment", "writes"),
    [
        ({}, True),
        ({"RANK": "3"}, True),
        ({"RANK": "0", "WORLD_SIZE": "2"}, True),
        ({"RANK": "1", "WORLD_SIZE": "2"}, False),
    ],
)
def test_only_rank_0_of_a_launch_writes_the_run(monkeypatch, environment, writes):
    """A RANK left in the environment without a launch (some clusters set one) does not silence a lone trainer."""
    from assistant.runs.config import writes_the_run

    for name in ("RANK", "WORLD_SIZE"):
        monkeypatch.delenv(name, raising=False)
    for name, value in environment.items():
        monkeypatch.setenv(name, value)
    assert writes_the_run() is writes


@pytest.mark.slow
@pytest.mark.skipif(TORCHRUN is None, reason="torchrun is not installed beside this Python")
def test_assistant_train_nproc_launches_the_processes_itself(inputs, tmp_path):
    base, data = inputs
    run = _train([sys.executable, "-m", "assistant", "train", "--nproc", "2"], base, data, tmp_path / "run", 8)
    assert run.returncode == 0, run.stderr[-2000:]
    assert (run.stdout + run.stderr).count("done: ") == 1
    metrics = json.loads((tmp_path / "run" / "metrics.json").read_text())
    record = json.loads((tmp_path / "run" / "run.json").read_text())
    assert metrics["global_step"] == -(-record["train_data"]["windows"] // 16)  # 2 processes × 8 a step, one epoch
    assert record["settings"]["nproc"] == 2  # what --resume relaunches
    assert "Traceback" not in run.stderr and not re.search(r"^[WE]\d{4} ", run.stderr, re.MULTILINE)  # torch's logs


@pytest.mark.slow
@WITH_PROC
def test_ranks_die_with_a_killed_launcher_and_the_run_is_interrupted(long_inputs, tmp_path):
    import signal

    from assistant.runs.registry import RunStatus, load_run

    base, data = long_inputs
    run = tmp_path / "run"
    argv = [sys.executable, "-m", "assistant", "train", "--nproc", "2", "--base", str(base), "--data", str(data)]
    argv += ["--output", str(run), "--batch-size", "8", *TINY, "--epochs", "30", *FIRST_CHECKPOINT]
    launcher = _started_until_a_checkpoint(argv, run, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 60
    ranks = _children(launcher.pid)
    assert len(ranks) == 2
    os.kill(launcher.pid, signal.SIGKILL)
    launcher.wait(timeout=60)
    while any(_alive(rank) for rank in ranks):  # they die with it, not train on unseen
        assert time.time() < deadline, "ranks outlived their launcher"
        time.sleep(0.2)
    assert load_run(run).status is RunStatus.INTERRUPTED


@pytest.mark.parametrize(
    ("processes", "signal_name", "cancelled_in_the_app", "said"),
    [
        (2, "SIGINT", False, "was stopped by ctrl+c"),
        (2, "SIGTERM", False, "was stopped by a SIGTERM (from its launcher"),
        (2, "SIGTERM", True, None),
        (1, "SIGTERM", False, None),
        (1, "SIGINT", False, None),
    ],
)
def test_a_signal_interrupts_a_launch_unless_the_app_cancelled_it(
    tmp_path, monkeypatch, processes, signal_name, cancelled_in_the_app, said
):
    """torchrun stops the other processes with SIGTERM once one has died (so does a scheduler): their run is
    interrupted, to be resumed. The app's cancel says first, in the run's folder, that it is the user's."""
    from assistant.runs.directory import CANCEL_REQUEST, request_cancel
    from assistant.runs.opening import open_new
    from trainer.train import launch_stop

    monkeypatch.setenv("WORLD_SIZE", str(processes))
    monkeypatch.setenv("RANK", "0")
    run = open_new(tmp_path / "run")
    if cancelled_in_the_app:
        request_cancel(run.path)
    stop = launch_stop(signal_name, run)
    assert (stop is None) if said is None else (stop is not None and stop.startswith(said)), stop
    if processes > 1 and signal_name == "SIGTERM":
        assert not (run.path / CANCEL_REQUEST).exists(), "a request is used once: a later SIGTERM is a stop again"
    run.close()


def test_the_app_says_it_cancels_only_into_a_run_folder(tmp_path):
    from assistant.runs.directory import request_cancel, take_cancel_request

    (tmp_path / "not-a-run").mkdir()
    request_cancel(tmp_path / "not-a-run")
    request_cancel(tmp_path / "nowhere")
    assert list((tmp_path / "not-a-run").iterdir()) == [] and not (tmp_path / "nowhere").exists()
    assert not take_cancel_request(tmp_path / "not-a-run")


@pytest.mark.parametrize("value", ["0", "-2", "100000"])
def test_a_process_count_out_of_range_is_one_sentence(value, capsys):
    from tests.bad_inputs import assert_one_line_failure, assistant

    assert_one_line_failure(assistant(capsys, "train", "--nproc", value, "--data", "nowhere.json"), "--nproc")


def test_nproc_inside_a_launch_is_one_sentence(inputs, tmp_path, monkeypatch, capsys):
    """``--nproc`` given to a process that is already one of a launch (WORLD_SIZE set by a scheduler or a launcher)
    is refused, rather than becoming a process of that launch waiting for the others."""
    from tests.bad_inputs import assert_one_line_failure, assistant

    base, data = inputs
    for name, value in _by_hand(0, _free_port()).items():
        monkeypatch.setenv(name, value)
    outcome = assistant(capsys, "train", "--nproc", "2", "--base", str(base), "--data", str(data), "--output",
                        str(tmp_path / "run"), *TINY)  # fmt: skip
    assert_one_line_failure(outcome, "--nproc starts a launch of its own", "launch of 2", "unset WORLD_SIZE")
    assert not (tmp_path / "run").exists()


@pytest.mark.slow
@WITH_PROC
def test_ctrl_c_leaves_a_launch_interrupted_with_how_to_resume(long_inputs, tmp_path):
    import signal

    base, data = long_inputs
    run = tmp_path / "run"
    argv = [TORCHRUN, "--standalone", "--nproc_per_node", "2", "-m", "trainer", "--base", str(base)]
    argv += ["--data", str(data), "--output", str(run), "--batch-size", "8", *TINY, "--epochs", "30"]
    argv += FIRST_CHECKPOINT
    launcher = _started_until_a_checkpoint(
        argv, run, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True
    )
    os.killpg(launcher.pid, signal.SIGINT)  # what ctrl+c in its terminal sends: to the launcher and every rank
    launcher.wait(timeout=120)
    record = json.loads((run / "run.json").read_text())
    assert record["status"] == "interrupted"
    assert f"--resume --output {run}" in record["error"] and "ctrl+c" in record["error"]


@pytest.mark.slow
@WITH_PROC
def test_a_stop_that_reaches_one_process_of_a_launch_stops_them_all_after_the_same_step(long_inputs, tmp_path):
    """ctrl+c in one rank's terminal (or a signal to one of them): the others learn it at the step's end, instead of
    waiting in the next collective for a process that left."""
    import signal

    base, data = long_inputs
    run = tmp_path / "run"
    argv = [TORCHRUN, "--standalone", "--nproc_per_node", "2", "-m", "trainer", "--base", str(base)]
    argv += ["--data", str(data), "--output", str(run), "--batch-size", "8", *TINY, "--epochs", "30"]
    argv += FIRST_CHECKPOINT
    launcher = _started_until_a_checkpoint(argv, run, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    (rank_0,) = [p for p in _children(launcher.pid) if b"\0RANK=0\0" in b"\0" + Path(f"/proc/{p}/environ").read_bytes()]
    os.kill(rank_0, signal.SIGINT)
    launcher.wait(timeout=120)
    record = json.loads((run / "run.json").read_text())
    assert record["status"] == "interrupted" and f"--resume --output {run}" in record["error"]


def _free_port() -> int:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _by_hand(rank: int, port: int) -> dict[str, str]:
    """The variables a cluster's scheduler (or a person) sets for one process of a launch, with no launcher."""
    return _environment() | {"WORLD_SIZE": "2", "RANK": str(rank), "MASTER_ADDR": "127.0.0.1", "MASTER_PORT": str(port)}


@pytest.mark.slow
def test_processes_started_by_hand_find_each_other_and_train_one_run(inputs, tmp_path):
    base, data = inputs
    run, port = tmp_path / "run", _free_port()
    argv = [sys.executable, "-m", "trainer", "--base", str(base), "--data", str(data), "--output", str(run)]
    argv += ["--batch-size", "8", *TINY]
    unset = {"OMP_NUM_THREADS": ""}  # `export OMP_NUM_THREADS=`: taken as unset; accelerate chooses, and says nothing
    rank_0 = subprocess.Popen(
        argv, env=_by_hand(0, port) | unset, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    rank_1 = subprocess.run(argv, env=_by_hand(1, port) | unset, capture_output=True, text=True, timeout=600)
    out, err = rank_0.communicate(timeout=600)
    assert rank_0.returncode == 0 and rank_1.returncode == 0, err[-2000:] + rank_1.stderr[-2000:]
    said = rank_1.stderr.splitlines()  # the rank that does not write the run says only that it waits
    assert len(said) == 1 and said[0].startswith("waiting for the 2 processes"), rank_1.stderr[-2000:]
    record = json.loads((run / "run.json").read_text())
    metrics = json.loads((run / "metrics.json").read_text())
    assert metrics["global_step"] == -(-record["train_data"]["windows"] // 16)  # 2 processes × 8 a step
    assert "waiting for the 2 processes of the launch" in out


@pytest.mark.slow
def test_a_process_started_alone_says_what_it_waits_for_and_ctrl_c_stops_it_leaving_nothing(inputs, tmp_path):
    import signal

    base, data = inputs
    run = tmp_path / "run"
    argv = [sys.executable, "-m", "trainer", "--base", str(base), "--data", str(data), "--output", str(run), *TINY]
    alone = subprocess.Popen(argv, env=_by_hand(0, _free_port()), stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert alone.stdout is not None
    import threading

    limit = threading.Timer(120, alone.kill)  # a process that never says it waits ends the loop below, not the suite
    limit.start()
    waiting = next((line for line in alone.stdout if b"waiting for the 2 processes" in line), b"")
    assert b"127.0.0.1:" in waiting
    alone.send_signal(signal.SIGINT)
    _, err = alone.communicate(timeout=60)
    limit.cancel()
    assert alone.returncode == 130 and err.count(b"\n") == 1, err[-2000:]  # as ctrl+c ends every other path
    assert b"before all its processes had joined: nothing was trained; the same command starts it" in err
    assert not run.exists()  # a new run that trained nothing leaves no folder to resume


def test_a_lone_process_of_a_launch_gives_up_waiting_in_one_sentence(monkeypatch):
    from assistant.core.errors import UserError
    from trainer import rendezvous
    from trainer.cancel import CancelToken

    for name, value in _by_hand(1, _free_port()).items():  # rank 1, and no rank 0 serving the launch
        monkeypatch.setenv(name, value)
    monkeypatch.setattr(rendezvous, "JOIN_LIMIT_S", 0.5)
    monkeypatch.setattr(rendezvous, "joins_by_itself", lambda: True)
    with pytest.raises(UserError, match=r"did not join at 127\.0\.0\.1:\d+ within 0 s: start all 2 .*RANK 0 to 1"):
        rendezvous.join_launch("cpu", {}, CancelToken(), lambda waiting: None)


@pytest.fixture
def another_programs_port():
    """A port where a program that is no launch's store listens (and, as a web server does, says nothing first)."""
    import http.server
    import threading

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), http.server.BaseHTTPRequestHandler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server.server_address[1]
    server.shutdown()


def test_a_process_pointed_at_another_programs_port_says_so_in_one_sentence(monkeypatch, another_programs_port):
    from assistant.core.errors import UserError
    from trainer import rendezvous
    from trainer.cancel import CancelToken

    for name, value in _by_hand(1, another_programs_port).items():
        monkeypatch.setenv(name, value)
    monkeypatch.setattr(rendezvous, "GREETING_LIMIT_S", 1.0)
    monkeypatch.setattr(rendezvous, "joins_by_itself", lambda: True)
    with pytest.raises(UserError, match=rf"What listens at 127\.0\.0\.1:{another_programs_port} is not rank 0"):
        rendezvous.join_launch("cpu", {}, CancelToken(), lambda waiting: None)


def test_ctrl_c_stops_a_process_waiting_on_another_programs_port(monkeypatch, another_programs_port):
    import threading

    from trainer import rendezvous
    from trainer.cancel import CancelToken, TrainingCancelled

    for name, value in _by_hand(1, another_programs_port).items():
        monkeypatch.setenv(name, value)
    monkeypatch.setattr(rendezvous, "joins_by_itself", lambda: True)
    cancel = CancelToken()
    said: list[str] = []
    ended: list[BaseException] = []

    def wait() -> None:
        try:
            rendezvous.join_launch("cpu", {}, cancel, said.append)
        except BaseException as exc:
            ended.append(exc)

    waiting = threading.Thread(target=wait, daemon=True)  # a wait deaf to the stop fails the test, not hangs it
    waiting.start()
    deadline = time.monotonic() + 30
    while not said:  # waiting for the greeting, and saying so (ctrl+c stops)
        assert waiting.is_alive() and time.monotonic() < deadline, ended
        time.sleep(0.05)
    assert any(t.name == "launch-store" for t in threading.enumerate()) and "ctrl+c stops" in said[0]
    cancel.request("SIGINT")  # ctrl+c, as the trainer's handler passes it on
    waiting.join(30)
    assert not waiting.is_alive() and isinstance(ended[0], TrainingCancelled)


@pytest.mark.parametrize(
    ("variables", "said"),
    [
        ({"RANK": "2"}, "RANK must be below WORLD_SIZE=2 (got 2)."),
        ({"MASTER_PORT": "70000"}, "MASTER_PORT must be a port number, 1 to 65535 (got '70000')."),
        ({"MASTER_PORT": "http"}, "MASTER_PORT must be a port number, 1 to 65535 (got 'http')."),
        ({"MASTER_ADDR": " "}, "MASTER_ADDR=' ' names no machine this one can find."),
        (
            {"MASTER_ADDR": "no-such-host.invalid"},
            "MASTER_ADDR='no-such-host.invalid' names no machine this one can find.",
        ),
        (
            {"MASTER_ADDR": "192.0.2.1"},  # a documentation address: never this machine's
            "MASTER_ADDR='192.0.2.1' is not an address of this machine, so rank 0 cannot serve the launch there.",
        ),
    ],
)
def test_a_launch_set_by_hand_with_impossible_numbers_is_one_sentence(monkeypatch, variables, said):
    from assistant.core.errors import UserError
    from trainer import rendezvous
    from trainer.cancel import CancelToken

    for name, value in (_by_hand(0, _free_port()) | variables).items():
        monkeypatch.setenv(name, value)
    monkeypatch.setattr(rendezvous, "joins_by_itself", lambda: True)
    with pytest.raises(UserError) as raised:
        rendezvous.join_launch("cpu", {}, CancelToken(), lambda waiting: None)
    assert str(raised.value) == said


_JOINER = """
import json, os, sys, time
from assistant.core.errors import UserError
from trainer import rendezvous
from trainer.cancel import CancelToken

rendezvous.ROLL_CALL_S = 1.0
try:
    rendezvous.join_launch("cpu", json.loads(sys.argv[1]), CancelToken(), lambda said: print(said, flush=True))
except UserError as exc:
    print(f"error: {exc}", file=sys.stderr)
    sys.exit(2)
print("joined", flush=True)
time.sleep(float(sys.argv[2]))  # a launch that goes on: rank 0 keeps serving its store
"""


def _joiner(rank: int, port: int, world: int, settings: dict, linger: float = 0) -> subprocess.Popen[str]:
    """One process of a launch started by hand, that only joins it (the trainer's first step), says so, and stays
    ``linger`` seconds."""
    environment = _by_hand(rank, port) | {"WORLD_SIZE": str(world)}
    argv = [sys.executable, "-c", _JOINER, json.dumps(settings), str(linger)]
    return subprocess.Popen(argv, env=environment, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _wait_until_joined(process: subprocess.Popen[str], port: int, rank: int, world: int) -> None:
    """Until rank ``rank`` has left its mark in rank 0's store (it is then one of the launch, waiting)."""
    deadline = time.monotonic() + 120
    while not _joined(port, rank, world):
        assert time.monotonic() < deadline and process.poll() is None, f"rank {rank} never joined"
        time.sleep(0.1)


def _joined(port: int, rank: int, world: int) -> bool:
    from datetime import timedelta

    from torch._C._distributed_c10d import TCPStore

    store = TCPStore("127.0.0.1", port, world, False, timedelta(seconds=10))
    return store.check([f"assistant-joined/{rank}"])


@pytest.mark.slow
def test_processes_started_with_different_settings_each_say_so_in_one_sentence():
    port = _free_port()
    ranks = [_joiner(0, port, 2, {"batch_size": 8, "device": "cpu"}), _joiner(1, port, 2, {"batch_size": 16})]
    for rank in ranks:
        _, err = rank.communicate(timeout=120)
        assert rank.returncode == 2 and err.count("\n") == 1, err
        assert "started with different settings" in err and "batch_size" in err and "device" not in err


@pytest.mark.slow
def test_a_process_that_joined_and_went_away_is_waited_for_until_it_is_started_again():
    port = _free_port()
    rank_0, rank_1 = _joiner(0, port, 3, {}), _joiner(1, port, 3, {})
    _wait_until_joined(rank_1, port, 1, 3)
    rank_1.kill()
    rank_1.wait()
    rank_2 = _joiner(2, port, 3, {})
    assert rank_0.stdout is not None
    told = next((line for line in rank_0.stdout if "went away" in line), "")
    assert told.startswith("rank 1 joined the launch and went away: start it again")
    again = _joiner(1, port, 3, {})
    for rank in (rank_0, rank_2, again):
        out, err = rank.communicate(timeout=120)
        assert rank.returncode == 0 and "joined" in out.splitlines()[-1:], err[-2000:]


@pytest.mark.slow
def test_a_second_process_given_a_rank_already_held_is_told_so_and_the_launch_goes_on():
    """Two processes given RANK=1: the second is refused in one sentence (both used to pass the roll call, and the
    one torch's process group left out waited for ever, deaf to ctrl+c)."""
    port = _free_port()
    rank_0, rank_1 = _joiner(0, port, 3, {}), _joiner(1, port, 3, {})
    _wait_until_joined(rank_1, port, 1, 3)
    second = _joiner(1, port, 3, {})
    out, err = second.communicate(timeout=120)
    assert second.returncode == 2 and err.count("\n") == 1 and out == "", (out, err[-2000:])
    assert "Rank 1 of the launch at 127.0.0.1" in err and "already held by a running process" in err
    rank_2 = _joiner(2, port, 3, {})
    for rank in (rank_0, rank_1, rank_2):
        out, err = rank.communicate(timeout=120)
        assert rank.returncode == 0 and "joined" in out.splitlines()[-1:], err[-2000:]


@pytest.mark.slow
def test_a_process_whose_rank_0_went_away_says_so_in_one_sentence():
    port = _free_port()
    rank_0, rank_1 = _joiner(0, port, 3, {}), _joiner(1, port, 3, {})  # rank 2 never comes: both wait
    _wait_until_joined(rank_1, port, 1, 3)
    rank_0.kill()
    rank_0.wait()
    _, err = rank_1.communicate(timeout=60)
    assert rank_1.returncode == 2 and err.count("\n") == 1, err[-2000:]  # torch's own warnings not among them
    assert "Rank 0 of the launch at 127.0.0.1" in err and "went away" in err


@pytest.mark.slow
@pytest.mark.skipif(TORCHRUN is None, reason="torchrun is not installed beside this Python")
def test_a_loss_that_does_not_move_stops_every_process_of_a_launch(inputs, tmp_path):
    """The loss the check reads is the launch's (gathered from every process), so every process stops after the same
    step: none is left waiting for the others."""
    base, data = inputs
    assert TORCHRUN is not None
    launcher = [TORCHRUN, "--standalone", "--nproc_per_node", "2", "-m", "trainer"]
    flat = ["--learning-rate", "1e-12", "--sanity-steps", "8", "--logging-steps", "2", "--epochs", "3"]
    argv = [*launcher, "--base", str(base), "--data", str(data), "--output", str(tmp_path / "run"), "--batch-size", "4"]
    ended = subprocess.run([*argv, *TINY, *flat], capture_output=True, text=True, timeout=300, env=_environment())
    record = json.loads((tmp_path / "run" / "run.json").read_text())
    assert ended.returncode != 0 and record["status"] == "failed", ended.stderr[-2000:]
    assert "loss has not moved" in record["error"]


@pytest.mark.slow
def test_processes_given_the_same_data_under_other_names_agree_and_other_data_is_refused(tmp_path):
    """The data is compared by its contents: the same file named two ways (or copied to another machine) joins;
    another file of the same name in another folder is refused on every process."""
    same, other = tmp_path / "a" / "data.jsonl", tmp_path / "b" / "data.jsonl"
    for path, count in ((same, 20), (other, 10)):
        path.parent.mkdir()
        write_jsonl(path, make_examples(count))
    port = _free_port()
    ranks = [_joiner(0, port, 2, {"data": str(same)}), _joiner(1, port, 2, {"data": f"{tmp_path}/b/../a/data.jsonl"})]
    for rank in ranks:
        out, err = rank.communicate(timeout=120)
        assert rank.returncode == 0 and out.splitlines()[-1] == "joined", err[-2000:]
    port = _free_port()
    ranks = [_joiner(0, port, 2, {"data": str(same)}), _joiner(1, port, 2, {"data": str(other)})]
    for rank in ranks:
        _, err = rank.communicate(timeout=120)
        assert rank.returncode == 2 and "differs in data" in err and err.count("\n") == 1, err[-2000:]


@pytest.mark.slow
def test_processes_given_different_world_sizes_say_so_in_one_sentence():
    port = _free_port()
    ranks = [_joiner(0, port, 3, {}), _joiner(1, port, 2, {})]
    said = [rank.communicate(timeout=120)[1] for rank in ranks]
    assert [rank.returncode for rank in ranks] == [2, 2], said
    assert all(err.count("\n") == 1 and "start every process with the same WORLD_SIZE" in err for err in said), said


@pytest.mark.slow
def test_a_process_that_comes_to_a_launch_already_training_is_told_it_is_not_one_of_it():
    """A second launch started on the port of one that is training (the same MASTER_PORT by mistake): its process
    would pass the first launch's roll call and wait in the process group forever."""
    port = _free_port()
    running = [_joiner(rank, port, 2, {}, linger=120) for rank in (0, 1)]
    try:
        for rank in running:
            assert rank.stdout is not None
            assert next(line for line in rank.stdout if not line.startswith("waiting")).strip() == "joined"
        for late in (_joiner(1, port, 2, {}), _joiner(2, port, 3, {})):  # the launch's size, whatever it was given
            out, err = late.communicate(timeout=120)
            assert late.returncode == 2 and err.count("\n") == 1 and out == "", (out, err[-2000:])
            assert f"The launch at 127.0.0.1:{port} already has its 2 processes" in err and "MASTER_PORT" in err
    finally:
        for rank in running:
            rank.kill()
            rank.communicate()
