from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")

from tests import onnx_exports
from tests.helpers import save_tiny_model

SHARED_SQUAD = Path(__file__).resolve().parent.parent.parent / "shared" / "data" / "squad2-dev-sample.json"

WORDS = [
    "the",
    "cat",
    "sat",
    "on",
    "mat",
    "where",
    "did",
    "what",
    "is",
    "a",
    "of",
    "in",
    "and",
    "to",
    "dog",
    "park",
]


@pytest.fixture(autouse=True)
def isolated_dirs(tmp_path_factory, monkeypatch, request):
    """Keep every test away from the user's models, data and config; its cache starts with the readers' ONNX
    exports the tests before it made (unless marked ``cold_onnx_cache``), as a user's does from the second start."""
    root = tmp_path_factory.mktemp("home")
    monkeypatch.setenv("ASSISTANT_MODELS_DIR", str(root / "models"))
    monkeypatch.setenv("ASSISTANT_DATA_DIR", str(root / "data"))
    monkeypatch.setenv("ASSISTANT_CONFIG_DIR", str(root / "config"))
    monkeypatch.delenv("ASSISTANT_MODEL", raising=False)
    monkeypatch.delenv("ASSISTANT_CACHE_DIR", raising=False)
    from assistant.tui import file_dialogs

    monkeypatch.setattr(file_dialogs, "LAST_FOLDER", None)  # the folder picked last is one session's memory
    warm = request.node.get_closest_marker("cold_onnx_cache") is None
    exports = tmp_path_factory.getbasetemp() / "onnx-exports"
    if warm:
        onnx_exports.lend(exports, root / "data" / "cache")
    yield root
    if warm:
        onnx_exports.keep(root / "data" / "cache", exports)


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory) -> Path:
    return save_tiny_model(tmp_path_factory.mktemp("tiny") / "model", WORDS)


@pytest.fixture(scope="session")
def tiny_trained_run(tmp_path_factory):
    """A tiny reader trained until it has learnt the synthetic task (12 epochs, with its int8 ONNX file), shared by
    the tests that read a trained run: training it is the suite's costliest step, once is enough. Its vocabulary
    has the words of the synthetic document too, so that learning from annotations can fine-tune it."""
    from assistant.runs.config import TrainConfig
    from tests.synthetic import DOCUMENT_VOCAB, make_examples, write_jsonl
    from trainer.train import run_training

    root = tmp_path_factory.mktemp("trained")
    base = save_tiny_model(root / "base", DOCUMENT_VOCAB, dim=64, layers=2, heads=4, max_positions=128)
    config = TrainConfig(
        base_model=str(base),
        data=str(write_jsonl(root / "train.jsonl", make_examples(600, seed=0))),
        eval_data=str(write_jsonl(root / "test.jsonl", make_examples(200, seed=1))),
        output=str(root / "runs" / "tiny-run"),
        epochs=12,
        learning_rate=1e-3,  # shuffled as the plain recipe; 2e-3 overshoots (EM 81 at epoch 12)
        batch_size=16,
        max_length=64,
        stride=16,
        warmup_ratio=0.05,
        sanity_steps=40,
        export_int8=True,
    )
    events: list = []
    return run_training(config, events.append), events


@pytest.fixture
def squad_sample() -> Path:
    if not SHARED_SQUAD.exists():
        pytest.skip("../shared/data/squad2-dev-sample.json is not present")
    return SHARED_SQUAD


@pytest.fixture
def doc(request, tmp_path) -> Path:
    """A document the user opens: the requesting test module's ``TEXT``, written to ``tmp_path / "notes.txt"``."""
    p = tmp_path / "notes.txt"
    p.write_text(request.module.TEXT, encoding="utf-8")
    return p
