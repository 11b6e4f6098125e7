"""Country profiles: what a country's lines and trunks do, as data in one place.

A profile is a TOML file (shipped: ``cn``, ``us``, ``etsi`` in this folder). The driver,
the emulator and the DSP read the same `CountryProfile`: its tone plan (the DSP's plan,
loaded with `appliance.dsp.toneplan.load_plan`, referenced by name, never copied), the ring
cadence, the caller-ID standard and when it is sent, the hook-flash window, the tones that
mean the far end hung up, the line impedance and the R2 variant of E1 trunks.

`load_profile` validates strictly: an unknown key, a missing one, a value out of range or a
name that is not allowed raises `ProfileError`, whose message names the file, the key path
and what is allowed.

Profile file layout::

    [profile]     name, description
    [tones]       plan (a shipped plan name, or a .toml path relative to this file),
                  disconnect (tone names of that plan: the far end hung up)
    [ringing]     cadence_s = [on, off, ...] seconds (pairs), frequency_hz
    [caller_id]   standard (bell202 | v23 | dtmf), when (before_first_ring |
                  after_first_ring), alert (none | line_reversal | dt_as |
                  rp_as | line_reversal_dt_as), start_after_ms
    [hook_flash]  min_ms, max_ms: an on-hook that long is a flash
    [line]        impedance (a LineImpedance name)
    [trunk]       r2_variant (an R2Variant name, or none)
"""

import enum
import math
import tomllib
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from appliance.dsp.datafiles import read_data_file, shipped_names
from appliance.dsp.toneplan import Tone, TonePlan, ToneplanError, load_plan

MAX_CADENCE_VALUES = 8  # on/off values in one ring cadence (4 pairs, as a ring command)
RING_SEGMENT_S = (0.05, 10.0)  # one ring burst or silence
RING_FREQUENCY_HZ = (15.0, 70.0)
CALLER_ID_START_MS = (0, 5000)
HOOK_FLASH_MS = (20, 2000)


class ProfileError(ValueError):
    """A country profile is missing, unreadable or invalid. The message names the file, the
    key path and what is allowed."""

    def __init__(self, source, key, problem):
        where = f"{source}: {key}: " if key else f"{source}: "
        super().__init__(where + problem)
        self.source = source
        self.key = key
        self.problem = problem


class CallerIdStandard(enum.Enum):
    """How the caller's number is signalled on an analog line."""

    BELL202 = "bell202"  # FSK 1200 / 2200 Hz, 1200 bit/s (Telcordia GR-30-CORE)
    V23 = "v23"  # FSK 1300 / 2100 Hz, 1200 bit/s (ETSI EN 300 659-1, ITU-T V.23)
    DTMF = "dtmf"  # the number as DTMF digits


class CallerIdTiming(enum.Enum):
    """When caller ID is sent relative to ringing."""

    BEFORE_FIRST_RING = "before_first_ring"
    AFTER_FIRST_RING = "after_first_ring"  # in the silence between the first and second ring


class CallerIdAlert(enum.Enum):
    """What announces caller ID sent before the first ring (ETSI EN 300 659-1)."""

    NONE = "none"
    LINE_REVERSAL = "line_reversal"
    DT_AS = "dt_as"  # dual-tone alerting signal, 2130 + 2750 Hz
    RP_AS = "rp_as"  # a short ring pulse
    LINE_REVERSAL_DT_AS = "line_reversal_dt_as"


class LineImpedance(enum.Enum):
    """The line's reference impedance (what a board's hybrid and AC termination match)."""

    R600 = "600r"
    R900 = "900r"
    C900 = "900c"
    TBR21 = "tbr21"
    CN = "cn"

    @property
    def description(self):
        return _IMPEDANCE_TEXT[self]


_IMPEDANCE_TEXT = {
    LineImpedance.R600: "600 ohm (North America, ITU-T reference)",
    LineImpedance.R900: "900 ohm",
    LineImpedance.C900: "900 ohm + 2.16 uF (North American loaded lines)",
    LineImpedance.TBR21: "270 ohm + (750 ohm || 150 nF) (ETSI TBR 21 / ES 203 021)",
    LineImpedance.CN: "200 ohm + (680 ohm || 100 nF) (China)",
}


class R2Variant(enum.Enum):
    """MFC/R2 variant of E1 trunks (names as libopenr2 spells them); NONE: no R2."""

    NONE = "none"
    ITU = "itu"
    CN = "cn"
    AR = "ar"
    BR = "br"
    CO = "co"
    CZ = "cz"
    EC = "ec"
    MX = "mx"
    PH = "ph"
    VE = "ve"


