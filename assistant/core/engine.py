"""The document QA engine: index a document once, then answer many questions about it.

Short documents are read whole; long ones are split into passages, ranked with BM25, and only the
best few are read. Every answer is an exact slice of the document with its line and sentence.
"""

from __future__ import annotations

import time
from bisect import bisect_right
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

from assistant.core.decoding import DecodeSettings, decode
from assistant.core.documents import Document
from assistant.core.passages import Passage, SentenceIndex, paragraph_spans, split_passages
from assistant.core.reader import Context, Reader
from assistant.core.retrieval import ContextualRetriever

ProgressCallback = Callable[[str, float], None]


@dataclass(frozen=True)
class EngineSettings:
    passage_words: int = 40
    """Largest passage, in words; passages keep whole sentences of one paragraph."""
    read_words: int = 490
    """Words read per question in a long document (about five SQuAD paragraphs); shorter ones are read whole."""
    paragraph_weight: float = 1.0
    """Weight of the enclosing paragraph's BM25 score when ranking passages (0 = plain BM25)."""
    decode: DecodeSettings = field(default_factory=DecodeSettings)


@dataclass(frozen=True)
class Answer:
    text: str
    start: int
    end: int
    score: float
    """Calibrated confidence in [0, 1], comparable across windows and documents."""
    raw_score: float
    line: int
    context: str
    context_start: int

    def to_json(self) -> dict[str, Any]:
        return {
            "text": self.text,
            "start": self.start,
            "end": self.end,
            "score": round(self.score, 4),
            "raw_score": round(self.raw_score, 4),
            "line": self.line,
            "context": self.context,
            "context_start": self.context_start,
        }

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> Answer:
        """The inverse of :meth:`to_json`; optional keys missing from older output get defaults.

        ``text`` and ``start`` are required; ``end`` defaults to ``start + len(text)``, ``raw_score`` to
        ``score``, ``context`` to the answer text and ``context_start`` to ``start``.
        """
        text = str(d["text"])
        start = int(d["start"])
        score = float(d.get("score", 0.0))
        return cls(
            text=text,
            start=start,
            end=int(d.get("end", start + len(text))),
            score=score,
            raw_score=float(d.get("raw_score", score)),
            line=int(d.get("line", 1)),
            context=str(d.get("context", text)),
            context_start=int(d.get("context_start", start)),
        )


@dataclass(frozen=True)
class ReadSpan:
    start: int
    end: int
    score: float


@dataclass
class AskResult:
    question: str
    answers: list[Answer]
    passages: list[ReadSpan]
    timings: dict[str, float]
    no_answer_reason: str | None = None

    @property
    def best(self) -> Answer | None:
        return self.answers[0] if self.answers else None

    def to_json(self) -> dict[str, Any]:
        return {
            "question": self.question,
            "answers": [a.to_json() for a in self.answers],
            "passages": [{"start": p.start, "end": p.end, "score": round(p.score, 4)} for p in self.passages],
            "timings": {k: round(v, 2) for k, v in self.timings.items()},
            "no_answer_reason": self.no_answer_reason,
        }

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> AskResult:
        """The inverse of :meth:`to_json`; missing keys get empty defaults."""
        reason = d.get("no_answer_reason")
        return cls(
            question=str(d.get("question", "")),
            answers=[Answer.from_json(a) for a in d.get("answers") or []],
            passages=[
                ReadSpan(int(p["start"]), int(p["end"]), float(p.get("score", 0.0))) for p in d.get("passages") or []
            ],
            timings={str(k): float(v) for k, v in (d.get("timings") or {}).items()},
            no_answer_reason=None if reason is None else str(reason),
        )


@dataclass
class IndexedDocument:
    document: Document
    passages: list[Passage]
    retriever: ContextualRetriever | None
    sentences: SentenceIndex
    words: int
    index_ms: float
    passage_words: list[int]

    @property
    def read_whole(self) -> bool:
        return self.retriever is None

    def select(self, question: str, read_words: int) -> list[ReadSpan]:
        """The best passages that fit in ``read_words``, in document order, adjacent ones merged."""
        text = self.document.text
        if self.retriever is None:
            return [ReadSpan(p.start, p.end, 0.0) for p in self.passages]
        order, scores = self.retriever.ranked(question)
        picked: list[tuple[int, float]] = []
        total = 0
        for idx in order.tolist():
            n = self.passage_words[idx]
            if picked and total + n > read_words:
                break
            picked.append((idx, float(scores[idx])))
            total += n
        chosen = sorted(picked, key=lambda item: self.passages[item[0]].start)
        spans: list[ReadSpan] = []
        for idx, score in chosen:
            p = self.passages[idx]
            if spans and not text[spans[-1].end : p.start].strip() and "\n\n" not in text[spans[-1].end : p.start]:
                last = spans.pop()
                spans.append(ReadSpan(last.start, p.end, max(last.score, score)))
            else:
                spans.append(ReadSpan(p.start, p.end, score))
        return spans


