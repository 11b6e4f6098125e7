"""Store: the box's SQLite database (WAL mode) of CDRs, the event log, voicemails, customers.

One Store is one connection and belongs to the thread that opened it (sqlite3's rule). The
engine never writes from the tick: it hands writes to a StoreWriter (writer.py), whose
thread owns its own Store. Readers (CLI, CTI, KPI reports) open their own Store; WAL lets
them read while the writer writes, and they see whole transactions only.

Times are integer milliseconds (the engine's clock, epoch-based in production).
Durability: synchronous=FULL, so a committed transaction survives a power loss; a crash
or power loss in the middle of a transaction leaves nothing of it.
"""

import csv
import io
import json
import os
import re
import sqlite3
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from appliance.store.errors import (CsvRowIssue, CustomerImportError, SchemaTooNewError,
                                    StoreError, UnknownCallError)
from appliance.store.schema import LATEST, migrate, schema_version

DIRECTIONS = ("inbound", "outbound", "internal")
# The event kind close_open_calls logs for each call it ends (data: {"reason": ...}).
CALL_CLOSED_ON_RESTART = "call_closed_on_restart"
# Columns a CDR may be opened with / updated with (call_id, start and end have their own
# arguments; end_ms, disposition and hangup_cause are set by cdr_close only).
_OPEN_FIELDS = ("caller_number", "caller_name", "called", "trunk", "port", "station",
                "agent", "queue", "recording_path")
_UPDATE_FIELDS = _OPEN_FIELDS + ("answer_ms", "ivr_path", "disposition")
_CDR_COLUMNS = ("call_id", "direction", "caller_number", "caller_name", "called", "trunk",
                "port", "station", "agent", "queue", "start_ms", "answer_ms", "end_ms",
                "ivr_path", "disposition", "hangup_cause", "recording_path")
_CUSTOMER_COLUMNS = ("number", "name", "account", "vip", "notes")
# A phone number as stored: optional +, then digits (and * #); spaces, dots, dashes and
# parentheses are written by people and removed before the check.
_NUMBER = re.compile(r"\+?[0-9*#]{1,32}")
_NUMBER_PUNCT = re.compile(r"[\s.\-()/]")
_VIP_WORDS = {"": 0, "0": 0, "no": 0, "n": 0, "false": 0, "1": 1, "yes": 1, "y": 1, "true": 1,
              "vip": 1}
_MAX_TEXT = 2000


@dataclass(frozen=True)
class Cdr:
    """One call detail record; times in ms; ivr_path is the tuple of IVR nodes visited."""

    call_id: str
    direction: str
    caller_number: str | None
    caller_name: str | None
    called: str | None
    trunk: str | None
    port: str | None
    station: str | None
    agent: str | None
    queue: str | None
    start_ms: int
    answer_ms: int | None
    end_ms: int | None
    ivr_path: tuple
    disposition: str | None
    hangup_cause: str | None
    recording_path: str | None


@dataclass(frozen=True)
class Event:
    """One row of the event log; `data` is the decoded JSON object."""

    id: int
    time_ms: int
    kind: str
    call_id: str | None
    queue: str | None
    agent: str | None
    data: dict


@dataclass(frozen=True)
class Voicemail:
    id: int
    mailbox: str
    caller: str | None
    time_ms: int
    duration_ms: int
    path: str
    heard: bool


@dataclass(frozen=True)
class Customer:
    number: str
    name: str
    account: str
    vip: bool
    notes: str


@dataclass(frozen=True)
class ImportReport:
    """A customers CSV imported whole: rows added and rows that replaced an existing one."""

    added: int
    updated: int


def normalize_number(text):
    """A phone number as the store keys it ('+44 (20) 7946-0000' -> '+442079460000'), or
    None when it is not one."""
    if not isinstance(text, str):
        return None
    cleaned = _NUMBER_PUNCT.sub("", text)
    return cleaned if _NUMBER.fullmatch(cleaned) else None


def _ms(name, value, optional=False):
    if value is None and optional:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{name} must be an int of milliseconds, not {value!r}")
    if value < 0:
        raise ValueError(f"{name} must be >= 0 ms, not {value}")
    return value


