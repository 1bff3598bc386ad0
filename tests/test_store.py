"""The conversation store: concurrent writers, migrations, a damaged file, and the app surviving store errors."""

from __future__ import annotations

import json
import random
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from assistant.core.engine import Answer, AskResult
from assistant.store import (
    MIGRATIONS,
    STORE_ERRORS,
    Context,
    ConversationStore,
    Turn,
    _move_aside,
    conversation_markdown,
    document_key,
)
from assistant.tui.app import AssistantApp
from assistant.tui.widgets.conversation import AnswerCard
from tests.pilot import allow_every_answer, ask, settle, wait_until

ROOT = Path(__file__).resolve().parent.parent
RESULT = AskResult("where?", [Answer("on the mat", 0, 10, 0.9, 3.5, 1, "on the mat", 0)], [], {"answer_ms": 1.0}, None)
NO_ANSWER = AskResult("where?", [], [], {}, "no answer above the threshold")

# One writer process: wait for the "go" file, then open the store and add one turn per new document.
WRITER = """
import sys, time
from pathlib import Path
from assistant.store import ConversationStore

class NoAnswer:  # stands in for AskResult, of which the store only calls to_json: the engine would import torch
    def __init__(self, question):
        self.question = question
    def to_json(self):
        return {"question": self.question, "answers": [], "passages": [], "timings": {}}

db, docs, ready, go = (Path(a) for a in sys.argv[1:5])
count = int(sys.argv[5])
ready.touch()
deadline = time.time() + 60
while not go.exists():
    if time.time() > deadline:
        sys.exit(3)
    time.sleep(0.0005)
store = ConversationStore(db)
lost = 0
for i in range(count):
    try:
        store.add_turn(docs / f"doc-{i}.txt", f"question {i}", NoAnswer(f"question {i}"))
    except Exception as exc:
        lost += 1
        print(f"{type(exc).__name__}: {exc}", file=sys.stderr)
store.close()
print(f"lost {lost}", file=sys.stderr)
sys.exit(1 if lost else 0)
"""


def _run_writers(db: Path, docs: Path, processes: int, count: int) -> list[subprocess.CompletedProcess]:
    """Start the writers, wait until all are ready, then release them at once so their first writes overlap."""
    go = db.parent / "go"
    readies = [db.parent / f"ready-{n}" for n in range(processes)]
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", WRITER, str(db), str(docs), str(ready), str(go), str(count)],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for ready in readies
    ]
    deadline = time.time() + 60
    while not all(r.exists() for r in readies):
        assert time.time() < deadline, "writers did not start"
        time.sleep(0.01)
    go.touch()
    results = []
    for proc in procs:
        out, err = proc.communicate(timeout=120)
        results.append(subprocess.CompletedProcess(proc.args, proc.returncode, out, err))
    return results


@pytest.mark.parametrize("existing", [False, True], ids=["fresh-db", "existing-db"])
def test_two_processes_adding_first_turns_for_the_same_new_documents_lose_nothing(tmp_path, existing):
    """Both processes add a turn for doc-0, then doc-1, ...: each is a new document, created by whichever is first."""
    db, docs = tmp_path / "history.sqlite3", tmp_path / "docs"
    if existing:  # only the document race, not the migration race
        ConversationStore(db).close()
    results = _run_writers(db, docs, processes=2, count=100)
    assert [r.returncode for r in results] == [0, 0], [r.stderr[-2000:] for r in results]
    store = ConversationStore(db)
    try:
        assert store.schema_version == len(MIGRATIONS)
        counts = [len(store.turns(docs / f"doc-{i}.txt")) for i in range(100)]
        assert counts == [2] * 100  # every turn of both processes, each document created once
    finally:
        store.close()


def test_several_processes_opening_a_fresh_database_apply_each_migration_once(tmp_path):
    db = tmp_path / "history.sqlite3"
    results = _run_writers(db, tmp_path / "docs", processes=4, count=1)
    assert [r.returncode for r in results] == [0] * 4, [r.stderr[-2000:] for r in results]
    with sqlite3.connect(db) as con:
        assert con.execute("PRAGMA user_version").fetchone()[0] == len(MIGRATIONS)
        assert con.execute("SELECT count(*) FROM turns").fetchone()[0] == 4
        assert con.execute("SELECT count(*) FROM documents").fetchone()[0] == 1


