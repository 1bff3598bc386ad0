"""`assistant train` / `python -m trainer` and `assistant eval`: the trainer's command line."""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Sequence
from dataclasses import fields
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from assistant.core.defaults import DEFAULT_BASE, DEFAULT_DATASET
from assistant.core.errors import UserError
from assistant.guard import OneLineArgumentParser
from assistant.runs.config import TrainConfig
from assistant.runs.registry import RunStatus
from trainer.train import run_training

DESCRIPTION = """Fine-tune an extractive QA reader (DistilBERT by default) on SQuAD-format data.

Data: a hub dataset id (rajpurkar/squad, rajpurkar/squad_v2) or a local file: official nested SQuAD
JSON (v1.1/v2.0), JSONL or CSV with context/question/answers columns, or the chat app's annotations.
The run is saved in models/<run>/ with run.json, metrics.json, events.jsonl and a model card."""


def build_parser(prog: str = "python -m trainer") -> argparse.ArgumentParser:
    p = OneLineArgumentParser(prog=prog, description=DESCRIPTION, formatter_class=argparse.RawDescriptionHelpFormatter)
    d = TrainConfig()
    p.add_argument("--base", dest="base_model", default=DEFAULT_BASE, help=f"base model (default: {DEFAULT_BASE})")
    p.add_argument("--data", default=DEFAULT_DATASET, help=f"training data (default: {DEFAULT_DATASET})")
    p.add_argument(
        "--extra-data",
        action="append",
        default=[],
        metavar="FILE",
        help="more training data, e.g. your annotations (repeatable)",
    )
    p.add_argument("--eval-data", help="test data (default: the official validation split)")
    p.add_argument("--output", help="run directory (default: models/<base>-<data>-<time>)")
    p.add_argument("--epochs", type=float, default=d.epochs)
    p.add_argument("--learning-rate", "--lr", type=float, default=d.learning_rate)
    p.add_argument("--batch-size", type=int, default=d.batch_size)
    p.add_argument("--gradient-accumulation", type=int, default=d.gradient_accumulation)
    p.add_argument("--warmup-ratio", type=float, default=d.warmup_ratio)
    p.add_argument("--weight-decay", type=float, default=d.weight_decay)
    p.add_argument("--max-length", type=int, default=d.max_length, help="window length in tokens")
    p.add_argument("--stride", type=int, default=d.stride, help="tokens shared by consecutive windows")
    p.add_argument("--max-train-samples", type=int)
    p.add_argument("--max-eval-samples", type=int)
    p.add_argument("--max-steps", type=int, default=d.max_steps)
    p.add_argument("--freeze-layers", type=int, default=0, help="freeze embeddings + first N layers (head trains)")
    p.add_argument("--teacher", help="distil from this QA model (same tokenizer)")
    p.add_argument("--distill-temperature", type=float, default=d.distill_temperature)
    p.add_argument("--distill-alpha", type=float, default=d.distill_alpha, help="weight of the SQuAD loss")
    p.add_argument("--precision", choices=["auto", "bf16", "fp16", "fp32"], default="auto")
    p.add_argument("--device", default="auto", help="auto, cpu or cuda")
    p.add_argument("--compile", action="store_true", help="torch.compile the model")
    p.add_argument("--workers", type=int, help="data loader workers (default: 0 on CPU, up to 4 on CUDA)")
    p.add_argument("--seed", type=int, default=d.seed)
    p.add_argument("--resplit", action="store_true", help="hold out --test-size of --data as the test set")
    p.add_argument("--test-size", type=float, default=d.test_size)
    p.add_argument("--resume", action="store_true", help="continue --output from its last checkpoint")
    p.add_argument("--save-steps", type=int, default=d.save_steps, help="checkpoint every N steps (for --resume)")
    p.add_argument("--logging-steps", type=int)
    p.add_argument(
        "--sanity-steps", type=int, default=d.sanity_steps, help="stop if the loss has not moved after this many steps"
    )
    p.add_argument("--export-int8", action="store_true", help="also measure the dynamic-int8 CPU reader's F1")
    p.add_argument("--activate", action="store_true", help="make the run the active reader when it completes")
    p.add_argument("--keep-checkpoints", action="store_true")
    p.add_argument("--events-only", action="store_true", help="no progress bar; print events as JSON lines")
    return p


def config_from_args(args: argparse.Namespace) -> TrainConfig:
    names = {f.name for f in fields(TrainConfig)}
    return TrainConfig(**{k: v for k, v in vars(args).items() if k in names})


