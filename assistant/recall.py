"""Retrieval recall against reading cost: does the text read for a question hold its gold answer?

Two kinds of gold set: a SQuAD JSON file (every paragraph joined into one long document) and a
questions file about one text document (``benchmarks/data/vim9_questions.json``): a hard-wrapped
technical text has no SQuAD questions, so those are written by hand with the answer as it appears.
"""

from __future__ import annotations

import re
import statistics
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from assistant.core import files
from assistant.core.documents import Document, load_document
from assistant.core.errors import UserError
from assistant.core.reader import Reader

Gold = tuple[str, list[tuple[int, int]]]
"""A question and the character spans that answer it."""


@dataclass(frozen=True)
class GoldSet:
    name: str
    document: Document
    questions: list[Gold]


GOLD_FILE = files.FileKind("gold questions file", 256 * files.MiB)


def load_gold_set(path: Path) -> GoldSet:
    """A SQuAD JSON file, or a questions file naming its document; one sentence when it is neither."""
    data = files.read_json(path, GOLD_FILE)
    try:
        if isinstance(data, dict) and isinstance(data.get("data"), list):
            document, questions = _squad_as_one_document(data)
            return GoldSet(path.name, document, questions)
        if isinstance(data, dict) and isinstance(data.get("questions"), list) and isinstance(data.get("document"), str):
            return _questions_about_document(path, data)
    except (KeyError, TypeError, ValueError, AttributeError):
        raise UserError(f"{path} has gold questions of the wrong shape (see benchmarks/data for the format).") from None
    raise UserError(f"{path} is neither SQuAD JSON nor a questions file with 'document' and 'questions'.")


def _squad_as_one_document(data: dict[str, Any]) -> tuple[Document, list[Gold]]:
    """All paragraphs joined into one document, with each answerable question's gold spans."""
    contexts: list[str] = []
    questions: list[Gold] = []
    pos = 0
    for article in data["data"]:
        for para in article["paragraphs"]:
            base = pos
            contexts.append(para["context"])
            pos += len(para["context"]) + 2
            for qa in para["qas"]:
                if qa.get("is_impossible") or not qa["answers"]:
                    continue
                golds = [(base + a["answer_start"], base + a["answer_start"] + len(a["text"])) for a in qa["answers"]]
                questions.append((qa["question"], golds))
    return Document.from_text("\n\n".join(contexts)), questions


def _questions_about_document(path: Path, data: dict[str, Any]) -> GoldSet:
    """Each answer is found at or after its ``line``; any run of white space in the text matches a space."""
    document = load_document(Path(data["document"]))
    text = document.text
    line_starts = [0] + [m.end() for m in re.finditer("\n", text)]
    questions: list[Gold] = []
    for item in data["questions"]:
        pattern = r"\s+".join(re.escape(word) for word in str(item["answer"]).split())
        line = int(item.get("line", 1))
        match = re.compile(pattern).search(text, line_starts[min(len(line_starts), max(1, line)) - 1])
        if match is None:
            raise UserError(f"{path}: the answer {item['answer']!r} is not in {data['document']} after line {line}.")
        questions.append((str(item["question"]), [(match.start(), match.end())]))
    return GoldSet(path.name, document, questions)


def retrieval_recall(gold: GoldSet, reader: Reader, windows: Sequence[float]) -> list[dict[str, Any]]:
    """For each reading budget: the share of questions whose gold span lies inside the text read, and the cost."""
    from assistant.core.engine import EngineSettings, QAEngine

    rows: list[dict[str, Any]] = []
    indexed = QAEngine(reader).index(gold.document)
    for budget in windows:
        engine = QAEngine(reader, EngineSettings(read_windows=budget))
        hits = 0
        ran: list[int] = []
        tokens: list[int] = []
        for question, golds in gold.questions:
            spans, contexts = engine.plan(indexed, question)
            encoded = reader.tokenize([question] * len(contexts), [c.text for c in contexts])["input_ids"]
            ran.append(len(encoded))
            tokens.append(sum(len(ids) for ids in encoded))
            hits += any(s.start <= g0 and g1 <= s.end for g0, g1 in golds for s in spans)
        rows.append(
            {
                "gold_set": gold.name,
                "questions": len(gold.questions),
                "read_windows": budget,
                "windows_run_mean": statistics.mean(ran),
                "tokens_run_mean": statistics.mean(tokens),
                "recall": hits / len(gold.questions),
            }
        )
    return rows
