"""The call-progress tone detector (native/cpt.c, appliance.dsp.tones).

Procedures: every tone of every plan (ITU-T E.180 / Telcordia GR-506 / GB/T 3380 /
ETSI TR 101 041 values) recognised over -30..0 dBm0, +/-1.5 % frequency error and +/-10 %
cadence error after G.711 A-law and mu-law; busy within two cadence cycles; start times
within 30 ms; tones in white noise; rejection of off-frequency tones and wrong cadences;
and no false tone on the real speech and music corpus (tests/corpus.py) at three levels.
"""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import corpus
from appliance.dsp import DspError, g711
from appliance.dsp._binding import c_array, ffi, lib
from appliance.dsp.toneplan import Tone, load_plan
from appliance.dsp.tones import (
    ToneDetector,
    classify,
    cpt_config,
    decode_events,
    event_buffer,
    new_states,
    plan_tones,
)

RATE = 8000
PLANS = ("cn", "us", "etsi")
START_TOLERANCE_S = 0.030
LEAD_IN = 1234  # samples of silence before each tone: not a multiple of the 10 ms hop


def total_to_component_level(plan, tone, total_dbm0):
    """Per-component level that gives the tone `total_dbm0` of power in all."""
    spec = plan.tones[tone]
    components = len(spec.elements[0].signatures[0])
    return total_dbm0 - 10 * np.log10(components)


def cycle_s(plan, tone, cadence_error=0.0):
    spec = plan.tones[tone]
    if spec.continuous:
        return spec.recognise_after_s
    return sum(el.seconds[0] for el in spec.elements) * (1 + cadence_error)


def tone_signal(plan, tone, *, level=None, frequency_error=0.0, cadence_error=0.0,
                cycles=3.0, law=None):
    """LEAD_IN silence, the tone for `cycles` cadence cycles, 1 s of silence; G.711'd."""
    seconds = cycle_s(plan, tone, cadence_error) * cycles
    if plan.tones[tone].continuous:
        seconds += 1.0
    per_component = None if level is None else total_to_component_level(plan, tone, level)
    x = plan.render(tone, seconds, level_dbm0=per_component,
                    frequency_error=frequency_error, cadence_error=cadence_error)
    x = np.concatenate([np.zeros(LEAD_IN, np.int16), x, np.zeros(RATE, np.int16)])
    if law is not None:
        x = g711.DECODERS[law](g711.ENCODERS[law](x))
    return x


def level_of(x):
    return 10 * np.log10(np.mean(x.astype(np.float64) ** 2) / (22827.6**2 / 2))


TONE_CASES = [(p, t) for p in PLANS for t in Tone]


@pytest.mark.parametrize("plan_name,tone", TONE_CASES, ids=[f"{p}-{t.value}" for p, t in TONE_CASES])
def test_e180_every_tone_recognised_over_level_frequency_and_cadence_range_after_g711(
        plan_name, tone):
    """Each tone at -30, -20, -10 and 0 dBm0 (total power), frequencies off by -1.5 %, 0
    and +1.5 %, cadence off by -10 %, 0 and +10 %, through A-law and mu-law: exactly
    that tone, once, its start within 30 ms, its level within 1 dB."""
    plan = load_plan(plan_name)
    lead = LEAD_IN / RATE
    for law in ("alaw", "ulaw"):
        for level in (-30.0, -20.0, -10.0, 0.0):
            for ferr in (-0.015, 0.0, 0.015):
                for cerr in (-0.10, 0.0, 0.10):
                    x = tone_signal(plan, tone, level=level, frequency_error=ferr,
                                    cadence_error=cerr, law=law)
                    case = f"{law} {level} dBm0 f{ferr:+} c{cerr:+}"
                    events = classify(x, plan)
                    assert [e.tone for e in events] == [tone], case
                    event = events[0]
                    assert abs(event.start - lead) <= START_TOLERANCE_S, (case, event)
                    assert abs(event.level_dbm0 - level) <= 1.0, (case, event)
                    assert event.end > event.detected > event.start, (case, event)


