"""Check answer alignment, repair what can be repaired, and report what the data looks like."""

from __future__ import annotations

import statistics
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from rich.table import Table
from rich.text import Text

from assistant.core.errors import DataError
from assistant.core.reader import WindowSettings
from assistant.core.sanitize import one_line
from assistant.squad.formats import Answer, LoadedData, QAExample

REPAIR_RADIUS = 200
"""How far (in characters) from ``answer_start`` a misaligned answer text is looked for."""


@dataclass
class DataReport:
    examples: int = 0
    answerable: int = 0
    unanswerable: int = 0
    answers_ok: int = 0
    answers_repaired: int = 0
    answers_dropped: int = 0
    examples_dropped: int = 0
    malformed_rows: int = 0
    titles: list[tuple[str, int]] = field(default_factory=list)
    context_tokens: dict[str, float] = field(default_factory=dict)
    multi_window_contexts: int = 0
    answer_words: dict[str, float] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return self.__dict__.copy()

    def table(self, name: str) -> Table:
        t = Table(title=Text(one_line(f"Data report: {name}")), show_header=False)
        t.add_column("what")
        t.add_column("value", justify="right")
        rows = [
            ("examples", self.examples),
            ("answerable / unanswerable", f"{self.answerable} / {self.unanswerable}"),
            ("answers aligned", self.answers_ok),
            ("answers repaired (text found nearby)", self.answers_repaired),
            ("answers dropped (text not found)", self.answers_dropped),
            ("examples dropped (no answer left)", self.examples_dropped),
            ("malformed rows skipped", self.malformed_rows),
            (
                "context tokens median / p95 / max",
                "{median:.0f} / {p95:.0f} / {max:.0f}".format(**self.context_tokens) if self.context_tokens else "—",
            ),
            ("contexts needing more than one window", self.multi_window_contexts),
            (
                "answer words mean / max",
                "{mean:.1f} / {max:.0f}".format(**self.answer_words) if self.answer_words else "—",
            ),
        ]
        rows += [(f"questions in '{title}'", n) for title, n in self.titles]
        for what, value in rows:  # titles come from the data: text, never markup
            t.add_row(Text(one_line(what)), Text(one_line(str(value))))
        return t


def align_answer(context: str, answer: Answer) -> Answer | None:
    """The answer as is, moved to the nearest occurrence of its text, or None when the text is absent nearby."""
    text = answer.text
    if not text.strip():
        return None
    if answer.answer_start >= 0 and context[answer.answer_start : answer.answer_start + len(text)] == text:
        return answer
    lo = max(0, answer.answer_start - REPAIR_RADIUS)
    hi = min(len(context), max(0, answer.answer_start) + len(text) + REPAIR_RADIUS)
    best = None
    pos = context.find(text, lo, hi)
    while pos != -1:
        if best is None or abs(pos - answer.answer_start) < abs(best - answer.answer_start):
            best = pos
        pos = context.find(text, pos + 1, hi)
    return Answer(text, best) if best is not None else None


def validate(
    examples: list[QAExample],
    tokenizer: Any = None,
    window: WindowSettings | None = None,
    malformed: int = 0,
    allow_unanswerable: bool = True,
    top_titles: int = 5,
) -> tuple[list[QAExample], DataReport]:
    """Aligned examples and a report; examples whose every answer is lost are dropped and counted."""
    report = DataReport(malformed_rows=malformed)
    kept: list[QAExample] = []
    for ex in examples:
        if ex.is_impossible:
            if allow_unanswerable:
                kept.append(ex)
            else:
                report.examples_dropped += 1
            continue
        fixed: list[Answer] = []
        for answer in ex.answers:
            aligned = align_answer(ex.context, answer)
            if aligned is None:
                report.answers_dropped += 1
            elif aligned is answer:
                report.answers_ok += 1
                fixed.append(aligned)
            else:
                report.answers_repaired += 1
                fixed.append(aligned)
        if fixed:
            kept.append(QAExample(ex.id, ex.question, ex.context, fixed, ex.title))
        else:
            report.examples_dropped += 1
    report.examples = len(kept)
    report.unanswerable = sum(e.is_impossible for e in kept)
    report.answerable = report.examples - report.unanswerable
    report.titles = Counter(e.title or "(untitled)" for e in kept).most_common(top_titles)
    words = [len(a.text.split()) for e in kept for a in e.answers[:1]]
    if words:
        report.answer_words = {"mean": statistics.mean(words), "max": max(words)}
    if tokenizer is not None and kept:
        contexts = list(dict.fromkeys(e.context for e in kept))
        lengths = [len(ids) for ids in tokenizer(contexts, add_special_tokens=False)["input_ids"]]
        lengths.sort()
        report.context_tokens = {
            "median": statistics.median(lengths),
            "p95": lengths[int(0.95 * (len(lengths) - 1))],
            "max": lengths[-1],
        }
        window = window or WindowSettings()
        room = window.max_length - window.max_question_tokens - 3
        report.multi_window_contexts = sum(n > room for n in lengths)
    return kept, report


def require_evaluable(chosen: list[QAExample], report: DataReport, data: LoadedData) -> None:
    """EM/F1 over no question, or over answers that all vanished in validation, would be silently wrong."""
    malformed = f"{data.malformed} malformed" + (f", first: {data.first_problem}" if data.first_problem else "")
    if report.examples == 0:
        raise DataError(
            f"{data.source}: no question survives validation ({report.examples_dropped} dropped because their "
            f"answer is not in their context; {malformed}); there is nothing to evaluate."
        )
    if report.answerable:
        return
    answerable_before = sum(not e.is_impossible for e in chosen)
    if answerable_before:
        raise DataError(
            f"{data.source}: all {answerable_before} answerable questions were dropped because their answer is not "
            "in their context; EM/F1 over the unanswerable rest would only measure abstaining."
        )
    if not data.marks_unanswerable and not any(not e.is_impossible for e in data.examples):
        raise DataError(
            f"{data.source}: none of its questions has an answer and none is marked is_impossible (SQuAD 2.0); "
            "check the 'answers' field."
        )
