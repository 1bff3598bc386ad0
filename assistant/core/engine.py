"""The document QA engine: index a document once, then answer many questions about it.

Short documents are read whole; long ones are split into passages, ranked with BM25, and only the
best few are read. Every answer is an exact slice of the document with its line and sentence.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from assistant.core.bm25 import NothingToIndex, count_terms
from assistant.core.decoding import DecodeSettings, decode
from assistant.core.documents import Document, Place
from assistant.core.index_cache import IndexParts, cache_key, load_index, save_index
from assistant.core.limits import READ_WINDOWS
from assistant.core.passages import Passage, SentenceIndex, spans_of
from assistant.core.reader import Context, Reader
from assistant.core.retrieval import ContextualRetriever
from assistant.core.splitting import split_text

ProgressCallback = Callable[[str, float], None]


@dataclass(frozen=True)
class EngineSettings:
    passage_words: int = 40
    """Largest passage, in words; passages keep whole sentences of one paragraph."""
    read_windows: float = READ_WINDOWS
    """Windows of context read per question: the best passages up to that many windows' worth of tokens
    (what the model pays for). A document that fits is read whole. See README for the recall curve."""
    paragraph_weight: float = 1.0
    """Weight of the enclosing paragraph's BM25 score when ranking passages (0 = plain BM25)."""
    decode: DecodeSettings = field(default_factory=DecodeSettings)


@dataclass(frozen=True)
class Answer:
    """One answer: ``start``/``end`` index its file's text (what ``assistant text FILE`` prints); the opened
    document's ``span(path, start, end)`` says where that is in a folder's text."""

    text: str
    start: int
    end: int
    score: float
    """Calibrated confidence in [0, 1], comparable across windows and documents."""
    raw_score: float
    line: int
    """The line in its file's extracted text."""
    context: str
    context_start: int
    path: str = ""
    """The file it came from: its name, or its path inside the folder that was opened."""
    page: int | None = None
    """1-based, for a PDF; None elsewhere."""
    section: str | None = None
    """The heading path it is under ("Install › On Linux"), where the format has headings."""

    def to_json(self) -> dict[str, Any]:
        return {
            "text": self.text,
            "start": self.start,
            "end": self.end,
            "score": round(self.score, 4),
            "raw_score": round(self.raw_score, 4),
            "line": self.line,
            "end_line": self.end_line,
            "context": self.context,
            "context_start": self.context_start,
            "path": self.path,
            "page": self.page,
            "section": self.section,
        }

    @property
    def end_line(self) -> int:
        """The line it ends on: its text is the file's own, newlines included."""
        return self.line + self.text.count("\n")

    @property
    def where(self) -> str:
        """Its place in its file: ``page 3`` for a PDF, ``line 12`` elsewhere (``lines 12–13`` for an answer that goes
        on to the next line)."""
        if self.page is not None:
            return f"page {self.page}"
        return f"lines {self.line}–{self.end_line}" if self.end_line > self.line else f"line {self.line}"

    @property
    def source(self) -> str:
        """Where it is, as a person cites it: ``file · page 3``, ``file · line 12`` (an answer saved before answers
        knew their file: ``line 12``)."""
        return f"{self.path} · {self.where}" if self.path else self.where

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
            path=str(d.get("path") or ""),
            page=None if d.get("page") is None else int(d["page"]),
            section=None if d.get("section") is None else str(d["section"]),
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
    windows_run: int = 0
    """Model windows (forward-pass rows) this answer cost."""
    passage_places: list[Place] = field(default_factory=list)
    """Where each passage read came from (file, page, section), in the order of ``passages``."""

    @property
    def best(self) -> Answer | None:
        return self.answers[0] if self.answers else None

    def to_json(self) -> dict[str, Any]:
        return {
            "question": self.question,
            "answers": [a.to_json() for a in self.answers],
            "passages": [self._passage_json(i, p) for i, p in enumerate(self.passages)],
            "timings": {k: round(v, 2) for k, v in self.timings.items()},
            "no_answer_reason": self.no_answer_reason,
            "windows_run": self.windows_run,
        }

    def _passage_json(self, index: int, span: ReadSpan) -> dict[str, Any]:
        record: dict[str, Any] = {"start": span.start, "end": span.end, "score": round(span.score, 4)}
        if index < len(self.passage_places):
            place = self.passage_places[index]
            record.update(start=place.start, end=place.end, path=place.path, page=place.page, section=place.section)
            record["line"] = place.line
        return record

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
            windows_run=int(d.get("windows_run") or 0),
            passage_places=[_place_from_json(p) for p in d.get("passages") or [] if "path" in p],
        )


