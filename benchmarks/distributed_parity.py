"""EM/F1 of a 2-process launch (torchrun, gloo on the CPU) against one process at the same global batch, over seeds.

    python benchmarks/distributed_parity.py --seeds 0 1 2

A tiny random-weight model trained on synthetic SQuAD-style questions (``tests/synthetic.py``), 3 epochs: small
enough for a 2-core machine, long enough for the reader to learn (F1 well above chance). Each seed trains once
with ``torchrun --standalone --nproc_per_node 2`` at ``--batch-size 8`` and once alone at ``--batch-size 16``;
the script prints each run's EM/F1 and the mean and spread of each side.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.helpers import save_tiny_model
from tests.synthetic import VOCAB, make_examples, write_jsonl

SETTINGS = ["--epochs", "3", "--max-length", "64", "--stride", "16", "--device", "cpu", "--events-only"]
SETTINGS += ["--sanity-steps", "100000", "--save-steps", "100000"]


def _train(launcher: list[str], base: Path, data: Path, output: Path, batch: int, seed: int) -> dict[str, float]:
    argv = [*launcher, "--base", str(base), "--data", str(data), "--output", str(output)]
    argv += ["--batch-size", str(batch), "--seed", str(seed), *SETTINGS]
    env = os.environ | {"HF_HUB_OFFLINE": "1", "OMP_NUM_THREADS": "1"}
    subprocess.run(argv, check=True, capture_output=True, env=env)
    scores = json.loads((output / "metrics.json").read_text())["eval"]
    return {"em": scores["exact_match"], "f1": scores["f1"]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    args = parser.parse_args()
    torchrun = shutil.which("torchrun", path=str(Path(sys.executable).parent))
    if torchrun is None:
        raise SystemExit("torchrun is not installed beside this Python")
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        base = save_tiny_model(root / "base", VOCAB, dim=32, layers=1, heads=2, max_positions=128)
        data = write_jsonl(root / "train.jsonl", make_examples(1200))
        sides = {
            "2 processes × 8": [torchrun, "--standalone", "--nproc_per_node", "2", "-m", "trainer"],
            "1 process × 16": [sys.executable, "-m", "trainer"],
        }
        results: dict[str, list[dict[str, float]]] = {name: [] for name in sides}
        for seed in args.seeds:
            for name, launcher in sides.items():
                scores = _train(launcher, base, data, root / f"{name[0]}-{seed}", 8 if name[0] == "2" else 16, seed)
                results[name].append(scores)
                print(f"seed {seed}  {name}: EM {scores['em']:.2f}  F1 {scores['f1']:.2f}", flush=True)
        for name, runs in results.items():
            em, f1 = [r["em"] for r in runs], [r["f1"] for r in runs]
            spread = f" ± {statistics.stdev(f1):.2f}" if len(f1) > 1 else ""
            print(f"{name}: EM {statistics.mean(em):.2f}  F1 {statistics.mean(f1):.2f}{spread} over {len(runs)} seeds")


if __name__ == "__main__":
    main()
