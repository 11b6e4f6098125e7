"""Audio files at the box's edge (appliance.dsp.audiofile): formats, rates, channels, errors."""

import struct
import tempfile
from pathlib import Path

import numpy as np
import pytest
import soundfile
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from appliance.dsp import g711
from appliance.dsp.audiofile import AudioFileError, read_audio, write_audio

DBM0_PEAK = 22827.6
ALL_LINEAR = np.arange(-32768, 32768, dtype=np.int16)


def sine(freq, level_dbm0, seconds, rate):
    n = np.arange(int(round(seconds * rate)))
    return DBM0_PEAK * 10 ** (level_dbm0 / 20) * np.sin(2 * np.pi * freq * n / rate)


def tone_level_dbm0(x, freq, rate=8000):
    """Level of one sine component, by projecting onto it (exact for whole periods)."""
    n = np.arange(x.size)
    z = np.sum(x.astype(np.float64) * np.exp(-2j * np.pi * freq * n / rate))
    return 20 * np.log10(2 * np.abs(z) / x.size / DBM0_PEAK)


def wav_data_chunk(path):
    """The bytes of a WAV file's data chunk, found by walking its RIFF chunks."""
    raw = Path(path).read_bytes()
    assert raw[:4] == b"RIFF" and raw[8:12] == b"WAVE"
    pos = 12
    while pos + 8 <= len(raw):
        tag, size = raw[pos:pos + 4], struct.unpack("<I", raw[pos + 4:pos + 8])[0]
        if tag == b"data":
            return raw[pos + 8:pos + 8 + size]
        pos += 8 + size + (size & 1)
    raise AssertionError("no data chunk")


# --- round trips -------------------------------------------------------------------------


@pytest.mark.parametrize("fmt,suffix,container", [("pcm16", ".wav", "WAV"),
                                                   ("flac", ".flac", "FLAC")])
def test_linear_formats_round_trip_every_int16_value(tmp_path, fmt, suffix, container):
    path = tmp_path / f"all{suffix}"
    write_audio(path, ALL_LINEAR, format=fmt)
    info = soundfile.info(path)
    assert (info.format, info.subtype, info.samplerate, info.channels) == (
        container, "PCM_16", 8000, 1)
    np.testing.assert_array_equal(read_audio(path), ALL_LINEAR)


@pytest.mark.parametrize("law,subtype", [("alaw", "ALAW"), ("ulaw", "ULAW")])
def test_g711_wav_holds_the_g191_codes_of_every_input(tmp_path, law, subtype):
    path = tmp_path / f"{law}.wav"
    write_audio(path, ALL_LINEAR, format=law)
    assert soundfile.info(path).subtype == subtype  # libsndfile understands our header
    codes = np.frombuffer(wav_data_chunk(path), dtype=np.uint8)
    np.testing.assert_array_equal(codes, g711.ENCODERS[law](ALL_LINEAR))
    # Reading decodes every one of the 256 codes as G.711 does.
    assert np.unique(codes).size == 256
    np.testing.assert_array_equal(read_audio(path), g711.DECODERS[law](codes))


@pytest.mark.parametrize("law", ["alaw", "ulaw"])
def test_g711_wav_with_odd_length_is_padded_and_reads_back(tmp_path, law):
    path = tmp_path / "odd.wav"
    x = ALL_LINEAR[::4001][:7]
    write_audio(path, x, format=law)
    assert path.stat().st_size % 2 == 0
    np.testing.assert_array_equal(read_audio(path),
                                  g711.DECODERS[law](g711.ENCODERS[law](x)))


def test_a_law_and_mu_law_files_written_by_libsndfile_decode_as_g711(tmp_path):
    for law, subtype in (("alaw", "ALAW"), ("ulaw", "ULAW")):
        levels = g711.DECODERS[law](np.arange(256, dtype=np.uint8))
        path = tmp_path / f"sndfile-{law}.wav"
        soundfile.write(path, levels, 8000, subtype=subtype)
        np.testing.assert_array_equal(read_audio(path), levels)


def test_8_bit_pcm_is_scaled_to_16_bits(tmp_path):
    x = (np.arange(-128, 128, dtype=np.int16) * 256).astype(np.int16)
    path = tmp_path / "u8.wav"
    soundfile.write(path, x, 8000, subtype="PCM_U8")
    np.testing.assert_array_equal(read_audio(path), x)


def test_24_bit_pcm_is_rounded_to_16_bits(tmp_path):
    x24 = np.array([0, 127, 128, 129, -129, 8388607, -8388608, 256 * 1000 + 200], np.int32)
    path = tmp_path / "p24.wav"
    soundfile.write(path, x24 * 256, 8000, subtype="PCM_24")  # int32 left-justified
    expected = np.clip(np.round(x24 / 256.0), -32768, 32767).astype(np.int16)
    np.testing.assert_array_equal(read_audio(path), expected)


