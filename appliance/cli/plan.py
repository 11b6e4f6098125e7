"""`appliance plan`: staffing from the queueing formulas (appliance.acd.erlang), in milliseconds.

- ``appliance plan --calls-per-hour N --aht S --agents N``: how N agents do.
- ``appliance plan --calls-per-hour N --aht S --target-sl 0.8 --target-seconds 20``: the
  fewest agents for the target (also ``--target-asa S``, ``--target-abandon F``; several
  targets: the fewest meeting all), with a table of n-1, n, n+1.
- ``--patience S`` (mean, exponential; omitted: callers never hang up), ``--trunks N``
  (calls in the system, talking plus waiting; omitted: unlimited) pick the model: Erlang C,
  Erlang A, finite, finite with patience. ``--shrinkage F`` gives the agents to schedule,
  ``--hours H`` the totals, ``--json`` one JSON document.

A bad flag is one line on stderr naming the flag and the fix, exit 2 (appliance.cli.errors).
"""

import json
import math

import click

from appliance.cli.errors import UserError

LIMITS = (
    "The formulas assume Poisson calls at a steady rate, exponential talk times and "
    "patience, one FIFO queue and identical agents. They part ways with `appliance "
    "simulate` and with a real centre when talk times are not exponential (real ones are "
    "nearer log-normal: the waits change, the occupancy does not), calls come in peaks "
    "within the hour or as redials, callers hang up at announcements rather than at a "
    "constant rate, or skills, priorities and overflow split the queue.")

DEFINITIONS = (
    "service level = answered within the target / all offered calls (every abandoned and "
    "blocked call counts as not answered within the target, also one that hung up before "
    "it); waited, abandoned, blocked: of all offered calls; ASA: mean wait of the answered "
    "calls; occupancy: carried load / agents.")


def _fraction(ctx, param, value):
    if value is None:
        return value
    low_ok = param.name == "shrinkage"
    if math.isfinite(value) and (0 <= value < 1 if low_ok else 0 < value < 1):
        return value
    hint = f"; write {value / 100:g} for {value:g}%" if 1 < value < 100 else ""
    raise click.BadParameter(f"{value:g} is not a fraction in {'[0' if low_ok else '(0'}, 1)"
                             f"{hint}", ctx=ctx, param=param)


def _finite(ctx, param, value):
    if value is not None and not math.isfinite(value):
        raise click.BadParameter(f"{value} is not a finite number", ctx=ctx, param=param)
    return value


_POSITIVE = click.FloatRange(0, min_open=True)


@click.command(epilog="Definitions: " + DEFINITIONS + "\n\nLimits: " + LIMITS)
@click.option("--calls-per-hour", type=_POSITIVE, required=True, callback=_finite,
              help="Calls offered per hour (Poisson).")
@click.option("--aht", type=_POSITIVE, required=True, callback=_finite, metavar="SECONDS",
              help="Average handle time: talk + hold + wrap-up, seconds (exponential).")
@click.option("--agents", type=click.IntRange(1), default=None,
              help="Agents answering; or give a --target-* to solve for them.")
@click.option("--target-sl", type=float, default=None, callback=_fraction, metavar="FRACTION",
              help="Solve for the fewest agents answering this fraction of all offered "
                   "calls within --target-seconds (e.g. 0.8).")
@click.option("--target-seconds", type=click.FloatRange(0), default=20.0, show_default=True,
              callback=_finite, help="The service level's target answer time.")
@click.option("--target-asa", type=_POSITIVE, default=None, callback=_finite,
              metavar="SECONDS", help="Solve for an average speed of answer at most this.")
@click.option("--target-abandon", type=float, default=None, callback=_fraction,
              metavar="FRACTION",
              help="Solve for an abandon rate at most this (needs --patience).")
@click.option("--patience", type=_POSITIVE, default=None, callback=_finite,
              metavar="SECONDS",
              help="Callers' mean patience (exponential); omitted: they never hang up.")
@click.option("--trunks", type=click.IntRange(1), default=None,
              help="Calls the box can hold at once, talking plus waiting; a call beyond "
                   "them is blocked. Omitted: unlimited.")
@click.option("--shrinkage", type=float, default=0.0, callback=_fraction,
              show_default=True, metavar="FRACTION",
              help="Share of paid time not answering (breaks, training, absence): agents "
                   "to schedule = agents / (1 - shrinkage).")
