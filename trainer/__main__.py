"""`python -m trainer`, also under `accelerate launch -m trainer` and `torchrun -m trainer`."""

import sys

from assistant.core.limits import clamp_thread_variables
from assistant.core.sanitize import one_line
from assistant.guard import run_guarded


def _main() -> int:
    """The trainer, once the thread counts it is told are numbers it can use: before torch loads OpenMP, which reads
    them once."""
    for note in clamp_thread_variables():
        print(f"note: {one_line(note)}", file=sys.stderr)
    from trainer.cli import main

    return main()


sys.exit(run_guarded(_main))
