"""The 1200 baud FSK core (native/fsk.c): V.23 and Bell 202 transmitter and receiver.

Levels are dBm0 (0 dBm0 sine peak 22827.6). Noise is white over the whole 0-4 kHz band and
SNR is the FSK signal's power over the noise's total power.
"""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from appliance.dsp import DspError
from appliance.dsp._binding import c_array, ffi, lib
from appliance.dsp.fsk import (
    FskEventKind,
    FskModulator,
    FskReceiver,
    FskReceiverBank,
    TONES_HZ,
    frame_bytes,
    mark_bits,
    modulate,
    seizure_bits,
)

DBM0_PEAK = 22827.6
STANDARDS = ["v23", "bell202"]
MESSAGE = bytes(range(0, 256, 7)) + b"\x00\xff\x55\xaa"


def level_dbm0(x):
    return 10 * np.log10(np.mean(x.astype(np.float64) ** 2) / (DBM0_PEAK**2 / 2))


def peak_hz(x, rate=8000):
    spectrum = np.abs(np.fft.rfft(x.astype(np.float64) * np.hanning(x.size)))
    return np.argmax(spectrum) * rate / x.size


def burst(data, standard, level=-13.0, twist_db=0.0, freq_error=0.0, seizure=300, marks=180):
    bits = np.concatenate([seizure_bits(seizure), mark_bits(marks), frame_bytes(data),
                           mark_bits(4)])
    signal = modulate(bits, standard, level, twist_db, freq_error)
    gap = np.zeros(800, dtype=np.int16)
    return np.concatenate([gap, signal, gap])


def add_noise(x, noise_dbm0, seed):
    rng = np.random.default_rng(seed)
    sigma = DBM0_PEAK / np.sqrt(2) * 10 ** (noise_dbm0 / 20)
    y = x.astype(np.float64) + rng.normal(0.0, sigma, x.size)
    return np.clip(np.round(y), -32768, 32767).astype(np.int16)


def received(x):
    return bytes(e.value for e in FskReceiver().feed(x) if e.kind == FskEventKind.BYTE)


# ---- Transmitter ----

@pytest.mark.parametrize("standard", STANDARDS)
def test_transmitter_mark_and_space_frequencies_and_level(standard):
    mark_hz, space_hz = TONES_HZ[standard]
    for bit, hz in ((1, mark_hz), (0, space_hz)):
        x = modulate(np.full(1200, bit, np.uint8), standard, level_dbm0=-13.0)
        assert abs(peak_hz(x) - hz) <= 1.0
        assert abs(level_dbm0(x) + 13.0) < 0.05


def test_transmitter_twist_sets_space_level_apart():
    x = modulate(np.zeros(1200, np.uint8), "v23", level_dbm0=-20.0, twist_db=6.0)
    assert abs(level_dbm0(x) + 14.0) < 0.05


@pytest.mark.parametrize("standard", STANDARDS)
def test_transmitter_is_continuous_phase(standard):
    """No jumps at bit edges: each step is no larger than the faster tone's sine allows."""
    rng = np.random.default_rng(3)
    x = modulate(rng.integers(0, 2, 2000).astype(np.uint8), standard, level_dbm0=0.0)
    fastest = max(TONES_HZ[standard])
    bound = DBM0_PEAK * 2 * np.sin(np.pi * fastest / 8000) + 2
    assert np.max(np.abs(np.diff(x.astype(np.int64)))) <= bound


def test_transmitter_keeps_the_1200_baud_grid_across_calls():
    bits = np.random.default_rng(4).integers(0, 2, 999).astype(np.uint8)
    whole = modulate(bits, "bell202")
    assert whole.size == int(np.ceil(999 * 8000 / 1200))
    modulator = FskModulator("bell202")
    parts = [modulator.modulate(bits[i:i + 7]) for i in range(0, bits.size, 7)]
    np.testing.assert_array_equal(np.concatenate(parts), whole)


def test_frame_bytes_is_start_lsb_first_stop():
    np.testing.assert_array_equal(frame_bytes(b"\x01\x80"),
                                  [0, 1, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 1, 1])


