"""A long-running worker's heap, set up for batches.

A head-end batch allocates tens of thousands of short-lived objects (frames, rows, tuples),
which reference counting frees anyway; Python's cycle collector, left at its defaults, would
also scan the young generation every 700 allocations and the old one, with every meter's key
and record in it, every few batches. Objects made at start-up are frozen out of its scans,
and the young generation is collected every 50,000 allocations: the same collections, far
fewer of them.
"""

from __future__ import annotations

import gc

YOUNG_THRESHOLD = 50_000


def settle_heap() -> None:
    """Call once the process has started up (before it takes traffic)."""
    gc.collect()
    gc.freeze()
    _, middle, old = gc.get_threshold()
    gc.set_threshold(YOUNG_THRESHOLD, middle, old)