def index_document(
    document: Document, settings: EngineSettings | None = None, progress: ProgressCallback | None = None
) -> IndexedDocument:
    """Split and (for long documents) BM25-index a document; no model needed."""
    settings = settings or EngineSettings()
    t0 = time.perf_counter()
    if progress:
        progress("splitting", 0.0)
    passages = split_passages(document.text, settings.passage_words)
    passage_words = [len(p.text.split()) for p in passages]
    words = sum(passage_words)
    retriever = None
    if words > settings.read_words:
        if progress:
            progress("indexing", 0.4)
        paragraphs = paragraph_spans(document.text)
        starts = [para.start for para in paragraphs]
        owner = [bisect_right(starts, p.start) - 1 for p in passages]
        retriever = ContextualRetriever(
            [p.text for p in passages],
            [document.text[para.start : para.end] for para in paragraphs],
            owner,
            settings.paragraph_weight,
        )
    if progress:
        progress("sentences", 0.8)
    sentences = SentenceIndex(document.text)
    if progress:
        progress("done", 1.0)
    elapsed = (time.perf_counter() - t0) * 1000
    return IndexedDocument(document, passages, retriever, sentences, words, elapsed, passage_words)


class QAEngine:
    """A reader plus the settings that turn documents and questions into answers; thread-safe."""

    def __init__(self, reader: Reader, settings: EngineSettings | None = None, load_model_ms: float = 0.0) -> None:
        self.reader = reader
        self.settings = settings or EngineSettings()
        self.load_model_ms = load_model_ms

    def with_settings(self, **changes: Any) -> QAEngine:
        return QAEngine(self.reader, replace(self.settings, **changes), self.load_model_ms)

    def index(self, document: Document, progress: ProgressCallback | None = None) -> IndexedDocument:
        return index_document(document, self.settings, progress)

    def _pack(self, question: str, text: str, spans: list[ReadSpan]) -> list[Context]:
        """Group the spans read, in document order, into as few windows as fit: one question per window."""
        budget = self.reader.context_token_budget(question)
        lengths = self.reader.token_lengths([text[s.start : s.end] for s in spans])
        groups: list[list[ReadSpan]] = []
        used = 0
        for span, n in zip(spans, lengths, strict=True):
            if groups and used + n <= budget:
                groups[-1].append(span)
                used += n
            else:
                groups.append([span])
                used = n
        return [Context.packed(text, [(s.start, s.end) for s in group]) for group in groups]

    def ask(self, indexed: IndexedDocument, question: str, top_k: int | None = None) -> AskResult:
        t0 = time.perf_counter()
        spans = indexed.select(question, self.settings.read_words)
        text = indexed.document.text
        contexts = self._pack(question, text, spans)
        windows = self.reader.read([(question, contexts)])[0]
        decode_settings = self.settings.decode
        if top_k is not None:
            decode_settings = replace(decode_settings, top_k=top_k)
        decoded = decode(windows, text, decode_settings)
        answers = []
        for cand in decoded.answers:
            sentence = indexed.sentences.around(cand.start, cand.end)
            answers.append(
                Answer(
                    text=text[cand.start : cand.end],
                    start=cand.start,
                    end=cand.end,
                    score=cand.confidence,
                    raw_score=cand.score,
                    line=indexed.document.line_of(cand.start),
                    context=text[sentence.start : sentence.end],
                    context_start=sentence.start,
                )
            )
        reason = None
        if not answers:
            reason = (
                "the model judged the question unanswerable" if decoded.null_won else "no answer above the threshold"
            )
        timings = {
            "load_model_ms": self.load_model_ms,
            "index_ms": indexed.index_ms,
            "answer_ms": (time.perf_counter() - t0) * 1000,
        }
        return AskResult(question.strip(), answers, spans, timings, reason)
