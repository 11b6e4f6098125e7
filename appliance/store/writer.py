"""StoreWriter: the tick's way to write to the store without waiting on the disk.

Each write method (cdr_open, cdr_update, cdr_close, append_event, voicemail_add) only puts
the call on a queue and returns. A thread of the writer's own opens its own Store and
commits what is queued in batches: it takes everything waiting (up to `batch_max`
operations) and applies it in one transaction, so a crash or power loss loses at most the
batch in flight, and never leaves part of it (SQLite's atomic commit).

`atomic()` groups writes that must land together (a CDR and its event): a group is one
queue item, so it is never split across two transactions.

Policy when the disk is slow: the queue is unbounded (a CDR or an event is never dropped
to keep the tick on time; a row is a few hundred bytes, so even minutes of stall at the
box's event rate fit in memory); `pending` and `max_pending` show how far behind the
writer is. An operation the database refuses (e.g. closing a call that is not open) does
not take its batch down: the batch is rolled back and replayed one item per transaction,
the refused item is counted in `failed` and kept in `errors` (the last 100), and
`on_error` (if given) is called from the writer thread.

close() (or leaving the `with` block) commits everything queued, then stops the thread.
"""

import collections
import sqlite3
import threading

from appliance.store.db import Store
from appliance.store.errors import StoreError

_STOP = object()
# What the database may refuse one operation with (bad argument, unknown call, I/O).
_REFUSED = (StoreError, ValueError, TypeError, OSError, sqlite3.Error)


class _Group:
    """Collects writes inside `with writer.atomic() as w:`."""

    def __init__(self):
        self.ops = []

    def _add(self, name, args, kwargs):
        self.ops.append((name, args, kwargs))

    def cdr_open(self, *args, **kwargs):
        self._add("cdr_open", args, kwargs)

    def cdr_update(self, *args, **kwargs):
        self._add("cdr_update", args, kwargs)

    def cdr_close(self, *args, **kwargs):
        self._add("cdr_close", args, kwargs)

    def append_event(self, *args, **kwargs):
        self._add("append_event", args, kwargs)

    def voicemail_add(self, *args, **kwargs):
        self._add("voicemail_add", args, kwargs)


