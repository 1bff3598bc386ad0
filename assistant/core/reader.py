"""Run an extractive QA model over (question, context) pairs in sliding windows, never truncating.

The reader tokenizes and batches; an :class:`~assistant.core.backends.InferenceBackend` (ONNX Runtime or
torch) turns each padded batch into logits. This module imports neither torch nor transformers.
"""

from __future__ import annotations

import threading
from bisect import bisect_right
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from assistant.core.backends import InferenceBackend, TorchBackend
from assistant.core.decoding import WindowLogits
from assistant.core.errors import UserError
from assistant.core.limits import MAX_QUESTION_CHARS


@dataclass(frozen=True)
class Context:
    """Text to read and where its characters sit in the document.

    A packed context joins several passages into one window (the question is then paid for once, not
    once per passage): ``pieces`` holds ``(start in text, start in document)`` for each passage, and a
    span may not cross from one piece into another.
    """

    text: str
    base: int = 0
    pieces: tuple[tuple[int, int], ...] = ()

    @classmethod
    def packed(cls, document_text: str, spans: Sequence[tuple[int, int]], separator: str = "\n\n") -> Context:
        parts: list[str] = []
        pieces: list[tuple[int, int]] = []
        pos = 0
        for start, end in spans:
            if parts:
                parts.append(separator)
                pos += len(separator)
            pieces.append((pos, start))
            parts.append(document_text[start:end])
            pos += end - start
        return cls("".join(parts), 0, tuple(pieces))

    def to_document(self, offsets: Sequence[tuple[int, int] | None]) -> tuple[list[tuple[int, int] | None], list[int]]:
        """Map token offsets in ``text`` to document offsets, and the piece each token belongs to."""
        if not self.pieces:
            return [None if o is None else (o[0] + self.base, o[1] + self.base) for o in offsets], [0] * len(offsets)
        starts = [p[0] for p in self.pieces]
        mapped: list[tuple[int, int] | None] = []
        segments: list[int] = []
        for o in offsets:
            if o is None:
                mapped.append(None)
                segments.append(-1)
                continue
            k = max(0, bisect_right(starts, o[0]) - 1)
            delta = self.pieces[k][1] - self.pieces[k][0]
            mapped.append((o[0] + delta, o[1] + delta))
            segments.append(k)
        return mapped, segments


@dataclass(frozen=True)
class WindowSettings:
    max_length: int = 384
    stride: int = 128
    """Tokens shared by consecutive windows (Hugging Face's ``doc_stride``)."""
    max_question_tokens: int = 64
    batch_tokens: int = 4096
    """Windows are batched up to this many (padded) tokens per forward pass."""
    min_fill: float = 0.8
    """A window shorter than this fraction of its batch's longest starts a new batch (less padding)."""


