"""Find and load a reader model: local directory or hub id, safetensors only, never remote code.

On the CPU a reader runs on ONNX Runtime by default: a model folder that ships ``model.onnx`` is read as
is, and a safetensors model is exported once (torch) into the cache folder the app passes in. That path
imports neither torch nor transformers once the export exists. On a GPU, or when no export can be had,
the reader runs on torch.
"""

from __future__ import annotations

import json
import os
import sys
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from assistant.core.defaults import DEFAULT_READER
from assistant.core.errors import ModelUnavailableError
from assistant.core.reader import Reader, WindowSettings

if TYPE_CHECKING:
    import torch

    from assistant.core.onnx_export import OnnxBundle

Backend = Literal["auto", "onnx", "torch"]
BACKENDS: tuple[Backend, ...] = ("auto", "onnx", "torch")
NoticeKind = Literal["progress", "fallback"]
Notify = Callable[[NoticeKind, str], None]
"""Where load_reader says, in one line, that it is exporting (``progress``) or fell back to torch (``fallback``)."""

_HOW_TO_GET_ONE = (
    "train one with `assistant train`, pass --model with a local checkpoint directory, "
    "or run once with network access to download {default}"
)


def _gpu_possible() -> bool:
    """False when this machine surely has no GPU torch could use: then ``auto`` needs no torch import to say cpu."""
    if os.environ.get("CUDA_VISIBLE_DEVICES", "unset").strip() in ("", "-1"):
        return False
    return any(
        Path(p).exists() for p in ("/dev/nvidiactl", "/dev/nvidia0", "/proc/driver/nvidia", "/dev/kfd", "/dev/dxg")
    )


def resolve_device(requested: str | None = None) -> str:
    """``cpu``, ``cuda`` or ``cuda:N``; imports torch only to check a GPU that might be there."""
    if requested in (None, "", "auto") and not _gpu_possible():
        return "cpu"
    if requested == "cpu":
        return "cpu"
    return str(pick_device(requested))


def pick_device(requested: str | None = None) -> torch.device:
    import torch

    if requested and requested != "auto":
        try:
            device = torch.device(requested)
        except RuntimeError:
            raise ModelUnavailableError(f"Unknown device {requested!r}; use cpu, cuda or cuda:N.") from None
        if device.type == "cuda" and not torch.cuda.is_available():
            raise ModelUnavailableError("--device cuda was asked for but no CUDA GPU is available.")
        return device
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def configure_cpu_threads() -> None:
    """Use the physical cores for math, as the ONNX backend does: best latency on small machines."""
    import torch

    from assistant.core.backends import physical_cores

    if os.environ.get("OMP_NUM_THREADS"):
        return
    torch.set_num_threads(physical_cores())


def _offline() -> bool:
    return os.environ.get("HF_HUB_OFFLINE", "").lower() in ("1", "true", "yes")


def hub_reachable() -> bool:
    """Whether the hub's name resolves: a cheap check that spares the user a minute of download retries."""
    import socket
    from urllib.parse import urlparse

    if _offline():
        return False
    host = urlparse(os.environ.get("HF_ENDPOINT", "https://huggingface.co")).hostname or "huggingface.co"
    try:
        socket.getaddrinfo(host, 443)
    except OSError:
        return False
    return True


_TOKENIZER_FILES = ("tokenizer.json", "vocab.txt", "vocab.json", "spiece.model", "sentencepiece.bpe.model")
"""Without one of these, transformers 5 quietly builds an empty tokenizer that reads every word as [UNK]."""


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return (text.splitlines()[0] if text else type(exc).__name__).rstrip(".")[:200]


def _read_config(path: Path) -> dict[str, Any]:
    try:
        config = json.loads((path / "config.json").read_text(encoding="utf-8"))
    except (OSError, ValueError, RecursionError) as exc:
        raise ModelUnavailableError(f"{path}/config.json could not be read as JSON ({_first_line(exc)}).") from None
    if not isinstance(config, dict):
        raise ModelUnavailableError(f"{path}/config.json is not a JSON object, so {path} is not a model directory.")
    return config


def check_safetensors(path: Path) -> None:
    """Open the header of a weights file: a truncated, empty or corrupt file fails here, in one sentence."""
    from safetensors import safe_open

    try:
        with safe_open(str(path), framework="numpy") as weights:  # "pt" would import torch
            empty = not list(weights.keys())
    except Exception as exc:  # SafetensorError, OSError: the file is not usable either way
        raise ModelUnavailableError(
            f"{path} is not a valid safetensors file ({_first_line(exc)}); retrain or re-download the model."
        ) from None
    if empty:
        raise ModelUnavailableError(f"{path} holds no tensors; retrain or re-download the model.")