class StoreWriter:
    """Writes to the database at `path` from a thread of its own; see the module doc."""

    def __init__(self, path, batch_max=1000, on_error=None, busy_timeout_s=30.0):
        if not isinstance(batch_max, int) or batch_max < 1:
            raise ValueError(f"batch_max must be an int >= 1, not {batch_max!r}")
        self.path = str(path)
        self.batch_max = batch_max
        self.on_error = on_error
        self.committed = 0       # operations committed
        self.failed = 0          # operations the database refused
        self.batches = 0         # transactions committed
        self.max_pending = 0
        self.lock_waits = 0      # busy timeouts waited out (another writer held the lock)
        self.errors = collections.deque(maxlen=100)
        self._queue = collections.deque()
        self._cond = threading.Condition()
        self._queued = 0         # operations ever queued
        self._done = 0           # operations ever finished (committed or failed)
        self._closed = False
        self._fatal = None
        # Open (and migrate) in the caller's thread, so that a bad path or a too-new
        # database is reported at once, then hand the connection over to the thread.
        self._store = Store.open(path, timeout_s=busy_timeout_s, check_same_thread=False)
        self._thread = threading.Thread(target=self._run, name="store-writer", daemon=True)
        self._thread.start()

    # -- the tick side: each call is an append under a lock held for microseconds ----------

    def _put(self, ops):
        with self._cond:
            if self._closed:
                raise StoreError(f"{self.path}: the store writer is closed")
            self._queue.append(ops)
            self._queued += len(ops)
            pending = self._queued - self._done
            if pending > self.max_pending:
                self.max_pending = pending
            self._cond.notify_all()

    def cdr_open(self, *args, **kwargs):
        self._put([("cdr_open", args, kwargs)])

    def cdr_update(self, *args, **kwargs):
        self._put([("cdr_update", args, kwargs)])

    def cdr_close(self, *args, **kwargs):
        self._put([("cdr_close", args, kwargs)])

    def append_event(self, *args, **kwargs):
        self._put([("append_event", args, kwargs)])

    def voicemail_add(self, *args, **kwargs):
        self._put([("voicemail_add", args, kwargs)])

    class _Atomic:
        def __init__(self, writer):
            self._writer = writer
            self._group = _Group()

        def __enter__(self):
            return self._group

        def __exit__(self, exc_type, exc, tb):
            if exc_type is None and self._group.ops:
                self._writer._put(self._group.ops)

    def atomic(self):
        """`with writer.atomic() as w: w.cdr_open(...); w.append_event(...)`: the writes
        are queued together at the end of the block and committed in one transaction."""
        return StoreWriter._Atomic(self)

    @property
    def pending(self):
        """Operations queued and not yet committed."""
        with self._cond:
            return self._queued - self._done

    # -- waiting and stopping (not for the tick) --------------------------------------------

    def flush(self, timeout_s=None):
        """Waits until everything queued so far is committed (or refused). Returns False if
        `timeout_s` passed first."""
        with self._cond:
            target = self._queued
            ok = self._cond.wait_for(
                lambda: self._done >= target or self._fatal is not None, timeout_s)
            if self._fatal is not None:
                raise StoreError(f"{self.path}: the store writer stopped: {self._fatal}")
            return ok

    def close(self):
        """Commits everything queued, then stops the thread."""
        with self._cond:
            if self._closed:
                return
            self._closed = True
            self._queue.append(_STOP)
            self._cond.notify_all()
        self._thread.join()
        if self._fatal is not None:
            raise StoreError(f"{self.path}: the store writer stopped: {self._fatal}")

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    # -- the writer thread ------------------------------------------------------------------

    def _take(self):
        """Blocks for work; returns (groups, stop)."""
        with self._cond:
            self._cond.wait_for(lambda: self._queue)
            groups, count, stop = [], 0, False
            while self._queue and count < self.batch_max:
                item = self._queue.popleft()
                if item is _STOP:
                    stop = True
                    break
                groups.append(item)
                count += len(item)
            return groups, stop

    def _run(self):
        store = self._store
        try:
            while True:
                groups, stop = self._take()
                if groups:
                    self._commit(store, groups)
                if stop:
                    return
        except BaseException as exc:  # a bug: make flush/close raise instead of hanging
            with self._cond:
                self._fatal = exc
                self._cond.notify_all()
            raise
        finally:
            store.close()

    def _commit(self, store, groups):
        count = sum(len(g) for g in groups)
        try:
            self._transaction(store, groups)
            failed = 0
        except _REFUSED:
            failed = 0
            for group in groups:  # replay one group per transaction
                try:
                    self._transaction(store, [group])
                except _REFUSED as exc:
                    failed += len(group)
                    self.errors.append((group, exc))
                    if self.on_error is not None:
                        self.on_error(group, exc)
        with self._cond:
            self.committed += count - failed
            self.failed += failed
            self._done += count
            self._cond.notify_all()

    def _transaction(self, store, groups):
        """Applies the groups in one transaction. While another connection holds the
        write lock (a long CLI import, a backup), waits and tries again, for as long as it
        takes: a CDR is never dropped because the database was busy."""
        while True:
            try:
                with store.transaction():
                    for group in groups:
                        self._apply(store, group)
            except sqlite3.OperationalError as exc:
                if "locked" not in str(exc) and "busy" not in str(exc):
                    raise
                self.lock_waits += 1
                continue
            self.batches += 1
            return

    @staticmethod
    def _apply(store, group):
        for name, args, kwargs in group:
            getattr(store, name)(*args, **kwargs)
