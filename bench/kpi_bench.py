"""KPIs over a day of a 100-agent centre's event log: kpis.compute vs naive SQL per metric.

A day's log (about 20,000 calls in five queues, 08:00-20:00, agents with breaks, holds,
wrap-ups, abandons and overflows to voicemail) is generated into a real sqlite file through
`appliance.store.Store`. Ours: one read of the log (`Store.events` over
`kpis.read_window`) and `kpis.compute` per queue and per centre, 15-min intervals. The peer:
what a report written straight in SQL does, one query per metric per interval and queue
(joins on call_id, json_extract on data, a LEAD() window over the agent states). Before
timing, every figure of the peer is checked equal to ours (the `equal` column).
Times are CPU seconds of this process, best of the rounds in which the two take turns.
"""

import argparse
import heapq
import random
import sqlite3
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from machine import machine  # noqa: E402

from appliance.acd import kpis  # noqa: E402
from appliance.store import Store  # noqa: E402

DAY_MS = 1_795_392_000_000  # 2026-11-23T00:00:00Z
HOUR = 3600_000
QUEUES = ("sales", "support", "billing", "tech", "vip")
WEIGHTS = (0.3, 0.3, 0.15, 0.2, 0.05)
BREAKS = ((10 * HOUR, 15 * 60_000, "break"), (13 * HOUR, 30 * 60_000, "lunch"),
          (16 * HOUR, 15 * 60_000, "break"))
TARGET_S, SHORT_S, MAX_WAIT_MS = 20, 5, 300_000


