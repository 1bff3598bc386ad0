"""`python -m trainer`, also under `accelerate launch -m trainer` and `torchrun -m trainer`."""

import sys

from assistant.cli import _guard
from trainer.cli import main

sys.exit(_guard(lambda: main()))
