"""Caller ID: decode and encode the calling number, name and time on an analog line.

Formats:
  - "bell202": Telcordia GR-30 (North America, China, ...): Bell 202 FSK, usually sent
    between the first and second ring; SDMF (message type 0x04) or MDMF (0x80).
  - "v23": ETSI EN 300 659 (Europe): V.23 FSK, usually sent before the first ring (after a
    line reversal and optionally a DT-AS alerting tone, or an RP-AS ring pulse); the call
    set-up message (0x80) with the same parameter layout as MDMF.
  - "dtmf": DTMF digit strings (ETSI EN 300 659 annexes; China, Taiwan, parts of Europe):
    ``A<number>C``, ``D<number>C``, ``D<code>C`` (reason for absence) and ``B<code>C``.

Both FSK standards: 1200 baud, channel seizure (alternating bits), mark signal, then the
message as asynchronous characters (start bit, 8 data bits LSB first, stop bit): message
type, message length, data, checksum (the two's complement of the sum of the other bytes,
so that all bytes sum to 0 modulo 256). MDMF / call set-up data is a list of parameters
(type, length, value): 0x01 date and time (MMDDHHMM), 0x02 number, 0x04 reason for absence
of the number, 0x07 name, 0x08 reason for absence of the name. Reasons: "P" private,
"O" unavailable (out of area).

`decode` finds the caller ID in a recording (`scan` lists every message with its time),
`CallerIdDecoder` in one line's stream of audio (any timing: before the first ring,
between rings), `CallerIdBank` in a whole board's tick (one C call for all channels),
`parse_message` / `parse_dtmf` parse the bytes or digits, and `encode` produces the signal
(`build_message` / `dtmf_digits` the bytes or digits). Bytes and digits come from outside the
box: anything malformed raises `CallerIdError` with the reason, never another exception,
and a bad checksum is never accepted.
"""

from collections import deque
from dataclasses import dataclass
from enum import Enum
from math import gcd

import numpy as np

from appliance.dsp import fsk
from appliance.dsp.tonegen import ToneStep, render
from appliance.dtmf import DtmfDetector, generate

RATE = 8000
FORMATS = ("bell202", "v23", "dtmf")

SDMF = 0x04
MDMF = 0x80
CALLER_ID_TYPES = (SDMF, MDMF)
PARAM_DATETIME = 0x01
PARAM_NUMBER = 0x02
PARAM_NUMBER_ABSENT = 0x04
PARAM_NAME = 0x07
PARAM_NAME_ABSENT = 0x08

# DTMF caller ID: special information (B..C) and reason (D<code>C) codes.
_DTMF_B_CODES = {"00": "O", "10": "P"}
_DTMF_D_CODES = {"1": "P", "2": "O", "3": "O"}  # private, international, unavailable
_DTMF_MAX_DIGITS = 40
_DTMF_MAX_GAP_S = 1.0


class CallerIdError(ValueError):
    """A caller ID message that cannot be accepted: `reason` says why."""

    def __init__(self, reason, raw=None):
        super().__init__(reason)
        self.reason = reason
        self.raw = raw


class Absence(Enum):
    """Reason for absence of the number or name."""

    PRIVATE = "P"
    UNAVAILABLE = "O"


@dataclass(frozen=True)
class CallerIdTime:
    """Date and time of the call as the exchange sends it (no year, no seconds)."""

    month: int
    day: int
    hour: int
    minute: int

    def __post_init__(self):
        if not (1 <= self.month <= 12 and 1 <= self.day <= 31 and 0 <= self.hour <= 23
                and 0 <= self.minute <= 59):
            raise ValueError(f"not a caller ID date/time: {self.month:02d}-{self.day:02d} "
                             f"{self.hour:02d}:{self.minute:02d}")

    def digits(self):
        return f"{self.month:02d}{self.day:02d}{self.hour:02d}{self.minute:02d}"


