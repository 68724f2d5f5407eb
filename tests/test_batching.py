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


def _submit_in_thread(coalescer, item, key, results):
    def run():
        try:
            results[item] = coalescer.submit(item, key)
        except Exception as error:  # noqa: BLE001 — the test reads it
            results[item] = error

    thread = threading.Thread(target=run)
    thread.start()
    return thread


def _wait_queued(coalescer, n):
    deadline = time.monotonic() + 10
    while len(coalescer._pending) < n:
        assert time.monotonic() < deadline, "the callers never queued"
        time.sleep(0.001)


def _behind_a_held_batch(gate, coalescer, items_keys, first=("a", "a")):
    """Submits `first` and holds its batch while each of `items_keys` is submitted, in order;
    then lets everything run. Returns every caller's result."""
    results: dict = {}
    gate.hold.set()
    threads = [_submit_in_thread(coalescer, *first, results)]
    assert gate.started.acquire(timeout=10)  # `first` is running, held
    for n, (item, key) in enumerate(items_keys, start=1):
        threads.append(_submit_in_thread(coalescer, item, key, results))
        _wait_queued(coalescer, n)
    gate.hold.clear()
    gate.release.set()
    for thread in threads:
        thread.join(10)
    return results


def test_a_caller_alone_runs_alone_at_once():
    gate = Gate()
    coalescer = Coalescer(gate)
    assert coalescer.submit("a", "a") == "done a"
    assert coalescer.submit("b", "b") == "done b"
    assert gate.batches == [["a"], ["b"]]


def test_callers_arriving_during_a_batch_share_the_next_one():
    gate = Gate()
    results = _behind_a_held_batch(gate, Coalescer(gate), [(x, x) for x in "bcd"])
    assert gate.batches[0] == ["a"]
    assert sorted(gate.batches[1]) == ["b", "c", "d"] and len(gate.batches) == 2
    assert results == {"a": "done a", "b": "done b", "c": "done c", "d": "done d"}


def test_one_key_never_twice_in_a_batch_and_keeps_its_order():
    gate = Gate()
    # the same question saved three times, in this order
    _behind_a_held_batch(gate, Coalescer(gate), [("q1", "q"), ("q2", "q"), ("q3", "q")], first=("x0", "other"))
    later = [item for batch in gate.batches[1:] for item in batch]
    assert later == ["q1", "q2", "q3"]
    assert all(len(batch) == 1 for batch in gate.batches[1:])


def test_a_batch_is_never_larger_than_max_batch():
    gate = Gate()
    results = _behind_a_held_batch(gate, Coalescer(gate, max_batch=2), [(x, x) for x in "bcde"])
    assert [len(batch) for batch in gate.batches] == [1, 2, 2]
    assert results == {x: f"done {x}" for x in "abcde"}


def test_a_failed_batch_fails_each_of_its_callers_and_the_next_batch_still_runs():
    gate = Gate()
    coalescer = Coalescer(gate)
    results = _behind_a_held_batch(gate, coalescer, [("b", "k2")], first=("boom", "k1"))
    assert isinstance(results["boom"], ValueError)
    assert results["b"] == "done b"
    # and the coalescer is idle again: a new caller leads at once
    assert coalescer.submit("c", "c") == "done c"


def test_a_result_that_is_an_exception_is_raised_in_its_own_caller_only():
    coalescer = Coalescer(lambda items: [KeyError(i) if i == "bad" else i for i in items])
    with pytest.raises(KeyError):
        coalescer.submit("bad", "bad")
    assert coalescer.submit("good", "good") == "good"


def test_an_item_that_must_not_share_runs_alone_on_the_callers_thread():
    gate = Gate()
    coalescer = Coalescer(gate)
    gate.hold.set()
    results: dict = {}
    held = _submit_in_thread(coalescer, "a", "a", results)
    assert gate.started.acquire(timeout=10)
    gate.hold.clear()  # the next batch would run at once: it is not kept waiting behind "a"
    assert coalescer.submit("mine", "b", share=False) == "done mine"
    gate.release.set()
    held.join(10)
    assert gate.batches == [["a"], ["mine"]]


def test_a_caller_that_gives_up_waiting_is_told_it_does_not_know_and_leaves_the_line():
    gate = Gate()
    gate.hold.set()
    coalescer = Coalescer(gate, wait=0.05)
    held = _submit_in_thread(coalescer, "a", "a", {})
    assert gate.started.acquire(timeout=10)
    assert coalescer.submit("b", "b") is UNKNOWN  # "a" is held longer than b waits
    assert coalescer._pending == []
    gate.hold.clear()
    gate.release.set()
    held.join(10)
    assert gate.batches == [["a"]]  # "b" was never written: its caller writes it itself
    assert coalescer.submit("c", "c") == "done c"


def test_a_wrong_number_of_results_is_an_error_not_a_silent_shift():
    coalescer = Coalescer(lambda items: [])
    with pytest.raises(RuntimeError, match="1 items, 0 results"):
        coalescer.submit("a", "a")