@pytest.mark.parametrize("plan_name", PLANS)
def test_busy_recognised_within_two_cadence_cycles(plan_name):
    """Busy (and congestion) are reported before two cadence cycles have passed, at the
    slowest cadence (+10 %) and the lowest level."""
    plan = load_plan(plan_name)
    for tone in (Tone.BUSY, Tone.CONGESTION):
        for cerr in (-0.10, 0.0, 0.10):
            x = tone_signal(plan, tone, level=-30.0, cadence_error=cerr, law="alaw")
            detector = ToneDetector(plan)
            started = [e for e in detector.feed(x) if e.end is None]
            assert [e.tone for e in started] == [tone]
            latency = started[0].detected - LEAD_IN / RATE
            assert latency <= 2 * cycle_s(plan, tone, cerr), (tone, cerr, latency)


@pytest.mark.parametrize("plan_name", PLANS)
def test_recognition_times_per_tone(plan_name):
    """Recognition delay from the tone's true start, nominal tone: dial after its
    recognise_after_s, ringback at the second ring, busy/congestion after on-off-on,
    SIT after its three segments (each plus at most 80 ms of decision delay)."""
    plan = load_plan(plan_name)
    for tone in Tone:
        spec = plan.tones[tone]
        x = tone_signal(plan, tone, law="alaw")
        started = [e for e in ToneDetector(plan).feed(x) if e.end is None]
        assert [e.tone for e in started] == [tone]
        latency = started[0].detected - LEAD_IN / RATE
        if spec.continuous:
            expected = spec.recognise_after_s
        else:
            expected = sum(el.seconds[0] for el in
                           (spec.elements * 2)[: spec.recognise_after])
        assert expected <= latency + 0.03 and latency <= expected + 0.08, (tone, latency)


@pytest.mark.parametrize("tone", [Tone.DIAL, Tone.RINGBACK, Tone.BUSY, Tone.CONGESTION])
def test_dual_tones_with_opposite_component_errors_and_oscillator_restarts(tone):
    """North American dual tones with one component 1.5 % high and the other 1.5 % low,
    at -33 and -3 dBm0 per component, through A-law; the dial tone's oscillators restart
    (phase jump) every 3 s and it must stay one tone."""
    from appliance.dsp.tonegen import ToneStep, render

    plan = load_plan("us")
    spec = plan.tones[tone]
    low, high = spec.elements[0].signatures[0]
    for e_low, e_high in ((0.015, -0.015), (-0.015, 0.015)):
        for level in (-33.0, -3.0):
            f = (low * (1 + e_low), high * (1 + e_high))
            if spec.continuous:
                step = ToneStep(f, (level, level), on_ms=3000)
            else:
                step = ToneStep(f, (level, level), on_ms=spec.elements[0].seconds[0] * 1000,
                                off_ms=spec.elements[1].seconds[0] * 1000)
            x = render([step], repeat=True, seconds=20.0)
            x = g711.alaw_decode(g711.alaw_encode(x))
            assert [e.tone for e in classify(x, plan)] == [tone], (e_low, e_high, level)


@pytest.mark.parametrize("plan_name", PLANS)
@pytest.mark.parametrize("gap_ms", [0, 10, 30])
def test_e180_sit_with_silent_intervals_up_to_30_ms_between_segments(plan_name, gap_ms):
    """E.180: SIT segments 330 +/- 70 ms with up to 30 ms of silence between them."""
    from appliance.dsp.tonegen import ToneStep, render

    for offset in range(0, 80, 16):
        steps = [ToneStep((950.0,), (-24.0,), on_ms=330, off_ms=gap_ms),
                 ToneStep((1400.0,), (-24.0,), on_ms=330, off_ms=gap_ms),
                 ToneStep((1800.0,), (-24.0,), on_ms=330, off_ms=1000)]
        x = np.concatenate([np.zeros(offset, np.int16), render(steps, True, 4.0)])
        assert [e.tone for e in classify(x, plan_name)] == [Tone.SIT], offset


