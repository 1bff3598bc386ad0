"""A folder as one context: every document in it, of any format, ranked together; each answer names its file
(and page), with offsets into that file's text; what is not read is listed with why, never dropped silently."""

from __future__ import annotations

import json
import os
import socket
from pathlib import Path

import pytest

from assistant.core.errors import DocumentError
from assistant.core.folders import open_path
from tests.bad_inputs import assert_one_line_failure, assistant
from tests.document_files import docx_bytes, docx_paragraph, gz_bytes, pdf_bytes


@pytest.fixture
def library(tmp_path) -> Path:
    """A folder as people keep them: documents in several formats and folders, and things that are not documents."""
    root = tmp_path / "library"
    (root / "reports" / "2024").mkdir(parents=True)
    (root / ".git").mkdir()
    (root / "build").mkdir()
    (root / "reports" / "museum.pdf").write_bytes(
        pdf_bytes([["The museum opened in 1923."], ["The silver compass is kept in Lisbon."]])
    )
    (root / "reports" / "2024" / "staff.docx").write_bytes(docx_bytes(docx_paragraph("Nine people work here.")))
    (root / "notes.md").write_text("# Notes\n\nThe key is under the mat.\n", encoding="utf-8")
    (root / "changes.txt.gz").write_bytes(gz_bytes(b"Version 2 reads folders.\n"))
    (root / ".git" / "HEAD").write_text("ref: refs/heads/main\n", encoding="utf-8")
    (root / ".gitignore").write_text("build/\n*.log\n", encoding="utf-8")
    (root / "build" / "out.txt").write_text("generated, ignored\n", encoding="utf-8")
    (root / "debug.log").write_text("ignored too\n", encoding="utf-8")
    (root / "photo.bin").write_bytes(bytes(range(256)) * 8)
    (root / "empty.txt").write_text("", encoding="utf-8")
    os.symlink(root, root / "reports" / "loop")
    os.symlink(tmp_path / "gone.txt", root / "dangling.txt")
    return root


def test_a_folder_reads_every_document_and_lists_what_it_did_not_with_why(library):
    opened = open_path(library)
    assert opened.read == ["changes.txt.gz", "notes.md", "reports/2024/staff.docx", "reports/museum.pdf"]
    why = {s.path: s.why for s in opened.skipped}
    assert set(why) == {"photo.bin", "empty.txt", "reports/loop", "dangling.txt"}
    assert "binary" in why["photo.bin"] and "empty" in why["empty.txt"]
    assert "not followed" in why["reports/loop"] and "not followed" in why["dangling.txt"]
    text = opened.document.text
    assert "ignored" not in text and "refs/heads" not in text  # .gitignore'd and hidden, as ripgrep leaves them


def test_include_and_exclude_choose_files_by_name_or_path(library):
    assert open_path(library, include=["*.pdf"]).read == ["reports/museum.pdf"]
    assert open_path(library, include=["reports/**"], exclude=["*.pdf"]).read == ["reports/2024/staff.docx"]
    assert open_path(library, include=["reports/*"]).read == ["reports/museum.pdf"]  # * stays in its folder


def test_an_answer_from_a_folder_names_its_file_and_indexes_that_files_text(library, tiny_model_dir, capsys):
    question = "where is the silver compass kept?"
    argv = ["ask", str(library), question, "--model", str(tiny_model_dir), "--json", "--threshold", "0", "--top-k", "5"]
    outcome = assistant(capsys, *argv)
    assert outcome.code == 0, outcome.err
    result = json.loads(outcome.out)
    assert result["answers"]
    for answer in result["answers"]:
        file_text = assistant(capsys, "text", str(library / answer["path"])).out
        assert file_text[answer["start"] : answer["end"]] == answer["text"]
        assert answer["line"] == file_text.count("\n", 0, answer["start"]) + 1
        assert (answer["page"] is not None) == answer["path"].endswith(".pdf")
    assert {p["path"] for p in result["passages"]} <= set(open_path(library).read)
    assert "note: not read: photo.bin: " in outcome.err


@pytest.mark.parametrize("terminal", [False, True], ids=["stderr to a file", "stderr on a terminal"])
def test_every_file_not_read_is_listed_unless_the_list_would_hide_the_answers(
    tmp_path, tiny_model_dir, capsys, monkeypatch, terminal
):
    import sys

    from assistant.cli import SKIPPED_SHOWN

    (tmp_path / "notes.md").write_text("The spare key is in the blue jar.\n", encoding="utf-8")
    for n in range(SKIPPED_SHOWN + 5):
        (tmp_path / f"blob{n:02}.bin").write_bytes(bytes(range(256)))
    monkeypatch.setattr(sys.stderr, "isatty", lambda: terminal, raising=False)
    outcome = assistant(capsys, "ask", str(tmp_path), "where is the key?", "--model", str(tiny_model_dir))
    assert outcome.code == 0, outcome.err
    listed = outcome.err.count("note: not read: blob")  # on a terminal, the first follows the progress line's erasure
    assert listed == (SKIPPED_SHOWN if terminal else SKIPPED_SHOWN + 5)
    assert ("5 more files not read" in outcome.err) == terminal


