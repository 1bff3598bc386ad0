"""Fine-tune an extractive QA reader with the `transformers` Trainer and keep the run in ``models/``.

Everything the notebook got wrong is done here the other way round: the QA head always trains,
quantization only happens after training (and is measured), windows slide over long contexts, batches
are padded dynamically and grouped by length, and a loss that does not move stops the run early.
"""

from __future__ import annotations

import contextlib
import os
import pickle
import platform
import random
import shutil
import signal
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import torch
from transformers import TrainerCallback

from assistant.core.errors import UserError
from assistant.core.reader import Reader
from assistant.paths import models_dir
from assistant.runs.config import TrainConfig
from assistant.runs.directory import (
    Heartbeat,
    RunDirectory,
    default_run_name,
    git_commit,
    history_from_events,
    model_card,
    resumable_checkpoint,
)
from assistant.runs.registry import RunStatus, load_run
from assistant.squad.evaluation import evaluate_reader
from assistant.squad.formats import LoadedData, QAExample, load_data
from assistant.squad.validate import DataReport, validate
from trainer.callbacks import EpochEvaluation, EventSink, LossSanity, ProgressEvents, TrainingStopped
from trainer.features import check_labels, require_good_labels, training_features


class TrainingCancelled(BaseException):
    """SIGTERM or Ctrl-C: stop cleanly, mark the run cancelled, never activate it."""


@dataclass
class RunResult:
    path: Path
    status: RunStatus
    metrics: dict[str, Any]
    message: str = ""


def _precision(config: TrainConfig, device: str) -> dict[str, bool]:
    if device == "cpu" or config.precision == "fp32":
        return {"bf16": False, "fp16": False}
    if config.precision == "bf16" or (config.precision == "auto" and torch.cuda.is_bf16_supported()):
        return {"bf16": True, "fp16": False}
    return {"bf16": False, "fp16": True}


def _device(config: TrainConfig) -> str:
    if config.device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if config.device.startswith("cuda") and not torch.cuda.is_available():
        raise UserError("--device cuda was asked for but no CUDA GPU is available.")
    return config.device


def _load_base(ref: str, attn: str = "sdpa"):
    from assistant.core.model_loading import load_pretrained

    return load_pretrained(ref, attn_implementation=attn)


def freeze_layers(model: torch.nn.Module, n: int) -> int:
    """Freeze the embeddings and the first ``n`` transformer layers; the QA head always trains."""
    if n <= 0:
        return 0
    base = model.base_model
    layers = None
    for path in ("transformer.layer", "encoder.layer", "layers"):
        obj: Any = base
        for part in path.split("."):
            obj = getattr(obj, part, None)
            if obj is None:
                break
        if obj is not None:
            layers = obj
            break
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


def _split(data: LoadedData, config: TrainConfig) -> tuple[list[QAExample], list[QAExample], str]:
    """Train examples and held-out test examples (empty when the test set comes from elsewhere).

    By default the test set is the official validation split (hub data) or ``--eval-data``, so figures
    compare with published ones; ``--resplit`` (or a local file with no ``--eval-data``) holds out
    ``test_size`` of the data with ``seed``, as the notebook did.
    """
    is_hub = not Path(config.data).expanduser().exists()
    if config.eval_data and not config.resplit:
        return data.examples, [], data.source
    if is_hub and not config.resplit:
        return data.examples, [], data.source
    examples = list(data.examples)
    random.Random(config.seed).shuffle(examples)
    n_test = max(1, int(len(examples) * config.test_size))
    return examples[n_test:], examples[:n_test], f"{data.source} (re-split, seed {config.seed})"


def _teacher_trainer_class():
    from transformers import Trainer

    class DistillationTrainer(Trainer):
        """SQuAD loss mixed with KL to a teacher's start/end distributions at temperature T."""

        def __init__(self, *args: Any, teacher: torch.nn.Module, temperature: float, alpha: float, **kw: Any):
            super().__init__(*args, **kw)
            self.teacher = teacher.eval()
            self.temperature = temperature
            self.alpha = alpha

        def compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):
            outputs = model(**inputs)
            with torch.no_grad():
                teacher_inputs = {k: v for k, v in inputs.items() if k in ("input_ids", "attention_mask")}
                t_out = self.teacher(**teacher_inputs)
            t = self.temperature
            kl = torch.nn.functional.kl_div
            soft = (
                sum(
                    kl(torch.log_softmax(s / t, -1), torch.softmax(tt / t, -1), reduction="batchmean") * t * t
                    for s, tt in ((outputs.start_logits, t_out.start_logits), (outputs.end_logits, t_out.end_logits))
                )
                / 2
            )
            loss = self.alpha * outputs.loss + (1 - self.alpha) * soft
            return (loss, outputs) if return_outputs else loss

    return DistillationTrainer


