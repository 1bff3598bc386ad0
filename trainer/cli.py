"""`assistant train` / `python -m trainer` and `assistant eval`: the trainer's command line.

The training flags are made from ``TrainConfig``'s fields (type, default and help text), so a new setting is
one field; ``--config FILE`` reads a file written by ``TrainConfig.save`` and the flags given override it.
SIGTERM and Ctrl-C are handled here: they ask ``run_training`` to stop at the next step boundary.
"""

from __future__ import annotations

import argparse
import contextlib
import signal
import sys
import time
from collections.abc import Iterator, Sequence
from dataclasses import asdict, replace
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING, Any

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from rich.text import Text

from assistant.core import files
from assistant.core.errors import UserError
from assistant.core.sanitize import json_for_terminal
from assistant.guard import EXIT_INTERRUPTED, OneLineArgumentParser, print_error
from assistant.rendering import safe_text
from assistant.runs.config import (
    OptionSpec,
    TrainConfig,
    launch_processes,
    option_specs,
    resumed_config,
    writes_the_run,
)
from assistant.runs.events import Phase, RunEvent
from assistant.runs.registry import RunStatus
from assistant.runs.schema import EvalScores, RunMetrics

if TYPE_CHECKING:  # torch and transformers come with them: `assistant eval` and --help start without them
    from assistant.squad.evaluation import Predictions
    from trainer.callbacks import EventSink
    from trainer.cancel import CancelToken
    from trainer.train import RunResult

DESCRIPTION = """Fine-tune an extractive QA reader (DistilBERT by default) on SQuAD-format data.

Data: a hub dataset id (rajpurkar/squad, rajpurkar/squad_v2) or a local file: official nested SQuAD
JSON (v1.1/v2.0), JSONL or CSV with context/question/answers columns, or the chat app's annotations.
The run is saved in models/<run>/ with run.json, metrics.json, events.jsonl and a model card."""

CLI_ONLY = ("config", "events_only")
"""Flags that are not training settings."""


_METAVARS = {str: "TEXT", int: "N", float: "X"}


def _help(spec: OptionSpec) -> str:
    default = spec.default
    if default is None or default is False or default == [] or "default:" in spec.help:
        return spec.help
    return f"{spec.help} (default: {default})"


def add_option(parser: argparse._ActionsContainer, spec: OptionSpec) -> None:
    """One TrainConfig field as a flag; an absent flag leaves no attribute, so that --config's value stays."""
    kw: dict[str, Any] = {"dest": spec.name, "default": argparse.SUPPRESS, "help": _help(spec)}
    if spec.kind is bool:
        kw["action"] = "store_true"
    else:
        kw["type"] = spec.kind
        if spec.repeated:
            kw["action"] = "append"
        if spec.choices is not None:
            kw["choices"] = spec.choices  # argparse shows them in place of a metavar
        else:
            kw["metavar"] = spec.metavar or _METAVARS[spec.kind]
    parser.add_argument(*spec.flags, **kw)


def build_parser(prog: str = "python -m trainer") -> argparse.ArgumentParser:
    p = OneLineArgumentParser(
        prog=prog,
        description=DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        allow_abbrev=False,  # a flag cut short could be passed to torchrun (--nproc), which reads it as its own
    )
    p.add_argument(
        "--config",
        type=Path,
        metavar="FILE",
        help="settings from a JSON file written by the app (TrainConfig.save); flags given here override them",
    )
    settings = p.add_argument_group("training settings")
    for spec in option_specs():
        add_option(settings, spec)
    p.add_argument("--events-only", action="store_true", help="no progress bar; print events as JSON lines")
    return p


