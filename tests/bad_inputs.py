"""Run a command in-process the way a user would, and check that a failure is one line, not a traceback."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import pytest


@dataclass
class Outcome:
    code: int
    out: str
    err: str


def run_entry(capsys: pytest.CaptureFixture[str], entry: Callable[[list[str]], int], argv: Sequence[str]) -> Outcome:
    """Call a CLI entry point (``assistant.cli.main``, ``trainer.metrics.main``...) and capture its output."""
    capsys.readouterr()
    try:
        code = entry(list(argv))
    except SystemExit as exc:  # argparse --help / errors
        code = exc.code if isinstance(exc.code, int) else 1
    captured = capsys.readouterr()
    return Outcome(code, captured.out, captured.err)


def assistant(capsys: pytest.CaptureFixture[str], *argv: str) -> Outcome:
    from assistant.cli import main

    return run_entry(capsys, main, argv)


def assert_one_line_failure(outcome: Outcome, *fragments: str) -> str:
    """Non-zero exit, exactly one line on stderr starting with ``error:``, no traceback; returns the line."""
    lines = [ln for ln in outcome.err.splitlines() if ln.strip()]
    assert outcome.code != 0, f"exit 0 for a bad input; stderr={outcome.err!r}"
    assert "Traceback" not in outcome.err and "Traceback" not in outcome.out
    assert len(lines) == 1, f"expected one line on stderr, got {lines!r}"
    assert lines[0].startswith("error: "), lines[0]
    assert "unexpected" not in lines[0], f"an unhandled exception reached the guard: {lines[0]}"
    for fragment in fragments:
        assert fragment.lower() in lines[0].lower(), f"{fragment!r} not in {lines[0]!r}"
    return lines[0]
