"""`assistant bench --folder DIR`: how fast a folder (or one document of any format) is read and indexed, what
opening it again costs when nothing changed and when one file changed, and how long ranking its passages takes; each
open in a fresh process, so that peak memory is what a user's process sees.

Nothing is written into the folder: a folder is copied into a temporary folder of the benchmark's own, which also
holds the saved index, and "one file changed" is a line added to the copy of the median-sized file read (then a wait
until its new time can be trusted, so that the open saves its snapshot, as a user's would).
"""

from __future__ import annotations

import contextlib
import random
import resource
import shutil
import statistics
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from rich.table import Table

RUNS = 3
QUERIES = 21


def _caches(cache: str) -> dict[str, Path]:
    return {"file_cache": Path(cache) / "index", "folder_cache": Path(cache) / "folders"}


def _questions(text: str, count: int) -> list[str]:
    """Questions made of a few words of the text (what ranking costs does not depend on their sense)."""
    words = text.split()
    rng = random.Random(0)
    picks = [rng.randrange(max(1, len(words) - 6)) for _ in range(count)]
    return ["what about " + " ".join(words[i : i + 5]) for i in picks]


def _open(path: str, include: Sequence[str], exclude: Sequence[str], cache: str) -> dict[str, Any]:
    """One open (saving to or loading from ``cache``), then ranking for a few questions."""
    from assistant.core.engine import EngineSettings
    from assistant.core.folder_index import open_indexed

    t0 = time.perf_counter()
    caches = _caches(cache)
    opened, indexed = open_indexed(
        path,
        EngineSettings(),
        include=include,
        exclude=exclude,
        file_cache=caches["file_cache"],
        folder_cache=caches["folder_cache"],
    )
    open_s = time.perf_counter() - t0
    rank_ms = []
    if indexed.retriever is not None:
        for question in _questions(indexed.document.text, QUERIES):
            t0 = time.perf_counter()
            indexed.retriever.ranked(question)
            rank_ms.append((time.perf_counter() - t0) * 1000)
    sizes = sorted((p.end - p.start, p.name) for p in opened.document.parts)
    return {
        "files": len(opened.read),
        "skipped": len(opened.skipped),
        "text_mb": len(opened.document.text.encode("utf-8", "surrogatepass")) / 1e6,
        "passages": len(indexed.passages),
        "open_s": open_s,
        "rank_ms": statistics.median(rank_ms) if rank_ms else 0.0,
        "median_file": sizes[len(sizes) // 2][1],
        "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }


def _wait_until_trusted() -> None:
    """Sleep until files written now are old enough for their stamps to be trusted (``folder_index.RECENT_NS``)."""
    from assistant.core.folder_index import RECENT_NS

    time.sleep(RECENT_NS / 1e9 + 0.1)


def _change(root: Path, rel: str) -> None:
    """Add a line to one file, and wait until its stamp is old enough to be trusted."""
    with (root / rel).open("a", encoding="utf-8") as file:
        file.write("\nA line the benchmark added.\n")
    _wait_until_trusted()


def bench_folder(path: str, include: Sequence[str], exclude: Sequence[str]) -> dict[str, Any]:
    """Medians of first opens (no saved index), of reopens, and of opens after one file changed, each in a fresh
    process."""
    from assistant.bench import _in_fresh_process

    first: list[dict[str, Any]] = []
    again: list[dict[str, Any]] = []
    changed: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory() as work:
        named, is_dir = path, Path(path).is_dir()
        if is_dir:
            named = str(Path(work) / "copy")
            with contextlib.suppress(shutil.Error):  # what cannot be copied (a pipe, a socket, a file not readable)
                shutil.copytree(path, named, symlinks=True)  # is left out, as opening the folder leaves it out
            _wait_until_trusted()  # as a folder's files usually are
        for run in range(RUNS):
            cache = str(Path(work) / f"cache{run}")  # a first open each run: no saved index yet
            first.append(_in_fresh_process(_open, named, include, exclude, cache))
            again.append(_in_fresh_process(_open, named, include, exclude, cache))
            if is_dir:
                _change(Path(named), first[-1]["median_file"])
                changed.append(_in_fresh_process(_open, named, include, exclude, cache))
            else:  # a single file changed is read whole again
                changed.append(first[-1])

    def median(rows: list[dict[str, Any]], key: str) -> float:
        return float(statistics.median(row[key] for row in rows))

    first_s = median(first, "open_s")
    return {
        "files": first[0]["files"],
        "skipped": first[0]["skipped"],
        "text_mb": first[0]["text_mb"],
        "passages": first[0]["passages"],
        "first_s": first_s,
        "first_mb_per_s": first[0]["text_mb"] / first_s,
        "first_peak_rss_mib": median(first, "peak_rss_mib"),
        "reopen_s": median(again, "open_s"),
        "reopen_share_of_first": median(again, "open_s") / first_s,
        "reopen_peak_rss_mib": median(again, "peak_rss_mib"),
        "changed_file": first[0]["median_file"],
        "changed_s": median(changed, "open_s"),
        "changed_share_of_first": median(changed, "open_s") / first_s,
        "rank_ms": median(again, "rank_ms"),
    }


def folder_table(path: str, row: dict[str, Any]) -> Table:
    title = f"Opening {path}: median of {RUNS} fresh processes each"
    table = Table(title=title, title_justify="left")
    columns = ("files", "text", "first open", "MB/s", "peak RSS", "reopen", "one file changed", "ranking")
    for column in columns:
        table.add_column(column, justify="right")
    table.add_row(
        f"{row['files']:,} ({row['skipped']:,} not read)",
        f"{row['text_mb']:.1f} MB",
        f"{row['first_s']:.2f} s",
        f"{row['first_mb_per_s']:.1f}",
        f"{row['first_peak_rss_mib']:.0f} MiB",
        f"{row['reopen_s']:.2f} s ({row['reopen_share_of_first']:.0%})",
        f"{row['changed_s']:.2f} s ({row['changed_share_of_first']:.0%})",
        f"{row['rank_ms']:.1f} ms",
    )
    return table
