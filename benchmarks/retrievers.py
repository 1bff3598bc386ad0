"""Which retriever for an incremental folder index? bm25s (rebuilt whole on any change), the assistant's BM25 over
per-file term counts merged at open (assistant.core.bm25: bm25s's words and scores, one file re-counted when it
changes), and SQLite FTS5 (standard library, on disk, updated in place), on the same passages. (tantivy, a fourth
candidate, is not measured.)

    python benchmarks/retrievers.py [--folder /usr/share/vim/vim90/doc] [GOLD.json ...]

Ranking quality: for each gold set (a SQuAD JSON file, or a questions file such as
benchmarks/data/vim9_questions.json), the share of questions whose gold answer lies in one of the top k passages,
each ranker using the same passages (40 words, whole sentences) and, for the contextual rankers, the enclosing
paragraph's score as the assistant's ContextualRetriever does. Speed, on the folder's passages: building the index,
updating it for one changed file (its passages deleted and inserted again), and a query (median of the gold
questions). Figures only: nothing here is used by the assistant.
"""

from __future__ import annotations

import argparse
import sqlite3
import statistics
import sys
import tempfile
import time
from bisect import bisect_right
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from assistant.core.bm25 import _STEMMER, QUESTION_WORDS, Bm25, count_terms, grouped, merge
from assistant.core.engine import EngineSettings, _build_index
from assistant.core.folders import open_path
from assistant.core.passages import paragraph_spans
from assistant.core.retrieval import ContextualRetriever
from assistant.recall import load_gold_set

KS = (1, 5, 10)
Ranker = Callable[[str], Sequence[int]]


def _query_stopwords() -> list[str]:
    from bm25s.stopwords import STOPWORDS_EN

    return [*STOPWORDS_EN, *QUESTION_WORDS]


def _terms(question: str) -> list[str]:
    import bm25s

    words = bm25s.tokenize(
        [question], stopwords=_query_stopwords(), stemmer=None, show_progress=False, return_ids=False
    )
    return [w for w in words[0] if w.isalnum()]


class Bm25s:
    """bm25s itself over passages and paragraphs, combined as the ContextualRetriever combines them."""

    def __init__(self, passages: list[str], paragraphs: list[str], owner: list[int]) -> None:
        import bm25s

        self.own, self.para = bm25s.BM25(), bm25s.BM25()
        for index, texts in ((self.own, passages), (self.para, paragraphs)):
            index.index(
                bm25s.tokenize(texts, stopwords="en", stemmer=_STEMMER, show_progress=False), show_progress=False
            )
        self.owner = np.asarray(owner)
        self.size = len(passages)

    def _scores(self, index: object, question: str, size: int) -> np.ndarray:
        import bm25s

        words = bm25s.tokenize(
            [question], stopwords=_query_stopwords(), stemmer=_STEMMER, show_progress=False, return_ids=False
        )[0]
        known = [w for w in words if w in index.vocab_dict]  # type: ignore[attr-defined]
        return np.asarray(index.get_scores(known), dtype=np.float32) if known else np.zeros(size, np.float32)  # type: ignore[attr-defined]

    def ranked(self, question: str, contextual: bool) -> Sequence[int]:
        own = self._scores(self.own, question, self.size)
        combined = own / (own.max() + 1e-9)
        if contextual:
            para = self._scores(self.para, question, int(self.owner.max()) + 1)
            combined = combined + para[self.owner] / (para.max() + 1e-9)
        return np.argsort(-combined, kind="stable").tolist()


class Fts5:
    """Passages and paragraphs in FTS5 tables (porter stemming); scores as the ContextualRetriever combines them."""

    def __init__(self, path: str, passages: list[str], paragraphs: list[str], owner: list[int]) -> None:
        self.db = sqlite3.connect(path)
        self.db.execute("CREATE VIRTUAL TABLE p USING fts5(t, tokenize='porter unicode61')")
        self.db.execute("CREATE VIRTUAL TABLE g USING fts5(t, tokenize='porter unicode61')")
        self.db.executemany("INSERT INTO p(rowid, t) VALUES (?, ?)", enumerate(passages))
        self.db.executemany("INSERT INTO g(rowid, t) VALUES (?, ?)", enumerate(paragraphs))
        self.db.commit()
        self.owner = np.asarray(owner)
        self.size = len(passages)

    def _scores(self, table: str, query: str, size: int) -> np.ndarray:
        scores = np.zeros(size, dtype=np.float32)
        rows = self.db.execute(f"SELECT rowid, -bm25({table}) FROM {table} WHERE {table} MATCH ?", (query,))
        for rowid, score in rows:
            scores[rowid] = score
        return scores

    def ranked(self, question: str, contextual: bool) -> Sequence[int]:
        terms = _terms(question)
        if not terms:
            return list(range(self.size))
        query = " OR ".join(f'"{t}"' for t in terms)
        own = self._scores("p", query, self.size)
        combined = own / (own.max() + 1e-9)
        if contextual:
            para = self._scores("g", query, int(self.owner.max()) + 1)
            combined = combined + para[self.owner] / (para.max() + 1e-9)
        return np.argsort(-combined, kind="stable").tolist()

    def update(self, rowids: Sequence[int], texts: Sequence[str]) -> None:
        """One file changed: its passages deleted and inserted again, in one transaction."""
        self.db.executemany("DELETE FROM p WHERE rowid = ?", [(r,) for r in rowids])
        self.db.executemany("INSERT INTO p(rowid, t) VALUES (?, ?)", zip(rowids, texts, strict=True))
        self.db.commit()


