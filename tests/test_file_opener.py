"""One way to read a file: every file the program reads goes through one opener that takes regular files only
(a FIFO, a device, a socket or a directory is refused at once, never blocks), reads at most its kind's cap
whatever ``st_size`` says, and fails in one sentence naming the file."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from assistant.core import files
from assistant.core.errors import UserError
from tests.bad_inputs import assert_one_line_failure, assistant, run_entry


@contextlib.contextmanager
def never_blocks(seconds: int = 20) -> Iterator[None]:
    """Fail, instead of hanging the suite, when a read blocks (on a FIFO with no writer, say)."""

    def blocked(signum: int, frame: object) -> None:
        raise AssertionError(f"blocked for {seconds} s: a special file was opened as a regular one")

    previous = signal.signal(signal.SIGALRM, blocked)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


def _fifo(path: Path) -> Path:
    os.mkfifo(path)
    return path


def _socket(path: Path) -> Path:
    sock = socket.socket(socket.AF_UNIX)
    sock.bind(str(path))
    sock.close()
    return path


def _loop(path: Path) -> Path:
    path.symlink_to(path)
    return path


def _dangling(path: Path) -> Path:
    path.symlink_to(path.parent / "nowhere")
    return path


def _directory(path: Path) -> Path:
    path.mkdir()
    return path


SPECIAL: dict[str, Callable[[Path], Path]] = {
    "a FIFO": _fifo,
    "a socket": _socket,
    "a directory": _directory,
    "a symlink loop": _loop,
    "a dangling symlink": _dangling,
    "/dev/zero": lambda path: Path("/dev/zero"),
    "/dev/null": lambda path: Path("/dev/null"),
    "a link to /dev/zero": lambda path: (path.symlink_to("/dev/zero"), path)[1],
}


@pytest.mark.parametrize("kind", list(SPECIAL))
def test_the_opener_refuses_anything_but_a_regular_file_at_once(kind, tmp_path):
    path = SPECIAL[kind](tmp_path / "file.json")
    with never_blocks(), pytest.raises(files.FileProblem) as refused:
        files.read_bytes(path, files.RECORD)
    message = str(refused.value)
    assert str(path) in message and "\n" not in message


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(size=st.integers(0, 3000), cap=st.integers(0, 3000))
def test_the_opener_reads_up_to_its_cap_and_refuses_more(size, cap, tmp_path):
    path = tmp_path / "data.bin"
    data = os.urandom(size)
    path.write_bytes(data)
    kind = files.FileKind("test file", cap)
    if size <= cap:
        assert files.read_bytes(path, kind) == data
    else:
        with pytest.raises(files.FileProblem, match="limit"):
            files.read_bytes(path, kind)


def test_a_file_that_grows_past_its_size_is_read_with_the_cap_not_st_size(tmp_path):
    """/proc files report size 0 and /dev files lie: the cap holds on what is read."""
    with pytest.raises(files.FileProblem, match="not a regular file"):
        files.read_bytes(Path("/dev/urandom"), files.FileKind("test", 10))
    status = Path("/proc/self/status")
    assert status.stat().st_size == 0 and files.read_bytes(status, files.RECORD)  # read, although st_size says 0


@settings(max_examples=40, deadline=None)
@given(text=st.text(max_size=200))
def test_json_is_read_as_the_standard_defines_it(text):
    """Anything is parsed or refused in one sentence; NaN and infinities are never numbers."""
    try:
        value = files.parse_json(text, "where")
    except UserError as exc:
        assert "\n" not in str(exc) and str(exc).startswith("where")
        return
    assert "NaN" not in json.dumps(value) and "Infinity" not in json.dumps(value)


# --- every command, over a special file in place of every file it reads ---------------------------------------------

QUESTION = "where did the cat sit?"


def _squad(path: Path) -> Path:
    row = {"id": "1", "question": QUESTION, "context": "The cat sat on the mat.", "answers": {"text": ["the mat"]}}
    row["answers"]["answer_start"] = [15]
    path.write_text(json.dumps(row) + "\n", encoding="utf-8")
    return path


def _commands(tmp: Path, model: Path, special: Path) -> dict[str, list[str]]:
    doc = tmp / "notes.txt"
    doc.write_text("The cat sat on the mat.\n", encoding="utf-8")
    data = _squad(tmp / "data.jsonl")
    out = str(tmp / "run")
    return {
        "ask a document": ["ask", str(special), QUESTION, "--model", str(model)],
        "chat a document": ["chat", str(special)],
        "eval --data": ["eval", "--model", str(model), "--data", str(special)],
        "train --data": ["train", "--base", str(model), "--data", str(special), "--output", out],
        "train --eval-data": ["train", "--base", str(model), "--data", str(data), "--eval-data", str(special)],
        "train --config": ["train", "--config", str(special), "--output", out],
        "bench --retrieval": ["bench", "--model", str(model), "--document", str(doc), "--retrieval", str(special)],
    }


COMMANDS = ["ask a document", "chat a document", "eval --data", "train --data", "train --eval-data"]
COMMANDS += ["train --config", "bench --retrieval"]


@pytest.mark.parametrize("kind", ["a FIFO", "/dev/zero", "a directory", "a socket"])
@pytest.mark.parametrize("command", COMMANDS)
def test_every_command_refuses_a_special_file_in_one_sentence(command, kind, tmp_path, tiny_model_dir, capsys):
    special = SPECIAL[kind](tmp_path / "special.json")
    argv = _commands(tmp_path, tiny_model_dir, special)[command]
    with never_blocks(60):
        outcome = assistant(capsys, *argv)
    assert_one_line_failure(outcome, str(special))


@pytest.mark.parametrize("kind", ["a FIFO", "/dev/zero", "a directory"])
def test_the_metrics_script_refuses_a_special_file(kind, tmp_path, capsys):
    from trainer import metrics

    special = SPECIAL[kind](tmp_path / "preds.json")
    data = tmp_path / "data.json"
    qa = {"id": "1", "question": QUESTION, "answers": [{"text": "the mat", "answer_start": 15}]}
    squad = {"data": [{"title": "t", "paragraphs": [{"context": "The cat sat on the mat.", "qas": [qa]}]}]}
    data.write_text(json.dumps(squad), encoding="utf-8")
    with never_blocks():
        assert_one_line_failure(run_entry(capsys, metrics.main, [str(special), str(data)]), str(special))
        assert_one_line_failure(run_entry(capsys, metrics.main, [str(data), str(special)]), str(special))


@pytest.mark.parametrize("kind", ["a FIFO", "a link to /dev/zero", "a directory", "a socket"])
def test_a_special_file_among_the_programs_own_files_is_never_read(kind, tmp_path, tiny_model_dir, capsys):
    """settings.toml, ACTIVE, run.json, metrics.json, events.jsonl, the index cache and the digest memo: a FIFO in
    place of any of them is passed over (it reads as missing), and every command still ends."""
    config, models = Path(os.environ["ASSISTANT_CONFIG_DIR"]), Path(os.environ["ASSISTANT_MODELS_DIR"])
    run = models / "run-a"
    run.mkdir(parents=True)
    config.mkdir(parents=True)
    for path in (config / "settings.toml", run / "run.json", run / "metrics.json", run / "events.jsonl"):
        SPECIAL[kind](path)
    doc = tmp_path / "notes.txt"
    doc.write_text("The cat sat on the mat.\n", encoding="utf-8")
    with never_blocks(60):
        listed = assistant(capsys, "models", "--json")
        asked = assistant(capsys, "ask", str(doc), QUESTION, "--model", str(tiny_model_dir), "--json")
    assert listed.code == 0 and json.loads(listed.out)[0]["name"] == "run-a"
    assert asked.code == 0, asked.err
    SPECIAL[kind](models / "ACTIVE")
    with never_blocks(60):
        refused = assistant(capsys, "ask", str(doc), QUESTION)
    assert_one_line_failure(refused, "active reader", "ACTIVE")
