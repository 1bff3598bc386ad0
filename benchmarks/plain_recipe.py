"""The plain Hugging Face QA recipe (course chapter 7 / run_qa.py), evaluated the way this project evaluates.

    python benchmarks/plain_recipe.py --base /tmp/minilm --train A.json --eval B.json --seed 0

Features come from ``Dataset.map`` with ``prepare_train_features`` as in the course (question stripped,
``truncation="only_second"``, stride, overflowing windows, windows without the answer labelled at CLS),
batches from ``DataCollatorWithPadding``, training from a ``Trainer`` with its defaults (shuffled
``RandomSampler``, the default AdamW, linear schedule, dropout on). Evaluation is the project's
``evaluate_reader``, so the figures compare with ``assistant train`` exactly. It is the yardstick of
``benchmarks/trainer_ablation.py`` and ``python -m trainer.bench --recipe``.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from dataclasses import dataclass, field
from typing import Any

import torch
from transformers import TrainerCallback


@dataclass
class RecipeSettings:
    """The issue's settings: 8 epochs, LR 1e-4, batch 16, 10% warm-up, weight decay 0.01, 384 / 128."""

    epochs: float = 8.0
    learning_rate: float = 1e-4
    batch_size: int = 16
    warmup_ratio: float = 0.1
    weight_decay: float = 0.01
    max_length: int = 384
    stride: int = 128
    seed: int = 0
    args: dict[str, Any] = field(default_factory=dict)
    """Extra TrainingArguments, for ablations (e.g. ``train_sampling_strategy="group_by_length"``)."""


class StepTimer(TrainerCallback):
    """Time spent in optimizer steps only: windows/s that leaves evaluation and set-up out, for both trainers."""

    def __init__(self) -> None:
        self.seconds = 0.0
        self.windows = 0
        self._t = 0.0

    def on_step_begin(self, args: Any, state: Any, control: Any, **kw: Any) -> None:
        self._t = time.perf_counter()

    def on_step_end(self, args: Any, state: Any, control: Any, **kw: Any) -> None:
        self.seconds += time.perf_counter() - self._t

    @property
    def windows_per_s(self) -> float:
        return self.windows / self.seconds if self.seconds else 0.0


def prepare_train_features(examples: dict[str, list[Any]], tokenizer: Any, s: RecipeSettings) -> Any:
    """The course's function, with dynamic padding (the collator pads)."""
    questions = [q.strip() for q in examples["question"]]
    inputs = tokenizer(
        questions,
        examples["context"],
        max_length=s.max_length,
        truncation="only_second",
        stride=s.stride,
        return_overflowing_tokens=True,
        return_offsets_mapping=True,
    )
    offset_mapping = inputs.pop("offset_mapping")
    sample_map = inputs.pop("overflow_to_sample_mapping")
    start_positions, end_positions = [], []
    for i, offset in enumerate(offset_mapping):
        answer = examples["answers"][sample_map[i]]
        start_char = answer["answer_start"][0]
        end_char = start_char + len(answer["text"][0])
        sequence_ids = inputs.sequence_ids(i)
        idx = 0
        while sequence_ids[idx] != 1:
            idx += 1
        context_start = idx
        while idx < len(sequence_ids) and sequence_ids[idx] == 1:
            idx += 1
        context_end = idx - 1
        if offset[context_start][0] > start_char or offset[context_end][1] < end_char:
            start_positions.append(0)
            end_positions.append(0)
            continue
        idx = context_start
        while idx <= context_end and offset[idx][0] <= start_char:
            idx += 1
        start_positions.append(idx - 1)
        idx = context_end
        while idx >= context_start and offset[idx][1] >= end_char:
            idx -= 1
        end_positions.append(idx + 1)
    inputs["start_positions"] = start_positions
    inputs["end_positions"] = end_positions
    return inputs


def squad_rows(path: str) -> list[dict[str, Any]]:
    """Answerable questions of a SQuAD JSON file as the hub's rows (first answer used for the labels)."""
    from assistant.squad.formats import load_data

    return [
        {
            "id": e.id,
            "question": e.question,
            "context": e.context,
            "answers": {"text": [a.text for a in e.answers], "answer_start": [a.answer_start for a in e.answers]},
        }
        for e in load_data(path, "train").examples
        if e.answers
    ]


def evaluate(model: Any, tokenizer: Any, eval_path: str, s: RecipeSettings) -> dict[str, float]:
    """The project's evaluation (decoder and SQuAD metric) of a model on the answerable questions of a file."""
    from assistant.core.reader import Reader, WindowSettings
    from assistant.squad.evaluation import evaluate_reader
    from assistant.squad.formats import load_data

    data = load_data(eval_path, "validation")
    examples = [e for e in data.examples if e.answers]
    window = WindowSettings(max_length=s.max_length, stride=s.stride, max_question_tokens=min(64, s.max_length // 4))
    reader = Reader(model, tokenizer, next(model.parameters()).device, window=window)
    return evaluate_reader(reader, examples, False)


def train_recipe(base: str, train_path: str, eval_path: str, s: RecipeSettings) -> dict[str, Any]:
    """Train with the plain recipe and evaluate; returns EM, F1, windows and training windows/s."""
    import datasets
    from transformers import (
        AutoModelForQuestionAnswering,
        AutoTokenizer,
        DataCollatorWithPadding,
        PrinterCallback,
        Trainer,
        TrainingArguments,
        set_seed,
    )

    set_seed(s.seed)  # as run_qa.py: before the model, so the new QA head is seeded too
    tokenizer = AutoTokenizer.from_pretrained(base)
    model = AutoModelForQuestionAnswering.from_pretrained(base)
    raw = datasets.Dataset.from_list(squad_rows(train_path))
    train = raw.map(lambda b: prepare_train_features(b, tokenizer, s), batched=True, remove_columns=raw.column_names)
    timer = StepTimer()
    with tempfile.TemporaryDirectory() as out:
        args = TrainingArguments(
            output_dir=out,
            num_train_epochs=s.epochs,
            learning_rate=s.learning_rate,
            per_device_train_batch_size=s.batch_size,
            warmup_steps=s.warmup_ratio,
            weight_decay=s.weight_decay,
            seed=s.seed,
            save_strategy="no",
            report_to="none",
            disable_tqdm=True,
            use_cpu=not torch.cuda.is_available(),
            **s.args,
        )
        trainer = Trainer(
            model=model,
            args=args,
            train_dataset=train,
            data_collator=DataCollatorWithPadding(tokenizer),
            processing_class=tokenizer,
            callbacks=[timer],
        )
        trainer.remove_callback(PrinterCallback)
        trainer.train()
    timer.windows = round(len(train) * s.epochs)  # every window once an epoch (no drop_last)
    model.eval()
    scores = evaluate(model, tokenizer, eval_path, s)
    return {
        "trainer": "plain recipe",
        "seed": s.seed,
        "exact_match": round(scores["exact_match"], 2),
        "f1": round(scores["f1"], 2),
        "windows": len(train),
        "windows_per_s": round(timer.windows_per_s, 2),
    }


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--base", required=True, help="base encoder folder (e.g. all-MiniLM-L6-v2)")
    p.add_argument("--train", required=True, help="SQuAD JSON to train on")
    p.add_argument("--eval", required=True, help="SQuAD JSON to evaluate on (answerable questions)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--epochs", type=float, default=8.0)
    p.add_argument("--threads", type=int, default=2)
    a = p.parse_args(argv)
    torch.set_num_threads(a.threads)
    print(json.dumps(train_recipe(a.base, a.train, a.eval, RecipeSettings(epochs=a.epochs, seed=a.seed))))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