@dataclass(frozen=True)
class CallerId:
    """One caller ID message.

    format: "bell202", "v23" or "dtmf"; message_type: "SDMF", "MDMF" or "DTMF"; raw: the
    whole message (bytes from the type to the checksum, or the digit string).
    """

    number: str | None = None
    name: str | None = None
    when: CallerIdTime | None = None
    number_absent: Absence | None = None
    name_absent: Absence | None = None
    format: str = "bell202"
    message_type: str = "MDMF"
    raw: bytes | str = b""

    def to_dict(self):
        return {
            "number": self.number,
            "name": self.name,
            "when": None if self.when is None else {
                "month": self.when.month, "day": self.when.day,
                "hour": self.when.hour, "minute": self.when.minute},
            "number_absent": None if self.number_absent is None else self.number_absent.value,
            "name_absent": None if self.name_absent is None else self.name_absent.value,
            "format": self.format,
            "message_type": self.message_type,
            "raw": self.raw.hex() if isinstance(self.raw, bytes) else self.raw,
        }


# ---- Messages ----------------------------------------------------------------------

def checksum(data):
    """The checksum byte that makes data + checksum sum to 0 modulo 256."""
    return (-sum(data)) & 0xFF


def _text(value, what, raw):
    for byte in value:
        if not (0x20 <= byte <= 0x7E or byte >= 0xA0):
            raise CallerIdError(f"{what} holds the control byte 0x{byte:02x}", raw)
    return bytes(value).decode("latin-1")


def _when(value, raw):
    if len(value) != 8 or not all(0x30 <= b <= 0x39 for b in value):
        raise CallerIdError(f"date/time must be 8 ASCII digits MMDDHHMM, got {bytes(value)!r}",
                            raw)
    digits = bytes(value).decode("ascii")
    try:
        return CallerIdTime(int(digits[0:2]), int(digits[2:4]), int(digits[4:6]),
                            int(digits[6:8]))
    except ValueError as exc:
        raise CallerIdError(str(exc), raw) from None


def _absence(value, what, raw):
    if len(value) != 1 or chr(value[0]) not in ("P", "O"):
        raise CallerIdError(f"reason for absence of {what} must be 'P' or 'O', "
                            f"got {bytes(value)!r}", raw)
    return Absence(chr(value[0]))


def parse_message(data, format="bell202"):
    """A whole message (type, length, data, checksum) as a CallerId.

    Raises CallerIdError for a short or long message, a bad checksum, a message type that is
    not caller ID, or a malformed parameter.
    """
    raw = bytes(data)
    if len(raw) < 3:
        raise CallerIdError(f"a message needs at least 3 bytes (type, length, checksum), "
                            f"got {len(raw)}", raw)
    kind, length = raw[0], raw[1]
    if len(raw) != length + 3:
        raise CallerIdError(f"length byte says {length} data bytes, but the message has "
                            f"{len(raw) - 3}", raw)
    total = sum(raw) & 0xFF
    if total != 0:
        raise CallerIdError(f"bad checksum: received 0x{raw[-1]:02x}, expected "
                            f"0x{checksum(raw[:-1]):02x}", raw)
    body = raw[2:-1]
    if kind == SDMF:
        return _parse_sdmf(body, format, raw)
    if kind == MDMF:
        return _parse_mdmf(body, format, raw)
    raise CallerIdError(f"message type 0x{kind:02x} is not caller ID "
                        f"(SDMF 0x04, MDMF / call set-up 0x80)", raw)


def _parse_sdmf(body, format, raw):
    if len(body) < 9:
        raise CallerIdError(f"an SDMF message needs 8 date/time digits and a number, "
                            f"got {len(body)} bytes", raw)
    when = _when(body[:8], raw)
    rest = body[8:]
    if len(rest) == 1 and chr(rest[0]) in ("P", "O"):
        return CallerId(None, None, when, Absence(chr(rest[0])), None, format, "SDMF", raw)
    return CallerId(_text(rest, "number", raw), None, when, None, None, format, "SDMF", raw)


def _parse_mdmf(body, format, raw):
    fields = {}
    i = 0
    while i < len(body):
        if i + 2 > len(body):
            raise CallerIdError(f"parameter header cut short at data byte {i}", raw)
        ptype, plen = body[i], body[i + 1]
        value = body[i + 2:i + 2 + plen]
        if len(value) != plen:
            raise CallerIdError(f"parameter 0x{ptype:02x} says {plen} bytes, "
                                f"only {len(value)} left", raw)
        i += 2 + plen
        if ptype in fields:
            raise CallerIdError(f"parameter 0x{ptype:02x} appears twice", raw)
        fields[ptype] = value  # other parameter types (redirection, call type...) skipped
    when = _when(fields[PARAM_DATETIME], raw) if PARAM_DATETIME in fields else None
    number = _text(fields[PARAM_NUMBER], "number", raw) if PARAM_NUMBER in fields else None
    name = _text(fields[PARAM_NAME], "name", raw) if PARAM_NAME in fields else None
    number_absent = (_absence(fields[PARAM_NUMBER_ABSENT], "number", raw)
                     if PARAM_NUMBER_ABSENT in fields else None)
    name_absent = (_absence(fields[PARAM_NAME_ABSENT], "name", raw)
                   if PARAM_NAME_ABSENT in fields else None)
    return CallerId(number, name, when, number_absent, name_absent, format, "MDMF", raw)


