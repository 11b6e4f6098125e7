"""History over the store: KPIs (acd.kpis over the log, not recomputed), CDR search,
recordings; read-only, beside a writer; the same as API operations.

Two databases: a log written row by row through the store (every figure known in
advance), and one filled by a real box run (the demo's callers on the sample's emulated
board, 40 s of board time in virtual time).
"""

import asyncio
import dataclasses
import datetime
import sqlite3
import types
import zoneinfo

import numpy as np
import pytest

from appliance.acd import kpis
from appliance.cti import api
from appliance.cti import history as hist
from appliance.dsp.audiofile import write_audio
from appliance.store import Store, StoreError

KATHMANDU = zoneinfo.ZoneInfo("Asia/Kathmandu")  # UTC+05:45: hours are not UTC's hours
T0 = int(datetime.datetime(2026, 11, 23, 9, 0, tzinfo=KATHMANDU).timestamp() * 1000)
S = 1000
MIN = 60 * S


def _state(store, t, agent, status, state):
    store.append_event(t, "agent_state", agent=agent,
                       data={"status": status, "state": state, "reason": None})


def _call(store, call_id, queue, caller, t_queued, agent, t_connected, t_end, disposition,
          recording=None):
    store.cdr_open(call_id, "inbound", t_queued - 5 * S, caller_number=caller,
                   called="pstn", queue=queue, recording_path=recording)
    store.append_event(t_queued - 5 * S, "call_arrived", call_id=call_id)
    store.append_event(t_queued, "queued", call_id=call_id, queue=queue,
                       data={"priority": 0, "caller": caller})
    if agent is not None:
        store.append_event(t_connected - S, "offered", call_id=call_id, queue=queue,
                           agent=agent, data={"station": "desk"})
        store.append_event(t_connected, "connected", call_id=call_id, queue=queue,
                           agent=agent, data={"station": "desk", "first": True})
        _state(store, t_connected, agent, "ready", "on_call")
        store.cdr_update(call_id, agent=agent, answer_ms=t_connected)
    store.append_event(t_end, "call_ended", call_id=call_id, queue=queue, agent=agent,
                       data={"disposition": disposition, "cause": "caller"})
    if agent is not None:
        _state(store, t_end, agent, "ready", "idle")
    store.cdr_close(call_id, t_end, disposition, "caller")


@pytest.fixture(scope="module")
def written(tmp_path_factory):
    """A log with known figures: sales gets c1 (answered after 5 s), c2 (abandoned after
    3 s) in the first quarter hour and c4 (answered after 10 s) 50 min in; support gets c3
    (answered after 30 s) 20 min in."""
    folder = tmp_path_factory.mktemp("history")
    recording = folder / "c1.wav"
    write_audio(recording, (np.sin(np.arange(8000) * 0.3) * 8000).astype(np.int16))
    path = folder / "appliance.db"
    with Store.open(path) as store:
        store.append_event(T0, "box_started", data={"site": "test"})
        _state(store, T0, "a1", "ready", "idle")
        _state(store, T0, "a2", "ready", "idle")
        _call(store, "c1", "sales", "13800138000", T0 + MIN, "a1", T0 + MIN + 5 * S,
              T0 + 2 * MIN, "answered", recording=str(recording))
        _call(store, "c2", "sales", "13912345678", T0 + MIN + 10 * S, None, None,
              T0 + MIN + 13 * S, "abandoned")
        _call(store, "c3", "support", "02161234567", T0 + 20 * MIN, "a2",
              T0 + 20 * MIN + 30 * S, T0 + 22 * MIN, "answered",
              recording=str(folder / "gone.wav"))
        _call(store, "c4", "sales", "13800138000", T0 + 50 * MIN, "a1",
              T0 + 50 * MIN + 10 * S, T0 + 53 * MIN, "answered")
        _state(store, T0 + 60 * MIN, "a1", "logged_out", "idle")
        _state(store, T0 + 60 * MIN, "a2", "logged_out", "idle")
    return path


@pytest.fixture
def store(written):
    with hist.open_history(written) as opened:
        yield opened


