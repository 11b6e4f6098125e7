"""A WAV file written as it grows, playable after a crash or power loss at any moment.

Layout (the same header audiofile.write_audio writes): RIFF/WAVE, a `fmt ` chunk (16 bytes
for PCM16; 18 bytes for A-law / mu-law, WAVE_FORMAT_ALAW = 6 / MULAW = 7), a `fact` chunk
(samples per channel) for G.711, then the `data` chunk last, so the audio is the file's tail.

The header is written first with sizes of 0 and rewritten by sync(): the audio written so
far is pushed to the disk (fdatasync), then the sizes are written and pushed again. So the
header never claims audio the disk does not hold, and after a crash or power loss the file
plays up to the last sync. repair() sets the sizes from the file's length instead, giving
back also what was written after the last sync (it keeps whole sample frames only).
"""

import os
import struct

import numpy as np

from appliance.dsp import g711

WAV_FORMATS = ("pcm16", "alaw", "ulaw")
_TAG = {"pcm16": 1, "alaw": 6, "ulaw": 7}
_TAG_NAME = {tag: name for name, tag in _TAG.items()}
_BITS = {"pcm16": 16, "alaw": 8, "ulaw": 8}


def _sync_fd(fd):
    (getattr(os, "fdatasync", None) or os.fsync)(fd)


def _load_syncfs():
    """Linux's syncfs(2): every dirty page of one filesystem to disk in one call, or None."""
    try:
        import ctypes
        import ctypes.util
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
        function = libc.syncfs
    except (OSError, AttributeError):
        return None
    function.argtypes = [ctypes.c_int]

    def syncfs(fd):
        if function(fd) != 0:
            err = ctypes.get_errno()
            raise OSError(err, os.strerror(err))
    return syncfs


syncfs = _load_syncfs()


