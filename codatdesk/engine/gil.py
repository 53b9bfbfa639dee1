"""How soon a thread back from the network gets the interpreter: the process's GIL switch interval.

A thread that waits on the database or a socket (the applier, the inbox, the GUI thread between events)
gives up the GIL at each wait. When the answer comes while another thread is computing (parsing a webhook,
rendering the table), CPython makes it wait until that thread has run for the switch interval, 5 ms by
default, before it may go on. The applier makes about ten round trips per batch, so it paid that wait ten
times. Measured on PostgreSQL with one busy thread beside it, a batch of 14 deliveries took about 160 ms at
5 ms and 55 ms at 1 ms (about 22 ms with no busy thread): B7's applier row (benchmarks/b7_applier.py).
"""

from __future__ import annotations

import sys

SWITCH_INTERVAL_S = 0.001


def answer_waiting_threads_sooner() -> None:
    """Hand the GIL over after 1 ms instead of 5 (never a longer interval than one already set)."""
    if sys.getswitchinterval() > SWITCH_INTERVAL_S:
        sys.setswitchinterval(SWITCH_INTERVAL_S)