def test_ask_reads_several_paths_as_one_context_and_names_each_answers_file(library, tiny_model_dir, capsys):
    common = library.parent
    extra = common / "extra.md"
    extra.write_text("# Extra\n\nThe spare key is in the blue jar.\n", encoding="utf-8")
    flags = ["--model", str(tiny_model_dir), "--threshold", "0", "--top-k", "5"]
    also = ["--also", str(extra), "--also", str(library / "notes.md")]
    outcome = assistant(capsys, "ask", str(library / "reports"), "where is the key?", *also, *flags, "--json")
    assert outcome.code == 0, outcome.err
    result = json.loads(outcome.out)
    read = {p["path"] for p in result["passages"]}
    assert read <= {"extra.md", "library/notes.md", "library/reports/museum.pdf", "library/reports/2024/staff.docx"}
    for answer in result["answers"]:
        file_text = assistant(capsys, "text", str(common / answer["path"])).out
        assert file_text[answer["start"] : answer["end"]] == answer["text"]
    panel = assistant(capsys, "ask", str(library / "reports"), "where is the key?", *also, *flags).out
    assert "extra.md + notes.md + reports" in panel  # in path order, as the files are read


def test_a_folder_with_a_socket_and_an_unreadable_file_still_opens(library):
    with socket.socket(socket.AF_UNIX) as server:
        server.bind(str(library / "agent.sock"))
        locked = library / "locked.txt"
        locked.write_text("private\n", encoding="utf-8")
        locked.chmod(0)
        try:
            opened = open_path(library)
        finally:
            locked.chmod(0o600)
    why = {s.path: s.why for s in opened.skipped}
    assert "socket" in why["agent.sock"]
    assert "locked.txt" in why or os.geteuid() == 0  # root reads any file
    assert "notes.md" in opened.read


def test_thousands_of_tiny_files_open_as_one_context(tmp_path):
    root = tmp_path / "many"
    root.mkdir()
    for n in range(3000):
        (root / f"note{n:05}.txt").write_text(f"Note {n} says the number is {n * 7}.\n", encoding="utf-8")
    opened = open_path(root)
    assert len(opened.read) == 3000 and not opened.skipped
    at = opened.document.text.index("number is 20993")
    assert opened.document.place(at, at + 5).path == "note02999.txt"


def test_the_text_budget_counts_the_whole_folder_and_says_what_did_not_fit(tmp_path, monkeypatch):
    from assistant.core.files import format_bytes

    root = tmp_path / "big"
    root.mkdir()
    for n in range(5):
        (root / f"part{n}.txt").write_text("word " * 400, encoding="utf-8")
    monkeypatch.setenv("ASSISTANT_MAX_DOCUMENT_BYTES", "5000")
    opened = open_path(root)
    assert len(opened.read) == 2 and len(opened.skipped) == 3
    for skipped in opened.skipped:  # the folder's budget, not a limit for one file of what happened to be left
        assert skipped.why.startswith(f"past the folder's text budget of {format_bytes(5000)} (1000 bytes left after")


def test_a_link_to_a_file_outside_is_never_read_and_a_link_loop_is_listed(tmp_path):
    secret = tmp_path / "secret.txt"
    secret.write_text("the launch code is 0000\n", encoding="utf-8")
    root = tmp_path / "shared"
    root.mkdir()
    (root / "readme.txt").write_text("Welcome to the shared folder.\n", encoding="utf-8")
    (root / "notes.txt").symlink_to(secret)
    (root / "l1").symlink_to(root / "l2")
    (root / "l2").symlink_to(root / "l1")
    opened = open_path(root)
    assert opened.read == ["readme.txt"] and "launch code" not in opened.document.text
    assert {s.path for s in opened.skipped} == {"notes.txt", "l1", "l2"}


IGNORED = [  # (.gitignore line, files, those left out) as git itself leaves them out
    ("/top.txt", ["top.txt", "sub/top.txt"], {"top.txt"}),
    ("sub/*.txt", ["sub/a.txt", "sub/deep/b.txt"], {"sub/a.txt"}),
    ("**/foo.txt", ["foo.txt", "x/y/foo.txt"], {"foo.txt", "x/y/foo.txt"}),
    ("a/**/b.txt", ["a/b.txt", "a/x/y/b.txt", "c/a/b.txt"], {"a/b.txt", "a/x/y/b.txt"}),
    ("\\#hash.txt", ["#hash.txt"], {"#hash.txt"}),
    ("*.log\n!keep.log", ["a.log", "keep.log", "b.txt"], {"a.log"}),
    ("build/", ["build/out.txt", "src/build/x.txt", "notes/build"], {"build/out.txt", "src/build/x.txt"}),
    ("doc[12].txt", ["doc1.txt", "doc3.txt"], {"doc1.txt"}),
]


