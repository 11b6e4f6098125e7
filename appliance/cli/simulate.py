"""`appliance simulate`: the real switchboard and ACD in virtual time with synthetic callers
(appliance.engine.simulation), the same question as `appliance plan` answered by running
the box instead of the formulas.

- ``appliance simulate --calls-per-hour N --aht S --agents N``: the KPIs of N agents.
- ``--target-sl 0.8 --target-seconds 20`` instead of ``--agents``: the fewest agents
  meeting the target, searched from the Erlang answer (`appliance plan`) up or down, with
  the table of every number of agents run.
- ``--patience S`` (mean, exponential), ``--trunks N`` (lines; a call finding them all busy
  is blocked), ``--talk-distribution`` exponential | constant | lognormal (``--talk-cv``),
  ``--ring-delay``, ``--wrap-up``, ``--hours``, ``--seed``, ``--json`` (the same seed gives
  the same JSON, byte for byte).
- ``--config FILE`` runs a real configuration: its queues, agents (each at their station)
  and IVR, callers entering at its first inbound trunk group.
- ``--with-audio``: the same traffic through the whole box on the emulated board with the
  DSP, in virtual time (much slower; an integration test of the event-driven run).

A bad flag is one line on stderr naming the flag and the fix, exit 2 (appliance.cli.errors).
"""

import json
import math
import sys

import click

from appliance.cli.errors import UserError
from appliance.cli.plan import _POSITIVE, _finite, _fraction

SWEEP_LIMIT = 30  # agents tried beyond the formula's answer before giving up


@click.command()
@click.option("--calls-per-hour", type=_POSITIVE, required=True, callback=_finite,
              help="Calls offered per hour (Poisson arrivals).")
@click.option("--aht", type=_POSITIVE, required=True, callback=_finite, metavar="SECONDS",
              help="Average handle time: ring delay + talk + wrap-up, seconds.")
@click.option("--agents", type=click.IntRange(1), default=None,
              help="Agents logged in and ready; or --target-sl to solve for them.")
@click.option("--target-sl", type=float, default=None, callback=_fraction, metavar="FRACTION",
              help="Find the fewest agents answering this fraction of all offered calls "
                   "within --target-seconds (e.g. 0.8).")
@click.option("--target-seconds", type=click.FloatRange(0), default=20.0, show_default=True,
              callback=_finite, help="The service level's target answer time.")
@click.option("--patience", type=_POSITIVE, default=None, callback=_finite,
              metavar="SECONDS",
              help="Callers' mean patience (exponential); omitted: they never hang up.")
@click.option("--trunks", type=click.IntRange(1), default=None,
              help="Lines: calls the box holds at once, talking plus waiting; a call "
                   "finding every line busy is blocked. Omitted: unlimited.")
@click.option("--talk-distribution", type=click.Choice(["exponential", "constant",
                                                         "lognormal"]),
              default="exponential", show_default=True, help="Talk times' distribution.")
@click.option("--talk-cv", type=_POSITIVE, default=1.0, show_default=True, callback=_finite,
              help="Lognormal talk times: standard deviation / mean.")
@click.option("--ring-delay", type=click.FloatRange(0), default=2.0, show_default=True,
              callback=_finite, metavar="SECONDS",
              help="The agent answers this long after the phone starts ringing (part of "
                   "the wait and of the handle time).")
@click.option("--wrap-up", type=click.IntRange(0), default=0, show_default=True,
              metavar="SECONDS", help="After-call work per call (part of the handle time).")
@click.option("--caller-ends", type=click.FloatRange(0, 1), default=0.0, show_default=True,
              metavar="FRACTION",
              help="Share of answered calls the caller ends by hanging up (the agent then "
                   "hears busy tone and hangs up); the agent ends the rest.")
@click.option("--hours", type=_POSITIVE, default=None, callback=_finite,
              help="Simulated hours measured (after the warm-up) [default: 100; 0.25 with "
                   "--with-audio].")
@click.option("--warmup-hours", type=click.FloatRange(0), default=None, callback=_finite,
              help="Hours simulated and discarded before measuring, per replication "
                   "[default: 50 handle times, at least 1].")
