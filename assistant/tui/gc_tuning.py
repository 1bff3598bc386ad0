"""Keep garbage collection pauses off the event loop.

A loaded model and an indexed long document are millions of long-lived objects; a full collection
walking them stalls the UI for hundreds of milliseconds. Freezing them after each load moves them out
of the collector's sight (they are freed normally when no longer referenced).

No collection runs first: with a 130,000-word document indexed, ``gc.collect()`` over the whole heap
was itself a 300 ms stall on the event loop. What a replaced model or document leaves behind is freed
by reference counting; only its reference cycles, if any, stay frozen.
"""

from __future__ import annotations

import gc


def freeze_heap() -> None:
    gc.freeze()
