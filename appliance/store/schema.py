"""The store's schema as numbered migrations, applied in order, each in its own transaction.

`schema_version` holds one row: the number of the last migration applied. A database whose
version is newer than the last migration this code knows was written by a newer release;
it is refused (SchemaTooNewError) rather than used with a schema the code does not know.
Migrations are only ever appended: a released migration is never edited.
"""

import sqlite3

from appliance.store.errors import MigrationError, SchemaTooNewError

# Each migration: a tuple of SQL statements (no executescript: it would COMMIT on its own
# and break the one-transaction-per-migration rule).
MIGRATIONS = (
    # 1: CDRs, the event log (append-only), voicemails, customers.
    (
        """CREATE TABLE cdrs (
            call_id TEXT PRIMARY KEY,
            direction TEXT NOT NULL CHECK (direction IN ('inbound', 'outbound', 'internal')),
            caller_number TEXT,
            caller_name TEXT,
            called TEXT,
            trunk TEXT,
            port TEXT,
            station TEXT,
            agent TEXT,
            queue TEXT,
            start_ms INTEGER NOT NULL,
            answer_ms INTEGER,
            end_ms INTEGER,
            ivr_path TEXT NOT NULL DEFAULT '[]',
            disposition TEXT,
            hangup_cause TEXT,
            recording_path TEXT,
            CHECK (answer_ms IS NULL OR answer_ms >= start_ms),
            CHECK (end_ms IS NULL OR end_ms >= start_ms)
        )""",
        "CREATE INDEX cdrs_start ON cdrs (start_ms)",
        "CREATE INDEX cdrs_open ON cdrs (end_ms) WHERE end_ms IS NULL",
        "CREATE INDEX cdrs_caller ON cdrs (caller_number, start_ms)",
        "CREATE INDEX cdrs_agent ON cdrs (agent, start_ms)",
        "CREATE INDEX cdrs_queue ON cdrs (queue, start_ms)",
        """CREATE TABLE events (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            time_ms INTEGER NOT NULL,
            kind TEXT NOT NULL,
            call_id TEXT,
            queue TEXT,
            agent TEXT,
            data TEXT NOT NULL DEFAULT '{}'
        )""",
        "CREATE INDEX events_time ON events (time_ms)",
        "CREATE INDEX events_queue ON events (queue, time_ms)",
        "CREATE INDEX events_agent ON events (agent, time_ms)",
        "CREATE INDEX events_call ON events (call_id)",
        """CREATE TRIGGER events_no_update BEFORE UPDATE ON events
           BEGIN SELECT RAISE(ABORT, 'the event log is append-only'); END""",
        """CREATE TRIGGER events_no_delete BEFORE DELETE ON events
           BEGIN SELECT RAISE(ABORT, 'the event log is append-only'); END""",
        """CREATE TABLE voicemails (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            mailbox TEXT NOT NULL,
            caller TEXT,
            time_ms INTEGER NOT NULL,
            duration_ms INTEGER NOT NULL CHECK (duration_ms >= 0),
            path TEXT NOT NULL,
            heard INTEGER NOT NULL DEFAULT 0 CHECK (heard IN (0, 1))
        )""",
        "CREATE INDEX voicemails_mailbox ON voicemails (mailbox, time_ms)",
        """CREATE TABLE customers (
            number TEXT PRIMARY KEY,
            name TEXT NOT NULL DEFAULT '',
            account TEXT NOT NULL DEFAULT '',
            vip INTEGER NOT NULL DEFAULT 0 CHECK (vip IN (0, 1)),
            notes TEXT NOT NULL DEFAULT ''
        )""",
    ),
)

LATEST = len(MIGRATIONS)


def schema_version(conn):
    """The version recorded in the database; 0 for a database the store never touched."""
    has = conn.execute(
        "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'schema_version'"
    ).fetchone()
    if not has:
        return 0
    row = conn.execute("SELECT version FROM schema_version").fetchone()
    return 0 if row is None else int(row[0])


def migrate(conn, path, migrations=MIGRATIONS):
    """Brings the database up to len(migrations); returns the list of versions applied.

    `conn` must be in autocommit mode (isolation_level=None): each migration runs in its
    own BEGIN IMMEDIATE ... COMMIT, so a failing one leaves the database at the version
    before it, with nothing of it applied.
    """
    latest = len(migrations)
    # Up to date (the usual case): decided with a read, so that opening the database
    # does not wait for the write lock another connection may be holding.
    current = schema_version(conn)
    if current > latest:
        raise SchemaTooNewError(path, current, latest)
    if current == latest:
        return []
    conn.execute("BEGIN IMMEDIATE")
    try:
        conn.execute("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)")
        if conn.execute("SELECT count(*) FROM schema_version").fetchone()[0] == 0:
            conn.execute("INSERT INTO schema_version (version) VALUES (0)")
        current = schema_version(conn)
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    if current > latest:
        raise SchemaTooNewError(path, current, latest)
    applied = []
    for version in range(current + 1, latest + 1):
        conn.execute("BEGIN IMMEDIATE")
        try:
            # Another process may have migrated between our read and our lock.
            if schema_version(conn) >= version:
                conn.execute("ROLLBACK")
                continue
            for statement in migrations[version - 1]:
                conn.execute(statement)
            conn.execute("UPDATE schema_version SET version = ?", (version,))
            conn.execute("COMMIT")
        except sqlite3.Error as exc:
            conn.execute("ROLLBACK")
            raise MigrationError(path, version, exc) from exc
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        applied.append(version)
    return applied