def sync_directory(path):
    """Makes a new file's directory entry durable (POSIX: fsync of the directory)."""
    fd = os.open(os.path.dirname(os.path.abspath(path)) or ".", os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def header(fmt, channels, rate, data_bytes):
    """The bytes in front of the audio, with the sizes for `data_bytes` of audio."""
    bits = _BITS[fmt]
    block = channels * bits // 8
    if fmt == "pcm16":
        fmt_body = struct.pack("<HHIIHH", 1, channels, rate, rate * block, block, bits)
        fact = b""
    else:
        fmt_body = struct.pack("<HHIIHHH", _TAG[fmt], channels, rate, rate * block, block,
                               bits, 0)
        fact = b"fact" + struct.pack("<II", 4, data_bytes // block)
    pad = data_bytes % 2
    riff = (4 + 8 + len(fmt_body) + len(fact) + 8 + data_bytes + pad)
    return (b"RIFF" + struct.pack("<I", riff) + b"WAVE"
            + b"fmt " + struct.pack("<I", len(fmt_body)) + fmt_body
            + fact + b"data" + struct.pack("<I", data_bytes))


class GrowingWav:
    """One WAV file being written. `file` is an open binary file positioned at 0 (the
    writer opens it with mode 'xb', so a recording never overwrites another)."""

    def __init__(self, file, fmt, channels, rate=8000):
        if fmt not in WAV_FORMATS:
            raise ValueError(f"WAV format must be one of {', '.join(WAV_FORMATS)}, "
                             f"not {fmt!r}")
        self._file = file
        self.fmt = fmt
        self.channels = channels
        self.rate = rate
        self.block = channels * _BITS[fmt] // 8
        self.data_bytes = 0
        self.synced_bytes = 0
        self._audio_on_disk = 0
        self._head = len(header(fmt, channels, rate, 0))
        file.write(header(fmt, channels, rate, 0))

    @property
    def frames(self):
        """Sample frames (one sample per channel) written so far."""
        return self.data_bytes // self.block

    def write(self, interleaved):
        """Appends int16 samples, interleaved if stereo."""
        if self.fmt == "pcm16":
            data = interleaved.astype("<i2", copy=False).tobytes()
        else:
            data = g711.ENCODERS[self.fmt](interleaved).tobytes()
        self._file.write(data)
        self.data_bytes += len(data)

    @property
    def dirty(self):
        """True when audio was written since the header last said how much there is."""
        return self.synced_bytes != self.data_bytes

    def sync_audio(self):
        """Step 1 of a sync: the audio written so far to disk."""
        self._file.flush()
        _sync_fd(self._file.fileno())
        self._audio_on_disk = self.data_bytes

    def sync_header(self):
        """Step 2: the header's sizes for the audio step 1 put on disk, then to disk."""
        on_disk = self._audio_on_disk
        self._file.seek(0)
        self._file.write(header(self.fmt, self.channels, self.rate, on_disk))
        self._file.seek(self._head + self.data_bytes)
        self._file.flush()
        _sync_fd(self._file.fileno())
        self.synced_bytes = on_disk

    # The same two steps for a writer that puts many files on disk with one syncfs(2) per
    # step (recording/writer.py): write what is to go, syncfs, then mark it on disk.
    def stage_audio(self):
        self._file.flush()
        self._audio_staged = self.data_bytes

    def audio_on_disk(self):
        self._audio_on_disk = self._audio_staged

    def stage_header(self):
        self._header_staged = self._audio_on_disk
        self._file.seek(0)
        self._file.write(header(self.fmt, self.channels, self.rate, self._header_staged))
        self._file.seek(self._head + self.data_bytes)
        self._file.flush()

    def header_on_disk(self):
        self.synced_bytes = self._header_staged

    def fileno(self):
        return self._file.fileno()

    def sync(self):
        """Audio to disk, then the header's sizes, then the header to disk."""
        if self.dirty:
            self.sync_audio()
            self.sync_header()

    def close(self):
        """Pads an odd-length data chunk (RIFF rule), syncs and closes."""
        try:
            self.sync()
            if self.data_bytes % 2:
                self._file.write(b"\0")
                self._file.flush()
                _sync_fd(self._file.fileno())
        finally:
            self._file.close()


def repair(path, dry_run=False):
    """Sets the sizes in the header of a WAV this module wrote (cut by a crash) from the
    file's length. Returns the number of sample frames the file now declares, or None if
    the file is not such a WAV (then it is left untouched). dry_run: only says whether
    the header needs fixing (True / False / None)."""
    with open(path, "rb" if dry_run else "r+b") as file:
        head = file.read(64)
        size = os.fstat(file.fileno()).st_size
        if len(head) < 12 or head[:4] != b"RIFF" or head[8:12] != b"WAVE":
            return None
        if head[12:16] != b"fmt ":
            return None
        fmt_len = struct.unpack_from("<I", head, 16)[0]
        if fmt_len not in (16, 18):
            return None
        tag, channels, rate = struct.unpack_from("<HHI", head, 20)
        fmt = _TAG_NAME.get(tag)
        if fmt is None or channels < 1:
            return None
        data_at = 20 + fmt_len + (12 if fmt != "pcm16" else 0)
        if head[data_at:data_at + 4] != b"data" or (fmt != "pcm16"
                                                      and head[20 + fmt_len:24 + fmt_len]
                                                      != b"fact"):
            return None
        block = channels * _BITS[fmt] // 8
        data_bytes = (size - data_at - 8) // block * block
        fixed = header(fmt, channels, rate, data_bytes)
        if dry_run:
            return fixed != head[:len(fixed)]
        if fixed != head[:len(fixed)]:
            file.seek(0)
            file.write(fixed)
            file.flush()
            _sync_fd(file.fileno())
        return data_bytes // block


def interleave(a, b):
    """Two equal-length int16 channels -> one interleaved int16 array (a left, b right)."""
    out = np.empty(2 * a.shape[0], dtype=np.int16)
    out[0::2] = a
    out[1::2] = b
    return out


def mix(a, b):
    """Both parties in one channel: the sum, saturated to int16."""
    return np.clip(a.astype(np.int32) + b, -32768, 32767).astype(np.int16)