def test_a_version_1_database_is_migrated_and_keeps_its_turns(tmp_path):
    db, doc = tmp_path / "history.sqlite3", tmp_path / "notes.txt"
    con = sqlite3.connect(db)
    con.executescript(MIGRATIONS[0] + "\nPRAGMA user_version = 1;")
    con.execute("INSERT INTO documents(path, opened_at) VALUES (?, ?)", (document_key(doc), 1.0))
    con.execute(  # what version 1 stored: AskResult.to_json() of its time
        "INSERT INTO turns(document_id, question, result, created_at) VALUES (1, 'where?', ?, 2.0)",
        ('{"question": "where?", "answers": [], "passages": [], "timings": {"answer_ms": 3.0}}',),
    )
    con.commit()
    con.close()
    store = ConversationStore(db)
    try:
        assert store.schema_version == len(MIGRATIONS)
        [turn] = store.turns(doc)
        assert (turn.question, turn.created_at, turn.feedback) == ("where?", 2.0, None)
        assert turn.result == AskResult("where?", [], [], {"answer_ms": 3.0})
        store.set_feedback(turn.id, "right")
        assert store.turns(doc)[0].feedback == "right"
        assert store.add_turn(doc, "again?", RESULT) > turn.id
        assert [t.question for t in store.turns(doc)] == ["where?", "again?"]
    finally:
        store.close()


def _healthy_db_bytes(tmp_path: Path) -> bytes:
    """A real store file with enough turns to span many pages, checkpointed into the main file."""
    source = tmp_path / "source" / "history.sqlite3"
    store = ConversationStore(source)
    for i in range(200):
        store.add_turn(tmp_path / f"doc-{i % 7}.txt", f"question {i} " + "x" * 200, RESULT)
    store.close()
    assert not Path(f"{source}-wal").exists()
    return source.read_bytes()


@pytest.mark.parametrize("damage", ["random-bytes", "truncated-half", "truncated-header", "damaged-pages"])
def test_a_corrupt_database_is_moved_aside_and_a_fresh_store_works(tmp_path, damage):
    """damaged-pages opens without error (header and schema intact) and is caught only by the full check."""
    healthy = _healthy_db_bytes(tmp_path)
    mid = len(healthy) // 2
    bad = {
        "random-bytes": random.Random(0).randbytes(8192),
        "truncated-half": healthy[:mid],
        "truncated-header": healthy[:60],
        "damaged-pages": healthy[:mid] + random.Random(2).randbytes(8192) + healthy[mid + 8192 :],
    }[damage]
    db = tmp_path / "data" / "history.sqlite3"
    db.parent.mkdir()
    db.write_bytes(bad)
    store, notice = ConversationStore.open_or_recover(db)
    try:
        [moved] = db.parent.glob("history.sqlite3.corrupt-*[0-9]")
        assert moved.read_bytes() == bad
        assert notice and str(moved) in notice
        assert store.schema_version == len(MIGRATIONS) and store.turns(tmp_path / "a.txt") == []
        turn_id = store.add_turn(tmp_path / "a.txt", "where?", RESULT)
        store.set_feedback(turn_id, "wrong")
        assert [(t.question, t.feedback) for t in store.turns(tmp_path / "a.txt")] == [("where?", "wrong")]
    finally:
        store.close()


def test_moving_aside_takes_the_wal_and_shared_memory_files_along_and_never_overwrites(tmp_path):
    db = tmp_path / "history.sqlite3"
    for round_ in ("first", "second"):
        for suffix in ("", "-wal", "-shm"):
            Path(f"{db}{suffix}").write_text(f"{round_}{suffix}")
        moved = _move_aside(db)
        for suffix in ("", "-wal", "-shm"):
            assert Path(f"{moved}{suffix}").read_text() == f"{round_}{suffix}"
            assert not Path(f"{db}{suffix}").exists()
    assert len(list(tmp_path.glob("history.sqlite3.corrupt-*"))) == 6


def test_a_healthy_database_is_opened_as_it_is(tmp_path):
    db = tmp_path / "history.sqlite3"
    first = ConversationStore(db)
    first.add_turn(tmp_path / "a.txt", "where?", RESULT)
    first.close()
    store, notice = ConversationStore.open_or_recover(db)
    try:
        assert notice is None and [t.question for t in store.turns(tmp_path / "a.txt")] == ["where?"]
        assert list(tmp_path.glob("*.corrupt-*")) == []
    finally:
        store.close()