@click.option("--seed", type=int, default=0, show_default=True,
              help="Random seed: the same seed gives the same result.")
@click.option("--replications", type=click.IntRange(1, 64), default=2, show_default=True,
              help="Independent runs the hours are split into (their batches give the "
                   "confidence interval).")
@click.option("--workers", type=click.IntRange(1, 64), default=2, show_default=True,
              help="Processes running the replications (the result does not depend on it).")
@click.option("--config", "config_path", type=click.Path(dir_okay=False), default=None,
              help="Run this configuration's queues, agents and IVR instead of one queue "
                   "of --agents agents.")
@click.option("--press", default="", metavar="DIGITS",
              help="With --config: digits each caller presses, one a second from the answer "
                   "(to get through the IVR's menus).")
@click.option("--with-audio", is_flag=True,
              help="Run the same traffic through the box on the emulated board with the "
                   "DSP (slow; at most 64 agents and 64 lines).")
@click.option("--json", "as_json", is_flag=True, help="One JSON document instead of text.")
def simulate(calls_per_hour, aht, agents, target_sl, target_seconds, patience, trunks,
             talk_distribution, talk_cv, ring_delay, wrap_up, caller_ends, hours, warmup_hours,
             seed, replications, workers, config_path, press, with_audio, as_json):
    """Capacity simulation: the box's real ACD and call handling in virtual time with
    Poisson callers. Give --agents to see how they do, or --target-sl for the fewest agents
    that meet it."""
    from appliance.acd import erlang
    from appliance.engine import simulation
    from appliance.engine.traffic import Traffic

    if hours is None:
        hours = 0.25 if with_audio else 100.0
    config = None
    if config_path is not None:
        from appliance.config import load_config
        config = load_config(config_path)  # a ConfigError becomes one UserError
        for flag, value in (("--agents", agents), ("--trunks", trunks),
                            ("--target-sl", target_sl)):
            if value is not None:
                raise UserError(f"--config and {flag} contradict each other: the config's "
                                "agents and lines are simulated; drop " + flag)
        if with_audio:
            raise UserError("--with-audio runs the synthetic centre only; drop --config "
                            "(or --with-audio)")
    elif press:
        raise UserError("--press needs --config FILE: the synthetic centre has no IVR menu")
    if agents is not None and target_sl is not None:
        raise UserError("--agents and --target-sl contradict each other: give --agents to "
                        "evaluate them, or --target-sl to solve for agents")
    if config is None and agents is None and target_sl is None:
        raise UserError("give --agents N to evaluate, or --target-sl 0.8 (with "
                        "--target-seconds 20) to solve for agents")
    if ring_delay >= 300:
        raise click.BadParameter(f"{ring_delay:g} s: an agent who lets the phone ring that "
                                 "long is not answering; give a few seconds",
                                 param_hint="--ring-delay")
    try:
        traffic = Traffic(calls_per_hour, aht, talk=talk_distribution, talk_cv=talk_cv,
                          patience=patience, ring_delay_s=ring_delay, wrap_up_s=wrap_up,
                          caller_ends=caller_ends)
    except ValueError as exc:
        raise UserError(f"--aht: {exc}") from None
    formula_traffic = erlang.Traffic(calls_per_hour, aht,
                                     math.inf if patience is None else patience, trunks)
    if with_audio and (agents or 0) > simulation.BOARD_PORTS:
        raise UserError(f"--with-audio: at most {simulation.BOARD_PORTS} agents (one "
                        "emulated board of stations); drop --with-audio for more")
    options = dict(trunks=trunks, hours=hours, seed=seed, warmup_hours=warmup_hours,
                   target_seconds=target_seconds, replications=replications, workers=workers)
    bar = _Progress(enabled=not as_json and sys.stderr.isatty())

    def run(n, label):
        if config is None and patience is None and trunks is None \
                and formula_traffic.load >= n:
            return None  # the queue grows without end: nothing to measure
        with bar.phase(label) as progress:
            if with_audio:
                try:
                    return simulation.simulate_with_audio(
                        traffic, agents=n, trunks=trunks, hours=hours, seed=seed,
                        target_seconds=target_seconds, progress=progress)
                except ValueError as exc:
                    raise UserError(f"--with-audio: {exc}") from None
            try:
                return simulation.simulate(traffic, agents=n, config=config, press=press,
                                           progress=progress, **options)
            except ValueError as exc:
                flag = "--config" if config is not None else "--press"
                raise UserError(f"{flag}: {exc}") from None

    if config is not None:
        report = run(None, "simulating")
        report["formula"] = None
        rows = []
    elif agents is not None:
        report = run(agents, f"{agents} agents")
        if report is None:
            need = math.floor(formula_traffic.load) + 1
            raise UserError(
                f"--agents {agents}: {formula_traffic.load:.4g} Erlangs ({calls_per_hour:g} "
                f"calls/h x {aht:g} s) cannot be carried by {agents} agents; without "
                f"--patience or --trunks the queue grows without end. Give --agents {need} "
                "or more, or --patience SECONDS")
        report["formula"] = _formula(erlang, formula_traffic, agents, target_seconds)
        rows = []
    else:
        report, rows = _sweep(erlang, formula_traffic, target_sl, target_seconds, run, trunks)
        report["formula"] = _formula(erlang, formula_traffic, report["agents"],
                                     target_seconds)
    if rows:
        report["target_sl"] = target_sl
        report["table"] = [_row(r) for r in rows]
    report["with_audio"] = bool(with_audio)
    report["notes"] = _notes(report)
    if as_json:
        click.echo(json.dumps(report))
    else:
        _print_text(report)


