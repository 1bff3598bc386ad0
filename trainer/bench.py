"""`python -m trainer.bench`: training throughput of this trainer against the plain recipe and the notebook.

All run the same model (full-size DistilBERT, random weights) on the same synthetic data whose context
lengths follow SQuAD's distribution, side by side in one process: this trainer (dynamic padding, length
groups, fused AdamW, batch 32);
the plain Hugging Face recipe (``DataCollatorWithPadding`` and the Trainer's defaults, batch 16); the
notebook (every window padded to 384 tokens, batch 16). Figures are windows per second: the median step
time after a warm-up step. Answer quality against the recipe is ``benchmarks/trainer_ablation.py``.
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from transformers import TrainerCallback

from assistant.core.model_loading import load_pretrained
from assistant.core.random_model import random_distilbert
from assistant.core.reader import WindowSettings
from assistant.squad.formats import Answer, QAExample
from trainer.features import training_features

_WORDS = [f"w{i}" for i in range(3000)]


def squad_like_examples(n: int, seed: int = 0) -> list[QAExample]:
    """Contexts of about SQuAD's length (log-normal, median ~115 words, a tail past one window)."""
    rng = random.Random(seed)
    out = []
    for i in range(n):
        words = max(20, min(650, int(rng.lognormvariate(4.75, 0.42))))
        context = " ".join(rng.choice(_WORDS) for _ in range(words)) + "."
        tokens = context.split()
        a = rng.randrange(0, len(tokens) - 3)
        answer = " ".join(tokens[a : a + rng.randint(1, 3)]).rstrip(".")
        start = len(" ".join(tokens[:a])) + (1 if a else 0)
        question = " ".join(rng.choice(_WORDS) for _ in range(rng.randint(6, 14))) + "?"
        out.append(QAExample(f"b{i}", question, context, [Answer(answer, start)]))
    return out


class StepTimer(TrainerCallback):
    def __init__(self) -> None:
        self.times: list[float] = []
        self._t = 0.0

    def on_step_begin(self, args: Any, state: Any, control: Any, **kw: Any) -> None:
        self._t = time.perf_counter()

    def on_step_end(self, args: Any, state: Any, control: Any, **kw: Any) -> None:
        self.times.append(time.perf_counter() - self._t)


@dataclass(frozen=True)
class Setup:
    """One configuration's batching, precision and optimizer."""

    name: str
    batch: int
    pad_to_384: bool = False
    mixed: bool = False
    """bf16 and TF32 on a GPU that supports them, as this trainer does."""
    grouping: bool = False
    """Length groups, as this trainer."""
    optim: str | None = None
    """None: the Trainer's default."""
    workers: int = 0


SETUPS = {
    "ours": Setup("this trainer (dynamic padding, batch 32)", 32, mixed=True, optim="adamw_torch_fused"),
    "ours+groups": Setup("this trainer, --group-by-length", 32, mixed=True, grouping=True, optim="adamw_torch_fused"),
    "recipe": Setup("plain recipe (DataCollatorWithPadding, Trainer defaults, batch 16)", 16),
    "notebook": Setup("notebook (pad 384, fp32, batch 16)", 16, pad_to_384=True, optim="adamw_torch"),
}


def _arguments(setup: Setup, steps: int, device: str, epochs: float | None) -> Any:
    from transformers import TrainingArguments

    cuda = device == "cuda"
    bf16 = cuda and setup.mixed and torch.cuda.is_bf16_supported()
    extra: dict[str, Any] = {"optim": setup.optim} if setup.optim else {}
    return (
        TrainingArguments(
            output_dir=tempfile.mkdtemp(),
            per_device_train_batch_size=setup.batch,
            max_steps=-1 if epochs else steps,
            num_train_epochs=epochs or 1,
            learning_rate=3e-5,
            report_to="none",
            disable_tqdm=True,
            save_strategy="no",
            logging_strategy="no",
            use_cpu=not cuda,
            bf16=bf16,
            tf32=(cuda and setup.mixed) or None,
            train_sampling_strategy="group_by_length" if setup.grouping else "random",
            dataloader_num_workers=setup.workers if cuda else 0,
            dataloader_pin_memory=cuda,
            **extra,
        ),
        bf16,
    )


def measure(
    model_dir: Path, examples: list[QAExample], setup: Setup, steps: int, device: str, epochs: float | None = None
) -> dict[str, Any]:
    import datasets
    from transformers import DataCollatorWithPadding, PrinterCallback, Trainer

    tokenizer, model = load_pretrained(str(model_dir), attn_implementation="sdpa")
    features = training_features(examples, tokenizer, WindowSettings())
    cols = {k: features[k] for k in ("input_ids", "attention_mask", "start_positions", "end_positions")}
    if setup.pad_to_384:
        pad = tokenizer.pad_token_id
        cols["attention_mask"] = [m + [0] * (384 - len(m)) for m in cols["attention_mask"]]
        cols["input_ids"] = [x + [pad] * (384 - len(x)) for x in cols["input_ids"]]
    cols["length"] = [len(x) for x in cols["input_ids"]]
    ds = datasets.Dataset.from_dict(cols)
    args, bf16 = _arguments(setup, steps, device, epochs)
    timer = StepTimer()
    collator = DataCollatorWithPadding(tokenizer, pad_to_multiple_of=8 if device == "cuda" and setup.mixed else None)
    trainer = Trainer(model=model, args=args, train_dataset=ds, data_collator=collator, callbacks=[timer])
    trainer.remove_callback(PrinterCallback)
    t0 = time.perf_counter()
    trainer.train()
    wall = time.perf_counter() - t0
    step = statistics.median(timer.times[1:] or timer.times)
    return {
        "settings": setup.name + (", bf16" if bf16 else ""),
        "windows": len(ds),
        "steps": len(timer.times),
        "median_step_s": round(step, 4),
        "windows_per_s": round(setup.batch / step, 2),
        "wall_s": round(wall, 1),
        "mean_tokens_per_window": round(sum(cols["length"]) / len(cols["length"]), 1),
    }


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m trainer.bench", description=__doc__.splitlines()[0])
    p.add_argument("--examples", type=int, default=640, help="synthetic SQuAD-like examples (default: 640)")
    p.add_argument("--steps", type=int, default=8, help="optimizer steps per configuration (default: 8)")
    p.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    p.add_argument("--epochs", type=float, help="train whole epochs instead of --steps (GPU wall-time figure)")
    p.add_argument("--only", choices=list(SETUPS), action="append", help="run this configuration (repeatable)")
    args = p.parse_args(argv)
    examples = squad_like_examples(args.examples)
    rows: dict[str, dict[str, Any]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        text = " ".join(_WORDS) + " " + " ".join(e.question for e in examples[:50])
        model_dir = random_distilbert(Path(tmp) / "m", text)
        for key in args.only or list(SETUPS):
            rows[key] = measure(model_dir, examples, SETUPS[key], args.steps, args.device, args.epochs)
            print(json.dumps(rows[key]), flush=True)
    if "ours" in rows and len(rows) > 1:
        ours = rows["ours"]["windows_per_s"]
        speedups = {f"speedup_vs_{k}": round(ours / r["windows_per_s"], 2) for k, r in rows.items() if k != "ours"}
        device = torch.cuda.get_device_name() if args.device == "cuda" else "cpu"
        print(json.dumps(speedups | {"device": device, "threads": torch.get_num_threads()}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