def test_transmitter_rejects_bad_config():
    with pytest.raises(ValueError, match="unknown FSK standard"):
        modulate([1], "v21")
    with pytest.raises(DspError):
        modulate([1], "v23", level_dbm0=10.0)


# ---- Receiver ----

@pytest.mark.parametrize("standard", STANDARDS)
def test_all_byte_values_received(standard):
    data = bytes(range(256))
    assert received(burst(data, standard)) == data


@pytest.mark.parametrize("standard", STANDARDS)
@pytest.mark.parametrize("level", [-40.0, -35.0, -30.0, -25.0, -20.0, -15.0, -10.0, -5.0])
def test_dynamic_range_minus40_to_minus5_dbm0(standard, level):
    assert received(burst(MESSAGE, standard, level)) == MESSAGE


@pytest.mark.parametrize("standard", STANDARDS)
def test_no_carrier_below_threshold(standard):
    events = FskReceiver().feed(burst(MESSAGE, standard, level=-55.0))
    assert events == []


@pytest.mark.parametrize("standard", STANDARDS)
@pytest.mark.parametrize("twist_db", [-6.0, 6.0])
@pytest.mark.parametrize("freq_error", [-0.015, 0.0, 0.015])
def test_mark_space_twist_and_frequency_offset(standard, twist_db, freq_error):
    for level in (-40.0, -10.0):
        x = burst(MESSAGE, standard, level, twist_db=twist_db, freq_error=freq_error)
        assert received(x) == MESSAGE


@pytest.mark.parametrize("standard", STANDARDS)
@pytest.mark.parametrize("offset_hz", [-10.0, 10.0])
def test_frequency_offset_10_hz(standard, offset_hz):
    mark_hz, space_hz = TONES_HZ[standard]
    config = ffi.new("fsk_tx_config_t *")
    lib.fsk_tx_config_standard(config, lib.FSK_V23 if standard == "v23" else lib.FSK_BELL202,
                               -30.0)
    config.mark_hz = mark_hz + offset_hz
    config.space_hz = space_hz + offset_hz
    state = ffi.new("fsk_tx_state_t *")
    assert lib.fsk_tx_init(state, config) == 0
    bits = np.concatenate([seizure_bits(300), mark_bits(180), frame_bytes(MESSAGE),
                           mark_bits(4)])
    out = np.zeros(lib.fsk_tx_samples(config, bits.size), np.int16)
    n = lib.fsk_tx_process(state, c_array(bits, np.uint8), bits.size,
                           c_array(out, np.int16, writable=True), out.size)
    assert n == out.size
    assert received(np.concatenate([np.zeros(400, np.int16), out, np.zeros(400, np.int16)])) \
        == MESSAGE


@pytest.mark.parametrize("standard", STANDARDS)
@pytest.mark.parametrize("snr_db", [10.0, 15.0, 20.0])
@pytest.mark.parametrize("level", [-40.0, -20.0])
def test_white_noise_snr_10_db(standard, snr_db, level):
    """At 10 dB SNR (whole-band white noise) every byte of 20 bursts is right."""
    for seed in range(20):
        x = add_noise(burst(MESSAGE, standard, level), level - snr_db, seed)
        assert MESSAGE in received(x)


@pytest.mark.parametrize("standard,mark_hz", [("v23", 1300), ("bell202", 1200)])
def test_channel_seizure_and_mark_signal_events(standard, mark_hz):
    events = FskReceiver().feed(burst(b"\x80", standard, level=-30.0))
    kinds = [e.kind for e in events]
    assert kinds[0] == FskEventKind.CARRIER_ON and kinds[-1] == FskEventKind.CARRIER_OFF
    seizure = [e for e in events if e.kind == FskEventKind.SEIZURE]
    marks = [e for e in events if e.kind == FskEventKind.MARK]
    assert len(seizure) == 1 and seizure[0].value == 40
    first = marks[0]
    assert first.value == 40 and abs(first.mark_hz - mark_hz) <= 10
    assert first.standard == standard
    # The mark signal starts 300 bits after the carrier and is found 40 bits into it.
    start = events[0].position
    assert abs(first.position - (start + 340 * 8000 / 1200)) < 20
    byte = [e for e in events if e.kind == FskEventKind.BYTE]
    assert [(e.value, e.framing_error) for e in byte] == [(0x80, False)]


