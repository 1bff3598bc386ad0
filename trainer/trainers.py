"""The Trainer subclasses and their arguments: a QA Trainer that evaluates with the reader's own decoder, and
distillation from a teacher on top of it."""

from __future__ import annotations

import math
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch.utils.data import Dataset
from transformers import Trainer, TrainingArguments

from assistant.core.reader import Reader, WindowSettings
from assistant.runs.config import TrainConfig, launch_processes
from assistant.squad.evaluation import evaluate_reader
from assistant.squad.formats import QAExample


class QuestionSet(Dataset[QAExample]):
    """The test questions as the Trainer's ``eval_dataset``: the QA Trainer decodes whole examples, not windows."""

    def __init__(self, examples: list[QAExample], version_2: bool) -> None:
        self.examples = examples
        self.version_2 = version_2

    def __len__(self) -> int:
        return len(self.examples)

    def __getitem__(self, index: int) -> QAExample:
        return self.examples[index]


class QATrainer(Trainer):
    """A Trainer whose ``evaluate`` runs the reader's decoder (``evaluate_reader``) on the test questions.

    With ``eval_strategy="epoch"`` the Trainer calls it after every epoch; it returns ``eval_exact_match``,
    ``eval_f1`` and the metric's other figures, logs them and tells the callbacks (``on_evaluate``), as the
    Trainer's own ``evaluate`` does. Only the main process evaluates.
    """

    def __init__(
        self,
        *args: Any,
        window: WindowSettings,
        on_eval_start: Callable[[int], None] | None = None,
        **kw: Any,
    ) -> None:
        super().__init__(*args, **kw)
        self.window = window
        self.on_eval_start = on_eval_start

    def evaluate(
        self,
        eval_dataset: Any = None,
        ignore_keys: list[str] | None = None,
        metric_key_prefix: str = "eval",
    ) -> dict[str, float]:
        questions = eval_dataset if eval_dataset is not None else self.eval_dataset
        if not isinstance(questions, QuestionSet):
            raise TypeError("QATrainer evaluates a QuestionSet of examples, not tokenized windows")
        if not self.is_world_process_zero():
            return {}
        if self.on_eval_start is not None:
            self.on_eval_start(len(questions))
        model = self.model
        assert model is not None
        was_training = model.training
        try:
            reader = Reader(model, self.processing_class, next(model.parameters()).device, window=self.window)
            result = evaluate_reader(reader, questions.examples, questions.version_2)
        finally:
            if was_training:
                model.train()
        metrics = {f"{metric_key_prefix}_{key}": value for key, value in result.items()}
        self.log(metrics)
        self.control = self.callback_handler.on_evaluate(self.args, self.state, self.control, metrics)
        return metrics


class DistillationTrainer(QATrainer):
    """SQuAD loss mixed with KL to a teacher's start/end distributions at temperature T."""

    def __init__(self, *args: Any, teacher: torch.nn.Module, temperature: float, alpha: float, **kw: Any) -> None:
        super().__init__(*args, **kw)
        self.teacher = teacher.eval()
        self.temperature = temperature
        self.alpha = alpha

    def compute_loss(
        self,
        model: torch.nn.Module,
        inputs: dict[str, Any],
        return_outputs: bool = False,
        num_items_in_batch: torch.Tensor | int | None = None,
    ) -> torch.Tensor | tuple[torch.Tensor, Any]:
        outputs = model(**inputs)
        with torch.no_grad():
            teacher_inputs = {k: v for k, v in inputs.items() if k in ("input_ids", "attention_mask")}
            t_out = self.teacher(**teacher_inputs)
        t = self.temperature
        pairs = ((outputs.start_logits, t_out.start_logits), (outputs.end_logits, t_out.end_logits))
        soft = sum(
            torch.nn.functional.kl_div(torch.log_softmax(s / t, -1), torch.softmax(tt / t, -1), reduction="batchmean")
            * t
            * t
            for s, tt in pairs
        )
        loss: torch.Tensor = self.alpha * outputs.loss + (1 - self.alpha) * soft / 2
        return (loss, outputs) if return_outputs else loss


@dataclass(frozen=True)
class Precision:
    bf16: bool = False
    fp16: bool = False


def precision(config: TrainConfig, device: str) -> Precision:
    if device == "cpu" or config.precision == "fp32":
        return Precision()
    if config.precision == "bf16" or (config.precision == "auto" and torch.cuda.is_bf16_supported()):
        return Precision(bf16=True)
    return Precision(fp16=True)


def warmup_steps(config: TrainConfig, batches_per_epoch: int) -> float:
    """``warmup_ratio`` as the Trainer's ``warmup_steps``: a fraction below 1, else every step's count.

    The Trainer reads a value of 1 or more as a step count, so a ratio of 1.0 used to warm up for one step.
    """
    if config.warmup_ratio < 1:
        return config.warmup_ratio
    updates = math.ceil(batches_per_epoch / config.gradient_accumulation)
    return config.max_steps if config.max_steps > 0 else math.ceil(updates * config.epochs)


def training_arguments(config: TrainConfig, device: str, output_dir: Path, n_windows: int) -> TrainingArguments:
    """The Trainer's arguments: checkpoints every ``save_steps`` for resuming, an evaluation after every epoch.

    Optimizer, schedule and batch order are the plain recipe's (the Trainer's default fused AdamW, linear
    decay, a plain shuffle), so on the same data and seed it trains the recipe's model exactly; padding is
    per batch. ``group_by_length`` sorts windows into batches of similar length: less padding, but a less
    random order, which trained worse as often as better here (``benchmarks/trainer_ablation.py``; README).
    """
    use_cuda = device.startswith("cuda")
    if use_cuda:
        torch.backends.cuda.matmul.allow_tf32 = True
        torch.backends.cudnn.allow_tf32 = True
    processes = launch_processes()  # a launch's ranks share each optimizer step
    batches = math.ceil(n_windows / (config.batch_size * processes))
    steps_per_epoch = max(1, n_windows // (config.batch_size * processes * config.gradient_accumulation))
    workers = config.workers if config.workers is not None else (min(4, (os.cpu_count() or 1) - 1) if use_cuda else 0)
    mixed = precision(config, device)
    return TrainingArguments(
        output_dir=str(output_dir),
        num_train_epochs=config.epochs,
        max_steps=config.max_steps,
        learning_rate=config.learning_rate,
        per_device_train_batch_size=config.batch_size,
        gradient_accumulation_steps=config.gradient_accumulation,
        warmup_steps=warmup_steps(config, batches),
        weight_decay=config.weight_decay,
        lr_scheduler_type="linear",
        train_sampling_strategy="group_by_length" if config.group_by_length else "random",
        logging_steps=config.logging_steps or max(1, min(50, steps_per_epoch // 10)),
        logging_strategy="steps",
        eval_strategy="epoch",
        save_strategy="steps",
        save_steps=config.save_steps,
        save_total_limit=2,
        report_to="none",
        disable_tqdm=True,
        seed=config.seed,
        use_cpu=not use_cuda,
        optim="adamw_torch_fused",
        dataloader_num_workers=workers,
        dataloader_pin_memory=use_cuda,
        torch_compile=config.compile,
        ddp_find_unused_parameters=False,  # every parameter gets a gradient: no extra pass over the graph
        remove_unused_columns=True,
        tf32=True if use_cuda else None,
        bf16=mixed.bf16,
        fp16=mixed.fp16,
    )
