"""ChannelBank: a board's receive chain per tick, as the engine drives it."""

import numpy as np
import pytest

import g168
from appliance.dsp import ChannelBank, g711
from appliance.dtmf import DtmfDetector, generate

FRAME = 160


def ticks(audio):
    """[channels, samples] -> one [channels, FRAME] array per tick."""
    for offset in range(0, audio.shape[1], FRAME):
        yield np.ascontiguousarray(audio[:, offset:offset + FRAME])


def board_audio(channels, seconds, digits_by_channel, law="alaw"):
    linear = np.zeros((channels, int(seconds * 8000)), dtype=np.int16)
    for channel, (start_s, digits) in digits_by_channel.items():
        tone = generate(digits, on_ms=80, off_ms=80)
        start = int(start_s * 8000)
        linear[channel, start:start + tone.size] = tone
    return g711.ENCODERS[law](linear)


@pytest.mark.parametrize("law", ["alaw", "ulaw"])
def test_digits_come_back_on_their_own_channels(law):
    plan = {0: (0.10, "123"), 7: (0.50, "#9"), 29: (0.05, "ABCD0")}
    codes = board_audio(30, 2.0, plan, law)
    bank = ChannelBank(30, law=law)
    seen = {}
    for frame in ticks(codes):
        for channel, event in bank.process(frame).digits:
            seen.setdefault(channel, []).append(event)
    assert {ch: "".join(e.digit for e in evs) for ch, evs in seen.items()} == {
        ch: digits for ch, (_, digits) in plan.items()
    }
    assert seen[7][0].start == pytest.approx(0.50, abs=0.010)


def test_linear_is_the_decoded_audio_in_the_banks_own_buffer():
    codes = board_audio(4, 0.2, {2: (0.0, "5")})
    bank = ChannelBank(4, law="alaw")
    frame = next(ticks(codes))
    tick = bank.process(frame)
    np.testing.assert_array_equal(tick.linear, g711.alaw_decode(frame))
    assert tick.linear.shape == (4, FRAME) and tick.linear.dtype == np.int16
    assert bank.process(frame).linear is tick.linear  # no allocation per tick


def test_linear_input_is_accepted():
    linear = g711.alaw_decode(board_audio(2, 1.0, {1: (0.2, "42")}))
    bank = ChannelBank(2)
    digits = [(ch, e.digit) for f in ticks(linear) for ch, e in bank.process(f).digits]
    assert digits == [(1, "4"), (1, "2")]


def test_bank_agrees_with_a_detector_per_channel():
    codes = board_audio(3, 1.5, {0: (0.3, "7"), 1: (0.0, "*0"), 2: (0.9, "8")})
    bank = ChannelBank(3)
    from_bank = {ch: [] for ch in range(3)}
    for frame in ticks(codes):
        for channel, event in bank.process(frame).digits:
            from_bank[channel].append(event)
    for channel in range(3):
        detector = DtmfDetector()
        alone = [e for f in ticks(codes[channel:channel + 1]) for e in
                 detector.feed(g711.alaw_decode(f[0]))]
        assert from_bank[channel] == alone


def test_onset_comes_within_45ms_of_key_down():
    codes = board_audio(8, 0.5, {5: (0.1234, "6")})
    bank = ChannelBank(8)
    for index, frame in enumerate(ticks(codes)):
        tick = bank.process(frame)
        if tick.onsets:
            assert [(ch, o.digit) for ch, o in tick.onsets] == [(5, "6")]
            assert (index + 1) * FRAME / 8000 - 0.1234 <= 0.045
            return
    pytest.fail("no onset")


def test_reset_restarts_a_channels_stream_only():
    codes = board_audio(2, 1.0, {0: (0.5, "3"), 1: (0.5, "3")})
    bank = ChannelBank(2)
    frames = list(ticks(codes))
    for frame in frames[:10]:
        bank.process(frame)
    bank.reset(1)  # the call on channel 1 ended at 0.2 s; a new one starts
    digits = [(ch, e) for f in frames[10:] for ch, e in bank.process(f).digits]
    assert [(ch, e.digit) for ch, e in digits] == [(0, "3"), (1, "3")]
    assert digits[0][1].start == pytest.approx(0.5, abs=0.01)
    assert digits[1][1].start == pytest.approx(0.3, abs=0.01)