def test_mark_signal_without_seizure_is_enough():
    """GR-30 on call waiting and some ETSI variants send no channel seizure."""
    events = FskReceiver().feed(burst(MESSAGE, "bell202", seizure=0, marks=80))
    assert not any(e.kind == FskEventKind.SEIZURE for e in events)
    assert bytes(e.value for e in events if e.kind == FskEventKind.BYTE) == MESSAGE


def test_no_bytes_without_a_mark_signal():
    """Data that does not follow a steady mark is not reported (speech, modems)."""
    bits = np.concatenate([seizure_bits(300), frame_bytes(MESSAGE)])
    events = FskReceiver().feed(modulate(bits, "v23"))
    assert not any(e.kind in (FskEventKind.BYTE, FskEventKind.MARK) for e in events)


def test_framing_error_is_flagged():
    bits = np.concatenate([mark_bits(180), frame_bytes(b"\x41")[:-1], [0, 0, 0],
                           mark_bits(20)]).astype(np.uint8)
    events = FskReceiver().feed(modulate(bits, "v23"))
    byte = [e for e in events if e.kind == FskEventKind.BYTE]
    assert byte[0].value == 0x41 and byte[0].framing_error


def test_second_message_on_a_carrier_that_never_drops():
    """A noisy line keeps the carrier up: the next message's mark signal is still found."""
    gap = modulate(mark_bits(600), "bell202", level_dbm0=-20.0)
    first = np.concatenate([seizure_bits(300), mark_bits(180), frame_bytes(b"\x01\x02")])
    second = np.concatenate([seizure_bits(300), mark_bits(180), frame_bytes(b"\x03\x04"),
                             mark_bits(4)])
    modulator = FskModulator("bell202", level_dbm0=-20.0)
    x = np.concatenate([modulator.modulate(first), gap, modulator.modulate(second)])
    events = FskReceiver().feed(x)
    assert [e.kind for e in events].count(FskEventKind.CARRIER_ON) == 1
    data = [e for e in events if e.kind == FskEventKind.BYTE]
    assert bytes(e.value for e in data[:2]) == b"\x01\x02"
    # The second seizure reads as 0x55 characters (async framing fits 0101...); the mark
    # signal after it is reported again, and the message follows it.
    last_mark = max(e.position for e in events if e.kind == FskEventKind.MARK)
    assert bytes(e.value for e in data if e.position > last_mark) == b"\x03\x04"


@settings(max_examples=25, deadline=None)
@given(st.lists(st.integers(1, 2000), min_size=1, max_size=30))
def test_streaming_in_any_chunks_equals_one_call(chunks):
    x = burst(MESSAGE[:12], "bell202", level=-25.0)
    whole = FskReceiver().feed(x)
    receiver = FskReceiver()
    parts, offset, i = [], 0, 0
    while offset < x.size:
        size = chunks[i % len(chunks)]
        parts += receiver.feed(x[offset:offset + size])
        offset += size
        i += 1
    assert parts == whole


def test_a_long_recording_in_one_call_equals_small_chunks():
    """feed() takes a whole recording (it runs the C receiver block by block): messages
    that straddle its internal block edges come out as from 160-sample chunks."""
    x = np.concatenate([np.zeros(30000, np.int16), burst(MESSAGE, "v23", level=-30.0),
                        np.zeros(25000, np.int16), burst(MESSAGE, "bell202", level=-20.0),
                        np.zeros(3000, np.int16)])
    whole = FskReceiver().feed(x)
    receiver = FskReceiver()
    parts = [e for start in range(0, x.size, 160) for e in receiver.feed(x[start:start + 160])]
    assert parts == whole
    assert bytes(e.value for e in whole if e.kind == FskEventKind.BYTE) == MESSAGE * 2