@pytest.mark.parametrize("subtype", ["FLOAT", "DOUBLE"])
def test_float_files_are_scaled_rounded_and_clipped(tmp_path, subtype):
    values = np.array([0.0, 0.5, -0.5, 1.0 / 32768, 0.7 / 32768, -1.0, 0.99999, 1.5, -3.0])
    path = tmp_path / "f.wav"
    soundfile.write(path, values, 8000, subtype=subtype)
    expected = np.array([0, 16384, -16384, 1, 1, -32768, 32767, 32767, -32768], np.int16)
    np.testing.assert_array_equal(read_audio(path), expected)


def test_float_file_with_nan_is_refused(tmp_path):
    path = tmp_path / "nan.wav"
    soundfile.write(path, np.array([0.0, np.nan, 0.1], np.float32), 8000, subtype="FLOAT")
    with pytest.raises(AudioFileError, match="NaN"):
        read_audio(path)


# --- resampling --------------------------------------------------------------------------


@pytest.mark.parametrize("rate", [11025, 16000, 22050, 44100, 48000])
@pytest.mark.parametrize("subtype", ["PCM_16", "FLOAT"])
def test_other_rates_are_resampled_keeping_a_1khz_tone_at_1khz_and_its_level(
        tmp_path, rate, subtype):
    path = tmp_path / f"tone{rate}.wav"
    soundfile.write(path, sine(1000.0, -10.0, 1.0, rate) / 32768.0, rate, subtype=subtype)
    x = read_audio(path)
    assert x.dtype == np.int16 and x.shape == (8000,)
    middle = x[400:-400]  # whole periods away from the filter's edge effects
    assert abs(tone_level_dbm0(middle, 1000.0) + 10.0) < 0.05
    spectrum = np.abs(np.fft.rfft(middle.astype(np.float64)))
    assert np.argmax(spectrum) * 8000 / middle.size == pytest.approx(1000.0, abs=2.0)
    # Nothing else left in the band: the residual after removing the tone is far below it.
    n = np.arange(middle.size)
    basis = np.stack([np.sin(2 * np.pi * 1000 * n / 8000), np.cos(2 * np.pi * 1000 * n / 8000)])
    coef = np.linalg.lstsq(basis.T, middle.astype(np.float64), rcond=None)[0]
    residual = middle - coef @ basis
    assert 20 * np.log10(np.std(residual) / np.std(middle)) < -40


def test_tone_above_4khz_is_filtered_out_not_aliased(tmp_path):
    path = tmp_path / "hf.wav"
    soundfile.write(path, sine(5000.0, -10.0, 1.0, 48000) / 32768.0, 48000, subtype="FLOAT")
    x = read_audio(path)[400:-400]
    assert tone_level_dbm0(x, 3000.0) < -60  # where 5 kHz would alias at 8 kHz


def test_8khz_file_is_read_without_resampling(tmp_path):
    x = np.round(sine(1000.0, -10.0, 0.5, 8000)).astype(np.int16)
    path = tmp_path / "t.wav"
    write_audio(path, x)
    np.testing.assert_array_equal(read_audio(path), x)


# --- channels ----------------------------------------------------------------------------


@pytest.fixture
def stereo(tmp_path):
    left = np.round(sine(697.0, -10.0, 0.5, 8000)).astype(np.int16)
    right = np.round(sine(1209.0, -20.0, 0.5, 8000)).astype(np.int16)
    path = tmp_path / "stereo.wav"
    soundfile.write(path, np.stack([left, right], axis=1), 8000, subtype="PCM_16")
    return path, left, right


def test_stereo_is_refused_naming_the_channel_option(stereo):
    path, _, _ = stereo
    with pytest.raises(AudioFileError, match=r"2 channels.*--channel \(0\.\.1 or left/right\)"):
        read_audio(path)


@pytest.mark.parametrize("channel,side", [(0, "left"), (1, "right"), ("left", "left"),
                                          ("right", "right"), ("0", "left"), ("1", "right"),
                                          ("LEFT", "left")])
def test_a_channel_of_a_stereo_file_is_chosen(stereo, channel, side):
    path, left, right = stereo
    np.testing.assert_array_equal(read_audio(path, channel=channel),
                                  left if side == "left" else right)


@pytest.mark.parametrize("channel", [2, -1, "2", "centre", "x"])
def test_a_channel_the_file_lacks_is_refused(stereo, channel):
    path, _, _ = stereo
    with pytest.raises(AudioFileError, match="no channel"):
        read_audio(path, channel=channel)


def test_mono_file_takes_channel_0_and_refuses_channel_1(tmp_path):
    path = tmp_path / "mono.wav"
    x = ALL_LINEAR[:100]
    write_audio(path, x)
    np.testing.assert_array_equal(read_audio(path, channel=0), x)
    np.testing.assert_array_equal(read_audio(path, channel="left"), x)
    with pytest.raises(AudioFileError, match="mono; leave out --channel"):
        read_audio(path, channel="right")


