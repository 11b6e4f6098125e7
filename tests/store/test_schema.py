"""Schema migrations: numbered, one transaction each, a newer database refused."""

import sqlite3

import pytest

from appliance.store import MigrationError, SchemaTooNewError, Store
from appliance.store.schema import LATEST, MIGRATIONS, migrate, schema_version


def _tables(path):
    conn = sqlite3.connect(path)
    try:
        return {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    finally:
        conn.close()


def test_new_database_is_migrated_to_the_latest_version_in_wal_mode(tmp_path):
    path = tmp_path / "box.db"
    with Store.open(path) as store:
        assert store.schema_version == LATEST == len(MIGRATIONS)
        assert store._conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert {"cdrs", "events", "voicemails", "customers", "schema_version"} <= _tables(path)


def test_reopening_applies_nothing_and_keeps_the_data(tmp_path):
    path = tmp_path / "box.db"
    with Store.open(path) as store:
        store.append_event(10, "booted")
    conn = sqlite3.connect(path, isolation_level=None)
    assert migrate(conn, path) == []
    conn.close()
    with Store.open(path) as store:
        assert [e.kind for e in store.events()] == ["booted"]


def test_older_database_is_brought_up_step_by_step(tmp_path):
    path = tmp_path / "box.db"
    extra = MIGRATIONS + (("CREATE TABLE audit (id INTEGER PRIMARY KEY, what TEXT)",),
                          ("ALTER TABLE audit ADD COLUMN who TEXT",))
    conn = sqlite3.connect(path, isolation_level=None)
    assert migrate(conn, path, MIGRATIONS) == list(range(1, LATEST + 1))
    conn.execute("INSERT INTO customers (number, name) VALUES ('100', 'Ann')")
    assert migrate(conn, path, extra) == [LATEST + 1, LATEST + 2]
    assert schema_version(conn) == LATEST + 2
    conn.execute("INSERT INTO audit (what, who) VALUES ('x', 'y')")
    assert conn.execute("SELECT name FROM customers").fetchone() == ("Ann",)
    conn.close()


def test_a_failing_migration_is_rolled_back_whole(tmp_path):
    path = tmp_path / "box.db"
    broken = MIGRATIONS + (("CREATE TABLE half_done (x INTEGER)",
                            "CREATE TABLE oops (x INTEGER",),)
    conn = sqlite3.connect(path, isolation_level=None)
    with pytest.raises(MigrationError) as info:
        migrate(conn, path, broken)
    assert info.value.version == LATEST + 1
    assert f"left at version {LATEST}" in str(info.value)
    assert schema_version(conn) == LATEST
    conn.close()
    assert "half_done" not in _tables(path)


def test_a_newer_database_is_refused_with_a_clear_error(tmp_path):
    path = tmp_path / "box.db"
    Store.open(path).close()
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("UPDATE schema_version SET version = ?", (LATEST + 3,))
    conn.close()
    with pytest.raises(SchemaTooNewError) as info:
        Store.open(path)
    message = str(info.value)
    assert f"version {LATEST + 3} is newer" in message and f"up to {LATEST}" in message
    assert str(path) in message


def test_a_file_that_is_not_a_database_is_refused(tmp_path):
    path = tmp_path / "box.db"
    path.write_bytes(b"this is not sqlite" * 100)
    with pytest.raises(Exception) as info:
        Store.open(path)
    assert "not a usable database" in str(info.value)


def test_missing_folder_is_refused(tmp_path):
    with pytest.raises(Exception) as info:
        Store.open(tmp_path / "nope" / "box.db")
    assert "does not exist" in str(info.value)


def test_opening_does_not_wait_for_another_connections_write_lock(tmp_path):
    """A reader (CLI, KPI report) opens the store while a long import holds the lock."""
    path = tmp_path / "box.db"
    with Store.open(path) as store:
        store.append_event(1, "booted")
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")
    holder.execute("INSERT INTO events (time_ms, kind) VALUES (2, 'uncommitted')")
    with Store.open(path, timeout_s=0.01) as reader:
        assert [e.kind for e in reader.events()] == ["booted"]
    holder.execute("ROLLBACK")
    holder.close()
