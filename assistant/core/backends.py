"""Inference backends: padded batches of token-id windows in, start and end logits (numpy) out.

The reader batches and pads windows itself and hands each batch to a backend: ONNX Runtime on the CPU
(no torch import: answers from a cold start in about a second) or torch (GPU, training-time evaluation,
and the fallback when no ONNX export can be had). Neither import happens until a backend is built.
"""

from __future__ import annotations

import inspect
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

import numpy as np

from assistant.core.errors import ReaderFailed, first_line

if TYPE_CHECKING:
    import torch


@runtime_checkable
class InferenceBackend(Protocol):
    """Turns a batch of windows into logits; called under the reader's lock, one batch at a time."""

    kind: str
    """What runs the model, for messages and benchmarks: ``onnx``, ``onnx-int8``, ``torch``, ``torch-int8``."""
    max_positions: int | None
    """The longest window the model takes (``max_position_embeddings``), if known."""
    uses_token_types: bool
    """Whether the model takes ``token_type_ids`` (BERT does, DistilBERT does not)."""

    def logits(
        self, input_ids: np.ndarray, attention_mask: np.ndarray, token_type_ids: np.ndarray | None
    ) -> tuple[np.ndarray, np.ndarray]:
        """Start and end logits, float32 arrays of the batch's ``(rows, length)`` shape (int64 inputs)."""
        ...


def physical_cores() -> int:
    """Cores this process may run on, counting each core once however many hardware threads it has.

    Two math threads on the two halves of one hyper-threaded core only fight over its vector units.
    """
    try:
        allowed = os.sched_getaffinity(0)
    except (AttributeError, OSError):
        return max(1, os.cpu_count() or 1)
    cores: set[str] = set()
    for cpu in allowed:
        siblings = Path(f"/sys/devices/system/cpu/cpu{cpu}/topology/thread_siblings_list")
        try:
            cores.add(siblings.read_text().strip())
        except OSError:
            cores.add(str(cpu))
    return max(1, len(cores))


def cpu_threads() -> int:
    """``OMP_NUM_THREADS`` when set (at most the CPUs this process may use), else the physical cores: best latency
    for one question at a time."""
    from assistant.core.limits import cpu_count

    try:
        requested = int(os.environ.get("OMP_NUM_THREADS", "0"))
    except ValueError:
        requested = 0
    return min(requested, cpu_count()) if requested > 0 else physical_cores()


class OnnxBackend:
    """A QA model exported to ONNX, run by ONNX Runtime on the CPU."""

    def __init__(
        self, path: Path, max_positions: int | None = None, threads: int | None = None, prepack: bool = True
    ) -> None:
        """``prepack``: lay the weights out for the matrix kernels at load (slower start, faster passes)."""
        import onnxruntime as ort

        ort.set_default_logger_severity(4)  # errors are raised and said in one line; never its own log on stderr
        options = ort.SessionOptions()
        options.intra_op_num_threads = threads or cpu_threads()
        options.inter_op_num_threads = 1
        options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        # no memory pattern: it plans one block for every intermediate of the largest batch seen and keeps
        # it (+45 MiB at two 384-token windows); the arena alone reuses buffers as fast on the CPU
        options.enable_mem_pattern = False
        if not prepack:
            options.add_session_config_entry("session.disable_prepacking", "1")
        options.log_severity_level = 4  # fatal only: its errors are raised and said in one line, never logged
        self.path = path
        self.session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        self._run_options = ort.RunOptions()
        self._run_options.log_severity_level = 4
        self.input_names = {i.name for i in self.session.get_inputs()}
        missing = {"input_ids", "attention_mask"} - self.input_names
        if missing:
            raise ValueError(f"{path.name} lacks the inputs {sorted(missing)}")
        outputs = [o.name for o in self.session.get_outputs()]
        self.output_names = (
            ["start_logits", "end_logits"] if {"start_logits", "end_logits"} <= set(outputs) else outputs[:2]
        )
        self.kind = "onnx-int8" if path.stem.endswith("int8") else "onnx"
        self.max_positions = max_positions
        self.uses_token_types = "token_type_ids" in self.input_names

    def logits(
        self, input_ids: np.ndarray, attention_mask: np.ndarray, token_type_ids: np.ndarray | None
    ) -> tuple[np.ndarray, np.ndarray]:
        feed = {"input_ids": input_ids, "attention_mask": attention_mask}
        if self.uses_token_types:
            feed["token_type_ids"] = np.zeros_like(input_ids) if token_type_ids is None else token_type_ids
        try:
            start, end = self.session.run(self.output_names, feed, self._run_options)
            return np.asarray(start, dtype=np.float32), np.asarray(end, dtype=np.float32)
        except Exception as exc:  # onnxruntime's own types: a graph that fails (or asks for 32 GiB) on real input
            raise ReaderFailed(f"The reader {self.path} failed to run: {first_line(exc, 300)}.") from None


def takes_token_types(model: Any) -> bool:
    """Whether a Hugging Face QA model's ``forward`` has a ``token_type_ids`` parameter."""
    try:
        return "token_type_ids" in inspect.signature(model.forward).parameters
    except (TypeError, ValueError, AttributeError):
        return False


class TorchBackend:
    """A torch QA model (any Hugging Face ``...ForQuestionAnswering``) on a CPU or GPU."""

    def __init__(self, model: torch.nn.Module, device: Any = None, kind: str = "torch") -> None:
        import torch

        self.model = model.eval()
        if device is None:
            first = next(iter(model.parameters()), None)
            device = first.device if first is not None else torch.device("cpu")
        self.device = torch.device(device)
        self.kind = kind
        config = getattr(model, "config", None)
        limit = getattr(config, "max_position_embeddings", None)
        self.max_positions = limit if isinstance(limit, int) else None
        self.uses_token_types = takes_token_types(model)

    def logits(
        self, input_ids: np.ndarray, attention_mask: np.ndarray, token_type_ids: np.ndarray | None
    ) -> tuple[np.ndarray, np.ndarray]:
        import torch

        inputs = {
            "input_ids": torch.from_numpy(input_ids).to(self.device),
            "attention_mask": torch.from_numpy(attention_mask).to(self.device),
        }
        if token_type_ids is not None and self.uses_token_types:
            inputs["token_type_ids"] = torch.from_numpy(token_type_ids).to(self.device)
        try:
            with torch.inference_mode():
                output = self.model(**inputs)
            return output.start_logits.float().cpu().numpy(), output.end_logits.float().cpu().numpy()
        except (RuntimeError, ValueError, IndexError, AttributeError) as exc:  # a model that cannot read these inputs
            raise ReaderFailed(f"The reader failed to run: {first_line(exc, 300)}.") from None
