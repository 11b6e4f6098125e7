"""AGC benchmark: ours against speexdsp's and WebRTC's AGC, side by side in one run.

    python bench/agc_bench.py [--seconds 20] [--quick]

Needs Debian's libspeexdsp-dev and libwebrtc-audio-processing-dev (and g++): each peer is
bound here only, through a tiny shim that cffi compiles into a temporary directory (the
product never links them). A peer that cannot be built is reported as such, not skipped
silently.

Signals: recorded speech from the corpus (tests/corpus.py: every speaker), scaled to an
active speech level (ITU-T P.56 method B, appliance.dsp.speech_level) from -45 to -6 dBFS,
saturated to 16 bits, with line noise at -65 dBFS. Target: -18 dBFS active level.

Measured for each AGC:
- settling: time until the output's P.56 level over every later 2 s window (windows
  every 0.25 s) is within +-2 dB of the target;
- settling after a 30 dB step up and down (the level changes 8 s in), the same way
  (windows every 0.1 s), with the output's P.56 level in the first and the second second
  after the step, where the transient shows;
- final error: P.56 active level of the output over its second half, minus the target;
- issue 3's criterion: P.56 level of the output from 1 s on within +-2 dB (and the same
  from 1 s after a step);
- channels per core: seconds of 8 kHz audio processed per second of one core, each AGC
  in its own C loop over a whole buffer (no Python per frame).
"""

import argparse
import os
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT))

import corpus  # noqa: E402
from cffi_reference import compiled  # noqa: E402
from appliance.dsp._binding import c_array, ffi as our_ffi, lib as our_lib  # noqa: E402
from appliance.dsp.speech_level import active_level_dbfs  # noqa: E402

RATE = 8000
TARGET = -18.0
NOISE_DBFS = -65.0
STEP_AT_S = 8.0
SPEEX_CALIBRATION_DB = 12.9

# ---------------------------------------------------------------------------- peers

SPEEX_CDEF = """
void *sagc_new(int frame, int rate, float level, int max_gain_db);
void sagc_run(void *st, int16_t *samples, size_t n, int frame);
void sagc_free(void *st);
"""
SPEEX_SRC = r"""
#include <stdlib.h>
#include <stdint.h>
#include <speex/speex_preprocess.h>

void *sagc_new(int frame, int rate, float level, int max_gain_db)
{
    SpeexPreprocessState *st = speex_preprocess_state_init(frame, rate);
    int on = 1, off = 0;
    speex_preprocess_ctl(st, SPEEX_PREPROCESS_SET_DENOISE, &off);
    speex_preprocess_ctl(st, SPEEX_PREPROCESS_SET_DEREVERB, &off);
    speex_preprocess_ctl(st, SPEEX_PREPROCESS_SET_AGC, &on);
    speex_preprocess_ctl(st, SPEEX_PREPROCESS_SET_AGC_LEVEL, &level);
    speex_preprocess_ctl(st, SPEEX_PREPROCESS_SET_AGC_MAX_GAIN, &max_gain_db);
    return st;
}

void sagc_run(void *st, int16_t *samples, size_t n, int frame)
{
    for (size_t i = 0; i + (size_t) frame <= n; i += (size_t) frame)
        speex_preprocess_run((SpeexPreprocessState *) st, samples + i);
}

void sagc_free(void *st)
{
    speex_preprocess_state_destroy((SpeexPreprocessState *) st);
}
"""

