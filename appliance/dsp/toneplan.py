"""Call-progress tone plans: the tones of a country's network, as data.

A plan is a TOML file (the shipped ones are in ``tone_plans/``: ``cn``, ``us``, ``etsi``).
``load_plan`` reads and validates one strictly: an unknown key, a bad frequency or an
empty cadence raises `ToneplanError`, whose message names the file, the key and the fix.
`TonePlan.render` plays a tone of the plan through the tone generator
(``appliance.dsp.tonegen``); ``appliance.dsp.tones`` detects them.

Plan file layout::

    [plan]        name, description
    [detector]    frequency_tolerance, frequency_margin_hz, cadence_tolerance,
                  cadence_margin_s, min_level_dbm0, min_purity, max_twist_db (all optional)
    [tones.NAME]  NAME one of dial, ringback, busy, congestion, sit; level_dbm0 (per
                  frequency component) and one of:
                  - frequencies_hz = [...] with continuous = true (recognise_after_s)
                  - frequencies_hz = [...] with cadence_s = [on, off, ...] (recognise_after:
                    completed on/off segments matched before the tone is reported)
                  - segments = [{frequency_hz, variants_hz, seconds, variant_seconds}, ...]
                    with silence_s: single-frequency segments in a row, then silence (SIT)
"""

import enum
import math
import tomllib
from dataclasses import dataclass, replace
from importlib import resources

from appliance.dsp.datafiles import read_data_file, shipped_names
from appliance.dsp.tonegen import ToneStep, render as render_steps

RATE = 8000
MAX_COMPONENTS = 3  # frequencies sounding together (cpt.h CPT_MAX_COMPONENTS)
MAX_FREQS = 12  # distinct frequencies in one plan (CPT_MAX_FREQS)
MAX_SIGNATURES = 16  # distinct frequency sets in one plan (CPT_MAX_SIGNATURES)
MAX_ELEMENTS = 8  # on/off elements of one tone (CPT_MAX_ELEMENTS)
MAX_RECOGNISE = 8  # segments remembered (CPT_HISTORY)
MIN_SPACING_HZ = 30.0  # components closer than this cannot be told apart in 20 ms
BAND_HZ = (100.0, 3400.0)
MIN_SECONDS = 0.02  # the shortest tone or gap of a plan: one tick


class Tone(enum.Enum):
    """The call-progress tones the detector knows (values are the plan's table names)."""

    DIAL = "dial"
    RINGBACK = "ringback"
    BUSY = "busy"
    CONGESTION = "congestion"
    SIT = "sit"


class ToneplanError(ValueError):
    """A tone plan file is missing, unreadable or invalid. The message names the file,
    the key and the fix."""

    def __init__(self, source, key, problem):
        where = f"{source}: {key}: " if key else f"{source}: "
        super().__init__(where + problem)
        self.source = source
        self.key = key


@dataclass(frozen=True)
class DetectorSettings:
    frequency_tolerance: float = 0.015
    frequency_margin_hz: float = 1.5
    cadence_tolerance: float = 0.10
    cadence_margin_s: float = 0.03
    min_level_dbm0: float = -35.0
    min_purity: float = 0.8
    max_twist_db: float = 10.0


_DETECTOR_LIMITS = {
    "frequency_tolerance": (0.0, 0.05),
    "frequency_margin_hz": (0.0, 20.0),
    "cadence_tolerance": (0.0, 0.5),
    "cadence_margin_s": (0.0, 0.2),
    "min_level_dbm0": (-60.0, 0.0),
    "min_purity": (0.5, 1.0),
    "max_twist_db": (0.0, 20.0),
}


@dataclass(frozen=True)
class Element:
    """One step of a cadence: any of `signatures` (frequency sets; empty: silence) for any
    of `seconds` (nominal durations; the first is the one rendered). A continuous tone's
    only element has seconds == ()."""

    signatures: tuple[tuple[float, ...], ...]
    seconds: tuple[float, ...]

    @property
    def silent(self):
        return not self.signatures


@dataclass(frozen=True)
class ToneSpec:
    tone: Tone
    level_dbm0: float  # per frequency component
    elements: tuple[Element, ...]
    repeat: bool
    recognise_after: int  # completed segments (cadenced tones)
    recognise_after_s: float | None  # continuous tones

    @property
    def continuous(self):
        return self.recognise_after_s is not None


