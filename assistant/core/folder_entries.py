"""What a folder's saved index holds: one entry per file, and a snapshot of the whole folder as last assembled.

An entry is one file's part of the index: its extracted text and places, its sentences and passages, and the term
counts of its passages and paragraphs (:mod:`assistant.core.bm25`), all indexing the file's own text. A snapshot is
the folder as one indexed document (the texts one after another, the offsets shifted, the BM25 scores computed), kept
so that reopening a folder in which nothing changed skips even the merging. Both are packed records
(:mod:`assistant.core.packed`), and both are checked when read back: any offset outside its text or out of order,
any term id outside the vocabulary, any score that is not a finite number is :class:`BadEntry`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from assistant.core.bm25 import Bm25, TermCounts, count_terms, grouped
from assistant.core.documents import Document, Part
from assistant.core.engine import IndexedDocument
from assistant.core.folders import Skipped, text_bytes
from assistant.core.formats.base import Extracted, Location
from assistant.core.packed import pack, pieces, unpack
from assistant.core.passages import PassageList, SentenceIndex, check_spans, spans_of
from assistant.core.retrieval import ContextualRetriever
from assistant.core.splitting import split_text

FORMAT = 4
"""Bump when what an entry, a snapshot or the store holds, or how text is extracted, split or counted, changes (2: a
PDF's words hyphenated across lines are joined; 3: files' stamps and paths as bytes; 4: a snapshot keeps each
file's source and BM25 counts, not weights, so that a changed file is spliced in)."""
_OFFSETS = ("sentence_starts", "sentence_ends", "passage_starts", "passage_ends", "words", "owner")
_COUNTS = ("indptr", "terms", "counts", "lengths")


class BadEntry(ValueError):
    """Saved bytes that do not prove themselves: what they stood for is made again."""


@dataclass(frozen=True)
class FileIndex:
    """One file's part of a folder's index; offsets index the file's own extracted text."""

    extracted: Extracted
    arrays: dict[str, np.ndarray]
    """The offsets (``_OFFSETS``), into the file's text."""
    paragraphs: int
    counts: TermCounts
    """The passages' term counts."""
    paragraph_counts: TermCounts
    """The paragraphs' term counts, in the same vocabulary."""
    text_bytes: int
    """What the text counts against the folder's budget."""


def index_file(extracted: Extracted, passage_words: int) -> FileIndex:
    """Split one file's text into sentences and passages and count the passages' (and paragraphs') terms."""
    text = extracted.text
    split = split_text(text, passage_words)
    arrays = {
        "sentence_starts": split.sentence_starts,
        "sentence_ends": split.sentence_ends,
        "passage_starts": split.passage_starts,
        "passage_ends": split.passage_ends,
        "words": split.passage_words,
        "owner": np.searchsorted(split.paragraph_starts, split.passage_starts, side="right").astype(np.int64) - 1,
    }
    paragraphs = int(split.paragraph_starts.size)
    counts = count_terms([text[start:end] for start, end in spans_of(split.passage_starts, split.passage_ends)])
    paragraph_counts = grouped(counts, arrays["owner"], paragraphs)
    return FileIndex(extracted, arrays, paragraphs, counts, paragraph_counts, text_bytes(text))


def _locations_json(locations: Sequence[Location]) -> list[list[Any]]:
    return [[loc.start, loc.page, loc.section] for loc in locations]


def _locations(raw: Any, start: int, end: int) -> tuple[Location, ...]:
    """Places read back: each inside ``[start, end]`` and in order, with a whole page and a text section."""
    if not isinstance(raw, list):
        raise BadEntry("places that are not a list")
    out: list[Location] = []
    for item in raw:
        if not (isinstance(item, list) and len(item) == 3 and isinstance(item[0], int)):
            raise BadEntry("a place that is not one")
        at, page, section = item
        if not start <= at <= end or (out and at < out[-1].start):
            raise BadEntry("places outside the text or out of order")
        if not (page is None or isinstance(page, int)) or not (section is None or isinstance(section, str)):
            raise BadEntry("a page or section of the wrong kind")
        out.append(Location(at, page, section))
    return tuple(out)


def _counts(vocabulary: list[Any], arrays: dict[str, np.ndarray], prefix: str, rows: int) -> TermCounts:
    indptr, terms, counts, lengths = (arrays[f"{prefix}{name}"] for name in _COUNTS)
    table = TermCounts(vocabulary, indptr.astype(np.int64), terms, counts, lengths)
    table.check(rows)
    return table


def _offsets_checked(arrays: dict[str, np.ndarray], length: int, paragraphs: Any) -> None:
    """Sentences and passages inside a text of ``length`` characters, each passage with its words and (unless the
    text is too short to be ranked: no owners) its paragraph."""
    check_spans(arrays["sentence_starts"], arrays["sentence_ends"], length)
    check_spans(arrays["passage_starts"], arrays["passage_ends"], length)
    passages, owner, words = arrays["passage_starts"].size, arrays["owner"], arrays["words"]
    if words.shape != (passages,) or (passages and words.min() < 0):
        raise BadEntry("passages without their word counts")
    if not owner.size:
        return
    if not isinstance(paragraphs, int) or owner.shape != (passages,):
        raise BadEntry("passages without their paragraphs")
    if owner.min() < 0 or owner.max() >= paragraphs or bool(np.any(np.diff(owner) < 0)):
        raise BadEntry("paragraphs out of range")


# --- an entry --------------------------------------------------------------------------------------------------


def entry_bytes(index: FileIndex, source: str) -> bytes:
    """A file's entry, bound to ``source`` (the file's path in the folder and its bytes' SHA-256: an entry moved to
    another file's place is refused); its numbers as 32-bit integers (a file's text is at most 1 GiB)."""
    extracted, counts, para = index.extracted, index.counts, index.paragraph_counts
    arrays = {name: ("i4", index.arrays[name]) for name in _OFFSETS}
    for prefix, table in (("", counts), ("paragraph_", para)):
        arrays.update({f"{prefix}{n}": ("i4", getattr(table, n)) for n in _COUNTS})
    header = {
        "record": "file",
        "format": FORMAT,
        "source": source,
        "kind": extracted.format,
        "encoding": extracted.encoding,
        "chars": len(extracted.text),
        "paragraphs": index.paragraphs,
        "locations": _locations_json(extracted.locations),
        "vocabulary": counts.vocabulary,
    }
    return pack(header, arrays, extracted.text)


def entry_from_bytes(blob: bytes, source: str) -> FileIndex:
    """A file's entry read back, or BadEntry when it is not ``source``'s or anything in it does not make sense."""
    try:
        header, arrays, text, size = unpack(blob)
        if header.get("source") != source:
            raise BadEntry("the entry of another file")
        kind, encoding, paragraphs = header.get("kind"), header.get("encoding"), header.get("paragraphs")
        if header.get("record") != "file" or header.get("format") != FORMAT or header.get("chars") != len(text):
            raise BadEntry("an entry of another format or text")
        if not isinstance(kind, str) or not isinstance(encoding, str) or not isinstance(header["vocabulary"], list):
            raise BadEntry("an entry without its format or vocabulary")
        if not isinstance(paragraphs, int):
            raise BadEntry("an entry without its paragraphs")
        offsets = {name: arrays[name].astype(np.int64) for name in _OFFSETS}
        _offsets_checked(offsets, len(text), paragraphs)
        counts = _counts(header["vocabulary"], arrays, "", int(offsets["passage_starts"].size))
        paragraph_counts = _counts(header["vocabulary"], arrays, "paragraph_", paragraphs)
        extracted = Extracted(text, kind, _locations(header.get("locations"), 0, len(text)), encoding)
        return FileIndex(extracted, offsets, paragraphs, counts, paragraph_counts, size)
    except (ValueError, KeyError, TypeError) as exc:  # JSON, decoding, short records, the checks
        raise BadEntry(str(exc)) from None


# --- a snapshot of the folder ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class FileState:
    """What a file of a snapshot was made from, and what it holds: what lets a later open keep its part as it is."""

    rel: str
    source_sha256: str
    text_bytes: int
    paragraphs: int


@dataclass(frozen=True)
class Snapshot:
    """The folder as last assembled: the indexed document, each part's file, the files that could not be read, and
    the paragraph weight it was ranked with."""

    key: str
    indexed: IndexedDocument
    files: tuple[FileState, ...]
    skipped: list[Skipped]
    weight: float


def snapshot_bytes(snapshot: Snapshot) -> list[bytes | memoryview]:
    """The folder as assembled, under ``snapshot.key`` (what it was made from), as a packed record's pieces."""
    indexed = snapshot.indexed
    document, retriever, passages = indexed.document, indexed.retriever, indexed.passages
    if not isinstance(passages, PassageList):
        raise TypeError("a snapshot keeps passages as offsets")
    wide = "i8" if len(document.text) >= 2**31 else "i4"
    arrays: dict[str, tuple[str, np.ndarray]] = {
        "sentence_starts": (wide, indexed.sentences.starts),
        "sentence_ends": (wide, indexed.sentences.ends),
        "passage_starts": (wide, passages.starts),
        "passage_ends": (wide, passages.ends),
        "words": ("i4", np.asarray(indexed.passage_words)),
        "owner": ("i4", retriever.owner if retriever is not None else np.zeros(0)),
    }
    vocabulary: list[str] = []
    if retriever is not None:
        vocabulary = list(retriever.passages.vocabulary)
        for name, index in (("passage", retriever.passages), ("paragraph", retriever.paragraphs)):
            if index is not None:
                arrays.update({f"{name}_{part}": ("i4", getattr(index, part)) for part in ("rows", "tf", "lengths")})
                arrays[f"{name}_columns"] = ("i8", index.columns)
    parts = [
        [p.name, p.start, p.end, p.format, _locations_json(p.locations), f.source_sha256, f.text_bytes, f.paragraphs]
        for p, f in zip(document.parts, snapshot.files, strict=True)
    ]
    header = {
        "record": "folder",
        "format": FORMAT,
        "key": snapshot.key,
        "parts": parts,
        "vocabulary": vocabulary,
        "paragraphs": retriever.paragraphs.size if retriever is not None and retriever.paragraphs else 0,
        "weight": snapshot.weight,
        "skipped": [[s.path, s.why] for s in snapshot.skipped],
    }
    return pieces(header, arrays, document.text)


def _parts(raw: Any, length: int) -> tuple[tuple[Part, ...], tuple[FileState, ...]]:
    if not isinstance(raw, list) or not raw:
        raise BadEntry("a folder of no files")
    parts: list[Part] = []
    states: list[FileState] = []
    for item in raw:
        if not (isinstance(item, list) and len(item) == 8 and isinstance(item[0], str) and isinstance(item[3], str)):
            raise BadEntry("a file described wrongly")
        name, start, end, kind, locations, sha256, text_bytes, paragraphs = item
        if not (isinstance(start, int) and isinstance(end, int) and 0 <= start <= end <= length):
            raise BadEntry("a file outside the text")
        if parts and start < parts[-1].end:
            raise BadEntry("files out of order")
        if not (isinstance(sha256, str) and isinstance(text_bytes, int) and isinstance(paragraphs, int)):
            raise BadEntry("a file without what it was made from")
        if text_bytes < 0 or paragraphs < 0:
            raise BadEntry("a file of a negative size")
        parts.append(Part(start, end, name, kind, _locations(locations, start, end)))
        states.append(FileState(name, sha256, text_bytes, paragraphs))
    return tuple(parts), tuple(states)


def _retriever(header: dict[str, Any], arrays: dict[str, np.ndarray], owner: np.ndarray) -> ContextualRetriever | None:
    vocabulary = header.get("vocabulary")
    if not isinstance(vocabulary, list) or not vocabulary:
        return None
    ids = {term: i for i, term in enumerate(vocabulary)}
    if len(ids) != len(vocabulary):
        raise BadEntry("a vocabulary with a word twice")
    weight, paragraphs = header.get("weight"), header.get("paragraphs")
    if not isinstance(weight, float | int) or not isinstance(paragraphs, int) or not 0 <= weight < 1e6:
        raise BadEntry("index settings missing")

    def bm25(name: str, size: int) -> Bm25:
        rows, tf, columns, lengths = (arrays[f"{name}_{part}"] for part in ("rows", "tf", "columns", "lengths"))
        if lengths.size != size:
            raise BadEntry("BM25 rows that are not the passages or paragraphs")
        return Bm25.of_arrays(ids, rows, tf, columns, lengths)

    own = bm25("passage", owner.size)
    para = bm25("paragraph", paragraphs) if "paragraph_rows" in arrays else None
    return ContextualRetriever(own, para, owner, float(weight))


def _skipped(raw: Any) -> list[Skipped]:
    if not isinstance(raw, list) or not all(
        isinstance(item, list) and len(item) == 2 and all(isinstance(x, str) for x in item) for item in raw
    ):
        raise BadEntry("files not read, described wrongly")
    return [Skipped(path, why) for path, why in raw]


def snapshot_from_bytes(blob: bytes, root: Path) -> Snapshot:
    """The folder as it was assembled, or BadEntry when the bytes are not a snapshot or do not make sense."""
    try:
        header, arrays, text, _ = unpack(blob)
        if header.get("record") != "folder" or header.get("format") != FORMAT or not isinstance(header.get("key"), str):
            raise BadEntry("a snapshot of another format")
        offsets = {name: arrays[name].astype(np.int64) for name in _OFFSETS}
        _offsets_checked(offsets, len(text), header.get("paragraphs"))
        parts, states = _parts(header.get("parts"), len(text))
        if offsets["owner"].size and sum(state.paragraphs for state in states) != header.get("paragraphs"):
            raise BadEntry("files whose paragraphs are not the folder's")
        document = Document(text=text, path=root, parts=parts)
        retriever = _retriever(header, arrays, offsets["owner"]) if offsets["owner"].size else None
        skipped = _skipped(header.get("skipped"))
        weight = float(header.get("weight", 0.0))
    except (ValueError, KeyError, TypeError) as exc:  # JSON, decoding, short records, the checks, unpacking
        raise BadEntry(str(exc)) from None
    words = offsets["words"]
    passages = PassageList(text, offsets["passage_starts"], offsets["passage_ends"])
    sentences = SentenceIndex.of_arrays(offsets["sentence_starts"], offsets["sentence_ends"])
    indexed = IndexedDocument(document, passages, retriever, sentences, int(words.sum()), 0.0, words.tolist())
    return Snapshot(str(header["key"]), indexed, states, skipped, weight)