def report(store, **kwargs):
    kwargs.setdefault("since_ms", T0)
    kwargs.setdefault("until_ms", T0 + 60 * MIN)
    kwargs.setdefault("zone", KATHMANDU)
    kwargs.setdefault("now", T0 + 24 * 60 * MIN)
    return hist.kpi_report(store, **kwargs)


def rows_by_key(result):
    return {(r["start"], r["key"]): r for r in result["rows"]}


# ---- KPIs ---------------------------------------------------------------------------------

def test_one_hour_per_queue_gives_the_figures_of_the_log(store):
    result = report(store, interval="60m")
    rows = {r["key"]: r for r in result["rows"]}
    assert set(rows) == {"sales", "support"}
    sales, support = rows["sales"], rows["support"]
    assert (sales["offered"], sales["answered"], sales["abandoned"],
            sales["short_abandons"]) == (3, 2, 1, 1)
    assert sales["service_level"] == pytest.approx(2 / 3)
    assert sales["asa_ms"] == pytest.approx(7500)
    assert sales["longest_wait_ms"] == 10 * S
    assert (support["offered"], support["answered"], support["service_level"],
            support["asa_ms"]) == (1, 1, 0.0, 30 * S)
    assert result["sl_definition"] == \
        "answered within 20 s / offered (abandoned and overflowed included)"
    assert result["queues"] == ["sales", "support"]
    assert result["agents"] == ["a1", "a2"]


def test_the_rows_are_those_kpis_compute_makes(store):
    """History hands the log to acd.kpis and adds only labels: the figures are its."""
    result = report(store, interval="15m", target_s=7)
    with Store.open_read_only(store.path) as other:
        events = other.events(*kpis.read_window(T0, T0 + 60 * MIN))
    direct = kpis.compute(events, since_ms=T0, until_ms=T0 + 60 * MIN, interval="15min",
                          target_s=7, by=("queue",), zone=KATHMANDU)
    assert [{k: r[k] for k in d.to_dict()} for r, d in zip(result["rows"], direct)] == \
        [d.to_dict() for d in direct]
    assert len(result["rows"]) == len(direct)


def test_intervals_are_aligned_to_the_zone_wall_clock(store):
    result = report(store, interval="15m", since_ms=T0 - 7 * MIN)
    starts = sorted({r["start"] for r in result["rows"]})
    assert starts[0] == "2026-11-23T08:53:00+05:45"  # the range's start, then quarter hours
    assert starts[1:] == [f"2026-11-23T09:{m:02d}:00+05:45" for m in (0, 15, 30, 45)]
    rows = rows_by_key(result)
    assert rows[("2026-11-23T09:00:00+05:45", "sales")]["offered"] == 2
    assert rows[("2026-11-23T09:45:00+05:45", "sales")]["offered"] == 1
    assert rows[("2026-11-23T09:15:00+05:45", "support")]["offered"] == 1


@pytest.mark.parametrize("formula, expected", [
    ("offered", 2 / 3), ("answered", 1.0), ("offered_minus_short_abandons", 1.0)])
def test_each_service_level_formula_is_stated_and_applied(store, formula, expected):
    result = report(store, interval="day", queue="sales", sl_formula=formula)
    (row,) = result["rows"]
    assert row["service_level"] == pytest.approx(expected)
    assert result["sl_definition"] == \
        hist.SL_FORMULAS[formula].format(t=20, n=5) == row["sl_formula"]


def test_per_agent_rows_and_one_agent(store):
    result = report(store, interval="60m", by="agent")
    rows = {r["key"]: r for r in result["rows"]}
    assert rows["a1"]["handled"] == 2 and rows["a2"]["handled"] == 1
    assert rows[None]["abandoned"] == 1  # the call nobody answered
    assert rows["a1"]["occupancy"] == pytest.approx((55 + 170) / 3600)
    only = report(store, interval="60m", agent="a2")
    assert [r["key"] for r in only["rows"]] == ["a2"] and only["by"] == "agent"


