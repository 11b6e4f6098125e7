"""StoreWriter: batching off the tick, refused operations, SIGKILL mid-batch, reader while
writing."""

import os
import signal
import subprocess
import sys
import textwrap
import threading

import pytest

from appliance.store import Store, StoreError, StoreWriter

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def test_writer_commits_everything_queued_in_batches_and_on_close(tmp_path):
    path = tmp_path / "box.db"
    with StoreWriter(path, batch_max=50) as writer:
        for i in range(400):
            writer.cdr_open(f"c{i}", "inbound", i)
            writer.append_event(i, "offered", call_id=f"c{i}", queue="sales")
        for i in range(0, 400, 2):
            writer.cdr_close(f"c{i}", i + 10, "answered", "caller")
    assert writer.committed == 1000 and writer.failed == 0
    assert writer.batches >= 1000 // 50
    with Store.open(path) as store:
        assert len(store.cdrs()) == 400
        assert len(store.cdrs(open_only=True)) == 200
        assert len(store.events(kind="offered")) == 400


def test_a_refused_operation_does_not_take_its_batch_down(tmp_path):
    path = tmp_path / "box.db"
    seen = []
    writer = StoreWriter(path, on_error=lambda group, exc: seen.append(exc))
    # Hold the writer back so that everything below lands in one batch.
    blocker = Store.open(path)
    with blocker.transaction():
        writer.append_event(1, "a")
        writer.cdr_close("never-opened", 5, "answered")
        writer.cdr_open("c1", "inbound", 2)
        with writer.atomic() as group:
            group.cdr_open("c2", "inbound", 3)
            group.cdr_update("c2", colour="red")  # refused: the whole group goes
        writer.append_event(4, "b")
    blocker.close()
    assert writer.flush()
    writer.close()
    assert (writer.committed, writer.failed) == (3, 3)
    assert len(seen) == 2 and "never-opened" in str(seen[0]) and "colour" in str(seen[1])
    with Store.open(path) as store:
        assert [e.kind for e in store.events()] == ["a", "b"]
        assert [c.call_id for c in store.cdrs()] == ["c1"]


def test_enqueue_never_waits_while_another_connection_holds_the_write_lock(tmp_path):
    """The tick's side of a writer stalled on a lock (here: the CLI importing customers,
    holding SQLite's write lock): every call returns; the rows wait in the queue."""
    path = tmp_path / "box.db"
    writer = StoreWriter(path, busy_timeout_s=0.01)
    holder = Store.open(path)
    holder._conn.execute("BEGIN IMMEDIATE")
    done = []

    def tick():
        for i in range(5000):
            writer.append_event(i, "offered", call_id=f"c{i}")
        done.append(True)

    ticker = threading.Thread(target=tick)
    ticker.start()
    ticker.join(timeout=60)  # a hang guard, not a timing threshold
    assert done == [True], "the tick waited on the database lock"
    assert writer.committed == 0 and writer.pending == 5000
    while writer.lock_waits < 3:  # the writer keeps waiting out busy timeouts...
        assert writer._thread.is_alive(), "the writer thread died"
    assert writer.committed == 0 and writer.failed == 0  # ...and drops nothing
    holder._conn.execute("COMMIT")
    holder.close()
    writer.close()
    assert writer.committed == 5000 and writer.failed == 0 and writer.max_pending == 5000
    with Store.open(path) as store:
        assert len(store.events()) == 5000


def test_writer_refuses_a_bad_path_at_once_and_writes_after_close(tmp_path):
    with pytest.raises(StoreError, match="does not exist"):
        StoreWriter(tmp_path / "no" / "box.db")
    writer = StoreWriter(tmp_path / "box.db")
    writer.close()
    with pytest.raises(StoreError, match="closed"):
        writer.append_event(1, "late")


