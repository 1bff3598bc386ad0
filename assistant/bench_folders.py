"""`assistant bench --folder DIR`: how fast a folder (or one document of any format) is read and indexed, and what
opening it again costs, in fresh processes so that peak memory is what a user's process sees.

Nothing is written into the folder: the index cache is a temporary folder of the benchmark's own.
"""

from __future__ import annotations

import resource
import statistics
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from rich.table import Table

RUNS = 3


def _open_and_index(path: str, include: Sequence[str], exclude: Sequence[str], cache: str) -> dict[str, Any]:
    """One open: extract every file, then index (saving to or loading from ``cache``)."""
    from assistant.core.engine import EngineSettings, index_document
    from assistant.core.folders import open_path

    t0 = time.perf_counter()
    opened = open_path(path, include=include, exclude=exclude)
    extract_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    indexed = index_document(opened.document, EngineSettings(), cache_dir=Path(cache))
    index_s = time.perf_counter() - t0
    return {
        "files": len(opened.read),
        "skipped": len(opened.skipped),
        "text_mb": len(opened.document.text.encode("utf-8", "surrogatepass")) / 1e6,
        "passages": len(indexed.passages),
        "extract_s": extract_s,
        "index_s": index_s,
        "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }


def bench_folder(path: str, include: Sequence[str], exclude: Sequence[str]) -> dict[str, Any]:
    """Medians of first opens (cold cache) and of reopens (the cache the first open left), each in a fresh process."""
    from assistant.bench import _in_fresh_process

    first: list[dict[str, Any]] = []
    again: list[dict[str, Any]] = []
    for _ in range(RUNS):
        with tempfile.TemporaryDirectory() as cache:
            first.append(_in_fresh_process(_open_and_index, path, include, exclude, cache))
            again.append(_in_fresh_process(_open_and_index, path, include, exclude, cache))

    def median(rows: list[dict[str, Any]], key: str) -> float:
        return float(statistics.median(row[key] for row in rows))

    total_first = median(first, "extract_s") + median(first, "index_s")
    total_again = median(again, "extract_s") + median(again, "index_s")
    return {
        "files": first[0]["files"],
        "skipped": first[0]["skipped"],
        "text_mb": first[0]["text_mb"],
        "passages": first[0]["passages"],
        "first_extract_s": median(first, "extract_s"),
        "first_index_s": median(first, "index_s"),
        "first_mb_per_s": first[0]["text_mb"] / total_first,
        "first_peak_rss_mib": median(first, "peak_rss_mib"),
        "reopen_extract_s": median(again, "extract_s"),
        "reopen_index_s": median(again, "index_s"),
        "reopen_share_of_first": total_again / total_first,
    }


def folder_table(path: str, row: dict[str, Any]) -> Table:
    table = Table(title=f"Opening {path}: median of {RUNS} fresh processes", title_justify="left")
    for column in ("files", "text", "first open: read + index", "MB/s", "peak RSS", "reopen: read + index", "share"):
        table.add_column(column, justify="right")
    table.add_row(
        f"{row['files']:,} ({row['skipped']:,} not read)",
        f"{row['text_mb']:.1f} MB",
        f"{row['first_extract_s']:.2f} s + {row['first_index_s']:.2f} s",
        f"{row['first_mb_per_s']:.1f}",
        f"{row['first_peak_rss_mib']:.0f} MiB",
        f"{row['reopen_extract_s']:.2f} s + {row['reopen_index_s']:.2f} s",
        f"{row['reopen_share_of_first']:.0%}",
    )
    return table
