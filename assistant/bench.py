"""`assistant bench`: indexing time, answer latency, model load and peak memory on this machine.

With no --model it builds a full-size DistilBERT with random weights (speed does not depend on the
weights) and a WordPiece vocabulary from the document, so it runs offline.
"""

from __future__ import annotations

import argparse
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

from assistant.core import files
from assistant.core.documents import Document, load_document
from assistant.core.errors import UserError
from assistant.core.random_model import random_distilbert
from assistant.core.reader import Reader
from assistant.core.sanitize import json_for_terminal
from assistant.core.sanitize import one_line as sanitize_one_line
from assistant.paths import user_cache_dir
from assistant.recall import GoldSet, load_gold_set

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
    """``n`` questions made of the words of the document's longer sentences (more than 6 words)."""
    rng = random.Random(seed)
    sentences = [s for s in text.replace("\n", " ").split(". ") if len(s.split()) > 6]
    if not sentences:
        raise UserError("The document has no sentence of more than 6 words to make benchmark questions from.")
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
        ids = _token_ids(reader, rng, batch, length)
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
    read_windows: float | None = None,
) -> dict[str, Any]:
    """Runs in a fresh process, so that first load and peak memory are what a user's process sees.

    ``backend="onnx"`` reads an export already in ``cache_dir`` (make it first, e.g. with a warm-up load).
    The pass ratio is an answer's time over one bare 1x384 forward pass, timed alternately in this process,
    so the machine's speed cancels out of it.
    """
    t0 = time.perf_counter()
    _import_backend(backend)
    from assistant.core.engine import EngineSettings, QAEngine

    import_ms = (time.perf_counter() - t0) * 1000
    t0 = time.perf_counter()
    reader = _load_bench_reader(model_dir, int8, backend, cache_dir)
    load_ms = (time.perf_counter() - t0) * 1000
    engine = QAEngine(reader) if read_windows is None else QAEngine(reader, EngineSettings(read_windows=read_windows))
    index_times: list[float] = []
    indexed = None
    for _ in range(repeats):
        indexed = engine.index(document)
        index_times.append(indexed.index_ms)
    assert indexed is not None
    engine.ask(indexed, questions[0])  # warm-up
    answer_ms: list[float] = []
    bare_ms: list[float] = []
    tokens: list[int] = []
    windows: list[int] = []
    for q in questions:
        bare_ms.append(_bare_pass_ms(reader))
        result = engine.ask(indexed, q)
        answer_ms.append(result.timings["answer_ms"])
        windows.append(result.windows_run)
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
        "read_windows": engine.settings.read_windows,
        "windows_per_question_mean": statistics.mean(windows),
        "bare_1x384_ms_p50": _median(bare_ms),
        "pass_ratio_p50": _median(answer_ms) / _median(bare_ms),
        "passages": len(indexed.passages),
        "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }


