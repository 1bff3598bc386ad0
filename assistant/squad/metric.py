"""SQuAD EM/F1 through the local `evaluate` module (the hub copy is unreachable offline).

Scoring is strict: a malformed question, prediction or probability is an error naming the file,
because skipping it would silently change the scores.
"""

from __future__ import annotations

import sys
from functools import lru_cache
from pathlib import Path
from typing import Any

from assistant.core.errors import DataError
from assistant.core.sanitize import one_line
from assistant.squad.formats import Rows, is_unicode, json_kind, plural, read_json, squad_paragraphs, squad_question

METRIC_PATH = Path(__file__).resolve().parent / "squad_metric" / "squad_metric.py"


@lru_cache(maxsize=1)
def squad_metric() -> Any:
    import evaluate

    evaluate.logging.set_verbosity_error()
    evaluate.logging.disable_progress_bar()
    return evaluate.load(str(METRIC_PATH))


def compute(
    predictions: dict[str, str], references: dict[str, list[str]], no_answer_probability: dict[str, float] | None = None
) -> dict[str, float]:
    """EM/F1 (and v2.0 HasAns/NoAns/best threshold) for ``{id: text}`` against ``{id: [gold texts]}``.

    Full precision: saved and printed JSON stays exact; round only where a person reads it.
    """
    if not references:
        raise DataError("There are no questions to score.")
    na = no_answer_probability or {}
    preds = [
        {"id": qid, "prediction_text": predictions.get(qid, ""), "no_answer_probability": na.get(qid, 0.0)}
        for qid in references
    ]
    refs = [
        {"id": qid, "answers": {"text": golds, "answer_start": [0] * len(golds)}} for qid, golds in references.items()
    ]
    result = squad_metric().compute(
        predictions=preds, references=refs, with_thresholds=no_answer_probability is not None
    )
    return dict(result)


def _short(qid: str) -> str:
    return repr(qid if len(qid) <= 40 else qid[:39] + "…")


def _gold_texts(qa: dict[str, Any], impossible: bool) -> list[str]:
    """Gold texts only: the official script ignores answer_start, so a bad offset does not matter here."""
    if impossible:
        return []
    answers = qa["answers"]
    if not answers:
        raise ValueError("has no answers and is not marked is_impossible")
    if not all(isinstance(a, dict) for a in answers):
        raise ValueError("has answers that are not objects with a text")
    texts = [a.get("text") for a in answers]
    if not all(isinstance(t, str) for t in texts):
        raise ValueError(f"has an answer text that is {json_kind(next(t for t in texts if not isinstance(t, str)))}")
    if not all(is_unicode(t) for t in texts):
        raise ValueError("has an answer text with a lone surrogate (not valid Unicode)")
    return texts


def references_from_squad(path: Path) -> dict[str, list[str]]:
    """``{id: gold texts}`` from official SQuAD JSON; any malformed question is an error naming the file."""
    data = read_json(path)
    if not isinstance(data, dict) or "data" not in data:
        raise DataError(f"{path} holds {json_kind(data)}, not official SQuAD JSON (an object with a 'data' list).")
    rows, refs = Rows(), {}
    for where, _title, _context, qas in squad_paragraphs(data, rows, str(path)):
        for k, qa in enumerate(qas):
            try:
                qid, _question, impossible = squad_question(qa)
                if qid in refs:
                    raise ValueError(f"repeats the question id {_short(qid)}")
                refs[qid] = _gold_texts(qa, impossible)
            except ValueError as exc:
                rows.skip(f"{where}.qas[{k}]", str(exc))
    if rows.malformed:
        bad = plural(rows.malformed, "malformed question")
        raise DataError(f"{path}: {bad}, so nothing was scored; first: {rows.first_problem}.")
    if not refs:
        raise DataError(f"{path} holds no questions; there is nothing to score.")
    return refs


def predictions_from(path: Path, references: dict[str, list[str]]) -> dict[str, str]:
    """``{id: answer text}``; zero overlap with the dataset is an error (wrong file), not EM 0."""
    preds = read_json(path)
    if not isinstance(preds, dict):
        raise DataError(f"{path} holds {json_kind(preds)}, not an object {{question id: predicted answer}}.")
    for qid, text in preds.items():
        if not isinstance(text, str):
            raise DataError(f"{path}: the prediction for {_short(qid)} is {json_kind(text)}, not a string.")
        if not is_unicode(text):
            raise DataError(f"{path}: the prediction for {_short(qid)} holds a lone surrogate (not valid Unicode).")
    if not any(qid in preds for qid in references):
        raise DataError(f"{path} has a prediction for none of the {len(references)} questions; do the ids match?")
    return preds


def na_probs_from(path: Path, references: dict[str, list[str]]) -> dict[str, float]:
    """``{id: probability in [0, 1]}`` for every question, as the official v2.0 script requires."""
    probs = read_json(path)
    if not isinstance(probs, dict):
        raise DataError(f"{path} holds {json_kind(probs)}, not an object {{question id: no-answer probability}}.")
    for qid, p in probs.items():
        if isinstance(p, bool) or not isinstance(p, int | float):
            raise DataError(f"{path}: the no-answer probability for {_short(qid)} is {json_kind(p)}, not a number.")
        if not 0.0 <= p <= 1.0:  # NaN fails this too
            raise DataError(f"{path}: the no-answer probability for {_short(qid)} is {p}, not between 0 and 1.")
    missing = [qid for qid in references if qid not in probs]
    if missing:
        raise DataError(
            f"{path} has no no-answer probability for {len(missing)} of the {len(references)} questions "
            f"(e.g. {_short(missing[0])})."
        )
    return {qid: float(p) for qid, p in probs.items()}


def score_files(dataset: Path, predictions: Path, na_prob: Path | None) -> dict[str, float]:
    """What the script prints; questions without a prediction score 0, with one warning line."""
    refs = references_from_squad(dataset)
    preds = predictions_from(predictions, refs)
    na = na_probs_from(na_prob, refs) if na_prob else None
    missing = sum(qid not in preds for qid in refs)
    if missing:
        print(
            one_line(f"warning: {missing} of {len(refs)} questions have no prediction in {predictions}; they score 0."),
            file=sys.stderr,
        )
    result = compute(preds, refs, na)
    if all(refs.values()):
        result = {"exact_match": result["exact_match"], "f1": result["f1"]}
    return result
