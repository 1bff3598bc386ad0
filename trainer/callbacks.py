"""Trainer callbacks: progress and evaluation events for the run directory, loss sanity checks, and cancellation."""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from typing import Any

from transformers import TrainerCallback, TrainerControl, TrainerState, TrainingArguments

from assistant.runs.directory import RunDirectory
from assistant.runs.events import Phase, RunEvent
from assistant.runs.schema import EpochEval
from trainer.cancel import CancelToken

EventSink = Callable[[RunEvent], None]
"""Receives every event after it is in events.jsonl (the CLI prints or draws it)."""


class TrainingStopped(Exception):
    """Training was stopped by a sanity check; the message says why and what to do."""


_STOP_REASONS = ("", "SIGTERM", "SIGINT")
"""What a launch's processes agree on at each step: the strongest request any of them had (ctrl+c over a cancel)."""


def _in_launch() -> bool:
    import torch.distributed as dist

    return dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1


def stop_agreed(token: CancelToken) -> bool:
    """Whether to stop after this step: the token's request, and in a launch any process's, shared with all of them
    (one small all-reduce a step), so that every process stops after the same step and learns why."""
    if not _in_launch():
        return token.requested
    import torch
    import torch.distributed as dist

    wanted = (_STOP_REASONS.index(token.reason) if token.reason in _STOP_REASONS else 1) if token.requested else 0
    device = torch.device("cuda", torch.cuda.current_device()) if dist.get_backend() == "nccl" else torch.device("cpu")
    agreed = torch.tensor([wanted], dtype=torch.int32, device=device)
    dist.all_reduce(agreed, op=dist.ReduceOp.MAX)
    strongest = int(agreed.item())
    if strongest and not token.requested:
        token.request(_STOP_REASONS[strongest])
    return strongest > 0


class StopOnCancel(TrainerCallback):
    """Ends the training loop at the next step boundary once the token is set: no checkpoint, no evaluation."""

    def __init__(self, token: CancelToken) -> None:
        self.token = token

    def on_train_begin(self, args: TrainingArguments, state: TrainerState, control: TrainerControl, **kw: Any) -> None:
        self.token.in_loop = True
        self.stopping = False

    def on_step_end(self, args: TrainingArguments, state: TrainerState, control: TrainerControl, **kw: Any) -> None:
        self.stopping = self.stopping or stop_agreed(self.token)
        self.on_log(args, state, control)

    def on_log(self, args: TrainingArguments, state: TrainerState, control: TrainerControl, **kw: Any) -> None:
        """A request made while the step's loss was reported stops before its checkpoint (in a launch, only what
        every process agreed at the step's end counts: a process that stopped alone would leave the others waiting)."""
        if self.stopping or (self.token.requested and not _in_launch()):
            control.should_training_stop = True
            control.should_save = False
            control.should_evaluate = False

    def on_epoch_end(self, args: TrainingArguments, state: TrainerState, control: TrainerControl, **kw: Any) -> None:
        if self.stopping or (self.token.requested and not _in_launch()):  # its evaluation would only delay the exit
            control.should_save = False
            control.should_evaluate = False

    def on_train_end(self, args: TrainingArguments, state: TrainerState, control: TrainerControl, **kw: Any) -> None:
        self.token.in_loop = False


class ProgressEvents(TrainerCallback):
    """Writes one event per logged step and per evaluation to ``events.jsonl``; keeps the loss curve and evaluations."""

    def __init__(self, run: RunDirectory, sink: EventSink | None = None) -> None:
        self.run = run
        self.sink = sink
        self.loss_curve: list[tuple[int, float]] = []
        self.evals: list[EpochEval] = []
        """Every evaluation the QA Trainer ran in this process (one per epoch, and a final one if needed)."""
        self._t0 = 0.0
        self._step0 = 0

    def on_train_begin(self, args: TrainingArguments, state: TrainerState, control: TrainerControl, **kw: Any) -> None:
        self._t0 = time.time()
        self._step0 = state.global_step
        self._emit(Phase.TRAIN, step=state.global_step, total=state.max_steps)

    def on_log(
        self,
        args: TrainingArguments,
        state: TrainerState,
        control: TrainerControl,
        logs: dict[str, float] | None = None,
        **kw: Any,
    ) -> None:
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
            Phase.TRAIN,
            step=state.global_step,
            total=state.max_steps,
            loss=round(loss, 5),
            epoch=round(state.epoch or 0.0, 3),
            eta_s=round(eta, 1) if eta is not None else None,
            learning_rate=logs.get("learning_rate"),
        )

    def on_evaluate(
        self,
        args: TrainingArguments,
        state: TrainerState,
        control: TrainerControl,
        metrics: dict[str, float] | None = None,
        **kw: Any,
    ) -> None:
        entry = EpochEval.from_metrics(state.global_step, round(state.epoch or 0.0, 3), metrics or {}, prefix="eval_")
        self.evals.append(entry)
        self._emit(
            Phase.EVAL,
            step=state.global_step,
            total=state.max_steps,
            epoch=entry.epoch,
            exact_match=entry.exact_match,
            f1=entry.f1,
        )

    def _emit(self, phase: Phase, **fields: Any) -> None:
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

    def on_log(
        self,
        args: TrainingArguments,
        state: TrainerState,
        control: TrainerControl,
        logs: dict[str, float] | None = None,
        **kw: Any,
    ) -> None:
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