@pytest.mark.parametrize("kwargs, argument", [
    ({"interval": "17m"}, "interval"),
    ({"by": "team"}, "by"),
    ({"sl_formula": "best"}, "sl_formula"),
    ({"target_s": -1}, "target_s"),
    ({"queue": "billing"}, "queue"),
    ({"agent": "a9"}, "agent"),
    ({"queue": "sales", "agent": "a1"}, "agent"),
    ({"queue": "sales", "by": "agent"}, "by"),
    ({"interval": "15m", "since_ms": T0 - 60 * 24 * 60 * MIN}, "interval"),
])
def test_bad_arguments_name_themselves_and_the_fix(store, kwargs, argument):
    with pytest.raises(hist.BadArgument) as caught:
        report(store, **kwargs)
    assert caught.value.argument == argument
    assert caught.value.hint


def test_a_configured_queue_with_no_calls_has_no_rows_not_an_error(store):
    result = report(store, queue="billing", known_queues=("sales", "billing"))
    assert result["rows"] == []
    with pytest.raises(hist.BadArgument) as caught:
        report(store, queue="bills", known_queues=("sales", "billing"))
    assert caught.value.hint == "queues: billing, sales, support"


def test_times_people_write():
    now = int(datetime.datetime(2026, 11, 23, 15, 30, tzinfo=KATHMANDU).timestamp() * 1000)
    midnight = int(datetime.datetime(2026, 11, 23, tzinfo=KATHMANDU).timestamp() * 1000)
    assert hist.parse_time("today", "since", KATHMANDU, now) == midnight
    assert hist.parse_time("yesterday", "since", KATHMANDU, now) == midnight - 24 * 60 * MIN
    assert hist.parse_time("2026-11-23", "since", KATHMANDU, now) == midnight
    assert hist.parse_time("2026-11-23 09:00", "since", KATHMANDU, now) == T0
    assert hist.parse_time("2026-11-23T03:15:00+00:00", "since", KATHMANDU, now) == T0
    assert hist.parse_time("-2h", "since", KATHMANDU, now) == now - 120 * MIN
    assert hist.parse_time("now", "since", KATHMANDU, now) == now
    assert hist.parse_time(T0, "since", KATHMANDU, now) == T0
    for bad in ("23/11/2026", "soon", "-2w", ""):
        with pytest.raises(hist.BadArgument) as caught:
            hist.parse_time(bad, "since", KATHMANDU, now)
        assert caught.value.argument == "since"
    with pytest.raises(hist.BadArgument) as caught:
        hist.time_range("2026-11-24", "2026-11-23", KATHMANDU, now)
    assert caught.value.argument == "until"
    with pytest.raises(hist.BadArgument):
        hist.zone_named("Mars/Olympus")


# ---- CDRs ---------------------------------------------------------------------------------

def test_cdrs_newest_first_by_number_with_punctuation(store):
    assert [c["call_id"] for c in hist.search_cdrs(store)] == ["c4", "c3", "c2", "c1"]
    found = hist.search_cdrs(store, number="138-0013 8000")
    assert [c["call_id"] for c in found] == ["c4", "c1"]
    assert found[0]["duration_s"] == pytest.approx(185.0)
    assert found[0]["answered_after_s"] == pytest.approx(15.0)
    assert hist.search_cdrs(store, called="pstn", limit=1)[0]["call_id"] == "c4"
    assert [c["call_id"] for c in hist.search_cdrs(store, caller="02161234567")] == ["c3"]


def test_cdrs_by_queue_agent_disposition_and_range(store):
    assert [c["call_id"] for c in hist.search_cdrs(store, queue="sales", agent="a1")] == \
        ["c4", "c1"]
    assert [c["call_id"] for c in hist.search_cdrs(store, disposition="abandoned")] == ["c2"]
    assert [c["call_id"] for c in hist.search_cdrs(
        store, since_ms=T0 + 10 * MIN, until_ms=T0 + 30 * MIN)] == ["c3"]
    assert hist.search_cdrs(store, agent="nobody") == []
    rows = hist.search_cdrs(store, call_id="c1", zone=KATHMANDU)
    assert rows[0]["start"] == "2026-11-23T09:00:55+05:45"
    assert set(rows[0]) == set(hist.CDR_FIELDS)


