"""Packing passages into windows (`QAEngine._pack`) and batching windows (`Reader._forward`)."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
import torch

from assistant.core.engine import EngineSettings, QAEngine, ReadSpan
from assistant.core.model_loading import load_reader
from assistant.core.reader import Reader, WindowSettings

QUESTION = "where did the cat sit?"


@pytest.fixture(scope="module")
def reader(tiny_model_dir) -> Reader:
    return load_reader(str(tiny_model_dir), device="cpu", window=WindowSettings(max_length=64, max_question_tokens=16))


def with_window(reader: Reader, **changes) -> Reader:
    return Reader(reader.model, reader.tokenizer, reader.device, window=replace(reader.window, **changes))


# --- packing spans into windows ------------------------------------------------------------------------------


def document_and_spans(sizes: list[int], apart: bool = True) -> tuple[str, list[ReadSpan]]:
    """Paragraphs of ``n`` words each (one token per word in the tiny vocabulary) and a span per paragraph.

    ``apart``: a line that is not read separates the spans, so each stays its own piece of a window;
    otherwise they are sentences of one paragraph.
    """
    words = ["the", "cat", "sat", "on", "mat", "dog", "park"]
    paragraphs = [" ".join(words[(i + j) % len(words)] for j in range(n)) for i, n in enumerate(sizes)]
    separator = "\n\n.\n\n" if apart else " "  # apart: text between spans that is not read
    text = separator.join(paragraphs)
    spans, pos = [], 0
    for paragraph in paragraphs:
        spans.append(ReadSpan(pos, pos + len(paragraph), 0.0))
        pos += len(paragraph) + len(separator)
    return text, spans


def fewest_windows(lengths: list[int], budget: int) -> int:
    """The least number of windows for spans kept in order, none over budget (a long span alone)."""
    best = [0] + [len(lengths) + 1] * len(lengths)
    for end in range(1, len(lengths) + 1):
        for start in range(end):
            group = lengths[start:end]
            if sum(group) <= budget or len(group) == 1:
                best[end] = min(best[end], best[start] + 1)
    return best[-1]


@pytest.mark.parametrize(
    "sizes",
    [
        [5, 5, 5],
        [26, 27],
        [25, 25, 25, 25],
        [30, 10, 5, 40, 2, 2, 2, 33],
        [53],
        [52, 1, 1],
        [1] * 60,
        [12, 33, 12, 33, 12],
    ],
    ids=[
        "all-in-one",
        "fill-exactly",
        "two-per-window",
        "mixed",
        "exactly-full",
        "full-then-over",
        "many-tiny",
        "alternating",
    ],
)
def test_spans_pack_into_the_fewest_windows_in_order_within_budget(reader, sizes):
    engine = QAEngine(reader)
    text, spans = document_and_spans(sizes)
    budget = reader.context_token_budget(QUESTION)
    lengths = reader.token_lengths([text[s.start : s.end] for s in spans])
    assert lengths == sizes and budget == 53, "one token per word; 64 - 8 question tokens - 3 special tokens"
    contexts = engine._pack(QUESTION, text, spans)
    assert len(contexts) == fewest_windows(lengths, budget)
    pieces = [doc_start for ctx in contexts for _, doc_start in ctx.pieces]
    assert pieces == [s.start for s in spans], "every span once, in document order"
    remaining = iter(spans)
    for ctx in contexts:
        assert len(reader.tokenizer(ctx.text, add_special_tokens=False)["input_ids"]) <= budget
        assert len(reader.tokenize([QUESTION], [ctx.text])["input_ids"]) == 1, "one window, not cut in two"
        for local, _ in ctx.pieces:
            span = next(remaining)
            assert ctx.text[local : local + span.end - span.start] == text[span.start : span.end]


def test_a_span_longer_than_the_budget_gets_a_window_of_its_own(reader):
    engine = QAEngine(reader)
    text, spans = document_and_spans([3, 100, 3])
    contexts = engine._pack(QUESTION, text, spans)
    assert [len(ctx.pieces) for ctx in contexts] == [1, 1, 1]
    windows = reader.read([(QUESTION, contexts)])[0]
    assert len(windows) > 3, "the long span is read in several sliding windows"


def test_nothing_to_pack(reader):
    from assistant.core.documents import Document

    engine = QAEngine(reader)
    assert engine._pack(QUESTION, "", []) == []
    result = engine.ask(engine.index(Document.from_text(" \n\n ")), QUESTION)
    assert result.answers == [] and result.passages == [] and result.no_answer_reason


def test_ask_reads_packed_windows(reader, monkeypatch):
    from assistant.core.documents import Document

    engine = QAEngine(reader, EngineSettings(read_windows=100))
    text, _ = document_and_spans([5, 5, 5, 5], apart=False)
    indexed = engine.index(Document.from_text(text))
    calls = []
    original = reader.read

    def spy(items):
        calls.append([len(ctx.pieces) for ctx in items[0][1]])
        return original(items)

    monkeypatch.setattr(reader, "read", spy)
    engine.ask(indexed, QUESTION)
    assert calls == [[1]], "four sentences of a paragraph are one context in one window"


# --- batching windows through the model ----------------------------------------------------------------------


class Recorder(torch.nn.Module):
    """Wraps the model and records the real (unpadded) lengths of the rows of every batch."""

    def __init__(self, model: torch.nn.Module) -> None:
        super().__init__()
        self.inner = model
        self.config = model.config
        self.batches: list[list[int]] = []
        self.padded: list[tuple[int, int]] = []

    def forward(self, **inputs):
        self.batches.append(inputs["attention_mask"].sum(dim=1).tolist())
        self.padded.append(tuple(inputs["input_ids"].shape))
        return self.inner(**inputs)


def random_ids(reader: Reader, lengths: list[int], seed: int = 0) -> list[list[int]]:
    rng = np.random.default_rng(seed)
    return [rng.integers(5, len(reader.tokenizer), size=n).tolist() for n in lengths]


def forward(reader: Reader, lengths: list[int], **window) -> tuple[Recorder, list[tuple[np.ndarray, np.ndarray]]]:
    batched = with_window(reader, **window)
    recorder = Recorder(reader.model)
    batched.model = recorder
    return recorder, batched._forward(random_ids(reader, lengths), None)


def test_batches_stay_within_the_token_budget(reader):
    recorder, out = forward(reader, [30] * 7, batch_tokens=100, min_fill=0.0)
    assert recorder.batches == [[30, 30, 30], [30, 30, 30], [30]]
    assert all(rows * longest <= 100 for rows, longest in recorder.padded)
    assert len(out) == 7


def test_a_window_longer_than_the_budget_is_a_batch_alone(reader):
    recorder, _ = forward(reader, [60, 50, 10], batch_tokens=40, min_fill=0.0)
    assert recorder.batches == [[60], [50], [10]]


def test_a_short_window_starts_a_new_batch(reader):
    # 20 < 0.8 * 40: it would be mostly padding next to the 40-token window
    recorder, _ = forward(reader, [20, 40, 19, 39, 38], batch_tokens=10_000, min_fill=0.8)
    assert recorder.batches == [[40, 39, 38], [20, 19]]
    recorder, _ = forward(reader, [20, 40, 19, 39, 38], batch_tokens=10_000, min_fill=0.0)
    assert recorder.batches == [[40, 39, 38, 20, 19]]


def test_outputs_in_input_order_and_equal_to_unbatched_logits(reader):
    lengths = [12, 40, 25, 39, 7, 33, 40, 18]
    ids = random_ids(reader, lengths, seed=3)
    batched = with_window(reader, batch_tokens=120, min_fill=0.5)
    out = batched._forward(ids, None)
    assert [len(start) for start, _ in out] == lengths
    with torch.inference_mode():
        for seq, (start, end) in zip(ids, out, strict=True):
            alone = reader.model(
                input_ids=torch.tensor([seq]), attention_mask=torch.ones(1, len(seq), dtype=torch.long)
            )
            np.testing.assert_allclose(start, alone.start_logits[0].numpy(), atol=1e-5)
            np.testing.assert_allclose(end, alone.end_logits[0].numpy(), atol=1e-5)


def test_contiguous_spans_in_one_window_become_one_piece(reader):
    engine = QAEngine(reader)
    text, spans = document_and_spans([5, 5, 5], apart=False)
    contexts = engine._pack(QUESTION, text, spans)
    assert len(contexts) == 1 and [doc for _, doc in contexts[0].pieces] == [0]
    assert contexts[0].text == text, "read as the document has it, so a span may cross the seams"


def test_packing_drops_the_lowest_ranked_span_to_keep_the_window_count(reader):
    engine = QAEngine(reader)
    text, spans = document_and_spans([30, 30, 30])
    ranked = [ReadSpan(s.start, s.end, score) for s, score in zip(spans, [0.9, 0.1, 0.5], strict=True)]
    contexts = engine._pack(QUESTION, text, ranked, max_windows=1)
    assert len(contexts) == 1
    assert [doc for _, doc in contexts[0].pieces] == [spans[0].start], "the best span is kept"
    two = engine._pack(QUESTION, text, ranked, max_windows=2)
    assert sorted(doc for ctx in two for _, doc in ctx.pieces) == [spans[0].start, spans[2].start]
