"""The chat's corrections as annotations: one per answer, written with its verdict and removed when that changes.

The rows are those of ``assistant.squad.annotations.write_annotation`` (SQuAD-format JSONL); a row is this
answer's when it has the same question, context and answer (what its deterministic id is made of).
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from assistant.core import files

CONTEXT_MARGIN = 1000
"""Characters kept either side of an answer that is not inside one paragraph."""


@dataclass(frozen=True)
class Annotation:
    question: str
    context: str
    answer_text: str
    answer_start: int
    """Where the answer starts in ``context``."""
    source: str = ""

    def matches(self, row: Any) -> bool:
        """Whether a JSONL row is this annotation (as written by ``save``)."""
        if not isinstance(row, dict) or not isinstance(row.get("answers"), dict):
            return False
        answers = row["answers"]
        return (
            row.get("question") == self.question
            and row.get("context") == self.context
            and answers.get("text") == [self.answer_text]
            and answers.get("answer_start") == [self.answer_start]
        )


def annotation_for(text: str, question: str, start: int, end: int, source: str = "") -> Annotation | None:
    """The annotation of ``text[start:end]`` (trimmed of whitespace) as the answer to ``question``, in its paragraph.

    None when the span holds only whitespace."""
    from assistant.core.passages import paragraph_spans

    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    if start >= end:
        return None
    para = next((p for p in paragraph_spans(text) if p.start <= start and end <= p.end), None)
    if para is not None:
        lo, hi = para.start, para.end
    else:
        lo, hi = max(0, start - CONTEXT_MARGIN), min(len(text), end + CONTEXT_MARGIN)
    return Annotation(question, text[lo:hi], text[start:end], start - lo, source)


def _row(line: str) -> Any:
    try:
        return json.loads(line)
    except (ValueError, RecursionError):  # not JSON, or nested past what any row holds
        return None


ANNOTATIONS_FILE = files.FileKind("annotations file", 512 * files.MiB)


def _lines(path: Path) -> list[str]:
    """The file's lines (none when it does not exist yet); a file that cannot be read is a UserError."""
    if not os.path.lexists(path):
        return []
    text = files.read_text(path, ANNOTATIONS_FILE)
    return [line for line in re.split(r"(?<=\n)", text) if line]  # only "\n" ends a row: a row may hold U+2028


def save(path: Path, note: Annotation) -> bool:
    """Append ``note`` unless the file already holds it; whether it was written. Raises OSError or a UserError."""
    from assistant.squad.annotations import write_annotation

    if any(note.matches(_row(line)) for line in _lines(path)):
        return False
    write_annotation(path, note.question, note.context, note.answer_text, note.answer_start, source=note.source)
    return True


def remove(path: Path, note: Annotation) -> bool:
    """Rewrite the file atomically without ``note``'s rows (every other line kept as it was); whether any went."""
    lines = _lines(path)
    kept = [line for line in lines if not note.matches(_row(line))]
    if len(kept) == len(lines):
        return False
    if kept and not kept[-1].endswith("\n"):  # the next row is appended on a line of its own
        kept[-1] += "\n"
    files.write_text(path, "".join(kept))
    return True


def from_row(row: Any) -> Annotation | None:
    """A row of the file as an Annotation (one answer, its start inside its context); None for anything else."""
    if not isinstance(row, dict) or not isinstance(row.get("answers"), dict):
        return None
    texts, starts = row["answers"].get("text"), row["answers"].get("answer_start")
    question, context, source = row.get("question"), row.get("context"), row.get("title", "")
    if not (isinstance(question, str) and isinstance(context, str) and isinstance(texts, list) and len(texts) == 1):
        return None
    if not (isinstance(starts, list) and len(starts) == 1 and isinstance(starts[0], int)):
        return None
    text, start = texts[0], starts[0]
    if not isinstance(text, str) or context[start : start + len(text)] != text:
        return None
    return Annotation(question, context, text, start, source if isinstance(source, str) else "")


def load_all(path: Path) -> list[Annotation]:
    """Every annotation in the file, in its order (rows that are not one are skipped; the file keeps them)."""
    notes = (from_row(_row(line)) for line in _lines(path))
    return [note for note in notes if note is not None]


def replace(path: Path, old: Annotation, new: Annotation) -> None:
    """``old``'s row becomes ``new``'s (an edited question), the file rewritten atomically; every other line kept."""
    from assistant.squad.annotations import annotation_row

    lines = _lines(path)
    row = json.dumps(annotation_row(new.question, new.context, new.answer_text, new.answer_start, new.source))
    changed = [row + "\n" if old.matches(_row(line)) else line for line in lines]
    files.write_text(path, "".join(changed))
