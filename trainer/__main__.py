"""`python -m trainer`, also under `accelerate launch -m trainer` and `torchrun -m trainer`."""

import sys

from assistant.guard import run_guarded
from trainer.cli import main

sys.exit(run_guarded(lambda: main()))
