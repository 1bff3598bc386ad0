"""A document's index saved on disk: a second cold ask loads it instead of splitting and indexing again,
answers the same, and a damaged, planted or unwritable cache never breaks an answer."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import numpy as np
import pytest

import assistant.core.engine as engine
from assistant.cli import main
from assistant.core.documents import Document
from assistant.core.engine import EngineSettings, index_document
from assistant.core.index_cache import cache_key, prune
from assistant.paths import index_cache_dir

QUESTIONS = ("where do the penguins sleep?", "who feeds the zebras?", "what does the keeper eat")


def _long_text() -> str:
    topics = ["penguins sleep on the ice", "the keeper feeds the zebras", "lions roar at dawn", "owls hunt mice"]
    paragraphs = []
    for i in range(60):
        topic = topics[i % len(topics)]
        paragraphs.append(f"Note {i}. In the {i}th pen {topic}. The visitors watch quietly. It rained on day {i}.")
    return "\n\n".join(paragraphs)


@pytest.fixture
def document() -> Document:
    return Document.from_text(_long_text())


def _same_index(a: engine.IndexedDocument, b: engine.IndexedDocument) -> None:
    assert [(p.start, p.end, p.text) for p in a.passages] == [(p.start, p.end, p.text) for p in b.passages]
    assert a.sentences.starts.tolist() == b.sentences.starts.tolist()
    assert a.sentences.ends.tolist() == b.sentences.ends.tolist()
    assert a.passage_words == b.passage_words and a.words == b.words
    assert a.retriever is not None and b.retriever is not None
    for question in QUESTIONS:
        assert np.allclose(a.retriever.scores(question), b.retriever.scores(question))


def _forbid_building(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("indexed again instead of loading the saved index")

    monkeypatch.setattr(engine, "_build_index", refuse)


def test_a_second_index_of_the_same_text_is_loaded_not_rebuilt(document, tmp_path, monkeypatch):
    uncached = index_document(document)
    built = index_document(document, cache_dir=tmp_path)
    assert len(_entries(tmp_path)) == 1
    _forbid_building(monkeypatch)
    loaded = index_document(document, cache_dir=tmp_path)
    _same_index(built, loaded)
    _same_index(uncached, loaded)


def test_changed_text_or_settings_index_afresh(document, tmp_path):
    index_document(document, cache_dir=tmp_path)
    changed = Document.from_text(document.text.replace("zebras", "giraffes"))
    assert index_document(changed, cache_dir=tmp_path).retriever.scores("giraffes").max() > 0
    index_document(document, EngineSettings(passage_words=20), cache_dir=tmp_path)
    assert len(_entries(tmp_path)) == 3


def _entries(folder: Path) -> list[Path]:
    return [p for p in folder.iterdir() if not p.name.startswith(".")]


def _entry(folder: Path) -> Path:
    (entry,) = _entries(folder)
    return entry


def _resave(path: Path, change) -> None:
    """Rewrite a saved array with ``change`` applied, keeping the manifest (so only the checks below catch it)."""
    array = np.load(path)
    np.save(path, change(array))


def _rehash(entry: Path) -> None:
    """Make the manifest match the files again: a damage that a checksum alone would not catch."""
    import hashlib
    import json

    manifest = json.loads((entry / "entry.json").read_text())
    for name in manifest["files"]:
        data = (entry / name).read_bytes()
        manifest["files"][name] = {"size": len(data), "sha256": hashlib.sha256(data).hexdigest()}
    (entry / "entry.json").write_text(json.dumps(manifest))


class _Payload:
    """Writes a marker file if it is ever unpickled."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (Path.touch, (self.marker,))


def _truncate(entry: Path, tmp: Path) -> None:
    spans = entry / "passage_ends.npy"
    spans.write_bytes(spans.read_bytes()[:100])


def _plant_pickle(entry: Path, tmp: Path) -> None:
    np.save(entry / "owner.npy", np.array([_Payload(tmp / "unpickled")], dtype=object), allow_pickle=True)


def _drop_term_arrays(entry: Path, tmp: Path) -> None:
    for array in entry.glob("term*.npy"):
        array.unlink()


def _declare_huge_array(entry: Path, tmp: Path) -> None:
    header = b"\x93NUMPY\x01\x00v\x00{'descr': '<i8', 'fortran_order': False, 'shape': (400000000000,), }"
    (entry / "owner.npy").write_bytes(header.ljust(128 - 1) + b"\n")