def check_model_directory(path: Path, allow_onnx: bool = False) -> None:
    """Refuse a folder that is not a plain safetensors checkpoint before transformers reads any of it.

    A folder that ships Python code (``auto_map`` in its config, or ``*.py`` files) is refused outright:
    loading it could run that code. ``allow_onnx``: a ``model.onnx`` with a ``tokenizer.json`` may stand in
    for the safetensors weights (the ONNX reader needs no others).
    """
    if not (path / "config.json").is_file():
        raise ModelUnavailableError(f"{path} is not a model directory (it has no config.json).")
    config = _read_config(path)
    if "auto_map" in config or any(path.glob("*.py")):
        raise ModelUnavailableError(
            f"{path} asks to run its own Python code (auto_map or .py files); only standard architectures "
            "are loaded, never a model folder's code."
        )
    if not any((path / name).is_file() for name in _TOKENIZER_FILES):
        raise ModelUnavailableError(
            f"{path} has no tokenizer (tokenizer.json or vocab.txt); save the tokenizer beside the weights."
        )
    weights = sorted(path.glob("*.safetensors"))
    if not weights:
        if allow_onnx and (path / "model.onnx").is_file() and (path / "tokenizer.json").is_file():
            return
        raise ModelUnavailableError(f"{path} has no .safetensors weights; only safetensors checkpoints are loaded.")
    for file in weights:
        check_safetensors(file)


def _from_pretrained(ref: str, local_files_only: bool, **model_kwargs: Any) -> tuple[Any, torch.nn.Module]:
    from transformers import AutoModelForQuestionAnswering, AutoTokenizer

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        tokenizer = AutoTokenizer.from_pretrained(ref, local_files_only=local_files_only, trust_remote_code=False)
        options = {"use_safetensors": True, "local_files_only": local_files_only, **model_kwargs}
        model = AutoModelForQuestionAnswering.from_pretrained(ref, trust_remote_code=False, **options)
    return tokenizer, model


def _looks_like_path(ref: str) -> bool:
    return ref.startswith((".", "/", "~")) or (os.sep in ref and ref.count("/") > 1)


def _quiet_hub_logging() -> None:
    import logging

    from transformers.utils import logging as hf_logging

    hf_logging.set_verbosity(logging.ERROR)
    logging.getLogger("huggingface_hub").setLevel(logging.ERROR)
    disable_progress_bar: Callable[[], None] = hf_logging.disable_progress_bar  # untyped upstream
    disable_progress_bar()


def _load_from_hub(ref: str, **model_kwargs: Any) -> tuple[Any, torch.nn.Module]:
    try:  # the local cache first: no network, no retries
        return _from_pretrained(ref, True, **model_kwargs)
    except (OSError, ValueError):
        if not hub_reachable():
            raise ModelUnavailableError(
                f"Model {ref!r} is not in the local cache and the hub cannot be reached; "
                + _HOW_TO_GET_ONE.format(default=DEFAULT_READER)
                + "."
            ) from None
    return _from_pretrained(ref, False, **model_kwargs)


def _local_directory(ref: str, allow_onnx: bool = False) -> Path | None:
    """The checked model directory ``ref`` names, or None for a hub id; a bad path is one sentence."""
    path = Path(ref).expanduser()
    if path.is_dir():
        check_model_directory(path, allow_onnx)
        return path
    if path.exists():
        raise ModelUnavailableError(f"{path} is a file; --model takes a model directory or a hub id.")
    if _looks_like_path(ref):
        raise ModelUnavailableError(f"Model directory {ref} does not exist.")
    return None


def load_pretrained(ref: str, **model_kwargs: Any) -> tuple[Any, torch.nn.Module]:
    """A fast tokenizer and a QA model from a local directory or a hub id; any failure is one sentence.

    Shared by the reader and the trainer (``--base``, ``--teacher``), so every load refuses remote code
    and pickled weights the same way.
    """
    _quiet_hub_logging()
    path = _local_directory(ref)
    try:
        tokenizer, model = (
            _from_pretrained(str(path), True, **model_kwargs) if path else _load_from_hub(ref, **model_kwargs)
        )
    except ModelUnavailableError:
        raise
    except Exception as exc:  # transformers, tokenizers and safetensors raise many types for a bad folder
        raise ModelUnavailableError(f"Could not load the model {path or ref}: {_first_line(exc)}.") from None
    if not getattr(tokenizer, "is_fast", False):
        raise ModelUnavailableError(f"Model {ref!r} has no fast tokenizer, which the reader needs for offsets.")
    return tokenizer, model


