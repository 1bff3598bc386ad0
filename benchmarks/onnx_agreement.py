"""ONNX Runtime against torch on a full-size reader: the largest logit gap and whether the answers match.

    python benchmarks/onnx_agreement.py --model DIR [--document FILE] [--questions 20]

Both backends read the same windows (the engine's plan for each question over the document); the gap is
the largest |onnx - torch| over every real token's start and end logit. The export cache is a fresh
temporary folder, so the export itself is part of the run.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--model", required=True, help="a model folder (safetensors)")
    p.add_argument("--document", type=Path, help="text to ask about (default: a synthetic document)")
    p.add_argument("--questions", type=int, default=20)
    a = p.parse_args()
    from assistant.bench import _questions, synthetic_document
    from assistant.core.documents import Document
    from assistant.core.engine import QAEngine
    from assistant.core.model_loading import load_reader

    text = a.document.read_text(encoding="utf-8") if a.document else synthetic_document(130_000)
    document = Document.from_text(text)
    with tempfile.TemporaryDirectory() as cache:
        readers = {b: load_reader(a.model, device="cpu", backend=b, cache_dir=Path(cache)) for b in ("onnx", "torch")}
        engines = {b: QAEngine(r) for b, r in readers.items()}
        indexed = engines["onnx"].index(document)
        gap, windows, same = 0.0, 0, 0
        asked = _questions(text, a.questions)
        for question in asked:
            _, contexts = engines["onnx"].plan(indexed, question)
            onnx, torch = (readers[b].read([(question, contexts)])[0] for b in ("onnx", "torch"))
            for x, y in zip(onnx, torch, strict=True):
                real = np.array([o is not None for o in x.offsets])
                for got, want in ((x.start_logits, y.start_logits), (x.end_logits, y.end_logits)):
                    gap = max(gap, float(np.abs(np.asarray(got) - np.asarray(want))[real].max()))
                windows += 1
            answers = [engines[b].ask(indexed, question) for b in ("onnx", "torch")]
            spans = [[(x.start, x.end) for x in r.answers] for r in answers]
            same += spans[0] == spans[1]
    print(f"{len(asked)} questions, {windows} windows: largest logit gap {gap:.2e}; same answers {same}/{len(asked)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
