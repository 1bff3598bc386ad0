"""`assistant ask`: the JSON contract, stdin questions, readable errors, and the offline message."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from assistant.cli import main


def _run(*args: str, stdin: str | None = None, env_extra: dict | None = None) -> subprocess.CompletedProcess:
    import os

    env = dict(os.environ, HF_HUB_OFFLINE="1", **(env_extra or {}))
    return subprocess.run(
        [sys.executable, "-m", "assistant", *args],
        capture_output=True,
        text=True,
        input=stdin,
        env=env,
        timeout=300,
    )


@pytest.fixture
def doc(tmp_path):
    p = tmp_path / "notes.txt"
    p.write_text("The cat sat on the mat.\n\nThe dog ran in the park.\n", encoding="utf-8")
    return p


def test_json_contract(tiny_model_dir, doc, capsys):
    code = main(
        [
            "ask",
            str(doc),
            "where did the cat sit?",
            "what did the dog do?",
            "--model",
            str(tiny_model_dir),
            "--json",
            "--threshold",
            "0",
            "--top-k",
            "2",
        ]
    )
    assert code == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert len(lines) == 2
    text = doc.read_text(encoding="utf-8")
    answer_keys = {"text", "start", "end", "score", "raw_score", "line", "context", "context_start", "path", "page"}
    answer_keys |= {"section", "end_line"}
    several = 0
    for line, question in zip(lines, ["where did the cat sit?", "what did the dog do?"], strict=True):
        obj = json.loads(line)
        assert set(obj) == {"question", "answers", "passages", "timings", "no_answer_reason", "windows_run"}
        assert obj["question"] == question
        assert obj["windows_run"] == 1, "a short document is read in one window"
        assert set(obj["timings"]) == {"load_model_ms", "index_ms", "answer_ms"}
        assert len(obj["answers"]) <= 2
        for a in obj["answers"]:
            assert set(a) == answer_keys
            assert text[a["start"] : a["end"]] == a["text"]
            assert a["end_line"] == a["line"] + a["text"].count("\n")
            assert a["text"] in a["context"]
            assert text[a["context_start"] : a["context_start"] + len(a["context"])] == a["context"]
            assert (a["path"], a["page"], a["section"]) == (doc.name, None, None)
        assert obj["passages"] and all(p["start"] < p["end"] and p["path"] == doc.name for p in obj["passages"])
        # best first: answers are ranked by their raw score (start + end logit), which compares across windows
        raw = [a["raw_score"] for a in obj["answers"]]
        assert raw == sorted(raw, reverse=True)
        several += len(raw) > 1
    assert several, "with --threshold 0 and --top-k 2 the tiny model gives two answers, so the order is checked"


def test_questions_from_stdin(tiny_model_dir, doc):
    result = _run("ask", str(doc), "-", "--model", str(tiny_model_dir), "--json", stdin="first?\n\nsecond?\n")
    assert result.returncode == 0, result.stderr
    assert [json.loads(x)["question"] for x in result.stdout.splitlines()] == ["first?", "second?"]


def test_readable_output(tiny_model_dir, doc, capsys):
    assert main(["ask", str(doc), "where?", "--model", str(tiny_model_dir), "--threshold", "0.99"]) == 0
    assert "Not found in this document" in capsys.readouterr().out


@pytest.mark.parametrize("kind", ["missing", "directory", "binary", "empty"])
def test_bad_document_is_one_sentence(tmp_path, kind, capsys, tiny_model_dir):
    path = tmp_path / "x.txt"
    if kind == "directory":
        path = tmp_path
    elif kind == "binary":
        path.write_bytes(b"\x00\x01\x02" * 100)
    elif kind == "empty":
        path.write_text("")
    code = main(["ask", str(path), "what?", "--model", str(tiny_model_dir)])
    err = capsys.readouterr().err
    assert code == 2
    assert err.startswith("error: ") and err.count("\n") == 1 and "Traceback" not in err


def test_offline_without_a_model_says_what_to_do(doc):
    result = _run("ask", str(doc), "what?")
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert result.stderr.count("\n") == 1
    assert "assistant train" in result.stderr and "--model" in result.stderr


def test_missing_model_directory_is_one_sentence(doc, tmp_path):
    result = _run("ask", str(doc), "what?", "--model", str(tmp_path / "no-such-model"))
    assert result.returncode == 2 and "Traceback" not in result.stderr and result.stderr.count("\n") == 1


def test_help_explains_commands():
    result = _run("--help")
    assert result.returncode == 0
    for command in ("chat", "ask", "train", "eval", "models", "bench"):
        assert command in result.stdout