def _text(name, value):
    if value is None:
        return None
    if not isinstance(value, str):
        raise TypeError(f"{name} must be a str or None, not {type(value).__name__}")
    return value


class Store:
    """A connection to the box's database. Use Store.open(path); close() when done."""

    def __init__(self, conn, path):
        self._conn = conn
        self.path = str(path)

    @classmethod
    def open(cls, path, timeout_s=30.0, check_same_thread=True):
        """Opens (creating if needed) the database at `path`, in WAL mode, migrated to the
        latest schema. Raises SchemaTooNewError for a database from a newer release.
        timeout_s: how long a write waits for another connection's write lock.
        check_same_thread=False lets one other thread take the Store over (as sqlite3)."""
        path = Path(path)
        if path.is_dir():
            raise StoreError(f"{path}: is a directory; give the database file's path")
        if not path.parent.is_dir():
            raise StoreError(f"{path}: folder {path.parent} does not exist; create it")
        try:
            conn = sqlite3.connect(path, timeout=timeout_s, isolation_level=None,
                                   check_same_thread=check_same_thread)
        except sqlite3.Error as exc:
            raise StoreError(f"{path}: cannot open the database ({exc}); check the path "
                             f"and permissions") from exc
        try:
            mode = conn.execute("PRAGMA journal_mode=WAL").fetchone()[0]
            if mode.lower() != "wal":
                raise StoreError(f"{path}: the database cannot use WAL mode (got {mode}); "
                                 f"put it on a local file system")
            conn.execute("PRAGMA synchronous=FULL")
            conn.execute("PRAGMA foreign_keys=ON")
            migrate(conn, path)
        except sqlite3.DatabaseError as exc:
            conn.close()
            raise StoreError(f"{path}: not a usable database ({exc}); restore a backup or "
                             f"move the file away to start a new one") from exc
        except BaseException:
            conn.close()
            raise
        return cls(conn, path)

    @classmethod
    def open_read_only(cls, path):
        """Opens an existing database for reading only (reports, the CLI's history
        commands): never creates, migrates or writes it, so it works on a box's database
        while the box runs (WAL: a reader sees whole transactions and does not block the
        writer) and while it is stopped. Raises StoreError when there is no database at
        `path` or its schema is not this release's (start the box once to migrate it)."""
        path = Path(path)
        if path.is_dir():
            raise StoreError(f"{path}: is a directory; give the database file's path")
        if not path.is_file():
            raise StoreError(f"{path}: no database there; check storage.data_dir in the "
                             f"configuration, or run the box once to create it")
        try:
            conn = sqlite3.connect(f"{path.absolute().as_uri()}?mode=ro", uri=True,
                                   isolation_level=None)
        except sqlite3.Error as exc:
            raise StoreError(f"{path}: cannot open the database ({exc}); check the path "
                             f"and permissions") from exc
        try:
            conn.execute("PRAGMA query_only=ON")
            found = schema_version(conn)
        except sqlite3.DatabaseError as exc:
            conn.close()
            raise StoreError(f"{path}: cannot read the database ({exc}); check that this "
                             f"user may read the file and its folder") from exc
        if found > LATEST:
            conn.close()
            raise SchemaTooNewError(path, found, LATEST)
        if found < LATEST:
            conn.close()
            raise StoreError(f"{path}: database schema version {found} is older than this "
                             f"release's ({LATEST}); start the box once to migrate it")
        return cls(conn, path)

    def close(self):
        self._conn.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    @property
    def schema_version(self):
        return schema_version(self._conn)

    latest_schema_version = LATEST

    # -- transactions ---------------------------------------------------------------------

    @contextmanager
    def transaction(self):
        """Everything inside commits together or not at all. Nested uses join the outer."""
        if self._conn.in_transaction:
            yield self
            return
        self._conn.execute("BEGIN IMMEDIATE")
        try:
            yield self
            self._conn.execute("COMMIT")
        except BaseException:
            if self._conn.in_transaction:  # also when COMMIT itself failed (disk I/O)
                self._conn.execute("ROLLBACK")
            raise

    @contextmanager
    def snapshot(self):
        """Reads inside see one consistent state of the database (a WAL read transaction;
        it does not hold back the writer)."""
        if self._conn.in_transaction:
            yield self
            return
        self._conn.execute("BEGIN DEFERRED")
        try:
            yield self
        finally:
            self._conn.execute("COMMIT")

    # -- CDRs -----------------------------------------------------------------------------

    def cdr_open(self, call_id, direction, start_ms, **fields):
        """Starts the CDR of a call. fields: caller_number, caller_name, called, trunk, port,
        station, agent, queue, recording_path."""
        _text("call_id", call_id)
        if not call_id:
            raise ValueError("call_id must be a non-empty str")
        if direction not in DIRECTIONS:
            raise ValueError(f"direction must be one of {', '.join(DIRECTIONS)}, "
                             f"not {direction!r}")
        _ms("start_ms", start_ms)
        unknown = set(fields) - set(_OPEN_FIELDS)
        if unknown:
            raise TypeError(f"cdr_open: unknown field(s) {', '.join(sorted(unknown))}; "
                            f"known: {', '.join(_OPEN_FIELDS)}")
        if isinstance(fields.get("recording_path"), os.PathLike):
            fields["recording_path"] = os.fspath(fields["recording_path"])
        for name, value in fields.items():
            _text(name, value)
        names = ["call_id", "direction", "start_ms", *fields]
        values = [call_id, direction, start_ms, *fields.values()]
        with self.transaction():
            try:
                self._conn.execute(
                    f"INSERT INTO cdrs ({', '.join(names)}) "
                    f"VALUES ({', '.join('?' * len(names))})", values)
            except sqlite3.IntegrityError as exc:
                raise StoreError(f"cdr_open: call {call_id!r} already has a CDR ({exc})") \
                    from exc

    def cdr_update(self, call_id, **fields):
        """Sets fields of an open call's CDR: answer_ms, ivr_path (a sequence of node names),
        disposition, and any field cdr_open takes."""
        unknown = set(fields) - set(_UPDATE_FIELDS)
        if unknown:
            raise TypeError(f"cdr_update: unknown field(s) {', '.join(sorted(unknown))}; "
                            f"known: {', '.join(_UPDATE_FIELDS)}")
        if not fields:
            return
        values = []
        for name, value in fields.items():
            if name == "answer_ms":
                values.append(_ms(name, value, optional=True))
            elif name == "ivr_path":
                values.append(self._ivr_json(value))
            elif name == "recording_path" and isinstance(value, os.PathLike):
                values.append(os.fspath(value))
            else:
                values.append(_text(name, value))
        sets = ", ".join(f"{name} = ?" for name in fields)
        with self.transaction():
            cur = self._conn.execute(
                f"UPDATE cdrs SET {sets} WHERE call_id = ? AND end_ms IS NULL",
                [*values, call_id])
            if cur.rowcount != 1:
                raise UnknownCallError(f"cdr_update: no open call {call_id!r}")

    @staticmethod
    def _ivr_json(path):
        if isinstance(path, str) or not all(isinstance(node, str) for node in path):
            raise TypeError(f"ivr_path must be a sequence of node names, not {path!r}")
        return json.dumps(list(path))

    def cdr_close(self, call_id, end_ms, disposition, hangup_cause=None):
        """Ends an open call's CDR: end time, disposition ('answered', 'abandoned',
        'voicemail', ...) and the hang-up cause ('caller', 'busy_tone', 'board_lost', ...)."""
        _ms("end_ms", end_ms)
        _text("disposition", disposition)
        _text("hangup_cause", hangup_cause)
        with self.transaction():
            row = self._conn.execute(
                "SELECT start_ms FROM cdrs WHERE call_id = ? AND end_ms IS NULL",
                (call_id,)).fetchone()
            if row is None:
                raise UnknownCallError(f"cdr_close: no open call {call_id!r}")
            if end_ms < row[0]:
                raise ValueError(f"cdr_close: end_ms {end_ms} is before the call's start "
                                 f"{row[0]}")
            self._conn.execute(
                "UPDATE cdrs SET end_ms = ?, disposition = ?, hangup_cause = ? "
                "WHERE call_id = ?", (end_ms, disposition, hangup_cause, call_id))

    def close_open_calls(self, reason, disposition="interrupted"):
        """On restart: ends every CDR still open (the box stopped mid-call). The end time is
        the last moment the call is known alive: the latest of its start, its answer and its
        last logged event. Each closed call also gets a CALL_CLOSED_ON_RESTART event at
        that time. Returns the call ids closed."""
        _text("reason", reason)
        if not reason:
            raise ValueError("reason must be a non-empty str (e.g. 'restart after crash')")
        with self.transaction():
            rows = self._conn.execute(
                "SELECT c.call_id, max(c.start_ms, coalesce(c.answer_ms, 0), "
                "coalesce((SELECT max(e.time_ms) FROM events e WHERE e.call_id = c.call_id),"
                " 0)) FROM cdrs c WHERE c.end_ms IS NULL ORDER BY c.start_ms").fetchall()
            self._conn.executemany(
                "UPDATE cdrs SET end_ms = ?, disposition = coalesce(disposition, ?), "
                "hangup_cause = ? WHERE call_id = ?",
                [(end, disposition, reason, call_id) for call_id, end in rows])
            # The event log tells the same story, so that KPIs see these calls end.
            payload = json.dumps({"reason": reason}, separators=(",", ":"))
            self._conn.executemany(
                "INSERT INTO events (time_ms, kind, call_id, data) VALUES (?, ?, ?, ?)",
                [(end, CALL_CLOSED_ON_RESTART, call_id, payload) for call_id, end in rows])
        return [call_id for call_id, _ in rows]

    def cdr(self, call_id):
        rows = self.cdrs(call_id=call_id)
        return rows[0] if rows else None

    def cdrs(self, since=None, until=None, *, call_id=None, caller_number=None, called=None,
             agent=None, queue=None, station=None, disposition=None, open_only=False,
             limit=None, number=None, recorded_only=False, newest_first=False):
        """CDRs whose start is in [since, until) ms, filtered by the given fields, oldest
        first (newest first with newest_first). `number` matches the caller's number or
        the number called; recorded_only keeps the calls with a recording path."""
        where, args = [], []
        if recorded_only:
            where.append("recording_path IS NOT NULL")
        if number is not None:
            where.append("(caller_number = ? OR called = ?)")
            args += [number, number]
        if since is not None:
            where.append("start_ms >= ?")
            args.append(_ms("since", since))
        if until is not None:
            where.append("start_ms < ?")
            args.append(_ms("until", until))
        for name, value in (("call_id", call_id), ("caller_number", caller_number),
                            ("called", called), ("agent", agent), ("queue", queue),
                            ("station", station), ("disposition", disposition)):
            if value is not None:
                where.append(f"{name} = ?")
                args.append(value)
        if open_only:
            where.append("end_ms IS NULL")
        sql = f"SELECT {', '.join(_CDR_COLUMNS)} FROM cdrs"
        if where:
            sql += " WHERE " + " AND ".join(where)
        sql += " ORDER BY start_ms DESC, call_id DESC" if newest_first else \
            " ORDER BY start_ms, call_id"
        if limit is not None:
            sql += " LIMIT ?"
            args.append(int(limit))
        out = []
        for row in self._conn.execute(sql, args):
            values = dict(zip(_CDR_COLUMNS, row))
            values["ivr_path"] = tuple(json.loads(values["ivr_path"]))
            out.append(Cdr(**values))
        return out

    # -- event log ------------------------------------------------------------------------

    def append_event(self, time_ms, kind, call_id=None, queue=None, agent=None, data=None):
        """Appends one event to the log (which can never be updated or deleted); returns
        its id. `data` is a JSON-serialisable dict."""
        _ms("time_ms", time_ms)
        if not isinstance(kind, str) or not kind:
            raise ValueError(f"kind must be a non-empty str, not {kind!r}")
        for name, value in (("call_id", call_id), ("queue", queue), ("agent", agent)):
            _text(name, value)
        if data is None:
            data = {}
        if not isinstance(data, dict):
            raise TypeError(f"data must be a dict, not {type(data).__name__}")
        payload = json.dumps(data, separators=(",", ":"), sort_keys=True)
        with self.transaction():
            cur = self._conn.execute(
                "INSERT INTO events (time_ms, kind, call_id, queue, agent, data) "
                "VALUES (?, ?, ?, ?, ?, ?)", (time_ms, kind, call_id, queue, agent, payload))
        return cur.lastrowid

    def events(self, since=None, until=None, *, kind=None, call_id=None, queue=None,
               agent=None, after_id=None, limit=None):
        """Events with time in [since, until) ms, in log order (time, then id). `kind` may be
        a str or a collection of them; after_id resumes a previous read."""
        where, args = [], []
        if since is not None:
            where.append("time_ms >= ?")
            args.append(_ms("since", since))
        if until is not None:
            where.append("time_ms < ?")
            args.append(_ms("until", until))
        if after_id is not None:
            where.append("id > ?")
            args.append(int(after_id))
        if kind is not None:
            kinds = [kind] if isinstance(kind, str) else list(kind)
            where.append(f"kind IN ({', '.join('?' * len(kinds))})")
            args.extend(kinds)
        for name, value in (("call_id", call_id), ("queue", queue), ("agent", agent)):
            if value is not None:
                where.append(f"{name} = ?")
                args.append(value)
        sql = "SELECT id, time_ms, kind, call_id, queue, agent, data FROM events"
        if where:
            sql += " WHERE " + " AND ".join(where)
        sql += " ORDER BY time_ms, id"
        if limit is not None:
            sql += " LIMIT ?"
            args.append(int(limit))
        return [Event(i, t, k, c, q, a, json.loads(d))
                for i, t, k, c, q, a, d in self._conn.execute(sql, args)]

    # -- voicemails -----------------------------------------------------------------------

    def voicemail_add(self, mailbox, caller, time_ms, duration_ms, path):
        """Records a new (unheard) voicemail; returns its id."""
        if not isinstance(mailbox, str) or not mailbox:
            raise ValueError(f"mailbox must be a non-empty str, not {mailbox!r}")
        _text("caller", caller)
        _ms("time_ms", time_ms)
        _ms("duration_ms", duration_ms)
        path = str(path)
        with self.transaction():
            cur = self._conn.execute(
                "INSERT INTO voicemails (mailbox, caller, time_ms, duration_ms, path) "
                "VALUES (?, ?, ?, ?, ?)", (mailbox, caller, time_ms, duration_ms, path))
        return cur.lastrowid

    def voicemail_mark_heard(self, voicemail_id, heard=True):
        with self.transaction():
            cur = self._conn.execute("UPDATE voicemails SET heard = ? WHERE id = ?",
                                     (1 if heard else 0, voicemail_id))
            if cur.rowcount != 1:
                raise StoreError(f"no voicemail {voicemail_id}")

    def voicemails(self, mailbox=None, unheard_only=False):
        where, args = [], []
        if mailbox is not None:
            where.append("mailbox = ?")
            args.append(mailbox)
        if unheard_only:
            where.append("heard = 0")
        sql = "SELECT id, mailbox, caller, time_ms, duration_ms, path, heard FROM voicemails"
        if where:
            sql += " WHERE " + " AND ".join(where)
        sql += " ORDER BY time_ms, id"
        return [Voicemail(i, m, c, t, d, p, bool(h))
                for i, m, c, t, d, p, h in self._conn.execute(sql, args)]

    # -- customers ------------------------------------------------------------------------

    def customer_by_number(self, number):
        """The customer with this phone number (punctuation ignored), or None."""
        key = normalize_number(number)
        if key is None:
            return None
        row = self._conn.execute(
            "SELECT number, name, account, vip, notes FROM customers WHERE number = ?",
            (key,)).fetchone()
        return None if row is None else Customer(row[0], row[1], row[2], bool(row[3]), row[4])

    def upsert_customer(self, number, name="", account="", vip=False, notes=""):
        key = normalize_number(number)
        if key is None:
            raise ValueError(f"{number!r} is not a phone number (digits, optional leading +)")
        for field, value in (("name", name), ("account", account), ("notes", notes)):
            if not isinstance(value, str):
                raise TypeError(f"{field} must be a str, not {type(value).__name__}")
        with self.transaction():
            self._conn.execute(
                "INSERT OR REPLACE INTO customers (number, name, account, vip, notes) "
                "VALUES (?, ?, ?, ?, ?)", (key, name, account, 1 if vip else 0, notes))

    def import_customers_csv(self, path):
        """Imports a customers CSV (UTF-8, header row: number, name, account, vip, notes;
        only `number` is required) in one transaction. Rows whose number is already stored
        replace it. Any bad row -> CustomerImportError listing every problem with its line
        and column, and nothing is imported."""
        path = Path(path)
        try:
            raw = path.read_bytes()
        except FileNotFoundError:
            raise StoreError(f"{path}: no such file; check the path") from None
        except IsADirectoryError:
            raise StoreError(f"{path}: is a directory; give a CSV file") from None
        except OSError as exc:
            raise StoreError(f"{path}: cannot read it ({exc.strerror or exc})") from None
        rows, issues = _parse_customers(raw)
        if issues:
            raise CustomerImportError(path, issues)
        added = updated = 0
        with self.transaction():
            for number, name, account, vip, notes in rows:
                exists = self._conn.execute("SELECT 1 FROM customers WHERE number = ?",
                                            (number,)).fetchone()
                self._conn.execute(
                    "INSERT OR REPLACE INTO customers (number, name, account, vip, notes) "
                    "VALUES (?, ?, ?, ?, ?)", (number, name, account, vip, notes))
                if exists:
                    updated += 1
                else:
                    added += 1
        return ImportReport(added, updated)


