"""ChannelBank: a board's receive chain, all channels, one C call per tick (native/bank.h).

The engine hands it one tick of audio for every channel (G.711 codes as uint8
[channels, frame], or int16 linear) and gets back the linear audio and the events of the
tick. Event times are seconds from the start of each channel's stream, which restarts
when the channel is reset (a call ended).
"""

from dataclasses import dataclass

import numpy as np

from appliance.dsp import tones as cpt
from appliance.dsp._binding import c_array, check, ffi, lib
from appliance.dsp.toneplan import load_plan
from appliance.dtmf import detector as dtmf

FRAME = 160  # samples per channel per 20 ms tick at 8 kHz
_LAWS = {"alaw": lib.BANK_LAW_ALAW, "ulaw": lib.BANK_LAW_ULAW}


@dataclass(frozen=True)
class Tick:
    """What one tick of a bank produced.

    linear: int16 [channels, frame], a view of the bank's own buffer (valid until the next
        tick; copy it to keep it).
    digits: [(channel, DtmfEvent)] completed in this tick.
    onsets: [(channel, DtmfOnset)] keys that went down in this tick.
    tones: [(channel, ToneEvent)] call-progress tone events of this tick.
    """

    linear: np.ndarray
    digits: list
    onsets: list
    tones: list


class ChannelBank:
    """The receive chain of `channels` channels. Call-progress tones (from `tone_plan`, a
    plan name or file, see appliance.dsp.toneplan) are detected only on the channels
    where `enable_tones` switched them on: outbound calls and lines that give only a busy
    tone at hang-up."""

    def __init__(self, channels, law="alaw", rate=8000, frame=FRAME, tone_plan="cn"):
        if law not in _LAWS:
            raise ValueError(f"law must be one of {sorted(_LAWS)}, not {law!r}")
        if rate != 8000:
            raise ValueError(f"a ChannelBank runs at 8000 Hz, not {rate}")
        if channels < 1 or frame < 1:
            raise ValueError("a ChannelBank needs at least one channel and one sample per frame")
        self.channels = channels
        self.frame = frame
        self.law = law
        self._law = _LAWS[law]
        self._linear = np.zeros((channels, frame), dtype=np.int16)
        self._linear_ptr = c_array(self._linear, np.int16, writable=True)
        self._plan = load_plan(tone_plan)
        self._plan_tones = cpt.plan_tones(self._plan)
        self._dtmf = dtmf.new_states(channels)
        # At most an onset and a digit per channel per analysis step.
        dtmf_room = channels * (2 * (frame // lib.DTMF_SUBBLOCK + 1))
        self._dtmf_events = ffi.new("dtmf_event_t[]", dtmf_room)
        self._cpt = cpt.new_states(self._plan, channels)
        self._cpt_enabled = np.zeros(channels, dtype=np.uint8)
        self._cpt_events, cpt_room = cpt.event_buffer(channels, frame)
        self._stages = ffi.new("bank_stages_t *", {
            "dtmf": self._dtmf,
            "dtmf_events": self._dtmf_events,
            "max_dtmf_events": dtmf_room,
            "cpt": self._cpt,
            "cpt_enabled": c_array(self._cpt_enabled, np.uint8),
            "cpt_events": self._cpt_events,
            "max_cpt_events": cpt_room,
        })
        self._counts = ffi.new("bank_counts_t *")

    def process(self, frames):
        """Runs one tick. `frames`: uint8 G.711 codes or int16 linear, [channels, frame]."""
        shape = (self.channels, self.frame)
        if not isinstance(frames, np.ndarray) or frames.shape != shape:
            raise ValueError(
                f"frames must be a numpy array of shape {shape}, "
                f"not {getattr(frames, 'shape', type(frames).__name__)}"
            )
        if frames.dtype == np.uint8:
            law, codes = self._law, c_array(np.ascontiguousarray(frames), np.uint8)
        elif frames.dtype == np.int16:
            np.copyto(self._linear, frames)
            law, codes = lib.BANK_LAW_LINEAR, ffi.NULL
        else:
            raise TypeError(f"frames must be uint8 G.711 codes or int16 linear, not {frames.dtype}")
        check(
            lib.bank_process(law, self.channels, self.frame, codes, self._linear_ptr,
                             self._stages, self._counts),
            "bank_process",
        )
        digits, onsets = dtmf.split_events(self._dtmf_events, self._counts.dtmf)
        tones = cpt.decode_events(self._cpt_events, self._counts.cpt, self._plan_tones)
        return Tick(linear=self._linear, digits=digits, onsets=onsets, tones=tones)

    def enable_tones(self, channel, on=True):
        """Switches call-progress tone detection on `channel` on (from a fresh stream) or off."""
        self._check(channel)
        if on and not self._cpt_enabled[channel]:
            lib.cpt_reset(self._cpt + channel)
        self._cpt_enabled[channel] = 1 if on else 0

    def reset(self, channel):
        """A call on `channel` ended: its next sample starts a new stream at time 0."""
        self._check(channel)
        lib.dtmf_reset(self._dtmf + channel)
        lib.cpt_reset(self._cpt + channel)

    def _check(self, channel):
        if not 0 <= channel < self.channels:
            raise IndexError(f"channel {channel} is not in 0..{self.channels - 1}")
