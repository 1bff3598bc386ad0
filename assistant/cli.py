"""`assistant`: chat with documents, ask from the shell, train, evaluate and manage reader models."""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from typing import TYPE_CHECKING

from assistant import __version__
from assistant.core import files, sanitize
from assistant.core.errors import UserError
from assistant.guard import OneLineArgumentParser, run_guarded

if TYPE_CHECKING:
    from rich.console import Console

    from assistant.core.folders import Skipped

EPILOG = """commands:
  assistant [PATH...]            open the chat app (same as `assistant chat [PATH...]`)
  assistant chat [PATH...]       chat with a document, a folder or several as one, in the terminal
  assistant ask PATH QUESTION    answer questions from the shell (QUESTION '-' reads stdin)
  assistant text FILE            print the text answers are found in (their start/end index it)
  assistant train                fine-tune a reader (see `assistant train --help`)
  assistant eval                 EM/F1 of a reader on SQuAD-format data
  assistant models               list trained runs; `assistant models activate RUN`
  assistant bench                measure indexing, answer latency, model load and memory

Documents: plain text and Markdown, PDF (its text layer), HTML, EPUB, DOCX, and any of them gzipped;
the format is told by content. PATH may be a folder: every document in it (not hidden, not .gitignore'd;
--include/--exclude GLOB choose), each file not read listed with why; `ask PATH ... --also PATH2` reads
several files and folders as one context. Answers cite `file · page N` (PDF) or `file · line N`.

Model resolution: --model, then $ASSISTANT_MODEL, then settings.toml's `model`, then the active run
in models/, then the hub default distilbert/distilbert-base-uncased-distilled-squad.
`assistant ask` takes --top-k, --threshold and --int8 from settings.toml when the flag is not given.
"""


def _add_model_options(p: argparse.ArgumentParser) -> None:
    """The chat's and eval's reader flags (``ask`` takes every setting as a flag: ``add_setting_flags``)."""
    from assistant.settings import flag_type

    p.add_argument("--model", help="model directory or hub id (default: see `assistant --help`)")
    p.add_argument(
        "--device", type=flag_type("device"), default="auto", help="auto, cpu, cuda or cuda:N (default: auto)"
    )
    p.add_argument("--int8", action="store_true", help="dynamic int8 quantization on CPU (faster, see README)")


def _add_backend(p: argparse.ArgumentParser, help_text: str) -> None:
    from assistant.core.model_loading import BACKENDS

    p.add_argument("--backend", choices=BACKENDS, default="auto", help=help_text)


