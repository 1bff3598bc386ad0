"""Full-size reader models with random weights, built locally: benchmarks measure speed without the hub."""

from __future__ import annotations

from pathlib import Path


def random_distilbert(directory: Path, text: str) -> Path:
    """A full-size DistilBERT reader with random weights and a vocabulary from ``text``: timing without the hub."""
    from transformers import DistilBertConfig, DistilBertForQuestionAnswering, DistilBertTokenizer

    words = sorted({w.strip(".,;:!?\"'()").lower() for w in text.split()} - {""})
    specials = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
    chars = [chr(c) for c in range(33, 127)]
    vocab: dict[str, int] = {}
    for tok in specials + chars + [f"##{c}" for c in chars] + words:
        vocab.setdefault(tok, len(vocab))
    config = DistilBertConfig()
    for i in range(len(vocab), config.vocab_size):
        vocab[f"[unused{i}]"] = i
    tokenizer = DistilBertTokenizer(vocab=dict(list(vocab.items())[: config.vocab_size]))
    model = DistilBertForQuestionAnswering(config)
    model.save_pretrained(directory)
    tokenizer.save_pretrained(directory)
    return directory
