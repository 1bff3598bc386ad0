"""SQuAD EM/F1 through the local `evaluate` module; `python -m trainer.metrics DATA.json PREDS.json`.

Run as a script it reads an official-format dataset and an ``{id: answer}`` predictions file and
prints ``{"exact_match": ..., "f1": ...}`` as the official evaluation script does.
"""

from __future__ import annotations

import argparse
import json
import sys
from functools import lru_cache
from pathlib import Path

METRIC_PATH = Path(__file__).resolve().parent / "squad_metric" / "squad_metric.py"


@lru_cache(maxsize=1)
def squad_metric():
    import evaluate

    evaluate.logging.set_verbosity_error()
    evaluate.logging.disable_progress_bar()
    return evaluate.load(str(METRIC_PATH))


def compute(
    predictions: dict[str, str], references: dict[str, list[str]], no_answer_probability: dict[str, float] | None = None
) -> dict[str, float]:
    """EM/F1 (and v2.0 HasAns/NoAns/best threshold) for ``{id: text}`` against ``{id: [gold texts]}``."""
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
    return {k: (round(v, 4) if isinstance(v, float) else v) for k, v in result.items()}


def references_from_squad(path: Path) -> dict[str, list[str]]:
    data = json.loads(path.read_text(encoding="utf-8"))
    refs: dict[str, list[str]] = {}
    for article in data["data"]:
        for para in article["paragraphs"]:
            for qa in para["qas"]:
                refs[qa["id"]] = [] if qa.get("is_impossible") else [a["text"] for a in qa["answers"]]
    return refs


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m trainer.metrics", description=__doc__.splitlines()[0])
    parser.add_argument("dataset", type=Path, help="official SQuAD v1.1/v2.0 JSON")
    parser.add_argument("predictions", type=Path, help="JSON object {question id: predicted answer}")
    parser.add_argument("--na-prob", type=Path, help="JSON object {question id: no-answer probability} (v2.0)")
    args = parser.parse_args(argv)
    try:
        refs = references_from_squad(args.dataset)
        preds = json.loads(args.predictions.read_text(encoding="utf-8"))
        na = json.loads(args.na_prob.read_text(encoding="utf-8")) if args.na_prob else None
    except (OSError, ValueError, KeyError) as exc:
        print(f"error: could not read the inputs: {exc}", file=sys.stderr)
        return 2
    result = compute(preds, refs, na)
    if not any(not g for g in refs.values()):
        result = {"exact_match": result["exact_match"], "f1": result["f1"]}
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
