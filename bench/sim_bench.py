"""Capacity simulation benchmark: simulated calls per wall-clock second, event-driven and
with audio, for a 50-agent centre; and the issue's reference run.

    python bench/sim_bench.py [--hours 20] [--audio-hours 0.02] [--reference-hours 1350]
                              [--output bench/RESULTS.md]

Centre: 50 agents, 2,550 calls/h of 60 s handle time (42.5 Erlangs, occupancy about 84 %),
exponential talk times, exponential patience of mean 60 s, unlimited lines, 2 s ring delay.
The same traffic (same seed) runs
- event-driven (`appliance.engine.simulation.simulate`): the real switchboard and ACD, the
  clock jumping from event to event; `--hours` simulated, 2 replications, first in this
  process (workers=1: calls per wall second and per CPU second of this process), then in
  2 forked workers (calls per wall second);
- with audio (`simulate_with_audio`): the same callers through the whole box on emulated
  boards in virtual time (every port's audio through the DSP each 20 ms tick), for
  `--audio-hours` plus the time for the last call to end.
Figures are simulated calls (arrivals, warm-ups included) per second. The reference run is
the issue's target: `--reference-hours` of a 100-call/hour centre (7 agents, 180 s) in
under 15 s (2 workers). The machine is shared with other jobs: the load average is printed
with the figures.
"""

import argparse
import json
import os
import resource
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from appliance.engine.simulation import simulate, simulate_with_audio  # noqa: E402
from appliance.engine.traffic import Traffic  # noqa: E402
from machine import machine  # noqa: E402

AGENTS = 50


def centre(agents):
    """The bench's traffic for `agents` agents: 51 calls/h per agent of 60 s (0.85 Erlangs
    per agent), patience 60 s, ring delay 2 s."""
    return Traffic(51.0 * agents, 60.0, patience=60.0, ring_delay_s=2.0)


REFERENCE = Traffic(100.0, 180.0, ring_delay_s=2.0)


def children_cpu():
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def timed(fn):
    """(result, wall s, CPU s of this process, CPU s of the worker processes it joined)."""
    wall, cpu, kids = time.perf_counter(), time.process_time(), children_cpu()
    result = fn()
    return (result, time.perf_counter() - wall, time.process_time() - cpu,
            children_cpu() - kids)


def run(hours=20.0, audio_hours=0.02, reference_hours=1350.0, agents=AGENTS):
    traffic = centre(agents)
    out = {"machine": machine(), "load_before": os.getloadavg()[0], "agents": agents,
           "traffic": traffic}
    one, wall1, cpu1, _ = timed(lambda: simulate(traffic, agents=agents, hours=hours,
                                                 seed=1, workers=1))
    two, wall2, _, kids2 = timed(lambda: simulate(traffic, agents=agents, hours=hours,
                                                  seed=1, workers=2))
    assert json.dumps(one) == json.dumps(two)
    n = one["calls_simulated"]
    out["event"] = {"hours": hours, "calls": n, "wall_1": wall1, "cpu_1": cpu1,
                    "wall_2": wall2, "per_wall_1": n / wall1, "per_cpu_1": n / cpu1,
                    "per_wall_2": n / wall2, "cpu_2": kids2, "per_cpu_2": n / kids2,
                    "service_level": one["service_level"],
                    "abandon_rate": one["abandon_rate"], "occupancy": one["occupancy"]}
    with tempfile.TemporaryDirectory() as folder:
        audio, wall_a, cpu_a, _ = timed(lambda: simulate_with_audio(
            traffic, agents=agents, hours=audio_hours, seed=1, batches=2, data_dir=folder))
    na = audio["calls_simulated"]
    out["audio"] = {"hours": audio_hours, "calls": na, "wall": wall_a, "cpu": cpu_a,
                    "per_wall": na / wall_a, "lines": audio["audio_lines"],
                    "service_level": audio["service_level"], "answered": audio["answered"],
                    "abandoned": audio["abandoned"]}
    same = simulate(traffic, agents=agents, hours=audio_hours, seed=1, warmup_hours=0.0,
                    replications=1, batches=2)
    out["audio"]["same_outcomes"] = all(audio[k] == same[k] for k in
                                        ("offered", "answered", "abandoned", "blocked"))
    ref, wall_r, _, kids_r = timed(lambda: simulate(REFERENCE, agents=7,
                                                    hours=reference_hours, seed=1,
                                                    workers=2))
    out["reference"] = {"hours": reference_hours, "calls": ref["calls_simulated"],
                        "wall": wall_r, "per_wall": ref["calls_simulated"] / wall_r,
                        "cpu": kids_r, "per_cpu": ref["calls_simulated"] / kids_r,
                        "service_level": ref["service_level"]}
    out["load_after"] = os.getloadavg()[0]
    return out


