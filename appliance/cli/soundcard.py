"""The local sound card, for the commands that let a person listen (recordings play).

PyAudio (PortAudio) is an optional extra (`pip install 'appliance[audio]'`; it builds
against Debian's `portaudio19-dev` and runs on `libportaudio2`) imported only here, only
when a command plays. Every way it can be missing or fail (the package, a sound card, the
device) is a `SoundcardError` whose message says what to do instead; the CLI shows it as a
user error (exit 2).

Audio is the box's: 8 kHz int16, mono or interleaved stereo.
"""

import contextlib
import os
import sys

import numpy as np

RATE = 8000
BLOCK_FRAMES = 800  # 100 ms per write: Ctrl-C stops within it
_INSTEAD = ("or copy the file off the box with `appliance recordings export` and play it "
            "there")


class SoundcardError(Exception):
    """No way to play on this machine: the message says why and what to do."""


@contextlib.contextmanager
def _quiet_stderr():
    """ALSA and JACK print a page of probing noise on fd 2 while PortAudio looks for
    devices; it says nothing the SoundcardError does not, so it goes to /dev/null."""
    sys.stderr.flush()
    try:
        saved = os.dup(2)
    except OSError:  # no fd 2 at all
        yield
        return
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, 2)
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)


def open_output(channels, rate=RATE, device=None):
    """(pyaudio instance, output stream) for int16 audio, or SoundcardError."""
    try:
        import pyaudio
    except ImportError:
        raise SoundcardError("PyAudio is not installed, so nothing can play on this "
                             "machine's sound card; install it with pip install "
                             "'appliance[audio]' (Debian: apt-get install portaudio19-dev "
                             f"first), {_INSTEAD}") from None
    except OSError as exc:  # the module is there but libportaudio is not
        raise SoundcardError(f"PyAudio cannot load PortAudio ({exc}); apt-get install "
                             f"libportaudio2, {_INSTEAD}") from None
    with _quiet_stderr():
        audio = pyaudio.PyAudio()
        try:
            return _open_stream(pyaudio, audio, channels, rate, device)
        except BaseException:
            audio.terminate()
            raise


def _open_stream(pyaudio, audio, channels, rate, device):
    if device is None:
        try:
            info = audio.get_default_output_device_info()
        except (OSError, IOError):
            raise SoundcardError(f"no sound card: this machine has no audio output "
                                 f"device (a headless box usually has none); "
                                 f"{_INSTEAD.replace('or copy', 'copy')}") from None
        device = int(info["index"])
    else:
        count = audio.get_device_count()
        if not 0 <= device < count or \
                audio.get_device_info_by_index(device)["maxOutputChannels"] < 1:
            outputs = [i for i in range(count)
                       if audio.get_device_info_by_index(i)["maxOutputChannels"] > 0]
            raise SoundcardError(f"--device {device}: no such output device; output "
                                 "devices: " + (", ".join(map(str, outputs)) or "none"))
    try:
        stream = audio.open(format=pyaudio.paInt16, channels=channels, rate=rate,
                            output=True, output_device_index=device,
                            frames_per_buffer=BLOCK_FRAMES)
    except (OSError, IOError, ValueError) as exc:
        raise SoundcardError(f"the sound card refused {channels}-channel {rate} Hz "
                             f"audio ({exc}); try another --device, {_INSTEAD}") from None
    return audio, stream


def play(samples, channels, rate=RATE, device=None, progress=None, output=None):
    """Plays int16 `samples` (interleaved when stereo) to the end; `progress(frames)` is
    called after each block. `output`: an (audio, stream) from open_output (default: one
    is opened here). Ctrl-C stops it (KeyboardInterrupt goes on up)."""
    samples = np.ascontiguousarray(samples, dtype=np.int16)
    audio, stream = output or open_output(channels, rate, device)
    try:
        step = BLOCK_FRAMES * channels
        for start in range(0, samples.shape[0], step):
            block = samples[start:start + step]
            stream.write(block.tobytes())
            if progress is not None:
                progress(block.shape[0] // channels)
        stream.stop_stream()
    finally:
        stream.close()
        audio.terminate()
