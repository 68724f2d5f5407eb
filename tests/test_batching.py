"""core.batching.Coalescer: concurrent writes share a batch, and every caller learns its own outcome."""

from __future__ import annotations

import threading
import time

import pytest

from core.batching import UNKNOWN, Coalescer


class Gate:
    """A batch runner that records each batch and, while `hold` is set, waits to be let go."""

    def __init__(self):
        self.batches: list[list] = []
        self.hold = threading.Event()
        self.started = threading.Semaphore(0)
        self.release = threading.Event()

    def __call__(self, items):
        self.batches.append(list(items))
        self.started.release()
        if self.hold.is_set():
            assert self.release.wait(10)
        if any(item == "boom" for item in items):
            raise ValueError("boom")
        return [f"done {item}" for item in items]


def _submit_in_threads(coalescer, items_keys):
    results, threads = {}, []

    def run(item, key):
        try:
            results[item] = coalescer.submit(item, key)
        except Exception as error:  # noqa: BLE001 — the test reads it
            results[item] = error

    for item, key in items_keys:
        thread = threading.Thread(target=run, args=(item, key))
        thread.start()
        threads.append(thread)
    return results, threads


def _wait_queued(coalescer, n):
    deadline = time.monotonic() + 10
    while len(coalescer._pending) < n:
        assert time.monotonic() < deadline, "the callers never queued"
        time.sleep(0.001)


def test_a_caller_alone_runs_alone_at_once():
    gate = Gate()
    coalescer = Coalescer(gate)
    assert coalescer.submit("a", "a") == "done a"
    assert coalescer.submit("b", "b") == "done b"
    assert gate.batches == [["a"], ["b"]]


def test_callers_arriving_during_a_batch_share_the_next_one():
    gate = Gate()
    gate.hold.set()
    coalescer = Coalescer(gate)
    first, first_threads = _submit_in_threads(coalescer, [("a", "a")])
    gate.started.acquire(timeout=10)  # "a" is running, held
    rest, threads = _submit_in_threads(coalescer, [(x, x) for x in "bcd"])
    _wait_queued(coalescer, 3)
    gate.hold.clear()
    gate.release.set()
    for thread in first_threads + threads:
        thread.join(10)
    assert gate.batches[0] == ["a"]
    assert sorted(gate.batches[1]) == ["b", "c", "d"] and len(gate.batches) == 2
    assert first == {"a": "done a"}
    assert rest == {"b": "done b", "c": "done c", "d": "done d"}


def test_one_key_never_twice_in_a_batch_and_keeps_its_order():
    gate = Gate()
    gate.hold.set()
    coalescer = Coalescer(gate)
    _, first_threads = _submit_in_threads(coalescer, [("x0", "other")])
    gate.started.acquire(timeout=10)
    threads = []
    for item in ("q1", "q2", "q3"):  # the same question saved three times, in this order
        threads += _submit_in_threads(coalescer, [(item, "q")])[1]
        _wait_queued(coalescer, len(threads))
    gate.hold.clear()
    gate.release.set()
    for thread in first_threads + threads:
        thread.join(10)
    later = [item for batch in gate.batches[1:] for item in batch]
    assert later == ["q1", "q2", "q3"]
    assert all(len(batch) == 1 for batch in gate.batches[1:])


def test_a_batch_is_never_larger_than_max_batch():
    gate = Gate()
    gate.hold.set()
    coalescer = Coalescer(gate, max_batch=2)
    _, first_threads = _submit_in_threads(coalescer, [("a", "a")])
    gate.started.acquire(timeout=10)
    results, threads = _submit_in_threads(coalescer, [(x, x) for x in "bcde"])
    _wait_queued(coalescer, 4)
    gate.hold.clear()
    gate.release.set()
    for thread in first_threads + threads:
        thread.join(10)
    assert [len(batch) for batch in gate.batches] == [1, 2, 2]
    assert results == {x: f"done {x}" for x in "bcde"}


def test_a_failed_batch_fails_each_of_its_callers_and_the_next_batch_still_runs():
    gate = Gate()
    gate.hold.set()
    coalescer = Coalescer(gate)
    first, first_threads = _submit_in_threads(coalescer, [("boom", "k1")])
    gate.started.acquire(timeout=10)
    rest, threads = _submit_in_threads(coalescer, [("b", "k2")])
    _wait_queued(coalescer, 1)
    gate.hold.clear()
    gate.release.set()
    for thread in first_threads + threads:
        thread.join(10)
    assert isinstance(first["boom"], ValueError)
    assert rest == {"b": "done b"}
    # and the coalescer is idle again: a new caller leads at once
    assert coalescer.submit("c", "c") == "done c"


def test_a_caller_that_gives_up_waiting_is_told_it_does_not_know_and_leaves_the_line():
    gate = Gate()
    gate.hold.set()
    coalescer = Coalescer(gate, wait=0.05)
    _, first_threads = _submit_in_threads(coalescer, [("a", "a")])
    gate.started.acquire(timeout=10)
    assert coalescer.submit("b", "b") is UNKNOWN  # "a" is held longer than b waits
    assert coalescer._pending == []
    gate.hold.clear()
    gate.release.set()
    for thread in first_threads:
        thread.join(10)
    assert gate.batches == [["a"]]  # "b" was never written: its caller writes it itself
    assert coalescer.submit("c", "c") == "done c"


def test_a_wrong_number_of_results_is_an_error_not_a_silent_shift():
    coalescer = Coalescer(lambda items: [])
    with pytest.raises(RuntimeError, match="1 items, 0 results"):
        coalescer.submit("a", "a")
