"""Find and load a reader model: local directory or hub id, safetensors only, never remote code.

On the CPU a reader runs on ONNX Runtime by default: a model folder that ships ``model.onnx`` is read as
is, and a safetensors model is exported once (torch) into the cache folder the app passes in. That path
imports neither torch nor transformers once the export exists. On a GPU, or when no export can be had,
the reader runs on torch.
"""

from __future__ import annotations

import os
import re
import stat
import sys
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from assistant.core import files
from assistant.core.defaults import DEFAULT_READER
from assistant.core.errors import ModelUnavailableError, first_line
from assistant.core.reader import Reader, WindowSettings
from assistant.core.sanitize import one_line

if TYPE_CHECKING:
    import torch

Backend = Literal["auto", "onnx", "torch"]
BACKENDS: tuple[Backend, ...] = ("auto", "onnx", "torch")
NoticeKind = Literal["progress", "fallback"]
Notify = Callable[[NoticeKind, str], None]
"""Where load_reader says, in one line, that it is exporting (``progress``) or fell back to torch (``fallback``)."""

READER_HOW_TO_GET = (
    "train one with `assistant train`, pass --model with a local checkpoint directory, "
    f"or run once with network access to download {DEFAULT_READER}"
)
"""What a user who asks without the reader cached can do."""
BASE_HOW_TO_GET = "pass a local model directory instead, or run once with network access to download it"
"""What a user who trains without the base (or teacher) cached can do: not "train one", which they are doing."""


def _gpu_possible() -> bool:
    """False when this machine surely has no GPU torch could use: then ``auto`` needs no torch import to say cpu."""
    if os.environ.get("CUDA_VISIBLE_DEVICES", "unset").strip() in ("", "-1"):
        return False
    return any(
        Path(p).exists() for p in ("/dev/nvidiactl", "/dev/nvidia0", "/proc/driver/nvidia", "/dev/kfd", "/dev/dxg")
    )


DEVICE_PATTERN = re.compile(r"auto|cpu|cuda(:\d{1,3})?")
"""The devices a reader or a training run may be put on: the one rule for flags, settings and configs."""
DEVICE_WORDS = "auto, cpu, cuda or cuda:N"


def is_device(text: object) -> bool:
    return isinstance(text, str) and DEVICE_PATTERN.fullmatch(text) is not None


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
        if not is_device(requested):
            raise ModelUnavailableError(f"Unknown device {requested!r}; use {DEVICE_WORDS}.")
        device = torch.device(requested)
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


def hub_offline() -> bool:
    return os.environ.get("HF_HUB_OFFLINE", "").lower() in ("1", "true", "yes")


def hub_reachable() -> bool:
    """Whether the hub's name resolves: a cheap check that spares the user a minute of download retries."""
    import socket
    from urllib.parse import urlparse

    if hub_offline():
        return False
    host = urlparse(os.environ.get("HF_ENDPOINT", "https://huggingface.co")).hostname or "huggingface.co"
    try:
        socket.getaddrinfo(host, 443)
    except OSError:
        return False
    return True


def hub_model_cached(ref: str) -> bool:
    """Whether the hub model ``ref`` has a config in the local Hugging Face cache (so it can load offline)."""
    from huggingface_hub import try_to_load_from_cache

    try:
        return isinstance(try_to_load_from_cache(ref, "config.json"), str)
    except ValueError:  # not a valid repo id
        return False


def _not_obtainable(ref: str, how_to_get: str) -> ModelUnavailableError:
    return ModelUnavailableError(
        f"Model {ref!r} is not in the local cache and the hub cannot be reached; {how_to_get}."
    )


def check_obtainable(ref: str, how_to_get: str) -> None:
    """One sentence now, before any progress is shown, for a model that cannot be loaded: a bad local folder or a
    path to none, or a hub model neither cached nor reachable (saying ``how_to_get`` one)."""
    if _local_directory(ref) is None and not hub_model_cached(ref) and not hub_reachable():
        raise _not_obtainable(ref, how_to_get)


_TOKENIZER_FILES = ("tokenizer.json", "vocab.txt", "vocab.json", "spiece.model", "sentencepiece.bpe.model")
"""Without one of these, transformers 5 quietly builds an empty tokenizer that reads every word as [UNK]."""


MODEL_FILE_KIND = files.FileKind("model file", 64 * files.GiB, ModelUnavailableError)
CONFIG_KIND = files.FileKind("config.json", 16 * files.MiB, ModelUnavailableError)


def _read_config(path: Path) -> dict[str, Any]:
    try:
        config = files.read_json(path / "config.json", CONFIG_KIND)
    except ModelUnavailableError as exc:
        raise ModelUnavailableError(f"{path}/config.json could not be read as JSON ({first_line(exc)}).") from None
    if not isinstance(config, dict):
        raise ModelUnavailableError(f"{path}/config.json is not a JSON object, so {path} is not a model directory.")
    return config


def check_safetensors(path: Path) -> None:
    """Open the header of a weights file: a truncated, empty or corrupt file fails here, in one sentence."""
    from safetensors import safe_open

    files.check_regular(path, MODEL_FILE_KIND)
    try:
        with safe_open(str(path), framework="numpy") as weights:  # "pt" would import torch
            empty = not list(weights.keys())
    except Exception as exc:  # SafetensorError, OSError: the file is not usable either way
        raise ModelUnavailableError(
            f"{path} is not a valid safetensors file ({first_line(exc)}); retrain or re-download the model."
        ) from None
    if empty:
        raise ModelUnavailableError(f"{path} holds no tensors; retrain or re-download the model.")


