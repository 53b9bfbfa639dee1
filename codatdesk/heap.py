"""The process's garbage-collector policy: set once, by the app, when start-up is done.

A full collection walks every tracked object with the GIL held. With the app's heap
(modules, Qt wrappers, SQLAlchemy's compiled statements) that paused every thread, the
GUI too, for ~60 ms in the middle of a webhook burst (benchmark B1, docs/benchmarks.md).
What start-up loaded stays for the life of the process, so it is moved out of the
collector's reach once: frozen objects are still freed by reference counting; only
cycles that are garbage already would stay, so the young generations are collected first.
A company switch does not freeze again: the rows it drops must stay collectable.
"""

from __future__ import annotations

import gc

_settled = False


def settle_after_start() -> bool:
    """Freeze what start-up loaded; only the first call in a process does anything."""
    global _settled
    if _settled:
        return False
    gc.collect(1)
    gc.freeze()
    _settled = True
    return True
