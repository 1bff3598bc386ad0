"""`assistant bench`: indexing time, answer latency, model load and peak memory on this machine.

With no --model it builds a full-size DistilBERT with random weights (speed does not depend on the
weights) and a WordPiece vocabulary from the document, so it runs offline.
"""

from __future__ import annotations

import argparse
import json
import random
import resource
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, TypeVar

from rich.console import Console
from rich.table import Table

from assistant.core.documents import Document, load_document
from assistant.core.random_model import random_distilbert

_SYLLABLES = ("ka", "lo", "mi", "ne", "ru", "ta", "shi", "po", "ve", "den", "mar", "tel", "quin", "sor", "bra")


def synthetic_document(words: int, seed: int = 0) -> str:
    """Paragraphs of 60-160 words from a Zipf-like vocabulary, with sentences and names."""
    rng = random.Random(seed)
    vocab = sorted({"".join(rng.choice(_SYLLABLES) for _ in range(rng.randint(1, 3))) for _ in range(6000)})
    weights = [1.0 / (rank + 1) for rank in range(len(vocab))]
    paragraphs: list[str] = []
    total = 0
    while total < words:
        n = rng.randint(60, 160)
        tokens = rng.choices(vocab, weights, k=n)
        sentences, i = [], 0
        while i < n:
            j = min(n, i + rng.randint(8, 25))
            sentence = " ".join(tokens[i:j])
            sentences.append(sentence[0].upper() + sentence[1:] + ".")
            i = j
        paragraphs.append(" ".join(sentences))
        total += n
    return "\n\n".join(paragraphs)


def _questions(text: str, n: int, seed: int = 1) -> list[str]:
    rng = random.Random(seed)
    sentences = [s for s in text.replace("\n", " ").split(". ") if len(s.split()) > 6]
    out = []
    for _ in range(n):
        words = rng.choice(sentences).split()
        out.append("What " + " ".join(rng.sample(words, 4)).lower() + "?")
    return out


def _median(values: Sequence[float]) -> float:
    return statistics.median(values) if values else float("nan")


def _p90(values: Sequence[float]) -> float:
    return sorted(values)[max(0, int(len(values) * 0.9) - 1)] if values else float("nan")


def forward_floor_ms(model_dir: str, int8: bool, repeats: int = 5) -> dict[str, float]:
    """Median time of bare forward passes (1x384, 5x200, 8x256): the floor any reader pays on this machine."""
    import torch

    from assistant.core.model_loading import load_reader

    reader = load_reader(model_dir, device="cpu", quantize=int8)
    out: dict[str, float] = {}
    for batch, length in ((1, 384), (5, 200), (8, 256)):
        ids = torch.randint(1000, 2000, (batch, length))
        times: list[float] = []
        with torch.inference_mode():
            reader.model(input_ids=ids)
            for _ in range(repeats):
                t0 = time.perf_counter()
                reader.model(input_ids=ids)
                times.append((time.perf_counter() - t0) * 1000)
        out[f"{batch}x{length}"] = _median(times)
    return out


