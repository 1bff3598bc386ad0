"""Tiny models and tokenizers built in the tests: random weights, local vocabulary, no downloads."""

from __future__ import annotations

import string
from collections.abc import Iterable
from pathlib import Path

import pytest
import torch
from transformers import DistilBertConfig, DistilBertForQuestionAnswering, DistilBertTokenizer

SPECIALS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]


def build_tokenizer(words: Iterable[str] = ()) -> DistilBertTokenizer:
    """A WordPiece tokenizer whose vocabulary is the given words plus every ASCII character."""
    chars = list(string.ascii_lowercase + string.digits + string.punctuation)
    vocab_list = SPECIALS + sorted({w.lower() for w in words} - set(SPECIALS)) + chars + [f"##{c}" for c in chars]
    vocab: dict[str, int] = {}
    for token in vocab_list:
        vocab.setdefault(token, len(vocab))
    return DistilBertTokenizer(vocab=vocab)


def build_model(
    vocab_size: int,
    dim: int = 32,
    layers: int = 2,
    heads: int = 2,
    max_positions: int = 512,
    seed: int = 0,
    dropout: float = 0.1,
) -> DistilBertForQuestionAnswering:
    torch.manual_seed(seed)
    config = DistilBertConfig(
        vocab_size=vocab_size,
        dim=dim,
        n_layers=layers,
        n_heads=heads,
        hidden_dim=dim * 4,
        max_position_embeddings=max_positions,
        dropout=dropout,
        attention_dropout=dropout,
        qa_dropout=dropout,
    )
    return DistilBertForQuestionAnswering(config)


def save_tiny_model(directory: Path, words: Iterable[str] = (), seed: int = 0, **model_kwargs) -> Path:
    """Write a loadable model directory (safetensors + tokenizer) and return it."""
    tokenizer = build_tokenizer(words)
    model = build_model(len(tokenizer), seed=seed, **model_kwargs)
    directory.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(directory)
    tokenizer.save_pretrained(directory)
    return directory


TRAINED_RUN_GROUP = pytest.mark.xdist_group("tiny_trained_run")
"""The tests that read conftest's ``tiny_trained_run`` run in one worker process (``--dist loadgroup``), so that it
is trained once."""