@click.option("--hours", type=_POSITIVE, default=1.0, show_default=True, callback=_finite,
              help="Hours the totals (offered, answered, ...) are counted over.")
@click.option("--json", "as_json", is_flag=True, help="One JSON document instead of text.")
def plan(calls_per_hour, aht, agents, target_sl, target_seconds, target_asa, target_abandon,
         patience, trunks, shrinkage, hours, as_json):
    """Staffing from the formulas: Erlang C, Erlang A (with --patience), finite trunks (with
    --trunks). Give --agents to see how they do, or --target-sl / --target-asa /
    --target-abandon for the fewest agents that meet them."""
    from appliance.acd import erlang

    targets = {name: value for name, value in (("--target-sl", target_sl),
                                               ("--target-asa", target_asa),
                                               ("--target-abandon", target_abandon))
               if value is not None}
    if agents is not None and targets:
        raise UserError(f"--agents and {' and '.join(targets)} contradict each other: give "
                        "--agents to evaluate them, or a target to solve for agents")
    if agents is None and not targets:
        raise UserError("give --agents N to evaluate, or --target-sl 0.8 (with "
                        "--target-seconds 20) to solve for agents")
    if target_abandon is not None and patience is None:
        raise UserError("--target-abandon needs --patience SECONDS: without patience "
                        "nobody abandons")
    traffic = erlang.Traffic(calls_per_hour, aht, math.inf if patience is None else patience,
                             trunks)
    if agents is None:
        try:
            agents = erlang.agents_for(traffic, service_level=target_sl,
                                       target_seconds=target_seconds, asa=target_asa,
                                       abandon_rate=target_abandon)
        except ValueError as exc:
            where = f"--trunks {trunks}: " if trunks is not None else ""
            raise UserError(f"{where}{exc}") from None
    try:
        perf = erlang.evaluate(traffic, agents, target_seconds)
    except erlang.OverloadError:
        need = math.floor(traffic.load) + 1
        raise UserError(
            f"--agents {agents}: {traffic.load:.4g} Erlangs ({calls_per_hour:g} calls/h x "
            f"{aht:g} s) cannot be carried by {agents} agents; without --patience or "
            f"--trunks the queue grows without end. Give --agents {need} or more, or "
            "--patience SECONDS") from None
    rows = []
    if targets:
        for n in (agents - 1, agents, agents + 1):
            if n < 1:
                continue
            try:
                rows.append((n, erlang.evaluate(traffic, n, target_seconds)))
            except erlang.OverloadError:
                rows.append((n, None))
    busier = erlang.Traffic(calls_per_hour * 1.1, aht, traffic.patience, trunks)
    try:
        sensitivity = erlang.evaluate(busier, agents, target_seconds)
    except erlang.OverloadError:
        sensitivity = None
    notes = _notes(traffic, perf)
    report = _report(traffic, perf, shrinkage, hours, targets, rows, sensitivity, notes)
    if as_json:
        click.echo(json.dumps(report))
    else:
        _print_text(report, perf, rows, shrinkage)


def _notes(traffic, perf):
    """Where this case's figures deserve less trust than usual."""
    notes = []
    if perf.occupancy > 0.9:
        notes.append(f"occupancy {perf.occupancy:.0%}: waits change steeply with the load "
                     "here; a busy quarter-hour or longer talk times will miss the target")
    if traffic.trunks is not None and traffic.trunks < perf.agents:
        notes.append(f"{perf.agents - traffic.trunks} of {perf.agents} agents can never "
                     f"answer: only {traffic.trunks} trunks")
    if traffic.trunks is not None and perf.p_blocked > 0.01:
        notes.append(f"{perf.p_blocked:.1%} of calls get busy; real callers redial, which "
                     "adds calls the formula does not count")
    if perf.p_abandon > 0.05:
        notes.append(f"{perf.p_abandon:.1%} abandon; real callers call back, which adds "
                     "calls the formula does not count")
    return notes