@pytest.mark.parametrize(("pattern", "names", "left"), IGNORED, ids=[p for p, _, _ in IGNORED])
def test_gitignore_patterns_mean_what_git_means(pattern, names, left, tmp_path):
    root = tmp_path / "repo"
    for name in names:
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(f"This is {name}.\n", encoding="utf-8")
    (root / "always.txt").write_text("Always read.\n", encoding="utf-8")
    (root / ".gitignore").write_text(pattern.replace("\\n", "\n") + "\n", encoding="utf-8")
    assert set(open_path(root).read) == {*names, "always.txt"} - left


def test_exclude_leaves_out_whole_folders(library):
    assert open_path(library, exclude=["reports"]).read == ["changes.txt.gz", "notes.md"]
    assert open_path(library, exclude=["2024/"]).read == ["changes.txt.gz", "notes.md", "reports/museum.pdf"]
    assert open_path(library, exclude=["./reports"]).read == ["changes.txt.gz", "notes.md"]


def test_a_protected_pdf_in_a_folder_is_listed_and_read_with_the_password(library):
    from tests.document_files import encrypted_pdf

    (library / "vault.pdf").write_bytes(encrypted_pdf(pdf_bytes([["The vault opens at dawn."]]), "pw"))
    why = {s.path: s.why for s in open_path(library).skipped}
    assert "password-protected" in why["vault.pdf"]
    assert "vault.pdf" in open_path(library, password="pw").read


@pytest.mark.parametrize(
    ("make", "argv", "fragment"),
    [
        (lambda root: (root / "x.bin").write_bytes(b"\0" * 64), ["ask", "{root}", "what?"], "no document"),
        (lambda root: None, ["text", "{root}"], "folder"),
        (
            lambda root: (root / "a.txt").write_text("hi"),
            ["ask", "{root}/a.txt", "what?", "--include", "*.md"],
            "a file",
        ),
        (
            lambda root: [(root / name).write_text("hi") for name in ("a.txt", "b.txt")],
            ["ask", "{root}/a.txt", "what?", "--also", "{root}/b.txt", "--exclude", "b.txt"],
            "Only files",
        ),
    ],
    ids=["a folder with no document", "text of a folder", "globs on a file", "globs on files alone"],
)
def test_folder_mistakes_are_one_sentence(make, argv, fragment, tmp_path, tiny_model_dir, capsys):
    root = tmp_path / "folder"
    root.mkdir()
    make(root)
    words = [w.format(root=root) for w in argv] + (["--model", str(tiny_model_dir)] if argv[0] == "ask" else [])
    assert_one_line_failure(assistant(capsys, *words), fragment)


def test_an_empty_folder_is_one_sentence(tmp_path):
    with pytest.raises(DocumentError, match="no document"):
        open_path(tmp_path)


@pytest.mark.slow
def test_bench_times_a_folders_first_open_and_reopen_without_writing_into_it(library, capsys, monkeypatch):
    monkeypatch.setattr("assistant.bench_folders.RUNS", 1)  # what is timed, not its median
    before = sorted(p.relative_to(library) for p in library.rglob("*"))
    outcome = assistant(capsys, "bench", "--folder", str(library))
    assert outcome.code == 0, outcome.err
    report = json.loads(outcome.out.strip().splitlines()[-1])["folder"]
    assert (report["files"], report["skipped"]) == (4, 4)
    assert report["first_mb_per_s"] > 0 and report["reopen_share_of_first"] > 0
    assert report["changed_share_of_first"] > 0 and report["changed_file"] in [p.as_posix() for p in before]
    assert sorted(p.relative_to(library) for p in library.rglob("*")) == before


def test_the_chat_opens_several_paths_named_on_the_command_line(library, tmp_path, capsys, monkeypatch):
    from assistant.tui.app import AssistantApp

    extra = tmp_path / "extra.md"
    extra.write_text("The spare key is in the blue jar.\n", encoding="utf-8")
    started: list[object] = []
    monkeypatch.setattr(AssistantApp, "run", lambda self: started.append((self.document_path, self.also)))
    assert assistant(capsys, str(extra), str(library)).code == 0  # `assistant A B` is the chat, as `assistant A` is
    assert started == [(extra, (library,))]
    assert_one_line_failure(assistant(capsys, "chat", str(extra), str(tmp_path / "missing")), "missing")
    empty = [tmp_path / "e1.md", tmp_path / "e2.md"]
    for path in empty:
        path.write_bytes(b"")
    assert_one_line_failure(assistant(capsys, "chat", *map(str, empty)), "None of the paths named")
    assert len(started) == 1  # neither opened the app


def test_bench_refuses_a_folder_with_no_document_before_timing(tmp_path, capsys):
    assert_one_line_failure(assistant(capsys, "bench", "--folder", str(tmp_path)), "no document")


def test_the_chat_opens_a_folder_given_on_the_command_line(library, capsys, monkeypatch):
    from assistant.tui.app import AssistantApp

    started: list[object] = []
    monkeypatch.setattr(AssistantApp, "run", lambda self: started.append(self.document_path))
    assert assistant(capsys, "chat", str(library)).code == 0
    assert started == [library]