def _versions() -> dict[str, str]:
    import datasets
    import transformers

    return {
        "python": platform.python_version(),
        "torch": torch.__version__,
        "transformers": transformers.__version__,
        "datasets": datasets.__version__,
    }


class CancelRequest(TrainerCallback):
    """SIGTERM/SIGINT during the training loop stop it at the next step boundary.

    Raising from the signal handler in the middle of a step could land inside library code that
    swallows it; outside the loop (loading, preparing, evaluating) the handler raises at once, and a
    second signal always does.
    """

    def __init__(self) -> None:
        self.requested = False
        self.in_loop = False

    def handle(self, signum: int, frame: Any) -> None:
        if self.in_loop and not self.requested:
            self.requested = True
            return
        raise TrainingCancelled(signal.Signals(signum).name)

    def on_train_begin(self, args, state, control, **kw: Any):
        self.in_loop = True

    def on_step_end(self, args, state, control, **kw: Any):
        if self.requested:
            control.should_training_stop = True
            control.should_save = False
            control.should_evaluate = False

    def on_train_end(self, args, state, control, **kw: Any):
        self.in_loop = False
        if self.requested:
            raise TrainingCancelled("SIGTERM")


def _install_cancel_handlers(cancel) -> dict[int, Any]:
    previous = {}
    for sig in (signal.SIGTERM, signal.SIGINT):
        with contextlib.suppress(ValueError):  # not the main thread: the caller cancels instead
            previous[sig] = signal.signal(sig, cancel)
    return previous


def run_training(config: TrainConfig, sink: EventSink | None = None) -> RunResult:
    """Train, evaluate and save one run; the run directory always says how it ended.

    Settings are checked before anything is created or loaded, and a run that fails before training a
    step leaves no new folder behind (each failed attempt used to leave one).
    """
    config.validate()
    device = _device(config)
    _quiet_transformers()
    run, created = _open_run(config)
    session = _Session(config, run, device, sink)
    heartbeat = Heartbeat(run)
    previous_handlers = _install_cancel_handlers(session.cancel.handle)
    try:
        session.claim()
        heartbeat.start()
        return session.train_and_save()
    except TrainingCancelled:
        heartbeat.stop()
        run.set_status(RunStatus.CANCELLED, error="cancelled by the user")
        session.emit("cancelled", message="training cancelled; the active reader is unchanged")
        return RunResult(run.path, RunStatus.CANCELLED, {}, "cancelled")
    except (UserError, TrainingStopped) as exc:
        heartbeat.stop()
        _record_failure(session, str(exc), created)
        return RunResult(run.path, RunStatus.FAILED, {}, str(exc))
    except Exception as exc:
        heartbeat.stop()
        _record_failure(session, f"{type(exc).__name__}: {exc}", created)
        raise
    finally:
        heartbeat.stop()
        for sig, handler in previous_handlers.items():
            signal.signal(sig, handler)


def _quiet_transformers() -> None:
    from transformers.utils import logging as hf_logging

    hf_logging.set_verbosity_error()
    hf_logging.disable_progress_bar()


def _open_run(config: TrainConfig) -> tuple[RunDirectory, bool]:
    """The run folder, and whether this call created it (only then may a failure remove it)."""
    run_path = (
        Path(config.output).expanduser()
        if config.output
        else models_dir() / default_run_name(config.base_model, config.data)
    )
    existed, writer = run_path.exists(), int(os.environ.get("RANK", "0")) == 0
    if existed and any(run_path.iterdir()) and not config.resume:
        raise UserError(f"{run_path} already exists; pass --resume to continue it or choose another --output.")
    owner = load_run(run_path) if existed and config.resume and writer else None
    if owner is not None and owner.status is RunStatus.RUNNING:
        raise UserError(
            f"{run_path} is still being trained by process {owner.run.get('pid')} on {owner.run.get('hostname')}; "
            "wait for it or cancel it before resuming."
        )
    run = RunDirectory(run_path, writer=writer)
    if config.resume:
        run.load_run()
    return run, not existed


def _record_failure(session: _Session, message: str, created: bool) -> None:
    """Mark the run failed; a folder this call made and never trained into is removed, as it holds only noise."""
    run = session.run_dir
    run.set_status(RunStatus.FAILED, error=message)
    session.emit("failed", message=message)
    if created and run.writer and not run.trained_anything():
        shutil.rmtree(run.path, ignore_errors=True)


