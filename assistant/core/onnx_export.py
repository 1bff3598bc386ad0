"""Making ONNX exports of reader models (where they are kept and how they are checked: ``onnx_cache``).

An export folder holds ``model.onnx`` (dynamic batch and sequence axes) with its weights in ``model.onnx.data``,
the ``tokenizer.json`` the model was loaded with, and ``reader.json`` (window limit, padding id, key and file
checksums); ``--int8`` adds ``model.int8.onnx``, a dynamic quantization of the export. Reading one needs
onnxruntime and tokenizers only; making one needs torch (the TorchScript exporter, which works offline with
``onnx`` alone) and, for int8, ``onnx``.

The graph is traced with eager attention (the SDPA trace guards every attention row against NaN, an
extra ``IsNaN``/``Where`` pass over each ``(rows, heads, length, length)`` tensor: 13% of the CPU time)
and then fused by onnxruntime's transformer optimizer (LayerNorm with its residual add, bias with GELU),
so the cached graph is saved optimized and every start only loads it.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from assistant.core import files, onnx_cache
from assistant.core.backends import takes_token_types
from assistant.core.errors import first_line
from assistant.core.onnx_cache import (
    INT8_FILE,
    MODEL_FILE,
    TOKENIZER_FILE,
    WEIGHTS_FILE,
    Digests,
    ExportError,
    OnnxBundle,
)

if TYPE_CHECKING:
    import torch

OPSET = 17
__all__ = ["INT8_FILE", "MODEL_FILE", "WEIGHTS_FILE", "ExportError", "OnnxBundle", "export_reader", "quantize_model"]


# --- making an export ----------------------------------------------------------------------------------------


def _dummy_inputs(vocab_size: int, with_types: bool) -> dict[str, np.ndarray]:
    """Two rows, the second padded: the exporter then keeps the masking general instead of tracing it away."""
    rng = np.random.default_rng(0)
    ids = rng.integers(0, max(2, min(vocab_size, 1000)), size=(2, 16), dtype=np.int64)
    mask = np.ones_like(ids)
    mask[1, 10:] = 0
    inputs = {"input_ids": ids, "attention_mask": mask}
    if with_types:
        types = np.zeros_like(ids)
        types[:, 8:] = 1
        inputs["token_type_ids"] = types
    return inputs


@contextmanager
def _quiet() -> Iterator[None]:
    """The exporter and the quantizer warn (deprecations, traced branches, "consider pre-processing");
    none of it is the user's to read. A root handler stops ``logging.warning`` from adding one to stderr."""
    import logging

    loggers = [logging.getLogger(name) for name in ("", "torch.onnx", "torch.export", "torch._dynamo")]
    levels = [lg.level for lg in loggers]
    silent = logging.NullHandler()
    loggers[0].addHandler(silent)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for lg in loggers:
            lg.setLevel(logging.ERROR)
        try:
            yield
        finally:
            for lg, level in zip(loggers, levels, strict=True):
                lg.setLevel(level)
            loggers[0].removeHandler(silent)


@contextmanager
def _eager_attention(model: torch.nn.Module) -> Iterator[None]:
    """Trace plain matmul-softmax attention, then give the model back with the attention it had."""
    config = getattr(model, "config", None)
    before = getattr(config, "_attn_implementation", None)
    switch = getattr(model, "set_attn_implementation", None)
    changed = False
    if callable(switch) and before not in (None, "eager"):
        with contextlib.suppress(Exception):  # a model without eager attention keeps its own
            switch("eager")
            changed = True
    try:
        yield
    finally:
        if changed and callable(switch):
            switch(before)