@pytest.mark.parametrize("frames, error", [
    (np.zeros((3, 160), dtype=np.uint8), ValueError),
    (np.zeros((2, 80), dtype=np.uint8), ValueError),
    (np.zeros((2, 160), dtype=np.float32), TypeError),
    ([[0] * 160] * 2, ValueError),
])
def test_wrong_frames_are_refused(frames, error):
    with pytest.raises(error):
        ChannelBank(2).process(frames)


def test_bad_construction_is_refused():
    with pytest.raises(ValueError, match="law"):
        ChannelBank(2, law="gsm")
    with pytest.raises(ValueError, match="8000"):
        ChannelBank(2, rate=16000)
    with pytest.raises(IndexError):
        ChannelBank(2).reset(2)


def test_busy_tone_found_only_where_tones_are_switched_on():
    from appliance.dsp.toneplan import load_plan
    from appliance.dsp.tones import Tone

    busy = load_plan("cn").render(Tone.BUSY, 3.0)
    linear = np.zeros((3, busy.size + 8000), dtype=np.int16)
    linear[0, 4000:4000 + busy.size] = busy
    linear[2, 4000:4000 + busy.size] = busy
    bank = ChannelBank(3, tone_plan="cn")
    bank.enable_tones(2)
    found = [(ch, e) for f in ticks(g711.alaw_encode(linear)) for ch, e in bank.process(f).tones]
    assert {ch for ch, _ in found} == {2}
    recognised = [e for _, e in found if e.end is None]
    assert [e.tone for e in recognised] == [Tone.BUSY]
    assert recognised[0].start == pytest.approx(0.5, abs=0.03)
    assert recognised[0].detected - recognised[0].start <= 2 * 0.7  # within two cadences


def test_digits_and_tones_together_on_one_channel():
    from appliance.dsp.toneplan import load_plan
    from appliance.dsp.tones import Tone

    ringback = load_plan("us").render(Tone.RINGBACK, 7.0)
    linear = np.zeros((1, ringback.size), dtype=np.int16)
    linear[0] = ringback
    digits = generate("42", on_ms=80, off_ms=80)
    linear[0, 20000:20000 + digits.size] += digits  # keyed during the silence of a cycle
    bank = ChannelBank(1, law="ulaw", tone_plan="us")
    bank.enable_tones(0)
    ticks_out = [bank.process(f) for f in ticks(g711.ulaw_encode(linear))]
    assert "".join(e.digit for t in ticks_out for _, e in t.digits) == "42"
    assert Tone.RINGBACK in {e.tone for t in ticks_out for _, e in t.tones}


# --- part 2 stages: echo canceller, noise suppression, AGC, voice encoding ---------------

def _echo_line(seconds, erl_db=6.0, delay_ms=8.0):
    """What an analog line returns while the box talks: the echo of the box's own speech
    through a G.168 echo path model. Returns (tx, echo), int16 and float."""
    far = g168.far_end_speech(seconds)
    h = g168.echo_path(g168.echo_path_models()["D2"], delay_ms, erl_db, far)
    return far, g168.echo_of(h, far)


def _run(bank, rx, tx=None, law="alaw"):
    """Feeds [channels, samples] through the bank; returns the concatenated linear, voice,
    voice_codes and the digits."""
    outs = {"linear": [], "voice": [], "voice_codes": []}
    digits = []
    tx_ticks = ticks(tx) if tx is not None else None
    for frame in ticks(rx):
        tick = bank.process(frame, None if tx_ticks is None else next(tx_ticks))
        for name in outs:
            outs[name].append(getattr(tick, name).copy())
        digits += tick.digits
    return {k: np.concatenate(v, axis=1) for k, v in outs.items()}, digits