def _absence_of(value, what):
    if value is None or isinstance(value, Absence):
        return value
    try:
        return Absence(value)
    except ValueError:
        raise ValueError(f"{what} must be 'P' (private) or 'O' (unavailable), "
                         f"not {value!r}") from None


def _ascii(value, what, limit):
    if not isinstance(value, str):
        raise TypeError(f"{what} must be a string, not {type(value).__name__}")
    if not 1 <= len(value) <= limit:
        raise ValueError(f"{what} must have 1 to {limit} characters, not {len(value)}")
    if not all(0x20 <= ord(c) <= 0x7E for c in value):
        raise ValueError(f"{what} must be printable ASCII: {value!r}")
    return value.encode("ascii")


def _time_of(when):
    """A CallerIdTime from a CallerIdTime, a datetime, or None."""
    if when is None or isinstance(when, CallerIdTime):
        return when
    if all(hasattr(when, field) for field in ("month", "day", "hour", "minute")):
        return CallerIdTime(when.month, when.day, when.hour, when.minute)
    raise TypeError(f"when must be a CallerIdTime or a datetime, not {type(when).__name__}")


def build_message(number=None, name=None, when=None, message_type="MDMF",
                  number_absent=None, name_absent=None):
    """The message bytes (type, length, data, checksum) for SDMF or MDMF / call set-up.

    A missing number is sent as a reason for absence ("O" unless number_absent says "P").
    """
    number_absent = _absence_of(number_absent, "number_absent")
    name_absent = _absence_of(name_absent, "name_absent")
    if number is None and number_absent is None:
        number_absent = Absence.UNAVAILABLE
    when = _time_of(when)
    if message_type == "SDMF":
        if name is not None or name_absent is not None:
            raise ValueError("an SDMF message carries no name: use MDMF")
        if when is None:
            raise ValueError("an SDMF message needs the date and time (when=)")
        body = when.digits().encode("ascii")
        body += _ascii(number, "number", 10) if number is not None else \
            number_absent.value.encode("ascii")
        kind = SDMF
    elif message_type == "MDMF":
        body = b""

        def param(ptype, value):
            return bytes([ptype, len(value)]) + value

        if when is not None:
            body += param(PARAM_DATETIME, when.digits().encode("ascii"))
        if number is not None:
            body += param(PARAM_NUMBER, _ascii(number, "number", 20))
        if number_absent is not None:
            body += param(PARAM_NUMBER_ABSENT, number_absent.value.encode("ascii"))
        if name is not None:
            body += param(PARAM_NAME, _ascii(name, "name", 50))
        if name_absent is not None:
            body += param(PARAM_NAME_ABSENT, name_absent.value.encode("ascii"))
        kind = MDMF
    else:
        raise ValueError(f"message_type must be 'SDMF' or 'MDMF', not {message_type!r}")
    if len(body) > 255:
        raise ValueError("the message is longer than 255 data bytes")
    head = bytes([kind, len(body)]) + body
    return head + bytes([checksum(head)])


# ---- DTMF caller ID ----------------------------------------------------------------