def _launch(processes: int, argv: Sequence[str]) -> int:
    """Run ``torchrun --standalone --nproc_per_node N -m trainer ARGS`` in this process: a cancel sent to it reaches
    every rank through the launcher; only rank 0's output is shown (one error line, not one per rank); a rank that
    fails ends this with its exit status, not torchrun's traceback."""
    import logging

    from torch.distributed.elastic.multiprocessing.api import SignalException
    from torch.distributed.elastic.multiprocessing.errors import ChildFailedError
    from torch.distributed.run import parse_args, run

    for name in [n for n in logging.root.manager.loggerDict if n.startswith("torch.distributed")]:
        logging.getLogger(name).setLevel(logging.CRITICAL)  # its notes and failure lines: rank 0 says what happened
    rest = _without_nproc(list(argv))  # torchrun would take --nproc for its own --nproc-per-node
    launch = ["--standalone", "--nproc_per_node", str(processes), "--local-ranks-filter", "0", "-m", "trainer"]
    try:
        run(parse_args([*launch, *rest]))  # type: ignore[no-untyped-call]  # torch ships these untyped
    except ChildFailedError as exc:
        codes = [failure.exitcode for failure in exc.failures.values()]
        return next((code for code in codes if code > 0), EXIT_INTERRUPTED)
    except SignalException:  # ctrl+c or a cancel: torchrun passed it on; rank 0 said how the run ended
        return EXIT_INTERRUPTED
    return 0


def _die_with_launcher() -> None:
    """A rank whose launcher is killed (kill -9) dies too (Linux's parent-death signal), instead of training on
    unseen and unstoppable: rank 0's run is then interrupted, and ``--resume`` continues it."""
    import ctypes
    import ctypes.util

    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
        libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):  # not Linux: the launcher's own handling stands
        pass


def _without_nproc(argv: list[str]) -> list[str]:
    out: list[str] = []
    skip = False
    for word in argv:
        if skip:
            skip = False
        elif word == "--nproc":
            skip = True
        elif not word.startswith("--nproc="):
            out.append(word)
    return out


def config_from_args(args: argparse.Namespace) -> TrainConfig:
    """The config file's settings (or, resuming a run, the run's own; else the defaults), with every flag given on
    the command line on top; in a launch's rank, ``nproc`` is the launch's (what run.json keeps, for --resume)."""
    given = {k: v for k, v in vars(args).items() if k not in CLI_ONLY}
    if args.config is not None:
        base = TrainConfig.load(args.config)
    elif given.get("resume") and given.get("output"):
        base = resumed_config(files.user_path(given["output"]))
    else:
        base = TrainConfig()
    config = replace(base, **given)
    return replace(config, nproc=launch_processes()) if launch_processes() > 1 else config


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

    def __call__(self, event: RunEvent) -> None:
        if event.message and event.phase is not Phase.FAILED:  # a failure is printed once, as the error line
            self.console.log(safe_text(f"[{event.phase}] {event.message}"))
        if event.is_step:
            self.progress.update(
                self.task,
                description="training",
                completed=event.step,
                total=event.total,
                loss=f"{event.loss:.4f}" if event.loss is not None else "—",
            )
        if event.phase is Phase.EVAL and event.scores is not None:
            self.console.log(f"EM {event.scores[0]:.2f}  F1 {event.scores[1]:.2f}")
        if event.phase is Phase.PREPARE and event.report is not None:
            from assistant.squad.validate import DataReport

            self.console.print(DataReport(**event.report).table("training data"))


def preflight(config: TrainConfig) -> None:
    """Refuse, before any progress is shown, what can be known wrong without loading anything: an unusable or
    unsafe local --base/--teacher folder, a local data file that cannot be read or is of no data format, a --resume
    of a folder that is not a run this program may continue."""
    from assistant.core import files
    from assistant.core.model_loading import BASE_HOW_TO_GET, check_obtainable
    from assistant.runs.opening import check_resume
    from assistant.squad.formats import DATA_FILE, check_data_suffix, is_local_source

    if config.resume and config.output:  # first: a run that cannot be resumed is the whole answer
        check_resume(files.user_path(config.output), asdict(config))
    for ref in (config.base_model, config.teacher):
        if ref:
            check_obtainable(ref, BASE_HOW_TO_GET)
    for source in (config.data, config.eval_data, config.replay_data, *config.extra_data):
        if source and is_local_source(source):
            files.check_regular(files.user_path(source), DATA_FILE)
            check_data_suffix(files.user_path(source))


