"""Conference mixer benchmark: one vectorised pass per tick against a per-conference loop.

    python bench/mixer_bench.py [--conferences 40] [--size 3] [--ticks 2000]

Traffic: C conferences of S talkers each (40 x 3 = 120 parties by default: issue 5's
three-way calls and barge-ins on a full box), random int16 audio, 160 samples per tick.

Measured, per tick (best of 5 runs of --ticks ticks, so the figure is the machine's, not
the other helpers' load):
- `ConferenceMixer.mix`: all conferences in one sparse product (membership unchanged);
- the same after a membership change every tick (a join and a leave: index arrays rebuilt);
- the naive peer: a Python loop over conferences and their members, each member's ear the
  int32 sum of the others' rows, clipped to int16 (what one writes without vectorising).
Both give the same audio (checked before timing). Real time is 20 ms per tick.
"""

import argparse
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from appliance.engine.mixer import ConferenceMixer  # noqa: E402
from machine import machine  # noqa: E402

SAMPLES = 160
TICK_S = 0.020


def naive_mix(linear, conferences):
    """{party: ear} with one Python iteration per conference and per member."""
    ears = {}
    for members in conferences:
        for listener in members:
            total = np.zeros(SAMPLES, dtype=np.int32)
            for talker in members:
                if talker != listener:
                    total += linear[talker]
            ears[listener] = np.clip(total, -32768, 32767).astype(np.int16)
    return ears


def per_tick(fn, ticks, repeats=5):
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        for _ in range(ticks):
            fn()
        best = min(best, time.perf_counter() - start)
    return best / ticks


def run(n_conferences=40, size=3, ticks=2000):
    """Per-tick times of the mixer and the naive loop on the same audio (checked equal)."""
    parties = n_conferences * size
    rng = np.random.default_rng(0)
    linear = rng.integers(-32768, 32768, size=(parties + 1, SAMPLES), dtype=np.int16)
    order = rng.permutation(parties)
    conferences = [[int(p) for p in order[k * size:(k + 1) * size]]
                   for k in range(n_conferences)]
    mixer = ConferenceMixer()
    for k, members in enumerate(conferences):
        for p in members:
            mixer.join(k, p)

    mix = mixer.mix(linear)
    naive = naive_mix(linear, conferences)
    assert sorted(naive) == mix.rows.tolist()
    for p, ear in zip(mix.rows.tolist(), mix.audio):
        assert np.array_equal(ear, naive[p]), p

    spare = parties  # one extra row that joins and leaves conference 0 every tick

    def churn():
        mixer.join(0, spare, "listen")
        mixer.mix(linear)
        mixer.leave(spare)

    vectorised = per_tick(lambda: mixer.mix(linear), ticks)
    rebuilt = per_tick(churn, max(1, ticks // 4))
    loop = per_tick(lambda: naive_mix(linear, conferences), max(1, ticks // 4))
    return {
        "conferences": n_conferences, "size": size, "parties": parties,
        "vectorised_us": vectorised * 1e6, "rebuilt_us": rebuilt * 1e6,
        "naive_us": loop * 1e6, "ratio": loop / vectorised,
        "tick_share_pct": 100 * vectorised / TICK_S,
    }


def markdown(rows):
    out = ["| conferences x size | parties | mix (us/tick) | mix + join/leave (us/tick) "
           "| naive loop (us/tick) | naive / mix | share of a 20 ms tick |",
           "|---|---|---|---|---|---|---|"]
    for r in rows:
        out.append(f"| {r['conferences']} x {r['size']} | {r['parties']} "
                   f"| {r['vectorised_us']:.1f} | {r['rebuilt_us']:.1f} "
                   f"| {r['naive_us']:.1f} | {r['ratio']:.1f} | {r['tick_share_pct']:.2f} % |")
    return "\n".join(out)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--conferences", type=int, default=40)
    parser.add_argument("--size", type=int, default=3)
    parser.add_argument("--ticks", type=int, default=2000)
    parser.add_argument("--scaling", action="store_true",
                        help="also 10 x 3, 200 x 3, 10 x 12 and 1 x 120")
    args = parser.parse_args(argv)
    shapes = [(args.conferences, args.size)]
    if args.scaling:
        shapes += [(10, 3), (200, 3), (10, 12), (1, 120)]
    m = machine(numpy=np.__version__)
    print(f"# Conference mixer, {m['date']}, {m['cpu']}, {m['cores']} cores, "
          f"Python {m['python']}, numpy {m['numpy']}\n")
    print(markdown([run(c, s, args.ticks) for c, s in shapes]))


if __name__ == "__main__":
    main()
