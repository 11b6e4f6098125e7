"""Audio files in and out of the box: 8 kHz 16-bit linear mono, as the DSP core wants it.

Reading goes through libsndfile (the `soundfile` package; its wheel bundles the library).
Accepted: WAV (also WAVE_FORMAT_EXTENSIBLE, RF64, W64), FLAC, AIFF and AU holding 8-32 bit
PCM, 32/64-bit float, A-law or mu-law. Other sample rates are resampled to `rate` with a
polyphase filter (scipy.signal.resample_poly); float and 24/32-bit samples are scaled to
int16 with rounding and clipping. A file with more than one channel is refused unless
`channel` picks one.

Writing: WAV PCM16, WAV A-law, WAV mu-law, or FLAC (16-bit). G.711 WAVs are encoded with
the box's own G.191-exact encoder (appliance.dsp.g711) and written with a plain RIFF header:
libsndfile's encoder rounds 127 of the 65536 inputs to a different code than G.191, so a
file it wrote would not hold the codes the line would carry.

Every problem with a file raises AudioFileError, which names the file and the fix.
"""

import math
import os
import struct
from pathlib import Path

import numpy as np
import soundfile

from appliance.dsp import g711

RATE = 8000
FORMATS = ("pcm16", "alaw", "ulaw", "flac")

_CONTAINERS = {"WAV", "WAVEX", "RF64", "W64", "FLAC", "AIFF", "AU"}
_SUBTYPES = {"PCM_S8", "PCM_U8", "PCM_16", "PCM_24", "PCM_32", "FLOAT", "DOUBLE", "ALAW",
             "ULAW"}
# Subtypes libsndfile hands over as int16 without loss (8-bit PCM is shifted left by 8).
_EXACT_INT16 = {"PCM_S8", "PCM_U8", "PCM_16", "ALAW", "ULAW"}
_MIN_RATE = 4000
_MAX_RATE = 192000
_WANT = "a WAV file (PCM16, A-law or mu-law) or FLAC"
_CHANNEL_NAMES = {"left": 0, "right": 1}
# WAVE_FORMAT_* tags of the G.711 laws (RFC 2361).
_WAVE_TAG = {"alaw": 6, "ulaw": 7}


class AudioFileError(ValueError):
    """A file the box cannot read or write as audio: says which file, what is wrong, the fix."""

    def __init__(self, path, problem, fix):
        super().__init__(f"{path}: {problem}; {fix}")
        self.path = str(path)
        self.problem = problem
        self.fix = fix


def read_audio(path, rate=RATE, channel=None):
    """The samples of an audio file as a 1-D int16 array at `rate` Hz.

    channel: None for a mono file; for a file with more channels, the one to take, 0-based
    (or 'left' = 0, 'right' = 1).
    """
    path = Path(path)
    if not isinstance(rate, int) or rate <= 0:
        raise ValueError(f"rate must be a positive int of Hz, not {rate!r}")
    if path.suffix.lower() == ".raw":
        raise AudioFileError(path, "headerless raw audio (no header gives its rate or encoding)",
                             f"convert it to {_WANT}, e.g. `sox -t raw -r 8000 -e a-law -b 8 "
                             f"IN.raw OUT.wav`")
    try:
        with open(path, "rb") as raw:
            if os.fstat(raw.fileno()).st_size == 0:
                raise AudioFileError(path, "the file is empty (0 bytes)",
                                     f"record it again or give {_WANT}")
            with soundfile.SoundFile(raw) as sound:
                return _read(path, sound, rate, channel)
    except FileNotFoundError:
        raise AudioFileError(path, "no such file", "check the path") from None
    except IsADirectoryError:
        raise AudioFileError(path, "is a directory", f"give {_WANT}") from None
    except PermissionError:
        raise AudioFileError(path, "permission denied",
                             "make the file readable by this user") from None
    except OSError as exc:
        raise AudioFileError(path, f"cannot read it ({exc.strerror or exc})",
                             "check the file and the disk") from None
    except soundfile.LibsndfileError as exc:
        if exc.code == 1:  # SF_ERR_UNRECOGNISED_FORMAT
            raise AudioFileError(path, "not an audio file (format not recognised)",
                                 f"give {_WANT}") from None
        raise AudioFileError(path, f"damaged or undecodable audio ({_sndfile_text(exc)})",
                             f"convert it to {_WANT}") from None
    except soundfile.SoundFileError as exc:
        raise AudioFileError(path, f"damaged audio ({exc})", f"convert it to {_WANT}") from None


def _sndfile_text(exc):
    return exc.error_string.strip().rstrip(".") or f"libsndfile error {exc.code}"