def _only_plain_files(path: Path) -> None:
    """A model folder holds files and folders; a FIFO, device or socket there would hang the library reading it."""
    try:
        entries = list(os.scandir(path))
    except OSError as exc:
        raise ModelUnavailableError(f"Could not read the model folder {path}: {exc.strerror or exc}.") from None
    for entry in entries:
        try:
            mode = os.stat(entry.path).st_mode
        except OSError:  # a dangling link: only what is read matters, and the checks below name it
            continue
        if not (stat.S_ISREG(mode) or stat.S_ISDIR(mode)):
            raise ModelUnavailableError(f"{entry.path} is not a regular file (a device, pipe or socket).")


def check_model_directory(path: Path, allow_onnx: bool = False) -> None:
    """Refuse a folder that is not a plain safetensors checkpoint before transformers reads any of it.

    A folder that ships Python code (``auto_map`` in its config, or ``*.py`` files) is refused outright:
    loading it could run that code. ``allow_onnx``: a ``model.onnx`` with a ``tokenizer.json`` may stand in
    for the safetensors weights (the ONNX reader needs no others).
    """
    if not (path / "config.json").is_file():
        raise ModelUnavailableError(f"{path} is not a model directory (it has no config.json).")
    _only_plain_files(path)
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


def _load_from_hub(ref: str, how_to_get: str, **model_kwargs: Any) -> tuple[Any, torch.nn.Module]:
    try:  # the local cache first: no network, no retries
        return _from_pretrained(ref, True, **model_kwargs)
    except (OSError, ValueError):
        if not hub_reachable():
            raise _not_obtainable(ref, how_to_get) from None
    return _from_pretrained(ref, False, **model_kwargs)


def _local_directory(ref: str, allow_onnx: bool = False) -> Path | None:
    """The checked model directory ``ref`` names, or None for a hub id; a bad path is one sentence."""
    path = files.user_path(ref)
    if path.is_dir():
        check_model_directory(path, allow_onnx)
        return path
    if path.exists():
        raise ModelUnavailableError(f"{path} is a file, not a model folder or a hub id.")
    if _looks_like_path(ref):
        raise ModelUnavailableError(f"Model directory {ref} does not exist.")
    return None


def load_pretrained(ref: str, how_to_get: str = READER_HOW_TO_GET, **model_kwargs: Any) -> tuple[Any, torch.nn.Module]:
    """A fast tokenizer and a QA model from a local directory or a hub id; any failure is one sentence, and one not
    cached while the hub is out of reach says ``how_to_get`` one.

    Shared by the reader and the trainer (``--base``, ``--teacher``), so every load refuses remote code
    and pickled weights the same way.
    """
    _quiet_hub_logging()
    path = _local_directory(ref)
    try:
        tokenizer, model = (
            _from_pretrained(str(path), True, **model_kwargs)
            if path
            else _load_from_hub(ref, how_to_get, **model_kwargs)
        )
    except ModelUnavailableError:
        raise
    except Exception as exc:  # transformers, tokenizers and safetensors raise many types for a bad folder
        raise ModelUnavailableError(f"Could not load the model {path or ref}: {first_line(exc)}.") from None
    if not getattr(tokenizer, "is_fast", False):
        raise ModelUnavailableError(f"Model {ref!r} has no fast tokenizer, which the reader needs for offsets.")
    return tokenizer, model


def _stderr_notice(kind: NoticeKind, message: str) -> None:
    print(one_line(message), file=sys.stderr, flush=True)  # a path in it is text, never terminal control


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
        return torch_reader(ref, where, quantize, window)
    from assistant.core.onnx_reader import onnx_reader

    local = _local_directory(ref, allow_onnx=True) or hub_snapshot(ref)
    reader = onnx_reader(ref, local, quantize, window, cache_dir, notify or _stderr_notice, not short_lived)
    return reader if reader is not None else torch_reader(ref, where, quantize, window)


def _onnx_runtime_installed(required: bool) -> bool:
    import importlib.util

    if importlib.util.find_spec("onnxruntime") is not None:
        return True
    if required:
        raise ModelUnavailableError("--backend onnx needs onnxruntime: pip install onnxruntime.")
    return False


def torch_reader(
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


def hub_snapshot(ref: str) -> Path | None:
    """The hub model's folder in the local Hugging Face cache, if whole (config, tokenizer, safetensors)."""
    try:
        from huggingface_hub import snapshot_download

        path = Path(str(snapshot_download(ref, local_files_only=True)))
        check_model_directory(path)
    except Exception:  # not cached, partly cached, or not a plain checkpoint: the torch loader decides
        return None
    return path


def quantize_int8(model: torch.nn.Module) -> torch.nn.Module:
    """Dynamic int8 quantization of the linear layers, for CPU inference after training."""
    import torch

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from torch.ao.quantization import quantize_dynamic

        quantize: Callable[..., torch.nn.Module] = quantize_dynamic  # untyped upstream
        return quantize(model.eval(), {torch.nn.Linear}, dtype=torch.qint8)
