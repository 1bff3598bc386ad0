"""What learning from a user's annotations does to a reader: better on their document, worse elsewhere?

    python benchmarks/annotation_forgetting.py --base /tmp/minilm --original NORMANS.json \
        --document COMPLEXITY.json --sizes 10 30 100 \
        --variants "old:epochs=2,learning_rate=5e-5,batch_size=32" "lower:learning_rate=1e-5,replay_ratio=2"

1. The reader: ``--base`` trained with the plain recipe's settings (8 epochs, LR 1e-4, batch 16) on the
   first 60% of ``--original``'s paragraphs; the other 40% are its held-out questions. ``--reader DIR``
   reuses (or first writes) that reader.
2. The user's document: ``--document``'s answerable questions in a seeded order; the first N are the
   annotations, and the questions after the largest N are "the document's own questions", the same for
   every N.
3. For each variant and N, the reader is fine-tuned on the N annotations (``assistant train``'s own
   ``run_training``) and evaluated on the document's questions, its held-out questions and its original
   training questions. ``replay_ratio=K`` adds K x N questions drawn from the reader's original training
   data (``--replay-data``: what the app replays when the base run's data is at hand).

Variants set ``TrainConfig`` fields; the table gives F1 before and after, and the change.

``--synthetic DIR`` measures where forgetting is real, with no download: a tiny DistilBERT (random weights,
local vocabulary) learns the tests' synthetic facts (who lives, works, was born where) to 100 F1, and the
user's document asks new kinds of question (who plays, drives what) on contexts that also state the known
facts. DIR receives the base, the original data and the document; the reader trains with the tests'
settings, and every training uses their short windows (64 tokens, stride 16).
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import tempfile
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from assistant.squad.formats import QAExample, load_data  # noqa: E402

READER_SETTINGS = {"epochs": 8.0, "learning_rate": 1e-4, "batch_size": 16, "warmup_ratio": 0.1, "seed": 0}
SYNTHETIC_WINDOWS = {"max_length": 64, "stride": 16}
SYNTHETIC_READER = {"epochs": 12.0, "learning_rate": 1e-3, "batch_size": 16, "warmup_ratio": 0.05, "seed": 0}


def write_jsonl(path: Path, examples: list[QAExample]) -> Path:
    """SQuAD-format JSONL rows, as the app writes annotations."""
    with path.open("w", encoding="utf-8") as f:
        for e in examples:
            answers = {"text": [a.text for a in e.answers], "answer_start": [a.answer_start for a in e.answers]}
            row = {"id": e.id, "title": e.title, "question": e.question, "context": e.context, "answers": answers}
            f.write(json.dumps(row) + "\n")
    return path


def split_by_paragraph(examples: list[QAExample], fraction: float) -> tuple[list[QAExample], list[QAExample]]:
    """The questions on the first ``fraction`` of the paragraphs, and the rest (no paragraph in both)."""
    contexts = list(dict.fromkeys(e.context for e in examples))
    first = set(contexts[: round(len(contexts) * fraction)])
    return [e for e in examples if e.context in first], [e for e in examples if e.context not in first]


def write_synthetic(folder: Path) -> tuple[str, str, str]:
    """The tiny base, the facts it learns first and the user's document, written once into ``folder``."""
    from tests.helpers import save_tiny_model
    from tests.synthetic import DOCUMENT_VOCAB, make_document_examples, make_examples
    from tests.synthetic import write_jsonl as write_rows

    base = folder / "base"
    if not (base / "config.json").exists():
        save_tiny_model(base, DOCUMENT_VOCAB, dim=64, layers=2, heads=4, max_positions=128)
    original = write_rows(folder / "original.jsonl", make_examples(1000, seed=0))
    document = write_rows(folder / "document.jsonl", make_document_examples(400, seed=5))
    return str(base), str(original), str(document)


def train(base: str, data: Path, evaluate: Path, output: Path, extra: list[Path], **settings: Any) -> dict[str, Any]:
    from assistant.runs.config import TrainConfig
    from trainer.train import run_training

    config = TrainConfig(
        base_model=base,
        data=str(data),
        eval_data=str(evaluate),
        extra_data=[str(p) for p in extra],
        output=str(output),
        device="cpu",
        save_steps=10_000,
        **settings,
    )
    result = run_training(config)
    if result.metrics is None or result.metrics.eval is None:
        raise SystemExit(f"training failed: {result.message}")
    return {"steps": result.metrics.global_step, "windows": result.metrics.train_windows}