@contextlib.contextmanager
def cancel_on_signals(token: CancelToken) -> Iterator[None]:
    """SIGTERM/SIGINT ask the training loop to stop at its next step boundary.

    Outside the loop (loading, preparing, evaluating), or on a second signal, the handler raises
    ``TrainingCancelled`` at once; ``run_training`` records the run as cancelled either way.
    """

    from trainer.cancel import TrainingCancelled

    def handle(signum: int, frame: FrameType | None) -> None:
        name = signal.Signals(signum).name
        at_next_step = token.in_loop and not token.signalled
        token.signalled = True
        token.request(name)
        if not at_next_step:
            raise TrainingCancelled(name)

    previous: dict[signal.Signals, Any] = {}
    for sig in (signal.SIGTERM, signal.SIGINT):
        with contextlib.suppress(ValueError):  # not the main thread: the caller cancels through the token
            previous[sig] = signal.signal(sig, handle)
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def _print_event(event: RunEvent) -> None:
    print(json_for_terminal(event.to_json()), flush=True)


def _train(config: TrainConfig, sink: EventSink) -> RunResult:
    from trainer.cancel import CancelToken, TrainingCancelled
    from trainer.train import RunResult, run_training

    token = CancelToken()
    try:
        with cancel_on_signals(token):
            return run_training(config, sink, token)
    except TrainingCancelled:  # a signal just before or after the run's own handling: nothing was recorded
        return RunResult(Path(config.output or "."), RunStatus.CANCELLED, None, "cancelled")


def _report(result: RunResult, config: TrainConfig, console: Console) -> int:
    if result.status is RunStatus.COMPLETED and not writes_the_run():
        return 0  # rank 0 of the launch reports the run, with the one evaluation there is
    if result.status is RunStatus.COMPLETED:
        metrics = result.metrics or RunMetrics()
        scores = metrics.eval or EvalScores()
        line = Text("done", style="green")
        line.append_text(
            safe_text(
                f": {result.path}  EM {scores.exact_match or 0:.2f}  F1 {scores.f1 or 0:.2f}  "
                f"({metrics.train_windows_per_second or 0:.1f} windows/s)"
            )
        )
        console.print(line)
        if not config.activate:
            console.print(safe_text(f"make it the active reader: assistant models activate {result.path.name}"))
        return 0
    if result.status is RunStatus.CANCELLED:
        console.print("cancelled; the active reader is unchanged")
        return EXIT_INTERRUPTED
    if result.status is RunStatus.INTERRUPTED:  # stopped, not broken: the status of a stop, with how to resume
        print_error(result.message)
        return EXIT_INTERRUPTED
    raise UserError(result.message)


def main(argv: Sequence[str] | None = None, prog: str = "python -m trainer") -> int:
    args = build_parser(prog).parse_args(list(argv) if argv is not None else None)
    config = config_from_args(args)
    config.validate()  # one sentence for an impossible flag, before any folder, model or data
    preflight(config)
    if getattr(args, "nproc", 1) > 1 and launch_processes() > 1:  # given on the command line, not the launch's
        raise UserError(
            f"--nproc starts a launch of its own, but this process is already one of a launch of {launch_processes()} "
            "(WORLD_SIZE is set): drop --nproc, or unset WORLD_SIZE."
        )
    if config.nproc > 1 and launch_processes() == 1:
        return _launch(config.nproc, sys.argv[1:] if argv is None else argv)
    if launch_processes() > 1:
        _die_with_launcher()
    console = Console(stderr=True, log_path=False)
    if not writes_the_run():  # another rank of a launch: rank 0 shows the run's progress and events, once
        result = _train(config, lambda event: None)
    elif args.events_only:
        result = _train(config, _print_event)
    else:
        view = ProgressView(console)
        with view.progress:
            result = _train(config, view)
    return _report(result, config, console)