def _parts(text: str) -> tuple[list[str], list[str], list[int], list[tuple[int, int]]]:
    parts = _build_index(text, EngineSettings(paragraph_weight=0), None)
    spans = [(p.start, p.end) for p in parts.passages]
    paragraphs = paragraph_spans(text)
    starts = [p.start for p in paragraphs]
    owner = [bisect_right(starts, s) - 1 for s, _ in spans]
    return [text[s:e] for s, e in spans], [text[p.start : p.end] for p in paragraphs], owner, spans


def _hits(rank: Ranker, spans: list[tuple[int, int]], questions: list) -> dict[int, float]:
    hits = dict.fromkeys(KS, 0)
    for question, golds in questions:
        top = rank(question)[: max(KS)]
        for k in KS:
            if any(spans[i][0] <= g0 and g1 <= spans[i][1] for i in top[:k] for g0, g1 in golds):
                hits[k] += 1
    return {k: hits[k] / len(questions) for k in KS}


def quality(gold_files: list[Path]) -> None:
    print("gold set                      ranker               " + "  ".join(f"hit@{k:<2}" for k in KS))
    for path in gold_files:
        _quality_of(path)


def _quality_of(path: Path) -> None:
    gold = load_gold_set(path)
    passages, paragraphs, owner, spans = _parts(gold.document.text)
    bm25s = Bm25s(passages, paragraphs, owner)
    counts = count_terms(passages)
    owners = np.asarray(owner)
    ours_ctx = ContextualRetriever.of_counts(counts, owners, len(paragraphs), 1.0)
    ours_own = ContextualRetriever.of_counts(counts, owners, len(paragraphs), 0.0)
    with tempfile.TemporaryDirectory() as tmp:
        fts = Fts5(f"{tmp}/i.db", passages, paragraphs, owner)
        rankers: dict[str, Ranker] = {
            "bm25s + paragraph": lambda q: bm25s.ranked(q, True),
            "counts + paragraph": lambda q: ours_ctx.ranked(q)[0].tolist(),
            "FTS5 + paragraph": lambda q: fts.ranked(q, True),
            "bm25s": lambda q: bm25s.ranked(q, False),
            "counts": lambda q: ours_own.ranked(q)[0].tolist(),
            "FTS5": lambda q: fts.ranked(q, False),
        }
        for name, rank in rankers.items():
            hits = _hits(rank, spans, gold.questions)
            print(f"{gold.name[:28]:29} {name:20} " + "  ".join(f"{hits[k]:6.3f}" for k in KS))


def _counted(texts: list[str], owner: np.ndarray, paragraphs: int) -> tuple[object, object]:
    counts = count_terms(texts)
    return counts, grouped(counts, owner - owner.min(), paragraphs)


def speed(folder: str, questions: list[str]) -> None:
    opened = open_path(folder)
    text = opened.document.text
    passages, paragraphs, owner, spans = _parts(text)
    mb = len(text.encode()) / 1e6
    t0 = time.perf_counter()
    Bm25s(passages, paragraphs, owner)
    bm25s_build = time.perf_counter() - t0
    files = [[i for i, (s, _) in enumerate(spans) if p.start <= s < p.end] for p in opened.document.parts]
    owners = np.asarray(owner)
    t0 = time.perf_counter()
    per_file = [
        _counted([passages[i] for i in rows], owners[rows], int(owners[rows].max() - owners[rows].min()) + 1)
        for rows in files
        if rows
    ]
    counts_count = time.perf_counter() - t0
    t0 = time.perf_counter()
    merged, para = merge([c for c, _ in per_file], [g for _, g in per_file])  # type: ignore[misc]
    ours = ContextualRetriever(Bm25(merged), Bm25(para, None), owners, 1.0)  # type: ignore[arg-type]
    counts_merge = time.perf_counter() - t0
    ours_q = statistics.median(_timed(lambda q: ours.ranked(q), questions))
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        fts = Fts5(f"{tmp}/i.db", passages, paragraphs, owner)
        fts_build = time.perf_counter() - t0
        part = max(opened.document.parts, key=lambda p: p.end - p.start) if len(opened.document.parts) > 1 else None
        changed = [i for i, (s, _) in enumerate(spans) if part and part.start <= s < part.end]
        t0 = time.perf_counter()
        fts.update(changed, [passages[i] for i in changed])
        fts_update = time.perf_counter() - t0
        fts_q = statistics.median(_timed(lambda q: fts.ranked(q, True), questions))
    t0 = time.perf_counter()
    _counted([passages[i] for i in changed], owners[changed], int(owners[changed].max() - owners[changed].min()) + 1)
    counts_one = time.perf_counter() - t0 + counts_merge
    print(f"\n{folder}: {len(passages):,} passages, {len(paragraphs):,} paragraphs, {mb:.1f} MB")
    print(f"bm25s:  build {bm25s_build:.2f} s (any change: build again)")
    print(
        f"counts: build {counts_count + counts_merge:.2f} s (count {counts_count:.2f} s + merge {counts_merge:.2f} s), "
        f"one changed file ({len(changed):,} passages, the largest) {counts_one:.2f} s, query {ours_q * 1000:.1f} ms"
    )
    print(
        f"FTS5:   build {fts_build:.2f} s, one changed file (the same) {fts_update:.2f} s, query {fts_q * 1000:.1f} ms"
    )


def _timed(fn: Callable[[str], object], questions: list[str]) -> list[float]:
    out = []
    for q in questions:
        t0 = time.perf_counter()
        fn(q)
        out.append(time.perf_counter() - t0)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("gold", nargs="*", type=Path)
    parser.add_argument("--folder", default="/usr/share/vim/vim90/doc")
    args = parser.parse_args()
    quality(args.gold)
    questions = [q for path in args.gold for q, _ in load_gold_set(path).questions] or ["how do I split a window?"]
    speed(args.folder, questions[:200])


if __name__ == "__main__":
    main()
