"""Does the reader pick the span the reference decoder picks? A benchmark, not a test.

The reference is transformers 4.57's question-answering pipeline, which transformers 5 removed; it runs
in a side virtual environment (never a project dependency)::

    python3 -m venv /tmp/ref && /tmp/ref/bin/pip install torch "transformers>=4.57,<5"
    python benchmarks/reference_agreement.py --reference-python /tmp/ref/bin/python

Both sides read the same full-size DistilBERT with random weights (saved once, loaded by both), the
same SQuAD paragraphs as one-paragraph documents, and answer with no null answer and at most 30 tokens.
Each disagreement is put down to one cause, so that a change to the decoder shows what it fixed.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from collections import Counter
from dataclasses import replace
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared" / "data" / "squad2-dev-sample.json"

REFERENCE = r"""
import json, sys
from transformers import pipeline
model_dir, questions_file = sys.argv[1], sys.argv[2]
qa = pipeline("question-answering", model=model_dir, tokenizer=model_dir, device=-1)
out = []
for item in json.load(open(questions_file)):
    r = qa(question=item["question"], context=item["context"], max_answer_len=30, top_k=1,
           handle_impossible_answer=False, doc_stride=128, max_seq_len=384, max_question_len=64)
    out.append({"start": r["start"], "end": r["end"], "text": r["answer"]})
json.dump(out, sys.stdout)
"""


def single_window_questions(path: Path, limit: int, tokenizer: Any) -> list[dict[str, str]]:
    """Answerable questions whose question and paragraph fit in one 384-token window."""
    data = json.loads(path.read_text(encoding="utf-8"))
    items: list[dict[str, str]] = []
    for article in data["data"]:
        for para in article["paragraphs"]:
            context = para["context"]
            for qa in para["qas"]:
                if qa.get("is_impossible"):
                    continue
                n = len(tokenizer(qa["question"], context)["input_ids"])
                if n <= 384:
                    items.append({"id": qa["id"], "question": qa["question"], "context": context})
    return items[:limit]


def ours(model_dir: Path, items: list[dict[str, str]]) -> list[dict[str, Any]]:
    from assistant.core.documents import Document
    from assistant.core.engine import QAEngine
    from assistant.core.model_loading import load_reader

    engine = QAEngine(load_reader(str(model_dir)))
    decode = replace(engine.settings.decode, allow_null=False, min_confidence=0.0, top_k=1)
    engine = engine.with_settings(decode=decode)
    out = []
    for item in items:
        indexed = engine.index(Document.from_text(item["context"]))
        best = engine.ask(indexed, item["question"]).best
        out.append(
            {
                "start": best.start if best else -1,
                "end": best.end if best else -1,
                "text": best.text if best else "",
                "boundaries": [p.end for p in indexed.passages[:-1]],
            }
        )
    return out


def cause(mine: dict[str, Any], ref: dict[str, Any], context: str) -> str:
    """The likeliest reason the two best spans differ."""
    if any(ref["start"] < b < ref["end"] for b in mine["boundaries"]):
        return "reference span crosses a passage boundary"
    if max(mine["start"], ref["start"]) < min(mine["end"], ref["end"]):
        return "overlapping spans (word snapping or span edges)"
    if context.count(ref["text"]) > 1 or context.count(mine["text"]) > 1:
        return "repeated text (the reference sums identical answers)"
    return "other"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reference-python", required=True, help="python of a venv with transformers<5")
    parser.add_argument("--data", type=Path, default=SHARED)
    parser.add_argument("--limit", type=int, default=100)
    args = parser.parse_args(argv)
    from transformers import AutoTokenizer

    from assistant.core.random_model import random_distilbert

    with tempfile.TemporaryDirectory() as tmp:
        text = " ".join(json.dumps(json.loads(args.data.read_text(encoding="utf-8"))).split())
        model_dir = random_distilbert(Path(tmp) / "model", text)
        tokenizer = AutoTokenizer.from_pretrained(str(model_dir), trust_remote_code=False)
        items = single_window_questions(args.data, args.limit, tokenizer)
        questions_file = Path(tmp) / "questions.json"
        questions_file.write_text(json.dumps(items), encoding="utf-8")
        ref_out = subprocess.run(
            [args.reference_python, "-c", REFERENCE, str(model_dir), str(questions_file)],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        reference = json.loads(ref_out)
        mine = ours(model_dir, items)
    causes = Counter(
        cause(m, r, item["context"])
        for m, r, item in zip(mine, reference, items, strict=True)
        if (m["start"], m["end"]) != (r["start"], r["end"])
    )
    agree = len(items) - sum(causes.values())
    print(json.dumps({"questions": len(items), "agree": agree, "rate": agree / len(items), "causes": causes}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
