"""Which retriever for an incremental folder index? bm25s (what ranks today, rebuilt whole) against SQLite FTS5
(standard library, on disk, incremental), on the same passages. (tantivy, the third candidate, is not measured yet.)

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

from assistant.core.engine import EngineSettings, _build_index
from assistant.core.folders import open_path
from assistant.core.passages import paragraph_spans
from assistant.core.retrieval import _QUERY_STOPWORDS, ContextualRetriever
from assistant.recall import load_gold_set

KS = (1, 5, 10)
Ranker = Callable[[str], Sequence[int]]


def _terms(question: str) -> list[str]:
    import bm25s

    words = bm25s.tokenize([question], stopwords=_QUERY_STOPWORDS, stemmer=None, show_progress=False, return_ids=False)
    return [w for w in words[0] if w.isalnum()]


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
    bm25s_ctx = ContextualRetriever.build(passages, paragraphs, owner, 1.0)
    bm25s_own = ContextualRetriever.build(passages, paragraphs, owner, 0.0)
    with tempfile.TemporaryDirectory() as tmp:
        fts = Fts5(f"{tmp}/i.db", passages, paragraphs, owner)
        rankers: dict[str, Ranker] = {
            "bm25s + paragraph": lambda q: bm25s_ctx.ranked(q)[0].tolist(),
            "FTS5 + paragraph": lambda q: fts.ranked(q, True),
            "bm25s": lambda q: bm25s_own.ranked(q)[0].tolist(),
            "FTS5": lambda q: fts.ranked(q, False),
        }
        for name, rank in rankers.items():
            hits = _hits(rank, spans, gold.questions)
            print(f"{gold.name[:28]:29} {name:20} " + "  ".join(f"{hits[k]:6.3f}" for k in KS))


def speed(folder: str, questions: list[str]) -> None:
    opened = open_path(folder)
    text = opened.document.text
    passages, paragraphs, owner, spans = _parts(text)
    mb = len(text.encode()) / 1e6
    t0 = time.perf_counter()
    ContextualRetriever.build(passages, paragraphs, owner, 1.0)
    bm25s_build = time.perf_counter() - t0
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
    ctx = ContextualRetriever.build(passages, paragraphs, owner, 1.0)
    bm25s_q = statistics.median(_timed(lambda q: ctx.ranked(q), questions))
    print(f"\n{folder}: {len(passages):,} passages, {len(paragraphs):,} paragraphs, {mb:.1f} MB")
    print(f"bm25s: build {bm25s_build:.2f} s (any change: build again), query {bm25s_q * 1000:.1f} ms")
    print(
        f"FTS5:  build {fts_build:.2f} s, one changed file ({len(changed):,} passages, the largest) "
        f"{fts_update:.2f} s, query {fts_q * 1000:.1f} ms"
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
