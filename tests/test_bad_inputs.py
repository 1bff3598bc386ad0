"""A corpus of bad documents, model folders and flags through `assistant ask`, `chat`, `eval` and `train`.

Each must end in one sentence on stderr and a non-zero exit, never a traceback, and a model folder
must never get to run its own code.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.bad_inputs import assert_one_line_failure, assistant

QUESTION = "where did the cat sit?"


@pytest.fixture
def doc(tmp_path: Path) -> Path:
    p = tmp_path / "notes.txt"
    p.write_text("The cat sat on the mat.\n\nThe dog ran in the park.\n", encoding="utf-8")
    return p


# --- documents -------------------------------------------------------------------------------------


def _write(name: str, data: bytes) -> Callable[[Path], Path]:
    def make(tmp: Path) -> Path:
        p = tmp / name
        p.write_bytes(data)
        return p

    return make


def _fifo(tmp: Path) -> Path:
    p = tmp / "pipe.txt"
    os.mkfifo(p)
    return p


def _symlink_loop(tmp: Path) -> Path:
    p = tmp / "loop.txt"
    p.symlink_to(p)
    return p


BAD_DOCUMENTS: dict[str, tuple[Callable[[Path], Path], str]] = {
    "missing": (lambda tmp: tmp / "nope.txt", "No such file"),
    "a folder with no document": (lambda tmp: tmp, "no document"),
    "binary": (_write("a.bin", bytes(range(256)) * 40), "binary"),
    "empty": (_write("empty.txt", b""), "empty"),
    "whitespace only": (_write("blank.txt", b" \n\t\n  \r\n"), "empty"),
    "utf-16 without a BOM": (_write("u16.txt", "The cat sat on the mat.\n".encode("utf-16-le")), "byte-order mark"),
    "utf-16-be without a BOM": (_write("be.txt", "The cat sat on the mat.\n".encode("utf-16-be")), "byte-order"),
    "/dev/zero": (lambda tmp: Path("/dev/zero"), "not a regular file"),
    "/dev/null": (lambda tmp: Path("/dev/null"), "not a regular file"),
    "a FIFO": (_fifo, "not a regular file"),
    "a symlink loop": (_symlink_loop, "loop.txt"),
    "a name too long": (lambda tmp: tmp / ("x" * 300 + ".txt"), "x" * 20),
}


@pytest.mark.parametrize("case", BAD_DOCUMENTS, ids=list(BAD_DOCUMENTS))
def test_ask_refuses_a_bad_document_in_one_sentence(case, tmp_path, tiny_model_dir, capsys):
    make, fragment = BAD_DOCUMENTS[case]
    path = make(tmp_path)
    outcome = assistant(capsys, "ask", str(path), QUESTION, "--model", str(tiny_model_dir))
    assert_one_line_failure(outcome, fragment)
    assert outcome.out == ""


def test_a_document_over_the_size_limit_is_refused(doc, tiny_model_dir, capsys, monkeypatch):
    monkeypatch.setenv("ASSISTANT_MAX_DOCUMENT_BYTES", "10")
    assert_one_line_failure(assistant(capsys, "ask", str(doc), QUESTION, "--model", str(tiny_model_dir)), "limit")
    monkeypatch.setenv("ASSISTANT_MAX_DOCUMENT_BYTES", "ten")
    assert_one_line_failure(
        assistant(capsys, "ask", str(doc), QUESTION, "--model", str(tiny_model_dir)), "ASSISTANT_MAX_DOCUMENT_BYTES"
    )


def test_chat_refuses_a_bad_document_before_the_screen_opens(tmp_path, capsys):
    assert_one_line_failure(assistant(capsys, "chat", str(tmp_path / "missing.txt")), "No such file")
    assert_one_line_failure(assistant(capsys, "chat", "/dev/zero"), "not a regular file")


# --- flags -----------------------------------------------------------------------------------------

BAD_ASK_FLAGS: dict[str, tuple[list[str], str]] = {
    "top-k 0": (["--top-k", "0"], "--top-k"),
    "top-k negative": (["--top-k", "-3"], "--top-k"),
    "top-k not a number": (["--top-k", "three"], "--top-k"),
    "threshold over 1": (["--threshold", "2"], "--threshold"),
    "threshold negative": (["--threshold", "-0.5"], "--threshold"),
    "threshold nan": (["--threshold", "nan"], "--threshold"),
    "read-windows 0": (["--read-windows", "0"], "--read-windows"),
    "unknown device": (["--device", "tpu"], "device"),
    "cuda without a GPU": (["--device", "cuda"], "cuda"),
    "unknown flag": (["--colour"], "see `assistant ask --help`"),
    "a word too many": (["again"], "see `assistant ask --help`"),
}


@pytest.mark.parametrize("case", BAD_ASK_FLAGS, ids=list(BAD_ASK_FLAGS))
def test_ask_refuses_a_bad_flag_in_one_sentence(case, doc, tiny_model_dir, capsys):
    if case == "cuda without a GPU":
        torch = pytest.importorskip("torch")
        if torch.cuda.is_available():
            pytest.skip("this machine has a GPU")
    flags, fragment = BAD_ASK_FLAGS[case]
    outcome = assistant(capsys, "ask", str(doc), QUESTION, "--model", str(tiny_model_dir), *flags)
    assert_one_line_failure(outcome, fragment)


@pytest.mark.parametrize("question", ["", "   ", "\t\n"])
def test_ask_refuses_an_empty_question(question, doc, tiny_model_dir, capsys):
    assert_one_line_failure(assistant(capsys, "ask", str(doc), question, "--model", str(tiny_model_dir)), "empty")


def test_ask_with_no_question_on_stdin_is_an_error(doc, tiny_model_dir, capsys, monkeypatch):
    import io

    monkeypatch.setattr("sys.stdin", io.StringIO("\n  \n"))
    outcome = assistant(capsys, "ask", str(doc), "-", "--model", str(tiny_model_dir))
    assert_one_line_failure(outcome, "No question")


# --- model folders -----------------------------------------------------------------------------------


def _copy(src: Path, dst: Path) -> Path:
    shutil.copytree(src, dst)
    return dst


def _weights(data: Callable[[bytes], bytes]) -> Callable[[Path, Path], Path]:
    def make(src: Path, tmp: Path) -> Path:
        d = _copy(src, tmp / "model")
        weights = d / "model.safetensors"
        weights.write_bytes(data(weights.read_bytes()))
        return d

    return make


def _config(text: str) -> Callable[[Path, Path], Path]:
    def make(src: Path, tmp: Path) -> Path:
        d = _copy(src, tmp / "model")
        (d / "config.json").write_text(text, encoding="utf-8")
        return d

    return make


def _without(*names: str) -> Callable[[Path, Path], Path]:
    def make(src: Path, tmp: Path) -> Path:
        d = _copy(src, tmp / "model")
        for name in names:
            (d / name).unlink()
        return d

    return make


def _pickled_weights(src: Path, tmp: Path) -> Path:
    d = _without("model.safetensors")(src, tmp)
    (d / "pytorch_model.bin").write_bytes(b"\x80\x04not really a pickle")
    return d


def _wrong_architecture(src: Path, tmp: Path) -> Path:
    d = _copy(src, tmp / "model")
    config = json.loads((d / "config.json").read_text(encoding="utf-8"))
    config["dim"], config["hidden_dim"] = 64, 256  # the weights were saved at dim 32
    (d / "config.json").write_text(json.dumps(config), encoding="utf-8")
    return d


BAD_MODELS: dict[str, tuple[Callable[[Path, Path], Path], str]] = {
    "missing directory": (lambda src, tmp: tmp / "no-such-model", "does not exist"),
    "a file": (lambda src, tmp: src / "config.json", "is a file"),
    "empty directory": (lambda src, tmp: tmp, "config.json"),
    "truncated safetensors": (_weights(lambda b: b[: len(b) // 2]), "safetensors"),
    "zero-byte safetensors": (_weights(lambda b: b""), "safetensors"),
    "random-byte safetensors": (_weights(lambda b: os.urandom(len(b))), "safetensors"),
    "bad safetensors header": (_weights(lambda b: (16).to_bytes(8, "little") + b"{not json}" + b[24:]), "safetensors"),
    "pickled weights only": (_pickled_weights, "safetensors"),
    "config not JSON": (_config("{nope"), "config.json"),
    "config a list": (_config("[1, 2]"), "config.json"),
    "config deeply nested": (_config("[" * 100_000), "config.json"),
    "config with an unknown model type": (_config('{"model_type": "no-such-arch"}'), "model"),
    "config of another size": (_wrong_architecture, "model"),
    "no tokenizer": (_without("tokenizer.json", "tokenizer_config.json"), "model"),
}


@pytest.mark.parametrize("case", BAD_MODELS, ids=list(BAD_MODELS))
def test_ask_refuses_a_bad_model_folder_in_one_sentence(case, doc, tmp_path, tiny_model_dir, capsys):
    make, fragment = BAD_MODELS[case]
    model = make(tiny_model_dir, tmp_path)
    assert_one_line_failure(assistant(capsys, "ask", str(doc), QUESTION, "--model", str(model)), fragment)


def test_eval_says_a_data_file_is_missing_before_loading_torch(tmp_path, tiny_model_dir):
    import subprocess
    import sys

    code = (
        "import sys\n"
        "from assistant.cli import main\n"
        "try:\n"
        f"    main(['eval', '--model', {str(tiny_model_dir)!r}, '--data', {str(tmp_path / 'gone.json')!r}])\n"
        "except SystemExit:\n"
        "    pass\n"
        "print('torch' in sys.modules, 'transformers' in sys.modules)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.stdout.split() == ["False", "False"], done.stderr
    assert "gone.json" in done.stderr and "missing" in done.stderr


@pytest.mark.parametrize("case", ["truncated safetensors", "config not JSON", "no tokenizer"])
def test_eval_refuses_a_bad_model_folder_in_one_sentence(case, tmp_path, tiny_model_dir, capsys):
    data = tmp_path / "data.jsonl"
    row = {"id": "1", "question": QUESTION, "context": "The cat sat on the mat.", "answers": []}
    data.write_text(json.dumps(row | {"answers": {"text": ["the mat"], "answer_start": [15]}}) + "\n")
    make, fragment = BAD_MODELS[case]
    model = make(tiny_model_dir, tmp_path)
    assert_one_line_failure(assistant(capsys, "eval", "--model", str(model), "--data", str(data)), fragment)


def _evil_model(src: Path, tmp: Path) -> tuple[Path, Path]:
    """A folder that asks transformers to import its own module; importing it writes a marker file."""
    d = _copy(src, tmp / "evil")
    marker = tmp / "code-ran"
    (d / "evil_model.py").write_text(f"open({str(marker)!r}, 'w').write('ran')\n", encoding="utf-8")
    config = json.loads((d / "config.json").read_text(encoding="utf-8"))
    config["auto_map"] = {
        "AutoConfig": "evil_model.EvilConfig",
        "AutoModelForQuestionAnswering": "evil_model.EvilModel",
        "AutoTokenizer": ["evil_model.EvilTokenizer", None],
    }
    (d / "config.json").write_text(json.dumps(config), encoding="utf-8")
    tok_config = json.loads((d / "tokenizer_config.json").read_text(encoding="utf-8"))
    tok_config["auto_map"] = {"AutoTokenizer": ["evil_model.EvilTokenizer", None]}
    (d / "tokenizer_config.json").write_text(json.dumps(tok_config), encoding="utf-8")
    return d, marker


@pytest.mark.parametrize("command", ["ask", "eval", "train --base", "train --teacher"])
def test_a_model_folder_never_runs_its_own_code(command, doc, tmp_path, tiny_model_dir, capsys):
    evil, marker = _evil_model(tiny_model_dir, tmp_path)
    data = tmp_path / "data.jsonl"
    data.write_text(
        json.dumps(
            {
                "id": "1",
                "question": QUESTION,
                "context": "The cat sat on the mat.",
                "answers": {"text": ["the mat"], "answer_start": [15]},
            }
        )
        + "\n"
    )
    argv = {
        "ask": ["ask", str(doc), QUESTION, "--model", str(evil), "--json"],
        "eval": ["eval", "--model", str(evil), "--data", str(data)],
        "train --base": ["train", "--base", str(evil), "--data", str(data), "--output", str(tmp_path / "run")],
        "train --teacher": [
            "train",
            "--base",
            str(tiny_model_dir),
            "--teacher",
            str(evil),
            "--data",
            str(data),
            "--eval-data",
            str(data),
            "--output",
            str(tmp_path / "run"),
            "--max-steps",
            "1",
        ],
    }[command]
    outcome = assistant(capsys, *argv)
    assert_one_line_failure(outcome, "own Python code")
    assert not marker.exists(), "the model folder's code ran"
    assert "[y/N]" not in outcome.out + outcome.err
    assert outcome.out == ""


def test_a_python_file_alone_also_marks_a_folder_as_unsafe(doc, tmp_path, tiny_model_dir, capsys):
    d = _copy(tiny_model_dir, tmp_path / "model")
    (d / "modeling_custom.py").write_text("raise SystemExit('ran')\n", encoding="utf-8")
    outcome = assistant(capsys, "ask", str(doc), QUESTION, "--model", str(d))
    assert_one_line_failure(outcome, "own Python code")


# --- hostile documents that load: answers stay bounded, JSON stays one line -----------------------------


def _answers(capsys, doc: Path, model: Path, *questions: str) -> list[dict]:
    outcome = assistant(capsys, "ask", str(doc), *questions, "--model", str(model), "--json", "--threshold", "0")
    assert outcome.code == 0, outcome.err
    records = outcome.out.splitlines()  # splitlines() also breaks at U+2028, U+2029 and U+0085
    assert len(records) == len(questions)
    return [a for line in records for a in json.loads(line)["answers"]]


@pytest.mark.parametrize(
    "text",
    [
        "猫坐在垫子上。" * 3000,  # CJK: no spaces anywhere
        pytest.param("a" * 5_000_000, marks=pytest.mark.slow),  # one 5 MB word: one [UNK] token spans it
        ("cat" * 400 + " ") * 50,  # long words of known pieces
    ],
    ids=["cjk", "one-huge-word", "long-words"],
)
def test_an_answer_is_never_longer_than_the_reader_allows(text, tmp_path, tiny_model_dir, capsys):
    from transformers import AutoTokenizer

    doc = tmp_path / "doc.txt"
    doc.write_text(text, encoding="utf-8")
    answers = _answers(capsys, doc, tiny_model_dir, QUESTION, "what is on the mat?")
    tokenizer = AutoTokenizer.from_pretrained(str(tiny_model_dir), trust_remote_code=False)
    for answer in answers:
        assert len(answer["text"]) <= 500
        assert len(tokenizer(answer["text"], add_special_tokens=False)["input_ids"]) <= 30


def test_json_records_stay_one_line_with_unicode_line_separators(tmp_path, tiny_model_dir, capsys):
    doc = tmp_path / "doc.txt"
    doc.write_text("The cat\u2028sat on\u2029the mat\u0085today. " * 20, encoding="utf-8")
    answers = _answers(capsys, doc, tiny_model_dir, QUESTION, "what\u2028is it?", "the mat")
    assert answers, "the reader answered nothing at threshold 0"


# --- fuzz and the app's exit code ------------------------------------------------------------------------


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(raw=st.binary(max_size=4096))
def test_any_bytes_load_as_text_or_fail_in_one_sentence(raw, tmp_path):
    from assistant.core.documents import load_document
    from assistant.core.errors import DocumentError

    p = tmp_path / "fuzz.txt"
    p.write_bytes(raw)
    try:
        document = load_document(p)
    except DocumentError as exc:
        assert "\n" not in str(exc) and str(p) in str(exc)
        return
    assert document.text.strip()
    assert document.line_of(len(document.text)) == document.text.count("\n") + 1


def test_the_chat_command_exits_non_zero_when_the_app_dies(monkeypatch, capsys):
    from textual.app import App

    from assistant.tui.app import AssistantApp

    def crash(self) -> None:
        raise RuntimeError("boom")

    monkeypatch.setattr(AssistantApp, "on_mount", crash)
    monkeypatch.setattr(AssistantApp, "run", lambda self: App.run(self, headless=True))
    outcome = assistant(capsys, "chat")
    assert outcome.code != 0


@pytest.mark.parametrize(
    "flags, fragment",
    [
        (["--read-windows", "0.5"], "--read-windows"),
        (["--read-windows", "inf"], "--read-windows"),
        (["--retrieval", "/nonexistent/gold.json"], "gold questions"),
    ],
    ids=["read-windows below one", "read-windows infinite", "missing gold file"],
)
def test_bench_refuses_a_bad_flag_or_gold_file_in_one_sentence(flags, fragment, tiny_model_dir, tmp_path, capsys):
    doc = tmp_path / "d.txt"
    doc.write_text("The cat sat on the mat.", encoding="utf-8")
    outcome = assistant(capsys, "bench", "--model", str(tiny_model_dir), "--document", str(doc), *flags)
    assert_one_line_failure(outcome, fragment)


# --- what the hostile passes found: each is one sentence, never the catch-all -------------------------------------


def _long(tmp: Path, what: str) -> str:
    return str(tmp / (what * 300))


HOSTILE_ARGV: dict[str, tuple[Callable[[Path, Path, Path], list[str]], str]] = {
    "--read-windows 1e308": (
        lambda t, m, d: ["ask", str(d), QUESTION, "--model", str(m), "--read-windows", "1e308"],
        "64",
    ),
    "a model name too long": (lambda t, m, d: ["ask", str(d), QUESTION, "--model", _long(t, "m")], "too long"),
    "a run name too long": (lambda t, m, d: ["models", "activate", "r" * 300], "255 bytes"),
    "a run name with a line break": (lambda t, m, d: ["models", "activate", "a\nb"], "line break"),
    "an --output name too long": (lambda t, m, d: ["train", "--resume", "--output", _long(t, "o")], "too long"),
    "a cuda index past any GPU": (
        lambda t, m, d: ["ask", str(d), QUESTION, "--device", "cuda:99999999999999999999"],
        "cuda:N",
    ),
    "a seed past 32 bits": (lambda t, m, d: ["train", "--seed", str(2**64), "--output", str(t / "r")], "--seed"),
    "a window past 32 bits": (lambda t, m, d: ["train", "--max-length", str(2**70), "--output", str(t / "r")], "2,147"),
    "a batch past 64 bits": (lambda t, m, d: ["train", "--batch-size", str(2**70), "--output", str(t / "r")], "2,147"),
    "bench --questions 0": (
        lambda t, m, d: ["bench", "--model", str(m), "--document", str(d), "--questions", "0"],
        "--questions",
    ),
    "a model in an unknown user's home": (
        lambda t, m, d: ["ask", str(d), QUESTION, "--model", "~nosuchuser0xf/m"],
        "home folder of a user",
    ),
    "a document in an unknown user's home": (
        lambda t, m, d: ["ask", "~nosuchuser0xf/doc.txt", QUESTION, "--model", str(m)],
        "home folder of a user",
    ),
    "the chat given a document in an unknown user's home": (
        lambda t, m, d: ["~nosuchuser0xf/doc.txt"],
        "home folder of a user",
    ),
    "eval data in an unknown user's home": (
        lambda t, m, d: ["eval", "--model", str(m), "--data", "~nosuchuser0xf/x.json"],
        "home folder of a user",
    ),
    "training data in an unknown user's home": (
        lambda t, m, d: ["train", "--base", str(m), "--data", "~nosuchuser0xf/x.json", "--output", str(t / "r")],
        "home folder of a user",
    ),
    "a base model in an unknown user's home": (
        lambda t, m, d: ["train", "--base", "~nosuchuser0xf/b", "--output", str(t / "r")],
        "home folder of a user",
    ),
    "an empty document path": (lambda t, m, d: ["ask", "", QUESTION, "--model", str(m)], "empty path"),
    "an empty path to print": (lambda t, m, d: ["text", ""], "empty path"),
    "--also naming an empty path": (
        lambda t, m, d: ["ask", str(d), QUESTION, "--model", str(m), "--also", ""],
        "empty path",
    ),
    "--also naming nothing": (
        lambda t, m, d: ["ask", str(d), QUESTION, "--model", str(m), "--also", str(t / "missing.txt")],
        "No such file",
    ),
    "--also naming a device": (
        lambda t, m, d: ["ask", str(d), QUESTION, "--model", str(m), "--also", "/dev/null"],
        "not a regular file",
    ),
    "--also in an unknown user's home": (
        lambda t, m, d: ["ask", str(d), QUESTION, "--model", str(m), "--also", "~nosuchuser0xf/x.txt"],
        "home folder of a user",
    ),
    "models list with a run name": (lambda t, m, d: ["models", "list", "extra"], "takes no run name"),
    "bench --folder naming nothing": (
        lambda t, m, d: ["bench", "--folder", str(t / "nowhere")],
        "no folder or document",
    ),
    "bench on a document of short sentences": (
        lambda t, m, d: ["bench", "--model", str(m), "--document", str(d), "--questions", "2", "--backend", "onnx"],
        "6 words",
    ),
}


@pytest.mark.parametrize("case", HOSTILE_ARGV, ids=list(HOSTILE_ARGV))
def test_hostile_arguments_are_one_sentence(case, tmp_path, tiny_model_dir, doc, capsys):
    make, fragment = HOSTILE_ARGV[case]
    assert_one_line_failure(assistant(capsys, *make(tmp_path, tiny_model_dir, doc)), fragment)


def test_a_full_disk_under_stdout_is_one_sentence(doc, tiny_model_dir, capsys, monkeypatch):
    class Full:
        def write(self, text: str) -> int:
            raise OSError(28, "No space left on device")

        def flush(self) -> None:
            raise OSError(28, "No space left on device")

        def fileno(self) -> int:
            return os.open(os.devnull, os.O_WRONLY)

    monkeypatch.setattr("sys.stdout", Full())
    assert_one_line_failure(assistant(capsys, "ask", str(doc), QUESTION, "--model", str(tiny_model_dir)), "No space")


def test_closed_standard_input_is_one_sentence(doc, tiny_model_dir, capsys, monkeypatch):
    monkeypatch.setattr("sys.stdin", None)
    outcome = assistant(capsys, "ask", str(doc), "-", "--model", str(tiny_model_dir))
    assert_one_line_failure(outcome, "Standard input is closed")


@pytest.mark.parametrize("status", [["running"], {"a": 1}, 7, None])
def test_a_run_json_status_of_any_type_is_one_sentence(status, tmp_path, tiny_model_dir, capsys):
    run = tmp_path / "run"
    shutil.copytree(tiny_model_dir, run)
    (run / "run.json").write_text(json.dumps({"status": status}), encoding="utf-8")
    resumed = assistant(capsys, "train", "--resume", "--output", str(run))
    assert_one_line_failure(resumed, "--resume")
    data = tmp_path / "data.jsonl"
    row = {"id": "1", "question": QUESTION, "context": "The cat sat on the mat.", "answers": {"text": ["the mat"]}}
    row["answers"]["answer_start"] = [15]
    data.write_text(json.dumps(row) + "\n", encoding="utf-8")
    evaluated = assistant(capsys, "eval", "--model", str(run), "--data", str(data))
    assert evaluated.code == 0 and not (run / "eval.json").exists(), evaluated.err


def test_a_rayon_thread_count_in_the_thousands_is_lowered(doc, tiny_model_dir, capsys, monkeypatch):
    monkeypatch.setenv("RAYON_NUM_THREADS", "20000")
    outcome = assistant(capsys, "ask", str(doc), QUESTION, "--model", str(tiny_model_dir), "--json")
    assert outcome.code == 0 and "RAYON_NUM_THREADS=20000" in outcome.err


def test_a_closed_stdout_is_not_an_error(doc, tiny_model_dir):
    import subprocess
    import sys

    for flags in ([], ["--json"]):
        proc = subprocess.run(
            [sys.executable, "-m", "assistant", "ask", str(doc), QUESTION, "--model", str(tiny_model_dir), *flags],
            preexec_fn=lambda: os.close(1),  # the shell's >&-
            capture_output=False,
            stderr=subprocess.PIPE,
            text=True,
            timeout=120,
        )
        assert proc.returncode == 0 and "unexpected" not in proc.stderr, proc.stderr


def test_an_endless_question_on_stdin_is_refused_without_reading_it_all(doc, tiny_model_dir, capsys, monkeypatch):
    import io

    class Endless(io.RawIOBase):
        read_so_far = 0

        def readable(self) -> bool:
            return True

        def readinto(self, buffer) -> int:
            buffer[:] = b"w" * len(buffer)
            Endless.read_so_far += len(buffer)
            return len(buffer)

    monkeypatch.setattr("sys.stdin", io.TextIOWrapper(io.BufferedReader(Endless())))
    outcome = assistant(capsys, "ask", str(doc), "-", "--model", str(tiny_model_dir))
    assert_one_line_failure(outcome, "longer than the limit")
    assert Endless.read_so_far < 1_000_000


def test_a_file_or_a_chat_flag_first_opens_the_chat_and_a_misspelt_command_is_named(monkeypatch, tmp_path, capsys):
    import assistant.cli as cli

    opened: list[tuple[list[str], str | None]] = []
    monkeypatch.setattr(cli, "cmd_chat", lambda args: opened.append((args.paths, args.model)) or 0)
    doc = tmp_path / "notes.txt"
    doc.write_text("The cat sat on the mat.\n", encoding="utf-8")
    assert cli.main([str(doc)]) == 0 and cli.main(["--model", "m", str(doc)]) == 0
    assert opened == [([str(doc)], None), ([str(doc)], "m")]
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["aks"])
    assert exit_info.value.code != 0 and "invalid choice: 'aks'" in capsys.readouterr().err


def test_a_settings_file_nested_past_any_setting_gives_the_defaults(doc, tiny_model_dir, capsys):
    from assistant.settings import Settings

    Settings.path().parent.mkdir(parents=True, exist_ok=True)
    Settings.path().write_text("a = " + "[" * 5000 + "]" * 5000 + "\n", encoding="utf-8")
    assert Settings.load() == Settings()
    outcome = assistant(capsys, "ask", str(doc), QUESTION, "--model", str(tiny_model_dir))
    assert outcome.code == 0 and "unexpected" not in outcome.err


def test_activating_a_run_says_which_file_could_not_be_written(tmp_path, tiny_model_dir, capsys):
    from assistant.paths import models_dir
    from assistant.settings import Settings

    models = models_dir()
    models.mkdir(parents=True, exist_ok=True)
    run = models / "good-run"
    shutil.copytree(tiny_model_dir, run)
    (run / "run.json").write_text(json.dumps({"status": "completed"}), encoding="utf-8")
    (models / "ACTIVE").mkdir()  # ACTIVE cannot be replaced: it is a folder
    assert_one_line_failure(assistant(capsys, "models", "activate", "good-run"), "Could not make good-run active")
    (models / "ACTIVE").rmdir()
    Settings(model="/elsewhere").save()
    Settings.path().chmod(0o444)
    Settings.path().parent.chmod(0o555)  # settings.toml cannot be rewritten (root ignores modes: then it can)
    try:
        outcome = assistant(capsys, "models", "activate", "good-run")
    finally:
        Settings.path().parent.chmod(0o755)
    assert (models / "ACTIVE").read_text(encoding="utf-8") == "good-run\n"
    if outcome.code != 0:
        assert_one_line_failure(outcome, "good-run is now the active run, but settings.toml's model (/elsewhere)")
    else:
        assert Settings.load().model == ""
