"""Line echo canceller benchmark: ours against speexdsp's and spandsp's, side by side.

    python bench/ec_bench.py [--quick]

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
    rows = []
    tx = far[: 8 * RATE]
    names = ["D2", "D5", "D8"] if quick else list(models)
    for name in names:
        model = models[name]
        for delay in (0, (TAPS - model.size) // 8):
            for erl in (6, 20):
                echo = g168.echo_of(g168.echo_path(model, delay, erl, tx), tx)
                out = run(tx, g168.to_int16(echo)).astype(float)
                rows.append((t20(echo, out), erle_span(echo, out, 1, 2), erle_span(echo, out, 4, 99)))
    return np.array(rows)


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


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="3 echo path models, not 8")
    args = parser.parse_args()

    models = g168.echo_path_models()
    far = g168.far_end_speech(12.0)
    near = g168.near_end_speech(12.0)
    try:
        hffi, hlib = build_harness()
    except Exception as exc:  # a peer that cannot be built is reported, not hidden
        print(f"peers unavailable: cannot build the speexdsp/spandsp harness: {exc}")
        hffi = hlib = None
    runs = cancellers(hffi, hlib) if hlib else {
        "ours": lambda tx, rx: EchoCanceller().process(tx, rx),
        "ours linear": lambda tx, rx: EchoCanceller(nlp=False).process(tx, rx),
    }

    paths = "3 models" if args.quick else "8 models"
    print(f"G.168 Annex D echo paths ({paths} x delay 0/max x ERL 6/20 dB), 64 ms tail, "
          "far end: recorded speech")
    header = (f"{'canceller':<13} {'t20 worst':>9} {'t20 med':>8} {'erle1-2 min':>11} "
              f"{'steady min':>10} {'DT during':>9} {'DT after':>8} {'near dB':>13} "
              f"{'near corr':>9} {'noise':>5} {'change':>6} {'DTMF ok':>7} {'DTMF dB':>13} "
              f"{'ch/core':>8}")
    print(header)
    for name, run in runs.items():
        conv = convergence(run, models, far, args.quick)
        during, after, levels, corrs = double_talk(run, models, far, near)
        dtmf = near_end_dtmf(run, models, far)
        noise = background_noise(run, models, far)
        change = path_change(run, models, far)
        cpc = channels_per_core(run, far)
        t20s = conv[:, 0]
        print(
            f"{name:<13} {np.max(t20s):>9.1f} {np.median(t20s):>8.1f} {np.min(conv[:, 1]):>11.1f} "
            f"{np.min(conv[:, 2]):>10.1f} {during:>9.1f} {after:>8.1f}"
            f"{'diverged' if after < 20 else '':>0} "
            f"{min(levels):>6.1f}..{max(levels):<5.1f} {min(corrs):>9.3f} {noise:>5.1f} {change:>6.1f} "
            f"{sum(ok for ok, _ in dtmf):>4}/{len(dtmf):<2} "
            f"{min(d for _, d in dtmf):>6.1f}..{max(d for _, d in dtmf):<5.1f} {cpc:>8.0f}",
            flush=True,
        )
    print(f"ours through the batch call (64 channels x 160-sample frames): "
          f"{ours_batch_channels_per_core(far):.0f} channels per core")


if __name__ == "__main__":
    main()