class ProgressView:
    """A rich progress bar with ETA and live loss, fed by the trainer's events."""

    def __init__(self, console: Console) -> None:
        self.console = console
        self.progress = Progress(
            TextColumn("[bold]{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("loss {task.fields[loss]}"),
            TimeRemainingColumn(),
            console=console,
        )
        self.task = self.progress.add_task("starting", total=None, loss="—")

    def __call__(self, event: dict[str, Any]) -> None:
        phase = event["phase"]
        if event.get("message") and phase != "failed":  # a failure is printed once, as the error line
            self.console.log(f"[{phase}] {event['message']}")
        if phase == "train" and "step" in event:
            loss = event.get("loss")
            self.progress.update(
                self.task,
                description="training",
                completed=event["step"],
                total=event.get("total"),
                loss=f"{loss:.4f}" if loss is not None else "—",
            )
        if phase == "eval" and event.get("f1") is not None:
            self.console.log(f"EM {event['exact_match']:.2f}  F1 {event['f1']:.2f}")
        if phase == "prepare" and "report" in event:
            from assistant.squad.validate import DataReport

            self.console.print(DataReport(**event["report"]).table("training data"))


def _check_local_models(config: TrainConfig) -> None:
    """Refuse an unusable or unsafe local --base/--teacher folder before any progress is shown."""
    from assistant.core.model_loading import check_model_directory

    for ref in (config.base_model, config.teacher):
        if ref and Path(ref).expanduser().is_dir():
            check_model_directory(Path(ref).expanduser())


def main(argv: Sequence[str] | None = None, prog: str = "python -m trainer") -> int:
    args = build_parser(prog).parse_args(list(argv) if argv is not None else None)
    config = config_from_args(args)
    config.validate()  # one sentence for an impossible flag, before any folder, model or data
    _check_local_models(config)
    console = Console(stderr=True, log_path=False)
    if args.events_only:

        def sink(event: dict[str, Any]) -> None:
            print(json.dumps(event), flush=True)

        result = run_training(config, sink)
    else:
        view = ProgressView(console)
        with view.progress:
            result = run_training(config, view)
    if result.status is RunStatus.COMPLETED:
        ev = result.metrics.get("eval", {})
        console.print(
            f"[green]done[/]: {result.path}  EM {ev.get('exact_match', 0):.2f}  F1 {ev.get('f1', 0):.2f}  "
            f"({result.metrics.get('train_windows_per_second', 0):.1f} windows/s)"
        )
        if not config.activate:
            console.print(f"make it the active reader: assistant models activate {result.path.name}")
        return 0
    if result.status is RunStatus.CANCELLED:
        console.print("cancelled; the active reader is unchanged")
        return 130
    raise UserError(result.message)


def run_eval_command(args: argparse.Namespace) -> int:
    """`assistant eval`: EM/F1 of a reader on SQuAD-format data, printed and saved."""
    from assistant.core.model_loading import load_reader
    from assistant.settings import resolve_model
    from assistant.squad.evaluation import check_output_path, evaluate_reader, save_result, unique_ids
    from assistant.squad.formats import load_data
    from assistant.squad.validate import require_evaluable, validate

    if args.limit is not None and args.limit < 1:
        raise UserError(f"--limit must be a positive whole number, not {args.limit}.")
    chosen_out = check_output_path(Path(args.output)) if args.output else None  # before minutes of work
    console = Console(stderr=True)
    choice = resolve_model(args.model)
    data = load_data(args.data, "validation")
    chosen = data.examples[: args.limit] if args.limit else data.examples
    examples, report = validate(chosen)
    require_evaluable(chosen, report, data)
    examples = unique_ids(examples)
    reader = load_reader(choice.ref, device=args.device, quantize=args.int8)
    t0 = time.perf_counter()
    with Progress(
        TextColumn("evaluating"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(), console=console
    ) as progress:
        task = progress.add_task("eval", total=len(examples))
        result = evaluate_reader(
            reader, examples, data.version_2, progress=lambda done, total: progress.update(task, completed=done)
        )
    result = {
        "model": choice.ref,
        "data": data.source,
        "fingerprint": data.fingerprint,
        "questions": len(examples),
        "int8": bool(args.int8),
        **result,
        "seconds": round(time.perf_counter() - t0, 2),
    }
    print(json.dumps(result))
    out = chosen_out or (Path(choice.ref) / "eval.json" if Path(choice.ref).is_dir() else None)
    if out is not None:
        save_result(out, result)
        console.print(f"saved {out}")
    return 0


if __name__ == "__main__":
    from assistant.guard import run_guarded

    sys.exit(run_guarded(lambda: main()))
