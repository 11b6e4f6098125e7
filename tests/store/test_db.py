"""Store: CDRs, crash recovery of open calls, event log, voicemails, customers and CSV."""

import sqlite3

import pytest

from appliance.store import (CALL_CLOSED_ON_RESTART, CsvRowIssue, CustomerImportError,
                             ImportReport, Store, StoreError, UnknownCallError)


@pytest.fixture
def store(tmp_path):
    with Store.open(tmp_path / "box.db") as s:
        yield s


def test_cdr_life_of_an_answered_inbound_call(store):
    store.cdr_open("c1", "inbound", 1_000, caller_number="+4420", caller_name="ANN",
                   called="200", trunk="span0", port="fxo3")
    store.cdr_update("c1", ivr_path=["main", "sales"], queue="sales")
    store.cdr_update("c1", answer_ms=9_500, station="201", agent="bob",
                     recording_path="/rec/c1.wav")
    assert store.cdrs(open_only=True)[0].call_id == "c1"
    store.cdr_close("c1", 70_250, "answered", "busy_tone")
    cdr = store.cdr("c1")
    assert (cdr.start_ms, cdr.answer_ms, cdr.end_ms) == (1_000, 9_500, 70_250)
    assert cdr.ivr_path == ("main", "sales")
    assert (cdr.caller_number, cdr.caller_name, cdr.called, cdr.trunk, cdr.port) == (
        "+4420", "ANN", "200", "span0", "fxo3")
    assert (cdr.queue, cdr.station, cdr.agent) == ("sales", "201", "bob")
    assert (cdr.disposition, cdr.hangup_cause, cdr.recording_path) == (
        "answered", "busy_tone", "/rec/c1.wav")
    assert store.cdrs(open_only=True) == []


def test_cdr_misuse_is_refused(store):
    store.cdr_open("c1", "inbound", 1_000)
    with pytest.raises(StoreError, match="already has a CDR"):
        store.cdr_open("c1", "inbound", 2_000)
    with pytest.raises(ValueError, match="direction"):
        store.cdr_open("c2", "sideways", 1_000)
    with pytest.raises(TypeError, match="milliseconds"):
        store.cdr_open("c2", "inbound", 1.5)
    with pytest.raises(TypeError, match="unknown field"):
        store.cdr_update("c1", colour="red")
    with pytest.raises(UnknownCallError):
        store.cdr_update("nope", agent="bob")
    with pytest.raises(ValueError, match="before the call's start"):
        store.cdr_close("c1", 999, "answered")
    store.cdr_close("c1", 1_500, "abandoned", "caller")
    with pytest.raises(UnknownCallError):  # a closed CDR is final
        store.cdr_update("c1", agent="bob")
    with pytest.raises(UnknownCallError):
        store.cdr_close("c1", 2_000, "answered")
    with pytest.raises(sqlite3.IntegrityError):  # the schema checks too
        store._conn.execute("UPDATE cdrs SET answer_ms = 1 WHERE call_id = 'c1'")


def test_close_open_calls_on_restart_ends_them_at_their_last_known_moment(tmp_path):
    path = tmp_path / "box.db"
    with Store.open(path) as store:
        store.cdr_open("ringing", "inbound", 1_000)
        store.cdr_open("talking", "inbound", 2_000)
        store.cdr_update("talking", answer_ms=5_000)
        store.append_event(7_250, "hold", call_id="talking")
        store.cdr_open("done", "outbound", 3_000)
        store.cdr_close("done", 4_000, "answered", "caller")
        store.cdr_open("answered_only", "inbound", 3_000)
        store.cdr_update("answered_only", answer_ms=6_000, disposition="answered")
    with Store.open(path) as store:  # "after the crash"
        closed = store.close_open_calls("restart after crash")
        assert closed == ["ringing", "talking", "answered_only"]
        by_id = {c.call_id: c for c in store.cdrs()}
        assert by_id["ringing"].end_ms == 1_000
        assert by_id["talking"].end_ms == 7_250
        assert by_id["answered_only"].end_ms == 6_000
        assert by_id["ringing"].disposition == "interrupted"
        assert by_id["answered_only"].disposition == "answered"
        for call in closed:
            assert by_id[call].hangup_cause == "restart after crash"
        assert by_id["done"].hangup_cause == "caller"
        logged = store.events(kind=CALL_CLOSED_ON_RESTART)
        assert [(e.call_id, e.time_ms, e.data) for e in logged] == [
            ("ringing", 1_000, {"reason": "restart after crash"}),
            ("answered_only", 6_000, {"reason": "restart after crash"}),
            ("talking", 7_250, {"reason": "restart after crash"})]
        assert store.close_open_calls("again") == []


def test_cdr_search(store):
    for i in range(10):
        store.cdr_open(f"c{i}", "inbound", 1_000 * i, caller_number=f"55{i % 3}",
                       queue="sales" if i % 2 else "support")
    assert [c.call_id for c in store.cdrs(3_000, 6_000)] == ["c3", "c4", "c5"]
    assert [c.call_id for c in store.cdrs(queue="sales", caller_number="551")] == ["c1", "c7"]
    assert len(store.cdrs(limit=4)) == 4


