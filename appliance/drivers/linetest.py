"""The installer's line tests on an open `Board`: what `appliance boards test URL` runs.

- `measure_fxo_line(board, port)`: an FXO port's line from the exchange: tip-ring voltage
  on-hook (the exchange's battery), then seized: voltage and loop current off-hook, then
  released. A line with no battery is not connected (or the wrong pair); a loop current
  below `MIN_LOOP_MA` is a line too long or a weak feed, where hook and DTMF get unreliable.
- `ring_station(board, port, seconds)`: ring the station on an FXS port (the country's
  cadence) for up to `seconds` of board time; the ring trip when someone lifts the handset,
  and then the station's loop.
- `loopback_call(board, fxs, fxo, digits)`: a cable from an FXS port to an FXO port: ring
  the FXS port and see the ring on the FXO port, seize the FXO port and see the ring trip
  on the FXS port, then DTMF both ways (generated at `level_dbm0` per tone) with the digits
  the host's DTMF receiver detected on the other end and the level of each tone group as
  received (dBm0, measured at the digit's tone frequencies), then release.
- `run_line_tests(board, fxo=, station=, loopback=, ...)`: the tests asked for, in that
  order, as one `LineTestReport`.

Time is the board's: waits are counted in its ticks (20 ms; audio is selected on the ports
under test so that every tick comes as an event), so a board on a virtual clock runs the
tests as fast as it can. Each result says `ok` and, when not, `problem` in the installer's
words with the likely cause.
"""

import math
from dataclasses import asdict, dataclass, field

import numpy as np

from appliance.drivers.board import events as ev
from appliance.drivers.protocol import TICK_MS, TICK_SAMPLES, Law, PortKind
from appliance.dsp import g711
from appliance.dtmf.digits import frequencies
from appliance.dtmf.generate import generate as dtmf_generate

TICKS_PER_S = 1000 // TICK_MS
MIN_BATTERY_V = 20.0    # |on-hook voltage| below this: no exchange battery on the pair
MIN_LOOP_MA = 18.0      # the usual minimum feed of an exchange line (ETSI ES 201 970 / TBR21
                        # equipment is tested down to about 18-20 mA)
SETTLE_TICKS = 10       # after a hook change, before reading the line (200 ms)
DBM0_PEAK = 22827.6     # peak of a 0 dBm0 sine (G.711; native/level_internal.h)
DIGIT_ON_MS = 100.0
DIGIT_OFF_MS = 100.0
LEVEL_TOLERANCE_DB = 6.0  # a tone received further than this from what was sent: a problem
DEFAULT_DIGITS = "1234567890*#ABCD"


class LineTestError(ValueError):
    """The test cannot run as asked (a port of the wrong kind, no such port)."""


@dataclass
class FxoLineResult:
    port: int
    on_hook_v: float
    off_hook_v: float | None = None
    loop_ma: float | None = None
    polarity: str = "normal"  # "reversed": tip and ring swapped (negative voltage)
    ok: bool = False
    problem: str | None = None


@dataclass
class StationResult:
    port: int
    rang_s: float = 0.0
    answered: bool = False
    ring_trip_s: float | None = None  # from the first ring command to the off-hook
    off_hook_v: float | None = None
    loop_ma: float | None = None
    ok: bool = False
    problem: str | None = None


@dataclass
class DigitLevel:
    digit: str
    low_dbm0: float | None   # the received level at the digit's low-group frequency
    high_dbm0: float | None  # ... and at its high-group frequency


@dataclass
class DtmfDirection:
    source: int    # the port the digits were played to
    receiver: int  # the port whose audio the DTMF receiver listened to
    sent: str
    detected: str
    level_dbm0: float  # what each tone was sent at
    levels: list = field(default_factory=list)  # DigitLevel per digit sent
    ok: bool = False
    problem: str | None = None


@dataclass
class LoopbackResult:
    fxs: int
    fxo: int
    ring_detected_s: float | None = None  # ring command -> RING_ON on the FXO port
    ring_trip_s: float | None = None      # FXO seized -> off-hook on the FXS port
    directions: list = field(default_factory=list)  # DtmfDirection, FXS->FXO then FXO->FXS
    ok: bool = False
    problem: str | None = None