def effective_stride(window: WindowSettings) -> int:
    """The stride that leaves room in every window next to a question of the longest allowed length."""
    room = window.max_length - window.max_question_tokens - 3
    if room < 2:
        raise UserError("The window length is too short for the question length; raise --max-length.")
    return min(window.stride, room // 2)


def truncate_question(tokenizer: Any, question: str, max_tokens: int) -> str:
    """Keep at most ``max_tokens`` tokens so every window has room for context."""
    question = question.strip()[:MAX_QUESTION_CHARS]  # never tokenize megabytes to keep 64 tokens
    if not question:
        raise UserError("The question is empty.")
    offsets = tokenizer(question, add_special_tokens=False, return_offsets_mapping=True)["offset_mapping"]
    if len(offsets) > max_tokens:
        question = question[: offsets[max_tokens - 1][1]]
    return question


def tokenize_windows(tokenizer: Any, questions: Sequence[str], contexts: Sequence[str], window: WindowSettings) -> Any:
    """Windows of every (question, context) pair with offsets: the one tokenization for chat, training and eval."""
    return tokenizer(
        list(questions),
        list(contexts),
        truncation="only_second",
        max_length=window.max_length,
        stride=effective_stride(window),
        return_overflowing_tokens=True,
        return_offsets_mapping=True,
        padding=False,
    )


class Reader:
    """A question-answering backend and its tokenizer; thread-safe (one forward pass at a time).

    ``backend`` is an :class:`InferenceBackend`; a torch model is accepted too and runs on ``device`` (the
    trainer evaluates its model in place). ``tokenizer`` is a Hugging Face fast tokenizer or a
    :class:`~assistant.core.tokenizer.JsonTokenizer`: the reader calls both the same way.
    """

    def __init__(
        self,
        backend: InferenceBackend | Any,
        tokenizer: Any,
        device: Any = None,
        name: str = "",
        window: WindowSettings | None = None,
    ) -> None:
        self.backend: InferenceBackend = (
            backend if isinstance(backend, InferenceBackend) else TorchBackend(backend, device)
        )
        self.tokenizer = tokenizer
        self.name = name
        self.window = window or WindowSettings()
        limit = self.backend.max_positions or self.window.max_length
        if self.window.max_length > limit:
            self.window = replace(
                self.window,
                max_length=limit,
                stride=min(self.window.stride, limit // 4),
                max_question_tokens=min(self.window.max_question_tokens, limit // 4),
            )
        self._lock = threading.Lock()

    @property
    def model(self) -> Any:
        """The torch model of a torch backend (benchmarks, tests); an ONNX backend has none."""
        if not isinstance(self.backend, TorchBackend):
            raise AttributeError(f"a {self.backend.kind} reader has no torch model")
        return self.backend.model

    @model.setter
    def model(self, model: Any) -> None:
        if not isinstance(self.backend, TorchBackend):
            raise AttributeError(f"a {self.backend.kind} reader has no torch model")
        self.backend.model = model

    @property
    def device(self) -> Any:
        """Where the model runs: a ``torch.device`` for a torch backend, ``"cpu"`` for ONNX Runtime."""
        return self.backend.device if isinstance(self.backend, TorchBackend) else "cpu"

    def truncate_question(self, question: str) -> str:
        return truncate_question(self.tokenizer, question, self.window.max_question_tokens)

    def tokenize(self, questions: Sequence[str], contexts: Sequence[str]) -> Any:
        """The tokenizer's encoding of every window (see :func:`tokenize_windows`)."""
        return tokenize_windows(self.tokenizer, questions, contexts, self.window)

    def read(self, items: Sequence[tuple[str, Sequence[Context]]]) -> list[list[WindowLogits]]:
        """Logits of every window of every context for each (question, contexts) item."""
        questions: list[str] = []
        texts: list[str] = []
        owners: list[tuple[int, Context]] = []
        for item_idx, (question, contexts) in enumerate(items):
            q = self.truncate_question(question)
            for ctx in contexts:
                if ctx.text.strip():
                    questions.append(q)
                    texts.append(ctx.text)
                    owners.append((item_idx, ctx))
        results: list[list[WindowLogits]] = [[] for _ in items]
        if not texts:
            return results
        enc = self.tokenize(questions, texts)
        input_ids: list[list[int]] = enc["input_ids"]
        mapping: list[int] = enc["overflow_to_sample_mapping"]
        type_ids: list[list[int]] | None = enc.get("token_type_ids") if self.backend.uses_token_types else None
        logits = self._forward(input_ids, type_ids)
        for w, (start, end) in enumerate(logits):
            item_idx, ctx = owners[mapping[w]]
            seq = enc.sequence_ids(w)
            local = [tuple(o) if s == 1 else None for o, s in zip(enc["offset_mapping"][w], seq, strict=True)]
            offsets, segments = ctx.to_document(local)
            words = [wid if s == 1 else None for wid, s in zip(enc.word_ids(w), seq, strict=True)]
            results[item_idx].append(WindowLogits(start, end, offsets, cls_index=0, segments=segments, words=words))
        return results

    def context_token_budget(self, question: str) -> int:
        """Context tokens that fit in one window next to this question."""
        q = len(self.tokenizer(self.truncate_question(question), add_special_tokens=False)["input_ids"])
        return self.window.max_length - q - 3

    def token_lengths(self, texts: Sequence[str]) -> list[int]:
        """Tokens in each text, without special tokens (fast tokenizers refuse an empty batch)."""
        if not texts:
            return []
        count = getattr(self.tokenizer, "count_tokens", None)  # JsonTokenizer's, without offsets
        if count is not None:
            lengths: list[int] = count(texts)
            return lengths
        return [len(ids) for ids in self.tokenizer(list(texts), add_special_tokens=False)["input_ids"]]

    def _batches(self, lengths: list[int]) -> list[list[int]]:
        """Window indices grouped longest first, within ``batch_tokens`` and without much padding."""
        order = sorted(range(len(lengths)), key=lambda i: lengths[i], reverse=True)
        batches: list[list[int]] = []
        pos = 0
        while pos < len(order):
            longest = lengths[order[pos]]
            size = max(1, self.window.batch_tokens // max(1, longest))
            batch = [order[pos]]
            for i in order[pos + 1 : pos + size]:
                if lengths[i] < self.window.min_fill * longest:
                    break
                batch.append(i)
            pos += len(batch)
            batches.append(batch)
        return batches

    def _forward(
        self, input_ids: list[list[int]], type_ids: list[list[int]] | None
    ) -> list[tuple[np.ndarray, np.ndarray]]:
        out: list[tuple[np.ndarray, np.ndarray] | None] = [None] * len(input_ids)
        pad_id = getattr(self.tokenizer, "pad_token_id", None) or 0
        with self._lock:
            for batch in self._batches([len(seq) for seq in input_ids]):
                longest = len(input_ids[batch[0]])
                ids = np.full((len(batch), longest), pad_id, dtype=np.int64)
                mask = np.zeros((len(batch), longest), dtype=np.int64)
                types = np.zeros((len(batch), longest), dtype=np.int64) if type_ids is not None else None
                for row, i in enumerate(batch):
                    n = len(input_ids[i])
                    ids[row, :n] = input_ids[i]
                    mask[row, :n] = 1
                    if types is not None and type_ids is not None:
                        types[row, :n] = type_ids[i]
                starts, ends = self.backend.logits(ids, mask, types)
                for row, i in enumerate(batch):
                    n = len(input_ids[i])
                    out[i] = (starts[row, :n], ends[row, :n])
        return [o for o in out if o is not None]  # every slot is filled above