def _token_ids(reader: Reader, rng: Any, batch: int, length: int) -> Any:
    """Ids of ordinary tokens (1000-2000, within a small model's vocabulary too), as long as the model reads."""
    import numpy as np

    high = max(2, min(2000, len(reader.tokenizer)))
    length = min(length, reader.window.max_length)
    return rng.integers(min(1000, high // 2), high, size=(batch, length), dtype=np.int64)


def _bare_pass_ms(reader: Reader) -> float:
    """One forward pass of a full 1x384 window: the unit an answer's cost is counted in."""
    import numpy as np

    ids = _token_ids(reader, np.random.default_rng(0), 1, 384)
    t0 = time.perf_counter()
    reader.backend.logits(ids, np.ones_like(ids), None)
    return (time.perf_counter() - t0) * 1000


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
            rows.append(
                _in_fresh_process(
                    bench_reader, model_dir, document, questions, int8, 3, backend, cache, args.read_windows
                )
            )
            floors[rows[-1]["backend"]] = _in_fresh_process(forward_floor_ms, model_dir, int8, 5, backend, cache)
    return rows, floors


def _run_and_send(conn: Any, fn: Callable[..., Any], args: tuple[Any, ...]) -> None:
    try:
        result: tuple[str, Any] = ("ok", fn(*args))
    except Exception as exc:
        result = ("error", exc)
    try:
        conn.send(result)
    except Exception as exc:
        conn.send(("error", RuntimeError(f"{type(exc).__name__}: {exc}")))
    conn.close()


def _in_fresh_process(fn: Callable[..., _T], *args: Any) -> _T:
    """``fn(*args)`` in a new process (spawned, not a daemon: it may start workers of its own, as a folder's first
    open does), so that its imports, memory and peak RSS are its own."""
    import multiprocessing

    context = multiprocessing.get_context("spawn")
    receiver, sender = context.Pipe(duplex=False)
    process = context.Process(target=_run_and_send, args=(sender, fn, args))
    process.start()
    sender.close()
    try:
        kind, value = receiver.recv()
    except EOFError:
        raise UserError(f"A benchmark process ended without a result (exit code {process.exitcode}).") from None
    finally:
        process.join()
    if kind == "error":
        raise value
    return value  # type: ignore[no-any-return]


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
        "windows / question",
        "pass ratio p50",
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
            f"{r['windows_per_question_mean']:.2f}",
            f"{r['pass_ratio_p50']:.2f}",
            f"{r['peak_rss_mib']:.0f}",
        )
    return table


def _recall_table(recall: list[dict[str, Any]]) -> Table:
    table = Table(title="Retrieval recall against what is read per question")
    for col in ("gold set", "questions", "read windows", "windows run (mean)", "tokens run (mean)", "recall"):
        table.add_column(col, justify="right")
    for r in recall:
        table.add_row(
            r["gold_set"],
            str(r["questions"]),
            f"{r['read_windows']:g}",
            f"{r['windows_run_mean']:.2f}",
            f"{r['tokens_run_mean']:.0f}",
            f"{r['recall']:.3f}",
        )
    return table


RECALL_BUDGETS = (1.0, 1.25, 1.4, 1.5, 1.75, 2.0, 3.0)
"""Reading budgets (windows of context tokens) the recall curve is drawn at."""


def _bench_recall(gold_sets: list[GoldSet], model_dir: str | None) -> list[dict[str, Any]]:
    """Recall needs only the reader's tokenizer: a random full-size model stands in when none is given."""
    from assistant.core.model_loading import load_reader
    from assistant.recall import retrieval_recall

    rows: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory() as tmp:
        model = model_dir or str(random_distilbert(Path(tmp) / "distilbert-random", gold_sets[0].document.text))
        reader = load_reader(model, device="cpu", backend="torch")
        for gold in gold_sets:
            rows += retrieval_recall(gold, reader, RECALL_BUDGETS)
    return rows


def run_bench(args: argparse.Namespace) -> int:
    console = Console()
    if args.folder:
        from assistant.bench_folders import bench_folder, folder_table
        from assistant.core.folders import open_path

        if files.path_kind(files.user_path(args.folder)) is None:  # not "the document is missing": it names either
            raise UserError(f"--folder {args.folder}: there is no folder or document there.")
        open_path(args.folder, include=args.include, exclude=args.exclude)  # a bad folder fails before any timing
        row = bench_folder(args.folder, args.include, args.exclude)
        console.print(folder_table(sanitize_one_line(args.folder), row))
        print(json_for_terminal({"folder": row}), file=sys.stderr if sys.stdout.isatty() else sys.stdout)
        return 0
    gold_sets = [load_gold_set(Path(f)) for f in args.retrieval or []]  # a bad file fails before any timing
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
    if gold_sets:
        recall = _bench_recall(gold_sets, args.model)
        console.print(_recall_table(recall))
        report["retrieval"] = recall
    print(json_for_terminal(report), file=sys.stderr if sys.stdout.isatty() else sys.stdout)
    return 0
