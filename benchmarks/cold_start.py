"""Cold-start `assistant ask`: ONNX Runtime (no torch import) against torch, in fresh processes.

On a synthetic 130,000-word document and a full-size DistilBERT with random weights (speed does not
depend on the weights), each run is a new ``python -m assistant ask DOC QUESTION --json`` process:
the wall time a user waits for one answer. Beside it, in the same run and interleaved with it: the
wall time of ``python -c "import torch, transformers"`` (what the torch path pays before any work)
and the torch-backend cold ask. Peak RSS is each child's own (``os.wait4``'s rusage, ru_maxrss; Linux
starts a child's peak at its parent's, so this script never imports torch itself).
The ONNX export is made once before anything is timed (a warm cache), and every command runs once
unmeasured first so the files are in the page cache. Finally the warm in-process answer p50 of each
backend (``assistant.bench.bench_reader``, fresh process each, after a warm-up question).

    python benchmarks/cold_start.py [--runs 5] [--words 130000] [--questions 20] [--json results.json]
        [--model DIR] [--document FILE]

``--model`` times a model folder of your own (a copy is exported into the benchmark's fresh cache),
``--document`` a real text instead of the synthetic one, and ``--baseline DIR`` also times the cold ask
of an older checkout (``git worktree add DIR COMMIT``), e.g. the main before the ONNX path.

Run it on an idle machine: other work on the cores shows up in every figure.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def _timed(argv: list[str], env: dict[str, str], out: Path, cwd: Path = ROOT) -> dict[str, Any]:
    """Run ``argv`` in ``cwd`` to the end: wall seconds, the child's own peak RSS (MiB) and exit code."""
    with (out / "stdout").open("w") as stdout, (out / "stderr").open("w") as stderr:
        t0 = time.perf_counter()
        proc = subprocess.Popen(argv, stdout=stdout, stderr=stderr, env=env, cwd=cwd)
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - t0
    proc.returncode = os.waitstatus_to_exitcode(status)
    result: dict[str, Any] = {"wall_s": wall, "peak_rss_mib": usage.ru_maxrss / 1024, "rc": proc.returncode}
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(argv)} failed ({proc.returncode}): {(out / 'stderr').read_text()[-2000:]}")
    lines = (out / "stdout").read_text().splitlines()
    if lines and lines[0].startswith("{"):
        result["timings"] = json.loads(lines[0])["timings"]
        result["answer"] = (json.loads(lines[0])["answers"] or [{}])[0].get("text")
    return result


def _make_model(doc: Path, directory: Path) -> Path:
    """In a child process: a child's peak RSS starts at its parent's, so this process stays small (no torch)."""
    code = (
        "import sys; from pathlib import Path; from assistant.core.random_model import random_distilbert; "
        "random_distilbert(Path(sys.argv[2]), Path(sys.argv[1]).read_text(encoding='utf-8'))"
    )
    subprocess.run([sys.executable, "-c", code, str(doc), str(directory)], check=True, cwd=ROOT, capture_output=True)
    return directory


def _commands(doc: Path, model: Path, question: str, baseline: Path | None) -> dict[str, tuple[list[str], Path]]:
    """Each timed command and the folder it runs in (``python -m assistant`` runs that folder's code)."""
    ask = [sys.executable, "-m", "assistant", "ask", str(doc), question, "--model", str(model), "--json"]
    commands = {
        "ask, onnx backend": ([*ask, "--backend", "onnx"], ROOT),
        "ask, torch backend": ([*ask, "--backend", "torch"], ROOT),
        'python -c "import torch, transformers"': ([sys.executable, "-c", "import torch, transformers"], ROOT),
    }
    if baseline is not None:
        commands[f"ask, {baseline.name} checkout"] = (ask, baseline)
    return commands


def _cold_runs(
    commands: dict[str, tuple[list[str], Path]], env: dict[str, str], runs: int, out: Path
) -> dict[str, list[dict[str, Any]]]:
    for argv, cwd in commands.values():  # unmeasured: the export, and every file in the page cache
        _timed(argv, env, out, cwd)
    results: dict[str, list[dict[str, Any]]] = {name: [] for name in commands}
    for i in range(runs):
        for name, (argv, cwd) in commands.items():
            results[name].append(_timed(argv, env, out, cwd))
            print(f"  run {i + 1}/{runs} {name}: {results[name][-1]['wall_s']:.2f} s", file=sys.stderr)
    return results