def _stderr_notice(kind: NoticeKind, message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def load_reader(
    ref: str,
    device: str | None = None,
    quantize: bool = False,
    window: WindowSettings | None = None,
    *,
    backend: Backend = "auto",
    cache_dir: Path | None = None,
    notify: Notify | None = None,
    short_lived: bool = False,
) -> Reader:
    """Load a QA model for reading; any failure becomes one sentence saying what to do.

    ``backend``: ``auto`` is ONNX Runtime on the CPU and torch on a GPU. The ONNX reader uses a folder's
    own ``model.onnx``, else an export cached under ``cache_dir`` (made on first use); with no cache
    folder, or when the export fails, the reader runs on torch. ``quantize``: dynamic int8 (onnxruntime's
    for ONNX, torch's for torch), CPU only. ``notify`` hears the one-line notices (default: stderr).
    ``short_lived``: a process that answers a few questions and exits (``assistant ask``) skips ONNX
    Runtime's weight prepacking, which costs ~0.23 s at load and saves ~8% per pass after.
    """
    if backend not in BACKENDS:
        raise ModelUnavailableError(f"Unknown backend {backend!r}; use one of {', '.join(BACKENDS)}.")
    where = resolve_device(device)
    if backend == "onnx" and where != "cpu":
        raise ModelUnavailableError("The ONNX backend runs on the CPU; use --device cpu, or --backend torch.")
    if backend == "torch" or where != "cpu" or not _onnx_runtime_installed(backend == "onnx"):
        return _torch_reader(ref, where, quantize, window)
    reader = _onnx_reader(ref, quantize, window, cache_dir, notify or _stderr_notice, not short_lived)
    return reader if reader is not None else _torch_reader(ref, where, quantize, window)


def _onnx_runtime_installed(required: bool) -> bool:
    import importlib.util

    if importlib.util.find_spec("onnxruntime") is not None:
        return True
    if required:
        raise ModelUnavailableError("--backend onnx needs onnxruntime: pip install onnxruntime.")
    return False


def _torch_reader(
    ref: str,
    device: str,
    quantize: bool,
    window: WindowSettings | None,
    loaded: tuple[Any, torch.nn.Module] | None = None,
) -> Reader:
    from assistant.core.backends import TorchBackend

    torch_device = pick_device(device)
    tokenizer, model = loaded or load_pretrained(ref)
    if torch_device.type == "cpu":
        configure_cpu_threads()
        if quantize:
            model = quantize_int8(model)
    else:
        model = model.to(torch_device)
    kind = "torch-int8" if quantize and torch_device.type == "cpu" else "torch"
    return Reader(TorchBackend(model, torch_device, kind), tokenizer, name=ref, window=window)


def _hub_snapshot(ref: str) -> Path | None:
    """The hub model's folder in the local Hugging Face cache, if whole (config, tokenizer, safetensors)."""
    try:
        from huggingface_hub import snapshot_download

        path = Path(str(snapshot_download(ref, local_files_only=True)))
        check_model_directory(path)
    except Exception:  # not cached, partly cached, or not a plain checkpoint: the torch loader decides
        return None
    return path


def _open_bundle(
    bundle: OnnxBundle, model_path: Path, ref: str, window: WindowSettings | None, prepack: bool
) -> Reader:
    from assistant.core.backends import OnnxBackend
    from assistant.core.tokenizer import JsonTokenizer

    backend = OnnxBackend(model_path, bundle.max_positions, prepack=prepack)
    tokenizer = JsonTokenizer.from_directory(bundle.directory, bundle.pad_token_id)
    return Reader(backend, tokenizer, name=ref, window=window)


def _onnx_reader(
    ref: str, quantize: bool, window: WindowSettings | None, cache_dir: Path | None, notify: Notify, prepack: bool
) -> Reader | None:
    """The ONNX reader of ``ref``; None when it has no ``model.onnx`` and there is no cache to export into."""
    from assistant.core import onnx_export

    local = _local_directory(ref, allow_onnx=True) or _hub_snapshot(ref)
    shipped = onnx_export.shipped_bundle(local) if local is not None else None
    if shipped is not None:
        model_path = _shipped_model(shipped, quantize, cache_dir, notify)
        try:
            return _open_bundle(shipped, model_path, ref, window, prepack)
        except Exception as exc:  # onnxruntime raises its own types for a bad file
            raise ModelUnavailableError(
                f"{model_path} could not be loaded by onnxruntime: {_first_line(exc)}."
            ) from None
    if cache_dir is None:
        return None
    loaded = None
    if local is None:  # a hub model not downloaded yet: the torch loader fetches it, then it is on disk
        loaded = load_pretrained(ref)
        local = _hub_snapshot(ref)
        if local is None:
            return _torch_reader(ref, "cpu", quantize, window, loaded)
    return _cached_onnx_reader(ref, local, quantize, window, cache_dir / "onnx", notify, loaded, prepack)


def _cached_onnx_reader(
    ref: str,
    local: Path,
    quantize: bool,
    window: WindowSettings | None,
    root: Path,
    notify: Notify,
    loaded: tuple[Any, torch.nn.Module] | None,
    prepack: bool,
) -> Reader:
    """Read from the cached export of ``local``, making it first if needed; torch if that fails."""
    from assistant.core import onnx_export

    entry = root / onnx_export.model_key(local, root)
    bundle = onnx_export.read_bundle(entry)
    if bundle is None:
        loaded = loaded or load_pretrained(str(local))  # before any notice: a bad model fails in one line
        notify("progress", f"Exporting {ref} to ONNX for fast CPU answers (once; cached in {root})...")
        try:
            bundle = onnx_export.export_reader(loaded[1], loaded[0], entry)
        except onnx_export.ExportError as exc:
            notify("fallback", f"The ONNX export of {ref} failed ({exc}); answering with torch instead.")
            return _torch_reader(ref, "cpu", quantize, window, loaded)
    try:
        model_path = _quantized(bundle.model, bundle.int8, ref, notify) if quantize else bundle.model
    except onnx_export.ExportError as exc:
        notify("fallback", f"The ONNX export of {ref} failed ({exc}); answering with torch instead.")
        return _torch_reader(ref, "cpu", quantize, window, loaded)
    try:
        return _open_bundle(bundle, model_path, ref, window, prepack)
    except Exception as exc:  # a damaged cache entry: drop it (the next start exports again), torch this time
        import shutil

        shutil.rmtree(entry, ignore_errors=True)
        notify("fallback", f"The ONNX export of {ref} is unusable ({_first_line(exc)}); answering with torch instead.")
        return _torch_reader(ref, "cpu", quantize, window, loaded)


def _quantized(source: Path, target: Path, ref: str, notify: Notify) -> Path:
    from assistant.core import onnx_export

    if not target.is_file():
        notify("progress", f"Quantizing the ONNX export of {ref} to int8 (once)...")
        onnx_export.quantize_model(source, target)
    return target


def _shipped_model(shipped: OnnxBundle, quantize: bool, cache_dir: Path | None, notify: Notify) -> Path:
    """The shipped ``model.onnx``, or for int8 a ``model.int8.onnx`` beside it or quantized into the cache."""
    from assistant.core import onnx_export

    if not quantize:
        return shipped.model
    if shipped.int8.is_file() and shipped.int8.stat().st_mtime_ns >= shipped.model.stat().st_mtime_ns:
        return shipped.int8  # the trainer's (--export-int8); one older than model.onnx is of other weights
    if cache_dir is None:
        notify("fallback", f"{shipped.directory} has no model.int8.onnx and no cache to make one in; reading in fp32.")
        return shipped.model
    root = cache_dir / "onnx"
    target = root / f"shipped-{onnx_export.model_key(shipped.directory, root)}" / onnx_export.INT8_FILE
    try:
        return _quantized(shipped.model, target, str(shipped.directory), notify)
    except onnx_export.ExportError as exc:
        notify("fallback", f"{exc}; reading {shipped.directory} in fp32.")
        return shipped.model


def quantize_int8(model: torch.nn.Module) -> torch.nn.Module:
    """Dynamic int8 quantization of the linear layers, for CPU inference after training."""
    import torch

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from torch.ao.quantization import quantize_dynamic

        quantize: Callable[..., torch.nn.Module] = quantize_dynamic  # untyped upstream
        return quantize(model.eval(), {torch.nn.Linear}, dtype=torch.qint8)
