"""Predict answers with the reader's own windows and decoder, then score them with the SQuAD metric."""

from __future__ import annotations

import math
import os
from collections.abc import Callable
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


def predict(
    reader: Reader,
    examples: list[QAExample],
    version_2: bool,
    batch_examples: int = 64,
    progress: Callable[[int, int], None] | None = None,
) -> tuple[dict[str, str], dict[str, float]]:
    """``{id: answer}`` and ``{id: no-answer probability}``, decoded exactly as chat decodes."""
    settings = DecodeSettings(allow_null=version_2, min_confidence=0.0, top_k=1)
    predictions: dict[str, str] = {}
    na_prob: dict[str, float] = {}
    broken = 0
    for start in range(0, len(examples), batch_examples):
        batch = examples[start : start + batch_examples]
        windows = reader.read([(e.question, [Context(e.context)]) for e in batch])
        for ex, ex_windows in zip(batch, windows, strict=True):
            decoded = decode(ex_windows, ex.context, settings)
            broken += decoded.not_finite
            predictions[ex.id] = (
                ex.context[decoded.answers[0].start : decoded.answers[0].end] if decoded.answers else ""
            )
            best = decoded.best_score if decoded.best_score is not None else -math.inf
            na_prob[ex.id] = 1.0 / (1.0 + math.exp(max(-60.0, min(60.0, best - decoded.null_score))))
        if progress:
            progress(min(start + batch_examples, len(examples)), len(examples))
    if broken:
        raise UserError(
            f"The reader's scores were not finite numbers (NaN or infinity) on {broken} of {len(examples)} questions: "
            "the model is broken, so its EM/F1 would mean nothing."
        )
    return predictions, na_prob


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
    examples = unique_ids(examples)
    predictions, na_prob = predict(reader, examples, version_2, progress=progress)
    references = {e.id: [a.text for a in e.answers] for e in examples}
    return compute(predictions, references, na_prob if version_2 else None)


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


def save_result(path: Path, result: dict[str, Any]) -> None:
    try:
        files.write_json(path, result)
    except files.WRITE_ERRORS as exc:
        raise UserError(f"The metrics could not be saved to {path}: {files.write_problem(exc)}.") from None