def _report(traffic, perf, shrinkage, hours, targets, rows, sensitivity, notes):
    from appliance.acd import erlang

    offered = traffic.calls_per_hour * hours

    def figures(p):
        return {"agents": p.agents,
                "scheduled_agents": erlang.with_shrinkage(p.agents, shrinkage),
                "service_level": p.service_level, "asa": p.asa, "p_wait": p.p_wait,
                "abandon_rate": p.p_abandon, "blocking_rate": p.p_blocked,
                "occupancy": p.occupancy}

    out = {"model": perf.model.value, "kendall": perf.model.kendall,
           "calls_per_hour": traffic.calls_per_hour, "aht": traffic.handle_time,
           "patience": None if math.isinf(traffic.patience) else traffic.patience,
           "trunks": traffic.trunks, "shrinkage": shrinkage, "hours": hours,
           "load": traffic.load, "target_seconds": perf.target_seconds,
           **figures(perf),
           "offered": offered, "answered": offered * perf.p_answered,
           "abandoned": offered * perf.p_abandon, "blocked": offered * perf.p_blocked,
           "abandon_within_target_rate": perf.p_abandon_within_target,
           "service_level_excluding_short_abandons":
               perf.service_level_excluding_short_abandons,
           "definitions": DEFINITIONS, "limits": LIMITS, "notes": notes}
    if sensitivity is not None:
        out["with_10pct_more_calls"] = {"service_level": sensitivity.service_level,
                                        "asa": sensitivity.asa,
                                        "abandon_rate": sensitivity.p_abandon}
    else:
        out["with_10pct_more_calls"] = None
    if targets:
        out["targets"] = {"service_level": targets.get("--target-sl"),
                          "asa": targets.get("--target-asa"),
                          "abandon_rate": targets.get("--target-abandon")}
        out["table"] = [figures(p) if p is not None else {"agents": n, "overloaded": True}
                        for n, p in rows]
    return out


def _pct(x):
    return f"{100 * x:.1f}%"


def _print_text(report, perf, rows, shrinkage):
    echo = click.echo
    echo(f"model: {perf.model.title} ({perf.model.kendall})")
    echo(f"load: {report['load']:.2f} Erlangs offered ({report['calls_per_hour']:g} calls/h "
         f"x {report['aht']:g} s)"
         + (f", patience {report['patience']:g} s" if report["patience"] else "")
         + (f", {report['trunks']} trunks" if report["trunks"] else ""))
    scheduled = f", {report['scheduled_agents']} scheduled with {shrinkage:.0%} shrinkage" \
        if shrinkage else ""
    echo(f"agents: {perf.agents} answering{scheduled}")
    echo(f"service level: {_pct(perf.service_level)} answered within "
         f"{perf.target_seconds:g} s")
    echo(f"ASA: {perf.asa:.1f} s (answered calls)")
    echo(f"waited: {_pct(perf.p_wait)}  abandoned: {_pct(perf.p_abandon)}  "
         f"blocked: {_pct(perf.p_blocked)}")
    if report["patience"]:
        echo(f"abandoned within {perf.target_seconds:g} s: "
             f"{_pct(perf.p_abandon_within_target)}; service level leaving them out: "
             f"{_pct(perf.service_level_excluding_short_abandons)}")
    echo(f"occupancy: {_pct(perf.occupancy)}")
    hours = report["hours"]
    span = "per hour" if hours == 1 else f"over {hours:g} h"
    echo(f"{span}: offered {report['offered']:.1f}  answered {report['answered']:.1f}  "
         f"abandoned {report['abandoned']:.1f}  blocked {report['blocked']:.1f}")
    more = report["with_10pct_more_calls"]
    if more is None:
        echo("with 10% more calls: overloaded (the queue grows without end)")
    else:
        echo(f"with 10% more calls: service level {_pct(more['service_level'])}, "
             f"ASA {more['asa']:.1f} s"
             + (f", abandoned {_pct(more['abandon_rate'])}" if report["patience"] else ""))
    if rows:
        echo("")
        echo("agents  scheduled  service level  ASA s  waited  abandoned  blocked  occupancy")
        for row in report["table"]:
            mark = "*" if row["agents"] == perf.agents else " "
            if row.get("overloaded"):
                echo(f"{mark}{row['agents']:5d}  overloaded: the queue grows without end")
                continue
            echo(f"{mark}{row['agents']:5d}  {row['scheduled_agents']:9d}  "
                 f"{_pct(row['service_level']):>13}  {row['asa']:5.1f}  "
                 f"{_pct(row['p_wait']):>6}  {_pct(row['abandon_rate']):>9}  "
                 f"{_pct(row['blocking_rate']):>7}  {_pct(row['occupancy']):>9}")
    for note in report["notes"]:
        echo(f"note: {note}")
    echo(f"definitions: {DEFINITIONS}")
    echo(f"limits: {LIMITS}")