WEBRTC_CDEF = """
void *wagc_new(int rate, int target_dbfs, int compression_gain_db, int limiter);
int wagc_run(void *apm, int16_t *samples, size_t n, int rate);
void wagc_free(void *apm);
"""
WEBRTC_SRC = r"""
#include <stdint.h>
#include <string.h>
#include <webrtc/modules/audio_processing/include/audio_processing.h>
#include <webrtc/modules/interface/module_common_types.h>

extern "C" void *wagc_new(int rate, int target_dbfs, int compression_gain_db, int limiter)
{
    (void) rate;
    webrtc::AudioProcessing *apm = webrtc::AudioProcessing::Create();
    webrtc::GainControl *gc = apm->gain_control();
    gc->set_mode(webrtc::GainControl::kAdaptiveDigital);
    gc->set_target_level_dbfs(target_dbfs);
    gc->set_compression_gain_db(compression_gain_db);
    gc->enable_limiter(limiter != 0);
    gc->Enable(true);
    return apm;
}

extern "C" int wagc_run(void *p, int16_t *samples, size_t n, int rate)
{
    webrtc::AudioProcessing *apm = static_cast<webrtc::AudioProcessing *>(p);
    size_t frame = (size_t) rate / 100;
    webrtc::AudioFrame f;
    for (size_t i = 0; i + frame <= n; i += frame) {
        f.sample_rate_hz_ = rate;
        f.num_channels_ = 1;
        f.samples_per_channel_ = frame;
        memcpy(f.data_, samples + i, frame * sizeof(int16_t));
        int err = apm->ProcessStream(&f);
        if (err != 0)
            return err;
        memcpy(samples + i, f.data_, frame * sizeof(int16_t));
    }
    return 0;
}

extern "C" void wagc_free(void *p)
{
    delete static_cast<webrtc::AudioProcessing *>(p);
}
"""


class OurAgc:
    name = "ours"

    def __init__(self):
        config = our_ffi.new("agc_config_t *")
        our_lib.agc_config_default(config, RATE)
        config.target_dbfs = TARGET
        self.state = our_ffi.new("agc_state_t *")
        if our_lib.agc_init(self.state, config) < 0:
            raise RuntimeError("agc_init failed")

    def run(self, x):
        out = np.empty_like(x)
        our_lib.agc_process(self.state, c_array(x, np.int16), c_array(out, np.int16,
                                                                         writable=True), x.size)
        return out


class SpeexAgc:
    name = "speexdsp"
    frame = 160  # 20 ms, speexdsp's usual frame at 8 kHz

    def __init__(self, module):
        self.m = module
        # speexdsp's AGC level is a loudness in 16-bit units, not a P.56 level: set as an
        # RMS (-18 dBFS = 4125) its output settles 12.9 dB low (measured here at -27 dBFS
        # in), so the level is raised by that much to give it the same target as ours.
        level = 32768.0 * 10 ** ((TARGET + SPEEX_CALIBRATION_DB) / 20)
        self.st = module.lib.sagc_new(self.frame, RATE, level, 30)

    def run(self, x):
        y = np.array(x, dtype=np.int16, copy=True)
        n = y.size - y.size % self.frame
        self.m.lib.sagc_run(self.st, self.m.ffi.cast("int16_t *", self.m.ffi.from_buffer(y)),
                            n, self.frame)
        return y

    def __del__(self):
        self.m.lib.sagc_free(self.st)


class WebrtcAgc:
    frame = 80  # 10 ms

    def __init__(self, module, compression_gain_db=9):
        self.m = module
        self.name = f"webrtc (digital, {compression_gain_db} dB)"
        self.apm = module.lib.wagc_new(RATE, int(round(-TARGET)), compression_gain_db, 1)

    def run(self, x):
        y = np.array(x, dtype=np.int16, copy=True)
        err = self.m.lib.wagc_run(self.apm, self.m.ffi.cast("int16_t *",
                                                            self.m.ffi.from_buffer(y)),
                                  y.size - y.size % self.frame, RATE)
        if err:
            raise RuntimeError(f"webrtc ProcessStream failed: {err}")
        return y

    def __del__(self):
        self.m.lib.wagc_free(self.apm)


# ---------------------------------------------------------------------------- signals

def speech(seconds, start):
    files = corpus.speech_files()[start::173]
    audio, _ = corpus.concatenated(files[:80])
    audio = audio[: int(seconds * RATE)].astype(np.float64)
    return audio / 10 ** (active_level_dbfs(audio) / 20)


def to_int16(x):
    return np.clip(np.round(x), -32768, 32767).astype(np.int16)


