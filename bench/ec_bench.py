"""Line echo canceller benchmark: ours against speexdsp's and spandsp's, side by side.

    python bench/ec_bench.py [--quick] [--per-model] [--voices [SKIP_FILES ...]]
                             [--double-talk-grid]

From bench/dsp_bench.py: `ec_bench.run(quick=False) -> dict` (see run()).

Needs Debian's libspeexdsp-dev and libspandsp-dev (and gcc): each peer is bound here only,
through a tiny C harness that cffi compiles into a temporary directory (the product never
links them). A peer that cannot be built is reported as such, not skipped silently.

Echo paths: the eight hybrid models of ITU-T G.168 Annex D, read from libspandsp-dev's
g168models.h (tests/g168.py), at no delay and at the longest delay that still fits a
64 ms tail, at 6 and 20 dB echo return loss. Far end (tx): recorded speech of one talker;
near end (in rx): recorded speech of another, and DTMF from the caller.

Cancellers, each with a 64 ms (512-tap) tail:
  ours          appliance.dsp.EchoCanceller (NLP on, as shipped; "ours linear" with it off)
  speexdsp      speex_echo_cancellation, 10 ms frames (it has no NLP of its own: its residual
                suppression lives in the preprocessor, which is not part of the canceller)
  spandsp       echo_can_update with adaption only, and with adaption + NLP + CNG

Measured:
  t20      seconds of far-end speech until the ERLE (200 ms windows, active far-end only)
           stays at or above 20 dB for the rest of the run (worst and median over paths)
  first20  seconds of far-end speech before the first 200 ms window at 20 dB (worst/median)
  erle1-2  ERLE over the second second of far-end speech (issue 3: >= 20 dB)
  steady   ERLE over the last 4 s of far-end speech (>= 30 dB)
  DT       double talk (near end 15 dB under, and level with, the far end, 3 s): ERLE of
           the echo left during and after it (the near end subtracted), the worst case;
           "diverged" when after < 20 dB
  near     near-end speech in the double-talk span: level change (dB) and waveform
           correlation of output against the near end sent
  noise    steady ERLE with white line noise at -50 dBm0 (G.168 test 2C), noise subtracted
  change   seconds of far-end speech to get back to 20 dB after the echo path changes
  DTMF     caller's digits (in rx, alone and over far-end speech) decoded behind the
           canceller by appliance.dtmf.detect, and their level change
  ch/core  seconds of 8 kHz audio per second of one core (each in its own C loop; ours also
           through the product's batch call, 160-sample frames x 64 channels)
"""

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT))

import g168  # noqa: E402
from appliance.dsp import EchoCanceller, EchoCancellerBank  # noqa: E402
from appliance.dtmf import detect, generate  # noqa: E402

RATE = 8000
TAPS = 512
DBM0_POWER = 22827.6**2 / 2

HARNESS_CDEF = """
int speex_run(const int16_t *tx, const int16_t *rx, int16_t *out, size_t n, int frame,
              int taps);
int spandsp_run(const int16_t *tx, const int16_t *rx, int16_t *out, size_t n, int taps,
                int mode);
"""
HARNESS_SRC = r"""
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>
#include <speex/speex_echo.h>

/* spandsp's echo canceller API (spandsp/echo.h), declared here so the harness does not
 * pull in all of spandsp.h. */
typedef struct echo_can_state_s echo_can_state_t;
echo_can_state_t *echo_can_init(int len, int adaption_mode);
int echo_can_free(echo_can_state_t *ec);
int16_t echo_can_update(echo_can_state_t *ec, int16_t tx, int16_t rx);

int speex_run(const int16_t *tx, const int16_t *rx, int16_t *out, size_t n, int frame,
              int taps)
{
    SpeexEchoState *st = speex_echo_state_init(frame, taps);
    if (!st)
        return -1;
    int rate = 8000;
    speex_echo_ctl(st, SPEEX_ECHO_SET_SAMPLING_RATE, &rate);
    size_t i = 0;
    for (; i + (size_t) frame <= n; i += (size_t) frame)
        speex_echo_cancellation(st, rx + i, tx + i, out + i);
    for (; i < n; i++)
        out[i] = rx[i];
    speex_echo_state_destroy(st);
    return 0;
}

int spandsp_run(const int16_t *tx, const int16_t *rx, int16_t *out, size_t n, int taps,
                int mode)
{
    /* Debian's build of echo_can_update prints a trace line per sample to stdout: send
     * it to /dev/null for the run (it still costs the formatting). */
    fflush(stdout);
    int saved = dup(1);
    int null = open("/dev/null", O_WRONLY);
    dup2(null, 1);
    echo_can_state_t *ec = echo_can_init(taps, mode);
    if (ec) {
        for (size_t i = 0; i < n; i++)
            out[i] = echo_can_update(ec, tx[i], rx[i]);
        echo_can_free(ec);
    }
    fflush(stdout);
    dup2(saved, 1);
    close(saved);
    close(null);
    return ec ? 0 : -1;
}
"""
SPANDSP_ADAPTION, SPANDSP_NLP, SPANDSP_CNG = 0x01, 0x02, 0x04