@pytest.mark.parametrize("drop_ms", [10, 20, 30])
def test_busy_survives_short_drop_outs_in_each_tone_on(drop_ms):
    plan = load_plan("cn")
    for offset in range(0, 80, 16):
        x = np.concatenate([np.zeros(offset, np.int16), plan.render(Tone.BUSY, 5.0)])
        for cycle in range(7):
            at = offset + cycle * 5600 + 1400
            x[at:at + drop_ms * 8] = 0
        assert [e.tone for e in classify(x, plan)] == [Tone.BUSY], offset


@pytest.mark.parametrize("plan_name", PLANS)
def test_tones_recognised_in_white_noise(plan_name):
    """Every tone at -20 dBm0 with white noise 12 dB below it (in the whole band)."""
    plan = load_plan(plan_name)
    rng = np.random.default_rng(7)
    for tone in Tone:
        for _ in range(3):
            x = tone_signal(plan, tone, level=-20.0).astype(np.float64)
            noise_rms = 22827.6 / np.sqrt(2) * 10 ** ((-20.0 - 12.0) / 20)
            x = np.clip(x + rng.normal(0, noise_rms, x.size), -32768, 32767).astype(np.int16)
            x = g711.alaw_decode(g711.alaw_encode(x))
            events = classify(x, plan)
            assert [e.tone for e in events] == [tone]
            assert abs(events[0].start - LEAD_IN / RATE) <= START_TOLERANCE_S


@pytest.mark.parametrize("plan_name", PLANS)
@pytest.mark.parametrize("error", [-0.07, -0.05, 0.05, 0.07])
def test_tones_off_frequency_by_5_percent_or_more_rejected(plan_name, error):
    plan = load_plan(plan_name)
    for tone in Tone:
        x = tone_signal(plan, tone, level=-10.0, frequency_error=error, law="alaw")
        assert classify(x, plan) == [], tone


def test_440_hz_music_note_is_not_chinese_dial_tone():
    """A4 (440 Hz) is 2.2 % below the 450 Hz of China's tones."""
    n = np.arange(5 * RATE)
    x = (22827.6 * 10 ** (-10 / 20) * np.sin(2 * np.pi * 440 * n / RATE)).astype(np.int16)
    assert classify(x, "cn") == []
    y = (22827.6 * 10 ** (-10 / 20) * np.sin(2 * np.pi * 450 * n / RATE)).astype(np.int16)
    assert [e.tone for e in classify(y, "cn")] == [Tone.DIAL]


def _cadenced(freqs, level, on_s, off_s, seconds):
    from appliance.dsp.tonegen import ToneStep, render

    step = ToneStep(tuple(freqs), (level,) * len(freqs), on_ms=on_s * 1000, off_ms=off_s * 1000)
    return np.concatenate([np.zeros(LEAD_IN, np.int16), render([step], True, seconds)])


@pytest.mark.parametrize("plan_name,freqs,on_s,off_s", [
    ("cn", (450.0,), 0.5, 0.5),     # between busy (0.35) and congestion (0.7)
    ("cn", (450.0,), 0.25, 0.25),   # faster than busy
    ("cn", (450.0,), 0.35, 1.0),    # busy on-time, wrong off-time
    ("cn", (450.0,), 1.0, 2.0),     # ringback ring, silence too short
    ("us", (480.0, 620.0), 2.0, 4.0),  # busy frequencies with ringback's cadence
    ("us", (480.0, 620.0), 0.35, 0.35),  # between reorder and busy
    ("us", (440.0, 480.0), 0.5, 0.5),  # ringback frequencies with busy's cadence
    ("etsi", (425.0,), 0.35, 0.35),
    ("etsi", (425.0,), 0.75, 0.75),
])
def test_wrong_cadence_rejected(plan_name, freqs, on_s, off_s):
    x = _cadenced(freqs, -15.0, on_s, off_s, 20.0)
    assert classify(x, plan_name) == []