def parse_dtmf(digits):
    """A DTMF caller ID digit string (start digit A, B or D, end digit C or #) as a
    CallerId. Raises CallerIdError when it is not one."""
    if not isinstance(digits, str):
        raise CallerIdError(f"DTMF caller ID must be a digit string, not {type(digits).__name__}")
    raw = digits
    if len(digits) < 2 or digits[0] not in "ABD" or digits[-1] not in "C#":
        raise CallerIdError(f"DTMF caller ID starts with A, B or D and ends with C or #: {raw!r}",
                            raw)
    body = digits[1:-1]
    if any(c not in "0123456789BD" for c in body):
        raise CallerIdError(f"unexpected digit in DTMF caller ID {raw!r}", raw)
    start = digits[0]
    if start == "D":
        if "B" in body or "D" in body:
            raise CallerIdError(f"D-form caller ID holds only digits: {raw!r}", raw)
        if body in _DTMF_D_CODES:
            return CallerId(None, number_absent=Absence(_DTMF_D_CODES[body]), format="dtmf",
                            message_type="DTMF", raw=raw)
        if not body:
            raise CallerIdError(f"empty number in {raw!r}", raw)
        return CallerId(body, format="dtmf", message_type="DTMF", raw=raw)
    # A<number>[D<redirecting number>][B<special information>] or B<special information>
    number, absent = None, None
    fields = _split_fields(start + body)
    for key, value in fields:
        if key == "A":
            if not value:
                raise CallerIdError(f"empty number in {raw!r}", raw)
            number = value
        elif key == "B":
            if value not in _DTMF_B_CODES:
                raise CallerIdError(f"unknown special information code B{value} in {raw!r} "
                                    f"(00 unavailable, 10 private)", raw)
            absent = Absence(_DTMF_B_CODES[value])
        # "D": the redirecting number, not the caller's: kept only in raw
    if number is None and absent is None:
        raise CallerIdError(f"no number and no reason for absence in {raw!r}", raw)
    return CallerId(number, number_absent=absent, format="dtmf", message_type="DTMF", raw=raw)


def _split_fields(text):
    fields, key, value = [], None, ""
    for c in text:
        if c in "ABD":
            if key is not None:
                fields.append((key, value))
            key, value = c, ""
        else:
            value += c
    fields.append((key, value))
    keys = [k for k, _ in fields]
    if len(set(keys)) != len(keys):
        raise CallerIdError(f"a field appears twice in {text!r}", text)
    return fields


def dtmf_digits(number=None, number_absent=None, start="A"):
    """The digit string for DTMF caller ID: start + number + "C", or D<code>C when the
    number is absent (D1C private, D3C unavailable)."""
    number_absent = _absence_of(number_absent, "number_absent")
    if number is None:
        absent = number_absent or Absence.UNAVAILABLE
        return "D1C" if absent is Absence.PRIVATE else "D3C"
    if start not in ("A", "D"):
        raise ValueError(f"DTMF caller ID starts with 'A' or 'D', not {start!r}")
    if not isinstance(number, str) or not number.isdigit() or not 2 <= len(number) <= 20:
        raise ValueError(f"a DTMF caller ID number is 2 to 20 digits 0-9, not {number!r}")
    return start + number + "C"


class _DtmfAssembler:
    """Collects DTMF digit events into caller ID strings."""

    def __init__(self):
        self._digits = ""
        self._last_end = None

    def add(self, event):
        """Returns a CallerId or CallerIdError when a string completes, else None."""
        digit = event.digit
        if self._digits and self._last_end is not None \
                and event.start - self._last_end > _DTMF_MAX_GAP_S:
            self._digits = ""
        self._last_end = event.end
        if not self._digits or digit == "A":
            # A starts a string (also when the last one never ended); B and D start one
            # only outside a string (inside an A-string they open its fields).
            self._digits = digit if digit in "ABD" else ""
            return None
        self._digits += digit
        if digit in "C#":
            digits, self._digits = self._digits, ""
            try:
                return parse_dtmf(digits)
            except CallerIdError as exc:
                return exc
        if len(self._digits) > _DTMF_MAX_DIGITS:
            self._digits = ""
        return None


# ---- Decoding audio ----------------------------------------------------------------

def _int16(samples):
    if not isinstance(samples, np.ndarray):
        raise TypeError(f"samples must be a numpy array, not {type(samples).__name__}")
    if samples.dtype != np.int16:
        raise TypeError(f"samples must be int16, not {samples.dtype}")
    if samples.ndim != 1:
        raise ValueError(f"samples must be 1-D (mono), not shape {samples.shape}")
    return np.ascontiguousarray(samples)