def _sweep(erlang, formula_traffic, target_sl, target_seconds, run, trunks):
    """The fewest agents whose simulated service level reaches `target_sl`: from the
    formula's answer, down while the target is still met, or up until it is."""
    try:
        start = erlang.agents_for(formula_traffic, service_level=target_sl,
                                  target_seconds=target_seconds)
    except ValueError as exc:
        where = f"--trunks {trunks}: " if trunks is not None else ""
        raise UserError(f"{where}{exc}") from None
    results = {}

    def meets(n):
        if n not in results:
            results[n] = run(n, f"{n} agents")
        r = results[n]
        return r is not None and r["service_level"] >= target_sl

    n = start
    if meets(n):
        while n > 1 and meets(n - 1):
            n -= 1
    else:
        while not meets(n):
            n += 1
            if n > start + SWEEP_LIMIT:
                raise UserError(f"--target-sl {target_sl:g}: not met by up to {n - 1} "
                                "agents in the simulation" + (
                                    f"; with --trunks {trunks} calls are blocked: add "
                                    "trunks" if trunks is not None else ""))
    rows = [results[k] if results[k] is not None else {"agents": k, "overloaded": True}
            for k in sorted(results)]
    return dict(results[n]), rows


def _formula(erlang, traffic, agents, target_seconds):
    try:
        p = erlang.evaluate(traffic, agents, target_seconds)
    except erlang.OverloadError:
        return None
    return {"model": p.model.value, "service_level": p.service_level, "asa": p.asa,
            "p_wait": p.p_wait, "abandon_rate": p.p_abandon, "blocking_rate": p.p_blocked,
            "occupancy": p.occupancy}


_ROW_KEYS = ("agents", "service_level", "service_level_ci", "asa", "p_wait", "abandon_rate",
             "blocking_rate", "occupancy", "offered")


def _row(r):
    return {k: r.get(k) for k in _ROW_KEYS} if not r.get("overloaded") else dict(r)


def _notes(report):
    notes = []
    formula = report.get("formula")
    low, high = report["service_level_ci"]
    if formula is not None and low is not None and not low <= formula["service_level"] <= high:
        notes.append(
            f"the formula ({formula['model']}) gives service level "
            f"{formula['service_level']:.1%}, outside the simulation's interval: its "
            "assumptions (exponential handle times, answer at once, no ring delay, FIFO, "
            "identical agents) do not hold here")
    if low is not None and high - low > 0.05:
        notes.append(f"the service level's interval is {high - low:.1%} wide; give more "
                     "--hours for a tighter figure")
    if report["occupancy"] > 0.9:
        notes.append(f"occupancy {report['occupancy']:.0%}: waits change steeply with the "
                     "load here")
    return notes


