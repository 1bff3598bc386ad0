"""Fine-tune an extractive QA reader with the `transformers` Trainer and keep the run in ``models/``.

Everything the notebook got wrong is done here the other way round: the QA head always trains,
quantization only happens after training (and is measured), windows slide over long contexts, batches
are padded dynamically and grouped by length, and a loss that does not move stops the run early.

``run_training`` goes through four stages: prepare (model and data), build the Trainer, fit, finalise.
Progress and outcome go to the run directory only: every event to events.jsonl, the final status and
error to run.json, before the function returns.
"""

from __future__ import annotations

import contextlib
import pickle
import platform
import shlex
import shutil
import sys
import time
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

import torch
from transformers import PreTrainedModel, set_seed
from transformers.trainer_utils import TrainOutput, get_last_checkpoint

from assistant.core import files
from assistant.core.errors import UserError
from assistant.core.reader import Reader
from assistant.guard import one_line
from assistant.paths import models_dir
from assistant.runs import opening
from assistant.runs.config import TrainConfig, launch_processes, writes_the_run
from assistant.runs.directory import (
    Heartbeat,
    RunDirectory,
    cancel_requested,
    checkpoint_problem,
    default_run_name,
    git_commit,
    model_card,
    resumable_checkpoint,
    take_cancel_request,
)
from assistant.runs.events import Phase, history_from_events
from assistant.runs.registry import RunStatus, activate
from assistant.runs.schema import EpochEval, EvalScores, RunMetrics
from assistant.squad.evaluation import evaluate_reader
from trainer.callbacks import EventSink, LossSanity, ProgressEvents, StopOnCancel, TrainingStopped
from trainer.cancel import CancelToken, TrainingCancelled
from trainer.data import Examples, load_examples, training_dataset
from trainer.export_onnx import export_after_training
from trainer.rendezvous import join_launch
from trainer.trainers import DistillationTrainer, QATrainer, QuestionSet, training_arguments

__all__ = ["CancelToken", "RunResult", "TrainingCancelled", "freeze_layers", "run_training"]


@dataclass
class RunResult:
    path: Path
    status: RunStatus
    metrics: RunMetrics | None = None
    """metrics.json as written, for a completed run."""
    message: str = ""


def run_training(config: TrainConfig, sink: EventSink | None = None, cancel: CancelToken | None = None) -> RunResult:
    """Train, evaluate and save one run; the run directory always says how it ended.

    Settings are checked before anything is created or loaded, and a run that fails before training a
    step leaves no new folder behind (each failed attempt used to leave one). ``cancel`` stops the run at
    the next step boundary or stage; raising ``TrainingCancelled`` inside the call (a signal handler) does too.
    """
    config.validate()
    device = _device(config)
    _quiet_transformers()
    run, created = _open_run(config)
    if run.writer:
        take_cancel_request(run.path)  # one left by a cancel that came after the run had ended
    session = _Session(config, run, device, sink, cancel or CancelToken())
    heartbeat = Heartbeat(run)
    try:
        session.claim()
        heartbeat.start()
        return session.run_stages()
    except TrainingCancelled:
        heartbeat.stop()
        if stop := launch_stop(session.cancel.reason, run):
            message = _record_interruption(session, stop, created)
            return RunResult(run.path, RunStatus.INTERRUPTED, None, message)
        run.set_status(RunStatus.CANCELLED, error="cancelled by the user")
        session.emit(Phase.CANCELLED, message="training cancelled; the active reader is unchanged")
        return RunResult(run.path, RunStatus.CANCELLED, None, "cancelled")
    except (UserError, TrainingStopped) as exc:
        heartbeat.stop()
        _record_failure(session, str(exc), created)
        return RunResult(run.path, RunStatus.FAILED, None, str(exc))
    except Exception as exc:
        heartbeat.stop()
        if _peer_lost(exc):
            message = _record_interruption(session, f"lost one of its processes ({type(exc).__name__})", False)
            return RunResult(run.path, RunStatus.INTERRUPTED, None, message)
        _record_failure(session, f"{type(exc).__name__}: {exc}", created)
        raise
    finally:
        heartbeat.stop()
        run.close()
        _leave_the_launch()


def _leave_the_launch() -> None:
    """Take down this process's part of a launch's process group before the interpreter does: left to its exit, a
    rank now and then died in C++ ("terminate called without an active exception") after a run that went well."""
    if torch.distributed.is_available() and torch.distributed.is_initialized():
        with contextlib.suppress(Exception):  # a group whose peers are gone: there is nothing left to take down
            torch.distributed.destroy_process_group()


