"""Find and load a reader model: local directory or hub id, safetensors only, never remote code."""

from __future__ import annotations

import json
import os
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch

from assistant.core.defaults import DEFAULT_READER
from assistant.core.errors import ModelUnavailableError
from assistant.core.reader import Reader, WindowSettings

_HOW_TO_GET_ONE = (
    "train one with `assistant train`, pass --model with a local checkpoint directory, "
    "or run once with network access to download {default}"
)


def pick_device(requested: str | None = None) -> torch.device:
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
    """Use the physical cores for math and one inter-op thread: best latency on small machines."""
    if os.environ.get("OMP_NUM_THREADS"):
        return
    torch.set_num_threads(max(1, os.cpu_count() or 1))


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
        with safe_open(str(path), framework="pt") as weights:
            empty = not list(weights.keys())
    except Exception as exc:  # SafetensorError, OSError: the file is not usable either way
        raise ModelUnavailableError(
            f"{path} is not a valid safetensors file ({_first_line(exc)}); retrain or re-download the model."
        ) from None
    if empty:
        raise ModelUnavailableError(f"{path} holds no tensors; retrain or re-download the model.")


def check_model_directory(path: Path) -> None:
    """Refuse a folder that is not a plain safetensors checkpoint before transformers reads any of it.

    A folder that ships Python code (``auto_map`` in its config, or ``*.py`` files) is refused outright:
    loading it could run that code.
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
        raise ModelUnavailableError(f"{path} has no .safetensors weights; only safetensors checkpoints are loaded.")
    for file in weights:
        check_safetensors(file)


def _from_pretrained(ref: str, local_files_only: bool, **model_kwargs: Any) -> tuple[Any, torch.nn.Module]:
    from transformers import AutoModelForQuestionAnswering, AutoTokenizer

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        tokenizer = AutoTokenizer.from_pretrained(ref, local_files_only=local_files_only, trust_remote_code=False)
        model = AutoModelForQuestionAnswering.from_pretrained(
            ref, use_safetensors=True, local_files_only=local_files_only, trust_remote_code=False, **model_kwargs
        )
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


def load_pretrained(ref: str, **model_kwargs: Any) -> tuple[Any, torch.nn.Module]:
    """A fast tokenizer and a QA model from a local directory or a hub id; any failure is one sentence.

    Shared by the reader and the trainer (``--base``, ``--teacher``), so every load refuses remote code
    and pickled weights the same way.
    """
    _quiet_hub_logging()
    path = Path(ref).expanduser()
    local = path.is_dir()
    if local:
        check_model_directory(path)
    elif path.exists():
        raise ModelUnavailableError(f"{path} is a file; --model takes a model directory or a hub id.")
    elif _looks_like_path(ref):
        raise ModelUnavailableError(f"Model directory {ref} does not exist.")
    try:
        tokenizer, model = (
            _from_pretrained(str(path), True, **model_kwargs) if local else _load_from_hub(ref, **model_kwargs)
        )
    except ModelUnavailableError:
        raise
    except Exception as exc:  # transformers, tokenizers and safetensors raise many types for a bad folder
        where = str(path) if local else ref
        raise ModelUnavailableError(f"Could not load the model {where}: {_first_line(exc)}.") from None
    if not getattr(tokenizer, "is_fast", False):
        raise ModelUnavailableError(f"Model {ref!r} has no fast tokenizer, which the reader needs for offsets.")
    return tokenizer, model


def load_reader(
    ref: str, device: str | None = None, quantize: bool = False, window: WindowSettings | None = None
) -> Reader:
    """Load a QA model for reading; any failure becomes one sentence saying what to do."""
    torch_device = pick_device(device)
    tokenizer, model = load_pretrained(ref)
    if torch_device.type == "cpu":
        configure_cpu_threads()
        if quantize:
            model = quantize_int8(model)
    else:
        model = model.to(torch_device)
    return Reader(model, tokenizer, torch_device, name=ref, window=window)


def quantize_int8(model: torch.nn.Module) -> torch.nn.Module:
    """Dynamic int8 quantization of the linear layers, for CPU inference after training."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from torch.ao.quantization import quantize_dynamic

        quantize: Callable[..., torch.nn.Module] = quantize_dynamic  # untyped upstream
        return quantize(model.eval(), {torch.nn.Linear}, dtype=torch.qint8)
