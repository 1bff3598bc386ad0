"""Fine-tune an extractive QA reader with the `transformers` Trainer and keep the run in ``models/``.

Everything the notebook got wrong is done here the other way round: the QA head always trains,
quantization only happens after training (and is measured), windows slide over long contexts, batches
are padded dynamically and grouped by length, and a loss that does not move stops the run early.
"""

from __future__ import annotations

import contextlib
import os
import platform
import random
import shutil
import signal
import time
import warnings
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import torch
from transformers import TrainerCallback

from assistant.errors import UserError
from assistant.paths import DEFAULT_BASE, DEFAULT_DATASET, models_dir
from assistant.reader import Reader, WindowSettings
from trainer.callbacks import EpochEvaluation, EventSink, LossSanity, ProgressEvents, TrainingStopped
from trainer.data import LoadedData, QAExample, load_data
from trainer.evaluation import evaluate_reader
from trainer.features import check_labels, require_good_labels, training_features
from trainer.run_dir import (
    STATUS_CANCELLED,
    STATUS_COMPLETED,
    STATUS_FAILED,
    STATUS_RUNNING,
    RunDirectory,
    default_run_name,
    git_commit,
    model_card,
)
from trainer.validate import validate


class TrainingCancelled(BaseException):
    """SIGTERM or Ctrl-C: stop cleanly, mark the run cancelled, never activate it."""


