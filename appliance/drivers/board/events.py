"""What a `Board` tells the engine: frozen dataclasses named in the past tense.

Every event names its board (``board``: the `Board.name`) and, for line events, the port
(the board's port number). ``tick`` is the board's tick (20 ms) at which it happened: the
board's clock, never the host's. Line signalling comes from the board's wire events; what is
in the audio (digits, caller ID sent as DTMF, call-progress tones) comes from the host's DSP
(`appliance.dsp.ChannelBank`) on the board's AUDIO_RX frames.
"""

from dataclasses import dataclass

import numpy as np

from appliance.records import record


@record
class RingStarted:
    """An FXO line's ringing voltage came on (one burst of the exchange's cadence)."""

    board: str
    port: int
    tick: int


@record
class RingStopped:
    board: str
    port: int
    tick: int


@record
class HookChanged:
    """An FXS station went off-hook (True) or on-hook (False). An on-hook shorter than the
    profile's hook-flash window is reported as `FlashDetected` instead of two of these."""

    board: str
    port: int
    off_hook: bool
    tick: int


@record
class FlashDetected:
    """An FXS station flashed its hook (on-hook for `duration_ms`, within the window)."""

    board: str
    port: int
    duration_ms: int
    tick: int


@record
class PolarityReversed:
    """An FXO line's polarity changed; `polarity` is the new one (0 normal, 1 reversed)."""

    board: str
    port: int
    polarity: int
    tick: int


@record
class LoopCurrentDropped:
    board: str
    port: int
    tick: int


@record
class LoopCurrentRestored:
    board: str
    port: int
    tick: int


@record
class AlarmsChanged:
    """An E1 span's alarm set changed (`alarms`: protocol ``Alarm`` flags, 0 = clear)."""

    board: str
    span: int
    alarms: int
    tick: int


@record
class AbcdChanged:
    """An E1 channel's received ABCD bits changed (bits 3..0 = A..D)."""

    board: str
    port: int
    abcd: int
    tick: int


@record
class DigitDetected:
    """The host's DTMF receiver found `digit` in the port's audio (it ended in `tick`)."""

    board: str
    port: int
    digit: str
    tick: int


@record
class CallerIdReceived:
    """Caller ID found on an on-hook FXO line (before or between rings): `number` and
    `name` (None when absent or not carried), `format` "bell202", "v23" (FSK) or "dtmf";
    `details`: the whole ``appliance.dsp.callerid.CallerId`` (time, reasons for absence,
    raw message) when the build has caller ID."""

    board: str
    port: int
    number: str | None
    name: str | None
    format: str
    tick: int
    details: object = None


@record
class ToneDetected:
    """A call-progress tone (`tone`: the plan's ``Tone``) recognised on the port."""

    board: str
    port: int
    tone: object
    tick: int


@record
class ToneEnded:
    board: str
    port: int
    tone: object
    tick: int


@record
class CallEnded:
    """The board was lost while this port was in use (off-hook, ringing or seized): the
    engine ends the call. `reason` says why ("board lost")."""

    board: str
    port: int
    reason: str


@record
class BoardLost:
    """No frame from the board for `silent_s` seconds (at least the loss timeout, 1 s), or
    the link failed (`reason`). The driver keeps trying to bring it back."""

    board: str
    reason: str
    silent_s: float


@record
class BoardBack:
    """The board answered again: a new session (every port on-hook, no audio selected)."""

    board: str
    capabilities: object


@dataclass(frozen=True, eq=False)
class AudioReceived:
    """One tick of audio from the board: `ports` (ascending) x 160 samples.

    codes: uint8 [len(ports), 160], the G.711 bytes as received; linear: int16 [len(ports),
    160], decoded by the DSP bank (None when the board has no DSP attached). Both are the
    driver's buffers for this tick: copy them to keep them past the next tick.
    """

    board: str
    tick: int
    ports: tuple
    codes: np.ndarray
    linear: np.ndarray | None


__all__ = [
    "AbcdChanged", "AlarmsChanged", "AudioReceived", "BoardBack", "BoardLost", "CallEnded",
    "CallerIdReceived", "DigitDetected", "FlashDetected", "HookChanged", "LoopCurrentDropped",
    "LoopCurrentRestored", "PolarityReversed", "RingStarted", "RingStopped", "ToneDetected",
    "ToneEnded",
]
