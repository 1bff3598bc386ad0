"""Load SQuAD-style data from the hub or from local JSON, JSONL and CSV files into one example type.

A file that cannot be used ends in one ``DataError`` sentence that names it. Rows of the wrong shape
are skipped and counted (the first reason is kept for the message), so one bad row does not sink a
large file, but a file with no usable row fails instead of training or scoring on nothing.
"""

from __future__ import annotations

import ast
import csv
import hashlib
import io
import json
import os
import re
import sys
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from assistant.core import files
from assistant.core.errors import DataError

MAX_ANSWER_START = 2**31 - 1
"""Offsets past this are positions in no real context (and would overflow int32 label tensors)."""


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
    marks_unanswerable: bool = False
    """The file flags questions with SQuAD 2.0's ``is_impossible``: unanswerable questions are meant."""
    first_problem: str = ""
    """Where and why the first malformed row was skipped, for messages."""


@dataclass
class Rows:
    """Examples read so far, and the rows skipped with the first reason (for a message that helps)."""

    examples: list[QAExample] = field(default_factory=list)
    malformed: int = 0
    first_problem: str = ""
    marks_unanswerable: bool = False
    unlabelled: int = 0
    """Flat rows with no answers field at all: read as unanswerable, but all of them means a wrong file."""

    def skip(self, where: str, why: str, count: int = 1) -> None:
        self.malformed += count
        if not self.first_problem:
            self.first_problem = f"{where} {why}"


DATA_SUFFIXES = (".json", ".jsonl", ".ndjson", ".csv")
"""The names a local data file may end in (SQuAD JSON, JSON lines, CSV), which say how it is read."""


def json_kind(value: Any) -> str:
    """What a JSON value is, in words: messages say "is a string", not "is <class 'str'>"."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true/false"
    names = {str: "a string", int: "a number", float: "a number", list: "a list", tuple: "a list", dict: "an object"}
    return names.get(type(value), type(value).__name__)


def plural(n: int, noun: str) -> str:
    """Say "1 malformed row" but "2 malformed rows": messages are read by people."""
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"


def _text(value: Any, what: str) -> str:
    """A non-blank string that is valid Unicode: a lone surrogate would crash the tokenizer later."""
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"has a {what} that is {json_kind(value) if not isinstance(value, str) else 'blank'}")
    if not is_unicode(value):
        raise ValueError(f"has a {what} with a lone surrogate (not valid Unicode)")
    return value


def is_unicode(value: str) -> bool:
    """False for JSON's lone surrogates (``"\\ud800"``), which tokenizers and Arrow refuse to encode."""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _answer_start(value: Any) -> int:
    """An offset from JSON, CSV text or a Python literal; bools, NaN, infinities and fractions are not."""
    if isinstance(value, str) and re.fullmatch(r"\s*-?[0-9]+\s*", value):
        value = int(value) if len(value.strip()) <= 12 else MAX_ANSWER_START + 1
    elif isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int):
        shown = repr(value) if isinstance(value, float) else json_kind(value)
        raise ValueError(f"has an answer_start that is {shown}, not a whole number")
    if not -1 <= value <= MAX_ANSWER_START:
        raise ValueError("has an answer_start out of range")
    return value


def _answer(text: Any, start: Any) -> Answer:
    if not isinstance(text, str):
        raise ValueError(f"has an answer text that is {json_kind(text)}, not a string")
    if not is_unicode(text):
        raise ValueError("has an answer text with a lone surrogate (not valid Unicode)")
    return Answer(text, _answer_start(start))


def _answers_from_dict(value: dict[Any, Any]) -> list[Answer]:
    """One answer ``{"text", "answer_start"}`` or HF columns ``{"text": [...], "answer_start": [...]}``."""
    texts, starts = value.get("text"), value.get("answer_start")
    if isinstance(texts, list | tuple):
        if not isinstance(starts, list | tuple) or len(starts) != len(texts):
            raise ValueError("has answer text and answer_start lists of different lengths")
        return [_answer(t, s) for t, s in zip(texts, starts, strict=True)]
    return [_answer(texts, starts)]


def _parse_answers_text(text: str) -> Any:
    """Answers a notebook wrote to CSV as JSON or a Python literal; literals only, never evaluated."""
    text = text.strip()
    if not text:
        return None
    try:
        return json.loads(text)
    except (ValueError, RecursionError):
        pass
    try:
        return ast.literal_eval(text)
    except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
        raise ValueError("has answers that are neither JSON nor a Python literal") from None


def _answers_from(value: Any) -> list[Answer]:
    """Answers in any of the usual shapes: HF columns, one dict, a list of dicts, or their string form."""
    if isinstance(value, str):
        value = _parse_answers_text(value)
    if isinstance(value, dict):
        return _answers_from_dict(value)
    if isinstance(value, list | tuple):
        if not all(isinstance(item, dict) for item in value):
            raise ValueError("has answers that are not objects with text and answer_start")
        return [answer for item in value for answer in _answers_from_dict(item)]
    if value is None:
        return []
    raise ValueError(f"has answers that are {json_kind(value)}")