def _device(config: TrainConfig) -> str:
    if config.device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if config.device.startswith("cuda") and not torch.cuda.is_available():
        raise UserError("--device cuda was asked for but no CUDA GPU is available.")
    return config.device


def _quiet_transformers() -> None:
    import warnings

    from transformers.utils import logging as hf_logging

    hf_logging.set_verbosity_error()  # type: ignore[no-untyped-call]
    hf_logging.disable_progress_bar()  # type: ignore[no-untyped-call]
    # accelerate's note, on every rank of a CPU launch started by hand, that it chose the threads a process uses: a
    # choice, not a fault, and two lines of stderr before (or instead of) the one sentence a failure ends in
    warnings.filterwarnings("ignore", message="OMP_NUM_THREADS/MKL_NUM_THREADS unset", category=UserWarning)


def _open_run(config: TrainConfig) -> tuple[RunDirectory, bool]:
    """The run folder, and whether this call created it (only then may a failure remove it)."""
    run_path = (
        files.user_path(config.output)
        if config.output
        else models_dir() / default_run_name(config.base_model, config.data)
    )
    writer = writes_the_run()
    if config.resume:
        run = opening.open_resume(run_path, asdict(config), writer)
        run.load_run()
        return run, False
    return opening.open_new(run_path, writer), True


_LOST_PEER = ("Connection reset by peer", "Connection closed by peer", "Broken pipe", "NCCL communicator was aborted")


def _peer_lost(exc: BaseException) -> bool:
    """Whether a launch's collective failed because another of its processes (or the launcher) went away: the run
    was interrupted, not broken, and ``--resume`` under the same launcher continues it from its last checkpoint."""
    if launch_processes() == 1:
        return False
    distributed_error = getattr(torch.distributed, "DistError", ())
    if distributed_error and isinstance(exc, distributed_error):
        return True
    return isinstance(exc, RuntimeError) and any(sign in str(exc) for sign in _LOST_PEER)


def launch_stop(signal_name: str, run: RunDirectory) -> str | None:
    """How a launch was stopped, when a signal stopped it rather than the user's cancel (the run is then
    interrupted, to be resumed): ctrl+c, or a SIGTERM the app did not ask for (torchrun's, once another of its
    processes has died, or a scheduler's)."""
    if launch_processes() == 1:
        return None
    if signal_name == "SIGINT":
        return "was stopped by ctrl+c"
    if signal_name != "SIGTERM":
        return None
    if take_cancel_request(run.path) if run.writer else cancel_requested(run.path):
        return None  # the app's cancel: the run is cancelled
    return "was stopped by a SIGTERM (from its launcher, once another of its processes ended, or a scheduler)"


def how_to_resume(run: Path, checkpoints: Path) -> str:
    """How to go on with an interrupted launch: from its last whole checkpoint, or over from the start when it had
    none yet (``--resume`` then starts it over, in the same folder)."""
    command = shlex.join(["--resume", "--output", str(run)])
    if resumable_checkpoint(checkpoints)[0] is None:
        return f"it stopped before its first checkpoint, so the same launcher and {command} start it over"
    return f"continue it with the same launcher and {command}"


def _record_interruption(session: _Session, why: str, created: bool) -> str:
    """Mark the run of a launch interrupted, with how to continue it; the sentence said. A new run stopped before
    its processes had all joined trained nothing: its folder goes, as a failed new run's does."""
    run = session.run_dir
    if created and not torch.distributed.is_initialized():
        opening.discard_new(run)
        return f"The launch {why} before all its processes had joined: nothing was trained; the same command starts it."
    if not run.writer:  # rank 0 keeps the run (and may not have made its folder yet): it says how to go on
        message = f"The launch {why}: rank 0 says how to continue its run."
    else:
        message = f"The launch {why}: the run is interrupted; {how_to_resume(run.path, run.checkpoints)}."
    run.set_status(RunStatus.INTERRUPTED, error=message)
    session.emit(Phase.FAILED, message=message)
    return message


def _record_failure(session: _Session, message: str, created: bool) -> None:
    """Mark the run failed; a folder this call made and never trained into is removed, as it holds only noise."""
    run = session.run_dir
    run.set_status(RunStatus.FAILED, error=message)
    session.emit(Phase.FAILED, message=message)
    if created:
        opening.discard_new(run)


def _versions() -> dict[str, str]:
    import datasets
    import transformers

    return {
        "python": platform.python_version(),
        "torch": torch.__version__,
        "transformers": transformers.__version__,
        "datasets": datasets.__version__,
    }