def _other_key(entry: Path, tmp: Path) -> None:
    (entry / "entry.json").write_text((entry / "entry.json").read_text().replace(entry.name, "0" * 64))


def _link_out(entry: Path, tmp: Path) -> None:
    outside = tmp.parent / f"{tmp.name}-elsewhere.npy"
    (entry / "owner.npy").rename(outside)
    (entry / "owner.npy").symlink_to(outside)


def _terms(name: str, change):
    return lambda entry, tmp: _resave(entry / f"{name}.npy", change)


DAMAGE = {
    "truncated offsets": _truncate,
    "offsets past the text": lambda entry, tmp: _resave(entry / "passage_ends.npy", lambda a: a + 10**6),
    "planted pickle": _plant_pickle,
    "garbage bm25 vocabulary": lambda entry, tmp: (entry / "vocabulary.json").write_text("[not json"),
    "a vocabulary of numbers": lambda entry, tmp: (entry / "vocabulary.json").write_text("[1, 2, 3]"),
    "missing bm25 arrays": _drop_term_arrays,
    "out-of-range ids": _terms("terms", lambda a: a + 10**6),
    "negative ids": _terms("terms", lambda a: a - 10**6),
    "counts of zero": _terms("term_counts", lambda a: np.zeros_like(a)),
    "pointers out of order": _terms("term_indptr", lambda a: a[::-1].copy()),
    "a huge declared array": _declare_huge_array,
    "manifest of another text": _other_key,
    "files linked elsewhere": _link_out,
}


def _damage(entry: Path, tmp_path: Path, damage: str) -> None:
    """Damage an entry; "(checksums redone)" then makes the manifest match again, so that only the checks of what
    the arrays hold can catch it."""
    DAMAGE[damage.removesuffix(" (checksums redone)")](entry, tmp_path)
    if damage.endswith("(checksums redone)"):
        _rehash(entry)


DAMAGES = [
    "truncated offsets",
    "offsets past the text",
    "offsets past the text (checksums redone)",
    "planted pickle",
    "planted pickle (checksums redone)",
    "garbage bm25 vocabulary",
    "missing bm25 arrays",
    "out-of-range ids",
    "out-of-range ids (checksums redone)",
    "negative ids (checksums redone)",
    "counts of zero (checksums redone)",
    "a vocabulary of numbers (checksums redone)",
    "pointers out of order (checksums redone)",
    "a huge declared array",
    "manifest of another text",
    "files linked elsewhere",
]


@pytest.mark.parametrize("damage", DAMAGES)
def test_a_damaged_cache_entry_is_rebuilt_with_the_same_answers(document, tmp_path, damage):
    built = index_document(document, cache_dir=tmp_path)
    _damage(_entry(tmp_path), tmp_path, damage)
    again = index_document(document, cache_dir=tmp_path)
    _same_index(built, again)
    assert not (tmp_path / "unpickled").exists()
    rebuilt = index_document(document, cache_dir=tmp_path)  # the bad entry was replaced: this one loads
    _same_index(built, rebuilt)
    assert not (_entry(tmp_path) / "owner.npy").is_symlink()


def test_an_entry_swapped_for_another_documents_is_not_used(document, tmp_path):
    other = Document.from_text(document.text.replace("zebras", "giraffes"))
    index_document(document, cache_dir=tmp_path)
    index_document(other, cache_dir=tmp_path)
    mine, theirs = (tmp_path / cache_key(d.text, 40, 1.0) for d in (document, other))
    shutil.rmtree(mine)
    shutil.copytree(theirs, mine)  # the other document's entry under this document's name
    again = index_document(document, cache_dir=tmp_path)
    _same_index(index_document(document), again)


def test_an_entry_of_another_document_renamed_and_relabelled_is_not_used(document, tmp_path):
    """A copy of another document's entry under this one's key, its manifest's key edited to match: the passages it
    holds read other text here, so it is rebuilt."""
    import json

    other = Document.from_text(document.text.replace("zebras", "giraffes").replace("Note", "Memo"))
    index_document(document, cache_dir=tmp_path)
    index_document(other, cache_dir=tmp_path)
    mine, theirs = (tmp_path / cache_key(d.text, 40, 1.0) for d in (document, other))
    shutil.rmtree(mine)
    shutil.copytree(theirs, mine)
    manifest = json.loads((mine / "entry.json").read_text())
    manifest["key"] = mine.name
    (mine / "entry.json").write_text(json.dumps(manifest))
    _same_index(index_document(document), index_document(document, cache_dir=tmp_path))