def noise(n, seed=3):
    return np.random.default_rng(seed).normal(0.0, 32768 * 10 ** (NOISE_DBFS / 20), n)


# ---------------------------------------------------------------------------- measures

def output_error_track(y, window_s=2.0, hop_s=0.25):
    """Output P.56 active level minus the target (dB) over windows [t, t + window_s],
    t every hop_s: what a listener gets, whatever the AGC does inside."""
    starts = np.arange(0.0, y.size / RATE - window_s + 1e-9, hop_s)
    track = np.array([active_level_dbfs(y[int(t * RATE):int((t + window_s) * RATE)])
                      for t in starts]) - TARGET
    return starts, track


def settling_s(starts, track, start_s, end_s, tol=2.0):
    """From start_s, the time until every window (of those starting before end_s - window)
    is within tol: the output from then on is at the target. None: never."""
    sel = (starts >= start_s - 1e-9) & (starts < end_s - 1e-9)
    s, e = starts[sel], track[sel]
    bad = np.where(np.isnan(e) | (np.abs(e) > tol))[0]
    if bad.size == 0:
        return 0.0
    if bad[-1] == s.size - 1:
        return None  # still outside at the end
    return s[bad[-1] + 1] - start_s


def fmt_s(v):
    return "never" if v is None else f"{v:.1f} s"


def run_levels(agcs, base, levels, seconds):
    rows = []
    for make in agcs:
        for level in levels:
            x = to_int16(base * 10 ** (level / 20) + noise(base.size))
            agc = make()
            y = agc.run(x)
            starts, track = output_error_track(y)
            half = y.size // 2
            rows.append(dict(
                agc=agc.name, level=level,
                settle=settling_s(starts, track, 0.0, seconds - 2.0),
                final=active_level_dbfs(y[half:]) - TARGET,
                worst=float(np.max(np.abs(track[starts >= 1.0]))),
                from1s=active_level_dbfs(y[RATE:]) - TARGET,
            ))
    return rows


def run_steps(agcs, base, pairs, seconds):
    rows = []
    step = int(STEP_AT_S * RATE)
    for make in agcs:
        for before, after in pairs:
            gain = np.where(np.arange(base.size) < step, 10 ** (before / 20), 10 ** (after / 20))
            x = to_int16(base * gain + noise(base.size))
            agc = make()
            y = agc.run(x)
            starts, track = output_error_track(y, window_s=2.0, hop_s=0.1)
            rows.append(dict(
                agc=agc.name, before=before, after=after,
                settle=settling_s(starts, track, STEP_AT_S, seconds - 2.0),
                first=active_level_dbfs(y[step:step + RATE]) - TARGET,
                second=active_level_dbfs(y[step + RATE:step + 2 * RATE]) - TARGET,
                from1s=active_level_dbfs(y[step + RATE:]) - TARGET,
            ))
    return rows


def channels_per_core(make, x, repeats=3):
    best = None
    for _ in range(repeats):
        agc = make()
        t0 = time.process_time()
        agc.run(x)
        dt = time.process_time() - t0
        best = dt if best is None else min(best, dt)
    return (x.size / RATE) / best