def test_a_store_that_cannot_be_created_raises_instead_of_moving_files(tmp_path):
    blocker = tmp_path / "not-a-directory"
    blocker.write_text("a file where the history directory should be")
    with pytest.raises((sqlite3.Error, OSError)):
        ConversationStore.open_or_recover(blocker / "history.sqlite3")
    assert blocker.read_text() == "a file where the history directory should be"


def test_a_turn_comes_back_as_the_ask_result_that_was_stored(tmp_path):
    store = ConversationStore(tmp_path / "history.sqlite3")
    try:
        store.add_turn(tmp_path / "a.txt", "where?", RESULT)
        store.add_turn(tmp_path / "a.txt", "where?", NO_ANSWER)
        assert [t.result for t in store.turns(tmp_path / "a.txt")] == [RESULT, NO_ANSWER]
    finally:
        store.close()


def _paths(contexts: list[Context]) -> list[Path]:
    assert all(len(context.paths) == 1 for context in contexts)
    return [context.first for context in contexts]


def test_several_paths_are_one_conversation_apart_from_each_paths_own(tmp_path):
    store = ConversationStore(tmp_path / "history.sqlite3")
    try:
        a, b = tmp_path / "a.txt", tmp_path / "docs"
        both = Context.of(b, a, a)  # each path once, in path order: the order named is not another context
        assert both.paths == (a, b) and both.name == "a.txt + docs" and both == Context.of(a, b)
        assert Context.of(tmp_path / "x" / "a.txt", a).name == "a.txt + x/a.txt"  # one name: their paths
        store.add_turn(a, "about a alone?", RESULT)
        store.add_turn(both, "about both?", RESULT)
        assert [t.question for t in store.turns(a)] == ["about a alone?"]
        assert [t.question for t in store.turns(Context.of(a, b))] == ["about both?"]
        assert store.recent_documents() == [Context((Path(document_key(a)), Path(document_key(b)))), Context.of(a)]
        store.clear(both)
        assert store.turns(both) == [] and len(store.turns(a)) == 1
    finally:
        store.close()


@pytest.mark.parametrize(
    "key",
    ["[", "[]", "[1, 2]", '["a", ""]', '["relative"]', '{"a": 1}', "", "relative", "[" * 5000, b"/a\xff"],
    ids=["cut", "empty", "numbers", "a blank path", "relative", "object", "blank", "not absolute", "deep", "bytes"],
)
def test_a_recent_entry_that_names_no_paths_is_not_offered(tmp_path, key):
    store = ConversationStore(tmp_path / "history.sqlite3")
    try:
        store.add_turn(tmp_path / "a.txt", "where?", RESULT)
        with sqlite3.connect(tmp_path / "history.sqlite3") as db:
            cast = "CAST(? AS TEXT)" if isinstance(key, bytes) else "?"
            db.execute(f"INSERT INTO documents(path, opened_at) VALUES ({cast}, ?)", (key, 1e12))
        assert _paths(store.recent_documents()) == [Path(document_key(tmp_path / "a.txt"))]
    finally:
        store.close()


def test_the_export_of_several_paths_lists_them_and_each_answer_names_its_file(tmp_path):
    answer = Answer("on the mat", 0, 10, 0.9, 3.5, 2, "on the mat", 0, path="docs/cat.md")
    turns = [Turn(1, "where?", AskResult("where?", [answer], [], {}), 0.0)]
    text = conversation_markdown(Context.of(tmp_path / "a.txt", tmp_path / "docs"), turns)
    assert "# Conversation about a.txt + docs\n\nDocuments:\n\n- ` " in text
    assert "(90%, docs/cat.md · line 2)" in text


def test_recent_documents_come_latest_question_first_and_stay_after_a_clear(tmp_path):
    store = ConversationStore(tmp_path / "history.sqlite3")
    try:
        first, second, third = (tmp_path / f"{name}.txt" for name in ("first", "second", "third"))
        for path in (first, second, third, first):
            store.add_turn(path, "where?", RESULT)
        assert _paths(store.recent_documents()) == [Path(document_key(p)) for p in (first, third, second)]
        assert _paths(store.recent_documents(limit=2)) == [Path(document_key(p)) for p in (first, third)]
        store.clear(second)
        assert Path(document_key(second)) in _paths(store.recent_documents())
    finally:
        store.close()