@pytest.mark.parametrize("plan_name", PLANS)
def test_sit_segments_in_wrong_order_rejected(plan_name):
    from appliance.dsp.tonegen import ToneStep, render

    steps = [ToneStep((f,), (-24.0,), on_ms=330) for f in (1800.0, 1400.0, 950.0)]
    steps[-1] = ToneStep((950.0,), (-24.0,), on_ms=330, off_ms=1000)
    x = render(steps, repeat=True, seconds=8.0)
    assert classify(x, plan_name) == []


# ---- the real corpus ----------------------------------------------------------------


@pytest.fixture(scope="module")
def corpus_stream():
    """The corpus and, per gain, its A-law'd copy (made once for all plans)."""
    stream, offsets = corpus.concatenated(corpus.speech_files() + corpus.music_files())
    cache = {}

    def at(gain_db):
        if gain_db not in cache:
            x = np.clip(np.rint(stream * 10 ** (gain_db / 20)), -32768, 32767).astype(np.int16)
            cache[gain_db] = g711.alaw_decode(g711.alaw_encode(x))
        return cache[gain_db]

    return at, offsets


CORPUS_CHANNELS = 30


@pytest.mark.needs_system
@pytest.mark.parametrize("gain_db", [0.0, 10.0, -10.0])
@pytest.mark.parametrize("plan_name", PLANS)
def test_no_false_tones_on_real_speech_and_music(corpus_stream, plan_name, gain_db):
    """About 173 minutes of recorded speech and music, at nominal level and 10 dB above
    and below, through A-law: no tone at all (spandsp declared 185 false busy tones on
    it). The stream is cut into 30 channels and run through cpt_process_batch."""
    at, offsets = corpus_stream
    x = at(gain_db)
    per = x.size // CORPUS_CHANNELS
    rows = np.ascontiguousarray(x[: per * CORPUS_CHANNELS].reshape(CORPUS_CHANNELS, per))
    states = new_states(plan_name, CORPUS_CHANNELS)
    events, size = event_buffer(CORPUS_CHANNELS, per)
    count = lib.cpt_process_batch(states, CORPUS_CHANNELS, ffi.NULL, c_array(rows, np.int16),
                                  per, events, size)
    assert count >= 0
    found = decode_events(events, count, plan_name)
    flushed = ffi.new("cpt_event_t[]", lib.CPT_FLUSH_EVENTS)
    for ch in range(CORPUS_CHANNELS):
        k = lib.cpt_flush(ffi.addressof(states, ch), flushed, lib.CPT_FLUSH_EVENTS)
        found += [(ch, e) for _, e in decode_events(flushed, k, plan_name)]
    where = []
    for ch, event in found:
        position = ch * per + int(event.start * RATE)
        source = max((o for o in offsets if o[0] <= position), key=lambda o: o[0])[1]
        where.append((event.tone.value, round(event.start, 2), source.name))
    assert found == [], where


# ---- streaming, batch and API --------------------------------------------------------


def _mixed_signal(seed=3):
    """Busy, then speech-like noise, then dial tone: several events, edges off-hop."""
    plan = load_plan("cn")
    rng = np.random.default_rng(seed)
    busy = plan.render(Tone.BUSY, 2.5, level_dbm0=-20.0)
    noise = rng.normal(0, 800, 6000).astype(np.int16)
    dial = plan.render(Tone.DIAL, 2.2, level_dbm0=-25.0)
    return np.concatenate([np.zeros(333, np.int16), busy, noise, dial, np.zeros(3000, np.int16)])


MIXED = _mixed_signal()


def test_mixed_signal_gives_busy_then_dial():
    assert [e.tone for e in classify(MIXED, "cn")] == [Tone.BUSY, Tone.DIAL]


@settings(max_examples=60, deadline=None)
@given(st.lists(st.integers(min_value=0, max_value=5000), min_size=1, max_size=30))
def test_streaming_equals_one_shot_for_any_chunking(chunks):
    whole = ToneDetector("cn")
    expected = whole.feed(MIXED) + whole.flush()
    detector = ToneDetector("cn")
    got, position = [], 0
    for size in chunks:
        got += detector.feed(MIXED[position:position + size])
        position = min(position + size, MIXED.size)
    got += detector.feed(MIXED[position:])
    got += detector.flush()
    assert got == expected


