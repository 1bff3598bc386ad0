"""Find and load a reader model: local directory or hub id, safetensors only, never remote code."""

from __future__ import annotations

import os
import warnings
from dataclasses import dataclass
from pathlib import Path

import torch

from assistant.errors import ModelUnavailableError
from assistant.paths import DEFAULT_READER
from assistant.reader import Reader, WindowSettings
from assistant.runs import active_run_path

_HOW_TO_GET_ONE = (
    "train one with `assistant train`, pass --model with a local checkpoint directory, "
    "or run once with network access to download {default}"
)


@dataclass(frozen=True)
class ModelChoice:
    ref: str
    source: str
    """Which rule picked it: --model, ASSISTANT_MODEL, active run, or default."""


def resolve_model(cli_model: str | None = None) -> ModelChoice:
    """``--model``, then ``ASSISTANT_MODEL``, then the active run in ``models/``, then the hub default."""
    if cli_model:
        return ModelChoice(cli_model, "--model")
    env = os.environ.get("ASSISTANT_MODEL")
    if env:
        return ModelChoice(env, "ASSISTANT_MODEL")
    active = active_run_path()
    if active is not None:
        return ModelChoice(str(active), "active run")
    return ModelChoice(DEFAULT_READER, "default")


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


def _from_pretrained(ref: str, local_files_only: bool):
    from transformers import AutoModelForQuestionAnswering, AutoTokenizer

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        tokenizer = AutoTokenizer.from_pretrained(ref, local_files_only=local_files_only)
        model = AutoModelForQuestionAnswering.from_pretrained(
            ref, use_safetensors=True, trust_remote_code=False, local_files_only=local_files_only
        )
    return tokenizer, model


def load_reader(
    ref: str, device: str | None = None, quantize: bool = False, window: WindowSettings | None = None
) -> Reader:
    """Load a QA model; any failure becomes one sentence saying what to do."""
    import logging

    from transformers.utils import logging as hf_logging

    hf_logging.set_verbosity_error()
    logging.getLogger("huggingface_hub").setLevel(logging.ERROR)
    hf_logging.disable_progress_bar()
    torch_device = pick_device(device)
    path = Path(ref).expanduser()
    local = path.is_dir()
    if local and not (path / "config.json").exists():
        raise ModelUnavailableError(f"{path} is not a model directory (it has no config.json).")
    if local and not any(path.glob("*.safetensors")):
        raise ModelUnavailableError(f"{path} has no .safetensors weights; only safetensors checkpoints are loaded.")
    if not local and (ref.startswith((".", "/", "~")) or (os.sep in ref and ref.count("/") > 1)):
        raise ModelUnavailableError(f"Model directory {ref} does not exist.")
    try:
        if local:
            tokenizer, model = _from_pretrained(str(path), local_files_only=True)
        else:
            try:  # the local cache first: no network, no retries
                tokenizer, model = _from_pretrained(ref, local_files_only=True)
            except (OSError, ValueError):
                if not hub_reachable():
                    raise ModelUnavailableError(
                        f"Model {ref!r} is not in the local cache and the hub cannot be reached; "
                        + _HOW_TO_GET_ONE.format(default=DEFAULT_READER)
                        + "."
                    ) from None
                tokenizer, model = _from_pretrained(ref, local_files_only=False)
    except (OSError, ValueError) as exc:
        where = str(path) if local else ref
        first_line = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ModelUnavailableError(f"Could not load the model {where}: {first_line.rstrip('.')}.") from None
    if not getattr(tokenizer, "is_fast", False):
        raise ModelUnavailableError(f"Model {ref!r} has no fast tokenizer, which the reader needs for offsets.")
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

        return quantize_dynamic(model.eval(), {torch.nn.Linear}, dtype=torch.qint8)
