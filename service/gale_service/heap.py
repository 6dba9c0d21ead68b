"""The garbage collector, tuned for a server once it has started.

Python's cycle collector runs a young-generation pass whenever the number of tracked objects
allocated, less those freed, passes 700 since the last pass. Under load that count is mostly
transient: every request in flight holds some objects for a moment, so with 32 concurrent
requests it crossed 700 every 20 requests or so, each pass promoting live request objects
that later full passes then walked again with the whole heap (modules, the application, the
driver: everything made at start-up). In ``make bench`` that was 34 µs of CPU a request, 70 µs
traced. Here the objects made before serving, which live as long as the process, are frozen
out of the collector's way (:func:`gc.freeze`), and young passes wait for a larger net growth
(``GALE_GC_YOUNG_THRESHOLD``): 3 to 4 µs a request. Real garbage cycles are still collected.
"""

from __future__ import annotations

import gc


def settle(young_threshold: int) -> None:
    """Call once start-up is done: collect, freeze what is left, then set the threshold."""
    gc.collect()
    gc.freeze()
    _, middle, old = gc.get_threshold()
    gc.set_threshold(young_threshold, middle, old)


__all__ = ["settle"]