@pytest.mark.parametrize("kwargs, argument", [
    ({"number": " "}, "number"), ({"caller": "12ab"}, "caller"),
    ({"limit": 0}, "limit"), ({"limit": "ten"}, "limit"), ({"queue": ""}, "queue")])
def test_bad_cdr_searches_are_refused(store, kwargs, argument):
    with pytest.raises(hist.BadArgument) as caught:
        hist.search_cdrs(store, **kwargs)
    assert caught.value.argument == argument


# ---- recordings ---------------------------------------------------------------------------

def test_recordings_list_reads_each_file_header(store, written):
    records = hist.list_recordings(store)
    assert [r["call_id"] for r in records] == ["c3", "c1"]
    gone, c1 = records
    assert not gone["exists"] and gone["problem"] == "the file is missing"
    assert c1["exists"] and c1["problem"] is None
    assert c1["duration_s"] == 1.0 and c1["channels"] == 1
    assert c1["size_bytes"] == (written.parent / "c1.wav").stat().st_size
    assert c1["format"] == "WAV PCM_16"


def test_one_recording_or_why_not(store):
    assert hist.find_recording(store, "c1")["path"].endswith("c1.wav")
    for call_id, words in (("c2", "was not recorded"), ("c9", "no call")):
        with pytest.raises(hist.BadArgument) as caught:
            hist.find_recording(store, call_id)
        assert words in str(caught.value) and caught.value.argument == "call_id"


# ---- read-only, beside a writer ------------------------------------------------------------

def test_the_history_never_writes_or_creates(tmp_path, written):
    with pytest.raises(StoreError, match="no database there"):
        hist.open_history(tmp_path / "appliance.db")
    assert not (tmp_path / "appliance.db").exists()
    with hist.open_history(written) as store:
        with pytest.raises(sqlite3.OperationalError, match="readonly"):
            store.append_event(T0, "x")


def test_a_reader_sees_committed_rows_while_the_box_holds_the_write_lock(tmp_path):
    path = tmp_path / "appliance.db"
    with Store.open(path) as writer:
        _call(writer, "done", "sales", "100", T0 + MIN, "a1", T0 + MIN + S, T0 + 2 * MIN,
              "answered")
        with writer.transaction():
            _call(writer, "pending", "sales", "200", T0 + 3 * MIN, None, None,
                  T0 + 4 * MIN, "abandoned")
            with hist.open_history(path) as reader:
                assert [c["call_id"] for c in hist.search_cdrs(reader)] == ["done"]
                rows = report(reader, interval="60m")["rows"]
                assert [(r["key"], r["offered"]) for r in rows] == [("sales", 1)]
        with hist.open_history(path) as reader:
            assert len(hist.search_cdrs(reader)) == 2


# ---- the API operations ----------------------------------------------------------------------

def test_history_operations_answer_from_the_box_database(written):
    box = types.SimpleNamespace(database=written)
    assert {"stats", "cdr.search", "recordings.list", "recordings.show"} <= \
        set(api.OPERATIONS)
    result = asyncio.run(api.call(box, "stats", {
        "since": "2026-11-23 09:00", "until": "2026-11-23 10:00", "zone": "Asia/Kathmandu",
        "interval": "day", "queue": "sales"}))
    assert [(r["key"], r["offered"], r["answered"]) for r in result["rows"]] == \
        [("sales", 3, 2)]
    cdrs = asyncio.run(api.call(box, "cdr.search", {"number": "13800138000", "limit": 1}))
    assert [c["call_id"] for c in cdrs] == ["c4"]
    one = asyncio.run(api.call(box, "recordings.show", {"call_id": "c1"}))
    assert one["duration_s"] == 1.0
    listed = asyncio.run(api.call(box, "recordings.list", {"limit": 1}))
    assert [r["call_id"] for r in listed] == ["c3"]
    with pytest.raises(api.ApiError) as caught:
        asyncio.run(api.call(box, "stats", {"interval": "17m"}))
    assert "interval" in caught.value.message and "15m" in caught.value.hint
    missing = types.SimpleNamespace(database=written.parent / "none.db")
    with pytest.raises(api.ApiError, match="no database there"):
        asyncio.run(api.call(missing, "cdr.search", {}))