@dataclass(frozen=True)
class TonePlan:
    name: str
    description: str
    source: str
    detector: DetectorSettings
    tones: dict  # Tone -> ToneSpec, in Tone order

    def render(self, tone, seconds, *, level_dbm0=None, frequency_error=0.0,
               cadence_error=0.0):
        """`seconds` of `tone` as int16 samples, from the start of its cadence.

        level_dbm0 overrides the plan's level (per frequency component);
        frequency_error and cadence_error scale every frequency and every duration by
        (1 + error), as a line or a foreign switch would.
        """
        spec = self.tones.get(Tone(tone))
        if spec is None:
            raise ValueError(f"plan {self.name!r} has no {Tone(tone).value} tone")
        level = spec.level_dbm0 if level_dbm0 is None else float(level_dbm0)
        fscale, tscale = 1.0 + frequency_error, 1.0 + cadence_error
        if spec.continuous:
            freqs = spec.elements[0].signatures[0]
            step = ToneStep(tuple(f * fscale for f in freqs), (level,) * len(freqs),
                            on_ms=seconds * 1000.0)
            return render_steps([step], seconds=seconds)
        steps = []
        for el in spec.elements:  # on elements, each maybe followed by a silent one
            if el.silent:
                steps[-1] = replace(steps[-1], off_ms=el.seconds[0] * 1000.0 * tscale)
                continue
            freqs = el.signatures[0]
            steps.append(ToneStep(tuple(f * fscale for f in freqs), (level,) * len(freqs),
                                  on_ms=el.seconds[0] * 1000.0 * tscale))
        return render_steps(steps, repeat=True, seconds=seconds)


# ---- loading ------------------------------------------------------------------------


def available_plans():
    """Names of the plans shipped with the package."""
    return shipped_names(resources.files("appliance.dsp") / "tone_plans")


def load_plan(name_or_path):
    """A shipped plan by name ("cn", "us", "etsi") or a plan file by path."""
    if isinstance(name_or_path, TonePlan):
        return name_or_path
    data, source, _ = read_data_file(name_or_path, resources.files("appliance.dsp") /
                                     "tone_plans", ToneplanError, label="tone plan",
                                     noun="tone plan", short="plan")
    return _parse(data, source)


def _parse(data, source):
    try:
        doc = tomllib.loads(data.decode("utf-8"))
    except UnicodeDecodeError:
        raise ToneplanError(source, None, "not UTF-8 text; save the plan as UTF-8") from None
    except tomllib.TOMLDecodeError as exc:
        raise ToneplanError(source, None, f"not valid TOML ({exc}); fix the syntax") from None
    return _Validator(source).plan(doc)


