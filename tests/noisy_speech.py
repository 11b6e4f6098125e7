"""Noisy-speech material and objective scores for the noise suppressor (tests and bench).

Noises (8 kHz, float, unit power, seeded):
  white   Gaussian hiss;
  pink    1/f noise (a fan or air-conditioning roar);
  hum     50 Hz mains hum with harmonics to 2 kHz (odd ones stronger, as a buzz);
  drift   slowly varying noise: a fan's low roar and a hiss whose levels each wander
          +-6 dB over 5-10 s (independently, so the spectrum's shape changes too), at up
          to 7.5 dB/s;
  babble  eight talkers of the real speech corpus (Russian prompts, unlike the target
          files) summed: speech-like and non-stationary, outside what the suppressor is
          for (stationary and slowly varying noise); a check that it does no harm there.
Mixing sets the SNR against the speech's active level: the power of the 20 ms frames
within 40 dB of the loudest (a simple stand-in for ITU-T P.56).
Scores: PESQ narrowband (ITU-T P.862 through the PyPI `pesq` package, MOS-LQO scale) and
segmental SNR (20 ms frames, each clamped to -10..35 dB, as Hansen and Pellom).
"""

import numpy as np

import corpus

RATE = 8000
SNRS_DB = (0, 5, 10, 15)
NOISES = ("white", "pink", "hum", "drift", "babble")


def _pink(n, rng):
    spectrum = np.fft.rfft(rng.standard_normal(n))
    f = np.fft.rfftfreq(n, 1.0 / RATE)
    spectrum *= 1.0 / np.sqrt(np.maximum(f, 20.0))
    return np.fft.irfft(spectrum, n)


def _hum(n, rng):
    t = np.arange(n) / RATE
    x = np.zeros(n)
    for h in range(1, 41):
        amplitude = (1.0 if h % 2 else 0.4) / h**0.7
        x += amplitude * np.sin(2 * np.pi * 50.0 * h * t + rng.uniform(0, 2 * np.pi))
    return x


def _drift(n, rng):
    t = np.arange(n) / RATE
    bands = []
    for shape in (_pink(n, rng), rng.standard_normal(n)):
        shape /= np.sqrt(np.mean(shape**2))
        rate_hz = rng.uniform(0.08, 0.14, size=2)
        phase = rng.uniform(0, 2 * np.pi, size=2)
        level_db = 4.0 * np.sin(2 * np.pi * rate_hz[0] * t + phase[0]) + 2.0 * np.sin(
            2 * np.pi * rate_hz[1] * 2.3 * t + phase[1])
        bands.append(shape * 10 ** (level_db / 20))
    return bands[0] + 0.5 * bands[1]


def _babble(n, rng):
    files = [f for f in corpus.speech_files() if "ru_RU" in str(f)]
    picks = rng.choice(len(files), size=8, replace=False)
    x = np.zeros(n)
    for i in picks:
        talker = corpus.load(files[i]).astype(np.float64)
        talker /= np.sqrt(np.mean(talker**2)) + 1e-9
        reps = int(np.ceil((n + talker.size) / talker.size))
        loop = np.tile(talker, reps)
        start = rng.integers(0, talker.size)
        x += loop[start : start + n]
    return x


def noise(kind, n, seed=0):
    """`n` samples of noise `kind`, unit power."""
    rng = np.random.default_rng(seed)
    x = {"white": lambda: rng.standard_normal(n), "pink": lambda: _pink(n, rng),
         "hum": lambda: _hum(n, rng), "drift": lambda: _drift(n, rng), "babble": lambda: _babble(n, rng)}[kind]()
    return x / np.sqrt(np.mean(x**2))


def active_power(x, frame=160, range_db=40.0):
    """Mean power of the frames within range_db of the loudest frame."""
    x = np.asarray(x, dtype=np.float64)
    frames = x[: x.size // frame * frame].reshape(-1, frame)
    power = np.mean(frames**2, axis=1)
    return float(np.mean(power[power >= power.max() * 10 ** (-range_db / 10)]))


def mix(speech, snr_db, kind, seed=0):
    """Speech plus noise `kind` at snr_db against the speech's active level, as int16."""
    speech = np.asarray(speech, dtype=np.float64)
    n = noise(kind, speech.size, seed) * np.sqrt(active_power(speech) / 10 ** (snr_db / 10))
    return np.clip(np.round(speech + n), -32768, 32767).astype(np.int16)


def pesq_nb(reference, degraded):
    """PESQ narrowband MOS-LQO of degraded against reference (both 8 kHz int16)."""
    from pesq import pesq

    return float(pesq(RATE, reference.astype(np.float32), degraded.astype(np.float32), "nb"))


def segmental_snr(reference, processed, frame=160):
    """Segmental SNR in dB of processed against reference (aligned, same length)."""
    r = np.asarray(reference, dtype=np.float64)
    p = np.asarray(processed, dtype=np.float64)
    n = min(r.size, p.size) // frame * frame
    r = r[:n].reshape(-1, frame)
    e = r - p[:n].reshape(-1, frame)
    snr = 10 * np.log10((np.sum(r**2, axis=1) + 1e-9) / (np.sum(e**2, axis=1) + 1e-9))
    return float(np.mean(np.clip(snr, -10.0, 35.0)))


def test_files(count=4):
    """`count` speech files of 2.5-6 s, taken in turn from each speaker (not the babble's
    talkers), the same every run."""
    per_speaker = []
    for directory in corpus.SPEECH_DIRS:
        if "ru_RU" in str(directory):
            continue
        files = [f for f in corpus.speech_files() if str(f).startswith(str(directory) + "/")]
        per_speaker.append(iter(files))
    chosen = []
    while len(chosen) < count and per_speaker:
        for files in list(per_speaker):
            for f in files:
                if 2.5 * RATE <= corpus.load(f).size <= 6 * RATE:
                    chosen.append(f)
                    break
            else:
                per_speaker.remove(files)
            if len(chosen) == count:
                break
    return chosen