def test_an_agent_asking_sees_their_own_history_only(written):
    from appliance.acd.permissions import Actor, Role

    box = types.SimpleNamespace(database=written)
    agent = Actor("a1", Role.AGENT)
    mine = asyncio.run(hist.cdr_operation(box, actor=agent))
    assert [c["call_id"] for c in mine] == ["c4", "c1"]
    rows = asyncio.run(hist.stats_operation(box, since=T0, until=T0 + 60 * MIN,
                                            by="agent", actor=agent))["rows"]
    assert {r["key"] for r in rows} == {"a1"}
    with pytest.raises(hist.BadArgument, match="own history"):
        asyncio.run(hist.cdr_operation(box, agent="a2", actor=agent))
    with pytest.raises(hist.BadArgument, match="not agent a1's"):
        asyncio.run(hist.recording_operation(box, call_id="c3", actor=agent))
    supervisor = Actor("s1", Role.SUPERVISOR, {"sales"})
    assert len(asyncio.run(hist.cdr_operation(box, actor=supervisor))) == 4
    queues = asyncio.run(hist.stats_operation(box, since=T0, until=T0 + 60 * MIN,
                                              actor=agent))["rows"]
    assert {r["key"] for r in queues} == {"sales", "support"}  # the wallboard's figures


# ---- a real box run ---------------------------------------------------------------------------

@pytest.fixture(scope="module")
def box_run(tmp_path_factory):
    """The demo's callers on the sample's board for 40 s of board time, virtual clock."""
    from appliance.config import load_config, sample_path
    from appliance.drivers.emulator import load_scenario
    from appliance.engine.box import Box
    from appliance.engine.demo import scenario_path

    folder = tmp_path_factory.mktemp("box")
    sample = load_config(sample_path())
    config = dataclasses.replace(sample, storage=dataclasses.replace(
        sample.storage, data_dir=folder, recordings_dir=folder / "recordings"))
    origin = int(datetime.datetime(2026, 11, 23, 10, 0, tzinfo=zoneinfo.ZoneInfo(
        "Asia/Shanghai")).timestamp() * 1000)  # a Monday in the sample's office hours
    box = Box(config, scenario=load_scenario(str(scenario_path())), virtual=True,
              until_s=40.0, origin_ms=origin)
    asyncio.run(box.run())
    return box.database, origin


def test_a_real_run_reads_back_as_kpis_cdrs_and_recordings(box_run):
    database, origin = box_run
    shanghai = zoneinfo.ZoneInfo("Asia/Shanghai")
    with hist.open_history(database) as store:
        queued = store.events(kind="queued")
        result = hist.kpi_report(store, since_ms=origin, until_ms=origin + 40 * S + 1,
                                 interval="15m", zone=shanghai, now=origin + 40 * S + 1)
        cdrs = hist.search_cdrs(store, limit=None, zone=shanghai)
        recordings = hist.list_recordings(store, limit=None)
    per_queue = {}
    for event in queued:
        per_queue[event.queue] = per_queue.get(event.queue, 0) + 1
    assert {r["key"]: r["offered"] for r in result["rows"]} == per_queue
    assert sum(r["answered"] for r in result["rows"]) >= 3
    assert all(r["start"].startswith("2026-11-23T10:00:00") for r in result["rows"])
    assert len(cdrs) >= 6 and [c["start_ms"] for c in cdrs] == \
        sorted((c["start_ms"] for c in cdrs), reverse=True)
    recorded = [c for c in cdrs if c["recording_path"]]
    assert [r["call_id"] for r in recordings] == [c["call_id"] for c in recorded]
    assert recordings and all(r["exists"] and r["problem"] is None and r["duration_s"] > 1
                              and r["channels"] in (1, 2) for r in recordings)