# --- errors ------------------------------------------------------------------------------


def _bad_files(tmp_path):
    """(path, what the message must say) for each way a file can be wrong."""
    cases = []
    cases.append((tmp_path / "missing.wav", "no such file; check the path"))
    (tmp_path / "folder.wav").mkdir()
    cases.append((tmp_path / "folder.wav", "is a directory"))
    (tmp_path / "empty.wav").write_bytes(b"")
    cases.append((tmp_path / "empty.wav", "empty (0 bytes)"))
    (tmp_path / "notes.wav").write_text("this is a text file, not audio\n" * 20)
    cases.append((tmp_path / "notes.wav", "not an audio file"))
    write_audio(tmp_path / "whole.wav", ALL_LINEAR[:1000])
    (tmp_path / "cut.wav").write_bytes((tmp_path / "whole.wav").read_bytes()[:30])
    cases.append((tmp_path / "cut.wav", "damaged"))
    soundfile.write(tmp_path / "nothing.wav", np.zeros(0, np.int16), 8000)
    cases.append((tmp_path / "nothing.wav", "no audio (0 samples)"))
    soundfile.write(tmp_path / "speech.ogg", np.zeros(800), 8000, format="OGG",
                    subtype="VORBIS")
    cases.append((tmp_path / "speech.ogg", "unsupported format OGG VORBIS"))
    soundfile.write(tmp_path / "slow.wav", np.zeros(800, np.int16), 2000)
    cases.append((tmp_path / "slow.wav", "unsupported sample rate 2000 Hz"))
    (tmp_path / "line.raw").write_bytes(bytes(800))
    cases.append((tmp_path / "line.raw", "headerless raw audio"))
    return cases


def test_every_bad_file_gives_an_audio_file_error_naming_file_and_fix(tmp_path):
    for path, says in _bad_files(tmp_path):
        with pytest.raises(AudioFileError) as caught:
            read_audio(path)
        message = str(caught.value)
        assert message.startswith(f"{path}: ") and says in message, message
        assert "; " in message  # problem; fix
        assert isinstance(caught.value, ValueError)


def test_write_refuses_an_unknown_format(tmp_path):
    with pytest.raises(AudioFileError, match="unsupported output format 'mp3'; use one of"):
        write_audio(tmp_path / "x.mp3", ALL_LINEAR, format="mp3")


@pytest.mark.parametrize("fmt", ["pcm16", "alaw", "flac"])
def test_write_into_a_missing_folder_names_the_folder(tmp_path, fmt):
    path = tmp_path / "no" / ("x.flac" if fmt == "flac" else "x.wav")
    with pytest.raises(AudioFileError, match="folder .*no does not exist; create it"):
        write_audio(path, ALL_LINEAR, format=fmt)


def test_write_refuses_flac_in_a_wav_name_and_wav_in_a_flac_name(tmp_path):
    with pytest.raises(AudioFileError, match="name it x.flac"):
        write_audio(tmp_path / "x.wav", ALL_LINEAR, format="flac")
    with pytest.raises(AudioFileError, match="name it x.wav"):
        write_audio(tmp_path / "x.flac", ALL_LINEAR, format="alaw")


def test_write_takes_only_1d_int16(tmp_path):
    with pytest.raises(TypeError, match="int16"):
        write_audio(tmp_path / "x.wav", ALL_LINEAR.astype(np.float32))
    with pytest.raises(ValueError, match="1-D"):
        write_audio(tmp_path / "x.wav", np.zeros((10, 2), np.int16))


# --- robustness --------------------------------------------------------------------------

_WAV_HEADER = (b"RIFF\x24\x10\x00\x00WAVEfmt \x10\x00\x00\x00\x01\x00\x01\x00"
               b"\x40\x1f\x00\x00\x80\x3e\x00\x00\x02\x00\x10\x00data\x00\x10\x00\x00")


def _read_or_audio_file_error(data, suffix):
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / f"fuzz{suffix}"
        path.write_bytes(data)
        try:
            x = read_audio(path)
        except AudioFileError as exc:
            assert str(exc).startswith(str(path))
            return
        assert x.dtype == np.int16 and x.ndim == 1 and x.size > 0


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=2048), st.sampled_from([".wav", ".flac", ".au", ".bin", ""]))
def test_random_bytes_give_audio_file_error_never_another_exception(data, suffix):
    _read_or_audio_file_error(data, suffix)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=512), st.lists(st.tuples(st.integers(0, 43), st.integers(0, 255)),
                                          max_size=6))
def test_damaged_wav_headers_give_audio_file_error_or_audio(body, flips):
    header = bytearray(_WAV_HEADER)
    for position, value in flips:
        header[position] = value
    _read_or_audio_file_error(bytes(header) + body, ".wav")
