"""A document's index saved on disk: a second cold ask loads it instead of splitting and indexing again,
answers the same, and a damaged, planted or unwritable cache never breaks an answer."""

from __future__ import annotations

import os
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
    assert a.sentences.spans == b.sentences.spans
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
    assert len(list(tmp_path.iterdir())) == 1
    _forbid_building(monkeypatch)
    loaded = index_document(document, cache_dir=tmp_path)
    _same_index(built, loaded)
    _same_index(uncached, loaded)


def test_changed_text_or_settings_index_afresh(document, tmp_path):
    index_document(document, cache_dir=tmp_path)
    changed = Document.from_text(document.text.replace("zebras", "giraffes"))
    assert index_document(changed, cache_dir=tmp_path).retriever.scores("giraffes").max() > 0
    index_document(document, EngineSettings(passage_words=20), cache_dir=tmp_path)
    assert len([p for p in tmp_path.iterdir() if not p.name.startswith(".")]) == 3


def _entry(folder: Path) -> Path:
    (entry,) = [p for p in folder.iterdir() if not p.name.startswith(".")]
    return entry


@pytest.mark.parametrize(
    "damage",
    ["truncated spans", "offsets past the text", "planted pickle", "garbage bm25 vocabulary", "missing bm25 arrays"],
)
def test_a_damaged_cache_is_rebuilt_with_the_same_answers(document, tmp_path, damage):
    built = index_document(document, cache_dir=tmp_path)
    entry = _entry(tmp_path)
    spans = entry / "spans.npz"
    if damage == "truncated spans":
        spans.write_bytes(spans.read_bytes()[:100])
    elif damage == "offsets past the text":
        saved = dict(np.load(spans))
        saved["passage_ends"] = saved["passage_ends"] + 10**6
        np.savez(spans, **saved)
    elif damage == "planted pickle":
        marker = tmp_path / "unpickled"
        saved = dict(np.load(spans))
        saved["owner"] = np.array([_Payload(marker)], dtype=object)
        np.savez(spans, **saved)
    elif damage == "garbage bm25 vocabulary":
        (entry / "passages" / "vocab.index.json").write_text("[not json", encoding="utf-8")
    else:
        for array in (entry / "paragraphs").glob("*.npy"):
            array.unlink()
    again = index_document(document, cache_dir=tmp_path)
    _same_index(built, again)
    assert not (tmp_path / "unpickled").exists()


class _Payload:
    """Writes a marker file if it is ever unpickled."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (Path.touch, (self.marker,))


def test_an_unwritable_cache_only_costs_time(document, tmp_path):
    blocked = tmp_path / "file-not-folder"
    blocked.write_text("x", encoding="utf-8")
    indexed = index_document(document, cache_dir=blocked / "index")
    _same_index(index_document(document), indexed)


def test_a_short_document_is_not_cached(tmp_path):
    index_document(Document.from_text("The cat sat on the mat."), cache_dir=tmp_path)
    assert not tmp_path.exists() or not any(tmp_path.iterdir())


def test_the_least_recently_used_indexes_go_first(tmp_path):
    for i in range(5):
        entry = tmp_path / f"{i:064x}"
        entry.mkdir()
        os.utime(entry, (1000 + i, 1000 + i))
    prune(tmp_path, keep=3)
    assert sorted(p.name for p in tmp_path.iterdir()) == [f"{i:064x}" for i in (2, 3, 4)]


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