@dataclass
class LineTestReport:
    fxo: list = field(default_factory=list)  # FxoLineResult per port
    station: StationResult | None = None
    loopback: LoopbackResult | None = None

    @property
    def ok(self):
        results = [*self.fxo, *(r for r in (self.station, self.loopback) if r is not None)]
        return all(r.ok for r in results)

    def to_dict(self):
        return {"ok": self.ok, "fxo": [asdict(r) for r in self.fxo],
                "station": None if self.station is None else asdict(self.station),
                "loopback": None if self.loopback is None else asdict(self.loopback)}


async def run_line_tests(board, *, fxo=(), station=None, ring_s=8.0, loopback=None,
                         digits=DEFAULT_DIGITS, level_dbm0=-10.0):
    """The tests asked for: `fxo` ports' lines, ringing the `station` port, the `loopback`
    (fxs, fxo) cable. Every port is checked before any test runs (LineTestError)."""
    for port in fxo:
        check_port(board, port, PortKind.FXO, f"--fxo {port}")
    if station is not None:
        check_port(board, station, PortKind.FXS, f"--ring {station}")
    if loopback is not None:
        check_port(board, loopback[0], PortKind.FXS, f"--loopback {loopback[0]}:{loopback[1]}")
        check_port(board, loopback[1], PortKind.FXO, f"--loopback {loopback[0]}:{loopback[1]}")
    report = LineTestReport()
    for port in fxo:
        report.fxo.append(await measure_fxo_line(board, port))
    if station is not None:
        report.station = await ring_station(board, station, ring_s)
    if loopback is not None:
        report.loopback = await loopback_call(board, *loopback, digits=digits,
                                              level_dbm0=level_dbm0)
    return report


def check_port(board, port, kind, what):
    """The board's port `port`, which must be of `kind` (LineTestError naming the fix)."""
    ports = board.ports
    fitting = [p.index for p in ports if p.kind is kind]
    listing = ", ".join(map(str, fitting)) or "none"
    if not 0 <= port < len(ports):
        raise LineTestError(f"{what}: the board has no port {port} (ports 0-{len(ports) - 1}; "
                            f"its {kind.name} ports: {listing})")
    if ports[port].kind is not kind:
        raise LineTestError(f"{what}: port {port} is {ports[port].kind.name}, not {kind.name} "
                            f"(its {kind.name} ports: {listing})")
    return ports[port]


class _Ticks:
    """The board's event stream counted in ticks: `run(n, stop=, play=)` takes events until
    `n` ticks passed or `stop(event)` is true, answering each tick with what `play` gives."""

    def __init__(self, board):
        self.board = board
        self.now = 0  # ticks since the test started
        self.events = []  # non-audio events seen
        self.audio = {}  # port -> [int16 rows] while recording
        self.recording = set()

    async def run(self, n, stop=None, play=None):
        end = self.now + n
        while self.now < end:
            try:
                event = await self.board.next_event(timeout=5.0)
            except TimeoutError:
                raise LineTestError("the board sent nothing for 5 s (no audio ticks)") from None
            if isinstance(event, ev.AudioReceived):
                self.now += 1
                self._take(event)
                if play is not None:
                    out = play(self.now)
                    if out:
                        self.board.send_audio(event.tick, out)
                if stop is not None and stop(None):
                    return True
                continue
            if isinstance(event, (ev.BoardLost, ev.CallEnded)):
                raise LineTestError(f"the board was lost during the test ({event})")
            self.events.append((self.now, event))
            if stop is not None and stop(event):
                return True
        return False

    def _take(self, event):
        if not self.recording or event.linear is None:
            return
        for row, port in enumerate(event.ports):
            if port in self.recording:
                self.audio.setdefault(port, []).append(event.linear[row].copy())