def report(seconds=20.0, quick=False):
    """The whole comparison as markdown (bench/dsp_bench.py folds it into RESULTS.md)."""
    lines = []

    def say(*parts):
        lines.append(" ".join(str(p) for p in parts))

    agcs = [OurAgc]
    notes = []
    try:
        speex = compiled("agc_speex", SPEEX_CDEF, SPEEX_SRC, "agc-bench", libraries=["speexdsp"])
        agcs.append(lambda: SpeexAgc(speex))
    except Exception as exc:  # noqa: BLE001 - a peer that cannot be built is reported
        notes.append(f"speexdsp could not be bound: {exc}")
    try:
        webrtc = compiled(
            "agc_webrtc", WEBRTC_CDEF, WEBRTC_SRC, "agc-bench",
            source_extension=".cpp", libraries=["webrtc_audio_processing"],
            include_dirs=["/usr/include/webrtc_audio_processing"],
            define_macros=[("WEBRTC_POSIX", None), ("WEBRTC_AUDIO_PROCESSING_ONLY_BUILD", None)],
            extra_compile_args=["-std=c++11"])
        agcs.append(lambda: WebrtcAgc(webrtc, 9))
    except Exception as exc:  # noqa: BLE001
        notes.append(f"WebRTC could not be bound: {exc}")

    base = speech(seconds, 0)
    levels = [-45, -36, -27, -18, -9, -6] if quick else list(range(-45, -5, 3))
    say(f"AGC benchmark: target {TARGET} dBFS active level (P.56), speech {seconds:.0f} s "
          f"from the corpus, noise {NOISE_DBFS} dBFS, 8 kHz")
    for note in notes:
        say("NOTE:", note)

    rows = run_levels(agcs, base, levels, seconds)
    names = []
    for r in rows:
        if r["agc"] not in names:
            names.append(r["agc"])
    say("\n## From the start: settling (to +-2 dB over every later 2 s window), final error,"
          " P.56 of the output from 1 s on, and the worst 2 s window from 1 s on (dB off target)")
    say("| input dBFS | " + " | ".join(f"{n}: settle / final / P.56 from 1 s / worst 2 s"
                                       for n in names)
          + " |")
    say("|---|" + "---|" * len(names))
    for level in levels:
        cells = []
        for n in names:
            r = next(r for r in rows if r["agc"] == n and r["level"] == level)
            cells.append(f"{fmt_s(r['settle'])} / {r['final']:+.1f} / {r['from1s']:+.1f} / "
                         f"{r['worst']:.1f} dB")
        say(f"| {level} | " + " | ".join(cells) + " |")
    for n in names:
        mine = [r for r in rows if r["agc"] == n]
        settles = [r["settle"] for r in mine]
        worst = "never" if any(s is None for s in settles) else f"{max(settles):.1f} s"
        say(f"- {n}: worst settling {worst}, worst final error "
              f"{max(abs(r['final']) for r in mine):.1f} dB, P.56 from 1 s within +-2 dB at "
              f"{sum(abs(r['from1s']) <= 2 for r in mine)}/{len(mine)} levels")

    pairs = [(-45, -15), (-15, -45), (-36, -6), (-6, -36)]
    base_steps = speech(max(seconds, STEP_AT_S + 8.0), 50)
    steps = run_steps(agcs, base_steps, pairs, base_steps.size / RATE)
    say(f"\n## After a 30 dB step ({STEP_AT_S:.0f} s in): settling, and the output's P.56 level"
          " (dB off target) in the 1st second, the 2nd second, and from 1 s on")
    say("| step dBFS | " + " | ".join(f"{n}: settle / 1st s / 2nd s / from 1 s" for n in names)
          + " |")
    say("|---|" + "---|" * len(names))
    for before, after in pairs:
        cells = []
        for n in names:
            r = next(r for r in steps if r["agc"] == n and r["before"] == before
                     and r["after"] == after)
            cells.append(f"{fmt_s(r['settle'])} / {r['first']:+.1f} / {r['second']:+.1f} / "
                         f"{r['from1s']:+.1f} dB")
        say(f"| {before} -> {after} | " + " | ".join(cells) + " |")

    x = to_int16(base * 10 ** (-30 / 20) + noise(base.size))
    say("\n## Channels per core (8 kHz, each in its own C loop over "
          f"{x.size / RATE:.0f} s of speech)")
    for make in agcs:
        agc = make()
        say(f"- {agc.name}: {channels_per_core(make, x):,.0f}")
    say(f"\n(python {sys.version.split()[0]}, {os.cpu_count()} CPUs)")
    return "\n".join(lines) + "\n"


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--quick", action="store_true", help="fewer input levels")
    args = parser.parse_args()
    sys.stdout.write(report(args.seconds, args.quick))


if __name__ == "__main__":
    main()
