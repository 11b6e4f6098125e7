"""Side-by-side DSP benchmark: ours vs CPython's audioop and spandsp, in one process.

    python bench/dsp_bench.py                 # full run, markdown on stdout
    python bench/dsp_bench.py --output bench/RESULTS.md --json results.json
    python bench/dsp_bench.py --quick         # seconds; for the smoke test

Parts (issue 2, section 4, and issue 3's benchmarks):
  1. G.711 throughput, MB/s of G.711 codes (1 byte per sample) for each direction, for
     ours (appliance.dsp.g711), audioop and spandsp's block API (g711_encode/decode), with
     each one's mismatch count against the G.191 reference over all 65536 inputs / 256
     codes printed next to it.
  2. DTMF channels per core in real time = channels x audio seconds / CPU seconds
     (time.process_time, best of several runs) on 120 channels of recorded speech (the
     Debian corpus of tests/corpus.py; synthetic speech-like noise if it is missing) with
     DTMF digits mixed in: spandsp in its own C loop, spandsp called from Python per
     channel per 20 ms frame, ours through dtmf_process_batch called from Python once per
     tick, and the whole ChannelBank chain (A-law decode + DTMF) once per tick.
  3. DTMF conformance, ours vs spandsp (default settings), on generated digits.
  4. The full receive chain (decode, echo canceller, DTMF, noise suppression, AGC,
     encode): ChannelBank from Python per tick vs spandsp + speexdsp in their own C loop
     (bench/peer_chain.py).
  5-8. AGC, noise suppression, echo canceller and caller ID, each beside its peers: their
     own benchmarks (agc_bench, ns_bench, ec_bench, callerid_bench), run in this process
     and folded in (not in --quick), then issue 3's targets;
  10-11. the board wire protocol's codec and the board driver end to end, 4 boards x 32
     ports at 50 ticks/s (protocol_bench, driver_bench; issue 4).

spandsp is bound through tests/spandsp.py (Debian libspandsp-dev); it is a reference in
this benchmark only.
"""

import argparse
import json
import subprocess
import sys
import sysconfig
import time
import warnings
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))  # the shared references: spandsp, g191, corpus
sys.path.insert(0, str(ROOT / "bench"))  # the other benchmarks, folded in

import g191  # noqa: E402
import machine as bench_machine  # noqa: E402
import spandsp  # noqa: E402
from appliance.dsp import ChannelBank, g711  # noqa: E402
from appliance.dsp._binding import c_array, check, ffi, lib  # noqa: E402
from appliance.dtmf import DtmfDetector, detect, generate  # noqa: E402
from appliance.dtmf.detector import new_states, split_events  # noqa: E402
from appliance.dtmf.digits import DIGITS  # noqa: E402

with warnings.catch_warnings():
    warnings.simplefilter("ignore", DeprecationWarning)
    import audioop  # in the standard library up to 3.12 (audioop-lts from 3.13)

RATE = 8000
FRAME = 160  # one 20 ms tick


# --- machine ---------------------------------------------------------------------------

def machine():
    cc = (sysconfig.get_config_var("CC") or "cc").split()[0]
    try:
        compiler = subprocess.run([cc, "--version"], capture_output=True, text=True,
                                  check=False).stdout.splitlines()[0]
    except (OSError, IndexError):
        compiler = cc
    return bench_machine.machine(numpy=np.__version__, compiler=compiler,
                                 cflags=sysconfig.get_config_var("CFLAGS"),
                                 spandsp="available" if spandsp.load() else "missing")


def cpu_seconds(functions, repeats):
    """{name: best CPU time (process_time) of `repeats` calls}. The peers take turns, one
    call each per round, so that load from other jobs on the machine falls on all alike."""
    best = {name: float("inf") for name in functions}
    for _ in range(repeats):
        for name, function in functions.items():
            t0 = time.process_time()
            function()
            best[name] = min(best[name], time.process_time() - t0)
    return {name: max(t, 1e-9) for name, t in best.items()}


# --- 1. G.711 ----------------------------------------------------------------------------

