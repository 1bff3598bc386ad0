"""The chat app's corrections, saved as SQuAD-format JSONL rows that training reads like any other data."""

from __future__ import annotations

import hashlib
from pathlib import Path

from assistant.core.errors import DataError
from assistant.core.files import append_json


def write_annotation(
    path: Path, question: str, context: str, answer_text: str, answer_start: int, source: str = ""
) -> None:
    """Append a user's correction as a SQuAD-format JSONL row that `--data` can read."""
    if context[answer_start : answer_start + len(answer_text)] != answer_text:
        raise DataError("The annotated answer does not match the document text at its position.")
    digest = hashlib.sha1(f"{question}\n{answer_start}\n{context}".encode()).hexdigest()[:12]
    append_json(
        path,
        {
            "id": f"note-{digest}",
            "title": source,
            "question": question,
            "context": context,
            "answers": {"text": [answer_text], "answer_start": [answer_start]},
        },
    )