# ---- FXO lines ---------------------------------------------------------------------------
async def measure_fxo_line(board, port):
    line = check_port(board, port, PortKind.FXO, "line test")
    ticks = _Ticks(board)
    await board.select_audio([port])
    try:
        idle = await line.read_line()
        result = FxoLineResult(port, idle.voltage_v,
                               polarity="reversed" if idle.voltage_v < 0 else "normal")
        if abs(idle.voltage_v) < MIN_BATTERY_V:
            result.problem = (f"no exchange battery ({idle.voltage_v:.1f} V on-hook; expected "
                              f"about 48 V): the line is not connected to this port, or it "
                              f"is the wrong pair")
            return result
        await line.seize()
        try:
            await ticks.run(SETTLE_TICKS)
            seized = await line.read_line()
        finally:
            await line.release()
        await ticks.run(SETTLE_TICKS)
        result.off_hook_v, result.loop_ma = seized.voltage_v, seized.current_ma
        if seized.current_ma <= 0.0:
            result.problem = ("no loop current off-hook: the exchange did not close the "
                              "loop (line barred or faulty)")
        elif seized.current_ma < MIN_LOOP_MA:
            result.problem = (f"low loop current {seized.current_ma:.1f} mA (at least "
                              f"{MIN_LOOP_MA:.0f} mA expected): a long line or a weak feed; "
                              "hang-up and DTMF may be unreliable")
        else:
            result.ok = True
        return result
    finally:
        await board.select_audio([])


# ---- a station ---------------------------------------------------------------------------
async def ring_station(board, port, seconds=8.0):
    station = check_port(board, port, PortKind.FXS, "ring test")
    ticks = _Ticks(board)
    await board.select_audio([port])
    try:
        if station.off_hook:
            return StationResult(port, problem="the station is off-hook already: hang it up "
                                               "and run the test again")
        await station.ring()
        answered = await ticks.run(max(1, round(seconds * TICKS_PER_S)), stop=lambda e: (
            isinstance(e, ev.HookChanged) and e.port == port and e.off_hook))
        result = StationResult(port, rang_s=ticks.now / TICKS_PER_S)
        if not answered:
            await station.stop_ring()
            result.problem = (f"nobody answered in {seconds:g} s: lift the handset while it "
                              "rings; if it never rang, check the phone's cable and ringer")
            return result
        result.answered = True
        result.ring_trip_s = ticks.now / TICKS_PER_S
        await ticks.run(SETTLE_TICKS)
        reading = await station.read_line()
        result.off_hook_v, result.loop_ma = reading.voltage_v, reading.current_ma
        result.ok = True
        return result
    finally:
        await board.select_audio([])


# ---- the loopback cable ------------------------------------------------------------------
async def loopback_call(board, fxs, fxo, digits=DEFAULT_DIGITS, level_dbm0=-10.0):
    station_end = check_port(board, fxs, PortKind.FXS, "loopback")
    line_end = check_port(board, fxo, PortKind.FXO, "loopback")
    bad = sorted(set(digits) - set(DEFAULT_DIGITS))
    if not digits or bad:
        raise LineTestError(f"digits {digits!r}: use DTMF digits 0-9, *, #, A-D")
    result = LoopbackResult(fxs, fxo)
    ticks = _Ticks(board)
    await board.select_audio([fxs, fxo])
    try:
        if station_end.off_hook or line_end.off_hook:
            result.problem = "a port is off-hook already: hang up and run the test again"
            return result
        await station_end.ring()
        rang = await ticks.run(3 * TICKS_PER_S, stop=lambda e: (
            isinstance(e, ev.RingStarted) and e.port == fxo))
        if not rang:
            await station_end.stop_ring()
            result.problem = (f"FXO port {fxo} saw no ring from FXS port {fxs} in 3 s: is "
                              f"the cable between ports {fxs} and {fxo}?")
            return result
        result.ring_detected_s = ticks.now / TICKS_PER_S
        seized_at = ticks.now
        await line_end.seize()
        tripped = await ticks.run(2 * TICKS_PER_S, stop=lambda e: (
            isinstance(e, ev.HookChanged) and e.port == fxs and e.off_hook))
        if not tripped:
            await station_end.stop_ring()
            await line_end.release()
            result.problem = (f"FXS port {fxs} saw no off-hook (ring trip) when FXO port "
                              f"{fxo} was seized: the loop does not close")
            return result
        result.ring_trip_s = (ticks.now - seized_at) / TICKS_PER_S
        await ticks.run(SETTLE_TICKS)
        try:
            for source, receiver in ((fxs, fxo), (fxo, fxs)):
                result.directions.append(
                    await _dtmf(board, ticks, source, receiver, digits, level_dbm0))
        finally:
            await line_end.release()
            await ticks.run(SETTLE_TICKS)
        failed = [d for d in result.directions if not d.ok]
        result.ok = not failed
        if failed:
            result.problem = "; ".join(f"{d.source}->{d.receiver}: {d.problem}" for d in failed)
        return result
    finally:
        await board.select_audio([])