def _qid(value: Any, fallback: str | None = None) -> str:
    """Ids are strings (or numbers, as some exports write them); a flat row may go without one."""
    if fallback is not None and (value is None or value == ""):
        return fallback
    if isinstance(value, bool) or not isinstance(value, str | int) or value == "":
        raise ValueError(f"has an id that is {json_kind(value) if value != '' else 'empty'}")
    if isinstance(value, str) and not is_unicode(value):
        raise ValueError("has an id with a lone surrogate (not valid Unicode)")
    return str(value)


def _title(value: Any) -> str:
    return value if isinstance(value, str) else ""


def _record_to_example(record: Any, index: int, rows: Rows) -> QAExample:
    """One flat row (JSONL, CSV, JSON list or hub): context, question and answers in one of their shapes."""
    if not isinstance(record, dict):
        raise ValueError(f"is {json_kind(record)}, not an object")
    context, question = _text(record.get("context"), "context"), _text(record.get("question"), "question")
    if "answers" in record:
        answers = _answers_from(record["answers"])
    elif "answer_text" in record:
        text = record["answer_text"]
        has_text = text is not None and not (isinstance(text, str) and not text.strip())
        answers = _answers_from({"text": text, "answer_start": record.get("answer_start", -1)}) if has_text else []
    else:
        answers = []
        rows.unlabelled += 1
    return QAExample(_qid(record.get("id"), f"row-{index}"), question, context, answers, _title(record.get("title")))


def _add_record(rows: Rows, record: Any, index: int, where: str) -> None:
    try:
        rows.examples.append(_record_to_example(record, index, rows))
    except ValueError as exc:
        rows.skip(where, str(exc))


def _from_records(records: Iterable[Any]) -> Rows:
    rows = Rows()
    for i, record in enumerate(records):
        _add_record(rows, record, i, f"row {i + 1}")
    return rows


def _impossible(value: Any) -> bool:
    if isinstance(value, bool) or value in (0, 1):
        return bool(value)
    raise ValueError(f"has an is_impossible that is {json_kind(value)}, not true/false")


def squad_paragraphs(data: dict[str, Any], rows: Rows, source: str) -> Iterator[tuple[str, str, str, list[Any]]]:
    """(where, title, context, qas) of each well-formed paragraph of official SQuAD JSON; others are skipped."""
    articles = data.get("data")
    if not isinstance(articles, list):
        raise DataError(f"{source}: 'data' is {json_kind(articles)}, not a list of articles.")
    for i, article in enumerate(articles):
        paragraphs = article.get("paragraphs") if isinstance(article, dict) else None
        if not isinstance(paragraphs, list):
            rows.skip(f"data[{i}]", "is not an article with a 'paragraphs' list")
            continue
        for j, para in enumerate(paragraphs):
            where = f"data[{i}].paragraphs[{j}]"
            qas = para.get("qas") if isinstance(para, dict) else None
            if not isinstance(qas, list):
                rows.skip(where, "is not a paragraph with a 'qas' list")
                continue
            try:
                context = _text(para.get("context"), "context")
            except ValueError as exc:
                rows.skip(where, str(exc), count=max(1, len(qas)))
                continue
            yield where, _title(article.get("title")), context, qas


def squad_question(qa: Any) -> tuple[str, str, bool]:
    """(id, question, is_impossible) of one official SQuAD question, or ValueError saying what is wrong."""
    if not isinstance(qa, dict):
        raise ValueError(f"is {json_kind(qa)}, not a question object")
    qid, question = _qid(qa.get("id")), _text(qa.get("question"), "question")
    impossible = _impossible(qa.get("is_impossible", False))
    if not isinstance(qa.get("answers"), list) and not (impossible and qa.get("answers") is None):
        raise ValueError(f"has answers that are {json_kind(qa.get('answers'))}, not a list")
    return qid, question, impossible


def _from_nested(data: dict[str, Any], source: str) -> Rows:
    """The official SQuAD v1.1 / v2.0 JSON: data -> paragraphs -> qas."""
    rows = Rows()
    for where, title, context, qas in squad_paragraphs(data, rows, source):
        for k, qa in enumerate(qas):
            try:
                qid, question, impossible = squad_question(qa)
                answers = [] if impossible else _answers_from(qa["answers"])
            except ValueError as exc:
                rows.skip(f"{where}.qas[{k}]", str(exc))
                continue
            rows.marks_unanswerable = rows.marks_unanswerable or "is_impossible" in qa
            rows.examples.append(QAExample(qid, question, context, answers, title))
    return rows


