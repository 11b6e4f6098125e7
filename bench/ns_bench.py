"""Noise suppression side by side: ours vs speexdsp's preprocessor vs WebRTC's NS.

Run from the project root (after `pip install -e '.[test]'`):
    python bench/ns_bench.py [--files 6] [--channels 256] [--seconds 4]

Quality: real speech (tests/corpus.py) mixed with white, pink, hum and babble noise at
0, 5, 10 and 15 dB SNR (tests/noisy_speech.py); mean PESQ-NB gain (processed minus
noisy) and segmental SNR per SNR, and the PESQ change on clean speech.
Speed: channels per core, each suppressor in a C loop over channels x 160-sample
frames (ours through its batch entry point, one call per frame of all channels).

Peers, bound here only (Debian packages, never linked into the product):
  speexdsp  libspeexdsp-dev: speex_preprocess_run, denoise on, AGC off, 160-sample frames.
  WebRTC    libwebrtc-audio-processing-dev (0.3): its C API WebRtcNs_* (exported by the
            library; the package ships no header for it, so it is declared here), 80-sample
            frames (10 ms), policy 1 ("moderate", AudioProcessing's default level).
"""

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

import corpus  # noqa: E402
import noisy_speech  # noqa: E402

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
    """Compile the peers' harness with cffi into a temporary directory and import it."""
    from cffi import FFI

    ffi = FFI()
    ffi.cdef(_PEERS_CDEF)
    ffi.set_source(
        "_ns_peers",
        _PEERS_SOURCE,
        libraries=["speexdsp", "webrtc_audio_processing", "stdc++", "m"],
        extra_compile_args=["-O2", "-std=c99"],
    )
    tmp = tempfile.mkdtemp(prefix="ns_bench_")
    path = ffi.compile(tmpdir=tmp)
    sys.path.insert(0, tmp)
    import importlib.util

    spec = importlib.util.spec_from_file_location("_ns_peers", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
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


def quality(processors, files, noises=noisy_speech.NOISES, snrs=noisy_speech.SNRS_DB):
    """PESQ gain and segSNR per processor, noise and SNR, and the clean-speech change."""
    rows = {}
    clean_change = {name: [] for name in processors.names}
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
            clean_change[name].append(noisy_speech.pesq_nb(speech, out) - reference)
        for kind in noises:
            for snr in snrs:
                noisy = noisy_speech.mix(speech, snr, kind, seed=index)
                base = noisy_speech.pesq_nb(speech, noisy)
                base_seg = noisy_speech.segmental_snr(speech, noisy)
                for name in processors.names:
                    out = processors.run(name, noisy)
                    if name != "ours":
                        lag = lags.get(name, 0)
                        out = np.concatenate([out[lag:], np.zeros(lag, np.int16)])
                    rows.setdefault((name, kind, snr), []).append((
                        noisy_speech.pesq_nb(speech, out) - base,
                        noisy_speech.segmental_snr(speech, out) - base_seg,
                    ))
    return rows, clean_change, lags


def channels_per_core(peers, channels, seconds, policy=1):
    """Real-time channels one core runs, for each suppressor."""
    files = corpus.speech_files()[:40]
    speech, _ = corpus.concatenated(files)
    signal = noisy_speech.mix(speech, 10, "pink", seed=1)
    frames = int(seconds * 50)
    result = {}
    bank = NoiseSuppressorBank(channels)
    block = np.empty((channels, 160), dtype=np.int16)
    starts = (np.arange(channels) * 7919) % (signal.size - 160 * (frames + 1))
    t0 = time.process_time()
    for f in range(frames):
        for c in range(channels):
            block[c] = signal[starts[c] + f * 160 : starts[c] + f * 160 + 160]
        bank.process(block)
    elapsed = time.process_time() - t0
    # The copying loop above is Python; time it alone and take it out.
    t0 = time.process_time()
    for f in range(frames):
        for c in range(channels):
            block[c] = signal[starts[c] + f * 160 : starts[c] + f * 160 + 160]
    elapsed -= time.process_time() - t0
    result["ours"] = channels * frames * 0.02 / elapsed
    if peers:
        ffi, lib = peers
        ptr = ffi.cast("int16_t *", ffi.from_buffer(signal))
        result["speexdsp"] = channels * frames * 0.02 / lib.speex_loop(
            channels, ptr, signal.size, frames)
        result["webrtc"] = channels * frames * 0.02 / lib.webrtc_loop(
            channels, ptr, signal.size, frames, policy)
    return result


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=5, help="speech files (one per speaker)")
    parser.add_argument("--channels", type=int, default=256)
    parser.add_argument("--seconds", type=float, default=4.0, help="audio per channel, speed")
    parser.add_argument("--policy", type=int, default=1, help="WebRTC NS policy 0..3")
    parser.add_argument("--no-peers", action="store_true")
    parser.add_argument("--no-speed", action="store_true")
    args = parser.parse_args(argv)

    peers = None if args.no_peers else build_peers()
    processors = Processors(peers, policy=args.policy)
    files = noisy_speech.test_files(args.files)
    print(f"files: {', '.join(str(Path(*f.parts[-2:])) for f in files)}")
    rows, clean, lags = quality(processors, files)
    print(f"peer delays found by cross-correlation (samples): {lags}; ours: "
          f"{NoiseSuppressor().delay_samples}")
    names = processors.names
    print("\nmean PESQ-NB gain (processed - noisy), all noises; segSNR gain in dB")
    print("SNR  " + "".join(f"{n:>22}" for n in names))
    for snr in noisy_speech.SNRS_DB:
        cells = []
        for n in names:
            vals = [v for kind in noisy_speech.NOISES for v in rows[(n, kind, snr)]]
            cells.append(f"{np.mean([v[0] for v in vals]):+.2f} ({np.mean([v[1] for v in vals]):+5.1f} dB)")
        print(f"{snr:>3}  " + "".join(f"{c:>22}" for c in cells))
    print("\nper noise, mean PESQ gain at 0/5/10/15 dB")
    for kind in noisy_speech.NOISES:
        print(f"{kind:>7}: " + "   ".join(
            f"{n} " + "/".join(f"{np.mean([v[0] for v in rows[(n, kind, s)]]):+.2f}"
                               for s in noisy_speech.SNRS_DB) for n in names))
    print("\nclean speech PESQ change: " + ", ".join(
        f"{n} {np.mean(clean[n]):+.3f} (worst {np.min(clean[n]):+.3f})" for n in names))
    if not args.no_speed:
        speed = channels_per_core(peers, args.channels, args.seconds, args.policy)
        print("\nchannels per core (real time, 160-sample frames): " + ", ".join(
            f"{n} {v:,.0f}" for n, v in speed.items()))


if __name__ == "__main__":
    main()