def test_a_users_folder_of_hidden_files_is_not_adopted(document, tmp_path):
    users = tmp_path / "index"
    users.mkdir()
    (users / ".DS_Store").write_text("x")
    (users / ".git").mkdir()
    index_document(document, cache_dir=users)
    assert sorted(p.name for p in users.iterdir()) == [".DS_Store", ".git"]


def test_a_linked_entry_is_not_followed(document, tmp_path):
    index_document(document, cache_dir=tmp_path)
    entry = _entry(tmp_path)
    moved = tmp_path.parent / f"{tmp_path.name}-moved"
    entry.rename(moved)
    entry.symlink_to(moved, target_is_directory=True)
    again = index_document(document, cache_dir=tmp_path)
    _same_index(index_document(document), again)
    assert moved.is_dir() and (moved / "entry.json").is_file(), "the link's target is never deleted"


def test_a_folder_the_program_did_not_make_is_never_written_or_pruned(document, tmp_path):
    users = tmp_path / "index"
    for i in range(70):
        (users / f"project-{i}").mkdir(parents=True)
    indexed = index_document(document, cache_dir=users)
    _same_index(index_document(document), indexed)
    assert sorted(p.name for p in users.iterdir()) == sorted(f"project-{i}" for i in range(70))
    for i in range(70):
        (users / f"{i:064x}").mkdir()  # named like entries, in a folder that is not the cache's
    index_document(document, cache_dir=users)
    prune(users, keep=3)
    assert len(list(users.iterdir())) == 140


def test_an_index_folder_of_an_earlier_version_is_adopted(document, tmp_path):
    old = tmp_path / "index"
    (old / ("a" * 64)).mkdir(parents=True)
    (old / f".{'b' * 16}-k2j4h1x0").mkdir()  # an earlier version's temporary folder
    index_document(document, cache_dir=old)
    assert len(_entries(old)) == 2 and (old / ".doc-assistant").is_file()


def test_temporaries_a_killed_writer_left_are_swept(document, tmp_path):
    import subprocess
    import sys

    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    index_document(document, cache_dir=tmp_path)
    left = tmp_path / f".{'b' * 16}.tmp-{proc.pid}-0a0b0c0d"
    left.mkdir()
    (left / "passage_starts.npy").write_bytes(b"half")
    index_document(Document.from_text(document.text + " More."), cache_dir=tmp_path)
    assert not left.exists() and len(_entries(tmp_path)) == 2


def test_an_unwritable_cache_only_costs_time(document, tmp_path):
    blocked = tmp_path / "file-not-folder"
    blocked.write_text("x", encoding="utf-8")
    indexed = index_document(document, cache_dir=blocked / "index")
    _same_index(index_document(document), indexed)


def test_a_short_document_is_not_cached(tmp_path):
    index_document(Document.from_text("The cat sat on the mat."), cache_dir=tmp_path)
    assert not tmp_path.exists() or not any(tmp_path.iterdir())


def test_the_least_recently_used_indexes_go_first(tmp_path):
    from assistant.core.ownership import mark

    mark(tmp_path, "index-cache")
    for i in range(5):
        entry = tmp_path / f"{i:064x}"
        entry.mkdir()
        os.utime(entry, (1000 + i, 1000 + i))
    prune(tmp_path, keep=3)
    assert sorted(p.name for p in _entries(tmp_path)) == [f"{i:064x}" for i in (2, 3, 4)]


def test_the_key_follows_text_and_the_settings_that_shape_the_index():
    key = cache_key("some text", 40, 1.0)
    assert key == cache_key("some text", 40, 1.0)
    assert (
        len({key, cache_key("some text!", 40, 1.0), cache_key("some text", 20, 1.0), cache_key("some text", 40, 0)})
        == 4
    )


def test_ask_saves_the_index_under_the_user_cache_and_answers_the_same(tiny_model_dir, tmp_path, capsys):
    doc = tmp_path / "zoo.txt"
    doc.write_text(_long_text(), encoding="utf-8")
    argv = ["ask", str(doc), QUESTIONS[0], "--model", str(tiny_model_dir), "--json", "--threshold", "0"]
    assert main(argv) == 0
    first = capsys.readouterr().out
    cache = index_cache_dir()
    assert len([p for p in cache.iterdir() if not p.name.startswith(".")]) == 1
    assert main(argv) == 0
    second = capsys.readouterr().out
    strip = lambda out: [line.split('"timings"')[0] for line in out.splitlines()]  # noqa: E731
    assert strip(first) == strip(second)