def _unloadable(exc: BaseException) -> bool:
    """A checkpoint file that torch refuses (weights_only unpickler), or that is empty or torn."""
    return isinstance(exc, (pickle.UnpicklingError, EOFError)) or "PytorchStreamReader" in str(exc)


@dataclass
class _Examples:
    """Validated train and test examples, and where they came from (for run.json)."""

    train: list[QAExample]
    test: list[QAExample]
    version_2: bool
    train_data: LoadedData
    train_source: str
    extra: list[LoadedData]
    eval_source: str
    eval_fingerprint: str | None
    report: DataReport
    eval_report: DataReport


def _load_examples(config: TrainConfig, tokenizer: Any) -> _Examples:
    """Training data (plus --extra-data), the test set (held out, --eval-data or the validation split), validated."""
    train_data = load_data(config.data, "train")
    extra = [load_data(p, "train") for p in config.extra_data]
    for more in extra:
        train_data.examples.extend(more.examples)
    train, held_out, train_source = _split(train_data, config)
    if held_out:
        test, eval_source, version_2, eval_fp = held_out, train_source, train_data.version_2, None
    else:
        eval_data = load_data(config.eval_data or config.data, "validation")
        test, eval_source, version_2 = eval_data.examples, eval_data.source, eval_data.version_2
        eval_fp = eval_data.fingerprint
    if config.max_train_samples:
        train = train[: config.max_train_samples]
    if config.max_eval_samples:
        test = test[: config.max_eval_samples]
    train, report = validate(
        train, tokenizer, config.window, train_data.malformed, allow_unanswerable=train_data.version_2
    )
    test, eval_report = validate(test, None, config.window)
    if not train:
        raise UserError("No usable training examples are left after validation.")
    return _Examples(train, test, version_2, train_data, train_source, extra, eval_source, eval_fp, report, eval_report)