def _load_base(ref: str) -> tuple[Any, PreTrainedModel]:
    from assistant.core.model_loading import BASE_HOW_TO_GET, load_pretrained

    tokenizer, model = load_pretrained(ref, BASE_HOW_TO_GET, attn_implementation="sdpa")
    if not isinstance(model, PreTrainedModel):
        raise UserError(f"{ref} is not a transformers model that can be fine-tuned and saved.")
    return tokenizer, model


def _find_layers(base: Any) -> Any:
    for path in ("transformer.layer", "encoder.layer", "layers"):
        obj: Any = base
        for part in path.split("."):
            obj = getattr(obj, part, None)
            if obj is None:
                break
        if obj is not None:
            return obj
    return None


def freeze_layers(model: torch.nn.Module, n: int) -> int:
    """Freeze the embeddings and the first ``n`` transformer layers; the QA head always trains."""
    if n <= 0:
        return 0
    base: Any = model.base_model
    layers = _find_layers(base)
    if layers is None:
        raise UserError("--freeze-layers: this architecture's layers were not found.")
    if n > len(layers):
        raise UserError(f"--freeze-layers {n}: the model has only {len(layers)} layers.")
    for p in base.embeddings.parameters():
        p.requires_grad = False
    for layer in list(layers)[:n]:
        for p in layer.parameters():
            p.requires_grad = False
    head = getattr(model, "qa_outputs", None)
    if head is not None:
        for p in head.parameters():
            p.requires_grad = True
    return n


def _last_checkpoint(folder: Path) -> Path | None:
    """The Trainer's choice of checkpoint to resume from (the highest step), not yet checked to be whole."""
    try:
        last = get_last_checkpoint(str(folder))  # type: ignore[no-untyped-call]
    except OSError:  # no checkpoints folder yet
        return None
    return Path(last) if isinstance(last, str) else None


def _unloadable(exc: BaseException) -> bool:
    """A checkpoint file that torch refuses (weights_only unpickler), or that is empty or torn."""
    return isinstance(exc, (pickle.UnpicklingError, EOFError)) or "PytorchStreamReader" in str(exc)


@dataclass
class _Prepared:
    """What the first stage makes: the model to train, its tokenizer, the examples and the training windows."""

    model: PreTrainedModel
    tokenizer: Any
    examples: Examples
    train_dataset: Any

    @property
    def windows(self) -> int:
        return len(self.train_dataset)