def test_echo_of_the_box_own_audio_is_cancelled_on_the_line():
    tx, echo = _echo_line(6.0)
    n = tx.size // FRAME * FRAME
    rx = g711.alaw_encode(g168.to_int16(echo[:n])[None, :])
    bank = ChannelBank(1)
    out, _ = _run(bank, rx, tx[None, :n])
    erle = g168.erle_db(echo[:n], out["linear"][0].astype(np.float64))
    steady = erle[len(erle) // 2:]
    assert np.nanmedian(steady) >= 25.0


def test_without_tx_or_switched_off_the_echo_stays():
    tx, echo = _echo_line(3.0)
    n = tx.size // FRAME * FRAME
    rx = g168.to_int16(echo[:n])[None, :]
    decoded = g711.alaw_decode(g711.alaw_encode(rx))
    bank = ChannelBank(1)
    out, _ = _run(bank, g711.alaw_encode(rx))
    assert np.array_equal(out["linear"], decoded)
    bank = ChannelBank(1)
    bank.enable(0, "echo", False)
    out, _ = _run(bank, g711.alaw_encode(rx), tx[None, :n])
    assert np.array_equal(out["linear"], decoded)


def test_far_end_digits_come_through_the_echo_canceller():
    tx, echo = _echo_line(6.0)
    n = tx.size // FRAME * FRAME
    line = echo[:n].copy()
    keys = generate("5170#", level_dbm0=-20, on_ms=70, off_ms=70)
    line[int(3.0 * 8000):int(3.0 * 8000) + keys.size] += keys
    rx = g711.alaw_encode(g168.to_int16(line)[None, :])
    out, digits = _run(ChannelBank(1), rx, tx[None, :n])
    assert "".join(e.digit for _, e in digits) == "5170#"


def test_voice_path_suppresses_line_noise_and_levels_speech():
    rng = np.random.default_rng(5)
    seconds = 8.0
    speech = g168.near_end_speech(seconds).astype(np.float64)
    speech *= 10 ** (-36 / 20) * 32768 / np.sqrt(np.mean(speech**2))  # quiet caller
    noise = rng.normal(0, 32768 * 10 ** (-52 / 20), speech.size)
    n = speech.size // FRAME * FRAME
    rx = g711.alaw_encode(g168.to_int16(speech[:n] + noise[:n])[None, :])
    bank = ChannelBank(1)
    out, _ = _run(bank, rx)
    voice = out["voice"][0].astype(np.float64)
    assert np.array_equal(out["voice_codes"], g711.alaw_encode(out["voice"]))
    # Louder speech (AGC), and the noise in the pauses lower relative to the speech (NS).
    second_half = slice(n // 2, n)
    gain_db = 10 * np.log10(np.mean(voice[second_half] ** 2)
                            / np.mean(out["linear"][0, second_half].astype(np.float64) ** 2))
    assert gain_db > 10.0
    quiet = np.abs(speech[:n]) < 1.0  # the gaps between prompts
    quiet[: n // 2] = False
    delay = 79  # NS look-ahead: voice[t] is linear[t - 79]
    quiet_voice = voice[delay:][quiet[:-delay]]
    quiet_linear = out["linear"][0].astype(np.float64)[quiet]
    snr_in = 10 * np.log10(np.mean(out["linear"][0, second_half].astype(np.float64) ** 2)
                           / np.mean(quiet_linear ** 2))
    snr_out = 10 * np.log10(np.mean(voice[second_half] ** 2) / np.mean(quiet_voice ** 2))
    assert snr_out - snr_in > 6.0


def test_voice_is_the_line_when_ns_and_agc_are_off():
    codes = board_audio(3, 1.0, {1: (0.1, "42")})
    bank = ChannelBank(3)
    for channel in range(3):
        bank.enable(channel, "ns", False)
        bank.enable(channel, "agc", False)
    out, _ = _run(bank, codes)
    assert np.array_equal(out["voice"], out["linear"])
    assert np.array_equal(out["voice_codes"], codes)


def test_voice_codes_follow_the_bank_law_for_linear_input():
    linear = g711.ulaw_decode(board_audio(2, 0.5, {0: (0.1, "7")}, "ulaw"))
    out, _ = _run(ChannelBank(2, law="ulaw"), linear)
    assert np.array_equal(out["voice_codes"], g711.ulaw_encode(out["voice"]))


def test_stage_switches_and_tx_are_checked():
    bank = ChannelBank(2)
    with pytest.raises(ValueError, match="stage must be one of"):
        bank.enable(0, "reverb")
    with pytest.raises(IndexError):
        bank.enable(2, "ns")
    frames = np.zeros((2, FRAME), dtype=np.uint8)
    with pytest.raises(ValueError, match="tx must be"):
        bank.process(frames, np.zeros((2, FRAME + 1), dtype=np.int16))
    with pytest.raises(TypeError, match="tx must have dtype int16"):
        bank.process(frames, np.zeros((2, FRAME), dtype=np.float32))