def test_a_stored_answer_of_the_wrong_shape_is_a_store_error(tmp_path):
    from assistant.store import STORE_ERRORS

    db = tmp_path / "history.sqlite3"
    store = ConversationStore(db)
    try:
        store.add_turn(tmp_path / "a.txt", "where?", RESULT)
        with sqlite3.connect(db) as con:
            con.execute("UPDATE turns SET result = '[1, 2]'")
        with pytest.raises(STORE_ERRORS, match="does not hold an answer"):
            store.turns(tmp_path / "a.txt")
    finally:
        store.close()


def test_the_markdown_export_quotes_every_line_of_a_multi_line_context(tmp_path):
    context = "The cat sat\non the mat.\n\nIt slept."
    answer = Answer("on the mat", 12, 22, 0.5, 1.0, 2, context, 0)
    turns = [
        Turn(1, "where?", AskResult("where?", [answer, answer], [], {}), 1.0, "right"),
        Turn(2, "why?", NO_ANSWER, 2.0),
    ]
    text = conversation_markdown(tmp_path / "notes.txt", turns)
    assert "- **Answer**: on the mat (50%, line 2)\n  > The cat sat\n  > on the mat.\n  >\n  > It slept.\n" in text
    assert "- Candidate 2: on the mat (50%, line 2)" in text and "- Feedback: right" in text
    assert "## why?\n\n_Not found in this document._" in text


def test_the_markdown_export_keeps_an_answer_across_lines_in_its_list_item_and_says_the_correction(tmp_path):
    context = "The cat sat on\nthe mat."
    answer = Answer("on\nthe mat", 12, 22, 0.5, 1.0, 1, context, 0)
    turns = [Turn(1, "where?", AskResult("where?", [answer], [], {}), 1.0, "wrong", correction="the\nmat")]
    text = conversation_markdown(tmp_path / "notes.txt", turns)
    assert "- **Answer**: on the mat (50%, lines 1–2)\n  > The cat sat on\n  > the mat.\n" in text
    assert "- Feedback: wrong\n- **Corrected answer**: the mat\n" in text


def test_an_older_history_gains_the_correction_column_and_keeps_its_turns(tmp_path):
    db = tmp_path / "old.sqlite3"
    with sqlite3.connect(db) as con:
        for version, script in enumerate(MIGRATIONS[:3], start=1):
            con.executescript(script)
            con.execute(f"PRAGMA user_version = {version}")
        con.execute("INSERT INTO documents(path, opened_at) VALUES (?, 0)", (document_key(tmp_path / "a.txt"),))
        payload = json.dumps(RESULT.to_json())
        insert = "INSERT INTO turns(document_id, question, result, created_at) VALUES (1, 'where?', ?, 0)"
        con.execute(insert, (payload,))
    store = ConversationStore(db)
    try:
        (turn,) = store.turns(tmp_path / "a.txt")
        assert (turn.question, turn.correction) == ("where?", None)
        store.set_feedback(turn.id, "wrong", "the mat")
        assert store.turns(tmp_path / "a.txt")[0].correction == "the mat"
    finally:
        store.close()


# --- the app survives store failures -----------------------------------------------------------------------------
SIZE = (120, 36)
TEXT = "The cat sat on the mat.\n\nThe dog ran in the park.\n"


@pytest.fixture
def doc(doc: Path) -> Path:
    """conftest's document, with every answer let through."""
    allow_every_answer()
    return doc


async def _ask(app, pilot, question: str) -> AnswerCard:
    """Ask, and wait until the answer (not only the card) is there."""
    await ask(app, pilot, question)
    await wait_until(pilot, lambda: app.screen.query(AnswerCard).last().result is not None, timeout=30)
    return app.screen.query(AnswerCard).last()


def _warnings(app) -> list[str]:
    return [n.message for n in app._notifications if n.severity == "warning"]


async def test_store_errors_are_warnings_and_the_answer_still_appears(tiny_model_dir, doc, tmp_path, monkeypatch):
    def locked(*args, **kwargs):
        raise sqlite3.OperationalError("database is locked")

    for method in ("add_turn", "turns", "set_feedback", "clear"):
        monkeypatch.setattr(ConversationStore, method, locked)
    app = AssistantApp(document_path=doc, model=str(tiny_model_dir), store_path=tmp_path / "h" / "history.sqlite3")
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        assert app.screen.indexed is not None and len(_warnings(app)) == 1  # restoring the history failed
        card = await _ask(app, pilot, "where did the cat sit?")
        assert card.result.answers and card.turn_id is None
        assert app.is_running and len(_warnings(app)) == 2
        assert "database is locked" in _warnings(app)[-1]
        app.action_export_conversation()
        app.chat.clear_conversation()
        await pilot.pause()
        assert app.is_running and len(_warnings(app)) == 4