def build_harness():
    from cffi import FFI

    ffi = FFI()
    ffi.cdef(HARNESS_CDEF)
    ffi.set_source("_ec_bench_harness", HARNESS_SRC, libraries=["speexdsp", "spandsp", "m"],
                   extra_compile_args=["-O2"])
    tmp = tempfile.mkdtemp(prefix="ec_bench_")
    path = ffi.compile(tmpdir=tmp, verbose=False)
    sys.path.insert(0, tmp)
    import importlib

    module = importlib.import_module("_ec_bench_harness")
    return module.ffi, module.lib


def cancellers(hffi, hlib):
    def ptr(a):
        return hffi.cast("int16_t *", hffi.from_buffer(a))

    def speex(tx, rx):
        out = np.empty_like(rx)
        if hlib.speex_run(ptr(tx), ptr(rx), ptr(out), tx.size, 80, TAPS) != 0:
            raise RuntimeError("speex_echo_state_init failed")
        return out

    def spandsp(mode):
        def run(tx, rx):
            out = np.empty_like(rx)
            if hlib.spandsp_run(ptr(tx), ptr(rx), ptr(out), tx.size, TAPS, mode) != 0:
                raise RuntimeError("echo_can_init failed")
            return out

        return run

    return {
        "ours": lambda tx, rx: EchoCanceller().process(tx, rx),
        "ours linear": lambda tx, rx: EchoCanceller(nlp=False).process(tx, rx),
        "speexdsp": speex,
        "spandsp": spandsp(SPANDSP_ADAPTION),
        "spandsp+NLP": spandsp(SPANDSP_ADAPTION | SPANDSP_NLP | SPANDSP_CNG),
    }


# ------------------------------------------------------------------------ measures


def scaled(x, dbm0):
    x = x.astype(np.float64)
    return x * np.sqrt(DBM0_POWER * 10 ** (dbm0 / 10) / np.mean(x**2))


def window_erle(echo, residual, window=1600):
    n = echo.size // window
    pe = np.mean(echo[: n * window].reshape(n, window) ** 2, axis=1)
    pr = np.mean(residual[: n * window].reshape(n, window) ** 2, axis=1)
    active = pe > np.mean(pe) / 30
    return pe, pr, active


def t20(echo, residual):
    pe, pr, active = window_erle(echo, residual)
    erle = 10 * np.log10(pe / (pr + 1e-3))
    bad = np.nonzero(active & (erle < 20.0))[0]
    first = 0 if bad.size == 0 else bad[-1] + 1
    if first >= erle.size:
        return float("inf")
    return float(np.count_nonzero(active[:first])) * 0.2


def t20_first(echo, residual):
    """Seconds of far-end speech before the first 200 ms window that shows 20 dB (the
    lenient reading of "reaches 20 dB"; t20 counts up to the window from which it stays).
    Both count the windows before the one that meets the mark, as t20 always has."""
    pe, pr, active = window_erle(echo, residual)
    erle = 10 * np.log10(pe / (pr + 1e-3))
    good = np.nonzero(active & (erle >= 20.0))[0]
    if good.size == 0:
        return float("inf")
    return float(np.count_nonzero(active[: good[0]])) * 0.2