def _resample(audio, from_rate, to_rate):
    from scipy.signal import resample_poly  # lazy: scipy.signal takes ~2 s to import
    if from_rate == to_rate:
        return audio
    g = gcd(from_rate, to_rate)
    out = resample_poly(audio.astype(np.float64), to_rate // g, from_rate // g)
    return np.clip(np.round(out), -32768, 32767).astype(np.int16)


class _FskAssembler:
    """Collects one channel's FSK receiver events into caller ID messages."""

    def __init__(self):
        self.reset()

    def reset(self):
        self._bytes = None  # None: not collecting; else the message so far
        self._standard = None

    def add(self, event):
        """Returns a CallerId or CallerIdError when a message completes, else None."""
        kind = event.kind
        if kind == fsk.FskEventKind.MARK:
            self._bytes = bytearray()
            self._standard = event.standard
        elif kind == fsk.FskEventKind.BYTE and self._bytes is not None:
            self._bytes.append(event.value)
            if self._bytes[0] not in CALLER_ID_TYPES:
                self.reset()  # some other signal, not a caller ID message
            elif len(self._bytes) >= 2 and len(self._bytes) == self._bytes[1] + 3:
                data, standard = bytes(self._bytes), self._standard
                self.reset()
                try:
                    return parse_message(data, standard)
                except CallerIdError as exc:
                    return exc
        elif kind == fsk.FskEventKind.CARRIER_OFF:
            data = self._bytes
            self.reset()
            if data is not None and len(data) >= 2:
                return CallerIdError(f"carrier lost after {len(data)} of {data[1] + 3} "
                                     f"message bytes", bytes(data))
        return None


class CallerIdDecoder:
    """Streaming caller ID decoder for one line: feed line audio in chunks of any size.

    Finds FSK caller ID (V.23 or Bell 202, told apart by the mark frequency) and DTMF
    caller ID. Messages that arrive but cannot be accepted
    (bad checksum, cut short, malformed) are kept in `errors` (the last 32), not returned.
    Only 8 kHz: resample other rates first (`decode` does).
    """

    def __init__(self, rate=RATE):
        if rate != RATE:
            raise ValueError(f"the streaming caller ID decoder takes 8000 Hz audio, not {rate}: "
                             f"resample first (decode() does)")
        self._fsk = fsk.FskReceiver()
        self._dtmf = DtmfDetector()
        self._assembler = _DtmfAssembler()
        self._messages = _FskAssembler()
        self.errors = deque(maxlen=32)

    def reset(self):
        self._fsk.reset()
        self._dtmf.reset()
        self._assembler = _DtmfAssembler()
        self._messages.reset()

    def feed(self, samples):
        """Returns the caller IDs completed in this chunk (rejected ones go to `errors`)."""
        return self._split(self.feed_all(samples))

    def flush(self):
        """Ends the stream: a DTMF digit still sounding completes."""
        return self._split(self.flush_all())

    def feed_all(self, samples):
        """Like `feed`, but returns every completed message in time order as
        (seconds from the stream start, CallerId or CallerIdError)."""
        samples = _int16(samples)
        results = []
        for event in self._fsk.feed(samples):
            result = self._messages.add(event)
            if result is not None:
                results.append((event.position / RATE, result))
        for event in self._dtmf.feed(samples):
            self._dtmf_event(event, results)
        return sorted(results, key=lambda item: item[0])

    def flush_all(self):
        results = []
        for event in self._dtmf.flush():
            self._dtmf_event(event, results)
        return results

    def _dtmf_event(self, event, results):
        result = self._assembler.add(event)
        if result is not None:
            results.append((event.end, result))

    def _split(self, results):
        found = []
        for _, result in results:
            if isinstance(result, CallerIdError):
                self.errors.append(result)
            else:
                found.append(result)
        return found


class CallerIdBank:
    """FSK caller ID for a whole board: one C call per tick for all channels (the engine's
    path). DTMF caller ID comes from the digits the board's DTMF receiver already finds
    (appliance.dsp.ChannelBank): pass them to `dtmf`.

    `process` and `dtmf` return (channel, CallerId or CallerIdError) for each message that
    completed: the engine shows the caller ID, and logs a rejected message for the port.
    """

    def __init__(self, channels, frame=160):
        self.receivers = fsk.FskReceiverBank(channels, frame)  # ChannelBank runs their C states
        self.channels = channels
        self.frame = frame
        self._messages = [_FskAssembler() for _ in range(channels)]
        self._digits = [_DtmfAssembler() for _ in range(channels)]

    def process(self, frames):
        """frames: int16 [channels, frame], one tick of line audio."""
        return self.assemble(self.receivers.process(frames))

    def assemble(self, events):
        """The messages that the tick's FSK events (with their channels) completed."""
        results = []
        for event in events:
            result = self._messages[event.channel].add(event)
            if result is not None:
                results.append((event.channel, result))
        return results

    def dtmf(self, channel, event):
        """Feeds one completed DTMF digit (with .digit, .start, .end seconds) of a channel;
        returns [(channel, result)] when it completes a DTMF caller ID, else []."""
        result = self._digits[channel].add(event)
        return [] if result is None else [(channel, result)]

    def reset(self, channel):
        """A call ended on `channel`: forget its audio and partial messages."""
        self.receivers.reset(channel)
        self._messages[channel].reset()
        self._digits[channel] = _DtmfAssembler()


def scan(samples, rate=RATE):
    """Every caller ID message in a recording, accepted or not, in time order:
    a list of (seconds, CallerId or CallerIdError). samples: 1-D int16 at `rate` Hz."""
    audio = _resample(_int16(samples), rate, RATE)
    decoder = CallerIdDecoder()
    return decoder.feed_all(audio) + decoder.flush_all()


def decode(samples, rate=RATE):
    """The first caller ID in a recording, or None if it holds none.

    samples: 1-D int16 at `rate` Hz (resampled to 8 kHz). Raises CallerIdError when a
    caller ID message is there but cannot be accepted (bad checksum, cut short, malformed)
    and no good one is.
    """
    results = scan(samples, rate)
    for _, result in results:
        if isinstance(result, CallerId):
            return result
    if results:
        raise results[0][1]
    return None


# ---- Encoding ----------------------------------------------------------------------

DT_AS_HZ = (2130.0, 2750.0)


def encode(number=None, name=None, when=None, format="bell202", *, message_type=None,
           number_absent=None, name_absent=None, level_dbm0=-13.0, seizure_bits=300,
           mark_bits=180, alerting=None, twist_db=0.0, freq_error=0.0, dtmf_start="A",
           rate=RATE):
    """Caller ID as int16 audio at `rate`: just the signal, for the board emulator to place
    (before the first ring for ETSI, between the first and second ring for Bell).

    format "bell202": GR-30, message_type "MDMF" (default) or "SDMF" (needs `when`);
    "v23": ETSI EN 300 659 call set-up (MDMF layout), optionally preceded by the DT-AS
    alerting tone (alerting="dt-as": 2130 + 2750 Hz for 100 ms, then 100 ms of silence);
    "dtmf": ``A<number>C`` (or ``D<number>C`` with dtmf_start="D"), or D1C / D3C for a
    private / unavailable number; DTMF carries neither name nor time.
    level_dbm0: the FSK mark level (space twist_db stronger) or each DTMF tone's level.
    number=None with number_absent "P" or "O" sends the reason instead of a number.
    """
    if format not in FORMATS:
        raise ValueError(f"format must be one of {', '.join(FORMATS)}, not {format!r}")
    if format == "dtmf":
        if name is not None or when is not None or name_absent is not None:
            raise ValueError("DTMF caller ID carries only the number (no name, no time)")
        audio = generate(dtmf_digits(number, number_absent, dtmf_start),
                         level_dbm0=level_dbm0, on_ms=70.0, off_ms=70.0)
        return _resample(audio, RATE, rate)
    if message_type is None:
        message_type = "MDMF"
    if format == "v23" and message_type != "MDMF":
        raise ValueError("ETSI (v23) caller ID uses the call set-up message: message_type MDMF")
    message = build_message(number, name, when, message_type, number_absent, name_absent)
    if seizure_bits < 0 or mark_bits < 0:
        raise ValueError("seizure_bits and mark_bits must be >= 0")
    bits = np.concatenate([fsk.seizure_bits(seizure_bits), fsk.mark_bits(mark_bits),
                           fsk.frame_bytes(message), fsk.mark_bits(4)])
    audio = fsk.modulate(bits, format, level_dbm0, twist_db, freq_error)
    if alerting == "dt-as":
        if format != "v23":
            raise ValueError("the DT-AS alerting signal belongs to ETSI (v23) caller ID")
        tone = render([ToneStep(DT_AS_HZ, (level_dbm0, level_dbm0), on_ms=100.0,
                                off_ms=100.0)])
        audio = np.concatenate([tone, audio])
    elif alerting is not None:
        raise ValueError(f"alerting must be None or 'dt-as', not {alerting!r} (the RP-AS "
                         f"ring pulse is a line signal: the board emulator places it)")
    return _resample(audio, RATE, rate)