def test_event_log_is_ordered_filtered_and_append_only(store):
    store.append_event(3_000, "answered", call_id="c1", queue="sales", agent="bob")
    store.append_event(1_000, "offered", call_id="c1", queue="sales", data={"prio": 2})
    store.append_event(2_000, "agent_state", agent="bob", data={"state": "ready"})
    store.append_event(3_000, "offered", call_id="c2", queue="support")
    events = store.events()
    assert [(e.time_ms, e.kind) for e in events] == [
        (1_000, "offered"), (2_000, "agent_state"), (3_000, "answered"), (3_000, "offered")]
    assert events[0].data == {"prio": 2}
    assert [e.kind for e in store.events(2_000, 3_000)] == ["agent_state"]
    assert [e.call_id for e in store.events(kind="offered")] == ["c1", "c2"]
    assert [e.kind for e in store.events(queue="sales")] == ["offered", "answered"]
    assert [e.kind for e in store.events(agent="bob", kind=("answered", "x"))] == ["answered"]
    # after_id tails the log by insertion: ids are 1..4 in the order appended.
    assert [e.kind for e in store.events(after_id=2)] == ["agent_state", "offered"]
    with pytest.raises(sqlite3.IntegrityError, match="append-only"):
        store._conn.execute("DELETE FROM events")
    with pytest.raises(sqlite3.IntegrityError, match="append-only"):
        store._conn.execute("UPDATE events SET kind = 'x'")
    with pytest.raises(TypeError):
        store.append_event(1, "x", data=[1, 2])
    with pytest.raises(ValueError):
        store.append_event(-1, "x")


def test_voicemails(store):
    first = store.voicemail_add("200", "+4420", 5_000, 12_000, "/vm/200/1.wav")
    store.voicemail_add("200", None, 6_000, 3_000, "/vm/200/2.wav")
    store.voicemail_add("300", "555", 7_000, 1_000, "/vm/300/1.wav")
    assert [v.time_ms for v in store.voicemails("200", unheard_only=True)] == [5_000, 6_000]
    store.voicemail_mark_heard(first)
    assert [v.path for v in store.voicemails("200", unheard_only=True)] == ["/vm/200/2.wav"]
    assert store.voicemails("200")[0].heard is True
    with pytest.raises(StoreError):
        store.voicemail_mark_heard(999)


CSV_GOOD = (
    "Number,Name,Account,VIP,Notes\n"
    "+44 20 7946 0000,Ann Smith,A-1,yes,\"prefers email, not phone\"\n"
    "(555) 123-4567,Bob,B-2,no,\n"
    "\n"
    "200,\"Multi\nLine\",C-3,,\"x\"\n"
)


def test_customers_csv_import_and_lookup(store, tmp_path):
    path = tmp_path / "customers.csv"
    path.write_text(CSV_GOOD, encoding="utf-8")
    assert store.import_customers_csv(path) == ImportReport(added=3, updated=0)
    ann = store.customer_by_number("+442079460000")
    assert (ann.name, ann.account, ann.vip, ann.notes) == (
        "Ann Smith", "A-1", True, "prefers email, not phone")
    assert store.customer_by_number("555-123-4567").name == "Bob"
    assert store.customer_by_number("200").name == "Multi\nLine"
    assert store.customer_by_number("999") is None
    assert store.customer_by_number("not a number") is None
    path.write_text("number,name,vip\n200,Carol,1\n777,Dan,\n", encoding="utf-8")
    assert store.import_customers_csv(path) == ImportReport(added=1, updated=1)
    assert store.customer_by_number("200").vip is True


def test_customers_csv_bad_rows_are_all_reported_and_nothing_is_imported(store, tmp_path):
    store.upsert_customer("100", "Existing")
    path = tmp_path / "customers.csv"
    path.write_text(
        "number,name,vip\n"
        "111,Good One,no\n"           # line 2: fine, must not be imported alone
        "12ab,Bad Number,no\n"        # line 3
        "222,Bad VIP,maybe\n"         # line 4
        "333,Too,many,fields\n"       # line 5
        "\"444\nx\",Split,no\n"       # lines 6-7: number holds a newline
        "111,Again,no\n"              # line 8: duplicate of line 2
        "100,Replaces existing,yes\n",  # line 9: fine
        encoding="utf-8")
    with pytest.raises(CustomerImportError) as info:
        store.import_customers_csv(path)
    assert info.value.issues == [
        CsvRowIssue(3, "number", "'12ab' is not a phone number (digits, optional leading +)"),
        CsvRowIssue(4, "vip", "'maybe' is not yes/no (yes, no, true, false, 1, 0 or empty)"),
        CsvRowIssue(5, "", "has 4 field(s), the header has 3"),
        CsvRowIssue(6, "number", "'444\\nx' is not a phone number (digits, optional leading +)"),
        CsvRowIssue(8, "number", "111 is already on line 2"),
    ]
    assert "line 3, column 'number'" in str(info.value)
    assert "nothing imported" in str(info.value)
    assert store.customer_by_number("111") is None
    assert store.customer_by_number("100").name == "Existing"


@pytest.mark.parametrize("content, issue", [
    (b"", CsvRowIssue(1, "", "the file is empty; the first row must name the columns "
                             "(number, name, account, vip, notes)")),
    (b"name,phone\nAnn,1\n", CsvRowIssue(1, "phone", "unknown column; known: number, name, "
                                                     "account, vip, notes")),
    (b"number,name\n1,Ann\n2,\xff\xfe\n", CsvRowIssue(3, "", "not UTF-8 (byte 0xff); save "
                                                              "the file as UTF-8 CSV")),
    (b"number,name\n1,\"Ann\n", CsvRowIssue(2, "", "bad CSV (unexpected end of data)")),
])
def test_customers_csv_broken_files(store, tmp_path, content, issue):
    path = tmp_path / "customers.csv"
    path.write_bytes(content)
    with pytest.raises(CustomerImportError) as info:
        store.import_customers_csv(path)
    assert issue in info.value.issues
    assert store._conn.execute("SELECT count(*) FROM customers").fetchone()[0] == 0


def test_customers_csv_missing_file(store, tmp_path):
    with pytest.raises(StoreError, match="no such file"):
        store.import_customers_csv(tmp_path / "nope.csv")
