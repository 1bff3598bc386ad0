"""Predict answers with the reader's own windows and decoder, then score them with the SQuAD metric."""

from __future__ import annotations

import math
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from assistant.core import files
from assistant.core.decoding import DecodeSettings, decode
from assistant.core.errors import UserError
from assistant.core.reader import Context, Reader
from assistant.squad.formats import QAExample
from assistant.squad.metric import compute

if TYPE_CHECKING:
    from assistant.core.model_loading import Backend


N_BEST = 20
"""Candidates kept per question in the n-best file, as ``utils_qa.py`` keeps them."""


@dataclass
class Predictions:
    """What the reader answered, as ``run_qa.py`` saves it: the answer, the no-answer probability and the n best
    candidates (text, offsets, score, confidence) of each question id."""

    text: dict[str, str] = field(default_factory=dict)
    na_prob: dict[str, float] = field(default_factory=dict)
    nbest: dict[str, list[dict[str, Any]]] = field(default_factory=dict)


def predict(
    reader: Reader,
    examples: list[QAExample],
    version_2: bool,
    batch_examples: int = 64,
    progress: Callable[[int, int], None] | None = None,
) -> Predictions:
    """Every question's answer, decoded exactly as chat decodes (its best candidate), and the candidates after it."""
    settings = DecodeSettings(allow_null=version_2, min_confidence=0.0, top_k=N_BEST)
    out = Predictions()
    broken = 0
    for start in range(0, len(examples), batch_examples):
        batch = examples[start : start + batch_examples]
        windows = reader.read([(e.question, [Context(e.context)]) for e in batch])
        for ex, ex_windows in zip(batch, windows, strict=True):
            decoded = decode(ex_windows, ex.context, settings)
            broken += decoded.not_finite
            out.nbest[ex.id] = [
                {"text": ex.context[c.start : c.end], "start": c.start, "end": c.end, "score": c.score}
                | {"confidence": c.confidence}
                for c in decoded.answers
            ]
            out.text[ex.id] = out.nbest[ex.id][0]["text"] if decoded.answers else ""
            best = decoded.best_score if decoded.best_score is not None else -math.inf
            out.na_prob[ex.id] = 1.0 / (1.0 + math.exp(max(-60.0, min(60.0, best - decoded.null_score))))
        if progress:
            progress(min(start + batch_examples, len(examples)), len(examples))
    if broken:
        raise UserError(
            f"The reader's scores were not finite numbers (NaN or infinity) on {broken} of {len(examples)} questions: "
            "the model is broken, so its EM/F1 would mean nothing."
        )
    return out


def load_eval_reader(ref: str, device: str, int8: bool, backend: Backend = "auto") -> Reader:
    """The reader `assistant ask` would use: ONNX Runtime on the CPU by default, exported into the user cache once.

    Scores are then those of the answers people get; the export and any fallback to torch are one line on stderr.
    """
    from assistant.core.model_loading import load_reader
    from assistant.paths import user_cache_dir

    return load_reader(ref, device=device, quantize=int8, backend=backend, cache_dir=user_cache_dir())


def unique_ids(examples: list[QAExample]) -> list[QAExample]:
    """The first question of each id: predictions are keyed by id, so a repeat would be scored once anyway."""
    seen: dict[str, QAExample] = {}
    for ex in examples:
        seen.setdefault(ex.id, ex)
    return list(seen.values())


def evaluate_reader(
    reader: Reader, examples: list[QAExample], version_2: bool, progress: Callable[[int, int], None] | None = None
) -> dict[str, float]:
    """Full-precision metrics; ``compute`` refuses an empty question list rather than report EM 0."""
    return evaluate_with_predictions(reader, examples, version_2, progress)[0]


def evaluate_with_predictions(
    reader: Reader, examples: list[QAExample], version_2: bool, progress: Callable[[int, int], None] | None = None
) -> tuple[dict[str, float], Predictions]:
    """The metrics and what they were computed from."""
    examples = unique_ids(examples)
    predictions = predict(reader, examples, version_2, progress=progress)
    references = {e.id: [a.text for a in e.answers] for e in examples}
    return compute(predictions.text, references, predictions.na_prob if version_2 else None), predictions


def prediction_paths(metrics: Path) -> tuple[Path, Path]:
    """Where the predictions and the n-best candidates are saved beside a metrics file (``eval.json``:
    ``eval.predictions.json`` and ``eval.nbest_predictions.json``), named after it so no file of the user's is
    taken."""
    return metrics.with_name(f"{metrics.stem}.predictions.json"), metrics.with_name(
        f"{metrics.stem}.nbest_predictions.json"
    )


def worst_misses(examples: list[QAExample], predictions: Predictions, count: int) -> list[dict[str, Any]]:
    """The ``count`` questions answered worst: the lowest F1 against their best gold answer, the most confident
    first among equals (a sure wrong answer is the one to look at)."""
    from assistant.squad.squad_metric.squad_metric import f1

    rows: list[tuple[float, float, dict[str, Any]]] = []
    for ex in unique_ids(examples):
        golds = [a.text for a in ex.answers] or [""]
        predicted = predictions.text.get(ex.id, "")
        best = predictions.nbest.get(ex.id, [])
        confidence = float(best[0]["confidence"]) if best else 0.0
        score = max(f1(gold, predicted) for gold in golds)
        if score < 1.0:
            row = {"id": ex.id, "question": ex.question, "gold": golds, "predicted": predicted, "f1": score}
            rows.append((score, -confidence, row | {"confidence": confidence}))
    rows.sort(key=lambda r: (r[0], r[1]))
    return [row for _, _, row in rows[:count]]


def check_output_path(path: Path) -> Path:
    """Refuse an --output the metrics could not be saved to before minutes of evaluation, not after; a special file
    there (a FIFO, /dev/null, a socket) is never replaced by a regular file."""
    try:
        if path.is_dir():
            raise UserError(f"--output {path} is a directory; give a file name such as {path / 'eval.json'}.")
        files.write_target(path)
        parent = next((p for p in path.parents if p.exists()), Path("."))
        if not parent.is_dir():
            raise UserError(f"--output {path}: {parent} is a file, not a directory.")
        if not os.access(parent, os.W_OK):
            raise UserError(f"--output {path}: {parent} is not writable.")
    except OSError as exc:
        raise UserError(f"--output {path} cannot be used: {exc.strerror or exc}.") from None
    return path


def save_result(path: Path, result: dict[str, Any], *, follow: bool = True) -> None:
    """``follow`` False for a file named by the program (the predictions beside the metrics): a link there is
    replaced, never written through."""
    try:
        files.write_json(path, result, follow=follow)
    except files.WRITE_ERRORS as exc:
        raise UserError(f"The metrics could not be saved to {path}: {files.write_problem(exc)}.") from None
