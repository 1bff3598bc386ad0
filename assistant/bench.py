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
from typing import Any, Literal, TypeVar

from rich.console import Console
from rich.table import Table

from assistant.core.documents import Document, load_document
from assistant.core.random_model import random_distilbert
from assistant.core.reader import Reader
from assistant.paths import user_cache_dir

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


def _load_bench_reader(model_dir: str, int8: bool, backend: str, cache_dir: str | None) -> Reader:
    from assistant.core.model_loading import load_reader

    cache = Path(cache_dir) if cache_dir else None
    which: Literal["onnx", "torch"] = "onnx" if backend == "onnx" else "torch"
    return load_reader(model_dir, device="cpu", quantize=int8, backend=which, cache_dir=cache)


def warm_export(model_dir: str, int8: bool, cache_dir: str) -> str:
    """Make the ONNX export (and its int8 twin) before anything is timed; returns the backend it gives."""
    return _load_bench_reader(model_dir, int8, "onnx", cache_dir).backend.kind


def forward_floor_ms(
    model_dir: str, int8: bool, repeats: int = 5, backend: str = "torch", cache_dir: str | None = None
) -> dict[str, float]:
    """Median time of bare forward passes (1x384, 5x200, 8x256): the floor any reader pays on this machine."""
    import numpy as np

    reader = _load_bench_reader(model_dir, int8, backend, cache_dir)
    rng = np.random.default_rng(0)
    out: dict[str, float] = {}
    for batch, length in ((1, 384), (5, 200), (8, 256)):
        ids = rng.integers(1000, 2000, size=(batch, length), dtype=np.int64)
        mask = np.ones_like(ids)
        times: list[float] = []
        reader.backend.logits(ids, mask, None)
        for _ in range(repeats):
            t0 = time.perf_counter()
            reader.backend.logits(ids, mask, None)
            times.append((time.perf_counter() - t0) * 1000)
        out[f"{batch}x{length}"] = _median(times)
    return out


def _import_backend(backend: str) -> None:
    """What a model load imports: torch + transformers, or onnxruntime + tokenizers."""
    if backend == "torch":
        import transformers.models.distilbert.modeling_distilbert  # noqa: F401
        from transformers import AutoModelForQuestionAnswering, AutoTokenizer  # noqa: F401
    else:
        import onnxruntime  # noqa: F401
        import tokenizers  # noqa: F401


def bench_reader(
    model_dir: str,
    document: Document,
    questions: list[str],
    int8: bool,
    repeats: int = 3,
    backend: str = "torch",
    cache_dir: str | None = None,
) -> dict[str, Any]:
    """Runs in a fresh process, so that first load and peak memory are what a user's process sees.

    ``backend="onnx"`` reads an export already in ``cache_dir`` (make it first, e.g. with a warm-up load).
    """
    t0 = time.perf_counter()
    _import_backend(backend)
    from assistant.core.engine import QAEngine

    import_ms = (time.perf_counter() - t0) * 1000
    t0 = time.perf_counter()
    reader = _load_bench_reader(model_dir, int8, backend, cache_dir)
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
        "backend": reader.backend.kind,
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


def _bench_backends(
    model_dir: str, document: Document, questions: list[str], args: argparse.Namespace, temp_cache: Path
) -> tuple[list[dict[str, Any]], dict[str, dict[str, float]]]:
    """Readers and forward floors for each backend asked for, fp32 and int8, each in a fresh process."""
    cache = str(temp_cache if args.model is None else user_cache_dir())
    backends = ["onnx", "torch"] if args.backend == "both" else [args.backend]
    rows: list[dict[str, Any]] = []
    floors: dict[str, dict[str, float]] = {}
    for backend in backends:
        for int8 in (False, True):
            if backend == "onnx":  # export (and quantize) outside the timed process
                _in_fresh_process(warm_export, model_dir, int8, cache)
            rows.append(_in_fresh_process(bench_reader, model_dir, document, questions, int8, 3, backend, cache))
            floors[rows[-1]["backend"]] = _in_fresh_process(forward_floor_ms, model_dir, int8, 5, backend, cache)
    return rows, floors


