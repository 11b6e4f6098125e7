"""Noise suppression side by side: ours vs speexdsp's preprocessor vs WebRTC's NS.

Run from the project root (after `pip install -e '.[test]'`):
    python bench/ns_bench.py [--files 8] [--channels 256] [--seconds 4] [--json r.json]
    python bench/ns_bench.py --quick        # seconds; the figures mean nothing
From another bench: `run(quick=False) -> dict` (JSON-serialisable) and `markdown(result)`.

Quality: real speech (tests/corpus.py, one file per speaker in turn) mixed at 0, 5, 10
and 15 dB SNR with the noises of tests/noisy_speech.py. The issue's targets are for
stationary and slowly varying noise (white, pink, hum, drift: the "in scope" mean); the
babble of eight talkers is shown too, as a check outside that scope. Per suppressor and
SNR: mean PESQ-NB gain (processed minus noisy) and segmental SNR gain; the PESQ change on
clean speech. Each peer's delay is found by cross-correlation on clean speech and
removed before scoring; ours is removed by its documented delay (which tests/dsp/test_ns.py
checks by cross-correlation).
Speed: channels per core (real-time channels one core runs), CPU time of this process,
best of 3 rounds taken in turn, over channels x 20 ms frames: ours through its batch
entry point called from Python once per frame of all channels (the product's way), each
peer in its own C loop over channels.

Peers, bound here only (Debian packages, never linked into the product):
  speexdsp  libspeexdsp-dev: speex_preprocess_run, denoise on, AGC off, 160-sample frames.
  WebRTC    libwebrtc-audio-processing-dev (0.3): its C API WebRtcNs_* (exported by the
            library; the package ships no header for it, so it is declared here), 80-sample
            frames (10 ms), policy 1 ("moderate", AudioProcessing's default level).
"""

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

import corpus  # noqa: E402
import noisy_speech  # noqa: E402
from cffi_reference import compiled  # noqa: E402

from appliance.dsp.ns import NoiseSuppressor, NoiseSuppressorBank  # noqa: E402

_PEERS_CDEF = """
int speex_run(int16_t *x, size_t samples);
double speex_loop(size_t channels, const int16_t *signal, size_t samples, size_t frames);
int webrtc_run(int16_t *x, size_t samples, int policy);
double webrtc_loop(size_t channels, const int16_t *signal, size_t samples, size_t frames,
                   int policy);
"""