@dataclass(frozen=True)
class RingCadence:
    """Ringing: on, off, ... seconds, repeated; the ringing voltage's frequency."""

    cadence_s: tuple[float, ...]
    frequency_hz: float

    @property
    def period_s(self):
        return sum(self.cadence_s)

    @property
    def pairs_ms(self):
        """((on_ms, off_ms), ...) in whole ms, as a ring command carries the cadence."""
        ms = [round(t * 1000) for t in self.cadence_s]
        return tuple(zip(ms[::2], ms[1::2]))

    @property
    def first_silence_s(self):
        """The silence after the first ring burst (where caller ID may be sent)."""
        return self.cadence_s[1]


@dataclass(frozen=True)
class CallerId:
    standard: CallerIdStandard
    when: CallerIdTiming
    alert: CallerIdAlert
    # To the first bit of data from: the end of the first ring (after_first_ring), the end
    # of the alert (before_first_ring with an alert), the call's arrival (no alert).
    start_after_ms: int


@dataclass(frozen=True)
class HookFlash:
    """An on-hook from min_ms to max_ms (inclusive) is a hook flash."""

    min_ms: int
    max_ms: int

    def is_flash(self, on_hook_ms):
        return self.min_ms <= on_hook_ms <= self.max_ms


@dataclass(frozen=True)
class CountryProfile:
    name: str
    description: str
    source: str
    tone_plan: TonePlan
    disconnect_tones: tuple[Tone, ...]
    ringing: RingCadence
    caller_id: CallerId
    hook_flash: HookFlash
    line_impedance: LineImpedance
    r2_variant: R2Variant


# ---- loading ------------------------------------------------------------------------


def available_profiles():
    """Names of the profiles shipped with the package."""
    return shipped_names(resources.files(__package__))


def load_profile(name_or_path):
    """A shipped profile by name ("cn", "us", "etsi") or a profile file by path."""
    if isinstance(name_or_path, CountryProfile):
        return name_or_path
    data, source, folder = read_data_file(name_or_path, resources.files(__package__),
                                          ProfileError, label="country profile",
                                          noun="profile", short="profile")
    return _parse(data, source, folder)


def _parse(data, source, folder):
    try:
        doc = tomllib.loads(data.decode("utf-8"))
    except UnicodeDecodeError:
        raise ProfileError(source, None, "not UTF-8 text; save the profile as UTF-8") from None
    except tomllib.TOMLDecodeError as exc:
        raise ProfileError(source, None, f"not valid TOML ({exc}); fix the syntax") from None
    return _Validator(source, folder).profile(doc)


_SECTIONS = {
    "profile": ("name", "description"),
    "tones": ("plan", "disconnect"),
    "ringing": ("cadence_s", "frequency_hz"),
    "caller_id": ("standard", "when", "alert", "start_after_ms"),
    "hook_flash": ("min_ms", "max_ms"),
    "line": ("impedance",),
    "trunk": ("r2_variant",),
}
_OPTIONAL = {"profile.description"}