@dataclass
class TrainConfig:
    base_model: str = DEFAULT_BASE
    data: str = DEFAULT_DATASET
    eval_data: str | None = None
    output: str | None = None
    """Run directory; default ``models/<base>-<data>-<time>``."""
    epochs: float = 2.0
    learning_rate: float = 5e-5
    batch_size: int = 32
    gradient_accumulation: int = 1
    warmup_ratio: float = 0.1
    weight_decay: float = 0.01
    max_length: int = 384
    stride: int = 128
    max_train_samples: int | None = None
    max_eval_samples: int | None = None
    max_steps: int = -1
    freeze_layers: int = 0
    teacher: str | None = None
    distill_temperature: float = 2.0
    distill_alpha: float = 0.5
    """Weight of the SQuAD loss; ``1 - alpha`` goes to the KL term against the teacher."""
    precision: str = "auto"
    """auto (bf16 where supported, else fp16 on CUDA, fp32 on CPU), bf16, fp16 or fp32."""
    device: str = "auto"
    compile: bool = False
    workers: int | None = None
    seed: int = 42
    resplit: bool = False
    test_size: float = 0.1
    resume: bool = False
    save_steps: int = 500
    logging_steps: int | None = None
    sanity_steps: int = 50
    export_int8: bool = False
    activate: bool = False
    keep_checkpoints: bool = False
    extra_data: list[str] = field(default_factory=list)
    """More training files (e.g. the TUI's annotations) added to ``data``."""

    @property
    def window(self) -> WindowSettings:
        return WindowSettings(
            max_length=self.max_length, stride=self.stride, max_question_tokens=min(64, self.max_length // 4)
        )


@dataclass
class RunResult:
    path: Path
    status: str
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
    from transformers import AutoModelForQuestionAnswering, AutoTokenizer

    from assistant.model_loading import hub_reachable

    local_only = Path(ref).expanduser().is_dir() or not hub_reachable()
    try:
        tokenizer = AutoTokenizer.from_pretrained(ref, local_files_only=local_only)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            model = AutoModelForQuestionAnswering.from_pretrained(
                ref,
                use_safetensors=True,
                trust_remote_code=False,
                attn_implementation=attn,
                local_files_only=local_only,
            )
    except (OSError, ValueError) as exc:
        raise UserError(
            f"Could not load base model {ref!r} ({str(exc).strip().splitlines()[0][:120]}); "
            "pass --base with a local model directory or connect to the hub once."
        ) from None
    if not getattr(tokenizer, "is_fast", False):
        raise UserError(f"Base model {ref!r} has no fast tokenizer; offsets need one.")
    return tokenizer, model


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
    """Train, evaluate and save one run; the run directory always says how it ended."""
    from transformers import DataCollatorWithPadding, PrinterCallback, Trainer, TrainingArguments
    from transformers.utils import logging as hf_logging

    hf_logging.set_verbosity_error()
    hf_logging.disable_progress_bar()
    main_process = int(os.environ.get("RANK", "0")) == 0
    run_path = Path(config.output) if config.output else models_dir() / default_run_name(config.base_model, config.data)
    if run_path.exists() and any(run_path.iterdir()) and not config.resume:
        raise UserError(f"{run_path} already exists; pass --resume to continue it or choose another --output.")
    run = RunDirectory(run_path, writer=main_process)
    if config.resume:
        run.load_run()
    cancel_request = CancelRequest()
    previous_handlers = _install_cancel_handlers(cancel_request.handle)
    t_start = time.time()
    device = _device(config)

    def emit(phase: str, **fields: Any) -> None:
        record = run.event(phase, **fields)
        if sink:
            sink(record)

    run.set_status(
        STATUS_RUNNING,
        name=run_path.name,
        settings=asdict(config),
        base_model=config.base_model,
        started_at=run.load_run().get("started_at") or time.strftime("%Y-%m-%dT%H:%M:%S"),
        versions=_versions(),
        git_commit=git_commit(),
        device=device,
        device_name=torch.cuda.get_device_name() if device.startswith("cuda") else platform.processor(),
    )
    try:
        emit("load", message=f"loading {config.base_model}")
        tokenizer, model = _load_base(config.base_model)
        if config.freeze_layers:
            freeze_layers(model, config.freeze_layers)
        if not any(p.requires_grad for p in model.parameters()):
            raise UserError("Every parameter is frozen; nothing would train.")

        emit("prepare", message="loading data")
        train_data = load_data(config.data, "train")
        extra = [load_data(p, "train") for p in config.extra_data]
        for more in extra:
            train_data.examples.extend(more.examples)
        train_examples, held_out, train_source = _split(train_data, config)
        if config.eval_data and not held_out:
            eval_data = load_data(config.eval_data, "validation")
            eval_examples, eval_source, version_2 = eval_data.examples, eval_data.source, eval_data.version_2
            eval_fp = eval_data.fingerprint
        elif held_out:
            eval_examples, eval_source, version_2, eval_fp = held_out, train_source, train_data.version_2, None
        else:
            eval_data = load_data(config.data, "validation")
            eval_examples, eval_source, version_2 = eval_data.examples, eval_data.source, eval_data.version_2
            eval_fp = eval_data.fingerprint
        if config.max_train_samples:
            train_examples = train_examples[: config.max_train_samples]
        if config.max_eval_samples:
            eval_examples = eval_examples[: config.max_eval_samples]
        train_examples, report = validate(
            train_examples, tokenizer, config.window, train_data.malformed, allow_unanswerable=train_data.version_2
        )
        eval_examples, eval_report = validate(eval_examples, None, config.window)
        if not train_examples:
            raise UserError("No usable training examples are left after validation.")
        emit("prepare", message="data validated", report=report.to_json())

        features = training_features(train_examples, tokenizer, config.window)
        labels = check_labels(features, train_examples)
        require_good_labels(labels)
        emit(
            "prepare",
            message=f"{len(features['input_ids'])} windows; labels check {labels.rate:.2%}",
            windows=len(features["input_ids"]),
            label_rate=labels.rate,
        )
        run.write_run(
            train_data={
                "source": train_source,
                "fingerprint": train_data.fingerprint,
                "extra": [{"source": d.source, "fingerprint": d.fingerprint} for d in extra],
                "examples": len(train_examples),
                "windows": len(features["input_ids"]),
            },
            eval_data={
                "source": eval_source,
                "fingerprint": eval_fp,
                "examples": len(eval_examples),
                "version_2": version_2,
            },
            data_report=report.to_json(),
            label_check=asdict(labels) | {"rate": labels.rate},
        )

        import datasets

        columns = {k: v for k, v in features.items() if k not in ("offset_mapping", "example_index")}
        columns["length"] = [len(x) for x in columns["input_ids"]]
        train_ds = datasets.Dataset.from_dict(columns)

        use_cuda = device.startswith("cuda")
        if use_cuda:
            torch.backends.cuda.matmul.allow_tf32 = True
            torch.backends.cudnn.allow_tf32 = True
        steps_per_epoch = max(1, len(train_ds) // (config.batch_size * config.gradient_accumulation))
        logging_steps = config.logging_steps or max(1, min(50, steps_per_epoch // 10))
        workers = (
            config.workers if config.workers is not None else (min(4, (os.cpu_count() or 1) - 1) if use_cuda else 0)
        )
        args = TrainingArguments(
            output_dir=str(run.checkpoints),
            num_train_epochs=config.epochs,
            max_steps=config.max_steps,
            learning_rate=config.learning_rate,
            per_device_train_batch_size=config.batch_size,
            gradient_accumulation_steps=config.gradient_accumulation,
            warmup_steps=config.warmup_ratio,
            weight_decay=config.weight_decay,
            lr_scheduler_type="linear",
            train_sampling_strategy="group_by_length",
            logging_steps=logging_steps,
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

        def evaluate_now() -> dict[str, float]:
            emit("eval", message=f"evaluating on {len(eval_examples)} questions")
            reader = Reader(model, tokenizer, next(model.parameters()).device, window=config.window)
            return evaluate_reader(reader, eval_examples, version_2)

        progress = ProgressEvents(run, sink)
        sanity = LossSanity(window=config.sanity_steps)
        per_epoch = EpochEvaluation(evaluate_now, run, sink)
        callbacks = [cancel_request, progress, sanity, per_epoch]
        collator = DataCollatorWithPadding(tokenizer, pad_to_multiple_of=8 if use_cuda else None)
        common = {
            "model": model,
            "args": args,
            "train_dataset": train_ds,
            "data_collator": collator,
            "processing_class": tokenizer,
            "callbacks": callbacks,
        }
        if config.teacher:
            teacher_tok, teacher = _load_base(config.teacher)
            if teacher_tok.get_vocab() != tokenizer.get_vocab():
                raise UserError("--teacher must share the student's tokenizer (same vocabulary).")
            teacher.to(device)
            trainer = _teacher_trainer_class()(
                **common, teacher=teacher, temperature=config.distill_temperature, alpha=config.distill_alpha
            )
        else:
            trainer = Trainer(**common)
        trainer.remove_callback(PrinterCallback)  # progress goes to events.jsonl and the sink instead

        resume_from = None
        if config.resume:
            # a checkpoint is complete once trainer_state.json is written (the Trainer writes it last)
            checkpoints = sorted(
                (p for p in run.checkpoints.glob("checkpoint-*") if (p / "trainer_state.json").exists()),
                key=lambda p: int(p.name.split("-")[-1]),
            )
            resume_from = str(checkpoints[-1]) if checkpoints else None
            emit(
                "train",
                message=f"resuming from {Path(resume_from).name}" if resume_from else "no checkpoint; starting over",
            )
        output = trainer.train(resume_from_checkpoint=resume_from)
        if sanity.reason:
            raise TrainingStopped(sanity.reason)

        model.eval()
        final = (
            per_epoch.history[-1]
            if per_epoch.history and per_epoch.history[-1]["step"] == trainer.state.global_step
            else None
        )
        if final is None:
            result = evaluate_now()
            final = {"epoch": round(trainer.state.epoch or 0.0, 3), "step": trainer.state.global_step, **result}
            per_epoch.history.append(final)
        final_eval = {k: v for k, v in final.items() if k not in ("epoch", "step")}
        emit("eval", exact_match=final_eval.get("exact_match"), f1=final_eval.get("f1"), message="final evaluation")

        emit("save", message="saving the model")
        if main_process:
            # safetensors + tokenizer only: Trainer.save_model would also pickle training_args.bin
            trainer.model.save_pretrained(str(run_path), safe_serialization=True)
            tokenizer.save_pretrained(str(run_path))
        wall = time.time() - t_start
        metrics: dict[str, Any] = {
            "eval": final_eval,
            "eval_per_epoch": per_epoch.history,
            "loss_curve": progress.loss_curve,
            "train_windows": len(train_ds),
            "train_windows_per_second": round(output.metrics.get("train_samples_per_second", 0.0), 2),
            "train_runtime_s": round(output.metrics.get("train_runtime", 0.0), 2),
            "wall_time_s": round(wall, 2),
            "global_step": trainer.state.global_step,
            "eval_examples": len(eval_examples),
            "eval_report": eval_report.to_json(),
        }
        if config.export_int8:
            metrics["int8"] = _int8_eval(model, tokenizer, eval_examples, version_2, config, final_eval, emit)
        run.write_metrics(metrics)
        run.write_card(model_card(run.load_run() | {"name": run_path.name}, metrics))
        if not config.keep_checkpoints and main_process:
            shutil.rmtree(run.checkpoints, ignore_errors=True)
        run.set_status(STATUS_COMPLETED, finished_at=time.strftime("%Y-%m-%dT%H:%M:%S"), wall_time_s=round(wall, 2))
        if config.activate and main_process:
            from assistant.runs import activate

            activate(run_path.name, run_path.parent)
        emit("done", exact_match=final_eval.get("exact_match"), f1=final_eval.get("f1"), message=f"saved {run_path}")
        return RunResult(run_path, STATUS_COMPLETED, metrics)
    except TrainingCancelled:
        run.set_status(STATUS_CANCELLED, error="cancelled by the user")
        emit("cancelled", message="training cancelled; the active reader is unchanged")
        return RunResult(run_path, STATUS_CANCELLED, {}, "cancelled")
    except (UserError, TrainingStopped) as exc:
        run.set_status(STATUS_FAILED, error=str(exc))
        emit("failed", message=str(exc))
        return RunResult(run_path, STATUS_FAILED, {}, str(exc))
    except Exception as exc:
        run.set_status(STATUS_FAILED, error=f"{type(exc).__name__}: {exc}")
        emit("failed", message=f"{type(exc).__name__}: {exc}")
        raise
    finally:
        for sig, handler in previous_handlers.items():
            signal.signal(sig, handler)


def _int8_eval(model, tokenizer, eval_examples, version_2, config, float_eval, emit) -> dict[str, float]:
    """F1 of the dynamic-int8 CPU reader against the float model, on the same questions."""
    import copy

    from assistant.model_loading import quantize_int8

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
