"""ChannelBank: a board's receive chain, all channels, one C call per tick (native/bank.h).

The engine hands it one tick of audio for every channel (G.711 codes as uint8
[channels, frame], or int16 linear), and the audio it sent on each line in that tick (for
the echo canceller), and gets back the line audio, the cleaned voice, and the events of the
tick. In line order: decode, echo cancelling, DTMF, call-progress tones, then the voice
path (noise suppression, AGC) and its G.711 encoding. Event times are seconds from the
start of each channel's stream, which restarts when the channel is reset (a call ended).
"""

from dataclasses import dataclass

import numpy as np

from appliance.dsp import tones as cpt
from appliance.dsp._binding import c_array, check, ffi, lib
from appliance.dsp.agc import AgcBank
from appliance.dsp.echo import EchoCancellerBank
from appliance.dsp.ns import NoiseSuppressorBank
from appliance.dsp.toneplan import load_plan
from appliance.dsp import fsk, g711
from appliance.dsp.callerid import CallerIdBank
from appliance.dtmf import detector as dtmf

FRAME = 160  # samples per channel per 20 ms tick at 8 kHz
_LAWS = {"alaw": lib.BANK_LAW_ALAW, "ulaw": lib.BANK_LAW_ULAW}
# The stages a channel can switch on and off, and whether they start on.
STAGES = {"tones": False, "callerid": False, "echo": True, "ns": True, "agc": True}


@dataclass(frozen=True)
class Tick:
    """What one tick of a bank produced.

    linear: int16 [channels, frame], the line after echo cancelling: a view of the bank's
        own buffer (valid until the next tick; copy it to keep it).
    voice: int16 [channels, frame], `linear` through noise suppression (79 samples later)
        and AGC where they are on: what recordings and the other party get. Bank-owned.
    voice_codes: uint8 [channels, frame], `voice` in the bank's G.711 law. Bank-owned.
    digits: [(channel, DtmfEvent)] completed in this tick.
    onsets: [(channel, DtmfOnset)] keys that went down in this tick.
    tones: [(channel, ToneEvent)] call-progress tone events of this tick.
    caller_ids: [(channel, CallerId or CallerIdError)] caller-ID messages (FSK, or DTMF
        from this tick's digits) completed in this tick on the channels listening for them.
    """

    linear: np.ndarray
    voice: np.ndarray
    voice_codes: np.ndarray
    digits: list
    onsets: list
    tones: list
    caller_ids: list