def _training_arguments(config: TrainConfig, device: str, output_dir: Path, n_windows: int) -> Any:
    from transformers import TrainingArguments

    use_cuda = device.startswith("cuda")
    if use_cuda:
        torch.backends.cuda.matmul.allow_tf32 = True
        torch.backends.cudnn.allow_tf32 = True
    steps_per_epoch = max(1, n_windows // (config.batch_size * config.gradient_accumulation))
    workers = config.workers if config.workers is not None else (min(4, (os.cpu_count() or 1) - 1) if use_cuda else 0)
    return TrainingArguments(
        output_dir=str(output_dir),
        num_train_epochs=config.epochs,
        max_steps=config.max_steps,
        learning_rate=config.learning_rate,
        per_device_train_batch_size=config.batch_size,
        gradient_accumulation_steps=config.gradient_accumulation,
        warmup_steps=config.warmup_ratio,
        weight_decay=config.weight_decay,
        lr_scheduler_type="linear",
        train_sampling_strategy="group_by_length",
        logging_steps=config.logging_steps or max(1, min(50, steps_per_epoch // 10)),
        logging_strategy="steps",
        save_strategy="steps",
        save_steps=config.save_steps,
        save_total_limit=2,
        report_to="none",
        disable_tqdm=True,
        seed=config.seed,
        use_cpu=not use_cuda,
        optim="adamw_torch_fused" if use_cuda else "adamw_torch",
        dataloader_num_workers=workers,
        dataloader_pin_memory=use_cuda,
        torch_compile=config.compile,
        remove_unused_columns=True,
        tf32=True if use_cuda else None,
        **_precision(config, device),
    )


class _Session:
    """One process's training of one run, split into stages so that each stays short."""

    def __init__(self, config: TrainConfig, run: RunDirectory, device: str, sink: EventSink | None) -> None:
        self.config = config
        self.run_dir = run
        self.device = device
        self.sink = sink
        self.cancel = CancelRequest()
        self.t_start = time.time()
        self.tokenizer: Any = None
        self.model: Any = None
        self.data: _Examples | None = None
        self.progress = ProgressEvents(run, sink)
        self.sanity = LossSanity(window=config.sanity_steps)
        self.per_epoch = EpochEvaluation(self.evaluate_now, run, sink)

    def emit(self, phase: str, **fields: Any) -> None:
        record = self.run_dir.event(phase, **fields)
        if self.sink:
            self.sink(record)

    def claim(self) -> None:
        """Record the settings and this process as the run's owner (a resumed run keeps its start time)."""
        config, run = self.config, self.run_dir
        run.claim(
            name=run.path.name,
            settings=asdict(config),
            base_model=config.base_model,
            started_at=run.load_run().get("started_at") or time.strftime("%Y-%m-%dT%H:%M:%S"),
            versions=_versions(),
            git_commit=git_commit(),
            device=self.device,
            device_name=torch.cuda.get_device_name() if self.device.startswith("cuda") else platform.processor(),
        )

    def train_and_save(self) -> RunResult:
        self.load_model()
        train_ds = self.prepare_data()
        trainer = self.build_trainer(train_ds)
        output = self.train(trainer)
        return self.finish(trainer, output, len(train_ds))

    def load_model(self) -> None:
        self.emit("load", message=f"loading {self.config.base_model}")
        self.tokenizer, self.model = _load_base(self.config.base_model)
        if self.config.freeze_layers:
            freeze_layers(self.model, self.config.freeze_layers)
        if not any(p.requires_grad for p in self.model.parameters()):
            raise UserError("Every parameter is frozen; nothing would train.")

    def prepare_data(self) -> Any:
        """Examples, label-checked training windows, and the dataset the Trainer reads."""
        import datasets

        self.emit("prepare", message="loading data")
        data = self.data = _load_examples(self.config, self.tokenizer)
        self.emit("prepare", message="data validated", report=data.report.to_json())
        features = training_features(data.train, self.tokenizer, self.config.window)
        labels = check_labels(features, data.train)
        require_good_labels(labels)
        windows = len(features["input_ids"])
        self.emit(
            "prepare",
            message=f"{windows} windows; labels check {labels.rate:.2%}",
            windows=windows,
            label_rate=labels.rate,
        )
        self.run_dir.write_run(
            train_data={
                "source": data.train_source,
                "fingerprint": data.train_data.fingerprint,
                "extra": [{"source": d.source, "fingerprint": d.fingerprint} for d in data.extra],
                "examples": len(data.train),
                "windows": windows,
            },
            eval_data={
                "source": data.eval_source,
                "fingerprint": data.eval_fingerprint,
                "examples": len(data.test),
                "version_2": data.version_2,
            },
            data_report=data.report.to_json(),
            label_check=asdict(labels) | {"rate": labels.rate},
        )
        columns = {k: v for k, v in features.items() if k not in ("offset_mapping", "example_index")}
        columns["length"] = [len(x) for x in columns["input_ids"]]
        return datasets.Dataset.from_dict(columns)

    def evaluate_now(self) -> dict[str, float]:
        assert self.data is not None
        self.emit("eval", message=f"evaluating on {len(self.data.test)} questions")
        reader = Reader(self.model, self.tokenizer, next(self.model.parameters()).device, window=self.config.window)
        return evaluate_reader(reader, self.data.test, self.data.version_2)

    def build_trainer(self, train_ds: Any) -> Any:
        from transformers import DataCollatorWithPadding, PrinterCallback, Trainer

        config, use_cuda = self.config, self.device.startswith("cuda")
        common = {
            "model": self.model,
            "args": _training_arguments(config, self.device, self.run_dir.checkpoints, len(train_ds)),
            "train_dataset": train_ds,
            "data_collator": DataCollatorWithPadding(self.tokenizer, pad_to_multiple_of=8 if use_cuda else None),
            "processing_class": self.tokenizer,
            "callbacks": [self.cancel, self.progress, self.sanity, self.per_epoch],
        }
        if config.teacher:
            teacher_tok, teacher = _load_base(config.teacher)
            if teacher_tok.get_vocab() != self.tokenizer.get_vocab():
                raise UserError("--teacher must share the student's tokenizer (same vocabulary).")
            teacher.to(self.device)
            trainer = _teacher_trainer_class()(
                **common, teacher=teacher, temperature=config.distill_temperature, alpha=config.distill_alpha
            )
        else:
            trainer = Trainer(**common)
        trainer.remove_callback(PrinterCallback)  # progress goes to events.jsonl and the sink instead
        return trainer

    def resume_checkpoint(self) -> Path | None:
        """On --resume, the newest checkpoint whose state and weights are whole; broken ones are named and skipped."""
        if not self.config.resume:
            return None
        path, skipped = resumable_checkpoint(self.run_dir.checkpoints)
        for note in skipped:
            self.emit("train", message=f"skipping broken checkpoint {note}")
        self.emit("train", message=f"resuming from {path.name}" if path else "no checkpoint; starting over")
        return path

    def train(self, trainer: Any) -> Any:
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
        if self.sanity.reason:
            raise TrainingStopped(self.sanity.reason)
        if trainer.state.global_step == 0:
            raise UserError("No training step ran; check --epochs and --max-steps, and that training data remains.")
        return output

    def final_evaluation(self, trainer: Any) -> dict[str, float]:
        """The last epoch's evaluation if it was at the final step, else a fresh one."""
        history, step = self.per_epoch.history, trainer.state.global_step
        final = history[-1] if history and history[-1]["step"] == step else None
        if final is None:
            final = {"epoch": round(trainer.state.epoch or 0.0, 3), "step": step, **self.evaluate_now()}
            history.append(final)
        final_eval = {k: v for k, v in final.items() if k not in ("epoch", "step")}
        self.emit(
            "eval", exact_match=final_eval.get("exact_match"), f1=final_eval.get("f1"), message="final evaluation"
        )
        return final_eval

    def history(self) -> tuple[list[list[float]], list[dict[str, Any]]]:
        """Loss curve and per-epoch evaluations over every process that trained the run, not only this one.

        events.jsonl spans them all; this process's own figures (full precision, every metric) win on its steps.
        """
        losses, evals = history_from_events(self.run_dir.read_events())
        losses.update(dict(self.progress.loss_curve))
        evals.update({entry["step"]: entry for entry in self.per_epoch.history})
        return [[step, losses[step]] for step in sorted(losses)], [evals[step] for step in sorted(evals)]

    def metrics(self, trainer: Any, output: Any, final_eval: dict[str, float], n_windows: int) -> dict[str, Any]:
        assert self.data is not None
        loss_curve, eval_history = self.history()
        return {
            "eval": final_eval,
            "eval_per_epoch": eval_history,
            "loss_curve": loss_curve,
            "train_windows": n_windows,
            "train_windows_per_second": round(output.metrics.get("train_samples_per_second", 0.0), 2),
            "train_runtime_s": round(output.metrics.get("train_runtime", 0.0), 2),
            "wall_time_s": round(time.time() - self.t_start, 2),
            "global_step": trainer.state.global_step,
            "eval_examples": len(self.data.test),
            "eval_report": self.data.eval_report.to_json(),
        }

    def finish(self, trainer: Any, output: Any, n_windows: int) -> RunResult:
        """Final evaluation, weights (safetensors only), metrics, model card; then completed (and maybe active)."""
        config, run, data = self.config, self.run_dir, self.data
        assert data is not None
        self.model.eval()
        final_eval = self.final_evaluation(trainer)
        self.emit("save", message="saving the model")
        if run.writer:
            # safetensors + tokenizer only: Trainer.save_model would also pickle training_args.bin
            trainer.model.save_pretrained(str(run.path), safe_serialization=True)
            self.tokenizer.save_pretrained(str(run.path))
        metrics = self.metrics(trainer, output, final_eval, n_windows)
        if config.export_int8:
            metrics["int8"] = _int8_eval(
                self.model, self.tokenizer, data.test, data.version_2, config, final_eval, self.emit
            )
        run.write_metrics(metrics)
        run.write_card(model_card(run.load_run() | {"name": run.path.name}, metrics))
        if not config.keep_checkpoints and run.writer:
            shutil.rmtree(run.checkpoints, ignore_errors=True)
        finished = time.strftime("%Y-%m-%dT%H:%M:%S")
        run.set_status(RunStatus.COMPLETED, finished_at=finished, wall_time_s=metrics["wall_time_s"])
        if config.activate and run.writer:
            from assistant.runs.registry import activate

            activate(run.path.name, run.path.parent)
        scores = {"exact_match": final_eval.get("exact_match"), "f1": final_eval.get("f1")}
        self.emit("done", **scores, message=f"saved {run.path}")
        return RunResult(run.path, RunStatus.COMPLETED, metrics)


def _int8_eval(model, tokenizer, eval_examples, version_2, config, float_eval, emit) -> dict[str, float]:
    """F1 of the dynamic-int8 CPU reader against the float model, on the same questions."""
    import copy

    from assistant.core.model_loading import quantize_int8

    emit("eval", message="measuring dynamic int8 on CPU")
    cpu_model = copy.deepcopy(model).float().to("cpu")
    reader = Reader(quantize_int8(cpu_model), tokenizer, torch.device("cpu"), window=config.window)
    result = evaluate_reader(reader, eval_examples, version_2)
    return {
        "exact_match": result["exact_match"],
        "f1": result["f1"],
        "f1_delta": round(result["f1"] - float_eval.get("f1", 0.0), 4),
        "how": "load the run with --int8: weights are quantized at load time from the safetensors",
    }