def _in_fresh_process(fn: Callable[..., _T], *args: Any) -> _T:
    import multiprocessing

    with multiprocessing.get_context("spawn").Pool(1) as pool:
        return pool.apply(fn, args)


def _squad_as_one_document(squad_json: Path) -> tuple[Document, list[tuple[str, list[tuple[int, int]]]]]:
    """All paragraphs of a SQuAD file joined into one document, with each answerable question's gold spans."""
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
    return Document.from_text("\n\n".join(contexts)), questions


def retrieval_recall(
    squad_json: Path, reader: Reader, windows: Sequence[float] = (1, 1.5, 2, 3)
) -> list[dict[str, Any]]:
    """Recall of a gold answer span in the text read against the windows the reader runs per question."""
    from assistant.core.engine import EngineSettings, QAEngine

    document, questions = _squad_as_one_document(squad_json)
    rows: list[dict[str, Any]] = []
    for passage_words in (25, 40):
        for n in windows:
            engine = QAEngine(reader, EngineSettings(passage_words=passage_words, read_windows=n))
            indexed = engine.index(document)
            hits, ran, ms = 0, [], []
            for question, golds in questions:
                t0 = time.perf_counter()
                spans, contexts = engine.plan(indexed, question)
                ms.append((time.perf_counter() - t0) * 1000)
                ran.append(len(reader.tokenize([question] * len(contexts), [c.text for c in contexts])["input_ids"]))
                hits += any(s.start <= g0 and g1 <= s.end for g0, g1 in golds for s in spans)
            rows.append(
                {
                    "passage_words": passage_words,
                    "read_windows": n,
                    "windows_run_mean": statistics.mean(ran),
                    "recall": hits / len(questions),
                    "plan_ms_median": _median(ms),
                }
            )
    return rows


def _readers_table(rows: list[dict[str, Any]], title: str) -> Table:
    table = Table(title=title)
    columns = (
        "backend",
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
            r["backend"],
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
    table = Table(title=f"Retrieval recall against windows read, {source}")
    for col in ("passage words", "read windows", "windows run (mean)", "recall", "plan ms"):
        table.add_column(col, justify="right")
    for r in recall:
        table.add_row(
            str(r["passage_words"]),
            str(r["read_windows"]),
            f"{r['windows_run_mean']:.2f}",
            f"{r['recall']:.3f}",
            f"{r['plan_ms_median']:.2f}",
        )
    return table


def run_bench(args: argparse.Namespace) -> int:
    console = Console()
    text = None if args.document else synthetic_document(args.words)
    document = load_document(args.document) if text is None else Document.from_text(text)
    questions = _questions(document.text, args.questions)
    with tempfile.TemporaryDirectory() as tmp:
        model_dir = args.model or str(random_distilbert(Path(tmp) / "distilbert-random", document.text))
        rows, floors = _bench_backends(model_dir, document, questions, args, Path(tmp) / "cache")
    title = f"Reader on a {len(document.text.split()):,}-word document, {len(questions)} questions"
    console.print(_readers_table(rows, title))
    for kind, floor in floors.items():
        console.print(f"forward-pass floor, {kind}: " + ", ".join(f"{k} {v:.0f} ms" for k, v in floor.items()))
    console.print(
        "each reader in a fresh process: import = torch + transformers, or onnxruntime + tokenizers;"
        " model load = safetensors (torch) or the cached ONNX export to a ready reader; index: median of 3;"
        " answers: all questions after one warm-up; peak = max RSS of that process"
    )
    report: dict[str, Any] = {"document_words": len(document.text.split()), "readers": rows, "forward_floor_ms": floors}
    if args.retrieval:
        from assistant.core.model_loading import load_reader

        with tempfile.TemporaryDirectory() as tmp:
            model_dir = args.model or str(random_distilbert(Path(tmp) / "distilbert-random", document.text))
            recall = retrieval_recall(Path(args.retrieval), load_reader(model_dir))
        console.print(_recall_table(recall, args.retrieval))
        report["retrieval"] = recall
    print(json.dumps(report), file=sys.stderr if sys.stdout.isatty() else sys.stdout)
    return 0