def erle_span(echo, residual, start_s, stop_s):
    pe, pr, active = window_erle(echo, residual)
    elapsed = np.cumsum(active) * 0.2
    pick = active & (elapsed > start_s) & (elapsed <= stop_s)
    return 10 * np.log10(pe[pick].sum() / (pr[pick].sum() + 1e-3))


def db(a, b):
    return 10 * np.log10((np.mean(np.square(a)) + 1e-9) / (np.mean(np.square(b)) + 1e-9))


def corr(a, b):
    return float(np.dot(a, b) / np.sqrt(np.dot(a, a) * np.dot(b, b) + 1e-9))


# ------------------------------------------------------------------------ scenarios


def convergence(run, models, far, quick):
    """{(model, delay_ms, erl_db): (t20, erle1-2, steady)} over the Annex D paths."""
    rows = {}
    tx = far[: 8 * RATE]
    names = ["D2", "D5", "D8"] if quick else list(models)
    for name in names:
        model = models[name]
        for delay in (0, (TAPS - model.size) // 8):
            for erl in (6, 20):
                echo = g168.echo_of(g168.echo_path(model, delay, erl, tx), tx)
                out = run(tx, g168.to_int16(echo)).astype(float)
                rows[(name, delay, erl)] = (t20(echo, out), erle_span(echo, out, 1, 2),
                                            erle_span(echo, out, 4, 99), t20_first(echo, out))
    return rows


def double_talk(run, models, far, near):
    worst_during, worst_after, levels, corrs = np.inf, np.inf, [], []
    tx = g168.to_int16(scaled(far[: 9 * RATE], -13.0))
    for name, erl in (("D2", 6), ("D4", 12), ("D7", 20)):
        echo = g168.echo_of(g168.echo_path(models[name], 20, erl, tx), tx)
        for near_db in (-28.0, -13.0):
            talk = np.zeros(tx.size)
            dt = slice(3 * RATE, 6 * RATE)
            talk[dt] = scaled(near[: 3 * RATE], near_db)
            out = run(tx, g168.to_int16(echo + talk)).astype(float)
            residual = out - talk
            worst_during = min(worst_during, db(echo[dt], residual[dt]))
            after = slice(6 * RATE, 9 * RATE)
            worst_after = min(worst_after, db(echo[after], residual[after]))
            levels.append(db(out[dt], talk[dt]))
            corrs.append(corr(out[dt], talk[dt]))
    return worst_during, worst_after, levels, corrs


def near_end_dtmf(run, models, far):
    digits = "159#26*0"
    results = []
    for far_talks in (False, True):
        for level in (-25.0, -10.0):
            keyed = generate(digits, level_dbm0=level, on_ms=60, off_ms=60).astype(float)
            tx = far[: 8 * RATE].copy()
            if not far_talks:
                tx[4 * RATE :] = 0
            echo = g168.echo_of(g168.echo_path(models["D5"], 8, 6, tx), tx)
            talk = np.zeros(tx.size)
            talk[5 * RATE : 5 * RATE + keyed.size] = keyed
            out = run(tx, g168.to_int16(echo + talk)).astype(float)
            span = slice(5 * RATE, 5 * RATE + keyed.size)
            got = "".join(e.digit for e in detect(g168.to_int16(out[span])))
            results.append((got == digits, db(out[span], talk[span])))
    return results


def background_noise(run, models, far):
    """Worst steady ERLE (6-9 s, the noise subtracted) with white noise at -50 dBm0."""
    tx = far[: 9 * RATE]
    noise = scaled(np.random.default_rng(7).normal(size=tx.size), -50.0)
    worst = np.inf
    for name in ("D2", "D5", "D8"):
        echo = g168.echo_of(g168.echo_path(models[name], 20, 10, tx), tx)
        out = run(tx, g168.to_int16(echo + noise)).astype(float)
        span = slice(6 * RATE, 9 * RATE)
        worst = min(worst, db(echo[span], out[span] - noise[span]))
    return worst


def path_change(run, models, far):
    """Seconds after the echo path changes (D2 at 10 ms to D7 at 30 ms, 6 s in) until the
    ERLE over 200 ms windows stays at 20 dB or more."""
    tx = far[: 12 * RATE]
    first = g168.echo_of(g168.echo_path(models["D2"], 10, 10, tx), tx)
    second = g168.echo_of(g168.echo_path(models["D7"], 30, 8, tx), tx)
    echo = np.concatenate([first[: 6 * RATE], second[6 * RATE :]])
    out = run(tx, g168.to_int16(echo)).astype(float)
    return t20(echo[6 * RATE :], out[6 * RATE :])


def voices_grid(run, models, skip_files=0):
    """The strict reading of "20 dB within 1 s" with every corpus voice as the far end
    (tests/corpus.py SPEECH_DIRS, 8 s of each from its `skip_files`-th file on): t20 over
    D2-D9 x delay 0/max x ERL 6/20. Returns {"cases", "failing": [(voice, model, delay,
    erl, t20)], "t20_worst_s", "t20_median_s", "erle_1_2_min_db", "steady_min_db"}."""
    from corpus import SPEECH_DIRS

    times, failing, e12s, steadies = [], [], [], []
    for directory in SPEECH_DIRS:
        tx = g168._speaker(directory, 8.0, skip_files)
        for name, model in models.items():
            for delay in (0, (TAPS - model.size) // 8):
                for erl in (6, 20):
                    echo = g168.echo_of(g168.echo_path(model, delay, erl, tx), tx)
                    out = run(tx, g168.to_int16(echo)).astype(float)
                    t = t20(echo, out)
                    times.append(t)
                    e12s.append(erle_span(echo, out, 1, 2))
                    steadies.append(erle_span(echo, out, 4, 99))
                    if t > 1.0:
                        failing.append((directory.name, name, delay, erl, t))
    return {"cases": len(times), "failing": failing, "t20_worst_s": float(max(times)),
            "t20_median_s": float(np.median(times)), "erle_1_2_min_db": float(min(e12s)),
            "steady_min_db": float(min(steadies))}


def double_talk_grid(run, models):
    """G.168 test 3 (3A/3B) widened: every corpus voice as the far end (-13 dBm0), with
    two other voices as the caller, every Annex D model at 20 ms, ERL 6 and 20 dB, the
    caller at -28, -20 and -13 dBm0 from 3 to 6 s. A case fails when the echo left by the
    linear canceller (the caller subtracted) is under 20 dB during the double talk or
    under 30 dB over the 3 s after it, as in tests/dsp/test_echo.py. Returns {"cases",
    "failing": [(far, caller, model, erl, caller_dbm0, during_db, after_db)],
    "during_min_db", "after_min_db"}."""
    from corpus import SPEECH_DIRS

    voices = [d.name for d in SPEECH_DIRS]
    dt, after = slice(3 * RATE, 6 * RATE), slice(6 * RATE, 9 * RATE)
    failing, durings, afters = [], [], []
    for i, far_voice in enumerate(voices):
        tx = g168.to_int16(scaled(g168._speaker(g168.SOUNDS / far_voice, 9.0), -13.0))
        for offset in (1, 3):
            near_voice = voices[(i + offset) % len(voices)]
            caller = g168._speaker(g168.SOUNDS / near_voice, 3.0, skip_files=10)
            for name, model in models.items():
                for erl in (6, 20):
                    echo = g168.echo_of(g168.echo_path(model, 20, erl, tx), tx)
                    for near_db in (-28.0, -20.0, -13.0):
                        talk = np.zeros(tx.size)
                        talk[dt] = scaled(caller, near_db)
                        residual = run(tx, g168.to_int16(echo + talk)).astype(float) - talk
                        d, a = db(echo[dt], residual[dt]), db(echo[after], residual[after])
                        durings.append(d)
                        afters.append(a)
                        if d < 20.0 or a < 30.0:
                            failing.append((far_voice, near_voice, name, erl, near_db, d, a))
    return {"cases": len(durings), "failing": failing, "during_min_db": float(min(durings)),
            "after_min_db": float(min(afters))}


def channels_per_core(run, far, seconds=10.0):
    tx = np.tile(far, int(np.ceil(seconds * RATE / far.size)))[: int(seconds * RATE)]
    echo = g168.to_int16(0.3 * np.roll(tx.astype(float), 80))
    run(tx[:RATE], echo[:RATE])  # warm up
    start = time.process_time()
    run(tx, echo)
    return seconds / (time.process_time() - start)


def ours_batch_channels_per_core(far, channels=64, seconds=2.0):
    frames = int(seconds * RATE) // 160
    tx = np.stack([np.roll(far[: frames * 160], 97 * c) for c in range(channels)])
    rx = g168.to_int16(0.3 * np.roll(tx.astype(float), 80, axis=1))
    bank = EchoCancellerBank(channels)
    start = time.process_time()
    for f in range(frames):
        bank.process(tx[:, f * 160 : (f + 1) * 160], rx[:, f * 160 : (f + 1) * 160])
    return channels * seconds / (time.process_time() - start)


def measure(run, models, far, near, quick):
    """Every figure of one canceller, as a dict (seconds of far-end speech, dB, channels)."""
    conv = convergence(run, models, far, quick)
    during, after, levels, corrs = double_talk(run, models, far, near)
    dtmf = near_end_dtmf(run, models, far)
    values = np.array(list(conv.values()))
    per_model = {}
    for (name, delay, erl), (t, e12, steady, _) in conv.items():
        m = per_model.setdefault(name, {"t20_worst_s": 0.0, "erle_1_2_min_db": np.inf,
                                        "steady_min_db": np.inf})
        m["t20_worst_s"] = max(m["t20_worst_s"], t)
        m["erle_1_2_min_db"] = min(m["erle_1_2_min_db"], e12)
        m["steady_min_db"] = min(m["steady_min_db"], steady)
    return {
        "t20_worst_s": float(np.max(values[:, 0])),
        "t20_median_s": float(np.median(values[:, 0])),
        "t20_first_worst_s": float(np.max(values[:, 3])),
        "t20_first_median_s": float(np.median(values[:, 3])),
        "erle_1_2_min_db": float(np.min(values[:, 1])),
        "steady_min_db": float(np.min(values[:, 2])),
        "per_model": {k: {n: float(v) for n, v in m.items()} for k, m in per_model.items()},
        "double_talk_during_db": float(during),
        "double_talk_after_db": float(after),
        "diverged": bool(after < 20.0),
        "near_level_db": [float(min(levels)), float(max(levels))],
        "near_corr_min": float(min(corrs)),
        "noise_steady_db": float(background_noise(run, models, far)),
        "path_change_s": float(path_change(run, models, far)),
        "dtmf_decoded": f"{sum(ok for ok, _ in dtmf)}/{len(dtmf)}",
        "dtmf_level_db": [float(min(d for _, d in dtmf)), float(max(d for _, d in dtmf))],
        "channels_per_core": float(channels_per_core(run, far)),
    }


def run(quick=False, report=None):
    """The whole benchmark as a dict, for bench/dsp_bench.py: {"paths": ...,
    "cancellers": {name: measure(...)}, "ours_batch_channels_per_core": ...,
    "peers_error": None or why speexdsp/spandsp could not be built}. `report`, if
    given, is called with (name, figures) as each canceller finishes."""
    models = g168.echo_path_models()
    far = g168.far_end_speech(12.0)
    near = g168.near_end_speech(12.0)
    peers_error = None
    try:
        hffi, hlib = build_harness()
        runs = cancellers(hffi, hlib)
    except Exception as exc:  # a peer that cannot be built is reported, not hidden
        peers_error = f"cannot build the speexdsp/spandsp harness: {exc}"
        runs = {
            "ours": lambda tx, rx: EchoCanceller().process(tx, rx),
            "ours linear": lambda tx, rx: EchoCanceller(nlp=False).process(tx, rx),
        }
    result = {
        "paths": (f"G.168 Annex D echo paths ({'D2, D5, D8' if quick else 'D2-D9'} x delay "
                  "0/max x ERL 6/20 dB), 64 ms tail, far end: recorded speech"),
        "cancellers": {},
        "peers_error": peers_error,
    }
    for name, canceller in runs.items():
        result["cancellers"][name] = measure(canceller, models, far, near, quick)
        if report:
            report(name, result["cancellers"][name])
    result["ours_batch_channels_per_core"] = float(ours_batch_channels_per_core(far))
    return result


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="3 echo path models, not 8")
    parser.add_argument("--per-model", action="store_true",
                        help="also print t20 and steady ERLE per Annex D model")
    parser.add_argument("--voices", nargs="*", type=int, metavar="SKIP_FILES",
                        help="only the strict convergence grid of 'ours linear' with every "
                             "corpus voice as the far end, from these files of each (default 0)")
    parser.add_argument("--double-talk-grid", action="store_true",
                        help="only G.168 test 3 widened to every corpus voice, model, ERL and "
                             "caller level ('ours linear')")
    args = parser.parse_args()
    if args.double_talk_grid:
        g = double_talk_grid(lambda tx, rx: EchoCanceller(nlp=False).process(tx, rx),
                             g168.echo_path_models())
        print(f"double talk: {len(g['failing'])}/{g['cases']} cases under 20 dB during or "
              f"30 dB after, worst {g['during_min_db']:.1f} dB during, "
              f"{g['after_min_db']:.1f} dB after")
        for far_voice, near_voice, model, erl, near_db, d, a in g["failing"]:
            print(f"    {far_voice} <- {near_voice} {model} {erl} dB, caller {near_db:g} dBm0: "
                  f"{d:.1f} dB during, {a:.1f} dB after")
        return
    if args.voices is not None:
        models = g168.echo_path_models()
        for skip in args.voices or [0]:
            g = voices_grid(lambda tx, rx: EchoCanceller(nlp=False).process(tx, rx), models, skip)
            print(f"voices from file {skip}: {len(g['failing'])}/{g['cases']} cases over 1.0 s, "
                  f"t20 worst {g['t20_worst_s']:.1f} s, median {g['t20_median_s']:.1f} s, "
                  f"erle1-2 min {g['erle_1_2_min_db']:.1f} dB, steady min {g['steady_min_db']:.1f} dB")
            for voice, model, delay, erl, t in g["failing"]:
                print(f"    {voice} {model} {delay} ms {erl} dB: {t:.1f} s")
        return

    header = (f"{'canceller':<13} {'t20 worst':>9} {'t20 med':>8} {'first20':>9} {'erle1-2 min':>11} "
              f"{'steady min':>10} {'DT during':>9} {'DT after':>8} {'near dB':>13} "
              f"{'near corr':>9} {'noise':>5} {'change':>6} {'DTMF ok':>7} {'DTMF dB':>13} "
              f"{'ch/core':>8}")
    printed = []

    def report(name, f):
        if not printed:
            print(header)
            printed.append(True)
        print(
            f"{name:<13} {f['t20_worst_s']:>9.1f} {f['t20_median_s']:>8.1f} "
            f"{f['t20_first_worst_s']:>4.1f}/{f['t20_first_median_s']:<4.1f} "
            f"{f['erle_1_2_min_db']:>11.1f} {f['steady_min_db']:>10.1f} "
            f"{f['double_talk_during_db']:>9.1f} {f['double_talk_after_db']:>8.1f}"
            f"{'diverged' if f['diverged'] else '':>0} "
            f"{f['near_level_db'][0]:>6.1f}..{f['near_level_db'][1]:<5.1f} "
            f"{f['near_corr_min']:>9.3f} {f['noise_steady_db']:>5.1f} {f['path_change_s']:>6.1f} "
            f"{f['dtmf_decoded']:>7} "
            f"{f['dtmf_level_db'][0]:>6.1f}..{f['dtmf_level_db'][1]:<5.1f} "
            f"{f['channels_per_core']:>8.0f}",
            flush=True,
        )
        if args.per_model:
            for model, m in f["per_model"].items():
                print(f"    {model}: t20 worst {m['t20_worst_s']:.1f} s, erle1-2 min "
                      f"{m['erle_1_2_min_db']:.1f} dB, steady min {m['steady_min_db']:.1f} dB")

    result = run(quick=args.quick, report=report)
    if result["peers_error"]:
        print(f"peers unavailable: {result['peers_error']}")
    print(result["paths"])
    print(f"ours through the batch call (64 channels x 160-sample frames): "
          f"{result['ours_batch_channels_per_core']:.0f} channels per core")


if __name__ == "__main__":
    main()
