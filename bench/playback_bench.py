"""Prompt playout benchmark: one pool gather per tick against a per-port Python loop.

    python bench/playback_bench.py [--ports 120] [--ticks 2000] [--scaling]

Traffic, as a full box has it: half the ports play an IVR greeting and menu (the shipped
welcome.wav + main-menu.wav, started again when they end), a third loop the music on hold,
the rest loop ringback or busy tone; every port is asked for a frame every tick.

Measured, per tick (CPU time of this process, best of 5 rounds of --ticks ticks in which
the two take turns, so the figure is the machine's, not the other helpers' load):
- `Playback.frame` for all ports, plus `play` again for the prompts that ended;
- the naive peer: a Python loop over ports, each frame cut from its clips with slices
  (what one writes without vectorising), the same restarts.
Both give the same audio and the same finished reports (checked tick by tick before timing).
Real time is 20 ms per tick.
"""

import argparse
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from appliance.engine.playback import FRAME, Playback  # noqa: E402
from appliance.engine.prompts import PromptLibrary, default_prompt_dir  # noqa: E402
from machine import machine  # noqa: E402

TICK_S = 0.020


class NaivePlayback:
    """Each port's clips, clip index and offset; a frame is cut port by port with slices."""

    def __init__(self):
        self.ports = {}

    def play(self, key, clips, *, loop=False, tag=None):
        self.ports[key] = [list(clips), 0, 0, loop, tag]

    def frame(self, keys):
        out = np.zeros((len(keys), FRAME), dtype=np.int16)
        finished = []
        for row, key in enumerate(keys):
            state = self.ports.get(key)
            if state is None:
                continue
            clips, index, offset, loop, tag = state
            filled = 0
            while filled < FRAME:
                if index == len(clips):
                    if not loop:
                        break
                    index = 0
                clip = clips[index]
                take = min(FRAME - filled, clip.size - offset)
                out[row, filled:filled + take] = clip[offset:offset + take]
                filled += take
                offset += take
                if offset == clip.size:
                    index, offset = index + 1, 0
            if not loop and index == len(clips):
                finished.append((key, tag))
                del self.ports[key]
            else:
                state[1], state[2] = index, offset
        return out, finished


def traffic(ports):
    """(key, clips, loop) for every port: IVR prompts, music on hold, ringback, busy."""
    library = PromptLibrary([default_prompt_dir()])
    menu = [library.load("welcome.wav"), library.load("main-menu.wav")]
    music = [library.music()]
    tones = [[library.load("tone:ringback")], [library.load("tone:busy")]]
    plan = []
    for port in range(ports):
        key = (port // 30, port % 30)  # (board, port)
        if port % 6 < 3:
            plan.append((key, menu, False))
        elif port % 6 < 5:
            plan.append((key, music, True))
        else:
            plan.append((key, tones[port % 2], True))
    return plan


def start(player, plan, offset_ticks):
    """Every port playing; the prompt ports staggered so they do not all end at once."""
    keys = [key for key, _, _ in plan]
    for i, (key, clips, loop) in enumerate(plan):
        player.play(key, clips, loop=loop, tag=i)
    for i, (key, clips, loop) in enumerate(plan):  # stagger: advance port i by i ticks
        for _ in range(i % offset_ticks):
            player.frame([key])
    return keys


def tick(player, keys, plan_by_key):
    audio, finished = player.frame(keys)
    for key, tag in finished:
        player.play(key, plan_by_key[key], tag=tag)
    return audio, finished


def per_tick(fns, repeats=5):
    """CPU seconds a tick of each of `fns` ({name: (fn, ticks)}): the peers take turns round
    by round, and each one's best round counts."""
    best = {name: float("inf") for name in fns}
    for _ in range(repeats):
        for name, (fn, count) in fns.items():
            begin = time.process_time()
            for _ in range(count):
                fn()
            best[name] = min(best[name], (time.process_time() - begin) / count)
    return best


def run(ports=120, ticks=2000, check_ticks=600):
    """Per-tick CPU times of Playback and the naive loop on the same traffic (checked equal)."""
    plan = traffic(ports)
    plan_by_key = {key: clips for key, clips, _ in plan}
    fast, naive = Playback(), NaivePlayback()
    keys = start(fast, plan, 50)
    start(naive, plan, 50)
    ended = 0
    for _ in range(check_ticks):  # > 8.5 s: every prompt port ends and starts again
        a, fa = tick(fast, keys, plan_by_key)
        b, fb = tick(naive, keys, plan_by_key)
        assert np.array_equal(a, b) and fa == fb
        ended += len(fa)
    assert ended >= ports // 2

    times = per_tick({"vectorised": (lambda: tick(fast, keys, plan_by_key), ticks),
                      "naive": (lambda: tick(naive, keys, plan_by_key), max(1, ticks // 4))})
    vectorised, loop = times["vectorised"], times["naive"]
    return {
        "ports": ports, "vectorised_us": vectorised * 1e6, "naive_us": loop * 1e6,
        "ratio": loop / vectorised, "tick_share_pct": 100 * vectorised / TICK_S,
        "pool_kib": fast.pool_samples * 2 / 1024, "checked_ticks": check_ticks,
    }


def markdown(rows):
    out = ["| ports | Playback (us/tick) | naive loop (us/tick) | naive / Playback "
           "| share of a 20 ms tick | pool (KiB) |",
           "|---|---|---|---|---|---|"]
    for r in rows:
        out.append(f"| {r['ports']} | {r['vectorised_us']:.1f} | {r['naive_us']:.1f} "
                   f"| {r['ratio']:.1f} | {r['tick_share_pct']:.2f} % | {r['pool_kib']:.0f} |")
    return "\n".join(out)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ports", type=int, default=120)
    parser.add_argument("--ticks", type=int, default=2000)
    parser.add_argument("--scaling", action="store_true", help="also 30 and 480 ports")
    args = parser.parse_args(argv)
    sizes = [args.ports] + ([30, 480] if args.scaling else [])
    m = machine(numpy=np.__version__)
    print(f"# Prompt playout, {m['date']}, {m['cpu']}, {m['cores']} cores, "
          f"Python {m['python']}, numpy {m['numpy']}\n")
    print(markdown([run(n, args.ticks) for n in sizes]))


if __name__ == "__main__":
    main()
