"""Load SQuAD-style data from the hub or from local JSON, JSONL and CSV files into one example type."""

from __future__ import annotations

import ast
import csv
import hashlib
import json
import sys
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from assistant.errors import DataError


@dataclass
class Answer:
    text: str
    answer_start: int


@dataclass
class QAExample:
    id: str
    question: str
    context: str
    answers: list[Answer] = field(default_factory=list)
    title: str = ""

    @property
    def is_impossible(self) -> bool:
        return not self.answers


@dataclass
class LoadedData:
    examples: list[QAExample]
    source: str
    fingerprint: str
    malformed: int = 0
    """Rows that could not be read at all (missing fields, bad JSON, unparsable answers)."""
    version_2: bool = False


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return "sha256:" + digest.hexdigest()


def _answers_from(value: Any) -> list[Answer]:
    """Answers in any of the usual shapes: HF columns, one dict, a list of dicts, or their string form."""
    if isinstance(value, str):
        value = value.strip()
        if not value:
            return []
        try:
            value = json.loads(value)
        except ValueError:
            value = ast.literal_eval(value)  # literals only: never eval
    if isinstance(value, dict):
        texts, starts = value.get("text"), value.get("answer_start")
        if isinstance(texts, list | tuple):
            if not isinstance(starts, list | tuple) or len(starts) != len(texts):
                raise ValueError("text and answer_start lists differ in length")
            return [Answer(str(t), int(s)) for t, s in zip(texts, starts, strict=True)]
        if texts is None:
            return []
        return [Answer(str(texts), int(starts))]
    if isinstance(value, list | tuple):
        out: list[Answer] = []
        for item in value:
            out.extend(_answers_from(item))
        return out
    if value is None:
        return []
    raise ValueError(f"unreadable answers: {value!r}")


def _record_to_example(record: dict[str, Any], index: int) -> QAExample:
    context, question = record.get("context"), record.get("question")
    if not isinstance(context, str) or not isinstance(question, str) or not context.strip() or not question.strip():
        raise ValueError("missing context or question")
    if "answers" in record:
        answers = _answers_from(record["answers"])
    elif "answer_text" in record:
        answers = _answers_from({"text": record["answer_text"], "answer_start": record.get("answer_start", -1)})
    else:
        answers = []
    return QAExample(str(record.get("id") or f"row-{index}"), question, context, answers, str(record.get("title", "")))


def _from_records(records: Iterable[Any]) -> tuple[list[QAExample], int]:
    examples, malformed = [], 0
    for i, record in enumerate(records):
        try:
            if not isinstance(record, dict):
                raise ValueError("not an object")
            examples.append(_record_to_example(record, i))
        except (ValueError, SyntaxError, TypeError, KeyError):
            malformed += 1
    return examples, malformed


def _from_nested(data: dict[str, Any]) -> tuple[list[QAExample], int, bool]:
    """The official SQuAD v1.1 / v2.0 JSON: data -> paragraphs -> qas."""
    examples, malformed, v2 = [], 0, False
    for article in data.get("data", []):
        title = str(article.get("title", ""))
        for para in article.get("paragraphs", []):
            context = para.get("context", "")
            for qa in para.get("qas", []):
                try:
                    impossible = bool(qa.get("is_impossible", False))
                    v2 = v2 or "is_impossible" in qa
                    answers = [] if impossible else _answers_from(qa.get("answers", []))
                    if not isinstance(context, str) or not qa["question"].strip():
                        raise ValueError
                    examples.append(QAExample(str(qa["id"]), qa["question"], context, answers, title))
                except (ValueError, KeyError, TypeError, AttributeError, SyntaxError):
                    malformed += 1
    return examples, malformed, v2


def load_local(path: Path) -> LoadedData:
    if not path.exists():
        raise DataError(f"No such data file: {path}.")
    if path.is_dir():
        raise DataError(f"{path} is a directory; give a SQuAD JSON, JSONL or CSV file.")
    suffix = path.suffix.lower()
    version_2 = False
    try:
        if suffix == ".csv":
            csv.field_size_limit(min(sys.maxsize, 2**31 - 1))
            with open(path, encoding="utf-8", newline="") as fh:
                examples, malformed = _from_records(csv.DictReader(fh))
        elif suffix in (".jsonl", ".ndjson"):
            records, bad_lines = [], 0
            with open(path, encoding="utf-8") as fh:
                for line in fh:
                    if line.strip():
                        try:
                            records.append(json.loads(line))
                        except ValueError:
                            bad_lines += 1
            examples, malformed = _from_records(records)
            malformed += bad_lines
        elif suffix == ".json":
            data = json.loads(path.read_text(encoding="utf-8"))
            if isinstance(data, dict) and "data" in data:
                examples, malformed, version_2 = _from_nested(data)
            elif isinstance(data, list):
                examples, malformed = _from_records(data)
            else:
                raise DataError(f"{path} is JSON but neither official SQuAD ('data') nor a list of records.")
        else:
            raise DataError(f"{path}: unknown data format {suffix or '(none)'}; use .json, .jsonl or .csv.")
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise DataError(f"{path} could not be parsed: {exc}.") from None
    if not examples:
        raise DataError(f"{path} holds no usable question/context rows ({malformed} malformed).")
    version_2 = version_2 or any(e.is_impossible for e in examples)
    return LoadedData(examples, str(path), _sha256(path), malformed, version_2)


def load_hub(name: str, split: str) -> LoadedData:
    import datasets

    datasets.logging.set_verbosity_error()
    try:
        ds = datasets.load_dataset(name, split=split)
    except Exception as exc:  # datasets raises many types for offline / missing
        raise DataError(
            f"Dataset {name!r} ({split}) could not be loaded from the hub ({type(exc).__name__}); "
            "pass --data with a local SQuAD JSON, JSONL or CSV file."
        ) from None
    examples, malformed = _from_records(ds)
    return LoadedData(
        examples, f"{name}:{split}", f"hf:{ds._fingerprint}", malformed, any(e.is_impossible for e in examples)
    )


def load_data(source: str, split: str = "train") -> LoadedData:
    """A local file path, or a hub dataset id such as ``rajpurkar/squad``."""
    path = Path(source).expanduser()
    if path.exists() or path.suffix.lower() in (".json", ".jsonl", ".csv", ".ndjson") or source.startswith((".", "/")):
        return load_local(path)
    return load_hub(source, split)


def write_annotation(
    path: Path, question: str, context: str, answer_text: str, answer_start: int, source: str = ""
) -> None:
    """Append a user's correction as a SQuAD-format JSONL row that `--data` can read."""
    from assistant.atomic import append_jsonl

    if context[answer_start : answer_start + len(answer_text)] != answer_text:
        raise DataError("The annotated answer does not match the document text at its position.")
    digest = hashlib.sha1(f"{question}\n{answer_start}\n{context}".encode()).hexdigest()[:12]
    append_jsonl(
        path,
        {
            "id": f"note-{digest}",
            "title": source,
            "question": question,
            "context": context,
            "answers": {"text": [answer_text], "answer_start": [answer_start]},
        },
    )
