"""After training: ``model.onnx`` in the run folder, and with ``--export-int8`` a measured ``model.int8.onnx``.

The CPU reader loads a run's own ``model.onnx`` as is, so the first `assistant ask` after training needs
no export (and no torch). The export is made from the saved safetensors folder, not the model in memory:
what is checked against torch is exactly what a later load reads, and the training model keeps its device.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable
from pathlib import Path

from assistant.core import onnx_cache, onnx_export
from assistant.core.errors import UserError
from assistant.core.reader import Reader, WindowSettings
from assistant.runs.config import TrainConfig
from assistant.runs.events import Phase
from assistant.runs.schema import EvalScores
from assistant.squad.evaluation import evaluate_reader
from trainer.data import Examples

Emit = Callable[..., None]
"""The session's event writer: ``emit(phase, message=...)``."""

INT8_HOW = "load the run with --int8: the CPU reader runs model.int8.onnx on ONNX Runtime"


def export_run(run_path: Path, emit: Emit) -> onnx_cache.OnnxBundle | None:
    """Write ``model.onnx`` (and its ``model.onnx.data``) beside the run's weights; None if it cannot be made.

    A failed export is one event line, never a failed run: the reader then exports or uses torch at load.
    """
    from assistant.core.model_loading import load_pretrained

    emit(Phase.SAVE, message="exporting model.onnx for the CPU reader")
    staging = run_path / ".onnx-export"
    for leftover in run_path.glob(".onnx-export*"):  # left by a run killed mid-export
        shutil.rmtree(leftover, ignore_errors=True)
    digests = onnx_cache.Digests(None)
    try:
        tokenizer, model = load_pretrained(str(run_path))
        bundle = onnx_export.export_reader(model, tokenizer, staging, digests=digests)
        for name in (onnx_export.WEIGHTS_FILE, onnx_export.MODEL_FILE):  # the graph last: it makes the pair visible
            os.replace(bundle.directory / name, run_path / name)
        onnx_cache.record_shipped(run_path, digests)  # the weights it was made from: a stale one is never read
    except (onnx_export.ExportError, UserError, OSError) as exc:
        emit(Phase.SAVE, message=f"no model.onnx ({exc}); the reader will export or use torch when loaded")
        return None
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return onnx_cache.shipped_bundle(run_path, digests)


def int8_scores(
    bundle: onnx_cache.OnnxBundle, window: WindowSettings, examples: Examples, float_eval: EvalScores, emit: Emit
) -> EvalScores | None:
    """Quantize the run's ``model.onnx`` to ``model.int8.onnx`` and score that reader on the evaluation questions."""
    from assistant.core.backends import OnnxBackend
    from assistant.core.tokenizer import JsonTokenizer

    emit(Phase.EVAL, message="quantizing model.onnx to int8 and measuring it on CPU")
    try:
        path = onnx_export.quantize_model(bundle.model, bundle.int8)
        onnx_cache.record_shipped(bundle.directory, onnx_cache.Digests(None))
    except (onnx_export.ExportError, UserError, OSError) as exc:
        emit(Phase.EVAL, message=f"no model.int8.onnx ({exc})")
        return None
    tokenizer = JsonTokenizer.from_directory(bundle.directory, bundle.pad_token_id)
    reader = Reader(OnnxBackend(path, bundle.max_positions), tokenizer, window=window)
    result = evaluate_reader(reader, examples.test, examples.version_2)
    return EvalScores(
        exact_match=result["exact_match"],
        f1=result["f1"],
        more={"f1_delta": round(result["f1"] - (float_eval.f1 or 0.0), 4), "how": INT8_HOW, "file": path.name},
    )


def export_after_training(
    run_path: Path, config: TrainConfig, examples: Examples, float_eval: EvalScores, emit: Emit
) -> EvalScores | None:
    """The hook ``finalise`` calls: the ONNX export, then (``--export-int8``) the int8 file and its EM/F1.

    None when no int8 ONNX was measured: the caller measures torch's int8 instead, which is what
    ``--int8`` then reads with.
    """
    bundle = export_run(run_path, emit)
    if bundle is None or not config.export_int8:
        return None
    return int8_scores(bundle, config.window, examples, float_eval, emit)