_PEERS_SOURCE = r"""
#include <stdlib.h>
#include <time.h>
#include <speex/speex_preprocess.h>

typedef struct NsHandleT NsHandle;
NsHandle *WebRtcNs_Create(void);
void WebRtcNs_Free(NsHandle *inst);
int WebRtcNs_Init(NsHandle *inst, uint32_t fs);
int WebRtcNs_set_policy(NsHandle *inst, int mode);
void WebRtcNs_Analyze(NsHandle *inst, const float *spframe);
void WebRtcNs_Process(NsHandle *inst, const float *const *spframe, size_t num_bands,
                      float *const *outframe);

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
    return (double) t.tv_sec + 1e-9 * (double) t.tv_nsec;
}

static SpeexPreprocessState *speex_new(void)
{
    SpeexPreprocessState *st = speex_preprocess_state_init(160, 8000);
    int on = 1, off = 0;
    speex_preprocess_ctl(st, SPEEX_PREPROCESS_SET_DENOISE, &on);
    speex_preprocess_ctl(st, SPEEX_PREPROCESS_SET_AGC, &off);
    speex_preprocess_ctl(st, SPEEX_PREPROCESS_SET_DEREVERB, &off);
    return st;
}

int speex_run(int16_t *x, size_t samples)
{
    SpeexPreprocessState *st = speex_new();
    for (size_t i = 0; i + 160 <= samples; i += 160)
        speex_preprocess_run(st, x + i);
    speex_preprocess_state_destroy(st);
    return 0;
}

double speex_loop(size_t channels, const int16_t *signal, size_t samples, size_t frames)
{
    SpeexPreprocessState **st = malloc(channels * sizeof *st);
    int16_t *buf = malloc(channels * 160 * sizeof *buf);
    for (size_t c = 0; c < channels; c++)
        st[c] = speex_new();
    double t0 = now();
    for (size_t f = 0; f < frames; f++)
        for (size_t c = 0; c < channels; c++) {
            size_t start = ((c * 7919 + f) * 160) % (samples - 160);
            for (int i = 0; i < 160; i++)
                buf[c * 160 + (size_t) i] = signal[start + (size_t) i];
            speex_preprocess_run(st[c], buf + c * 160);
        }
    double elapsed = now() - t0;
    for (size_t c = 0; c < channels; c++)
        speex_preprocess_state_destroy(st[c]);
    free(st);
    free(buf);
    return elapsed;
}

static NsHandle *webrtc_new(int policy)
{
    NsHandle *h = WebRtcNs_Create();
    WebRtcNs_Init(h, 8000);
    WebRtcNs_set_policy(h, policy);
    return h;
}

static void webrtc_frame(NsHandle *h, int16_t *x)
{
    float in[80], out[80];
    const float *inp = in;
    float *outp = out;
    for (int i = 0; i < 80; i++)
        in[i] = (float) x[i];
    WebRtcNs_Analyze(h, in);
    WebRtcNs_Process(h, &inp, 1, &outp);
    for (int i = 0; i < 80; i++) {
        float v = out[i];
        x[i] = (int16_t) (v > 32767.f ? 32767.f : v < -32768.f ? -32768.f : v);
    }
}

int webrtc_run(int16_t *x, size_t samples, int policy)
{
    NsHandle *h = webrtc_new(policy);
    for (size_t i = 0; i + 80 <= samples; i += 80)
        webrtc_frame(h, x + i);
    WebRtcNs_Free(h);
    return 0;
}

double webrtc_loop(size_t channels, const int16_t *signal, size_t samples, size_t frames,
                   int policy)
{
    NsHandle **h = malloc(channels * sizeof *h);
    int16_t *buf = malloc(channels * 160 * sizeof *buf);
    for (size_t c = 0; c < channels; c++)
        h[c] = webrtc_new(policy);
    double t0 = now();
    for (size_t f = 0; f < frames; f++)
        for (size_t c = 0; c < channels; c++) {
            size_t start = ((c * 7919 + f) * 160) % (samples - 160);
            for (int i = 0; i < 160; i++)
                buf[c * 160 + (size_t) i] = signal[start + (size_t) i];
            webrtc_frame(h[c], buf + c * 160);
            webrtc_frame(h[c], buf + c * 160 + 80);
        }
    double elapsed = now() - t0;
    for (size_t c = 0; c < channels; c++)
        WebRtcNs_Free(h[c]);
    free(h);
    free(buf);
    return elapsed;
}
"""


def build_peers():
    """Compile the peers' harness with cffi (into build/ns-bench/) and import it."""
    module = compiled("ns_peers", _PEERS_CDEF, _PEERS_SOURCE, "ns-bench",
                      libraries=["speexdsp", "webrtc_audio_processing", "stdc++", "m"],
                      extra_compile_args=["-O2", "-std=c99"])
    return module.ffi, module.lib


def _aligned(reference, processed, max_lag=400):
    """processed shifted by its delay against reference (found by cross-correlation)."""
    r = reference.astype(np.float64)
    p = processed.astype(np.float64)
    n = r.size
    spectrum = np.fft.rfft(p, 2 * n) * np.conj(np.fft.rfft(r, 2 * n))
    xc = np.fft.irfft(spectrum, 2 * n)[: max_lag + 1]
    lag = int(np.argmax(xc))
    return np.concatenate([processed[lag:], np.zeros(lag, dtype=processed.dtype)]), lag


