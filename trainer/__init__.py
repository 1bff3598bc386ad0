"""Fine-tune, evaluate and keep extractive QA reader models."""

import os

os.environ.setdefault("TORCH_CPP_LOG_LEVEL", "ERROR")
"""Before torch loads: its C++ warnings (a launch's store retrying, a peer gone) are dozens of lines of stack frames
each, where the trainer says what happened in one sentence; TORCH_CPP_LOG_LEVEL=WARNING shows them again."""
