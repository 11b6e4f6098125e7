"""Store.open_read_only (reports beside the box's writer) and the CDR search the history
uses: number = caller or called, recorded_only, newest_first."""

import sqlite3

import pytest

from appliance.store import SchemaTooNewError, Store, StoreError


def test_read_only_never_creates_migrates_or_writes(tmp_path):
    path = tmp_path / "appliance.db"
    with pytest.raises(StoreError, match="no database there"):
        Store.open_read_only(path)
    assert not path.exists()
    with pytest.raises(StoreError, match="is a directory"):
        Store.open_read_only(tmp_path)
    with Store.open(path) as store:
        store.cdr_open("a", "inbound", 1000, caller_number="100")
    with Store.open_read_only(path) as reader:
        assert [c.call_id for c in reader.cdrs()] == ["a"]
        with pytest.raises(sqlite3.OperationalError, match="readonly"):
            reader.cdr_close("a", 2000, "answered")


def test_read_only_refuses_a_schema_it_does_not_know(tmp_path):
    path = tmp_path / "appliance.db"
    with Store.open(path):
        pass
    conn = sqlite3.connect(path)
    conn.execute("UPDATE schema_version SET version = version + 1")
    conn.commit()
    conn.close()
    with pytest.raises(SchemaTooNewError):
        Store.open_read_only(path)
    conn = sqlite3.connect(path)
    conn.execute("UPDATE schema_version SET version = 0")
    conn.commit()
    conn.close()
    with pytest.raises(StoreError, match="start the box once to migrate it"):
        Store.open_read_only(path)


def test_cdr_search_by_number_recorded_and_newest_first(tmp_path):
    with Store.open(tmp_path / "appliance.db") as store:
        store.cdr_open("a", "inbound", 1000, caller_number="100", called="pstn")
        store.cdr_open("b", "outbound", 2000, caller_number="desk1", called="100",
                       recording_path="/r/b.wav")
        store.cdr_open("c", "inbound", 3000, caller_number="200", recording_path="/r/c.wav")
        assert [c.call_id for c in store.cdrs(number="100")] == ["a", "b"]
        assert [c.call_id for c in store.cdrs(recorded_only=True)] == ["b", "c"]
        assert [c.call_id for c in store.cdrs(newest_first=True, limit=2)] == ["c", "b"]
        assert [c.call_id for c in store.cdrs(number="100", newest_first=True)] == ["b", "a"]