CHILD = textwrap.dedent("""
    import sys
    from appliance.store import StoreWriter
    writer = StoreWriter(sys.argv[1], batch_max=int(sys.argv[2]))
    i = 0
    while True:
        # One call = CDR opened and answered + two events, always in one transaction;
        # every third call is also closed in the same group.
        with writer.atomic() as w:
            w.cdr_open(f"c{i}", "inbound", 1000 * i, caller_number="555")
            w.append_event(1000 * i, "offered", call_id=f"c{i}", queue="q")
            w.cdr_update(f"c{i}", answer_ms=1000 * i + 500, ivr_path=["main", "q"])
            w.append_event(1000 * i + 500, "answered", call_id=f"c{i}", queue="q",
                           data={"n": i})
            if i % 3 == 0:
                w.cdr_close(f"c{i}", 1000 * i + 900, "answered", "caller")
        i += 1
        if i == 2000:
            writer.flush()
            print("ready", flush=True)
        if i > 2000 and writer.pending > 20000:
            writer.flush()
""")


@pytest.mark.parametrize("batch_max", [100, 2000])
def test_writer_killed_by_sigkill_mid_batch_leaves_whole_groups_and_open_calls_closed(
        tmp_path, batch_max):
    path = tmp_path / "box.db"
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD, str(path), str(batch_max)], stdout=subprocess.PIPE,
        cwd=ROOT, env={**os.environ, "PYTHONPATH": ROOT})
    try:
        assert child.stdout.readline() == b"ready\n"
        # Let it run on: it is writing non-stop, so the kill lands inside some batch.
        with Store.open(path) as watcher:
            count = "SELECT count(*) FROM cdrs"
            start = watcher._conn.execute(count).fetchone()[0]
            while watcher._conn.execute(count).fetchone()[0] < start + batch_max:
                assert child.poll() is None, "the writer process died on its own"
    finally:
        child.send_signal(signal.SIGKILL)
        child.wait()
        child.stdout.close()
    assert child.returncode == -signal.SIGKILL

    with Store.open(path) as store:
        assert store._conn.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        cdrs = store.cdrs()
        events = store.events()
        n = len(cdrs)
        assert n >= 2000 + batch_max
        # Whole groups only: calls 0..n-1 all there, each with both its events and its
        # answer time, and nothing of call n.
        assert sorted(int(c.call_id[1:]) for c in cdrs) == list(range(n))
        assert len(events) == 2 * n
        assert all(c.answer_ms == c.start_ms + 500 and c.ivr_path == ("main", "q")
                   for c in cdrs)
        assert all((c.end_ms is not None) == (int(c.call_id[1:]) % 3 == 0) for c in cdrs)
        still_open = [c.call_id for c in cdrs if c.end_ms is None]
        closed = store.close_open_calls("restart after crash")
        assert closed == still_open and len(closed) == n - (n + 2) // 3
        assert store.cdrs(open_only=True) == []
        for c in store.cdrs():
            if c.call_id in closed:
                # last known moment alive: its "answered" event
                assert c.end_ms == c.start_ms + 500
                assert c.hangup_cause == "restart after crash"
                assert c.disposition == "interrupted"


def test_reader_sees_only_whole_transactions_while_the_writer_writes(tmp_path):
    path = tmp_path / "box.db"
    groups = 3000
    writer = StoreWriter(path, batch_max=100)
    reads, problems = [], []
    done = threading.Event()

    def read():
        with Store.open(path) as reader:
            while not done.is_set():
                with reader.snapshot():  # one snapshot for both counts
                    cdrs = reader._conn.execute("SELECT count(*) FROM cdrs").fetchone()[0]
                    events = reader._conn.execute("SELECT count(*) FROM events").fetchone()[0]
                if events != 2 * cdrs:
                    problems.append((cdrs, events))
                reads.append(cdrs)

    Store.open(path).close()
    thread = threading.Thread(target=read)
    thread.start()
    while not reads:  # the reader is up before the writes start
        assert thread.is_alive(), "the reader failed"
    for i in range(groups):
        with writer.atomic() as w:
            w.cdr_open(f"c{i}", "inbound", i)
            w.append_event(i, "offered", call_id=f"c{i}")
            w.append_event(i, "queued", call_id=f"c{i}")
    writer.close()
    done.set()
    thread.join()
    assert problems == []
    assert reads == sorted(reads)  # never goes back
    assert reads[0] == 0
    # It read while the writer was part-way (3000 groups take many batches of 100).
    assert any(0 < n < groups for n in reads)
    with Store.open(path) as store:
        assert len(store.cdrs()) == groups