def bench_reader(
    model_dir: str, document: Document, questions: list[str], int8: bool, repeats: int = 3
) -> dict[str, Any]:
    """Runs in a fresh process, so that first load and peak memory are what a user's process sees."""
    t0 = time.perf_counter()
    import transformers.models.distilbert.modeling_distilbert  # noqa: F401  (what any model load imports)
    from transformers import AutoModelForQuestionAnswering, AutoTokenizer  # noqa: F401

    from assistant.core.engine import QAEngine
    from assistant.core.model_loading import load_reader

    import_ms = (time.perf_counter() - t0) * 1000
    t0 = time.perf_counter()
    reader = load_reader(model_dir, device="cpu", quantize=int8)
    load_ms = (time.perf_counter() - t0) * 1000
    engine = QAEngine(reader)
    index_times: list[float] = []
    indexed = None
    for _ in range(repeats):
        indexed = engine.index(document)
        index_times.append(indexed.index_ms)
    assert indexed is not None
    engine.ask(indexed, questions[0])  # warm-up
    answer_ms: list[float] = []
    tokens: list[int] = []
    for q in questions:
        result = engine.ask(indexed, q)
        answer_ms.append(result.timings["answer_ms"])
        tokens.append(sum(len(document.text[p.start : p.end].split()) for p in result.passages))
    return {
        "precision": "int8" if int8 else "fp32",
        "import_ms": import_ms,
        "load_model_ms": load_ms,
        "index_ms_median": _median(index_times),
        "answer_ms_p50": _median(answer_ms),
        "answer_ms_p90": _p90(answer_ms),
        "words_read_median": _median(tokens),
        "passages": len(indexed.passages),
        "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }


_T = TypeVar("_T")


def _in_fresh_process(fn: Callable[..., _T], *args: Any) -> _T:
    import multiprocessing

    with multiprocessing.get_context("spawn").Pool(1) as pool:
        return pool.apply(fn, args)


def retrieval_recall(squad_json: Path) -> list[dict[str, Any]]:
    """Recall of the gold answer span in the text read, over the answerable questions of a SQuAD file."""
    from dataclasses import replace

    from assistant.core.engine import EngineSettings, index_document

    data = json.loads(squad_json.read_text(encoding="utf-8"))
    contexts: list[str] = []
    questions: list[tuple[str, list[tuple[int, int]]]] = []
    pos = 0
    for article in data["data"]:
        for para in article["paragraphs"]:
            base = pos
            contexts.append(para["context"])
            pos += len(para["context"]) + 2
            for qa in para["qas"]:
                if qa.get("is_impossible") or not qa["answers"]:
                    continue
                golds = [(base + a["answer_start"], base + a["answer_start"] + len(a["text"])) for a in qa["answers"]]
                questions.append((qa["question"], golds))
    document = Document.from_text("\n\n".join(contexts))
    para_words = statistics.mean(len(c.split()) for c in contexts)
    rows: list[dict[str, Any]] = []
    configs = [("plain BM25, whole paragraphs", 10_000, 0.0), ("passages+paragraph", 40, 1.0)]
    for label, passage_words, weight in configs:
        ranking = EngineSettings(passage_words=passage_words, paragraph_weight=weight)
        for k in (3, 5, 8):
            budget = round(k * para_words)
            settings = replace(ranking, read_words=budget if weight else 1)
            indexed = index_document(document, settings)
            hits = 0
            words_read: list[int] = []
            ms: list[float] = []
            for question, golds in questions:
                t0 = time.perf_counter()
                if weight == 0:
                    assert indexed.retriever is not None  # read_words=1 always indexes
                    order, _ = indexed.retriever.ranked(question)
                    spans = [indexed.passages[i] for i in order[:k].tolist()]
                else:
                    spans = indexed.select(question, budget)
                ms.append((time.perf_counter() - t0) * 1000)
                words_read.append(sum(len(document.text[s.start : s.end].split()) for s in spans))
                hits += any(s.start <= g0 and g1 <= s.end for g0, g1 in golds for s in spans)
            rows.append(
                {
                    "ranking": label,
                    "k_paragraphs": k,
                    "words_read_mean": statistics.mean(words_read),
                    "recall": hits / len(questions),
                    "rank_ms_median": _median(ms),
                }
            )
    return rows


def _readers_table(rows: list[dict[str, Any]], title: str) -> Table:
    table = Table(title=title)
    columns = (
        "precision",
        "import ms",
        "model load ms",
        "index ms",
        "answer p50 ms",
        "answer p90 ms",
        "words read",
        "peak MiB",
    )
    for col in columns:
        table.add_column(col, justify="right")
    for r in rows:
        table.add_row(
            r["precision"],
            f"{r['import_ms']:.0f}",
            f"{r['load_model_ms']:.0f}",
            f"{r['index_ms_median']:.0f}",
            f"{r['answer_ms_p50']:.0f}",
            f"{r['answer_ms_p90']:.0f}",
            f"{r['words_read_median']:.0f}",
            f"{r['peak_rss_mib']:.0f}",
        )
    return table


def _recall_table(recall: list[dict[str, Any]], source: str) -> Table:
    table = Table(title=f"Retrieval recall on {source}")
    for col in ("ranking", "budget (k paragraphs)", "words read", "recall", "rank ms"):
        table.add_column(col, justify="right")
    for r in recall:
        table.add_row(
            r["ranking"],
            str(r["k_paragraphs"]),
            f"{r['words_read_mean']:.0f}",
            f"{r['recall']:.3f}",
            f"{r['rank_ms_median']:.2f}",
        )
    return table


def run_bench(args: argparse.Namespace) -> int:
    console = Console()
    text = None if args.document else synthetic_document(args.words)
    document = load_document(args.document) if text is None else Document.from_text(text)
    questions = _questions(document.text, args.questions)
    with tempfile.TemporaryDirectory() as tmp:
        model_dir = args.model or str(random_distilbert(Path(tmp) / "distilbert-random", document.text))
        rows = [_in_fresh_process(bench_reader, model_dir, document, questions, int8) for int8 in (False, True)]
        floors = {("int8" if i else "fp32"): _in_fresh_process(forward_floor_ms, model_dir, i) for i in (False, True)}
    title = f"Reader on a {len(document.text.split()):,}-word document, {len(questions)} questions"
    console.print(_readers_table(rows, title))
    for precision, floor in floors.items():
        console.print(f"forward-pass floor, {precision}: " + ", ".join(f"{k} {v:.0f} ms" for k, v in floor.items()))
    console.print(
        "each precision in a fresh process: import = torch + transformers modules;"
        " model load = safetensors to a ready reader; index: median of 3;"
        " answers: all questions after one warm-up; peak = max RSS of that process"
    )
    report: dict[str, Any] = {"document_words": len(document.text.split()), "readers": rows, "forward_floor_ms": floors}
    if args.retrieval:
        recall = retrieval_recall(Path(args.retrieval))
        console.print(_recall_table(recall, args.retrieval))
        report["retrieval"] = recall
    print(json.dumps(report), file=sys.stderr if sys.stdout.isatty() else sys.stdout)
    return 0