def f1_on(model_dir: Path, sets: dict[str, list[QAExample]]) -> dict[str, float]:
    from assistant.core.model_loading import load_reader
    from assistant.squad.evaluation import evaluate_reader

    reader = load_reader(str(model_dir), device="cpu", backend="torch")
    return {name: round(evaluate_reader(reader, examples, False)["f1"], 2) for name, examples in sets.items()}


def parse_variant(spec: str) -> tuple[str, dict[str, Any]]:
    name, _, rest = spec.partition(":")
    settings: dict[str, Any] = {}
    for item in filter(None, rest.split(",")):
        key, _, raw = item.partition("=")
        settings[key] = json.loads(raw)
    return name, settings


def parse_args() -> tuple[argparse.Namespace, dict[str, Any], dict[str, Any]]:
    """The options, the reader's training settings, and the window settings every training uses."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--base", help="the pretrained encoder the reader starts from")
    p.add_argument("--original", help="SQuAD JSON the reader learns first (60%% / 40%% held out)")
    p.add_argument("--document", help="SQuAD JSON of the user's document (annotations)")
    p.add_argument("--synthetic", type=Path, help="write a tiny base and synthetic data here and use them instead")
    p.add_argument("--reader", type=Path, help="where the reader is kept (trained once if absent)")
    p.add_argument("--sizes", type=int, nargs="+", default=[10, 30, 100])
    p.add_argument("--variants", nargs="+", default=["old:epochs=2,learning_rate=5e-5,batch_size=32"])
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--jsonl", type=Path, help="append each row here as it finishes")
    a = p.parse_args()
    windows: dict[str, Any] = {}
    reader_settings = READER_SETTINGS
    if a.synthetic:
        a.synthetic.mkdir(parents=True, exist_ok=True)
        a.base, a.original, a.document = write_synthetic(a.synthetic)
        windows, reader_settings = SYNTHETIC_WINDOWS, SYNTHETIC_READER
    elif not (a.base and a.original and a.document):
        p.error("give --base, --original and --document, or --synthetic DIR")
    return a, reader_settings, windows


def main() -> int:
    a, reader_settings, windows = parse_args()
    import torch

    torch.set_num_threads(2)
    original = [e for e in load_data(a.original, "train").examples if e.answers]
    learned, held_out = split_by_paragraph(original, 0.6)
    document = [e for e in load_data(a.document, "train").examples if e.answers]
    random.Random(a.seed).shuffle(document)
    own = document[max(a.sizes) :]
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        reader = a.reader or tmp / "reader"
        write_jsonl(tmp / "learned.jsonl", learned)
        if not (reader / "config.json").exists():
            write_jsonl(tmp / "held_out.jsonl", held_out)
            train(a.base, tmp / "learned.jsonl", tmp / "held_out.jsonl", reader, [], **reader_settings, **windows)
        sets = {"document": own, "held-out": held_out, "original": learned}
        before = f1_on(reader, sets)
        print(json.dumps({"reader": str(reader), "before": before, "sizes": {k: len(v) for k, v in sets.items()}}))
        write_jsonl(tmp / "own.jsonl", own)
        for spec in a.variants:
            name, settings = parse_variant(spec)
            if settings.get("replay_ratio"):
                settings["replay_data"] = str(tmp / "learned.jsonl")
            for n in a.sizes:
                notes = write_jsonl(tmp / f"notes-{n}.jsonl", document[:n])
                out = tmp / f"{name}-{n}"
                info = train(str(reader), notes, tmp / "own.jsonl", out, [], **{"seed": a.seed, **windows, **settings})
                after = f1_on(out, sets)
                row = {"variant": spec, "annotations": n, **info, "before": before, "after": after}
                row["change"] = {k: round(after[k] - before[k], 2) for k in after}
                print(json.dumps(row), flush=True)
                if a.jsonl:
                    with a.jsonl.open("a", encoding="utf-8") as f:
                        f.write(json.dumps(row) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
