"""SQuAD v1.1 / v2.0 metric as a local `evaluate` module (loaded by path, so it works offline).

The scoring follows the official evaluation scripts: answers are normalised (lower case, no punctuation,
no articles, single spaces), EM and F1 take the best over the gold answers, and an unanswerable
question has the empty string as its only gold answer. With ``no_answer_probability`` it also reports
HasAns/NoAns figures and the best no-answer threshold, as the v2.0 script does.
"""

from __future__ import annotations

import collections
import re
import string
from typing import Any

import datasets
import evaluate

_CITATION = "Rajpurkar et al., SQuAD: 100,000+ Questions for Machine Comprehension of Text (2016); v2.0 (2018)."
_DESCRIPTION = "Exact match and F1 of extractive answers against SQuAD references (v1.1 and v2.0)."
_KWARGS = """
predictions: list of {"id": str, "prediction_text": str, "no_answer_probability": float}
references: list of {"id": str, "answers": {"text": [str], "answer_start": [int]}}
with_thresholds: report best_exact / best_f1 and their no-answer thresholds (v2.0), default True
"""


def normalize_answer(s: str) -> str:
    s = s.lower()
    s = "".join(ch for ch in s if ch not in set(string.punctuation))
    s = re.sub(r"\b(a|an|the)\b", " ", s)
    return " ".join(s.split())


def exact(gold: str, pred: str) -> float:
    return float(normalize_answer(gold) == normalize_answer(pred))


def f1(gold: str, pred: str) -> float:
    gold_toks, pred_toks = normalize_answer(gold).split(), normalize_answer(pred).split()
    if not gold_toks or not pred_toks:
        return float(gold_toks == pred_toks)
    common = collections.Counter(gold_toks) & collections.Counter(pred_toks)
    same = sum(common.values())
    if same == 0:
        return 0.0
    precision, recall = same / len(pred_toks), same / len(gold_toks)
    return 2 * precision * recall / (precision + recall)


def _best_threshold(
    scores: dict[str, float], na_probs: dict[str, float], has_ans: dict[str, bool], preds: dict[str, str]
) -> tuple[float, float]:
    """Best score over no-answer thresholds, as in the official v2.0 script."""
    num_no_ans = sum(not v for v in has_ans.values())
    cur = best = float(num_no_ans)
    best_thresh = 0.0
    for qid in sorted(na_probs, key=lambda k: na_probs[k]):
        if qid not in scores:
            continue
        if has_ans[qid]:
            cur += scores[qid]
        elif preds[qid]:
            cur -= 1.0
        if cur > best:
            best, best_thresh = cur, na_probs[qid]
    return 100.0 * best / len(scores), best_thresh


@evaluate.utils.file_utils.add_start_docstrings(_DESCRIPTION, _KWARGS)
class SquadMetric(evaluate.Metric):  # type: ignore[misc]  # evaluate ships no type information
    def _info(self) -> evaluate.MetricInfo:
        return evaluate.MetricInfo(
            description=_DESCRIPTION,
            citation=_CITATION,
            inputs_description=_KWARGS,
            features=datasets.Features(
                {
                    "predictions": {
                        "id": datasets.Value("string"),
                        "prediction_text": datasets.Value("string"),
                        "no_answer_probability": datasets.Value("float32"),
                    },
                    "references": {
                        "id": datasets.Value("string"),
                        "answers": datasets.features.Sequence(
                            {"text": datasets.Value("string"), "answer_start": datasets.Value("int32")}
                        ),
                    },
                }
            ),
        )

    def _compute(
        self, predictions: list[dict[str, Any]], references: list[dict[str, Any]], with_thresholds: bool = True
    ) -> dict[str, float]:
        preds = {p["id"]: p["prediction_text"] for p in predictions}
        na_probs: dict[str, float | None] = {p["id"]: p.get("no_answer_probability") for p in predictions}
        exact_scores: dict[str, float] = {}
        f1_scores: dict[str, float] = {}
        has_ans: dict[str, bool] = {}
        for ref in references:
            qid = ref["id"]
            golds = [t for t in ref["answers"]["text"] if normalize_answer(t)] or [""]
            has_ans[qid] = golds != [""]
            pred = preds.get(qid, "")
            exact_scores[qid] = max(exact(g, pred) for g in golds)
            f1_scores[qid] = max(f1(g, pred) for g in golds)
        n = len(exact_scores) or 1
        out = {
            "exact_match": 100.0 * sum(exact_scores.values()) / n,
            "f1": 100.0 * sum(f1_scores.values()) / n,
            "total": len(exact_scores),
        }
        if any(not v for v in has_ans.values()):
            for label, keep in (("HasAns", True), ("NoAns", False)):
                ids = [q for q, h in has_ans.items() if h == keep]
                if ids:
                    out[f"{label}_exact"] = 100.0 * sum(exact_scores[q] for q in ids) / len(ids)
                    out[f"{label}_f1"] = 100.0 * sum(f1_scores[q] for q in ids) / len(ids)
                    out[f"{label}_total"] = len(ids)
            probs = {qid: float(v) for qid, v in na_probs.items() if v is not None}
            if with_thresholds and len(probs) == len(na_probs):
                out["best_exact"], out["best_exact_thresh"] = _best_threshold(exact_scores, probs, has_ans, preds)
                out["best_f1"], out["best_f1_thresh"] = _best_threshold(f1_scores, probs, has_ans, preds)
        return out
