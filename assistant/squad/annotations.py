"""The chat app's corrections, saved as SQuAD-format JSONL rows that training reads like any other data."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

from assistant.core.errors import DataError
from assistant.core.files import append_json

JsonRow = dict[str, Any]


def annotation_row(question: str, context: str, answer_text: str, answer_start: int, source: str = "") -> JsonRow:
    """A user's correction as a SQuAD-format row that `--data` can read (its id made of what it says)."""
    if context[answer_start : answer_start + len(answer_text)] != answer_text:
        raise DataError("The annotated answer does not match the document text at its position.")
    digest = hashlib.sha1(f"{question}\n{answer_start}\n{context}".encode()).hexdigest()[:12]
    return {
        "id": f"note-{digest}",
        "title": source,
        "question": question,
        "context": context,
        "answers": {"text": [answer_text], "answer_start": [answer_start]},
    }


def write_annotation(
    path: Path, question: str, context: str, answer_text: str, answer_start: int, source: str = ""
) -> None:
    """Append a user's correction as a SQuAD-format JSONL row."""
    append_json(path, annotation_row(question, context, answer_text, answer_start, source))