async def test_a_corrupt_history_file_is_moved_aside_with_a_warning(tiny_model_dir, doc, tmp_path):
    db = tmp_path / "h" / "history.sqlite3"
    db.parent.mkdir()
    db.write_bytes(random.Random(1).randbytes(4096))
    app = AssistantApp(document_path=doc, model=str(tiny_model_dir), store_path=db)
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        [moved] = db.parent.glob("history.sqlite3.corrupt-*")
        [warning] = _warnings(app)
        assert str(moved) in warning
        card = await _ask(app, pilot, "where did the cat sit?")
        assert card.turn_id is not None and app.store.turns(doc)[0].question == "where did the cat sit?"


async def test_without_a_usable_history_the_app_answers_and_warns_once(tiny_model_dir, doc, tmp_path):
    blocker = tmp_path / "blocker"
    blocker.write_text("not a directory")
    app = AssistantApp(document_path=doc, model=str(tiny_model_dir), store_path=blocker / "history.sqlite3")
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        assert app.store is None and app.is_running
        card = await _ask(app, pilot, "where did the cat sit?")
        assert card.result.answers and card.turn_id is None
        [warning] = _warnings(app)
        assert str(blocker) in warning


def test_rows_the_program_did_not_write_are_skipped_or_one_store_error(tmp_path):
    db = tmp_path / "history.sqlite3"
    store = ConversationStore(db)
    try:
        store.add_turn(tmp_path / "a.txt", "where?", RESULT)
        with sqlite3.connect(db) as con:
            con.execute("INSERT INTO documents(path, opened_at) VALUES (?, 99)", (b"\xff\xfe",))
            con.execute("INSERT INTO recent_readers(ref, used_at) VALUES (?, 1)", (b"\x00",))
            broken = json.dumps(RESULT.to_json()).replace('"start": 0', '"start": 1e999')
            assert broken != json.dumps(RESULT.to_json())
            con.execute("UPDATE turns SET result = ?", (broken,))
        assert _paths(store.recent_documents()) == [Path(document_key(tmp_path / "a.txt"))]
        assert store.recent_readers() == []
        with pytest.raises(STORE_ERRORS, match="does not hold an answer"):
            store.turns(tmp_path / "a.txt")
    finally:
        store.close()


def test_the_markdown_export_keeps_names_and_readers_out_of_its_structure(tmp_path):
    turns = [Turn(1, "where?", NO_ANSWER, 1.0, "wrong", model="tiny\n## Injected\n- Feedback: right")]
    text = conversation_markdown(tmp_path / "a`b.txt", turns)
    assert "\n## Injected" not in text and "- Reader: tiny ## Injected - Feedback: right" in text
    assert "Document: `` " in text and "a`b.txt ``\n" in text  # a code span a backtick does not end


def test_annotations_hold_any_character_and_a_row_nested_past_any_row_is_skipped(tmp_path):
    from assistant.tui import feedback

    path = tmp_path / "annotations.jsonl"
    path.write_text("[" * 200_000 + "]" * 200_000 + "\n", encoding="utf-8")
    context = "The cat sat\u2028on the mat.\u0085It slept."
    note = feedback.annotation_for(context, "where?", context.index("on the mat"), context.index(".\u0085"))
    assert note is not None and feedback.save(path, note)
    assert not feedback.save(path, note)  # the same row, found again: no duplicate
    assert feedback.load_all(path) == [note]
    assert feedback.remove(path, note) and feedback.load_all(path) == []
    assert path.read_text(encoding="utf-8").startswith("[[[")  # the line that is not a row stays as it was


async def test_exporting_a_conversation_with_no_question_says_so_and_writes_nothing(tiny_model_dir, doc, tmp_path):
    from assistant.paths import user_data_dir

    app = AssistantApp(document_path=doc, model=str(tiny_model_dir), store_path=tmp_path / "h" / "history.sqlite3")
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        app.action_export_conversation()
        await wait_until(pilot, lambda: any("Nothing to export" in n.message for n in app._notifications))
    assert not list((user_data_dir() / "exports").glob("*.md"))
