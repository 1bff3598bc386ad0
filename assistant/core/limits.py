"""Numbers that come from outside (environment variables, question lengths) kept within what the machine can do.

A thread count above the machine's CPUs buys nothing and, in the thousands, never finishes starting its pools: it
is lowered to the CPU count, with a note naming both. A question is refused past a length no question needs,
with the limit named: the reader reads only its first 64 tokens anyway, and tokenizing megabytes costs gigabytes.
"""

from __future__ import annotations

import os

from assistant.core.errors import UserError

THREAD_VARIABLES = (
    "OMP_NUM_THREADS",
    "MKL_NUM_THREADS",
    "OPENBLAS_NUM_THREADS",
    "NUMEXPR_NUM_THREADS",
    "RAYON_NUM_THREADS",
    "RAYON_RS_NUM_CPUS",
)
"""Every thread pool a library here sizes from the environment: OpenMP and BLAS (torch, numpy, onnxruntime) and
Rayon (the tokenizers)."""
MAX_QUESTION_CHARS = 2000
"""Longer questions are refused: a question of 64 tokens (what a window keeps of it) is a few hundred characters."""
READ_WINDOWS = 1.4
"""Windows of context read per question by default: the README's recall curve flattens here."""
MIN_READ_WINDOWS, MAX_READ_WINDOWS = 1.0, 64.0
"""Below one window a question reads less than its own window holds; past 64 it reads a whole book per question."""


def cpu_count() -> int:
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):
        return max(1, os.cpu_count() or 1)


def clamp_thread_variables() -> list[str]:
    """Lower thread-count variables set above the CPUs this process may use (or to nonsense) before any math
    library reads them; one note per variable changed."""
    notes: list[str] = []
    cpus = cpu_count()
    for name in THREAD_VARIABLES:
        value = os.environ.get(name)
        if value is None:
            continue
        if not value.strip():  # set to nothing (`export OMP_NUM_THREADS=`): unset, as meant; libgomp and
            del os.environ[name]  # accelerate would each read it as a number and fail
            continue
        try:
            threads = int(value)
        except ValueError:
            threads = 0
        if 1 <= threads <= cpus:
            continue
        os.environ[name] = str(cpus)
        notes.append(f"{name}={value[:20]} is not a thread count from 1 to this machine's {cpus} CPUs; using {cpus}.")
    return notes


def check_question(question: str) -> str:
    """The question, stripped; an empty or overlong one is refused in one sentence naming the limit."""
    stripped = question.strip()
    if not stripped:
        raise UserError("The question is empty.")
    if len(stripped) > MAX_QUESTION_CHARS:
        raise UserError(
            f"The question is {len(stripped):,} characters long; the limit is {MAX_QUESTION_CHARS:,} "
            "(the reader keeps only its first 64 tokens)."
        )
    return stripped