def _parse_customers(raw):
    """(rows, issues) of a customers CSV's bytes; rows are ready to insert."""
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw[:exc.start].count(b"\n") + 1
        return [], [CsvRowIssue(line, "", f"not UTF-8 (byte 0x{raw[exc.start]:02x}); save "
                                          f"the file as UTF-8 CSV")]
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    issues, rows, seen = [], [], {}
    try:
        header = next(reader, None)
    except csv.Error as exc:
        return [], [CsvRowIssue(1, "", f"bad CSV ({exc})")]
    if header is None:
        return [], [CsvRowIssue(1, "", "the file is empty; the first row must name the "
                                       "columns (number, name, account, vip, notes)")]
    columns = [h.strip().lower() for h in header]
    for name in columns:
        if name not in _CUSTOMER_COLUMNS:
            issues.append(CsvRowIssue(1, name, f"unknown column; known: "
                                               f"{', '.join(_CUSTOMER_COLUMNS)}"))
    for name in set(columns):
        if columns.count(name) > 1:
            issues.append(CsvRowIssue(1, name, "column given twice"))
    if "number" not in columns:
        issues.append(CsvRowIssue(1, "number", "missing: the header must have a number "
                                               "column"))
    if issues:
        return [], issues
    line = 1
    while True:
        start = reader.line_num + 1
        try:
            record = next(reader)
        except StopIteration:
            break
        except csv.Error as exc:
            issues.append(CsvRowIssue(start, "", f"bad CSV ({exc})"))
            break
        line = start
        if not record or all(not cell.strip() for cell in record):
            continue
        if len(record) != len(columns):
            issues.append(CsvRowIssue(line, "", f"has {len(record)} field(s), the header "
                                                f"has {len(columns)}"))
            continue
        cells = {name: cell.strip() for name, cell in zip(columns, record)}
        number = normalize_number(cells["number"])
        if number is None:
            issues.append(CsvRowIssue(line, "number", f"{cells['number']!r} is not a phone "
                                                      f"number (digits, optional leading +)"))
        elif number in seen:
            issues.append(CsvRowIssue(line, "number", f"{number} is already on line "
                                                      f"{seen[number]}"))
        else:
            seen[number] = line
        vip_text = cells.get("vip", "").lower()
        if vip_text not in _VIP_WORDS:
            issues.append(CsvRowIssue(line, "vip", f"{cells['vip']!r} is not yes/no "
                                                   f"(yes, no, true, false, 1, 0 or empty)"))
        for name in ("name", "account", "notes"):
            if len(cells.get(name, "")) > _MAX_TEXT:
                issues.append(CsvRowIssue(line, name, f"longer than {_MAX_TEXT} characters"))
        rows.append((number, cells.get("name", ""), cells.get("account", ""),
                     _VIP_WORDS.get(vip_text, 0), cells.get("notes", "")))
    return ([] if issues else rows), issues