def _positive_int(text: str) -> int:
    """--limit 0 or -1 would silently evaluate everything or drop the last question."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive whole number, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive whole number, got {value}")
    return value


def _add_ask(sub: argparse._SubParsersAction[OneLineArgumentParser]) -> None:
    from assistant.settings import add_setting_flags

    ask = sub.add_parser(
        "ask",
        help="answer questions about a document",
        description=(
            "Answer each QUESTION from the text of PATH. A QUESTION of '-' reads one question per line from stdin."
        ),
    )
    ask.add_argument(
        "path",
        metavar="PATH",
        help="a document (text, Markdown, PDF, HTML, EPUB, DOCX, or gzipped) or a folder of them",
    )
    ask.add_argument("questions", metavar="QUESTION", nargs="+", help="question(s), or '-' for stdin")
    ask.add_argument("--model", help="model directory or hub id (default: see `assistant --help`)")
    _add_backend(
        ask, "what runs the reader: auto is ONNX Runtime on the CPU (exported once, cached) and torch on a GPU"
    )
    ask.add_argument(
        "--also",
        action="append",
        default=[],
        metavar="PATH",
        help="read this file or folder too, with PATH, as one context (repeat it for more); answers name their file",
    )
    _add_password(ask)
    _add_folder_globs(ask)
    add_setting_flags(ask)
    ask.add_argument("--json", action="store_true", help="one JSON object per question per line")


def _add_eval(sub: argparse._SubParsersAction[OneLineArgumentParser]) -> None:
    ev = sub.add_parser(
        "eval",
        help="evaluate a reader on SQuAD-format data",
        description="Print and save EM/F1 of a reader on SQuAD-format data.",
    )
    _add_model_options(ev)
    ev.add_argument("--data", required=True, help="SQuAD JSON/JSONL/CSV file, or a hub dataset id")
    ev.add_argument("--limit", type=_positive_int, default=None, help="evaluate the first N questions (N >= 1)")
    _add_backend(ev, "what runs the reader, as for `assistant ask` (default: auto, ONNX Runtime on the CPU)")
    ev.add_argument(
        "--errors",
        type=_positive_int,
        default=None,
        metavar="N",
        help="list the N worst answers (lowest F1, the surest first) with question, gold and predicted answer",
    )
    ev.add_argument(
        "--output",
        help="where to save metrics JSON, with NAME.predictions.json and NAME.nbest_predictions.json beside it"
        " (default: eval.json in the run folder when --model is a run that `assistant train` made; otherwise"
        " printed only)",
    )


def _add_bench(sub: argparse._SubParsersAction[OneLineArgumentParser]) -> None:
    from assistant.settings import flag_type

    bench = sub.add_parser(
        "bench",
        help="benchmark the reader on this machine",
        description="Index a long synthetic document and time answers, load and memory.",
    )
    bench.add_argument("--model", help="model directory (default: random-weight full-size DistilBERT)")
    bench.add_argument("--words", type=_positive_int, default=130_000, help="document size in words (default: 130000)")
    bench.add_argument("--questions", type=_positive_int, default=20, help="questions to time (default: 20)")
    bench.add_argument("--document", help="use this text file instead of a synthetic document")
    bench.add_argument(
        "--backend",
        choices=["both", "onnx", "torch"],
        default="both",
        help="readers to time: ONNX Runtime, torch or both (default: both), each fp32 and int8",
    )
    bench.add_argument(
        "--read-windows",
        type=flag_type("read_windows"),
        default=None,
        help="reading budget per question in windows of context tokens (default: the engine's)",
    )
    bench.add_argument(
        "--retrieval",
        metavar="GOLD_JSON",
        action="append",
        help="also report recall against windows read on a gold set: a SQuAD JSON file, or a questions file"
        " such as benchmarks/data/vim9_questions.json (repeatable)",
    )
    bench.add_argument(
        "--folder",
        metavar="PATH",
        help="instead: time reading and indexing a folder (or a document of any format): first open, reopen, one file"
        " changed, ranking; each in a fresh process, median of 3",
    )
    _add_folder_globs(bench)


def _add_password(p: argparse.ArgumentParser) -> None:
    p.add_argument("--password", help="the password of a password-protected PDF")


def _add_folder_globs(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--include", action="append", default=[], metavar="GLOB", help="in a folder, read only files matching GLOB"
    )
    p.add_argument(
        "--exclude", action="append", default=[], metavar="GLOB", help="in a folder, leave out files matching GLOB"
    )


def _add_text(sub: argparse._SubParsersAction[OneLineArgumentParser]) -> None:
    text = sub.add_parser(
        "text",
        help="print the text answers are found in",
        description=(
            "Print exactly the text read from FILE (as pdftotext does for a PDF): the `start` and `end` of every "
            "answer and passage of `assistant ask --json` index it."
        ),
    )
    text.add_argument("path", metavar="FILE", help="document: text, Markdown, PDF, HTML, EPUB, DOCX (or gzipped)")
    _add_password(text)


def build_parser() -> argparse.ArgumentParser:
    parser = OneLineArgumentParser(
        prog="assistant",
        description="Ask questions about documents and folders; answers are exact spans found by a DistilBERT reader.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    _add_ask(sub)
    _add_text(sub)
    chat = sub.add_parser("chat", help="open the chat app", description="Open the terminal chat app.")
    chat.add_argument(
        "paths",
        metavar="PATH",
        nargs="*",
        help="a document or a folder to open at start; several: read as one context, answers naming their file",
    )
    _add_model_options(chat)
    _add_eval(sub)
    models = sub.add_parser("models", help="list runs or activate one", description="List trained runs in models/.")
    models.add_argument("action", nargs="?", choices=["list", "activate"], default="list")
    models.add_argument("run", nargs="?", help="run name for `activate`")
    models.add_argument("--json", action="store_true")
    _add_bench(sub)
    sub.add_parser("train", help="fine-tune a reader (`assistant train --help`)", add_help=False)
    return parser


COMMANDS = ("ask", "text", "chat", "eval", "models", "bench", "train")


def _means_chat(first: str) -> bool:
    """A chat flag or a file to open (a path, or a name with a suffix) where a command would be; a misspelt command
    (`assistant aks`) is still said to be one."""
    if first in COMMANDS or first in ("-h", "--help", "--version"):
        return False
    return first.startswith("-") or os.path.lexists(first) or "/" in first or "." in first


SHORT_LIVED_QUESTIONS = 10
"""Up to this many questions on the command line, ``ask`` loads the reader for a quick start rather than for
fast passes (no ONNX weight prepacking: 0.23 s sooner, about 18 ms slower a window on this machine)."""


def _as_text(raw: bytes) -> str:
    from assistant.core.formats.text import decode_text

    return decode_text(raw)[0]


def _stdin_lines() -> Iterator[str]:
    """Standard input's lines as text (its bytes decoded as a document's are); a line longer than any question is
    refused as soon as that is known, without reading the rest of it."""
    from assistant.core.limits import MAX_QUESTION_CHARS

    if sys.stdin is None:
        raise UserError("Standard input is closed, so '-' has no question to read; give the questions as arguments.")
    source = getattr(sys.stdin, "buffer", None)
    limit = 4 * MAX_QUESTION_CHARS + 1  # bytes: a character is at most 4 of them in UTF-8
    while True:
        raw: bytes | str = source.readline(limit) if source is not None else sys.stdin.readline(limit)
        if not raw:
            return
        line = _as_text(raw) if isinstance(raw, bytes) else raw
        if len(raw) == limit and not line.endswith("\n"):
            raise UserError(
                f"A question on standard input is longer than the limit of {MAX_QUESTION_CHARS:,} characters."
            )
        yield line


def _questions(raw: Sequence[str]) -> Iterator[str]:
    """Each question, as text however the terminal encoded it (a stray cp1252 byte too), checked for length."""
    from assistant.core.limits import check_question

    for q in raw:
        if q == "-":
            for line in _stdin_lines():
                if line.strip():
                    yield check_question(line)
        else:
            yield check_question(_as_text(os.fsencode(q)))


def _load_notice(kind: str, message: str) -> None:
    """A fallback to torch is always worth a line; export progress only when a person watches stderr."""
    if kind != "progress" or sys.stderr.isatty():
        print(sanitize.one_line(message), file=sys.stderr, flush=True)


def cmd_ask(args: argparse.Namespace) -> int:
    from rich.console import Console

    from assistant.core.engine import NOT_FINITE, QAEngine
    from assistant.core.folder_index import open_indexed
    from assistant.core.model_loading import load_reader
    from assistant.core.sanitize import json_for_terminal
    from assistant.paths import folder_index_dir, index_cache_dir, user_cache_dir
    from assistant.rendering import answer_panel
    from assistant.runs.reader_defaults import reader_defaults
    from assistant.settings import Settings, engine_settings, resolve_model, with_flags
    from assistant.store import Context

    saved, problems = Settings.load_checked()
    settings = with_flags(saved, args)
    with _ReadProgress() as progress:
        opened, indexed = open_indexed(
            args.path,
            engine_settings(settings),
            file_cache=index_cache_dir(),
            folder_cache=folder_index_dir(),
            also=args.also,
            include=args.include,
            exclude=args.exclude,
            password=args.password,
            progress=progress,
        )
    document = opened.document
    choice = resolve_model(args.model, settings)
    t0 = time.perf_counter()
    reader = load_reader(
        choice.ref,
        device=settings.device,
        quantize=settings.int8,
        backend=args.backend,
        cache_dir=user_cache_dir(),
        notify=_load_notice,
        short_lived="-" not in args.questions and len(args.questions) <= SHORT_LIVED_QUESTIONS,
    )
    reading = engine_settings(settings, reader_defaults(choice.ref))
    engine = QAEngine(reader, reading, load_model_ms=(time.perf_counter() - t0) * 1000)
    console = Console()
    asked = 0
    for question in _questions(args.questions):
        asked += 1
        result = engine.ask(indexed, question)
        if result.no_answer_reason == NOT_FINITE:
            print(f"warning: {NOT_FINITE}; retrain it or choose another with --model.", file=sys.stderr, flush=True)
        if args.json:
            sys.stdout.write(json_for_terminal(result.to_json()) + "\n")
            sys.stdout.flush()
        else:
            console.print(answer_panel(result, Context.of(args.path, *args.also).name if args.also else document.name))
    if not asked:
        raise UserError("No question was given: standard input held no non-blank line.")
    for problem in problems:  # after the answers: a failure stays one sentence, a success says what was not used
        print(f"warning: {sanitize.one_line(problem)}", file=sys.stderr, flush=True)
    _say_skipped(opened.skipped)
    return 0


SKIPPED_SHOWN = 20
"""Files not read that ``ask`` names one by one on a terminal; past it, how many more (all when stderr is a file)."""


def _say_skipped(skipped: Sequence[Skipped]) -> None:
    """Every file of a folder that was not read, with why (never silently dropped), after the answers: the first
    few on a terminal, where a long list would push the answers out of sight, every one into a file or a pipe."""
    shown = SKIPPED_SHOWN if sys.stderr.isatty() else len(skipped)
    for entry in skipped[:shown]:
        print(f"note: not read: {sanitize.one_line(entry.path)}: {sanitize.one_line(entry.why)}", file=sys.stderr)
    if len(skipped) > shown:
        more = len(skipped) - shown
        print(
            f"note: {more:,} more files not read (send stderr to a file to list them all: 2> notes.txt)",
            file=sys.stderr,
        )


class _ReadProgress:
    """How far reading a long document or a folder has come, on one line of stderr when a person watches it; the
    line is erased when reading ends, however it ends (ctrl+c included), before anything else is printed."""

    def __init__(self) -> None:
        self.shown = False

    def __call__(self, stage: str, fraction: float) -> None:
        if sys.stderr.isatty():
            print(f"\rreading {stage} ({fraction:.0%}) · ctrl+c stops\x1b[K", end="", file=sys.stderr, flush=True)
            self.shown = True

    def __enter__(self) -> _ReadProgress:
        return self

    def __exit__(self, *_: object) -> None:
        if self.shown:
            print("\r\x1b[K", end="", file=sys.stderr, flush=True)


def cmd_text(args: argparse.Namespace) -> int:
    from assistant.core.documents import load_document

    if files.path_kind(files.named_path(args.path)) == "dir":
        raise UserError(f"{args.path} is a folder; `assistant text` prints one file's text (an answer names its file).")
    with _ReadProgress() as progress:
        document = load_document(args.path, password=args.password, progress=progress)
    if sys.stdout.isatty():
        sys.stdout.write(sanitize.visible(document.text))
        sys.stdout.flush()
    else:  # exactly the text, as UTF-8: a character the encoder cannot write becomes one "?", so offsets hold
        sys.stdout.buffer.write(document.text.encode("utf-8", "replace"))
        sys.stdout.buffer.flush()
    return 0


def cmd_models(args: argparse.Namespace) -> int:
    """List runs (a killed run shows as interrupted, with how to resume it) or make one the active reader."""
    from rich.console import Console

    from assistant.core.sanitize import json_for_terminal
    from assistant.rendering import runs_table, safe_text
    from assistant.runs.registry import active_problem, list_runs

    console = Console()
    if args.action == "activate":
        if args.run is None:
            raise UserError("Name the run to activate: `assistant models activate RUN`.")
        return _activate(args.run, console)
    if args.run is not None:  # `models list NAME`: a name that would be silently ignored
        raise UserError(f"`assistant models list` takes no run name (got {args.run!r}); see `assistant models --help`.")
    runs = list_runs()
    problem = active_problem()
    if args.json:
        rows = [
            {
                "name": r.name,
                "status": r.status.value,
                "active": r.active,
                "exact_match": r.exact_match,
                "f1": r.f1,
                "base": r.base_model,
                "hint": r.hint,
            }
            for r in runs
        ]
        print(json_for_terminal(rows, indent=2))
    elif not runs:
        print("No runs yet; train one with `assistant train`.")
    else:
        console.print(runs_table(runs))
        for r in runs:
            if r.hint:
                console.print(safe_text(f"{r.name}: {r.hint}"), highlight=False, soft_wrap=True)
    if problem:
        print(f"warning: {sanitize.one_line(problem)}", file=sys.stderr)
    return 0


def _activate(name: str, console: Console) -> int:
    """Make run ``name`` what loads from now on: the active run, and settings.toml's model (which would win over
    it) cleared, as activating a run in the app does."""
    from dataclasses import replace

    from assistant.core import files
    from assistant.rendering import safe_text
    from assistant.runs.registry import activatable, activate
    from assistant.settings import Settings

    info = activatable(name)
    try:
        activate(name)
    except files.WRITE_ERRORS as exc:
        raise UserError(f"Could not make {name} active: {files.write_problem(exc)}.") from None
    settings = Settings.load()
    before = settings.model
    try:
        if before:  # it would win over the active run
            replace(settings, model="").save()
    except files.WRITE_ERRORS as exc:
        raise UserError(
            f"{name} is now the active run, but settings.toml's model ({before}) still wins over it: "
            f"{Settings.path()} could not be written ({files.write_problem(exc)}); remove its model line."
        ) from None
    console.print(safe_text(f"Active reader is now {info.name} ({info.path})."))
    if before:
        console.print(safe_text(f"settings.toml's default model ({before}) was cleared so that the active run loads."))
    return 0


def _check_some_document(paths: Sequence[str]) -> None:
    """Refuse several paths none of whose files can be read, in the words of the first file's reason; reading
    stops at the first file that reads."""
    from assistant.core.documents import max_document_bytes, read_extracted
    from assistant.core.errors import DocumentError, PasswordNeeded
    from assistant.core.folders import selected

    walk = selected(paths).walk
    first_error: str | None = None
    for _, path in walk.found:
        try:
            read_extracted(path, max_document_bytes())
            return
        except PasswordNeeded:
            return  # protected: listed as not read, with why, once the chat opens the others
        except DocumentError as exc:
            first_error = first_error or str(exc).rstrip(".")
    why = first_error or (f"{walk.skipped[0].path}: {walk.skipped[0].why}" if walk.skipped else "no file to read")
    raise DocumentError(f"None of the paths named holds a document that can be read ({why}).")


def _check_chat_paths(first: str, also: Sequence[str]) -> None:
    """Fail fast, before the screen opens, on what the chat could not open (each file is read once, by the app)."""
    from assistant.core.documents import load_document
    from assistant.core.errors import PasswordNeeded
    from assistant.core.folders import check_folder

    if also:
        _check_some_document([first, *also])
        return
    path = files.named_path(first)
    if files.path_kind(path) == "dir":
        check_folder(path)
    else:
        with contextlib.suppress(PasswordNeeded):  # the app asks for it
            load_document(path)


def cmd_chat(args: argparse.Namespace) -> int:
    from assistant.tui.app import AssistantApp

    first, *also = args.paths or [None]
    if first is not None:
        _check_chat_paths(first, also)
    app = AssistantApp(document_path=first, also=also, model=args.model, device=args.device, int8=args.int8)
    app.run()
    return app.return_code or 0


def main(argv: Sequence[str] | None = None) -> int:
    words: list[str] = list(sys.argv[1:] if argv is None else argv)
    for name in ("stdout", "stderr"):  # closed by the shell (>&-): what would be printed goes nowhere, as it would
        if getattr(sys, name) is None:
            setattr(sys, name, open(os.devnull, "w", encoding="utf-8"))  # noqa: SIM115 - for the process's life
    if words and words[0] == "train":
        from trainer.cli import main as train_main

        return run_guarded(_after_setup(lambda: train_main(words[1:], prog="assistant train")))
    parser = build_parser()
    if words and _means_chat(words[0]):
        words = ["chat", *words]  # `assistant notes.txt`, `assistant --model M`: the chat, as `assistant` alone is
    args = parser.parse_args(words)
    command = args.command or "chat"
    if args.command is None:
        args = parser.parse_args(["chat"])
    handlers = {
        "ask": cmd_ask,
        "text": cmd_text,
        "chat": cmd_chat,
        "models": cmd_models,
        "eval": _cmd_eval,
        "bench": _cmd_bench,
    }
    return run_guarded(_after_setup(lambda: handlers[command](args)))


def _after_setup(command: Callable[[], int]) -> Callable[[], int]:
    """``command``, once what every command needs of its environment is checked: the folders it reads and writes
    (a file there is one sentence, before any work) and the thread counts it is told (lowered to the CPUs)."""

    def run() -> int:
        from assistant.core.limits import clamp_thread_variables
        from assistant.paths import check_folders

        check_folders()
        for note in clamp_thread_variables():
            print(f"note: {sanitize.one_line(note)}", file=sys.stderr)
        return command()

    return run


def _cmd_eval(args: argparse.Namespace) -> int:
    from trainer.cli import run_eval_command

    return run_eval_command(args)


def _cmd_bench(args: argparse.Namespace) -> int:
    from assistant.bench import run_bench

    return run_bench(args)


if __name__ == "__main__":
    sys.exit(main())
