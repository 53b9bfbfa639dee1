"""A Success's warnings are read once the results pause (engine/quiet_reads.py), never lost to a storm."""

from __future__ import annotations

import threading

from codatdesk.engine.quiet_reads import QuietReads
from tests.conftest import wait_until


def _recorder():
    read: list[tuple[str, str]] = []
    lock = threading.Lock()

    def record(company_id: str, key: str) -> None:
        with lock:
            read.append((company_id, key))

    return read, record


def test_reads_wait_for_a_pause_then_all_go_in_order():
    read, record = _recorder()
    reads = QuietReads(record, quiet=0.3, max_wait=30)
    for n in range(3):
        reads.add("co", f"k{n}")
    assert read == [] and reads.waiting == 3  # results are still arriving
    wait_until(lambda: len(read) == 3, 5, message="read after the pause")
    assert read == [("co", "k0"), ("co", "k1"), ("co", "k2")]
    reads.add("co", "k3")  # the thread ended once nothing waited; the next one starts another
    wait_until(lambda: len(read) == 4, 5, message="a later one read too")


def test_a_storm_without_a_pause_is_read_after_the_longest_wait():
    read, record = _recorder()
    reads = QuietReads(record, quiet=60, max_wait=0.2)
    reads.add("co", "k1")
    reads.add("co", "k2")
    wait_until(lambda: len(read) == 2, 5, message="read once the first had waited max_wait")


def test_one_failing_read_does_not_drop_the_others():
    read, record = _recorder()

    def flaky(company_id: str, key: str) -> None:
        if key == "bad":
            raise RuntimeError("Codat could not be reached")
        record(company_id, key)

    reads = QuietReads(flaky, quiet=0.05, max_wait=1)
    for key in ("a", "bad", "b"):
        reads.add("co", key)
    wait_until(lambda: len(read) == 2, 5, message="the others read")
    assert read == [("co", "a"), ("co", "b")]


def test_closing_drops_what_waits():
    read, record = _recorder()
    reads = QuietReads(record, quiet=0.2, max_wait=30)
    reads.add("co", "k1")
    reads.close()
    reads.add("co", "k2")
    assert reads.waiting == 0
    done = threading.Event()
    QuietReads(lambda *_: done.set(), quiet=0.2, max_wait=30).add("co", "later")  # one quiet period passes
    assert done.wait(5)
    assert read == []