def run_eval_command(args: argparse.Namespace) -> int:
    """`assistant eval`: EM/F1 of a reader on SQuAD-format data, printed and saved."""
    from assistant.settings import resolve_model
    from assistant.squad.evaluation import (
        check_output_path,
        evaluate_with_predictions,
        load_eval_reader,
        prediction_paths,
        unique_ids,
        worst_misses,
    )
    from assistant.squad.formats import load_data
    from assistant.squad.validate import require_evaluable, validate

    if args.limit is not None and args.limit < 1:
        raise UserError(f"--limit must be a positive whole number, not {args.limit}.")
    chosen_out = check_output_path(Path(args.output)) if args.output else None  # before minutes of work
    if chosen_out is not None:
        for path in prediction_paths(chosen_out):
            check_output_path(path)
    console = Console(stderr=True)
    choice = resolve_model(args.model)
    data = load_data(args.data, "validation")
    chosen = data.examples[: args.limit] if args.limit else data.examples
    examples, report = validate(chosen)
    require_evaluable(chosen, report, data)
    examples = unique_ids(examples)
    reader = load_eval_reader(choice.ref, args.device, args.int8, args.backend)
    t0 = time.perf_counter()
    with Progress(  # transient: once done (or failed) the bar goes, so a failure is the one line left
        TextColumn("evaluating"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
        console=console,
        transient=True,
    ) as progress:
        task = progress.add_task("eval", total=len(examples))
        result, predictions = evaluate_with_predictions(
            reader, examples, data.version_2, progress=lambda done, total: progress.update(task, completed=done)
        )
    record = {
        "model": choice.ref,
        "data": data.source,
        "fingerprint": data.fingerprint,
        "questions": len(examples),
        "int8": bool(args.int8),
        "backend": reader.backend.kind,
        **result,
        "seconds": round(time.perf_counter() - t0, 2),
    }
    print(json_for_terminal(record))
    out = chosen_out or _run_eval_file(files.user_path(choice.ref))
    if out is not None:
        _save_evaluation(out, record, predictions, data.version_2, console)
    if args.errors:
        _print_misses(worst_misses(examples, predictions, args.errors), console)
    return 0


def _save_evaluation(out: Path, record: dict[str, Any], predictions: Predictions, v2: bool, console: Console) -> None:
    """The metrics, and beside them what they were computed from, as ``run_qa.py`` saves it."""
    from assistant.squad.evaluation import prediction_paths, save_result

    text_path, nbest_path = prediction_paths(out)
    save_result(text_path, dict(predictions.text), follow=False)
    nbest = {
        qid: {"candidates": best} | ({"no_answer_probability": predictions.na_prob[qid]} if v2 else {})
        for qid, best in predictions.nbest.items()
    }
    save_result(nbest_path, nbest, follow=False)
    save_result(out, record)
    console.print(safe_text(f"saved {out}, {text_path.name} and {nbest_path.name}"))


def _print_misses(misses: list[dict[str, Any]], console: Console) -> None:
    """The worst answers, one block each: the question, the gold answers and what the reader said."""
    if not misses:
        console.print("every answer matched its gold answer")
    for miss in misses:
        gold = " | ".join(miss["gold"]) if any(miss["gold"]) else "(no answer)"
        console.print(safe_text(f"F1 {miss['f1']:.2f} · {miss['confidence']:.0%} sure · {miss['id']}", "bold"))
        console.print(safe_text(f"  question:  {miss['question']}"))
        console.print(safe_text(f"  gold:      {gold}"))
        console.print(safe_text(f"  predicted: {miss['predicted'] or '(no answer)'}"))


def _run_eval_file(model: Path) -> Path | None:
    """Where eval saves its metrics without --output: a run folder's eval.json, if the model is a run this program
    made and no trainer is writing; any other folder (a user's model) is never written into."""
    from assistant.core.ownership import is_ours, lock_is_held
    from assistant.runs.registry import RUN_KIND

    if is_ours(model, RUN_KIND) and not lock_is_held(model):
        return model / "eval.json"
    return None


if __name__ == "__main__":
    from assistant.guard import run_guarded

    sys.exit(run_guarded(lambda: main()))