class _Validator:
    def __init__(self, source):
        self.source = source

    def fail(self, key, problem):
        raise ToneplanError(self.source, key, problem)

    def table(self, value, key, allowed, required=()):
        if not isinstance(value, dict):
            self.fail(key, "must be a table")
        for k in value:
            if k not in allowed:
                self.fail(f"{key}.{k}" if key else k,
                          f"unknown key; allowed here: {', '.join(allowed)}")
        for k in required:
            if k not in value:
                self.fail(f"{key}.{k}" if key else k, "missing; add it")
        return value

    def number(self, value, key, low, high, what=""):
        if isinstance(value, bool) or not isinstance(value, (int, float)) \
                or not math.isfinite(value) or not low <= value <= high:
            self.fail(key, f"must be a number from {low:g} to {high:g}{what}, not {value!r}")
        return float(value)

    def positive(self, value, key, high, what=" seconds"):
        # A tone or gap shorter than one 20 ms tick is neither played nor recognisable.
        value = self.number(value, key, 0.0, high, what)
        if value < MIN_SECONDS:
            self.fail(key, f"must be at least {MIN_SECONDS}{what} (one 20 ms tick), "
                      f"not {value!r}")
        return value

    def frequency(self, value, key):
        low, high = BAND_HZ
        return self.number(value, key, low, high, " Hz (the telephone band)")

    def plan(self, doc):
        self.table(doc, "", ("plan", "detector", "tones"), required=("plan", "tones"))
        head = self.table(doc["plan"], "plan", ("name", "description"), required=("name",))
        name = head["name"]
        if not isinstance(name, str) or not name:
            self.fail("plan.name", "must be a non-empty string")
        description = head.get("description", "")
        if not isinstance(description, str):
            self.fail("plan.description", "must be a string")
        settings = DetectorSettings()
        if "detector" in doc:
            det = self.table(doc["detector"], "detector", tuple(_DETECTOR_LIMITS))
            values = {
                k: self.number(v, f"detector.{k}", *_DETECTOR_LIMITS[k]) for k, v in det.items()
            }
            settings = DetectorSettings(**values)
        tones_doc = self.table(doc["tones"], "tones", tuple(t.value for t in Tone))
        if not tones_doc:
            self.fail("tones", "no tones; add at least one [tones.NAME] table")
        tones = {}
        for tone in Tone:
            if tone.value in tones_doc:
                tones[tone] = self.tone(tone, tones_doc[tone.value], f"tones.{tone.value}")
        plan = TonePlan(name, description, self.source, settings, tones)
        self.check_plan(plan)
        return plan

    def frequencies(self, value, key):
        if not isinstance(value, list) or not 1 <= len(value) <= MAX_COMPONENTS:
            self.fail(key, f"must be a list of 1 to {MAX_COMPONENTS} frequencies in Hz "
                      "sounding together, e.g. [450.0]")
        freqs = tuple(self.frequency(f, f"{key}[{i}]") for i, f in enumerate(value))
        for i, f in enumerate(freqs):
            for g in freqs[:i]:
                if abs(f - g) < MIN_SPACING_HZ:
                    self.fail(key, f"{g:g} and {f:g} Hz are closer than {MIN_SPACING_HZ:g} Hz; "
                              "the detector cannot tell them apart: merge or separate them")
        return freqs

    def tone(self, tone, doc, key):
        allowed = ("frequencies_hz", "level_dbm0", "continuous", "recognise_after_s",
                   "cadence_s", "recognise_after", "segments", "silence_s")
        self.table(doc, key, allowed, required=("level_dbm0",))
        level = self.number(doc["level_dbm0"], f"{key}.level_dbm0", -60.0, 3.0, " dBm0")
        forms = [k for k in ("continuous", "cadence_s", "segments") if k in doc]
        if len(forms) != 1:
            self.fail(key, "give exactly one of continuous = true, cadence_s = [on, off, ...] "
                      "or segments = [...]")
        form = forms[0]
        if form == "segments":
            return self.segments(tone, doc, key, level)
        if "frequencies_hz" not in doc:
            self.fail(f"{key}.frequencies_hz", "missing; add the tone's frequencies in Hz")
        for extra in ("silence_s",):
            if extra in doc:
                self.fail(f"{key}.{extra}", "only for a tone given as segments; remove it")
        freqs = self.frequencies(doc["frequencies_hz"], f"{key}.frequencies_hz")
        if form == "continuous":
            if doc["continuous"] is not True:
                self.fail(f"{key}.continuous", "must be true (for a cadenced tone give "
                          "cadence_s instead)")
            if "recognise_after" in doc:
                self.fail(f"{key}.recognise_after", "only for cadenced tones; a continuous "
                          "tone takes recognise_after_s")
            after = self.positive(doc.get("recognise_after_s", 1.5),
                                  f"{key}.recognise_after_s", 10.0)
            return ToneSpec(tone, level, (Element((freqs,), ()),), False, 0, after)
        if "recognise_after_s" in doc:
            self.fail(f"{key}.recognise_after_s", "only for continuous tones; a cadenced tone "
                      "takes recognise_after (segments)")
        cadence = doc["cadence_s"]
        if not isinstance(cadence, list) or not cadence or len(cadence) % 2 \
                or len(cadence) > MAX_ELEMENTS:
            self.fail(f"{key}.cadence_s", "must be a non-empty list of on, off durations in "
                      f"seconds (pairs, at most {MAX_ELEMENTS} values), e.g. [0.35, 0.35]")
        times = [self.positive(t, f"{key}.cadence_s[{i}]", 30.0) for i, t in enumerate(cadence)]
        elements = tuple(
            Element((freqs,) if i % 2 == 0 else (), (t,)) for i, t in enumerate(times)
        )
        after = self.recognise_after(doc, key, min(len(elements) + 1, MAX_RECOGNISE))
        return ToneSpec(tone, level, elements, True, after, None)

    def recognise_after(self, doc, key, default):
        value = doc.get("recognise_after", default)
        if isinstance(value, bool) or not isinstance(value, int) \
                or not 1 <= value <= MAX_RECOGNISE:
            self.fail(f"{key}.recognise_after", f"must be a whole number of segments from 1 to "
                      f"{MAX_RECOGNISE}, not {value!r}")
        return value

    def segments(self, tone, doc, key, level):
        for extra in ("frequencies_hz", "continuous", "recognise_after_s", "cadence_s"):
            if extra in doc:
                self.fail(f"{key}.{extra}", "a tone given as segments has its frequencies in "
                          "the segments; remove it")
        segments = doc["segments"]
        if not isinstance(segments, list) or not segments \
                or len(segments) > MAX_ELEMENTS - 1:
            self.fail(f"{key}.segments", f"must be a non-empty list of at most "
                      f"{MAX_ELEMENTS - 1} segments, e.g. [{{ frequency_hz = 950.0, "
                      "seconds = 0.33 }]")
        if "silence_s" not in doc:
            self.fail(f"{key}.silence_s", "missing; add the silence after the segments in "
                      "seconds, e.g. 1.0")
        elements = []
        for i, seg in enumerate(segments):
            sk = f"{key}.segments[{i}]"
            self.table(seg, sk, ("frequency_hz", "variants_hz", "seconds", "variant_seconds"),
                       required=("frequency_hz", "seconds"))
            freqs = [self.frequency(seg["frequency_hz"], f"{sk}.frequency_hz")]
            variants = seg.get("variants_hz", [])
            if not isinstance(variants, list):
                self.fail(f"{sk}.variants_hz", "must be a list of frequencies in Hz")
            freqs += [self.frequency(v, f"{sk}.variants_hz[{j}]") for j, v in enumerate(variants)]
            if len(set(freqs)) != len(freqs):
                self.fail(f"{sk}.variants_hz", "repeats a frequency; list each once")
            times = [self.positive(seg["seconds"], f"{sk}.seconds", 10.0)]
            vtimes = seg.get("variant_seconds", [])
            if not isinstance(vtimes, list):
                self.fail(f"{sk}.variant_seconds", "must be a list of durations in seconds")
            times += [self.positive(v, f"{sk}.variant_seconds[{j}]", 10.0)
                      for j, v in enumerate(vtimes)]
            elements.append(Element(tuple((f,) for f in freqs), tuple(times)))
        silence = self.positive(doc["silence_s"], f"{key}.silence_s", 30.0)
        elements.append(Element((), (silence,)))
        after = self.recognise_after(doc, key, min(len(segments), MAX_RECOGNISE))
        return ToneSpec(tone, level, tuple(elements), True, after, None)

    def check_plan(self, plan):
        freqs, sigs = set(), set()
        for spec in plan.tones.values():
            for el in spec.elements:
                for sig in el.signatures:
                    sigs.add(sig)
                    freqs.update(sig)
        if len(freqs) > MAX_FREQS:
            self.fail("tones", f"{len(freqs)} distinct frequencies; the detector takes at most "
                      f"{MAX_FREQS}: drop variants")
        if len(sigs) > MAX_SIGNATURES:
            self.fail("tones", f"{len(sigs)} distinct frequency sets; the detector takes at "
                      f"most {MAX_SIGNATURES}: drop variants")
        # A continuous tone must outlast every tone-on of a cadenced tone on the same
        # frequencies, or that tone-on would be reported as the continuous tone.
        for tone, spec in plan.tones.items():
            if not spec.continuous:
                continue
            sig = spec.elements[0].signatures[0]
            for other in plan.tones.values():
                if other.continuous:
                    continue
                for el in other.elements:
                    if sig in el.signatures:
                        longest = duration_limits(plan.detector, el.seconds)[1] / RATE
                        if spec.recognise_after_s <= longest:
                            self.fail(f"tones.{tone.value}.recognise_after_s",
                                      f"{spec.recognise_after_s:g} s would take the "
                                      f"{other.tone.value} tone-on (up to {longest:.2f} s) for "
                                      f"{tone.value} tone; make it longer than {longest:.2f}")


def duration_limits(settings, seconds):
    """(min, max) samples an element of these nominal durations may last when detected."""
    tol, margin = settings.cadence_tolerance, settings.cadence_margin_s
    low = max(0.0, min(seconds) * (1.0 - tol) - margin)
    high = max(seconds) * (1.0 + tol) + margin
    return int(math.floor(low * RATE)), int(math.ceil(high * RATE))
