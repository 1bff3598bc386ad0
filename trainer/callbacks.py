"""Trainer callbacks: progress events for the TUI, loss sanity checks, and evaluation after each epoch."""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from typing import Any

from transformers import TrainerCallback, TrainerControl, TrainerState, TrainingArguments

from assistant.runs.directory import RunDirectory

EventSink = Callable[[dict[str, Any]], None]


class TrainingStopped(Exception):
    """Training was stopped by a sanity check; the message says why and what to do."""


class ProgressEvents(TrainerCallback):
    """Writes one event per logged step to ``events.jsonl`` and keeps the loss curve."""

    def __init__(self, run: RunDirectory, sink: EventSink | None = None) -> None:
        self.run = run
        self.sink = sink
        self.loss_curve: list[tuple[int, float]] = []
        self._t0 = 0.0
        self._step0 = 0

    def on_train_begin(self, args: TrainingArguments, state: TrainerState, control: TrainerControl, **kw: Any):
        self._t0 = time.time()
        self._step0 = state.global_step
        self._emit("train", step=state.global_step, total=state.max_steps)

    def on_log(self, args, state: TrainerState, control, logs: dict[str, float] | None = None, **kw: Any):
        if not logs or "loss" not in logs:
            return
        loss = float(logs["loss"])
        self.loss_curve.append((state.global_step, loss))
        self.run.beat()  # throttled; the run's Heartbeat thread also covers loading and evaluation
        done = state.global_step - self._step0
        elapsed = time.time() - self._t0
        remaining = state.max_steps - state.global_step
        eta = elapsed / done * remaining if done > 0 else None
        self._emit(
            "train",
            step=state.global_step,
            total=state.max_steps,
            loss=round(loss, 5),
            epoch=round(state.epoch or 0.0, 3),
            eta_s=round(eta, 1) if eta is not None else None,
            learning_rate=logs.get("learning_rate"),
        )

    def _emit(self, phase: str, **fields: Any) -> None:
        record = self.run.event(phase, **fields)
        if self.sink:
            self.sink(record)


class LossSanity(TrainerCallback):
    """Stops early with a clear message when the loss is NaN or has not moved after a warm-up window.

    The notebook this project grew from trained for hours with a flat loss of 6.0 because the head was
    frozen; this catches that in the first ``window`` steps.
    """

    def __init__(self, window: int = 50, min_drop: float = 0.02) -> None:
        self.window = window
        self.min_drop = min_drop
        self.losses: list[tuple[int, float]] = []
        self.reason: str | None = None
        self._checked = False

    def on_log(self, args, state: TrainerState, control: TrainerControl, logs=None, **kw: Any):
        if not logs or "loss" not in logs:
            return
        loss = float(logs["loss"])
        if math.isnan(loss) or math.isinf(loss):
            self.reason = (
                f"The training loss became {loss} at step {state.global_step}; "
                "lower --learning-rate or use fp32 (--precision fp32)."
            )
            control.should_training_stop = True
            return
        self.losses.append((state.global_step, loss))
        if self._checked or state.global_step < self.window or len(self.losses) < 4:
            return
        self._checked = True
        k = max(1, len(self.losses) // 4)
        first = sum(v for _, v in self.losses[:k]) / k
        last = sum(v for _, v in self.losses[-k:]) / k
        if first - last < self.min_drop * abs(first):
            self.reason = (
                f"The training loss has not moved ({first:.3f} -> {last:.3f}) after {state.global_step} "
                "steps; check that layers are not all frozen and that the learning rate is not too low."
            )
            control.should_training_stop = True


class EpochEvaluation(TrainerCallback):
    """Evaluates with the reader's decoder at the end of each epoch (main process only)."""

    def __init__(
        self, evaluate_fn: Callable[[], dict[str, float]], run: RunDirectory, sink: EventSink | None = None
    ) -> None:
        self.evaluate_fn = evaluate_fn
        self.run = run
        self.sink = sink
        self.history: list[dict[str, Any]] = []

    def on_epoch_end(self, args, state: TrainerState, control, model=None, **kw: Any):
        if not state.is_world_process_zero:
            return
        was_training = model.training if model is not None else False
        result = self.evaluate_fn()
        if model is not None and was_training:
            model.train()
        entry = {"epoch": round(state.epoch or 0.0, 3), "step": state.global_step, **result}
        self.history.append(entry)
        record = self.run.event(
            "eval",
            step=state.global_step,
            total=state.max_steps,
            epoch=entry["epoch"],
            exact_match=result.get("exact_match"),
            f1=result.get("f1"),
        )
        if self.sink:
            self.sink(record)
