"""Staffing solver benchmark: appliance.acd.erlang against naive peers, 1 to 1000 agents.

    python bench/erlang_bench.py [--sizes 1,2,5,10,20,50,100,200,500,1000] [--budget 20]
    python bench/erlang_bench.py --quick          # small sizes; the figures mean nothing
From another bench or a test: `run(sizes, budget) -> list of dicts`, `markdown(rows)`.

Problem per size s: calls of 180 s at a load of 0.85 s Erlangs, target 80 % within 20 s;
the answer is the fewest agents (about s). Measured: CPU time (time.process_time) of one
solve, best of 3 rounds in which ours and the peers take turns.
- ours, Erlang C: `agents_for_service_level(Traffic(...), 0.8, 20)` (Erlang B recursion
  carried along the scan, closed-form SL).
- naive Erlang C peer: the textbook formula with factorials, in exact fractions (floats
  overflow past 170 agents), evaluated afresh for each n from floor(A) + 1 up.
- ours, Erlang A (patience 120 s): the same solver, closed form through incomplete gamma.
- brute CTMC peer, Erlang A: for each n from floor(0.8 A) up, the stationary law of the chain
  truncated at n + 400 calls by a dense numpy.linalg.solve, SL from it.
Both peers must give the same n as ours (the `same` column). A peer whose last solve took
more than --budget seconds is not run at larger sizes ("-").
"""

import argparse
import math
import sys
import time
from fractions import Fraction
from pathlib import Path

import numpy as np
from scipy import special

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from appliance.acd.erlang import Traffic, agents_for_service_level  # noqa: E402
from machine import machine  # noqa: E402

AHT = 180.0
TARGET_SL, TARGET_S = 0.8, 20.0
PATIENCE = 120.0
DEFAULT_SIZES = (1, 2, 5, 10, 20, 50, 100, 200, 500, 1000)


def naive_erlang_c_agents(load):
    """Textbook Erlang C with exact factorials, scanning n up from floor(A) + 1."""
    a = Fraction(load).limit_denominator(10**6)
    n = math.floor(load) + 1
    while True:
        top = a ** n / math.factorial(n) * n / (n - a)
        c = top / (sum(a ** k / math.factorial(k) for k in range(n)) + top)
        sl = 1.0 - float(c) * math.exp(-(n - float(a)) * TARGET_S / AHT)
        if sl >= TARGET_SL:
            return n
        n += 1


def ctmc_erlang_a_sl(n, load, queue=400):
    """SL of M/M/n+M from a dense solve of the truncated chain's balance equations."""
    mu, lam, theta = 1 / AHT, load / AHT, 1 / PATIENCE
    top = n + queue
    q = np.zeros((top + 1, top + 1))
    k = np.arange(top + 1)
    q[k[:-1], k[1:]] = lam
    q[k[1:], k[:-1]] = np.minimum(k[1:], n) * mu + np.maximum(k[1:] - n, 0) * theta
    q[k, k] = -q.sum(axis=1)
    m = q.T.copy()
    m[-1, :] = 1.0
    rhs = np.zeros(top + 1)
    rhs[-1] = 1.0
    pi = np.linalg.solve(m, rhs)
    j = np.arange(top + 1 - n)
    a = n * mu / theta
    within = a / (a + j + 1) * special.betainc(j + 1.0, a + 1.0,
                                               -math.expm1(-theta * TARGET_S))
    return float(pi[:n].sum() + np.dot(pi[n:], within))


def ctmc_erlang_a_agents(load):
    n = max(1, math.floor(TARGET_SL * load))     # the same lower bound ours starts from
    while ctmc_erlang_a_sl(n, load) < TARGET_SL:
        n += 1
    return n


def _cpu(fn, *args):
    start = time.process_time()
    value = fn(*args)
    return time.process_time() - start, value


def run(sizes=DEFAULT_SIZES, budget=20.0, rounds=3):
    rows = []
    skip_naive = skip_ctmc = False
    for size in sizes:
        load = 0.85 * size
        c = Traffic(load * 3600 / AHT, AHT)
        a = Traffic(load * 3600 / AHT, AHT, PATIENCE)
        best = {"ours_c": math.inf, "naive_c": math.inf, "ours_a": math.inf,
                "ctmc_a": math.inf}
        answers = {}
        for round_ in range(rounds):
            for key, fn, arg in (
                    ("ours_c", lambda t: agents_for_service_level(t, TARGET_SL, TARGET_S), c),
                    ("naive_c", naive_erlang_c_agents, load),
                    ("ours_a", lambda t: agents_for_service_level(t, TARGET_SL, TARGET_S), a),
                    ("ctmc_a", ctmc_erlang_a_agents, load)):
                if (key == "naive_c" and skip_naive) or (key == "ctmc_a" and skip_ctmc):
                    continue
                if round_ > 0 and best[key] > budget / 2 and key in ("naive_c", "ctmc_a"):
                    continue                      # one slow run is figure enough
                seconds, answers[key] = _cpu(fn, arg)
                best[key] = min(best[key], seconds)
        skip_naive = skip_naive or best["naive_c"] > budget
        skip_ctmc = skip_ctmc or best["ctmc_a"] > budget
        rows.append({
            "size": size, "load": load,
            "agents_c": answers["ours_c"], "agents_a": answers["ours_a"],
            "ours_c_ms": 1e3 * best["ours_c"], "ours_a_ms": 1e3 * best["ours_a"],
            "naive_c_ms": None if "naive_c" not in answers else 1e3 * best["naive_c"],
            "ctmc_a_ms": None if "ctmc_a" not in answers else 1e3 * best["ctmc_a"],
            "same_c": answers.get("naive_c") in (None, answers["ours_c"]),
            "same_a": answers.get("ctmc_a") in (None, answers["ours_a"]),
        })
    return rows


def _ms(value):
    return "-" if value is None else f"{value:.2f}" if value < 100 else f"{value:.0f}"


def _ratio(peer, ours):
    return "-" if peer is None else f"{peer / max(ours, 1e-6):.0f}x"


def markdown(rows):
    out = ["| load (Erl) | agents C | ours C (ms) | naive C, fractions (ms) | naive / ours "
           "| agents A | ours A (ms) | CTMC A, dense solve (ms) | CTMC / ours | same n |",
           "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|"]
    for r in rows:
        # Below process_time's resolution a solve reads 0; the ratio then uses 1 us.
        out.append(
            f"| {r['load']:g} | {r['agents_c']} | {_ms(r['ours_c_ms'])} "
            f"| {_ms(r['naive_c_ms'])} | {_ratio(r['naive_c_ms'], r['ours_c_ms'])} "
            f"| {r['agents_a']} | {_ms(r['ours_a_ms'])} | {_ms(r['ctmc_a_ms'])} "
            f"| {_ratio(r['ctmc_a_ms'], r['ours_a_ms'])} "
            f"| {'yes' if r['same_c'] and r['same_a'] else 'NO'} |")
    return "\n".join(out)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default=",".join(map(str, DEFAULT_SIZES)))
    parser.add_argument("--budget", type=float, default=20.0,
                        help="CPU seconds a peer may take before larger sizes skip it")
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args(argv)
    sizes = (1, 5, 20) if args.quick else tuple(int(s) for s in args.sizes.split(","))
    m = machine(numpy=np.__version__)
    print(f"# Staffing solver, {m['date']}, {m['cpu']}, {m['cores']} cores, "
          f"Python {m['python']}, numpy {m['numpy']}\n")
    print(markdown(run(sizes, args.budget, rounds=1 if args.quick else 3)))


if __name__ == "__main__":
    main()