class Processors:
    """Each suppressor as a function int16 -> int16 of the same length, delay removed."""

    def __init__(self, peers=None, policy=1):
        self.peers = peers
        self.policy = policy
        self.names = ["ours"] + (["speexdsp", "webrtc"] if peers else [])

    def run(self, name, x):
        x = np.ascontiguousarray(x, dtype=np.int16)
        if name == "ours":
            ns = NoiseSuppressor()
            padded = np.concatenate([x, np.zeros(ns.delay_samples, dtype=np.int16)])
            return ns.process(padded)[ns.delay_samples :]
        ffi, lib = self.peers
        y = x.copy()
        if name == "speexdsp":
            lib.speex_run(ffi.cast("int16_t *", ffi.from_buffer(y)), y.size)
        else:
            lib.webrtc_run(ffi.cast("int16_t *", ffi.from_buffer(y)), y.size, self.policy)
        return y


IN_SCOPE = tuple(k for k in noisy_speech.NOISES if k != "babble")
# Issue 3's targets.
CLEAN_DROP_MAX = 0.1
SPEED_VS_SPEEXDSP = 2.0


def _mean(values):
    return float(np.mean(values)) if values else float("nan")


def quality(processors, files, noises=noisy_speech.NOISES, snrs=noisy_speech.SNRS_DB):
    """Scores per processor: {"pesq": {(noise, snr): [gain per file]}, "seg": {...},
    "clean": [PESQ change per file]}, and the peers' delays in samples."""
    scores = {name: {"pesq": {}, "seg": {}, "clean": []} for name in processors.names}
    lags = {}
    for index, path in enumerate(files):
        speech = corpus.load(path)
        reference = noisy_speech.pesq_nb(speech, speech)
        for name in processors.names:
            out = processors.run(name, speech)
            if name != "ours":
                if name not in lags:
                    lags[name] = _aligned(speech, out)[1]
                out = np.concatenate([out[lags[name]:], np.zeros(lags[name], np.int16)])
            scores[name]["clean"].append(noisy_speech.pesq_nb(speech, out) - reference)
        for kind in noises:
            for snr in snrs:
                noisy = noisy_speech.mix(speech, snr, kind, seed=index)
                base = noisy_speech.pesq_nb(speech, noisy)
                base_seg = noisy_speech.segmental_snr(speech, noisy)
                for name in processors.names:
                    out = processors.run(name, noisy)
                    if name != "ours":
                        lag = lags[name]
                        out = np.concatenate([out[lag:], np.zeros(lag, np.int16)])
                    s = scores[name]
                    s["pesq"].setdefault((kind, snr), []).append(
                        noisy_speech.pesq_nb(speech, out) - base)
                    s["seg"].setdefault((kind, snr), []).append(
                        noisy_speech.segmental_snr(speech, out) - base_seg)
    return scores, lags


def _frames(channels, seconds):
    """int16 [frames, channels, 160]: noisy speech, a different stretch per channel."""
    files = corpus.speech_files()[:40]
    speech, _ = corpus.concatenated(files)
    signal = noisy_speech.mix(speech, 10, "pink", seed=1)
    frames = max(1, int(seconds * 50))
    starts = (np.arange(channels) * 7919) % (signal.size - 160 * (frames + 1))
    index = starts[None, :, None] + 160 * np.arange(frames)[:, None, None] + np.arange(160)
    return signal, np.ascontiguousarray(signal[index])


def channels_per_core(peers, channels, seconds, policy=1, rounds=3):
    """Real-time channels per core for each suppressor, best of `rounds` taken in turn."""
    signal, blocks = _frames(channels, seconds)
    frames = blocks.shape[0]
    audio_s = channels * frames * 0.02

    def ours():
        bank = NoiseSuppressorBank(channels)
        t0 = time.process_time()
        for block in blocks:
            bank.process(block)
        return time.process_time() - t0

    runs = {"ours": ours}
    if peers:
        ffi, lib = peers
        ptr = ffi.cast("int16_t *", ffi.from_buffer(signal))
        runs["speexdsp"] = lambda: lib.speex_loop(channels, ptr, signal.size, frames)
        runs["webrtc"] = lambda: lib.webrtc_loop(channels, ptr, signal.size, frames, policy)
    best = {name: float("inf") for name in runs}
    for _ in range(rounds):
        for name, timed in runs.items():
            best[name] = min(best[name], timed())
    return {name: audio_s / max(t, 1e-9) for name, t in best.items()}