def _place_from_json(d: dict[str, Any]) -> Place:
    page, section = d.get("page"), d.get("section")
    return Place(
        str(d["path"]),
        None if page is None else int(page),
        None if section is None else str(section),
        int(d.get("line") or 1),
        int(d["start"]),
        int(d["end"]),
    )


TokenCounter = Callable[[list[str]], list[int]]


@dataclass
class IndexedDocument:
    document: Document
    passages: Sequence[Passage]
    retriever: ContextualRetriever | None
    sentences: SentenceIndex
    words: int
    index_ms: float
    passage_words: list[int]
    passage_tokens: dict[int, int] = field(default_factory=dict)
    """Tokens of the passages counted so far, for the reader's tokenizer (counted when first ranked)."""

    @property
    def read_whole(self) -> bool:
        return self.retriever is None

    def _tokens(self, indices: Sequence[int], count: TokenCounter) -> list[int]:
        """Token counts of some passages, counting only those not counted before (a cold ask pays for few)."""
        missing = [i for i in indices if i not in self.passage_tokens]
        if missing:
            self.passage_tokens.update(zip(missing, count([self.passages[i].text for i in missing]), strict=True))
        return [self.passage_tokens[i] for i in indices]

    def _fits(self, budget_tokens: int, count: TokenCounter) -> bool:
        """Every word is at least one token, so a document with more words than the budget cannot fit."""
        if self.words > budget_tokens:
            return False
        return sum(self._tokens(range(len(self.passages)), count)) <= budget_tokens

    def select(self, question: str, budget_tokens: int, count: TokenCounter) -> list[ReadSpan]:
        """The best passages that fit in ``budget_tokens``, in document order.

        A document that fits is read whole; otherwise passages are taken best first (in document order when the
        document is too short in words to be ranked), skipping one that would overflow the budget while a smaller
        one further down still fits. The first one taken may be longer than the budget: the engine cuts it.
        """
        if self._fits(budget_tokens, count):
            return [ReadSpan(p.start, p.end, 0.0) for p in self.passages]
        if self.retriever is None:
            order, scores = np.arange(len(self.passages)), np.zeros(len(self.passages), dtype=np.float32)
        else:
            order, scores = self.retriever.ranked(question)
        candidates = order[: 8 * max(1, budget_tokens // 40)].tolist()
        tokens = dict(zip(candidates, self._tokens(candidates, count), strict=True))
        picked: list[ReadSpan] = []
        total = 0
        for idx in candidates:
            if total + tokens[idx] > budget_tokens and picked:
                continue
            picked.append(ReadSpan(self.passages[idx].start, self.passages[idx].end, float(scores[idx])))
            total += tokens[idx]
            if total >= budget_tokens:
                break
        return sorted(picked, key=lambda span: span.start)


def merge_contiguous(text: str, spans: Sequence[ReadSpan]) -> list[ReadSpan]:
    """Join spans (in document order) of one paragraph that touch: an answer may cross their seam.

    Text that is not contiguous in the document, and a paragraph break, are the boundaries the
    decoder respects.
    """
    merged: list[ReadSpan] = []
    for span in spans:
        gap = text[merged[-1].end : span.start] if merged else "x"
        if not gap.strip() and gap.count("\n") < 2:
            last = merged.pop()
            merged.append(ReadSpan(last.start, span.end, max(last.score, span.score)))
        else:
            merged.append(span)
    return merged


def index_document(
    document: Document,
    settings: EngineSettings | None = None,
    progress: ProgressCallback | None = None,
    cache_dir: Path | None = None,
) -> IndexedDocument:
    """Split and (for documents longer than a few sentences) BM25-index a document; no model needed.

    With ``cache_dir`` an index saved there for the same text and settings is loaded instead, and a
    new one is saved (see :mod:`assistant.core.index_cache`).
    """
    settings = settings or EngineSettings()
    t0 = time.perf_counter()
    folder = None
    if cache_dir is not None:
        folder = cache_dir / cache_key(document.text, settings.passage_words, settings.paragraph_weight)
    parts = load_index(folder, document.text) if folder is not None else None
    if parts is None:
        parts = _build_index(document.text, settings, progress)
        if folder is not None and parts.retriever is not None:
            save_index(folder, parts, document.text)
    if progress:
        progress("done", 1.0)
    passages = [Passage(i, s.start, s.end, document.text[s.start : s.end]) for i, s in enumerate(parts.passages)]
    elapsed = (time.perf_counter() - t0) * 1000
    return IndexedDocument(
        document,
        passages,
        parts.retriever,
        SentenceIndex(parts.sentences),
        sum(parts.passage_words),
        elapsed,
        parts.passage_words,
    )


def _build_index(text: str, settings: EngineSettings, progress: ProgressCallback | None) -> IndexParts:
    if progress:
        progress("splitting", 0.0)
    split = split_text(text, settings.passage_words)
    passages = spans_of(split.passage_starts, split.passage_ends)
    passage_words = split.passage_words.tolist()
    sentences = spans_of(split.sentence_starts, split.sentence_ends)
    retriever = None
    if sum(passage_words) > MIN_WORDS_TO_RANK and len(passages) > 1:
        if progress:
            progress("indexing", 0.4)
        paragraphs = int(split.paragraph_starts.size)
        owner = np.searchsorted(split.paragraph_starts, split.passage_starts, side="right").astype(np.int64) - 1
        try:
            counts = count_terms([text[p.start : p.end] for p in passages])
            retriever = ContextualRetriever.of_counts(counts, owner, paragraphs, settings.paragraph_weight)
        except NothingToIndex:  # nothing to rank by: the document is read in order, up to the budget
            retriever = None
    return IndexParts(passages, passage_words, sentences, retriever)


NOT_FINITE = "the reader's scores were not finite numbers (NaN or infinity): the model is broken"
"""Why a broken model gives no answer (the CLI also warns on stderr)."""
MIN_WORDS_TO_RANK = 200
"""Below this a document is not ranked (no index is built): it is read in order, up to the reading budget."""
MAX_CHARS_PER_TOKEN = 100
"""The most characters one token stands for (WordPiece reads a longer word as one [UNK]): cutting a span after
``n`` tokens tokenizes at most ``n`` times this many characters of it."""


def _first_fit(spans: list[ReadSpan], lengths: dict[ReadSpan, int], budget: int) -> list[list[ReadSpan]]:
    """Consecutive spans into windows of at most ``budget`` tokens (a longer span gets its own)."""
    groups: list[list[ReadSpan]] = []
    used = 0
    for span in spans:
        n = lengths[span]
        if groups and used + n <= budget:
            groups[-1].append(span)
            used += n
        else:
            groups.append([span])
            used = n
    return groups


class QAEngine:
    """A reader plus the settings that turn documents and questions into answers; thread-safe."""

    def __init__(self, reader: Reader, settings: EngineSettings | None = None, load_model_ms: float = 0.0) -> None:
        self.reader = reader
        self.settings = settings or EngineSettings()
        self.load_model_ms = load_model_ms

    def with_settings(self, **changes: Any) -> QAEngine:
        return QAEngine(self.reader, replace(self.settings, **changes), self.load_model_ms)

    def index(
        self, document: Document, progress: ProgressCallback | None = None, cache_dir: Path | None = None
    ) -> IndexedDocument:
        return index_document(document, self.settings, progress, cache_dir)

    def _fit(self, question: str, text: str, spans: list[ReadSpan], max_windows: int | None) -> list[list[ReadSpan]]:
        """Group the spans read (document order) into as few windows as fit, one question per window.

        With ``max_windows`` the lowest-ranked span is dropped until the spans fit that many windows:
        the model's cost is the number of windows, and fragmentation must not add one.
        """
        budget = self.reader.context_token_budget(question)
        lengths = dict(zip(spans, self.reader.token_lengths([text[s.start : s.end] for s in spans]), strict=True))
        kept = list(spans)
        while True:
            groups = _first_fit(kept, lengths, budget)
            if max_windows is None or len(groups) <= max_windows or len(kept) <= 1:
                return groups
            kept.remove(min(kept, key=lambda span: span.score))

    def _pack(self, question: str, text: str, spans: list[ReadSpan], max_windows: int | None = None) -> list[Context]:
        """Contexts of the windows; contiguous spans in a window become one piece an answer may cross."""
        groups = self._fit(question, text, spans, max_windows)
        return [Context.packed(text, [(s.start, s.end) for s in merge_contiguous(text, group)]) for group in groups]

    def _cut(self, text: str, span: ReadSpan, tokens: int) -> ReadSpan:
        """``span`` cut after its first ``tokens`` tokens (a span of one huge word, a blob with no spaces)."""
        piece = text[span.start : min(span.end, span.start + tokens * MAX_CHARS_PER_TOKEN)]
        offsets = self.reader.tokenizer(piece, add_special_tokens=False, return_offsets_mapping=True)["offset_mapping"]
        end = span.start + (offsets[tokens - 1][1] if len(offsets) > tokens else len(piece))
        return replace(span, end=max(end, span.start + 1))

    def _within_budget(self, text: str, spans: list[ReadSpan], budget: int, per_window: int) -> list[ReadSpan]:
        """The spans, best first, cut so that none holds more tokens than a window and all together no more than
        ``budget``: the reading budget is counted in the unit the model pays for, whatever the text's shape."""
        lengths = self.reader.token_lengths([text[s.start : s.end] for s in spans])
        kept: list[ReadSpan] = []
        used = 0
        for span, n in sorted(zip(spans, lengths, strict=True), key=lambda pair: -pair[0].score):
            room = min(budget - used, per_window)
            if room <= 0:
                break
            if n > room:
                span, n = self._cut(text, span, room), room
            kept.append(span)
            used += n
        return sorted(kept, key=lambda span: span.start)

    def plan(self, indexed: IndexedDocument, question: str) -> tuple[list[ReadSpan], list[Context]]:
        """What is read for a question: the spans (contiguous ones merged) and the windows' contexts."""
        text = indexed.document.text
        per_window = self.reader.context_token_budget(question)
        budget = int(self.settings.read_windows * per_window)
        selected = indexed.select(question, budget, self.reader.token_lengths)
        whole = len(selected) == len(indexed.passages)
        spans = self._within_budget(text, selected, budget, per_window)
        groups = self._fit(question, text, spans, None if whole else math.ceil(self.settings.read_windows))
        contexts = [Context.packed(text, [(s.start, s.end) for s in merge_contiguous(text, group)]) for group in groups]
        return merge_contiguous(text, [s for group in groups for s in group]), contexts

    def ask(self, indexed: IndexedDocument, question: str, top_k: int | None = None) -> AskResult:
        t0 = time.perf_counter()
        spans, contexts = self.plan(indexed, question)
        text = indexed.document.text
        windows = self.reader.read([(question, contexts)])[0]
        decode_settings = self.settings.decode
        if top_k is not None:
            decode_settings = replace(decode_settings, top_k=top_k)
        decoded = decode(windows, text, decode_settings)
        answers = []
        for cand in decoded.answers:
            sentence = indexed.sentences.context(text, cand.start, cand.end)
            place = indexed.document.place(cand.start, cand.end)
            answers.append(
                Answer(
                    text=text[cand.start : cand.end],
                    start=place.start,
                    end=place.end,
                    score=cand.confidence,
                    raw_score=cand.score,
                    line=place.line,
                    context=text[sentence.start : sentence.end],
                    context_start=sentence.start - (cand.start - place.start),
                    path=place.path,
                    page=place.page,
                    section=place.section,
                )
            )
        reason = None
        if decoded.not_finite:
            reason = NOT_FINITE
        elif not answers:
            reason = (
                "the model judged the question unanswerable" if decoded.null_won else "no answer above the threshold"
            )
        timings = {
            "load_model_ms": self.load_model_ms,
            "index_ms": indexed.index_ms,
            "answer_ms": (time.perf_counter() - t0) * 1000,
        }
        places = [indexed.document.place(span.start, span.end) for span in spans]
        return AskResult(question.strip(), answers, spans, timings, reason, len(windows), places)