class _Session:
    """One process's training of one run: the stages, and the events they write."""

    def __init__(
        self, config: TrainConfig, run: RunDirectory, device: str, sink: EventSink | None, cancel: CancelToken
    ) -> None:
        self.config = config
        self.run_dir = run
        self.device = device
        self.sink = sink
        self.cancel = cancel
        self.t_start = time.time()
        self.progress = ProgressEvents(run, sink)
        self.sanity = LossSanity(window=config.sanity_steps)

    def emit(self, phase: Phase, **fields: Any) -> None:
        record = self.run_dir.event(phase, **fields)
        if self.sink:
            self.sink(record)

    def _say_waiting(self, waiting: str) -> None:
        """What the launch waits for, from every process: rank 0's as its events, the others' (which show nothing
        else) on their standard error, so that a process started by hand says why it sits there."""
        if writes_the_run():
            self.emit(Phase.LOAD, message=waiting)
        else:
            print(one_line(waiting), file=sys.stderr, flush=True)

    def claim(self) -> None:
        """Record the settings and this process as the run's owner (a resumed run keeps its start time)."""
        config, run = self.config, self.run_dir
        run.claim(
            name=run.path.name,
            settings=asdict(config),
            base_model=config.base_model,
            started_at=run.load_run().started_at or time.strftime("%Y-%m-%dT%H:%M:%S"),
            versions=_versions(),
            git_commit=git_commit(),
            device=self.device,
            device_name=torch.cuda.get_device_name() if self.device.startswith("cuda") else platform.processor(),
        )

    def run_stages(self) -> RunResult:
        prepared = self.prepare()
        self.cancel.raise_if_requested()
        trainer = self.build_trainer(prepared)
        self.cancel.raise_if_requested()
        output = self.fit(trainer)
        return self.finalise(trainer, prepared, output)

    # --- stage 1: model and data -------------------------------------------------------------------------------

    def prepare(self) -> _Prepared:
        """The base model (with frozen layers), validated examples and label-checked training windows."""
        join_launch(self.device, asdict(self.config), self.cancel, self._say_waiting)
        self.emit(Phase.LOAD, message=f"loading {self.config.base_model}")
        set_seed(self.config.seed)  # before the model, as run_qa.py: the new QA head is drawn from --seed too
        tokenizer, model = _load_base(self.config.base_model)
        if self.config.freeze_layers:
            freeze_layers(model, self.config.freeze_layers)
        if not any(p.requires_grad for p in model.parameters()):
            raise UserError("Every parameter is frozen; nothing would train.")
        self.cancel.raise_if_requested()
        self.emit(Phase.PREPARE, message="loading data")
        examples = load_examples(self.config, tokenizer)
        self.emit(Phase.PREPARE, message="data validated", report=examples.report.to_json())
        dataset, labels = training_dataset(examples.train, tokenizer, self.config)
        windows = len(dataset)
        self.emit(
            Phase.PREPARE,
            message=f"{windows} windows; labels check {labels.rate:.2%}",
            windows=windows,
            label_rate=labels.rate,
        )
        self.run_dir.write_run(
            train_data=examples.train_record(windows),
            eval_data=examples.eval_record(),
            data_report=examples.report.to_json(),
            label_check=asdict(labels) | {"rate": labels.rate},
        )
        return _Prepared(model, tokenizer, examples, dataset)

    # --- stage 2: the Trainer ----------------------------------------------------------------------------------

    def build_trainer(self, prepared: _Prepared) -> QATrainer:
        """A QA Trainer (or a distillation one) that checkpoints, evaluates after each epoch and reports events."""
        from transformers import DataCollatorWithPadding, PrinterCallback

        config, use_cuda = self.config, self.device.startswith("cuda")
        common: dict[str, Any] = {
            "model": prepared.model,
            "args": training_arguments(config, self.device, self.run_dir.checkpoints, prepared.windows),
            "train_dataset": prepared.train_dataset,
            "eval_dataset": QuestionSet(prepared.examples.test, prepared.examples.version_2),
            "data_collator": DataCollatorWithPadding(prepared.tokenizer, pad_to_multiple_of=8 if use_cuda else None),
            "processing_class": prepared.tokenizer,
            "callbacks": [self.progress, self.sanity, StopOnCancel(self.cancel)],  # last: it sees what they saw
            "window": config.window,
            "on_eval_start": lambda n: self.emit(Phase.EVAL, message=f"evaluating on {n} questions"),
        }
        trainer: QATrainer
        if config.teacher:
            teacher_tok, teacher_model = _load_base(config.teacher)
            if teacher_tok.get_vocab() != prepared.tokenizer.get_vocab():
                raise UserError("--teacher must share the student's tokenizer (same vocabulary).")
            teacher: torch.nn.Module = teacher_model
            teacher.to(self.device)
            trainer = DistillationTrainer(
                **common, teacher=teacher, temperature=config.distill_temperature, alpha=config.distill_alpha
            )
        else:
            trainer = QATrainer(**common)
        trainer.remove_callback(PrinterCallback)  # progress goes to events.jsonl and the sink instead
        return trainer

    # --- stage 3: fit ------------------------------------------------------------------------------------------

    def resume_checkpoint(self) -> Path | None:
        """On --resume, the Trainer's last checkpoint if whole, else the newest whole one; broken ones are named."""
        if not self.config.resume:
            return None
        folder = self.run_dir.checkpoints
        last = _last_checkpoint(folder)
        path: Path | None
        skipped: list[str] = []
        if last is not None and checkpoint_problem(last) is None:
            path = last
        else:
            path, skipped = resumable_checkpoint(folder)
        for note in skipped:
            self.emit(Phase.TRAIN, message=f"skipping broken checkpoint {note}")
        self.emit(Phase.TRAIN, message=f"resuming from {path.name}" if path else "no checkpoint; starting over")
        return path

    def fit(self, trainer: QATrainer) -> TrainOutput:
        """The training loop; a checkpoint file torch refuses to load becomes one sentence naming the checkpoint."""
        import warnings

        resume_from = self.resume_checkpoint()
        try:
            with warnings.catch_warnings():  # torch warns before refusing a planted pickle; the error says it all
                warnings.filterwarnings("ignore", message="Detected pickle protocol", category=UserWarning)
                output = trainer.train(resume_from_checkpoint=str(resume_from) if resume_from else None)
        except (pickle.UnpicklingError, EOFError, RuntimeError) as exc:
            if resume_from is None or not _unloadable(exc):
                raise
            raise UserError(
                f"Checkpoint {resume_from} holds a file that cannot be loaded safely ({type(exc).__name__}); "
                "delete that checkpoint folder and resume again to continue from an earlier one."
            ) from None
        self.cancel.raise_if_requested()
        if self.sanity.reason:
            raise TrainingStopped(self.sanity.reason)
        if trainer.state.global_step == 0:
            raise UserError("No training step ran; check --epochs and --max-steps, and that training data remains.")
        return output

    # --- stage 4: finalise -------------------------------------------------------------------------------------

    def final_evaluation(self, trainer: QATrainer) -> EvalScores:
        """The last epoch's evaluation if it was at the final step, else a fresh one (which the callback records)."""
        evals, step = self.progress.evals, trainer.state.global_step
        if not evals or evals[-1].step != step:
            trainer.evaluate()
        final = evals[-1].to_json() if evals else {}
        scores = EvalScores.from_json({k: v for k, v in final.items() if k not in ("epoch", "step")}) or EvalScores()
        self.emit(Phase.EVAL, exact_match=scores.exact_match, f1=scores.f1, message="final evaluation")
        return scores

    def history(self) -> tuple[list[tuple[int, float]], list[EpochEval]]:
        """Loss curve and per-epoch evaluations over every process that trained the run, not only this one.

        events.jsonl spans them all; this process's own figures (full precision, every metric) win on its steps.
        """
        losses, evals = history_from_events(self.run_dir.read_events())
        losses.update(dict(self.progress.loss_curve))
        evals.update({e.step: e for e in self.progress.evals if e.step is not None})
        return [(step, losses[step]) for step in sorted(losses)], [evals[step] for step in sorted(evals)]

    def metrics(self, trainer: QATrainer, output: TrainOutput, final: EvalScores, prepared: _Prepared) -> RunMetrics:
        loss_curve, eval_history = self.history()
        return RunMetrics(
            eval=final,
            eval_per_epoch=eval_history,
            loss_curve=loss_curve,
            train_windows=prepared.windows,
            train_windows_per_second=round(output.metrics.get("train_samples_per_second", 0.0), 2),
            train_runtime_s=round(output.metrics.get("train_runtime", 0.0), 2),
            wall_time_s=round(time.time() - self.t_start, 2),
            global_step=trainer.state.global_step,
            eval_examples=len(prepared.examples.test),
            eval_report=prepared.examples.eval_report.to_json(),
        )

    def finalise(self, trainer: QATrainer, prepared: _Prepared, output: TrainOutput) -> RunResult:
        """Final evaluation, weights (safetensors only), metrics, model card; then completed (and maybe active)."""
        config, run = self.config, self.run_dir
        model: torch.nn.Module = prepared.model
        model.eval()
        final = self.final_evaluation(trainer)
        self.emit(Phase.SAVE, message="saving the model")
        if run.writer:
            # safetensors + tokenizer only: Trainer.save_model would also pickle training_args.bin
            prepared.model.save_pretrained(str(run.path), safe_serialization=True)
            prepared.tokenizer.save_pretrained(str(run.path))
        metrics = self.metrics(trainer, output, final, prepared)
        onnx_int8 = export_after_training(run.path, config, prepared.examples, final, self.emit) if run.writer else None
        if config.export_int8:
            metrics.int8 = onnx_int8 or self.int8_eval(prepared, final)
        run.write_metrics(metrics)
        run.write_card(model_card(replace(run.load_run(), name=run.path.name), metrics))
        if not config.keep_checkpoints and run.writer:
            shutil.rmtree(run.checkpoints, ignore_errors=True)
        finished = time.strftime("%Y-%m-%dT%H:%M:%S")
        run.set_status(RunStatus.COMPLETED, finished_at=finished, wall_time_s=metrics.wall_time_s)
        if config.activate and run.writer:
            activate(run.path.name, run.path.parent)
        self.emit(Phase.DONE, exact_match=final.exact_match, f1=final.f1, message=f"saved {run.path}")
        return RunResult(run.path, RunStatus.COMPLETED, metrics)

    def int8_eval(self, prepared: _Prepared, float_eval: EvalScores) -> EvalScores:
        """F1 of the dynamic-int8 CPU reader against the float model, on the same questions."""
        import copy

        from assistant.core.model_loading import quantize_int8

        self.emit(Phase.EVAL, message="measuring dynamic int8 on CPU")
        model: torch.nn.Module = copy.deepcopy(prepared.model)
        cpu_model = model.float().to("cpu")
        reader = Reader(quantize_int8(cpu_model), prepared.tokenizer, torch.device("cpu"), window=self.config.window)
        examples = prepared.examples
        result = evaluate_reader(reader, examples.test, examples.version_2)
        return EvalScores(
            exact_match=result["exact_match"],
            f1=result["f1"],
            more={
                "f1_delta": round(result["f1"] - (float_eval.f1 or 0.0), 4),
                "how": "load the run with --int8: weights are quantized at load time from the safetensors",
            },
        )
