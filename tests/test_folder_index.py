"""A folder's saved index: reopening an unchanged folder reads no file, one changed, added or removed file is read
alone, the result is always what indexing from scratch gives, and a damaged or foreign cache is rebuilt or left
alone, never trusted."""

from __future__ import annotations

import os
import sqlite3
import time
from pathlib import Path

import numpy as np
import pytest

from assistant.core import folder_index
from assistant.core.engine import EngineSettings, IndexedDocument, index_document
from assistant.core.errors import DocumentError, UserError
from assistant.core.folder_entries import BadEntry, FileIndex, entry_bytes, entry_from_bytes, index_file
from assistant.core.folder_index import open_indexed
from assistant.core.folders import open_path
from assistant.core.formats.base import Extracted, Location
from assistant.core.ownership import MARKER
from tests.document_files import pdf_bytes

TOPICS = ["zebras", "lighthouses", "volcanoes", "orchards", "glaciers", "comets"]
QUESTIONS = ["Where do the zebras graze?", "How tall is the lighthouse?", "When did the comet pass?", "orchard"]
OLD = time.time() - 3600


def _text(topic: str, n: int = 40) -> str:
    lines = [f"Note {i} about {topic}: the {topic} were counted on day {i} and found well." for i in range(n)]
    return f"# {topic.title()}\n\n" + "\n\n".join(" ".join(lines[i : i + 4]) for i in range(0, n, 4)) + "\n"