def speech_like(samples, seed):
    """Noise with a speech-like spectrum tilt and a 4 Hz syllable envelope, int16."""
    rng = np.random.default_rng(seed)
    white = rng.standard_normal(samples + 1)
    tilted = white[1:] + 0.9 * white[:-1]               # low-pass tilt, like voiced speech
    t = np.arange(samples) / RATE
    envelope = 0.25 + 0.75 * np.abs(np.sin(2 * np.pi * 2.0 * t + rng.uniform(0, np.pi)))
    level = 10 ** (rng.uniform(-30, -12, size=samples // 4000 + 1) / 20).repeat(4000)[:samples]
    audio = tilted * envelope * level * 22827.6 / 1.41
    return np.clip(np.round(audio), -32768, 32767).astype(np.int16)


def _audioop(name):
    """audioop's function `name` on numpy arrays (for the mismatch counts)."""
    fn = getattr(audioop, name)

    def run(data):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            return np.frombuffer(fn(data.tobytes(), 2),
                                 dtype=np.int16 if name.endswith("2lin") else np.uint8)
    return run


def g711_rows(sizes, repeats):
    """One row per (law, direction, buffer size): MB/s of each peer and its mismatches."""
    ref = g191.reference()
    sp = spandsp.load()
    mismatches = {}
    for law in ("alaw", "ulaw"):
        enc_op, dec_op = _audioop(f"lin2{law}"), _audioop(f"{law}2lin")
        checks = {"ours": (g711.ENCODERS[law], g711.DECODERS[law]), "audioop": (enc_op, dec_op)}
        if sp:
            coder = spandsp.BlockCoder(law)
            checks["spandsp"] = (coder.encode, coder.decode)
        for name, (encode, decode) in checks.items():
            mismatches[law, "encode", name] = int(
                (np.asarray(encode(g191.ALL_LINEAR)) != ref[f"{law}_encode"]).sum())
            mismatches[law, "decode", name] = int(
                (np.asarray(decode(g191.ALL_CODES)) != ref[f"{law}_decode"]).sum())
    rows = []
    for samples in sizes:
        linear = speech_like(samples, seed=711)
        calls = max(1, 2_000_000 // samples)  # so that each timed run is ~milliseconds
        for law in ("alaw", "ulaw"):
            codes = g711.ENCODERS[law](linear)
            enc_raw, dec_raw = getattr(audioop, f"lin2{law}"), getattr(audioop, f"{law}2lin")
            peers = {
                # Each peer through its own interface: numpy arrays for ours and spandsp,
                # bytes for audioop (no conversions inside the timing).
                "ours": (g711.ENCODERS[law], g711.DECODERS[law], linear, codes),
                "audioop": (lambda b, f=enc_raw: f(b, 2), lambda b, f=dec_raw: f(b, 2),
                            linear.tobytes(), codes.tobytes()),
            }
            if sp:
                coder = spandsp.BlockCoder(law)
                peers["spandsp"] = (coder.encode, coder.decode, linear, codes)
            for direction in ("encode", "decode"):
                runs = {}
                for name, (encode, decode, lin_arg, code_arg) in peers.items():
                    fn, arg = (encode, lin_arg) if direction == "encode" else (decode, code_arg)

                    def run(fn=fn, arg=arg):
                        for _ in range(calls):
                            fn(arg)
                    runs[name] = run
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore", DeprecationWarning)
                    times = cpu_seconds(runs, repeats)
                row = {"law": law, "direction": direction, "samples": samples}
                for name in peers:
                    row[name] = {"mb_per_s": samples * calls / times[name] / 1e6,
                                 "mismatches": mismatches[law, direction, name]}
                row["ours_vs_audioop"] = row["ours"]["mb_per_s"] / row["audioop"]["mb_per_s"]
                if sp:
                    row["ours_vs_spandsp"] = (row["ours"]["mb_per_s"]
                                              / row["spandsp"]["mb_per_s"])
                rows.append(row)
    return rows


# --- 2. DTMF channels per core ---------------------------------------------------------

def board_signal(channels, seconds, seed=120, with_digits=True, with_speech=True):
    """int16 [channels, samples]: speech (recorded if installed) with DTMF digits mixed in.

    Each channel gets a different stretch of the speech and one digit burst (2-4 digits,
    60-100 ms on, random level and twist) every few seconds; `with_digits` or
    `with_speech` False leaves one of them out. Returns (audio, digits sent, source).
    """
    rng = np.random.default_rng(seed)
    samples = int(seconds * RATE)
    pool, source = None, "synthetic speech-like noise"
    try:
        import corpus

        files = [f for d in corpus.SPEECH_DIRS for f in corpus._wavs(d)]
        if files:
            picked = [files[i] for i in rng.choice(len(files), size=min(80, len(files)),
                                                   replace=False)]
            pool = np.concatenate([corpus.load(f) for f in picked])
            source = f"recorded speech, {len(picked)} files of the Debian corpus (tests/corpus.py)"
    except Exception:  # noqa: BLE001 - a missing corpus only changes the signal
        pool = None
    if pool is None or pool.size < RATE:
        pool = speech_like(60 * RATE, seed=seed)
    audio = np.empty((channels, samples), dtype=np.int16)
    keys = np.zeros((channels, samples), dtype=bool)  # where the bursts are
    sent = 0
    for ch in range(channels):
        start = int(rng.integers(0, pool.size))
        audio[ch] = np.resize(np.roll(pool, -start), samples)
        at = int(rng.integers(0, 2 * RATE))
        while with_digits:
            digits = "".join(rng.choice(list(DIGITS), size=int(rng.integers(2, 5))))
            burst = generate(digits, level_dbm0=float(rng.uniform(-25, -5)),
                             twist_db=float(rng.uniform(-4, 2)),
                             on_ms=float(rng.uniform(60, 100)), off_ms=80)
            if at + burst.size > samples:
                break
            # The caller presses keys while the line is otherwise quiet (no double talk).
            audio[ch, at:at + burst.size] = burst
            keys[ch, at:at + burst.size] = True
            sent += len(digits)
            at += burst.size + int(rng.integers(2 * RATE, 5 * RATE))
    if not with_speech:
        audio[~keys] = 0
    return audio, sent, source


def dtmf_rows(channels, seconds, repeats):
    audio, sent, source = board_signal(channels, seconds)
    ticks = audio.shape[1] // FRAME
    audio = np.ascontiguousarray(audio[:, :ticks * FRAME])
    # What the board hands the engine each tick: [channels, FRAME], contiguous.
    linear_ticks = np.ascontiguousarray(audio.reshape(channels, ticks, FRAME).transpose(1, 0, 2))
    alaw_ticks = g711.alaw_encode(linear_ticks)
    # Every implementation gets the audio that crossed the A-law line.
    heard = g711.alaw_decode(alaw_ticks)
    heard_rows = np.ascontiguousarray(heard.transpose(1, 0, 2).reshape(channels, -1))
    channel_seconds = channels * ticks * FRAME / RATE
    peers, found = {}, {}

    def add(name, how, run):
        def once():
            found[name] = run()
        peers[name] = (how, once)

    sp = spandsp.load()
    if sp:
        def spandsp_c():
            receivers = spandsp.DtmfReceivers(channels)
            return int(receivers.run_in_c(heard_rows, FRAME))

        def spandsp_py():
            receivers = spandsp.DtmfReceivers(channels)
            feed, n = receivers.feed, 0
            for tick in heard:
                for ch in range(channels):
                    n += len(feed(ch, tick[ch]))
            return n

        add("spandsp, own C loop", "dtmf_rx over channels x frames, all in C", spandsp_c)
        add("spandsp from Python", "dtmf_rx + dtmf_rx_get per channel per 20 ms frame",
            spandsp_py)

    def ours_batch():
        states = new_states(channels)
        room = channels * (2 * (FRAME // lib.DTMF_SUBBLOCK + 1))
        events = ffi.new("dtmf_event_t[]", room)
        n = 0
        for tick in heard:
            count = check(lib.dtmf_process_batch(states, channels, c_array(tick, np.int16),
                                                 FRAME, events, room), "dtmf_process_batch")
            if count:
                n += len(split_events(events, count)[0])
        return n

    tick_pointers = [ffi.cast("int16_t *", ffi.from_buffer(tick)) for tick in heard]

    def ours_batch_bare():
        states = new_states(channels)
        room = channels * (2 * (FRAME // lib.DTMF_SUBBLOCK + 1))
        events = ffi.new("dtmf_event_t[]", room)
        n = 0
        for pointer in tick_pointers:
            count = lib.dtmf_process_batch(states, channels, pointer, FRAME, events, room)
            for i in range(count):
                n += events[i].kind == lib.DTMF_EVENT_DIGIT
        return n

    def ours_bank(tones=False):
        bank = ChannelBank(channels, law="alaw")
        for ch in range(channels):
            bank.enable(ch, "ns", False)  # this row is decode + DTMF (+ tones): the
            bank.enable(ch, "agc", False)  # voice path has its own row in section 4
            if tones:
                bank.enable_tones(ch)
        n = 0
        for tick in alaw_ticks:
            n += len(bank.process(tick).digits)
        return n

    add("ours, dtmf_process_batch", f"one call per 20 ms tick for {channels} channels",
        ours_batch)
    add("ours, dtmf_process_batch, bare", "the same calls with pointers made before the "
        "loop: the C core's cost without the per-tick checks", ours_batch_bare)
    add("ours, ChannelBank chain", "ChannelBank.process(uint8 A-law [channels, 160]) per tick"
        " (decode + DTMF; call-progress tones off)", ours_bank)
    if hasattr(ChannelBank, "enable_tones"):
        add("ours, ChannelBank chain + tones", "the same, with call-progress tone detection"
            " switched on for every channel", lambda: ours_bank(tones=True))
    times = cpu_seconds({name: once for name, (_, once) in peers.items()}, repeats)
    rows = [{"name": name, "how": how, "cpu_s": times[name],
             "channels_per_core": channel_seconds / times[name], "digits_found": found[name]}
            for name, (how, _) in peers.items()]
    base = next((r for r in rows if r["name"] == "spandsp, own C loop"), None)
    for r in rows:
        r["vs_spandsp_c"] = r["channels_per_core"] / base["channels_per_core"] if base else None
    return {"channels": channels, "audio_s": ticks * FRAME / RATE, "digits_sent": sent,
            "signal": source, "rows": rows}


# --- 4. the full receive chain ----------------------------------------------------------

def chain_rows(channels, seconds, repeats):
    """Channels per core of the whole receive chain of a board: A-law decode, echo
    cancelling against what the box sent, DTMF, noise suppression, AGC, A-law encode.

    The IVR case: the box plays recorded speech to each line (tx) and the line returns its
    echo (G.168 model D2, 8 ms delay, 10 dB ERL, when the models are installed; otherwise a
    plain 8 ms, -10 dB delay) while the caller presses keys (DTMF bursts), with line noise
    at -60 dBm0. Every digit should come through and none of the echo."""
    keys, sent, _ = board_signal(channels, seconds, seed=7, with_speech=False)
    speech, _, source = board_signal(channels, seconds, seed=8, with_digits=False)
    ticks = keys.shape[1] // FRAME
    n = ticks * FRAME
    near, far = keys[:, :n].astype(np.float64), np.ascontiguousarray(speech[:, :n])
    try:
        import g168

        h = g168.echo_path(g168.echo_path_models()["D2"], 8.0, 10.0, far[0])
        path = "G.168 model D2, 8 ms delay, 10 dB ERL"
    except Exception:  # noqa: BLE001 - models not installed: a plain delayed echo
        h = np.zeros(65)
        h[64] = 10 ** (-10 / 20)
        path = "8 ms delay, 10 dB ERL (G.168 models not installed)"
    rng = np.random.default_rng(9)
    line = np.empty((channels, n))
    for ch in range(channels):
        line[ch] = near[ch] + np.convolve(far[ch].astype(np.float64), h)[:n]
    line += rng.normal(0, 22827.6 / np.sqrt(2) * 10 ** (-60 / 20), line.shape)
    rx = g711.alaw_encode(np.clip(np.round(line), -32768, 32767).astype(np.int16))
    rx_ticks = np.ascontiguousarray(rx.reshape(channels, ticks, FRAME).transpose(1, 0, 2))
    tx_ticks = np.ascontiguousarray(far.reshape(channels, ticks, FRAME).transpose(1, 0, 2))
    channel_seconds = channels * n / RATE
    peers, found = {}, {}

    def ours():
        bank = ChannelBank(channels, law="alaw")
        return sum(len(bank.process(rx_ticks[t], tx_ticks[t]).digits) for t in range(ticks))

    peers["ours, ChannelBank"] = ("ChannelBank.process(rx A-law, tx linear) per 20 ms tick "
                                  "from Python: decode, echo canceller, DTMF, NS, AGC, encode",
                                  ours)
    import peer_chain

    pc = peer_chain.load()
    if pc:
        pffi, plib = pc
        voice = np.empty_like(rx)

        def industry():
            return int(plib.peer_chain_board(
                channels, ticks, pffi.from_buffer("uint8_t[]", rx),
                pffi.from_buffer("int16_t[]", far), pffi.from_buffer("uint8_t[]", voice)))

        peers["spandsp + speexdsp, own C loop"] = (
            "spandsp A-law decode, speex_echo_cancellation (64 ms), spandsp dtmf_rx, "
            "speex_preprocess_run (denoise + AGC), spandsp A-law encode; all in C", industry)

    def timed(name, run):
        def once():
            found[name] = run()
        return once

    times = cpu_seconds({name: timed(name, run) for name, (_, run) in peers.items()}, repeats)
    rows = [{"name": name, "how": how, "cpu_s": times[name],
             "channels_per_core": channel_seconds / times[name], "digits_found": found[name]}
            for name, (how, _) in peers.items()]
    base = rows[1]["channels_per_core"] if len(rows) > 1 else None
    for r in rows:
        r["vs_peer"] = r["channels_per_core"] / base if base else None
    return {"channels": channels, "audio_s": n / RATE, "digits_sent": sent, "signal": source,
            "echo_path": path, "rows": rows}


# --- 3. DTMF conformance -------------------------------------------------------------------

def through(audio, law="alaw"):
    return g711.DECODERS[law](g711.ENCODERS[law](audio))


def padded(audio, before=400, after=800):
    return np.concatenate([np.zeros(before, np.int16), audio, np.zeros(after, np.int16)])


def ours_digits(audio):
    return "".join(e.digit for e in detect(audio))


def spandsp_digits(audio):
    receivers = spandsp.DtmfReceivers(1)
    out = ""
    for offset in range(0, audio.size, FRAME):
        out += receivers.feed(0, np.ascontiguousarray(audio[offset:offset + FRAME]))
    # Let it see some silence after the last tone.
    return out + receivers.feed(0, np.zeros(8 * FRAME, np.int16))


def conformance(digits, quick):
    sp = spandsp.load()
    receivers = {"ours": ours_digits}
    if sp:
        receivers["spandsp"] = spandsp_digits
    items = []

    def item(name, requirement, trials, passes):
        """trials: list of (audio, expected digits); a trial passes if passes(got, want)."""
        row = {"item": name, "requirement": requirement, "trials": len(trials)}
        for who, receive in receivers.items():
            row[who] = sum(bool(passes(receive(a), want)) for a, want in trials)
        items.append(row)

    def exact(got, want):
        return got == want

    def tone(d, law="alaw", on_ms=60.0, **kw):
        return through(padded(generate(d, on_ms=on_ms, off_ms=0, **kw)), law)

    item("all 16 digits", "-10 dBm0, 60 ms", [(tone(d), d) for d in DIGITS], exact)
    item("frequency +-1.5%", "accept", [(tone(d, freq_error=e), d) for d in digits
                                        for e in (-0.015, 0.015)], exact)
    item("frequency +-3.5%", "reject", [(tone(d, freq_error=e), "") for d in digits
                                        for e in (-0.035, 0.035)], exact)
    levels = (-4.0, -20.0)
    item("normal twist 8 dB after G.711", "accept (high group 8 dB weaker; A and mu, "
         "low tone at -4 and -20 dBm0)",
         [(tone(d, law=law, level_dbm0=lv, twist_db=-8.0), d) for d in digits
          for law in ("alaw", "ulaw") for lv in levels], exact)
    item("reverse twist 4 dB after G.711", "accept (high group 4 dB stronger)",
         [(tone(d, law=law, level_dbm0=lv, twist_db=4.0), d) for d in digits
          for law in ("alaw", "ulaw") for lv in levels], exact)
    bridged = []
    for d in digits:
        part = generate(d, on_ms=100, off_ms=0)
        bridged.append((through(padded(np.concatenate([part, np.zeros(80, np.int16), part]))), d))
    item("10 ms interruption", "bridged: one digit, not two", bridged, exact)
    item("40 ms tones, 40 ms pauses", "accept every digit of a 40/40 string",
         [(through(padded(generate(digits, on_ms=40, off_ms=40))), digits)], exact)
    item("20 ms tones", "reject", [(tone(d, on_ms=20), "") for d in digits], exact)
    dyn = (0.0, -6.0, -12.0, -18.0, -24.0, -30.0, -36.0)
    item("-36..0 dBm0 per tone", "accept (" + ", ".join(f"{x:g}" for x in dyn) + " dBm0)",
         [(tone(d, level_dbm0=lv, twist_db=0.0), d) for d in digits for lv in dyn], exact)
    return items, timing(quick)


def timing(quick):
    """Reported start/end minus the true tone edges, ms: (mean, max |error|) per side."""
    rng = np.random.default_rng(29)
    trials = 16 if quick else 64
    out = {"trials": trials}
    errors = {"ours": ([], []), "ours key-down per tick": ([], []), "spandsp": ([], []),
              "spandsp per tick": ([], [])}
    for trial in range(trials):
        digit = DIGITS[trial % 16]
        start = int(rng.integers(400, 2000))
        tone = generate(digit, level_dbm0=float(rng.uniform(-30, -5)),
                        on_ms=float(rng.uniform(50, 200)), off_ms=0)
        audio = np.zeros(start + tone.size + 2400, dtype=np.int16)
        audio[start:start + tone.size] = tone
        audio = through(audio)
        end = start + tone.size
        for e in detect(audio)[:1]:
            errors["ours"][0].append(e.start * RATE - start)
            errors["ours"][1].append(e.end * RATE - end)
        detector = DtmfDetector()
        for tick in range(0, audio.size, FRAME):
            detector.feed(audio[tick:tick + FRAME])
            if detector.onsets:  # reported at the end of this tick
                errors["ours key-down per tick"][0].append(tick + FRAME - start)
                break
        if spandsp.load():
            for name, chunk in (("spandsp", 8), ("spandsp per tick", FRAME)):
                edges = spandsp.dtmf_edges(audio, chunk=chunk)
                downs = [p for p, d in edges if d is not None]
                ups = [p for p, d in edges if d is None]
                if downs:
                    errors[name][0].append(downs[0] - start)
                if ups:
                    errors[name][1].append(ups[0] - end)
    for name, (starts, ends) in errors.items():
        out[name] = {
            side: ({"mean_ms": float(np.mean(v)) / 8, "max_abs_ms": float(np.max(np.abs(v))) / 8,
                    "n": len(v)} if v else None)
            for side, v in (("start", starts), ("end", ends))
        }
    return out


# --- report --------------------------------------------------------------------------------

def markdown(result, command):
    m = result["machine"]
    lines = [
        "# DSP benchmark results",
        "",
        f"- Date: {m['date']}",
        f"- Machine: {m['cpu']}, {m['cores']} cores (shared with other jobs while measured)",
        f"- Python {m['python']}, numpy {m['numpy']}; compiler: {m['compiler']}",
        f"- Python's CFLAGS: `{m['cflags']}`; our build adds `-std=c99 -O3 -ffp-contract=fast` (portable, no -march; the DTMF hot loops also get an x86-64-v3 clone picked at run time)",
        f"- spandsp: Debian libspandsp-dev ({m['spandsp']}), built through tests/spandsp.py"
        " with -O3",
        f"- Command: `{command}`",
        *(["- QUICK MODE: tiny sizes for the smoke test; these figures mean nothing."]
          if result["quick"] else []),
        "",
        "## 1. G.711 throughput",
        "",
        "MB/s of G.711 codes (1 byte per sample, so also M samples/s), CPU time, best of "
        f"{result['g711_repeats']} rounds; speech-like audio. Buffer sizes: one board tick "
        "(120 x 160 samples) and a bulk buffer. Mismatches: against the G.191 reference "
        "(tests/g191.py) over all 65536 linear inputs (encode) or all 256 codes (decode).",
        "",
        "| law | direction | samples per call | ours MB/s | audioop MB/s | spandsp MB/s |"
        " ours/audioop | ours/spandsp | mismatches ours / audioop / spandsp |",
        "|---|---|---:|---:|---:|---:|---:|---:|---|",
    ]
    for r in result["g711"]:
        sp = r.get("spandsp")
        lines.append(
            f"| {r['law']} | {r['direction']} | {r['samples']:,} | {r['ours']['mb_per_s']:.0f} | "
            f"{r['audioop']['mb_per_s']:.0f} | "
            + (f"{sp['mb_per_s']:.0f} | " if sp else "n/a | "))
        lines[-1] += (f"{r['ours_vs_audioop']:.2f}x | "
                      + (f"{r['ours_vs_spandsp']:.2f}x | " if sp else "n/a | ")
                      + f"{r['ours']['mismatches']} / {r['audioop']['mismatches']} / "
                      + (f"{sp['mismatches']} |" if sp else "n/a |"))
    d = result["dtmf"]
    lines += [
        "",
        f"## 2. DTMF channels per core in real time ({d['channels']} channels x "
        f"{d['audio_s']:g} s, CPU time, best of {result['dtmf_repeats']})",
        "",
        f"Signal: {d['signal']}, through an A-law channel, with {d['digits_sent']} DTMF"
        " digits mixed in (bursts of 2-4, 60-100 ms, -25..-5 dBm0, twist -4..+2 dB).",
        "Channels per core = channels x audio seconds / CPU seconds.",
        "",
        "| receiver | how it is called | CPU s | channels per core | vs spandsp C loop |"
        " digits found |",
        "|---|---|---:|---:|---:|---:|",
    ]
    for r in d["rows"]:
        ratio = f"{r['vs_spandsp_c']:.2f}x" if r["vs_spandsp_c"] else "n/a"
        lines.append(f"| {r['name']} | {r['how']} | {r['cpu_s']:.3f} | "
                     f"{r['channels_per_core']:.0f} | {ratio} | {r['digits_found']} |")
    items, tm = result["conformance"]
    lines += [
        "",
        "## 3. DTMF conformance (generated digits; spandsp with its default settings)",
        "",
        f"Digits per item: {result['conformance_digits']}. Each cell: trials passed / trials.",
        "",
        "| item | requirement | ours | spandsp |",
        "|---|---|---:|---:|",
    ]
    for it in items:
        sp = f"{it['spandsp']}/{it['trials']}" if "spandsp" in it else "n/a"
        lines.append(f"| {it['item']} | {it['requirement']} | {it['ours']}/{it['trials']} |"
                     f" {sp} |")
    lines += [
        "",
        f"Event times against the true tone edges ({tm['trials']} single digits, 50-200 ms,"
        " -30..-5 dBm0, after A-law), ms: mean error (max |error|), n events.",
        "",
        "| receiver | start | end |",
        "|---|---:|---:|",
    ]
    labels = {
        "ours": "ours, DtmfEvent start/end",
        "ours key-down per tick": "ours, DtmfOnset reported (fed per 20 ms tick, tick end)",
        "spandsp": "spandsp realtime callback (fed 1 ms at a time)",
        "spandsp per tick": "spandsp realtime callback (fed per 20 ms tick, tick end)",
    }
    for key, label in labels.items():
        cells = []
        for side in ("start", "end"):
            v = tm[key][side]
            cells.append(f"{v['mean_ms']:+.1f} ({v['max_abs_ms']:.1f}), n={v['n']}" if v else "-")
        lines.append(f"| {label} | {cells[0]} | {cells[1]} |")
    c = result["chain"]
    lines += [
        "",
        f"## 4. The full receive chain, channels per core ({c['channels']} channels x "
        f"{c['audio_s']:g} s, CPU time, best of {result['chain_repeats']})",
        "",
        f"Signal: the box plays {c['signal']} to every line; the line returns its echo"
        f" ({c['echo_path']}) while the caller presses {c['digits_sent']} DTMF digits in all"
        " (bursts of 2-4), with line noise at -60 dBm0, through A-law.",
        "",
        "| chain | stages | CPU s | channels per core | vs peer | digits found |",
        "|---|---|---:|---:|---:|---:|",
    ]
    for r in c["rows"]:
        ratio = f"{r['vs_peer']:.2f}x" if r["vs_peer"] else "n/a"
        lines.append(f"| {r['name']} | {r['how']} | {r['cpu_s']:.3f} | "
                     f"{r['channels_per_core']:.0f} | {ratio} | {r['digits_found']} |")
    for number, (title, text) in enumerate(result["functions"], start=5):
        lines += ["", f"## {number}. {title}", "", demoted(text).rstrip()]
    lines += ["", "## Targets of issue 2, judged on the figures above", ""] + targets(result)
    lines += [
        "",
        "Notes: CPU time is time.process_time of this process, so other jobs on the machine"
        " cost wall time but not CPU time; they still disturb caches and shared cores, so"
        " peers take turns round by round and the best round counts. audioop is called on"
        " bytes, ours and spandsp on numpy arrays; ours pays ~3-5 us of numpy/cffi"
        " overhead per call, which matters at tick size only. spandsp's DTMF 'own C loop'"
        " is a C function compiled at bench time (tests/spandsp.py) that calls dtmf_rx and"
        " dtmf_rx_get for each channel and frame.",
    ]
    return "\n".join(lines) + "\n"


def demoted(markdown_text):
    """A folded benchmark's headings one level down, under its section of RESULTS.md."""
    return "\n".join("#" + line if line.startswith("#") else line
                     for line in markdown_text.splitlines())


def echo_markdown(result):
    """bench/ec_bench.py's figures as a table."""
    lines = [result["paths"] + ".", ""]
    if result["peers_error"]:
        lines += [f"Peers unavailable: {result['peers_error']}", ""]
    lines += [
        "| canceller | s of far-end speech to 20 dB ERLE (worst / median) | steady ERLE min dB"
        " | double talk: ERLE during / after, dB | near-end level change dB | far-end DTMF"
        " decoded | channels per core (own loop) |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for name, f in result["cancellers"].items():
        lines.append(
            f"| {name} | {f['t20_worst_s']:.1f} / {f['t20_median_s']:.1f} | "
            f"{f['steady_min_db']:.1f} | {f['double_talk_during_db']:.1f} / "
            f"{f['double_talk_after_db']:.1f}{' (diverged)' if f['diverged'] else ''} | "
            f"{f['near_level_db'][0]:+.1f}..{f['near_level_db'][1]:+.1f} | "
            f"{f['dtmf_decoded']} | {f['channels_per_core']:.0f} |")
    lines += ["", "Ours through the batch call (64 channels x 160-sample frames): "
              f"{result['ours_batch_channels_per_core']:.0f} channels per core."]
    return "\n".join(lines) + "\n"


def functions(quick):
    """Issue 3's functions, each beside its peers, from their own benchmarks (run in this
    process): [(title, markdown)]. Skipped in quick mode (each has its own smoke test)."""
    if quick:
        return [("AGC, noise suppression, echo canceller, caller ID, protocol, driver",
                 "Not run in quick mode: bench/agc_bench.py, ns_bench.py, ec_bench.py, "
                 "callerid_bench.py, protocol_bench.py and driver_bench.py each have their "
                 "own.")]
    import agc_bench
    import callerid_bench
    import driver_bench
    import ec_bench
    import ns_bench
    import protocol_bench

    ns = ns_bench.run()
    ec = ec_bench.run()
    cid = callerid_bench.run()
    return [
        ("AGC: ours vs speexdsp vs WebRTC (bench/agc_bench.py)", agc_bench.report()),
        ("Noise suppression: ours vs speexdsp vs WebRTC (bench/ns_bench.py)",
         ns_bench.markdown(ns)),
        ("Line echo canceller: ours vs speexdsp vs spandsp (bench/ec_bench.py)",
         echo_markdown(ec)),
        ("Caller ID FSK receive: ours vs spandsp (bench/callerid_bench.py)",
         callerid_bench.markdown(cid)),
        ("Targets of issue 3, judged on the figures above", part2_targets(ns, ec, cid)),
        ("Board wire protocol: the voiceboard-v1 codec (bench/protocol_bench.py)",
         without_title(protocol_bench.markdown(protocol_bench.run(),
                                               "python bench/protocol_bench.py"))),
        ("Board driver end to end, with the host DSP (bench/driver_bench.py)",
         without_title(driver_bench.markdown(driver_bench.run()))),
    ]


def without_title(markdown_text):
    """A folded report without its own first heading (its section has one)."""
    lines = markdown_text.splitlines()
    return "\n".join(lines[1:] if lines and lines[0].startswith("#") else lines) + "\n"


def part2_targets(ns, ec, cid):
    """Issue 3's measurable targets from the folded benchmarks (AGC: its section's last
    lines, 'P.56 from 1 s within +-2 dB')."""
    lines = [f"- noise suppression: {name.replace('_', ' ')}: " + ("met" if ok else "MISSED")
             for name, ok in ns["targets"].items()]
    f = ec["cancellers"].get("ours")
    if f:
        checks = [
            ("20 dB ERLE within 1 s of far-end speech, every later window (worst path)",
             f"{f['t20_worst_s']:.1f} s", f["t20_worst_s"] <= 1.0),
            ("first 20 dB window within 1 s (worst path)", f"{f['t20_first_worst_s']:.1f} s",
             f["t20_first_worst_s"] <= 1.0),
            ("steady ERLE at least 30 dB (worst path)", f"{f['steady_min_db']:.1f} dB",
             f["steady_min_db"] >= 30.0),
            ("no divergence in double talk", "diverged" if f["diverged"] else "none",
             not f["diverged"]),
            ("near-end speech undamaged (level change)",
             f"{f['near_level_db'][0]:+.1f}..{f['near_level_db'][1]:+.1f} dB",
             max(abs(v) for v in f["near_level_db"]) <= 1.0),
        ]
        lines += [f"- echo canceller: {what}: {value}: " + ("met" if ok else "MISSED")
                  for what, value, ok in checks]
    for fmt, s in cid["summary"].items():
        ratio = s.get("ours_vs_spandsp")
        if ratio:
            lines.append(f"- caller ID {fmt}: ours {ratio:.2f}x spandsp's channels per core "
                         "(no target; sensitivity -40 dBm0 is tested in tests/dsp/test_callerid.py)")
    return "\n".join(lines) + "\n"


def targets(result):
    out = []
    for r in result["g711"]:
        want = 2.0 if r["direction"] == "encode" else 1.0
        ok = r["ours_vs_audioop"] >= want and r["ours"]["mismatches"] == 0
        out.append(f"- G.711 {r['law']} {r['direction']} at {r['samples']:,} samples: "
                   f"{r['ours_vs_audioop']:.2f}x audioop (target {want:g}x, bit-exact): "
                   + ("met" if ok else "MISSED"))
    rows = {r["name"]: r for r in result["dtmf"]["rows"]}
    batch = rows.get("ours, dtmf_process_batch")
    if batch and batch["vs_spandsp_c"]:
        out.append(f"- DTMF through dtmf_process_batch from Python, once per tick for "
                   f"{result['dtmf']['channels']} channels: {batch['vs_spandsp_c']:.2f}x the "
                   "channels per core of spandsp's own C loop (target 2x): "
                   + ("met" if batch["vs_spandsp_c"] >= 2.0 else "MISSED"))
    items, tm = result["conformance"]
    ours_all = all(i["ours"] == i["trials"] for i in items)
    out.append("- DTMF conformance items: ours passes " + ("all" if ours_all else "NOT all")
               + "; spandsp falls short on: "
               + (", ".join(f"{i['item']} ({i['spandsp']}/{i['trials']})" for i in items
                            if "spandsp" in i and i["spandsp"] < i["trials"]) or "none"))
    worst = max(tm["ours"][side]["max_abs_ms"] for side in ("start", "end") if tm["ours"][side])
    out.append(f"- DTMF event times within 10 ms of the true edges: ours max {worst:.1f} ms: "
               + ("met" if worst <= 10.0 else "MISSED")
               + (f"; spandsp's key-down is {tm['spandsp']['start']['mean_ms']:.0f} ms late"
                  " on average" if tm.get("spandsp", {}).get("start") else ""))
    return out


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true",
                        help="tiny sizes for a smoke test (figures meaningless)")
    parser.add_argument("--channels", type=int, default=120)
    parser.add_argument("--seconds", type=float, default=10.0, help="audio per channel")
    parser.add_argument("--output", type=Path, help="also write the markdown here")
    parser.add_argument("--json", type=Path, help="write the raw results as JSON here")
    args = parser.parse_args(argv)
    if args.quick:
        channels, seconds, sizes, repeats, g_repeats = 4, 1.0, (2_000,), 1, 1
        digits = "159D"
    else:
        channels, seconds, sizes, repeats, g_repeats = (args.channels, args.seconds,
                                                        (120 * FRAME, 1_000_000), 9, 9)
        digits = DIGITS
    result = {"machine": machine(), "quick": args.quick, "g711_sizes": sizes,
              "g711_repeats": g_repeats, "dtmf_repeats": repeats,
              "conformance_digits": digits}
    result["g711"] = g711_rows(sizes, g_repeats)
    result["dtmf"] = dtmf_rows(channels, seconds, repeats)
    result["conformance"] = conformance(digits, args.quick)
    result["chain_repeats"] = repeats if args.quick else 3
    result["chain"] = chain_rows(min(channels, 60), seconds, result["chain_repeats"])
    result["functions"] = functions(args.quick)
    command = "python bench/dsp_bench.py " + " ".join(argv if argv is not None else sys.argv[1:])
    text = markdown(result, command.strip())
    sys.stdout.write(text)
    if args.output:
        args.output.write_text(text)
    if args.json:
        args.json.write_text(json.dumps(result, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