class _Progress:
    """A click progress bar on stderr per run (only when stderr is a terminal)."""

    def __init__(self, enabled):
        self.enabled = enabled

    def phase(self, label):
        import contextlib

        if not self.enabled:
            return contextlib.nullcontext(None)

        @contextlib.contextmanager
        def bar():
            with click.progressbar(length=1000, label=label, file=sys.stderr) as b:
                done = [0]

                def progress(fraction):
                    step = int(fraction * 1000) - done[0]
                    if step > 0:
                        b.update(step)
                        done[0] += step
                yield progress
        return bar()


def _pct(x):
    return "-" if x is None else f"{100 * x:.1f}%"


def _interval(ci, pct=True):
    if ci is None or ci[0] is None:
        return "n/a"
    return f"{_pct(ci[0])} .. {_pct(ci[1])}" if pct else f"{ci[0]:.1f} .. {ci[1]:.1f}"


def _print_text(r):
    echo = click.echo
    what = "with audio (the box on the emulated board)" if r["with_audio"] else \
        "event-driven"
    echo(f"simulation ({what}): {r['calls_per_hour']:g} calls/h x {r['aht']:g} s "
         f"= {r['load']:.2f} Erlangs, talk {r['talk_distribution']}"
         + (f", patience {r['patience']:g} s" if r["patience"] else "")
         + (f", {r['trunks']} trunks" if r["trunks"] else ""))
    echo(f"agents: {r['agents']}  (ring delay {r['ring_delay_s']:g} s, wrap-up "
         f"{r['wrap_up_s']} s)")
    echo(f"service level: {_pct(r['service_level'])} answered within "
         f"{r['target_seconds']:g} s  (95% CI {_interval(r['service_level_ci'])})")
    echo(f"ASA: {r['asa']:.1f} s (answered calls; 95% CI "
         f"{_interval(r['asa_ci'], pct=False)} s)")
    echo(f"waited: {_pct(r['p_wait'])}  abandoned: {_pct(r['abandon_rate'])}  "
         f"blocked: {_pct(r['blocking_rate'])}  occupancy: {_pct(r['occupancy'])}")
    echo(f"over {r['hours']:g} h: offered {r['offered']}  answered {r['answered']}  "
         f"abandoned {r['abandoned']}  blocked {r['blocked']}"
         + (f"  other {r['other']}" if r["other"] else ""))
    formula = r.get("formula")
    if formula is not None:
        echo(f"formula ({formula['model']}): service level {_pct(formula['service_level'])}, "
             f"ASA {formula['asa']:.1f} s, waited {_pct(formula['p_wait'])}, abandoned "
             f"{_pct(formula['abandon_rate'])}, blocked {_pct(formula['blocking_rate'])}, "
             f"occupancy {_pct(formula['occupancy'])}")
    if r.get("table"):
        echo("")
        echo(f"agents  service level  95% CI              ASA s  waited  abandoned  "
             f"blocked  occupancy   (target {_pct(r['target_sl'])})")
        for row in r["table"]:
            mark = "*" if row["agents"] == r["agents"] else " "
            if row.get("overloaded"):
                echo(f"{mark}{row['agents']:5d}  overloaded: the queue grows without end")
                continue
            echo(f"{mark}{row['agents']:5d}  {_pct(row['service_level']):>13}  "
                 f"{_interval(row['service_level_ci']):<18}  {row['asa']:5.1f}  "
                 f"{_pct(row['p_wait']):>6}  {_pct(row['abandon_rate']):>9}  "
                 f"{_pct(row['blocking_rate']):>7}  {_pct(row['occupancy']):>9}")
    for note in r["notes"]:
        echo(f"note: {note}")
    echo(f"confidence intervals: {r['ci_method']}")
    echo(f"definitions: {r['definitions']}")