def _write(path: Path, text: str | bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(text.encode() if isinstance(text, str) else text)
    os.utime(path, (OLD, OLD))  # older than a timestamp's grain: its size and time can be trusted


@pytest.fixture
def folder(tmp_path) -> Path:
    root = tmp_path / "notes"
    for i, topic in enumerate(TOPICS):
        _write(root / ("deep" if i % 2 else "") / f"{topic}.md", _text(topic))
    _write(root / "museum.pdf", pdf_bytes([["The lighthouse is 40 metres tall."], ["The comet passed in 1910."]]))
    _write(root / "photo.bin", bytes(range(256)) * 4)
    return root


@pytest.fixture(autouse=True)
def written_a_while_ago(monkeypatch) -> None:
    """The files were written (their change time is now, whatever their modification time) long enough ago for
    their stamps to be trusted: as a folder is opened again the next day."""
    monkeypatch.setattr(folder_index, "now_ns", lambda: time.time_ns() + 60 * 10**9)


@pytest.fixture
def caches(tmp_path) -> dict[str, Path]:
    return {"file_cache": tmp_path / "cache" / "index", "folder_cache": tmp_path / "cache" / "folders"}


@pytest.fixture
def reads(monkeypatch) -> list[str]:
    """The files extracted (read and split again, not taken from the saved index)."""
    seen: list[str] = []
    real = folder_index.extracted_from

    def counting(raw, path, *args, **kwargs):
        seen.append(path.name)
        return real(raw, path, *args, **kwargs)

    monkeypatch.setattr(folder_index, "extracted_from", counting)
    return seen


def _open(root: Path, caches: dict[str, Path], **kwargs) -> IndexedDocument:
    return open_indexed(root, EngineSettings(), **caches, **kwargs)[1]


def _fresh(root: Path) -> IndexedDocument:
    """The folder indexed as a document, with no saved index at all."""
    return index_document(open_path(root).document, EngineSettings())


def _same(a: IndexedDocument, b: IndexedDocument) -> None:
    assert a.document.text == b.document.text
    assert [(p.name, p.start, p.end, p.locations) for p in a.document.parts] == [
        (p.name, p.start, p.end, p.locations) for p in b.document.parts
    ]
    assert [(p.start, p.end, p.text) for p in a.passages] == [(p.start, p.end, p.text) for p in b.passages]
    assert a.sentences.starts.tolist() == b.sentences.starts.tolist()
    assert a.passage_words == b.passage_words
    assert a.retriever is not None and b.retriever is not None
    for question in QUESTIONS:
        assert np.allclose(a.retriever.scores(question), b.retriever.scores(question), atol=1e-5)


def test_a_folder_indexed_file_by_file_ranks_as_the_whole_folder_indexed_at_once(folder, caches):
    _same(_open(folder, caches), _fresh(folder))


def test_reopening_an_unchanged_folder_reads_no_file(folder, caches, reads):
    first = _open(folder, caches)
    assert sorted(reads) == sorted([*(f"{t}.md" for t in TOPICS), "museum.pdf", "photo.bin"])
    reads.clear()
    opened, again = open_indexed(folder, EngineSettings(), **caches)
    assert reads == []
    _same(again, first)
    assert [s.path for s in opened.skipped] == ["photo.bin"] and "binary" in opened.skipped[0].why
    assert again.document.place(*_span(again, "40 metres")).page == 1


def _span(indexed: IndexedDocument, needle: str) -> tuple[int, int]:
    start = indexed.document.text.index(needle)
    return start, start + len(needle)


def test_one_changed_file_is_read_alone_and_its_new_text_is_ranked(folder, caches, reads):
    _open(folder, caches)
    reads.clear()
    _write(folder / "deep" / "lighthouses.md", _text("lighthouses") + "\nThe lighthouse keeper feeds seven cats.\n")
    again = _open(folder, caches)
    assert reads == ["lighthouses.md", "photo.bin"]  # what could not be read is tried again: it may be fixed
    _same(again, _fresh(folder))
    best = int(again.retriever.ranked("Who feeds seven cats?")[0][0])
    assert "seven cats" in again.passages[best].text


def test_a_file_touched_but_not_changed_is_hashed_not_read_again(folder, caches, reads):
    _open(folder, caches)
    reads.clear()
    later = OLD + 60
    os.utime(folder / "zebras.md", (later, later))
    _same(_open(folder, caches), _fresh(folder))
    assert reads == ["photo.bin"]


def test_a_file_rewritten_with_its_old_size_and_time_is_read_again(folder, caches, reads):
    _open(folder, caches)
    reads.clear()
    path = folder / "zebras.md"
    old = path.read_text(encoding="utf-8")
    _write(path, old.replace("zebras", "ravens"))  # the same size, and the same time put back (as cp -p does)
    again = _open(folder, caches)
    assert sorted(reads) == ["photo.bin", "zebras.md"]
    assert "ravens" in again.document.text and "zebras" not in again.document.text
    _same(again, _fresh(folder))


def test_a_file_whose_name_is_not_utf8_is_indexed_and_kept(folder, caches, reads):
    name = os.fsdecode(b"r\xe9sum\xe9.md")
    _write(folder / name, _text("resumes"))
    first = _open(folder, caches)
    assert name in [part.name for part in first.document.parts]
    reads.clear()
    _same(_open(folder, caches), first)
    assert reads == []  # from the snapshot


def test_added_and_removed_files_come_and_go(folder, caches, reads):
    _open(folder, caches)
    reads.clear()
    (folder / "volcanoes.md").unlink()
    _write(folder / "added" / "tides.md", _text("tides"))
    again = _open(folder, caches)
    assert sorted(reads) == ["photo.bin", "tides.md"]
    assert "volcanoes" not in again.document.text and "tides" in again.document.text
    _same(again, _fresh(folder))
    with sqlite3.connect(next(caches["folder_cache"].glob("*.sqlite"))) as db:
        kept = {bytes(row[0]).decode() for row in db.execute("SELECT path FROM files")}
    assert "volcanoes.md" not in kept and "added/tides.md" in kept


@pytest.fixture
def splices(monkeypatch) -> list[int]:
    """For each open that spliced changes into the last snapshot: how many files it put in."""
    made: list[int] = []
    real = folder_index.spliced

    def counting(snapshot, read, sources):
        made.append(sum(isinstance(item, FileIndex) for _, item in read))
        return real(snapshot, read, sources)

    monkeypatch.setattr(folder_index, "spliced", counting)
    return made


def _replace_every_file(root: Path) -> None:
    for path in root.rglob("*.md"):
        _write(path, _text("glaciers", 12).replace("glaciers", path.stem.upper()))


EDITS = {
    "a file changed": lambda root: _write(root / "zebras.md", _text("quaggas", 17)),
    "a file added between others": lambda root: _write(root / "deep" / "meadows.md", _text("meadows")),
    "a file added first": lambda root: _write(root / "aardvarks.md", _text("aardvarks", 3)),
    "the first file removed": lambda root: (root / "deep" / "comets.md").unlink(),
    "the last file removed": lambda root: (root / "zebras.md").unlink(),
    "a file emptied": lambda root: _write(root / "volcanoes.md", ""),
    "a PDF's pages changed": lambda root: _write(
        root / "museum.pdf", pdf_bytes([["The comet passed in 1986."], ["Nothing."], ["The lighthouse is gone."]])
    ),
    "a file that could not be read made readable": lambda root: _write(root / "photo.bin", _text("photos")),
    "files changed, added and removed at once": lambda root: (
        _write(root / "deep" / "lighthouses.md", _text("lighthouses", 80)),
        (root / "glaciers.md").unlink(),
        _write(root / "deep" / "zz" / "tides.md", _text("tides")),
    ),
}


@pytest.mark.parametrize("edit", list(EDITS))
def test_changes_spliced_into_the_last_snapshot_index_as_the_folder_read_anew(folder, caches, reads, splices, edit):
    _open(folder, caches)
    for _ in range(2):  # a change, then another one spliced into the snapshot the first splice saved
        reads.clear()
        EDITS[edit](folder)
        again = _open(folder, caches)
        _same(again, _fresh(folder))
        assert set(again.retriever.passages.vocabulary) == set(_fresh(folder).retriever.passages.vocabulary)
        indexed = [r for r in reads if any(Path(part.name).name == r for part in again.document.parts)]
        assert len(splices) == 1 and splices.pop() == len(indexed)  # only the files read again are put in
        if "removed" in edit or "added" in edit:
            break
    reads.clear()
    _same(_open(folder, caches), _fresh(folder))
    assert reads == [] and splices == []  # the spliced folder's snapshot, saved


def test_when_every_file_changed_the_folder_is_assembled_anew(folder, caches, reads, splices):
    _open(folder, caches)
    _replace_every_file(folder)
    (folder / "museum.pdf").unlink()
    (folder / "photo.bin").unlink()
    _same(_open(folder, caches), _fresh(folder))
    assert splices == []


def test_a_snapshot_ranked_with_another_paragraph_weight_is_not_spliced_into(folder, caches, splices):
    _open(folder, caches)
    _write(folder / "zebras.md", _text("quaggas"))
    settings = EngineSettings(paragraph_weight=0.0)
    again = open_indexed(folder, settings, **caches)[1]
    fresh = index_document(open_path(folder).document, settings)
    assert splices == [] and again.retriever is not None and fresh.retriever is not None
    assert again.retriever.paragraphs is None
    for question in QUESTIONS:
        assert np.allclose(again.retriever.scores(question), fresh.retriever.scores(question), atol=1e-5)


def test_several_paths_open_as_one_context_named_from_their_common_folder(folder, caches, reads, tmp_path):
    other = tmp_path / "more"
    _write(other / "tides.md", _text("tides"))
    _write(other / ".hidden.md", _text("hidden"))
    _write(other / "skipped" / "comets.md", _text("comets"))
    also = [other / "tides.md", other / ".hidden.md", folder / "deep", folder / "deep" / "orchards.md"]
    opened, indexed = open_indexed(folder / "zebras.md", EngineSettings(), **caches, also=also)
    names = [part.name for part in indexed.document.parts]
    assert names == [
        "more/.hidden.md",  # named, so read although hidden
        "more/tides.md",
        "notes/deep/comets.md",
        "notes/deep/lighthouses.md",
        "notes/deep/orchards.md",  # once, although named and inside a folder named
        "notes/zebras.md",
    ]
    assert opened.read == names and "Note 0 about comets" in indexed.document.text
    assert indexed.document.text.count("Note 0 about comets") == 1  # more/skipped/ was not named
    reads.clear()
    _, again = open_indexed(folder / "zebras.md", EngineSettings(), **caches, also=also)
    assert reads == []
    _same(again, indexed)
    best = int(again.retriever.ranked("Where do the zebras graze?")[0][0])
    assert again.document.place(again.passages[best].start, again.passages[best].end).path == "notes/zebras.md"


def test_a_path_named_with_others_that_cannot_be_read_is_one_sentence(folder, caches, tmp_path):
    with pytest.raises(DocumentError, match="No such file"):
        open_indexed(folder, EngineSettings(), **caches, also=[tmp_path / "nothing.md"])


def test_a_path_named_through_a_link_is_named_where_it_leads(tmp_path, caches):
    _write(tmp_path / "a" / "x.txt", _text("zebras"))
    _write(tmp_path / "a" / "r.txt", _text("comets"))  # not what a/link/../r.txt names
    _write(tmp_path / "real" / "r.txt", _text("orchards"))
    _write(tmp_path / "real" / "inner" / "y.txt", _text("glaciers"))
    (tmp_path / "a" / "link").symlink_to(tmp_path / "real" / "inner")
    also = [tmp_path / "a" / "link" / ".." / "r.txt", tmp_path / "a" / "link"]
    _, indexed = open_indexed(tmp_path / "a" / "x.txt", EngineSettings(), **caches, also=also)
    assert [part.name for part in indexed.document.parts] == ["a/x.txt", "real/inner/y.txt", "real/r.txt"]
    for part in indexed.document.parts:  # each name is the file whose text it holds
        assert (tmp_path / part.name).read_text(encoding="utf-8") == indexed.document.text[part.start : part.end]


def test_what_is_named_twice_is_read_and_listed_once_and_a_link_named_is_read(folder, caches):
    (folder / "link.md").symlink_to(folder / "zebras.md")
    (folder / "shortcut").symlink_to(folder / "deep")
    also = [folder, folder / "link.md", folder / "shortcut"]
    opened, indexed = open_indexed(folder, EngineSettings(), **caches, also=also)
    assert [s.path for s in opened.skipped] == ["photo.bin"]  # once, and not the links: they were named
    names = [part.name for part in indexed.document.parts]
    assert "link.md" in names and "deep/comets.md" in names and not any(n.startswith("shortcut") for n in names)


@pytest.mark.parametrize("where", ["first", "also"])
def test_an_empty_path_is_one_sentence_not_the_current_folder(folder, caches, where):
    paths = ("", [folder]) if where == "first" else (folder, [""])
    with pytest.raises(UserError, match="empty path"):
        open_indexed(paths[0], EngineSettings(), **caches, also=paths[1])


@pytest.mark.parametrize("where", ["first", "also"])
def test_a_file_named_with_a_closing_slash_is_one_sentence(folder, caches, where):
    named = f"{folder / 'zebras.md'}/"  # what the system refuses (not a folder), never read as the file
    paths = (named, []) if where == "first" else (folder / "deep", [named])
    with pytest.raises(UserError, match="ends with a slash"):
        open_indexed(paths[0], EngineSettings(), **caches, also=paths[1])


def test_a_cancelled_first_open_keeps_the_files_it_indexed(folder, caches, reads):
    calls = iter(range(1000))
    with pytest.raises(DocumentError, match="stopped"):
        _open(folder, caches, stopped=lambda: next(calls) > 6)  # asked before each file, and inside each file
    indexed = set(reads[:-1]) - {"photo.bin"}  # the last was stopped while it was read
    assert indexed
    reads.clear()
    _same(_open(folder, caches), _fresh(folder))
    assert not set(reads) & indexed


def test_what_a_password_opens_is_not_kept(folder, caches):
    _open(folder, caches, password="secret")
    assert not caches["folder_cache"].exists() or not list(caches["folder_cache"].glob("*.sqlite"))


def test_a_file_modified_just_now_is_hashed_next_time_and_no_snapshot_is_kept(folder, caches, reads, monkeypatch):
    monkeypatch.setattr(folder_index, "now_ns", time.time_ns)
    (folder / "zebras.md").write_text(_text("zebras"), encoding="utf-8")  # modified now
    _open(folder, caches)
    with sqlite3.connect(next(caches["folder_cache"].glob("*.sqlite"))) as db:
        assert db.execute("SELECT COUNT(*) FROM snapshots").fetchone()[0] == 0
        assert db.execute("SELECT stamp FROM files WHERE path = ?", (b"zebras.md",)).fetchone()[0] == ""
    monkeypatch.setattr(folder_index, "now_ns", lambda: time.time_ns() + 60 * 10**9)
    reads.clear()
    _same(_open(folder, caches), _fresh(folder))
    assert reads == ["photo.bin"]


def test_a_saved_file_over_a_smaller_budget_is_skipped_as_reading_it_would(folder, caches, monkeypatch):
    _open(folder, caches)
    monkeypatch.setenv("ASSISTANT_MAX_DOCUMENT_BYTES", str(len(_text("zebras")) * 2 + 10))
    opened, _ = open_indexed(folder, EngineSettings(), **caches)
    assert len(opened.read) == 2
    assert any("past the folder's text budget" in s.why for s in opened.skipped)
    alone = open_path(folder)
    assert opened.read == alone.read
    assert [(s.path, s.why) for s in opened.skipped] == [(s.path, s.why) for s in alone.skipped]


def test_a_saved_gzip_over_a_smaller_budget_is_skipped_in_the_words_reading_it_says(folder, caches, monkeypatch):
    import gzip

    _write(folder / "zz.md.gz", gzip.compress(_text("walruses", 400).encode(), mtime=0))
    _open(folder, caches)
    monkeypatch.setenv("ASSISTANT_MAX_DOCUMENT_BYTES", str(len(_text("zebras")) * 4))
    alone = open_path(folder)
    for _ in range(2):  # from the entries, then from the snapshot
        opened, _ = open_indexed(folder, EngineSettings(), **caches)
        assert [(s.path, s.why) for s in opened.skipped] == [(s.path, s.why) for s in alone.skipped]
    assert any(s.path == "zz.md.gz" and "inflates past" in s.why for s in alone.skipped)


@pytest.fixture
def on_every_core(monkeypatch):
    """Workers for any amount of text, on two cores even where there is one."""
    monkeypatch.setattr(folder_index, "PARALLEL_BYTES", 0)
    monkeypatch.setattr(folder_index, "processes", lambda: 2)


def test_files_read_by_worker_processes_index_as_read_here(folder, caches, on_every_core):
    stages: list[float] = []
    opened, indexed = open_indexed(folder, EngineSettings(), **caches, progress=lambda _, f: stages.append(f))
    _same(indexed, _fresh(folder))
    assert [s.path for s in opened.skipped] == ["photo.bin"] and "binary" in opened.skipped[0].why
    assert stages == sorted(stages) and stages[-1] == 1.0
    _same(_open(folder, caches), _fresh(folder))


def test_workers_skip_what_cannot_be_read_with_the_same_reasons(folder, caches, on_every_core, monkeypatch):
    monkeypatch.setenv("ASSISTANT_MAX_DOCUMENT_BYTES", str(len(_text("zebras")) * 2 + 10))
    for _ in range(2):  # read by workers, then from the entries kept (over the budget or not)
        opened, _ = open_indexed(folder, EngineSettings(), **caches)
        alone = open_path(folder)
        assert opened.read == alone.read
        assert [(s.path, s.why) for s in opened.skipped] == [(s.path, s.why) for s in alone.skipped]
        _write(folder / "zebras.md", _text("zebras", 41))


def test_a_stop_ends_the_workers(folder, caches, on_every_core):
    with pytest.raises(DocumentError, match="stopped"):
        _open(folder, caches, stopped=lambda: True)


# --- damage -----------------------------------------------------------------------------------------------------


def _database(caches: dict[str, Path]) -> Path:
    return next(caches["folder_cache"].glob("*.sqlite"))


def _tamper(caches: dict[str, Path], sql: str, *values: object) -> None:
    with sqlite3.connect(_database(caches)) as db:
        assert db.execute(sql, values).rowcount >= 1  # the damage is done, not missed


def _entry(caches: dict[str, Path], rel: str) -> bytes:
    with sqlite3.connect(_database(caches)) as db:
        return bytes(db.execute("SELECT entry FROM entries WHERE path = ?", (rel.encode(),)).fetchone()[0])


def _redo_checksum(caches: dict[str, Path], rel: str, blob: bytes) -> None:
    import hashlib

    _tamper(caches, "UPDATE entries SET entry = ? WHERE path = ?", blob, rel.encode())
    _tamper(caches, "UPDATE files SET entry_sha256 = ? WHERE path = ?", hashlib.sha256(blob).hexdigest(), rel.encode())
    _tamper(caches, "DELETE FROM snapshots")


DAMAGE = {
    "garbage database": lambda caches: _database(caches).write_bytes(b"not a database" * 100),
    "truncated database": lambda caches: _database(caches).write_bytes(_database(caches).read_bytes()[:3000]),
    "entry bytes changed": lambda caches: (
        _tamper(caches, "UPDATE entries SET entry = ? WHERE path = ?", b"DAPK" + bytes(100), b"zebras.md"),
        _tamper(caches, "DELETE FROM snapshots"),
    ),
    "snapshot bytes changed": lambda caches: _snapshot_file(caches).write_bytes(bytes(100)),
    "snapshot cut short": lambda caches: _snapshot_file(caches).write_bytes(_snapshot_file(caches).read_bytes()[:999]),
    "snapshot gone": lambda caches: _snapshot_file(caches).unlink(),
    "snapshot replaced by a folder": lambda caches: _replaced_by_a_folder(_snapshot_file(caches)),
    "snapshot of another state": lambda caches: _tamper(caches, "UPDATE snapshots SET key = 'x'"),
    "entry checksum redone over another file's entry": lambda caches: _redo_checksum(
        caches, "zebras.md", _entry(caches, "museum.pdf")
    ),
    "database replaced by a folder": lambda caches: _replaced_by_a_folder(_database(caches)),
    "a folder where its journal goes": lambda caches: (
        _tamper(caches, "DELETE FROM snapshots"),
        Path(f"{_database(caches)}-journal").mkdir(),
    ),
}


def _snapshot_file(caches: dict[str, Path]) -> Path:
    return Path(f"{_database(caches)}.snapshot")


def _replaced_by_a_folder(path: Path) -> None:
    path.unlink()
    (path / "inside").mkdir(parents=True)


@pytest.mark.parametrize("damage", list(DAMAGE))
def test_a_damaged_saved_index_is_rebuilt_with_the_same_result(folder, caches, damage):
    _open(folder, caches)
    DAMAGE[damage](caches)
    _same(_open(folder, caches), _fresh(folder))
    _same(_open(folder, caches), _fresh(folder))


def test_a_database_that_is_a_link_is_not_followed(folder, caches, tmp_path):
    _open(folder, caches)
    database = _database(caches)
    elsewhere = tmp_path / "elsewhere.sqlite"
    elsewhere.write_bytes(b"precious")
    database.unlink()
    database.symlink_to(elsewhere)
    _same(_open(folder, caches), _fresh(folder))
    assert elsewhere.read_bytes() == b"precious"


def test_a_cache_folder_the_program_did_not_make_is_never_written(folder, caches):
    theirs = caches["folder_cache"]
    theirs.mkdir(parents=True)
    (theirs / "mine.txt").write_text("the user's", encoding="utf-8")
    _same(_open(folder, caches), _fresh(folder))
    assert sorted(p.name for p in theirs.iterdir()) == ["mine.txt"]
    assert not (theirs / MARKER).exists()


def test_the_least_recently_opened_folders_indexes_go_and_no_snapshot_outlives_its_database(tmp_path, caches):
    from assistant.core.folder_store import prune

    roots = []
    for n in range(3):
        roots.append(tmp_path / f"notes{n}")
        _write(roots[-1] / "a.md", _text(TOPICS[n]))
        _open(roots[-1], caches)
    cache = caches["folder_cache"]
    orphan = cache / ("0" * 32 + ".sqlite.snapshot")  # its database removed by something else
    orphan.write_bytes(b"old")
    prune(cache, keep=2)
    assert len(list(cache.glob("*.sqlite"))) == 2 and len(list(cache.glob("*.snapshot"))) == 2
    assert not orphan.exists()
    _same(_open(roots[0], caches), _fresh(roots[0]))  # the one pruned: indexed again


def test_nothing_is_written_into_the_folder_read(folder, caches):
    before = sorted(folder.rglob("*"))
    _open(folder, caches)
    _open(folder, caches)
    assert sorted(folder.rglob("*")) == before


# --- entries as bytes -------------------------------------------------------------------------------------------


def _entry_of(text: str) -> bytes:
    locations = (Location(0, 1, "Intro"), Location(len(text) // 2, 2, None))
    return entry_bytes(index_file(Extracted(text, "PDF", locations), 40), "notes/a.pdf")


def test_an_entry_reads_back_as_it_was_written():
    text = _text("zebras")
    index = entry_from_bytes(_entry_of(text), "notes/a.pdf")
    again = index_file(Extracted(text, "PDF", index.extracted.locations), 40)
    assert index.extracted == again.extracted
    for name, values in again.arrays.items():
        assert index.arrays[name].tolist() == values.tolist()
    assert index.counts.vocabulary == again.counts.vocabulary
    assert index.counts.terms.tolist() == again.counts.terms.tolist()


def test_an_entry_is_refused_for_another_file():
    with pytest.raises(BadEntry):
        entry_from_bytes(_entry_of(_text("zebras")), "notes/b.pdf")


def test_an_entry_changed_anywhere_is_refused_or_reads_as_a_sound_entry():
    blob = _entry_of(_text("zebras"))
    rng = np.random.default_rng(0)
    for position in rng.integers(0, len(blob), 300):
        changed = bytearray(blob)
        changed[position] ^= 0xFF
        try:
            index = entry_from_bytes(bytes(changed), "notes/a.pdf")
        except BadEntry:
            continue
        text = index.extracted.text
        assert index.arrays["passage_ends"].max() <= len(text)
        index.counts.check(index.arrays["passage_starts"].size)