def test_batch_equals_each_channel_alone():
    signals = [burst(MESSAGE, "v23", -35.0), burst(MESSAGE[::-1], "bell202", -10.0),
               np.zeros(1, np.int16), burst(b"\x12\x34", "v23", -20.0, twist_db=6.0)]
    frame = 160
    length = max(s.size for s in signals) // frame * frame + frame
    frames = np.zeros((len(signals), length), np.int16)
    for c, s in enumerate(signals):
        frames[c, :s.size] = s
    bank = FskReceiverBank(len(signals), frame)
    batched = {c: [] for c in range(len(signals))}
    for start in range(0, length, frame):
        for event in bank.process(np.ascontiguousarray(frames[:, start:start + frame])):
            batched[event.channel].append(event)
    for c in range(len(signals)):
        alone = FskReceiver().feed(frames[c])
        assert [(e.kind, e.position, e.value, e.extra) for e in batched[c]] == \
            [(e.kind, e.position, e.value, e.extra) for e in alone]


def test_bank_reset_starts_a_channel_again():
    bank = FskReceiverBank(1, 160)
    x = burst(b"\x55", "v23")
    x = np.concatenate([x, np.zeros(-x.size % 160, np.int16)]).reshape(-1, 1, 160)
    first = [e for f in x for e in bank.process(np.ascontiguousarray(f))]
    bank.reset(0)
    second = [e for f in x for e in bank.process(np.ascontiguousarray(f))]
    assert first == second


def test_receiver_rejects_bad_config():
    with pytest.raises(DspError):
        FskReceiver(rate=16000)
    with pytest.raises(DspError):
        FskReceiver(mark_min_bits=2)
    with pytest.raises(DspError):
        FskReceiver(min_level_dbm0=0.0)


def test_event_array_too_small_is_an_error_not_an_overrun():
    state = ffi.new("fsk_rx_state_t *")
    config = ffi.new("fsk_rx_config_t *")
    lib.fsk_rx_config_default(config)
    assert lib.fsk_rx_init(state, config) == 0
    x = burst(MESSAGE, "v23")
    events = ffi.new("fsk_event_t[]", 3)
    assert lib.fsk_rx_process(state, c_array(x, np.int16), x.size, events, 3) \
        == lib.FSK_ERR_EVENTS


@pytest.mark.parametrize("standard", STANDARDS)
@pytest.mark.parametrize("hum_hz", [50.0, 60.0])
def test_mains_hum_35_db_above_the_signal(standard, hum_hz):
    """A -40 dBm0 burst under -5 dBm0 of mains hum (poor line, ringing leaking through)."""
    x = burst(MESSAGE, standard, level=-40.0).astype(np.float64)
    x += DBM0_PEAK * 10 ** (-5.0 / 20) * np.sin(2 * np.pi * hum_hz * np.arange(x.size) / 8000)
    assert received(np.round(x).astype(np.int16)) == MESSAGE


def test_transmitter_batch_sends_each_channel_its_bit_continuously():
    states = ffi.new("fsk_tx_state_t[]", 2)
    for c, standard in enumerate((lib.FSK_V23, lib.FSK_BELL202)):
        config = ffi.new("fsk_tx_config_t *")
        lib.fsk_tx_config_standard(config, standard, -10.0)
        assert lib.fsk_tx_init(ffi.addressof(states, c), config) == 0
    bits = np.array([1, 0], np.uint8)
    frames = []
    for _ in range(50):
        out = np.zeros((2, 160), np.int16)
        lib.fsk_tx_process_batch(states, 2, c_array(bits, np.uint8),
                                 c_array(out, np.int16, writable=True), 160)
        frames.append(out)
    audio = np.concatenate(frames, axis=1)
    assert abs(peak_hz(audio[0]) - 1300) <= 1 and abs(peak_hz(audio[1]) - 2200) <= 1
    for row, hz in ((audio[0], 1300), (audio[1], 2200)):
        bound = DBM0_PEAK * 10 ** (-10 / 20) * 2 * np.sin(np.pi * hz / 8000) + 2
        assert np.max(np.abs(np.diff(row.astype(np.int64)))) <= bound