class _Validator:
    def __init__(self, source, folder):
        self.source = source
        self.folder = folder  # where relative tone-plan paths start; None: shipped profile

    def fail(self, key, problem):
        raise ProfileError(self.source, key, problem)

    def table(self, value, key, allowed):
        if not isinstance(value, dict):
            self.fail(key, "must be a table")
        for k in value:
            if k not in allowed:
                self.fail(f"{key}.{k}" if key else k,
                          f"unknown key; allowed here: {', '.join(allowed)}")
        for k in allowed:
            path = f"{key}.{k}" if key else k
            if k not in value and path not in _OPTIONAL:
                self.fail(path, "missing; add it" if key else "missing; add the table")
        return value

    def string(self, value, key):
        if not isinstance(value, str) or not value:
            self.fail(key, f"must be a non-empty string, not {value!r}")
        return value

    def choice(self, value, key, enum_type):
        names = [m.value for m in enum_type]
        if value not in names:
            self.fail(key, f"must be one of {', '.join(names)}, not {value!r}")
        return enum_type(value)

    def number(self, value, key, low, high, unit):
        if isinstance(value, bool) or not isinstance(value, (int, float)) \
                or not math.isfinite(value) or not low <= value <= high:
            self.fail(key, f"must be a number from {low:g} to {high:g} {unit}, not {value!r}")
        return float(value)

    def whole(self, value, key, low, high, unit):
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
            self.fail(key, f"must be a whole number from {low} to {high} {unit}, not {value!r}")
        return value

    def profile(self, doc):
        self.table(doc, "", tuple(_SECTIONS))
        for section, keys in _SECTIONS.items():
            self.table(doc[section], section, keys)
        head = doc["profile"]
        name = self.string(head["name"], "profile.name")
        description = head.get("description", "")
        if not isinstance(description, str):
            self.fail("profile.description", f"must be a string, not {description!r}")
        plan = self.tone_plan(doc["tones"]["plan"])
        disconnect = self.disconnect(doc["tones"]["disconnect"], plan)
        ringing = self.ringing(doc["ringing"])
        caller_id = self.caller_id(doc["caller_id"], ringing)
        hook_flash = self.hook_flash(doc["hook_flash"])
        impedance = self.choice(doc["line"]["impedance"], "line.impedance", LineImpedance)
        r2 = self.choice(doc["trunk"]["r2_variant"], "trunk.r2_variant", R2Variant)
        return CountryProfile(name, description, self.source, plan, disconnect, ringing,
                              caller_id, hook_flash, impedance, r2)

    def tone_plan(self, value):
        self.string(value, "tones.plan")
        target = value
        if value.endswith(".toml") or "/" in value:
            path = Path(value)
            if not path.is_absolute():
                if self.folder is None:
                    self.fail("tones.plan", "a shipped profile names a shipped plan, not a path")
                path = self.folder / path
            target = path
        try:
            return load_plan(target)
        except ToneplanError as exc:
            self.fail("tones.plan", f"{exc}")

    def disconnect(self, value, plan):
        names = [tone.value for tone in plan.tones]
        if not isinstance(value, list):
            self.fail("tones.disconnect", "must be a list of tone names of the plan "
                      f"({', '.join(names)}); [] when no tone means hang-up")
        tones = []
        for i, name in enumerate(value):
            key = f"tones.disconnect[{i}]"
            if name not in names:
                self.fail(key, f"{name!r} is not a tone of plan {plan.name!r}; use one of "
                          f"{', '.join(names)}")
            tone = Tone(name)
            if tone in tones:
                self.fail(key, f"{name!r} is listed twice; list each tone once")
            tones.append(tone)
        return tuple(tones)

    def ringing(self, doc):
        cadence = doc["cadence_s"]
        if not isinstance(cadence, list) or not cadence or len(cadence) % 2 \
                or len(cadence) > MAX_CADENCE_VALUES:
            self.fail("ringing.cadence_s", "must be a list of on, off durations in seconds "
                      f"(pairs, at most {MAX_CADENCE_VALUES} values), e.g. [1.0, 4.0]")
        times = tuple(self.number(t, f"ringing.cadence_s[{i}]", *RING_SEGMENT_S, "seconds")
                      for i, t in enumerate(cadence))
        frequency = self.number(doc["frequency_hz"], "ringing.frequency_hz",
                                *RING_FREQUENCY_HZ, "Hz")
        return RingCadence(times, frequency)

    def caller_id(self, doc, ringing):
        standard = self.choice(doc["standard"], "caller_id.standard", CallerIdStandard)
        when = self.choice(doc["when"], "caller_id.when", CallerIdTiming)
        alert = self.choice(doc["alert"], "caller_id.alert", CallerIdAlert)
        start = self.whole(doc["start_after_ms"], "caller_id.start_after_ms",
                           *CALLER_ID_START_MS, "ms")
        if when is CallerIdTiming.AFTER_FIRST_RING:
            if alert is not CallerIdAlert.NONE:
                self.fail("caller_id.alert", "must be none when caller ID is sent between "
                          "the first and second ring (the first ring is the alert)")
            silence_ms = ringing.first_silence_s * 1000.0
            if start >= silence_ms:
                self.fail("caller_id.start_after_ms", f"{start} ms starts after the second ring "
                          f"(the silence after the first ring, ringing.cadence_s[1], is "
                          f"{silence_ms:g} ms); make it shorter")
        return CallerId(standard, when, alert, start)

    def hook_flash(self, doc):
        low = self.whole(doc["min_ms"], "hook_flash.min_ms", *HOOK_FLASH_MS, "ms")
        high = self.whole(doc["max_ms"], "hook_flash.max_ms", *HOOK_FLASH_MS, "ms")
        if high <= low:
            self.fail("hook_flash.max_ms", f"must be more than hook_flash.min_ms ({low} ms), "
                      f"not {high}")
        return HookFlash(low, high)
