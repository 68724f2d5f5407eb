"""Group commit inside one process: concurrent callers' writes go to the database together.

On PostgreSQL most of what one small write costs is the statement and its commit (the protocol,
the WAL flush, waking the backend), not the row: measured here, an autosave's upsert took about
330 µs of the backend's CPU alone and 90 µs per row four at a time. `Coalescer` lets the threads
of one process that write at the same moment share one statement, without a queue and without a
thread of its own: the first caller (the leader) runs the batch on its own thread, so on its own
database connection and inside its own transaction, with whatever the others (followers) have
added while the previous batch was in flight; each follower waits for its own result, which is
known only once the batch's statement has committed. Nobody waits for a batch to fill: a caller
alone runs alone, at once. At most one batch per process is in flight; when it ends, the next
caller in line leads the next one.

Items with the same key never share a batch (one statement may not write one row twice); the later
one waits for the next batch, so writes of one key keep their order.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Hashable, Sequence

#: What `submit` returns when it cannot know the outcome: the caller must do the write itself.
UNKNOWN = object()

_PENDING, _RUNNING, _LEAD, _DONE = range(4)


class _Entry:
    __slots__ = ("item", "key", "state", "result", "error", "event")

    def __init__(self, item, key):
        self.item, self.key = item, key
        self.state, self.result, self.error = _PENDING, None, None
        self.event = threading.Event()


class Coalescer:
    """`submit(item, key)` returns `run(items)[i]` for its item, run together with the items
    other threads submit meanwhile (at most `max_batch`). `run` must return one result per item,
    in order; a result that is an exception is raised in its own caller, and an exception from
    `run` in every caller of that batch. With `share=False` the item runs alone, at once, on the
    caller's thread (a caller inside a transaction must not write others' items in it)."""

    def __init__(self, run: Callable[[Sequence], Sequence], *, max_batch: int = 32, wait: float = 60.0):
        self._run = run
        self._max = max_batch
        self._wait = wait  # a safety net only: a batch ends when its statement does
        self._lock = threading.Lock()
        self._pending: list[_Entry] = []
        self._busy = False

    def submit(self, item, key: Hashable, *, share: bool = True):
        if not share:
            return _outcome(self._run([item])[0])
        entry = _Entry(item, key)
        with self._lock:
            self._pending.append(entry)
            lead = not self._busy
            self._busy = True
            if lead:
                entry.state = _LEAD
        if not lead and not self._follow(entry):
            return UNKNOWN
        if entry.state == _LEAD:
            self._lead(entry)
        if entry.error is not None:
            raise entry.error
        return _outcome(entry.result)

    def _follow(self, entry: _Entry) -> bool:
        """Waits for the entry's batch, or to be made the leader. False when waiting gave up."""
        if entry.event.wait(self._wait):
            return True
        with self._lock:
            if entry.state == _PENDING:
                self._pending.remove(entry)
                return False
            if entry.state == _RUNNING:
                return False  # its batch is still running: the outcome is not known
        entry.event.wait()  # made the leader, or done, in the meantime: it knows
        return True

    def _take(self) -> list[_Entry]:
        batch, keys, rest = [], set(), []
        for entry in self._pending:
            if len(batch) < self._max and entry.key not in keys:
                keys.add(entry.key)
                entry.state = _RUNNING
                batch.append(entry)
            else:
                rest.append(entry)
        self._pending = rest
        return batch

    def _lead(self, entry: _Entry) -> None:
        # The leader is first in line (it came to an idle coalescer, or was handed the lead as
        # the first waiting), so the batch it takes holds its own item.
        with self._lock:
            batch = self._take()
        try:
            results = self._run([e.item for e in batch])
            if len(results) != len(batch):
                raise RuntimeError(f"{len(batch)} items, {len(results)} results")
            for e, result in zip(batch, results, strict=True):
                e.result = result
        except BaseException as error:  # every caller of the batch learns it failed
            for e in batch:
                e.error = error
        finally:
            with self._lock:
                for e in batch:
                    e.state = _DONE
                if self._pending:
                    self._pending[0].state = _LEAD
                    self._pending[0].event.set()
                else:
                    self._busy = False
            for e in batch:
                e.event.set()


def _outcome(result):
    if isinstance(result, BaseException):
        raise result
    return result