def _read(path, sound, rate, channel):
    from scipy.signal import resample_poly  # lazy: scipy.signal takes ~2 s to import
    if sound.format not in _CONTAINERS or sound.subtype not in _SUBTYPES:
        raise AudioFileError(
            path, f"unsupported format {sound.format} {sound.subtype}",
            f"convert it to {_WANT}, e.g. `sox IN -r 8000 -e signed -b 16 OUT.wav`")
    if sound.channels < 1:
        raise AudioFileError(path, "damaged header (no channels)", f"convert it to {_WANT}")
    if not _MIN_RATE <= sound.samplerate <= _MAX_RATE:
        raise AudioFileError(path, f"unsupported sample rate {sound.samplerate} Hz",
                             f"resample it to {RATE} Hz ({_MIN_RATE}-{_MAX_RATE} Hz accepted)")
    index = _channel_index(path, sound.channels, channel)
    exact = sound.subtype in _EXACT_INT16 and sound.samplerate == rate
    frames = sound.read(dtype="int16" if exact else "float64", always_2d=True)
    if frames.shape[0] == 0:
        raise AudioFileError(path, "holds no audio (0 samples)",
                             f"record it again or give {_WANT}")
    samples = frames[:, index]
    if exact:
        return np.ascontiguousarray(samples)
    if np.isnan(samples).any():
        raise AudioFileError(path, "damaged float samples (NaN)", f"convert it to {_WANT}")
    scaled = samples * 32768.0
    if sound.samplerate != rate:
        g = math.gcd(sound.samplerate, rate)
        scaled = resample_poly(scaled, rate // g, sound.samplerate // g)
    return np.clip(np.round(scaled), -32768, 32767).astype(np.int16)


def _channel_index(path, channels, channel):
    span = f"0..{channels - 1}" + (" or left/right" if channels >= 2 else "")
    if channel is None:
        if channels == 1:
            return 0
        raise AudioFileError(path, f"has {channels} channels, the box takes one",
                             f"choose one with --channel ({span})")
    if isinstance(channel, str):
        name = channel.strip().lower()
        if name in _CHANNEL_NAMES:
            index = _CHANNEL_NAMES[name]
        elif name.isdigit():
            index = int(name)
        else:
            raise AudioFileError(path, f"no channel {channel!r}",
                                 f"give a channel number ({span})")
    elif isinstance(channel, (int, np.integer)) and not isinstance(channel, bool):
        index = int(channel)
    else:
        raise TypeError(f"channel must be an int, 'left' or 'right', not {channel!r}")
    if not 0 <= index < channels:
        if channels == 1:
            raise AudioFileError(path, f"no channel {channel}: the file is mono",
                                 "leave out --channel (or give 0)")
        raise AudioFileError(path, f"no channel {channel} (it has {channels})",
                             f"choose --channel {span}")
    return index


def write_audio(path, samples, rate=RATE, format="pcm16"):
    """Write 1-D int16 `samples` at `rate` Hz as WAV PCM16, A-law, mu-law or as FLAC."""
    path = Path(path)
    if format not in FORMATS:
        raise AudioFileError(path, f"unsupported output format {format!r}",
                             f"use one of {', '.join(FORMATS)}")
    if not isinstance(samples, np.ndarray):
        raise TypeError(f"samples must be a numpy array, not {type(samples).__name__}")
    if samples.dtype != np.int16:
        raise TypeError(f"samples must be int16 linear, not {samples.dtype}")
    if samples.ndim != 1:
        raise ValueError(f"samples must be 1-D (one channel), not shape {samples.shape}")
    if not isinstance(rate, int) or rate <= 0:
        raise ValueError(f"rate must be a positive int of Hz, not {rate!r}")
    suffix = path.suffix.lower()
    if format == "flac" and suffix == ".wav":
        raise AudioFileError(path, "FLAC does not go in a .wav file",
                             f"name it {path.with_suffix('.flac').name}")
    if format != "flac" and suffix == ".flac":
        raise AudioFileError(path, f"{format} is a WAV format, not FLAC",
                             f"name it {path.with_suffix('.wav').name} or choose flac")
    try:
        if format in _WAVE_TAG:
            _write_g711_wav(path, g711.ENCODERS[format](samples), rate, _WAVE_TAG[format])
        else:
            container = "FLAC" if format == "flac" else "WAV"
            soundfile.write(path, samples, rate, subtype="PCM_16", format=container)
    except FileNotFoundError:
        raise AudioFileError(path, f"cannot write: folder {path.parent} does not exist",
                             "create it or choose another path") from None
    except IsADirectoryError:
        raise AudioFileError(path, "cannot write: it is a directory",
                             "give a file name") from None
    except PermissionError:
        raise AudioFileError(path, "cannot write: permission denied",
                             "choose a folder this user can write to") from None
    except OSError as exc:
        raise AudioFileError(path, f"cannot write ({exc.strerror or exc})",
                             "check the disk and the path") from None
    except soundfile.LibsndfileError as exc:
        if exc.code == 2:  # SF_ERR_SYSTEM: libsndfile could not open the path
            if path.is_dir():
                raise AudioFileError(path, "cannot write: it is a directory",
                                     "give a file name") from None
            if not path.parent.is_dir():
                raise AudioFileError(path, f"cannot write: folder {path.parent} does not exist",
                                     "create it or choose another path") from None
            raise AudioFileError(path, "cannot write: the system refused to open it",
                                 "check permissions and the path") from None
        raise AudioFileError(path, f"cannot write ({_sndfile_text(exc)})",
                             "check the path and the disk") from None


def _write_g711_wav(path, codes, rate, tag):
    """A mono 8-bit G.711 WAV: RIFF, an 18-byte fmt chunk, fact (sample count), data."""
    data = codes.tobytes()
    pad = b"\0" if len(data) % 2 else b""
    fmt = struct.pack("<HHIIHHH", tag, 1, rate, rate, 1, 8, 0)
    fact = struct.pack("<I", len(data))
    body = (b"WAVE"
            + b"fmt " + struct.pack("<I", len(fmt)) + fmt
            + b"fact" + struct.pack("<I", len(fact)) + fact
            + b"data" + struct.pack("<I", len(data)) + data + pad)
    with open(path, "wb") as out:
        out.write(b"RIFF" + struct.pack("<I", len(body)) + body)