def _torch_export(model: torch.nn.Module, inputs: dict[str, np.ndarray], path: Path) -> dict[str, np.ndarray]:
    """Write ``path`` with the TorchScript exporter; returns the torch logits on ``inputs`` for the check."""
    import torch

    class Logits(torch.nn.Module):
        def __init__(self, inner: torch.nn.Module) -> None:
            super().__init__()
            self.inner = inner

        def forward(self, *args: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
            out = self.inner(**dict(zip(inputs, args, strict=True)))
            return out.start_logits, out.end_logits

    wrapper = Logits(model.cpu().float()).eval()  # eval() here too: export restores the wrapper's mode
    args = tuple(torch.from_numpy(a) for a in inputs.values())
    axes = {name: {0: "batch", 1: "sequence"} for name in [*inputs, "start_logits", "end_logits"]}
    with _quiet(), torch.inference_mode():
        expected = wrapper(*args)  # the model as it reads elsewhere (SDPA): the export must match it
    with _quiet(), torch.no_grad(), _eager_attention(model):
        torch.onnx.export(
            wrapper,
            args,
            str(path),
            input_names=list(inputs),
            output_names=["start_logits", "end_logits"],
            dynamic_axes=axes,
            opset_version=OPSET,
            dynamo=False,
        )
    return {"start_logits": expected[0].numpy(), "end_logits": expected[1].numpy()}


def _split_weights(source: Path, target: Path) -> None:
    """Save ``source`` as ``target`` with its tensors in ``model.onnx.data`` beside it."""
    import onnx

    model = onnx.load(str(source))
    onnx.save_model(
        model,
        str(target),
        save_as_external_data=True,
        all_tensors_to_one_file=True,
        location=WEIGHTS_FILE,
        size_threshold=1024,
    )


def _optimize(source: Path, target: Path) -> None:
    """onnxruntime's transformer fusions of ``source``, saved as ``target`` (weights in ``model.onnx.data``).

    Python-level fusions only (``opt_level=0``): the saved graph stays portable across CPUs, and the
    session applies its own hardware-specific rewrites when it loads.
    """
    from onnxruntime.transformers.optimizer import optimize_model

    with _quiet():
        optimized = optimize_model(str(source), model_type="bert", opt_level=0, use_gpu=False)
        optimized.save_model_to_file(str(target), use_external_data_format=True, all_tensors_to_one_file=True)
    if not (target.parent / WEIGHTS_FILE).is_file():
        raise ExportError(f"the optimizer did not write {WEIGHTS_FILE}")


def _write_checked(work: Path, inputs: dict[str, np.ndarray], expected: dict[str, np.ndarray]) -> None:
    """``model.onnx`` in ``work`` from ``single.onnx``: the fused graph, or the plain one if that fails the check."""
    single, target = work / "single.onnx", work / MODEL_FILE
    try:
        _optimize(single, target)
        _check_export(target, inputs, expected)
    except Exception:  # the fusions are a speed-up, never a reason to lose the export
        for leftover in (target, work / WEIGHTS_FILE):
            leftover.unlink(missing_ok=True)
        _split_weights(single, target)
        _check_export(target, inputs, expected)
    single.unlink()


def _check_export(path: Path, inputs: dict[str, np.ndarray], expected: dict[str, np.ndarray]) -> None:
    from assistant.core.backends import OnnxBackend

    backend = OnnxBackend(path, threads=1)
    start, end = backend.logits(inputs["input_ids"], inputs["attention_mask"], inputs.get("token_type_ids"))
    mask = inputs["attention_mask"].astype(bool)
    for name, got in (("start_logits", start), ("end_logits", end)):
        gap = float(np.abs(got - expected[name])[mask].max())
        if not gap <= 1e-3:
            raise ExportError(f"the ONNX {name} differ from torch by {gap:.2g}")


def export_reader(
    model: torch.nn.Module, tokenizer: Any, destination: Path, key: str = "", digests: Digests | None = None
) -> OnnxBundle:
    """Export a QA model and its fast tokenizer to ``destination`` (made whole or not at all); checked against torch.

    ``reader.json`` records ``key`` (what the cache entry is named by) and every file's checksum. Any failure is an
    :class:`ExportError` whose message is one line.
    """
    destination.parent.mkdir(parents=True, exist_ok=True)
    work = files.temp_path(destination.parent, destination.name)
    digests = digests or Digests(None)
    try:
        work.mkdir()
        config = getattr(model, "config", None)
        vocab = getattr(config, "vocab_size", None) or len(tokenizer)
        inputs = _dummy_inputs(int(vocab), takes_token_types(model))
        expected = _torch_export(model, inputs, work / "single.onnx")
        _write_checked(work, inputs, expected)
        tokenizer.backend_tokenizer.save(str(work / TOKENIZER_FILE))
        max_positions = onnx_cache.whole_or_none(getattr(config, "max_position_embeddings", None))
        pad_token_id = onnx_cache.whole_or_none(getattr(tokenizer, "pad_token_id", None))
        meta = {
            "max_position_embeddings": max_positions,
            "pad_token_id": pad_token_id,
            "model_type": getattr(config, "model_type", None),
            "inputs": list(inputs),
        }
        onnx_cache.record_entry(work, key, meta, digests)
        work.rename(destination)
    except ExportError:
        raise
    except Exception as exc:  # torch.onnx, onnxruntime and the file system raise many types
        raise ExportError(first_line(exc)) from exc
    finally:
        shutil.rmtree(work, ignore_errors=True)
    for name in (MODEL_FILE, WEIGHTS_FILE, TOKENIZER_FILE):  # renaming the folder kept each file's stamp
        digests.remember(destination / name, digests.of(destination / name))
    digests.save()
    return OnnxBundle(destination, destination / MODEL_FILE, max_positions, pad_token_id)


def quantize_model(source: Path, target: Path) -> Path:
    """onnxruntime's dynamic int8 quantization of ``source`` into ``target`` (written whole or not at all)."""
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = files.temp_path(target.parent, target.name)
    try:
        with _quiet():
            from onnx import TensorProto
            from onnxruntime.quantization import QuantType, quantize_dynamic

            # ONNX shape inference cannot type the outputs of onnxruntime's fused ops: they are all float
            options = {"DefaultTensorType": TensorProto.FLOAT}
            quantize_dynamic(source, tmp, weight_type=QuantType.QInt8, extra_options=options)
        os.replace(tmp, target)
    except Exception as exc:  # onnx and onnxruntime.quantization raise many types
        raise ExportError(f"int8 quantization failed: {first_line(exc)}") from exc
    finally:
        tmp.unlink(missing_ok=True)
    return target