def markdown(r, command):
    m, e, a, ref = r["machine"], r["event"], r["audio"], r["reference"]
    agents, traffic = r["agents"], r["traffic"]
    lines = [
        "## Capacity simulation: simulated calls per second, event-driven and with audio "
        "(bench/sim_bench.py)",
        "",
        f"- Date: {m['date']}; {m['cpu']}, {m['cores']} cores (shared with other jobs: load "
        f"average {r['load_before']:.1f} before, {r['load_after']:.1f} after); Python "
        f"{m['python']}",
        f"- Command: `{command}`",
        f"- Centre: {agents} agents, {traffic.calls_per_hour:,.0f} calls/h x "
        f"{traffic.aht:g} s ({traffic.load:.1f} Erlangs), exponential talk, patience "
        f"{traffic.patience:g} s, ring delay {traffic.ring_delay_s:g} s, unlimited lines. "
        "Event-driven: the real Switchboard and ACD, 2 replications with warm-up; with audio: "
        "the same callers through Box on two emulated boards (lines, stations) in virtual "
        "time with the DSP. Calls = simulated arrivals (warm-ups included).",
        "",
        "| mode | simulated | calls | wall s | calls / wall s | CPU s | calls / CPU s |",
        "|---|---|---|---|---|---|---|",
        f"| event-driven, 1 process | {e['hours']:g} h | {e['calls']:,} | {e['wall_1']:.2f} | "
        f"{e['per_wall_1']:,.0f} | {e['cpu_1']:.2f} | {e['per_cpu_1']:,.0f} |",
        f"| event-driven, 2 worker processes | {e['hours']:g} h | {e['calls']:,} | "
        f"{e['wall_2']:.2f} | {e['per_wall_2']:,.0f} | {e['cpu_2']:.2f} (workers) | "
        f"{e['per_cpu_2']:,.0f} per worker |",
        f"| with audio ({a['lines']} lines + {agents} stations) | {a['hours'] * 3600:g} s of "
        f"arrivals | {a['calls']:,} | {a['wall']:.2f} | {a['per_wall']:,.2f} | "
        f"{a['cpu']:.2f} | {a['calls'] / a['cpu']:,.2f} |",
        "",
        f"On two idle cores the 2 workers would do about 2 x {e['per_cpu_2']:,.0f} = "
        f"{2 * e['per_cpu_2']:,.0f} calls per wall second (their CPU rate; the wall figures "
        "above are what the shared machine gave).",
        "",
        f"Event-driven / with audio (calls per wall second, 1 process): "
        f"{e['per_wall_1'] / a['per_wall']:,.0f}x; with 2 workers "
        f"{e['per_wall_2'] / a['per_wall']:,.0f}x. The audio run's callers ended exactly as in "
        f"the event-driven run of the same calls: {'yes' if a['same_outcomes'] else 'NO'} "
        f"(answered {a['answered']}, abandoned {a['abandoned']}). Event-driven KPIs: service "
        f"level {e['service_level']:.3f}, abandoned {e['abandon_rate']:.3f}, occupancy "
        f"{e['occupancy']:.3f}.",
        "",
        f"Reference (issue 6): {ref['hours']:g} h of a 100-call/hour centre (7 agents, 180 s) "
        f"= {ref['calls']:,} simulated calls in {ref['wall']:.1f} s wall with 2 workers "
        f"({ref['per_wall']:,.0f} calls/s; target: under 15 s); the workers used "
        f"{ref['cpu']:.1f} CPU s ({ref['per_cpu']:,.0f} calls per CPU s), so about "
        f"{ref['cpu'] / 2:.1f} s wall on two idle cores.",
    ]
    return "\n".join(lines) + "\n"


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--hours", type=float, default=20.0)
    parser.add_argument("--audio-hours", type=float, default=0.02)
    parser.add_argument("--reference-hours", type=float, default=1350.0)
    parser.add_argument("--output", type=Path, default=None,
                        help="append the section to this markdown file")
    args = parser.parse_args()
    result = run(args.hours, args.audio_hours, args.reference_hours)
    command = "python bench/sim_bench.py" + "".join(
        f" --{k.replace('_', '-')} {v:g}" for k, v in
        (("hours", args.hours), ("audio_hours", args.audio_hours),
         ("reference_hours", args.reference_hours))
        if v != {"hours": 20.0, "audio_hours": 0.02, "reference_hours": 1350.0}[k])
    text = markdown(result, command)
    print(text)
    if args.output is not None:
        with open(args.output, "a", encoding="utf-8") as f:
            f.write("\n" + text)


if __name__ == "__main__":
    main()
