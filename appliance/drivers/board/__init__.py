"""The boards as the engine sees them: `Board` / `Span` / `Port` and their events.

`await Board.open(url)` opens any transport URL (``drivers/transport``), speaks
voiceboard-v1 (``drivers/protocol``), keeps the link alive, declares the board lost after
1 s of silence and brings it back, and runs the host DSP over its audio. See ``board.py``.
"""

from appliance.drivers.board import events
from appliance.drivers.board.board import (
    Board, BoardError, BoardStats, BoardUnavailable, CommandRejected, CommandTimeout,
    LineMeasurement, Port, Span,
)
from appliance.drivers.board.events import (
    AbcdChanged, AlarmsChanged, AudioReceived, BoardBack, BoardLost, CallEnded,
    CallerIdReceived, DigitDetected, FlashDetected, HookChanged, LoopCurrentDropped,
    LoopCurrentRestored, PolarityReversed, RingStarted, RingStopped, ToneDetected, ToneEnded,
)

__all__ = [
    "AbcdChanged", "AlarmsChanged", "AudioReceived", "Board", "BoardBack", "BoardError",
    "BoardLost", "BoardStats", "BoardUnavailable", "CallEnded", "CallerIdReceived",
    "CommandRejected", "CommandTimeout", "DigitDetected", "FlashDetected", "HookChanged",
    "LineMeasurement", "LoopCurrentDropped", "LoopCurrentRestored", "PolarityReversed", "Port",
    "RingStarted", "RingStopped", "Span", "ToneDetected", "ToneEnded", "events",
]
