"""A test host that drives a VirtualBoard as the engine would: tick by tick, one frame of
audio per tick, the board's events to react to, DTMF receivers on what the board sends."""

import numpy as np

from appliance.drivers.emulator import Ack, Law, SelectAudio
from appliance.dsp import g711
from appliance.dtmf import DtmfDetector

FRAME = 160


class Host:
    def __init__(self, board, ports=()):
        self.board = board
        self.ports = tuple(sorted(ports))
        if self.ports:
            assert board.apply(SelectAudio(frozenset(self.ports))) == Ack()
        self.start = board.now  # rx of every selected port is kept from this tick
        self.rx = {p: [] for p in self.ports}
        self.detectors = {p: DtmfDetector() for p in self.ports}
        self.digits = {p: [] for p in self.ports}  # DtmfEvent, seconds from self.start
        self.events = []
        self.replies = []
        self.queue = {}  # port -> uint8 codes still to play

    def law(self, port):
        return self.board.model.ports[port].law

    def play(self, port, samples):
        """Queue int16 audio for `port`; it goes out 160 samples per tick."""
        encode = g711.alaw_encode if self.law(port) is Law.ALAW else g711.ulaw_encode
        codes = encode(np.asarray(samples, dtype=np.int16))
        self.queue[port] = np.concatenate([self.queue.get(port, np.zeros(0, np.uint8)), codes])

    def step(self):
        tx = {}
        for port, codes in list(self.queue.items()):
            frame = np.full(FRAME, self.law(port).idle_code, dtype=np.uint8)
            frame[:min(FRAME, codes.size)] = codes[:FRAME]
            tx[port] = frame
            if codes.size <= FRAME:
                del self.queue[port]
            else:
                self.queue[port] = codes[FRAME:]
        result = self.board.tick(tx)
        for row, port in enumerate(result.ports):
            decode = g711.alaw_decode if self.law(port) is Law.ALAW else g711.ulaw_decode
            linear = decode(result.rx[row])
            self.rx[port].append(linear)
            self.digits[port] += self.detectors[port].feed(linear)
        self.events += result.events
        self.replies += result.replies
        return result

    def run(self, ticks, on_event=None):
        for _ in range(ticks):
            result = self.step()
            if on_event is not None:
                for event in result.events:
                    on_event(event)

    def run_until(self, predicate, limit=10000):
        """Step until predicate(event) is true for an event; returns that event."""
        for _ in range(limit):
            for event in self.step().events:
                if predicate(event):
                    return event
        raise AssertionError(f"no matching event within {limit} ticks")

    def audio(self, port, start_tick=None, end_tick=None):
        """Linear audio the board sent for `port` between two board ticks."""
        whole = np.concatenate(self.rx[port]) if self.rx[port] else np.zeros(0, np.int16)
        a = 0 if start_tick is None else (start_tick - self.start) * FRAME
        b = whole.size if end_tick is None else (end_tick - self.start) * FRAME
        return whole[a:b]

    def digit_string(self, port):
        return "".join(e.digit for e in self.digits[port])


def rms(samples):
    x = np.asarray(samples, dtype=np.float64)
    return float(np.sqrt(np.mean(x * x))) if x.size else 0.0