def generate(calls=20_000, agents=100, seed=1):
    """The day's rows as (time_ms, kind, call_id, queue, agent, data), in log order."""
    rng = random.Random(seed)
    rows = []
    seq = 0

    def add(t, kind, call=None, queue=None, agent=None, **data):
        nonlocal seq
        rows.append((t, seq, kind, call, queue, agent, data))
        seq += 1

    open_ms, close_ms = DAY_MS + 8 * HOUR, DAY_MS + 20 * HOUR
    names = [f"a{i:03d}" for i in range(agents)]
    free = []
    breaks = {}
    for name in names:
        login = open_ms - rng.randint(0, 600_000)
        add(login, "agent_state", agent=name, status="ready", state="idle", reason=None,
            queues=list(QUEUES))
        free.append((login, name))
        breaks[name] = [(DAY_MS + at + rng.randint(-1800_000, 1800_000), length, reason)
                        for at, length, reason in BREAKS]
    heapq.heapify(free)
    rate = calls / (close_ms - open_ms)
    t = open_ms
    for n in range(calls):
        t += max(1, round(rng.expovariate(rate)))
        call, queue = f"c{n}", rng.choices(QUEUES, WEIGHTS)[0]
        add(t - 9000, "call_arrived", call, port="main:0")
        add(t - 8000, "call_answered", call, trunk="pstn")
        add(t, "queued", call, queue, priority=0, caller=f"1380000{n:05d}")
        free_at, agent = heapq.heappop(free)
        while breaks[agent] and breaks[agent][0][0] <= max(t, free_at):
            at, length, reason = breaks[agent].pop(0)
            start = max(at, free_at)
            add(start, "agent_state", agent=agent, status="not_ready", state="idle",
                reason=reason)
            add(start + length, "agent_state", agent=agent, status="ready", state="idle",
                reason=None)
            free_at = start + length
        ring = rng.randint(2000, 6000)
        start = max(t, free_at)
        patience = rng.expovariate(1 / 120_000)
        answer = start + ring
        if answer - t > min(patience, MAX_WAIT_MS):
            heapq.heappush(free, (free_at, agent))
            if patience < MAX_WAIT_MS:
                end = t + round(patience)
                add(end, "call_ended", call, queue, disposition="abandoned",
                    cause="far end: busy tone")
            else:
                add(t + MAX_WAIT_MS, "overflow", call, queue, why="max wait", to="voicemail")
                add(t + MAX_WAIT_MS + 30_000, "voicemail", call, mailbox=queue, ticks=1250)
                add(t + MAX_WAIT_MS + 31_000, "call_ended", call, queue,
                    disposition="voicemail", cause="voicemail")
            continue
        add(start, "offered", call, queue, agent, station=f"d{agent}")
        add(start, "agent_state", agent=agent, status="ready", state="reserved", reason=None)
        add(answer, "connected", call, queue, agent, station=f"d{agent}", first=True,
            waited_ticks=(answer - t) // 20, transfer=False)
        add(answer, "agent_state", agent=agent, status="ready", state="on_call", reason=None)
        talk = round(rng.lognormvariate(11.7, 0.6))  # median 120 s, mean about 145 s
        hold = 0
        if rng.random() < 0.2:
            hold = rng.randint(10_000, 60_000)
            at = answer + rng.randint(1000, talk)
            add(at, "hold", call, agent=agent)
            add(at + hold, "unhold", call, agent=agent)
        end = answer + talk + hold
        add(end, "call_ended", call, queue, agent, disposition="answered", cause="caller hung up")
        wrap = rng.randint(10_000, 40_000)
        add(end, "wrapup_started", call, queue, agent)
        add(end, "agent_state", agent=agent, status="ready", state="wrap_up", reason=None)
        add(end + wrap, "wrapup_ended", call, queue, agent)
        add(end + wrap, "agent_state", agent=agent, status="ready", state="idle", reason=None)
        heapq.heappush(free, (end + wrap, agent))
    for name in names:
        add(max(close_ms, max(r[0] for r in rows)) + 1000, "agent_state", agent=name,
            status="logged_out", state="idle", reason=None)
    rows.sort(key=lambda r: (r[0], r[1]))
    return [(r[0], r[2], r[3], r[4], r[5], r[6]) for r in rows]


def write(path, rows):
    with Store.open(path) as store, store.transaction():
        for t, kind, call, queue, agent, data in rows:
            store.append_event(t, kind, call, queue, agent, data)


# ---- ours ----------------------------------------------------------------------------------

def ours(path, since, until):
    with Store.open(path) as store:
        lo, hi = kpis.read_window(since, until)
        events = store.events(since=lo, until=hi)
    played = kpis.replay(events)  # once for both groupings
    queues = kpis.compute(played, since_ms=since, until_ms=until, interval="15min",
                          target_s=TARGET_S, short_abandon_s=SHORT_S, by=("queue",))
    centre = kpis.compute(played, since_ms=since, until_ms=until, interval="15min",
                          target_s=TARGET_S, short_abandon_s=SHORT_S, by=())
    return events, queues, centre


# ---- the peer: one SQL query per metric per interval and queue -----------------------------

_WAIT = "c.time_ms - q.time_ms"
_PEER_QUEUE = {
    "offered": "SELECT count(*) FROM events q WHERE q.kind = 'queued' AND q.queue = :queue "
               "AND q.time_ms >= :s AND q.time_ms < :e",
    "answered": f"SELECT count(*), coalesce(sum({_WAIT}), 0), "
                f"coalesce(sum({_WAIT} <= :target), 0), max({_WAIT}) FROM events q "
                "JOIN events c ON c.call_id = q.call_id AND c.kind = 'connected' "
                "WHERE q.kind = 'queued' AND q.queue = :queue "
                "AND q.time_ms >= :s AND q.time_ms < :e",
    "abandoned": f"SELECT count(*), coalesce(sum({_WAIT} <= :short), 0), max({_WAIT}) "
                 "FROM events q JOIN events c ON c.call_id = q.call_id "
                 "AND c.kind = 'call_ended' "
                 "AND json_extract(c.data, '$.disposition') = 'abandoned' "
                 "WHERE q.kind = 'queued' AND q.queue = :queue "
                 "AND q.time_ms >= :s AND q.time_ms < :e",
    "overflowed": f"SELECT count(*), max({_WAIT}) FROM events q JOIN events c "
                  "ON c.call_id = q.call_id AND c.kind = 'overflow' "
                  "WHERE q.kind = 'queued' AND q.queue = :queue "
                  "AND q.time_ms >= :s AND q.time_ms < :e",
    "waiting": "SELECT count(*) FROM events q WHERE q.kind = 'queued' AND q.queue = :queue "
               "AND q.time_ms >= :s AND q.time_ms < :e AND NOT EXISTS (SELECT 1 FROM events c "
               "WHERE c.call_id = q.call_id AND c.kind IN ('connected', 'overflow', "
               "'call_ended', 'call_closed_on_restart'))",
    "legs": "SELECT count(*), coalesce(sum(e.time_ms - c.time_ms), 0) FROM events o "
            "JOIN events c ON c.call_id = o.call_id AND c.kind = 'connected' "
            "AND c.agent = o.agent "
            "JOIN events e ON e.call_id = o.call_id AND e.kind = 'call_ended' "
            "WHERE o.kind = 'offered' AND o.queue = :queue "
            "AND o.time_ms >= :s AND o.time_ms < :e",
    "hold": "SELECT coalesce(sum(u.time_ms - h.time_ms), 0) FROM events o "
            "JOIN events h ON h.call_id = o.call_id AND h.kind = 'hold' "
            "JOIN events u ON u.call_id = o.call_id AND u.kind = 'unhold' "
            "WHERE o.kind = 'offered' AND o.queue = :queue "
            "AND o.time_ms >= :s AND o.time_ms < :e",
    "wrap": "SELECT coalesce(sum(w2.time_ms - w1.time_ms), 0) FROM events o "
            "JOIN events w1 ON w1.call_id = o.call_id AND w1.kind = 'wrapup_started' "
            "AND w1.agent = o.agent "
            "JOIN events w2 ON w2.call_id = o.call_id AND w2.kind = 'wrapup_ended' "
            "AND w2.agent = o.agent "
            "WHERE o.kind = 'offered' AND o.queue = :queue "
            "AND o.time_ms >= :s AND o.time_ms < :e",
}
_SPANS = ("WITH s AS (SELECT time_ms AS t0, LEAD(time_ms) OVER (PARTITION BY agent "
          "ORDER BY time_ms, id) AS t1, json_extract(data, '$.status') AS status, "
          "json_extract(data, '$.state') AS state, json_extract(data, '$.reason') AS reason "
          "FROM events WHERE kind = 'agent_state') ")
_OVERLAP = "max(0, min(coalesce(t1, :until), :e) - max(t0, :s))"
_PEER_CENTRE = {
    "logged_in": _SPANS + f"SELECT coalesce(sum({_OVERLAP}), 0) FROM s "
                          "WHERE status != 'logged_out'",
    "busy": _SPANS + f"SELECT coalesce(sum({_OVERLAP}), 0) FROM s "
                     "WHERE status != 'logged_out' AND state IN ('on_call', 'wrap_up')",
    "not_ready": _SPANS + f"SELECT coalesce(reason, ''), sum({_OVERLAP}) FROM s "
                          "WHERE status = 'not_ready' AND state NOT IN ('on_call', 'wrap_up') "
                          "GROUP BY reason",
}


def peer(path, since, until):
    """(figures by (interval start, queue), figures by interval start, CPU s of the call
    queries, CPU s of the agent-state queries)."""
    conn = sqlite3.connect(path)
    call_s = agent_s = 0.0
    try:
        bounds = kpis.interval_bounds(since, until, "15min")
        queues = conn.execute("SELECT DISTINCT queue FROM events WHERE kind = 'queued' "
                              "AND time_ms >= ? AND time_ms < ?", (since, until)).fetchall()
        by_queue, centre = {}, {}
        for s, e in zip(bounds, bounds[1:]):
            args = {"s": s, "e": e, "until": until, "target": TARGET_S * 1000,
                    "short": SHORT_S * 1000}
            t0 = time.process_time()
            for (queue,) in queues:
                args["queue"] = queue
                by_queue[(s, queue)] = {name: conn.execute(sql, args).fetchall()
                                        for name, sql in _PEER_QUEUE.items()}
            t1 = time.process_time()
            centre[s] = {name: conn.execute(sql, args).fetchall()
                         for name, sql in _PEER_CENTRE.items()}
            call_s, agent_s = call_s + t1 - t0, agent_s + time.process_time() - t1
        return by_queue, centre, call_s, agent_s
    finally:
        conn.close()


def mismatches(our_queues, our_centre, peer_result):
    """Every figure where the peer and ours differ (expected: none)."""
    by_queue, centre = peer_result[:2]
    bad = []
    for row in our_queues:
        p = by_queue.get((row.start_ms, row.queue))
        if p is None:
            if row.offered or row.handled:
                bad.append((row.start_ms, row.queue, "missing in the peer"))
            continue
        answered, wait_sum, within, longest_a = p["answered"][0]
        abandoned, short, longest_b = p["abandoned"][0]
        overflowed, longest_o = p["overflowed"][0]
        handled, leg_ms = p["legs"][0]
        hold = p["hold"][0][0]
        longest = max((w for w in (longest_a, longest_b, longest_o) if w is not None),
                      default=None)
        want = {"offered": p["offered"][0][0], "answered": answered, "abandoned": abandoned,
                "short_abandons": short, "overflowed": overflowed,
                "waiting": p["waiting"][0][0], "answered_within_target": within,
                "asa_ms": wait_sum / answered if answered else None,
                "longest_wait_ms": longest, "handled": handled, "hold_ms": hold,
                "talk_ms": leg_ms - hold, "wrapup_ms": p["wrap"][0][0]}
        for name, value in want.items():
            if getattr(row, name) != value:
                bad.append((row.start_ms, row.queue, name, getattr(row, name), value))
    for row in our_centre:
        p = centre[row.start_ms]
        want = {"logged_in_ms": p["logged_in"][0][0], "busy_ms": p["busy"][0][0],
                "not_ready_ms": {r: ms for r, ms in p["not_ready"] if ms}}
        for name, value in want.items():
            if getattr(row, name) != value:
                bad.append((row.start_ms, None, name, getattr(row, name), value))
    return bad


def run(calls=20_000, agents=100, rounds=3, seed=1, folder=None):
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(folder or tmp) / "kpi-bench.db"
        if path.exists():
            path.unlink()
        rows = generate(calls, agents, seed)
        start = time.perf_counter()
        write(path, rows)
        write_s = time.perf_counter() - start
        since, until = DAY_MS, DAY_MS + 24 * HOUR
        events, queues, centre = ours(path, since, until)
        # the peer runs once (minutes at full size): its checked run is its timed run
        checked = peer(path, since, until)
        bad = mismatches(queues, centre, checked)
        peer_call_s, peer_agent_s = checked[2], checked[3]
        best_ours = best_read = best_compute = float("inf")
        for _ in range(rounds):
            t0 = time.process_time()
            ours(path, since, until)
            best_ours = min(best_ours, time.process_time() - t0)
            t0 = time.process_time()
            with Store.open(path) as store:
                lo, hi = kpis.read_window(since, until)
                store.events(since=lo, until=hi)
            best_read = min(best_read, time.process_time() - t0)
            t0 = time.process_time()
            kpis.compute(events, since_ms=since, until_ms=until, by=("queue",))
            best_compute = min(best_compute, time.process_time() - t0)
        with sqlite3.connect(path) as conn:
            plan = " ".join(r[-1] for r in conn.execute(
                "EXPLAIN QUERY PLAN SELECT * FROM events WHERE time_ms >= ? AND time_ms < ? "
                "ORDER BY time_ms, id", (since, until)))
        centre_day = kpis.compute(events, since_ms=since, until_ms=until, interval="day",
                                  by=())[0]
        return {
            "calls": calls, "agents": agents, "rows": len(rows), "write_s": write_s,
            "intervals": len(centre), "queues": len({r.queue for r in queues}),
            "ours_s": best_ours, "read_s": best_read, "compute_s": best_compute,
            "peer_s": peer_call_s + peer_agent_s, "peer_call_s": peer_call_s,
            "peer_agent_s": peer_agent_s, "ratio": (peer_call_s + peer_agent_s) / best_ours,
            "call_ratio": peer_call_s / best_ours, "mismatches": len(bad),
            "first_mismatches": bad[:5], "read_plan": plan,
            "offered": centre_day.offered, "answered": centre_day.answered,
            "abandoned": centre_day.abandoned, "overflowed": centre_day.overflowed,
            "service_level": centre_day.service_level, "asa_s": centre_day.asa_ms / 1000,
            "aht_s": centre_day.aht_ms / 1000, "occupancy": centre_day.occupancy,
        }


def markdown(r, m, command):
    return "\n".join([
        "## KPIs from the event log: kpis.compute vs SQL per metric (bench/kpi_bench.py)",
        "",
        f"- Date: {m['date']}; {m['cpu']}, {m['cores']} cores (shared with other jobs); "
        f"Python {m['python']}, SQLite {sqlite3.sqlite_version}",
        f"- Command: `{command}`",
        f"- Log: one day of a {r['agents']}-agent centre, {r['calls']:,} calls in "
        f"{r['queues']} queues from 08:00 to 20:00 ({r['rows']:,} event rows written through "
        f"Store.append_event in one transaction, {r['write_s']:.1f} s wall). The day's "
        f"figures: offered {r['offered']:,}, answered {r['answered']:,}, abandoned "
        f"{r['abandoned']:,}, overflowed {r['overflowed']:,}, service level "
        f"{r['service_level']:.3f} (20 s, over offered), ASA {r['asa_s']:.1f} s, AHT "
        f"{r['aht_s']:.1f} s, occupancy {r['occupancy']:.3f}.",
        f"- Report: {r['intervals']} intervals of 15 min x {r['queues']} queues (every call "
        "KPI) plus the centre's agent times per interval. Ours: one `Store.events` read of "
        "`read_window`, one `replay`, `compute` by queue and for the centre. Peer: one SQL query "
        "per metric per interval and queue (joins on call_id, json_extract, LEAD() over the "
        "agent states), the SQL a report would otherwise hold. CPU s of this process; ours "
        "best of the rounds, the peer's one checked run (it takes minutes).",
        "",
        "| ours total (s) | of it: read + JSON (s) | one compute from the rows (s) | peer: call KPIs "
        "(s) | peer: agent times (s) | peer / ours | peer's call KPIs alone / ours "
        "| figures equal |",
        "|---|---|---|---|---|---|---|---|",
        f"| {r['ours_s']:.2f} | {r['read_s']:.2f} | {r['compute_s']:.2f} | "
        f"{r['peer_call_s']:.2f} | {r['peer_agent_s']:.2f} | {r['ratio']:.1f} | "
        f"{r['call_ratio']:.1f} | "
        f"{'all' if r['mismatches'] == 0 else str(r['mismatches']) + ' differ'} |",
        "",
        "The peer's agent times recompute a LEAD() window over every agent_state row for "
        "each interval; its call KPIs are index lookups (events_queue, events_call) per "
        f"interval and queue, and alone they take {r['call_ratio']:.1f}x our time: SQL "
        "touches only the rows each metric needs, while ours reads and JSON-decodes every "
        f"row of the window through Store.events ({r['read_s']:.2f} s of our "
        f"{r['ours_s']:.2f} s). A report of call KPIs only, on a box where the read "
        "matters, could read `kind IN (...)` or raw tuples; the whole report (agent times "
        "included) is where one replay wins."
        "",
        f"The read is a range scan of the existing `events_time` index (query plan: "
        f"{r['read_plan']}), so no new index or migration is needed for it.",
    ])


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=20_000)
    parser.add_argument("--agents", type=int, default=100)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--output", help="append the markdown section to this file")
    args = parser.parse_args(argv)
    r = run(args.calls, args.agents, args.rounds)
    command = "python bench/kpi_bench.py" + "".join(
        f" --{name} {value}" for name, value, default in
        (("calls", args.calls, 20_000), ("agents", args.agents, 100),
         ("rounds", args.rounds, 3)) if value != default)
    text = markdown(r, machine(), command)
    print(text)
    if r["mismatches"]:
        print("first mismatches:", r["first_mismatches"], file=sys.stderr)
    if args.output:
        with open(args.output, "a") as f:
            f.write("\n" + text + "\n")


if __name__ == "__main__":
    main()