class ChannelBank:
    """The receive chain of `channels` channels.

    Each channel's stages switch with `enable(channel, stage, on)` (see STAGES for the
    defaults): call-progress tones (from `tone_plan`, a plan name or file, see
    appliance.dsp.toneplan) only where switched on, for outbound calls and lines that give
    only a busy tone at hang-up; caller ID (FSK Bell 202 / V.23, and DTMF) on idle and
    ringing analog lines; the echo canceller (`echo_tail_ms` of echo path) on analog
    lines, off on digital ones; noise suppression and AGC (`agc_target_dbfs`) on the voice.
    """

    def __init__(self, channels, law="alaw", rate=8000, frame=FRAME, tone_plan="cn",
                 echo_tail_ms=64, agc_target_dbfs=-18.0):
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
        self._callerid = CallerIdBank(channels, frame)
        fsk_room = channels * fsk.events_room(frame)
        self._fsk_events = ffi.new("fsk_event_t[]", fsk_room)
        self._stages.fsk = self._callerid.receivers.states
        self._stages.fsk_events = self._fsk_events
        self._stages.max_fsk_events = fsk_room
        self._echo = EchoCancellerBank(channels, rate, tail_ms=echo_tail_ms)
        self._ns = NoiseSuppressorBank(channels, rate)
        self._agc = AgcBank(channels, rate, target_dbfs=agc_target_dbfs)
        self._enabled = {stage: np.full(channels, on, dtype=np.uint8)
                         for stage, on in STAGES.items()}
        self._enabled["tones"] = self._cpt_enabled
        self._voice = np.zeros((channels, frame), dtype=np.int16)
        self._voice_codes = np.zeros((channels, frame), dtype=np.uint8)
        self._stages.fsk_enabled = c_array(self._enabled["callerid"], np.uint8)
        self._stages.ec = self._echo._states
        self._stages.ec_enabled = c_array(self._enabled["echo"], np.uint8)
        self._stages.ns = self._ns._states
        self._stages.ns_enabled = c_array(self._enabled["ns"], np.uint8)
        self._stages.agc = self._agc._states
        self._stages.agc_enabled = c_array(self._enabled["agc"], np.uint8)
        self._stages.voice = c_array(self._voice, np.int16, writable=True)
        self._voice_codes_ptr = c_array(self._voice_codes, np.uint8, writable=True)
        self._counts = ffi.new("bank_counts_t *")

    def process(self, frames, tx=None):
        """Runs one tick. `frames`: uint8 G.711 codes or int16 linear, [channels, frame].
        `tx`: int16 linear [channels, frame], what the box sent on each line in this tick
        (the echo canceller's reference); without it the echo canceller is skipped."""
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
        if tx is None:
            self._stages.tx = ffi.NULL
        else:
            if not isinstance(tx, np.ndarray) or tx.shape != shape:
                raise ValueError(f"tx must be a numpy array of shape {shape}, "
                                 f"not {getattr(tx, 'shape', type(tx).__name__)}")
            self._stages.tx = c_array(np.ascontiguousarray(tx), np.int16, name="tx")
        # voice_codes is the encoding of voice in the bank's law; linear input has none.
        self._stages.voice_codes = self._voice_codes_ptr if codes != ffi.NULL else ffi.NULL
        try:
            check(
                lib.bank_process(law, self.channels, self.frame, codes, self._linear_ptr,
                                 self._stages, self._counts),
                "bank_process",
            )
        finally:
            self._stages.tx = ffi.NULL  # never keep a pointer into the caller's array
        if codes == ffi.NULL:
            self._voice_codes[...] = g711.ENCODERS[self.law](self._voice)
        digits, onsets = dtmf.split_events(self._dtmf_events, self._counts.dtmf)
        tones = cpt.decode_events(self._cpt_events, self._counts.cpt, self._plan_tones)
        caller_ids = self._callerid.assemble(fsk.decode_events(self._fsk_events,
                                                               self._counts.fsk))
        listening = self._enabled["callerid"]
        for channel, event in digits:
            if listening[channel]:
                caller_ids += self._callerid.dtmf(channel, event)
        return Tick(linear=self._linear, voice=self._voice, voice_codes=self._voice_codes,
                    digits=digits, onsets=onsets, tones=tones, caller_ids=caller_ids)

    def enable(self, channel, stage, on=True):
        """Switches a stage ("tones", "callerid", "echo", "ns" or "agc") of `channel` on,
        from a fresh state, or off."""
        self._check(channel)
        if stage not in self._enabled:
            raise ValueError(f"stage must be one of {sorted(self._enabled)}, not {stage!r}")
        if on and not self._enabled[stage][channel]:
            self._reset_stage(stage, channel)
        self._enabled[stage][channel] = 1 if on else 0

    def enable_tones(self, channel, on=True):
        """Switches call-progress tone detection on `channel` on (from a fresh stream) or off."""
        self.enable(channel, "tones", on)

    def reset(self, channel):
        """A call on `channel` ended: its next sample starts a new stream at time 0, and
        every stage forgets the call (the echo path, the noise, the level)."""
        self._check(channel)
        lib.dtmf_reset(self._dtmf + channel)
        for stage in self._enabled:
            self._reset_stage(stage, channel)

    def _reset_stage(self, stage, channel):
        if stage == "tones":
            lib.cpt_reset(self._cpt + channel)
        elif stage == "callerid":
            self._callerid.reset(channel)
        elif stage == "echo":
            self._echo.reset(channel)
        elif stage == "ns":
            self._ns.reset(channel)
        else:
            lib.agc_reset(self._agc._states + channel)

    def _check(self, channel):
        if not 0 <= channel < self.channels:
            raise IndexError(f"channel {channel} is not in 0..{self.channels - 1}")