def test_batch_equals_per_channel_and_skips_disabled_channels():
    plan = load_plan("us")
    signals = [
        tone_signal(plan, Tone.BUSY, law="ulaw"),
        tone_signal(plan, Tone.CONGESTION, law="ulaw"),
        tone_signal(plan, Tone.DIAL, law="ulaw"),
    ]
    frame = 160
    length = min(s.size for s in signals) // frame * frame
    block = np.stack([s[:length] for s in signals])
    channels = block.shape[0]
    states = new_states(plan, channels)
    enabled = np.array([1, 0, 1], dtype=np.uint8)
    before = bytes(ffi.buffer(ffi.addressof(states, 1), ffi.sizeof("cpt_state_t")))
    events, size = event_buffer(channels, frame)
    got = []
    for start in range(0, length, frame):
        tick = np.ascontiguousarray(block[:, start:start + frame])
        n = lib.cpt_process_batch(states, channels, c_array(enabled, np.uint8),
                                  c_array(tick, np.int16), frame, events, size)
        assert n >= 0
        got += decode_events(events, n, plan_tones(plan))
    after = bytes(ffi.buffer(ffi.addressof(states, 1), ffi.sizeof("cpt_state_t")))
    assert before == after
    for ch in (0, 2):
        single = ToneDetector(plan)
        assert [e for c, e in got if c == ch] == single.feed(np.ascontiguousarray(block[ch]))
    assert {c for c, _ in got} == {0, 2}


def test_batch_refuses_an_event_array_too_small_and_does_nothing():
    states = new_states("cn", 2)
    before = bytes(ffi.buffer(states, 2 * ffi.sizeof("cpt_state_t")))
    samples = np.zeros((2, 160), np.int16)
    events = ffi.new("cpt_event_t[]", 1)
    n = lib.cpt_process_batch(states, 2, ffi.NULL, c_array(samples, np.int16), 160, events, 1)
    assert n == lib.CPT_ERR_EVENTS
    assert bytes(ffi.buffer(states, 2 * ffi.sizeof("cpt_state_t"))) == before


def test_event_carries_channel_tone_kind_and_times():
    plan = load_plan("cn")
    x = tone_signal(plan, Tone.BUSY)
    states = new_states(plan, 1)
    events, size = event_buffer(1, x.size)
    n = lib.cpt_process_batch(states, 1, ffi.NULL, c_array(x, np.int16), x.size, events, size)
    kinds = [(events[i].kind, events[i].tone) for i in range(n)]
    busy = plan_tones(plan).index(Tone.BUSY)
    assert kinds == [(lib.CPT_TONE_STARTED, busy), (lib.CPT_TONE_ENDED, busy)]
    started, ended = events[0], events[1]
    assert started.end_sample == -1 and ended.end_sample > started.detected_sample
    assert started.start_sample == ended.start_sample
    assert started.detected_sample == ended.detected_sample


@pytest.mark.parametrize("field,value", [
    ("freqs", 0), ("signatures", 0), ("tones", 0), ("min_purity", 0.2),
    ("freq_tolerance", 0.2), ("min_level_dbm0", 5.0),
])
def test_cpt_init_rejects_bad_config(field, value):
    config = cpt_config("cn")
    setattr(config, field, value)
    state = ffi.new("cpt_state_t *")
    with pytest.raises(DspError):
        from appliance.dsp._binding import check

        check(lib.cpt_init(state, config), "cpt_init")


def test_detector_refuses_other_rates_and_shapes():
    with pytest.raises(ValueError, match="resample"):
        ToneDetector("cn", rate=16000)
    with pytest.raises(ValueError):
        ToneDetector("cn").feed(np.zeros((2, 80), np.int16))
    with pytest.raises(TypeError):
        ToneDetector("cn").feed(np.zeros(80, np.float32))
