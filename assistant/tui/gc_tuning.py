"""Keep garbage collection pauses off the event loop.

A loaded model and an indexed long document are millions of long-lived objects; a full collection
walking them stalls the UI for hundreds of milliseconds. Freezing them after each load moves them out
of the collector's sight (they are freed normally when no longer referenced).
"""

from __future__ import annotations

import gc


def freeze_heap() -> None:
    gc.unfreeze()  # let cycles of what was replaced (an old model, an old document) be collected
    gc.collect()
    gc.freeze()