def run(quick=False, files=8, channels=256, seconds=4.0, policy=1, peers=True, speed=True):
    """The whole benchmark; returns a JSON-serialisable dict (see markdown() for a table).

    quick: one file and a few channels for a smoke test (figures meaningless).
    Keys: machine-independent settings, "delays" (samples), and per suppressor name
    ("ours", "speexdsp", "webrtc"): "pesq_gain" {snr: mean over the in-scope noises},
    "pesq_gain_all" (babble included), "segsnr_gain" {snr: dB, in scope},
    "per_noise" {noise: {snr: mean PESQ gain}}, "clean_change" (mean) and
    "clean_change_worst", "channels_per_core"; "targets" {name: bool}. SNR keys are
    strings ("0", "5", "10", "15"), as after a JSON round trip.
    """
    if quick:
        files, channels, seconds = 1, 8, 0.2
    built = build_peers() if peers else None
    processors = Processors(built, policy=policy)
    chosen = noisy_speech.test_files(files)
    scores, lags = quality(processors, chosen)
    snrs = noisy_speech.SNRS_DB
    result = {
        "quick": quick,
        "files": [str(Path(*f.parts[-2:])) for f in chosen],
        "snrs_db": list(snrs),
        "noises": list(noisy_speech.NOISES),
        "in_scope_noises": list(IN_SCOPE),
        "webrtc_policy": policy,
        "delays": {"ours": int(NoiseSuppressor().delay_samples), **lags},
        "suppressors": {},
    }
    for name in processors.names:
        s = scores[name]
        pick = lambda table, snr, kinds: [v for k in kinds for v in table[(k, snr)]]  # noqa: E731
        result["suppressors"][name] = {
            "pesq_gain": {snr: _mean(pick(s["pesq"], snr, IN_SCOPE)) for snr in snrs},
            "pesq_gain_all": {snr: _mean(pick(s["pesq"], snr, noisy_speech.NOISES))
                              for snr in snrs},
            "segsnr_gain": {snr: _mean(pick(s["seg"], snr, IN_SCOPE)) for snr in snrs},
            "per_noise": {k: {snr: _mean(s["pesq"][(k, snr)]) for snr in snrs}
                          for k in noisy_speech.NOISES},
            "clean_change": _mean(s["clean"]),
            "clean_change_worst": float(np.min(s["clean"])),
        }
    if speed:
        cpc = channels_per_core(built, channels, seconds, policy, rounds=1 if quick else 3)
        result["speed"] = {"channels": channels, "audio_s_per_channel": seconds,
                           "rounds": 1 if quick else 3}
        for name, v in cpc.items():
            result["suppressors"][name]["channels_per_core"] = v
    ours = result["suppressors"]["ours"]
    targets = {"clean_drop_under_0_1": -ours["clean_change"] < CLEAN_DROP_MAX}
    if "webrtc" in result["suppressors"]:
        w = result["suppressors"]["webrtc"]
        for snr in snrs:
            targets[f"pesq_gain_at_least_webrtc_{snr}db"] = (
                ours["pesq_gain"][snr] >= w["pesq_gain"][snr])
    if speed and "speexdsp" in result["suppressors"]:
        targets["channels_2x_speexdsp"] = (
            ours["channels_per_core"]
            >= SPEED_VS_SPEEXDSP * result["suppressors"]["speexdsp"]["channels_per_core"])
    result["targets"] = targets
    # JSON keys must be strings.
    return json.loads(json.dumps(result))