DATA_FILE = files.FileKind("data file", 2 * files.GiB, DataError)


def read_bytes(path: Path) -> bytes:
    """The file's bytes; a missing, unreadable, special or oversized file is a DataError naming it."""
    return files.read_bytes(path, DATA_FILE)


def decode_text(raw: bytes, path: Path) -> str:
    """UTF-8 text (a BOM is fine); empty, binary, UTF-16 and other encodings are named as such."""
    if not raw.strip():
        raise DataError(f"{path} is empty.")
    if b"\x00" in raw:
        raise DataError(f"{path} holds NUL bytes: it is binary or UTF-16, not UTF-8 text.")
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise DataError(f"{path} is not UTF-8 text (invalid byte at offset {exc.start}); save it as UTF-8.") from None


def parse_json(text: str, path: Path) -> Any:
    """JSON (NaN and infinities refused, as everywhere), or a DataError naming the file."""
    return files.parse_json(text, str(path), DataError)


def read_json(path: Path) -> Any:
    """A JSON file's value, or a DataError that names the file and what is wrong with it."""
    return parse_json(decode_text(read_bytes(path), path), path)


def _jsonl_rows(text: str) -> Rows:
    """One record per line; split on newlines only, since JSON strings may hold U+2028 and friends."""
    rows, index = Rows(), 0
    for n, line in enumerate(text.split("\n"), start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except (ValueError, RecursionError):
            rows.skip(f"line {n}", "is not JSON")
            continue
        _add_record(rows, record, index, f"line {n}")
        index += 1
    return rows


def _csv_rows(text: str, path: Path) -> Rows:
    csv.field_size_limit(min(sys.maxsize, 2**31 - 1))
    try:
        return _from_records(csv.DictReader(io.StringIO(text, newline="")))
    except csv.Error as exc:
        raise DataError(f"{path} is not readable CSV: {exc}.") from None


def _rows_from(path: Path, text: str) -> Rows:
    suffix = path.suffix.lower()
    if suffix == ".csv":
        return _csv_rows(text, path)
    if suffix in (".jsonl", ".ndjson"):
        return _jsonl_rows(text)
    data = parse_json(text, path)
    if isinstance(data, dict) and "data" in data:
        return _from_nested(data, str(path))
    if isinstance(data, list):
        return _from_records(data)
    raise DataError(
        f"{path} holds {json_kind(data)} at the top level; SQuAD data is an object with a 'data' list of "
        "articles, or a list of records."
    )


def _require_rows(rows: Rows, path: Path) -> None:
    """No usable row, or rows that never say their answers, is a wrong file: never train or score on it."""
    if not rows.examples:
        if not rows.malformed:
            raise DataError(f"{path} holds no questions.")
        bad = plural(rows.malformed, "malformed row")
        raise DataError(f"{path} holds no usable questions ({bad}; first: {rows.first_problem}).")
    if rows.unlabelled == len(rows.examples):
        raise DataError(f"{path}: none of its {len(rows.examples)} questions has an 'answers' field.")


def check_data_suffix(path: Path) -> None:
    """A data file is read by its name's suffix: one sentence for any other, before it is read (or a run started)."""
    suffix = path.suffix.lower()
    if suffix not in DATA_SUFFIXES:
        raise DataError(f"{path}: unknown data format {suffix or '(none)'}; use .json, .jsonl or .csv.")


def load_local(path: Path) -> LoadedData:
    check_data_suffix(path)
    raw = read_bytes(path)
    rows = _rows_from(path, decode_text(raw, path))
    _require_rows(rows, path)
    version_2 = rows.marks_unanswerable or any(e.is_impossible for e in rows.examples)
    fingerprint = "sha256:" + hashlib.sha256(raw).hexdigest()
    return LoadedData(
        rows.examples, str(path), fingerprint, rows.malformed, version_2, rows.marks_unanswerable, rows.first_problem
    )


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
    rows = _from_records(ds)
    if not rows.examples:
        raise DataError(f"Dataset {name!r} ({split}) holds no usable questions ({rows.malformed} malformed).")
    version_2 = any(e.is_impossible for e in rows.examples)
    return LoadedData(
        rows.examples, f"{name}:{split}", f"hf:{ds._fingerprint}", rows.malformed, version_2, False, rows.first_problem
    )


def is_local_source(source: str) -> bool:
    """Whether a data source names a local file (it exists, looks like a path or has a data suffix), not a hub id."""
    path = files.user_path(source)
    return os.path.lexists(path) or path.suffix.lower() in DATA_SUFFIXES or source.startswith((".", "/", "~"))


def load_data(source: str, split: str = "train") -> LoadedData:
    """A local file path, or a hub dataset id such as ``rajpurkar/squad``."""
    if is_local_source(source):
        return load_local(files.user_path(source))
    return load_hub(source, split)