async def _dtmf(board, ticks, source, receiver, digits, level_dbm0):
    signal = dtmf_generate(digits, level_dbm0=level_dbm0, on_ms=DIGIT_ON_MS,
                           off_ms=DIGIT_OFF_MS)
    frames = -(-len(signal) // TICK_SAMPLES)
    signal = np.concatenate([signal, np.zeros(frames * TICK_SAMPLES - len(signal), np.int16)])
    law = board.ports[source].law
    encode = g711.alaw_encode if law is Law.ALAW else g711.ulaw_encode
    codes = encode(signal).reshape(frames, TICK_SAMPLES)
    start = ticks.now
    ticks.audio[receiver] = []
    ticks.recording = {receiver}

    def play(now):
        i = now - start - 1
        return {source: codes[i]} if 0 <= i < frames else None
    # the signal, then time for the board's delay and the receiver's last digit
    await ticks.run(frames + 15, play=play)
    ticks.recording = set()
    detected = "".join(e.digit for t, e in ticks.events
                       if t > start and isinstance(e, ev.DigitDetected) and e.port == receiver)
    heard = np.concatenate(ticks.audio.pop(receiver)) if ticks.audio.get(receiver) else \
        np.zeros(0, np.int16)
    levels = _digit_levels(heard, digits)
    direction = DtmfDirection(source, receiver, digits, detected, level_dbm0, levels)
    problems = []
    if detected != digits:
        problems.append(f"sent {digits}, detected {detected or 'nothing'}")
    weak = [d.digit for d in levels if d.low_dbm0 is None or d.high_dbm0 is None
            or abs(d.low_dbm0 - level_dbm0) > LEVEL_TOLERANCE_DB
            or abs(d.high_dbm0 - level_dbm0) > LEVEL_TOLERANCE_DB]
    if weak:
        problems.append(f"level off by more than {LEVEL_TOLERANCE_DB:g} dB for "
                        f"{''.join(weak)} (sent {level_dbm0:g} dBm0 per tone)")
    direction.ok = not problems
    direction.problem = "; ".join(problems) or None
    return direction


def _digit_levels(audio, digits):
    """Per digit sent: the received level at its two frequencies, measured over the middle
    of its tone burst. The bursts are found in the audio (the link's delay is not known):
    10 ms blocks within 20 dB of the loudest block, in runs, matched to the digits in order."""
    block = 80
    n = len(audio) // block
    levels = [DigitLevel(d, None, None) for d in digits]
    if n == 0:
        return levels
    x = audio[:n * block].astype(np.float64).reshape(n, block)
    power = (x * x).mean(axis=1)
    loud = power > power.max() * 10 ** (-20 / 10) if power.max() > 0 else np.zeros(n, bool)
    runs, begin = [], None
    for i, on in enumerate(np.append(loud, False)):
        if on and begin is None:
            begin = i
        elif not on and begin is not None:
            if i - begin >= 3:  # at least 30 ms: a tone burst, not a click
                runs.append((begin * block, i * block))
            begin = None
    for level, (begin, end) in zip(levels, runs):
        margin = (end - begin) // 5
        segment = audio[begin + margin:end - margin].astype(np.float64)
        low, high = frequencies(level.digit)
        level.low_dbm0 = _tone_dbm0(segment, low)
        level.high_dbm0 = _tone_dbm0(segment, high)
    return levels


def _tone_dbm0(segment, hz):
    """The level (dBm0, rounded to 0.1 dB) of the sine at `hz` in `segment`: its DFT
    coefficient at `hz` under a Hann window (amplitude = 2|X| / sum(window))."""
    if len(segment) < 16:
        return None
    window = np.hanning(len(segment))
    t = np.arange(len(segment)) / 8000.0
    coefficient = np.dot(segment * window, np.exp(-2j * math.pi * hz * t))
    amplitude = 2 * abs(coefficient) / window.sum()
    if amplitude <= 0:
        return None
    return round(20 * math.log10(amplitude / DBM0_PEAK), 1)