def markdown(result, command="python bench/ns_bench.py"):
    """The result as a markdown section (for bench/RESULTS.md)."""
    sup = result["suppressors"]
    names = list(sup)
    snrs = [str(s) for s in result["snrs_db"]]
    lines = [
        "## Noise suppression (issue 3): ours vs speexdsp vs WebRTC",
        "",
        f"- Command: `{command}`",
        *(["- QUICK MODE: one file and a few channels; these figures mean nothing."]
          if result["quick"] else []),
        f"- Speech: {len(result['files'])} real recordings ({', '.join(result['files'])}),"
        f" each mixed with {', '.join(result['noises'])} noise (tests/noisy_speech.py) at"
        f" {'/'.join(snrs)} dB SNR. In scope (stationary and slowly varying):"
        f" {', '.join(result['in_scope_noises'])}.",
        f"- Delays removed before scoring (samples): "
        + ", ".join(f"{n} {d}" for n, d in result["delays"].items())
        + f"; WebRTC policy {result['webrtc_policy']}.",
        "",
        "Mean PESQ-NB gain (processed minus noisy) over the in-scope noises, with the mean"
        " segmental SNR gain:",
        "",
        "| SNR | " + " | ".join(names) + " |",
        "|---:|" + "---:|" * len(names),
    ]
    for snr in snrs:
        lines.append(f"| {snr} dB | " + " | ".join(
            f"{sup[n]['pesq_gain'][snr]:+.2f} ({sup[n]['segsnr_gain'][snr]:+.1f} dB)"
            for n in names) + " |")
    lines += ["", "Mean PESQ-NB gain per noise at " + "/".join(snrs) + " dB SNR:", "",
              "| noise | " + " | ".join(names) + " |", "|---|" + "---|" * len(names)]
    for kind in result["noises"]:
        lines.append(f"| {kind} | " + " | ".join(
            "/".join(f"{sup[n]['per_noise'][kind][snr]:+.2f}" for snr in snrs)
            for n in names) + " |")
    lines.append("| all five | " + " | ".join(
        "/".join(f"{sup[n]['pesq_gain_all'][snr]:+.2f}" for snr in snrs) for n in names)
        + " |")
    lines += ["", "| | " + " | ".join(names) + " |", "|---|" + "---:|" * len(names),
              "| PESQ change on clean speech, mean (worst) | " + " | ".join(
                  f"{sup[n]['clean_change']:+.3f} ({sup[n]['clean_change_worst']:+.3f})"
                  for n in names) + " |"]
    if "speed" in result:
        sp = result["speed"]
        lines.append(f"| channels per core ({sp['channels']} channels x "
                     f"{sp['audio_s_per_channel']:g} s, best of {sp['rounds']}) | " + " | ".join(
                         f"{sup[n]['channels_per_core']:,.0f}" for n in names) + " |")
    lines += ["", "Targets: " + ", ".join(
        f"{k} {'met' if v else 'MISSED'}" for k, v in result["targets"].items()), "", ""]
    return "\n".join(lines)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=8, help="speech files (speakers in turn)")
    parser.add_argument("--channels", type=int, default=256)
    parser.add_argument("--seconds", type=float, default=4.0, help="audio per channel, speed")
    parser.add_argument("--policy", type=int, default=1, help="WebRTC NS policy 0..3")
    parser.add_argument("--quick", action="store_true", help="smoke test; figures meaningless")
    parser.add_argument("--no-peers", action="store_true")
    parser.add_argument("--no-speed", action="store_true")
    parser.add_argument("--json", type=Path, help="also write the raw result here")
    args = parser.parse_args(argv)
    result = run(quick=args.quick, files=args.files, channels=args.channels,
                 seconds=args.seconds, policy=args.policy, peers=not args.no_peers,
                 speed=not args.no_speed)
    command = "python bench/ns_bench.py " + " ".join(argv if argv is not None else sys.argv[1:])
    sys.stdout.write(markdown(result, command.strip()))
    if args.json:
        args.json.write_text(json.dumps(result, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
