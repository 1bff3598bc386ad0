"""What an answer costs in bare forward passes on a long document: answer p50 / one 1x384 pass, same process.

    python benchmarks/pass_ratio.py --model MODEL_DIR --document /usr/share/vim/vim90/doc/version9.txt

Questions are sentences' key words picked from the document itself (seeded), so retrieval has
something to find; the figure that matters is the ratio, which the machine's speed cancels out of.
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
import time
from pathlib import Path

import numpy as np


def questions_from(text: str, n: int, seed: int = 0) -> list[str]:
    words = [w.strip(".,;:()'\"") for w in text.split() if len(w) > 5 and w.isalpha()]
    rng = random.Random(seed)
    return [f"what is {rng.choice(words)} {rng.choice(words)}?" for _ in range(n)]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", required=True)
    parser.add_argument("--document", type=Path, required=True)
    parser.add_argument("--questions", type=int, default=20)
    parser.add_argument("--backend", default="torch", choices=["torch", "onnx"])
    parser.add_argument("--read-windows", type=float, default=None)
    args = parser.parse_args(argv)

    from dataclasses import replace

    from assistant.core.documents import load_document
    from assistant.core.engine import QAEngine
    from assistant.core.model_loading import load_reader
    from assistant.paths import user_cache_dir

    reader = load_reader(args.model, backend=args.backend, cache_dir=user_cache_dir())
    engine = QAEngine(reader)
    if args.read_windows:
        engine = engine.with_settings(read_windows=args.read_windows)
    engine = engine.with_settings(decode=replace(engine.settings.decode, min_confidence=0.0))
    indexed = engine.index(load_document(args.document))
    questions = questions_from(indexed.document.text, args.questions)
    ids = np.full((1, 384), 1000, dtype=np.int64)
    mask = np.ones((1, 384), dtype=np.int64)
    bare, answers, windows = [], [], []
    engine.ask(indexed, questions[0])  # warm-up
    for question in questions:
        t0 = time.perf_counter()
        reader.backend.logits(ids, mask, None)
        bare.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        engine.ask(indexed, question)
        answers.append(time.perf_counter() - t0)
        windows.append(len(engine.plan(indexed, question)[1]))
    result = {
        "backend": args.backend,
        "read_windows": engine.settings.read_windows,
        "bare_1x384_ms_p50": statistics.median(bare) * 1000,
        "answer_ms_p50": statistics.median(answers) * 1000,
        "pass_ratio_p50": statistics.median(answers) / statistics.median(bare),
        "windows_per_question_mean": statistics.mean(windows),
    }
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
