"""The garbage collector of a serving process: what start-up built is set aside for good.

Python's cyclic collector now and then walks every object it tracks (a generation-2
pass), and nothing else runs meanwhile. Most of those objects are built once at start-up
and live as long as the process: SQLAlchemy's tables and compiled statements, the
directory copy, the i18n catalogue, python-telegram-bot's classes. Walking them found
nothing to free and took 90-140 ms on the machine of issue 16's benches: alone more than
the intake's p99 goal (50 ms). `gc.freeze()` moves them to a generation the collector
never walks again (docs/performance.md). Objects made later are collected as before.
"""

from __future__ import annotations

import gc


def settle() -> None:
    """Collect start-up's garbage, then freeze the rest: call after bootstrap, before
    serving. Only a long-running process should: a frozen object that later becomes
    garbage in a cycle is never freed."""
    gc.collect()
    gc.freeze()