def _summary(runs: list[dict[str, Any]]) -> dict[str, Any]:
    row: dict[str, Any] = {
        "wall_s_median": statistics.median(r["wall_s"] for r in runs),
        "wall_s_all": [round(r["wall_s"], 3) for r in runs],
        "peak_rss_mib_median": statistics.median(r["peak_rss_mib"] for r in runs),
    }
    if "timings" in runs[0]:
        for key in runs[0]["timings"]:
            row[f"{key}_median"] = statistics.median(r["timings"][key] for r in runs)
        row["answer"] = runs[0].get("answer")
    return row


def _warm(model: Path, text: str, questions: int, cache: Path) -> dict[str, dict[str, Any]]:
    from assistant.bench import _in_fresh_process, _questions, bench_reader
    from assistant.core.documents import Document

    document = Document.from_text(text)
    asked = _questions(text, questions)
    return {
        backend: _in_fresh_process(bench_reader, str(model), document, asked, False, 1, backend, str(cache))
        for backend in ("onnx", "torch")
    }


def _print(cold: dict[str, dict[str, Any]], warm: dict[str, dict[str, Any]], words: int, runs: int) -> None:
    print(f"\nCold start on a {words:,}-word document, median of {runs} fresh processes ({os.cpu_count()} CPUs)")
    print(f"{'command':44} {'wall s':>8} {'peak MiB':>9} {'load ms':>8} {'index ms':>9} {'answer ms':>10}")
    for name, row in cold.items():
        inner = [row.get(f"{k}_median", float("nan")) for k in ("load_model_ms", "index_ms", "answer_ms")]
        print(
            f"{name:44} {row['wall_s_median']:8.2f} {row['peak_rss_mib_median']:9.0f}"
            f" {inner[0]:8.0f} {inner[1]:9.0f} {inner[2]:10.0f}"
        )
    print("\nWarm, in one process after a warm-up question")
    head = ("answer p50 ms", "answer p90 ms", "import ms", "load ms", "peak MiB")
    print(f"{'backend':12} " + " ".join(f"{h:>14}" for h in head))
    for row in warm.values():
        print(
            f"{row['backend']:12} {row['answer_ms_p50']:14.0f} {row['answer_ms_p90']:14.0f}"
            f" {row['import_ms']:14.0f} {row['load_model_ms']:14.0f} {row['peak_rss_mib']:14.0f}"
        )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--words", type=int, default=130_000)
    parser.add_argument("--questions", type=int, default=20, help="questions timed warm, per backend")
    parser.add_argument("--json", help="also write the figures here")
    parser.add_argument("--model", type=Path, help="model folder to time (default: a random full-size DistilBERT)")
    parser.add_argument("--document", type=Path, help="text file to ask about (default: a synthetic document)")
    parser.add_argument(
        "--baseline", type=Path, help="a checkout of an older commit (git worktree) whose cold ask is timed alongside"
    )
    args = parser.parse_args()

    from assistant.bench import _questions, synthetic_document

    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        text = args.document.read_text(encoding="utf-8") if args.document else synthetic_document(args.words)
        doc = root / "document.txt"
        doc.write_text(text, encoding="utf-8")
        model = args.model.resolve() if args.model else _make_model(doc, root / "distilbert-random")
        args.words = len(text.split())
        env = dict(os.environ, HF_HUB_OFFLINE="1", ASSISTANT_CACHE_DIR=str(root / "cache"))
        for name in ("MODELS", "DATA", "CONFIG"):  # no user settings (int8, top_k) change what is timed
            env[f"ASSISTANT_{name}_DIR"] = str(root / name.lower())
        env.pop("ASSISTANT_MODEL", None)
        commands = _commands(doc, model, _questions(text, 1)[0], args.baseline.resolve() if args.baseline else None)
        print("timing cold starts...", file=sys.stderr)
        raw = _cold_runs(commands, env, args.runs, root)
        cold = {name: _summary(runs) for name, runs in raw.items()}
        print("timing warm answers...", file=sys.stderr)
        os.environ["ASSISTANT_CACHE_DIR"] = str(root / "cache")
        warm = _warm(model, text, args.questions, root / "cache")
    _print(cold, warm, args.words, args.runs)
    print(f"load average at the end (1, 5, 15 min): {os.getloadavg()}")
    report = {"words": args.words, "runs": args.runs, "cpus": os.cpu_count(), "cold": cold, "warm": warm}
    report["loadavg_end"] = os.getloadavg()
    if args.json:
        Path(args.json).write_text(json.dumps(report, indent=1), encoding="utf-8")
    print(json.dumps(report))
    return 0


if __name__ == "__main__":
    sys.exit(main())
