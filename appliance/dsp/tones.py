"""Call-progress tone detection over the C core (native/cpt.h), configured by a tone plan.

    from appliance.dsp.tones import Tone, ToneDetector, classify

A tone gives two events: one when it is recognised (``end is None``) and one when it ends
(``end`` set). ``start`` is where the tone's first segment began, ``detected`` when it was
recognised; times are float seconds from the start of the stream. `classify` runs a whole
buffer and returns the ended tones. The ChannelBank uses `cpt_config`, `new_states`,
`event_buffer` and `decode_events`, which keep every cffi detail of this module here.
"""

from dataclasses import dataclass

import numpy as np

from appliance.dsp._binding import c_array, check, ffi, lib
from appliance.dsp.toneplan import (
    RATE,
    Tone,
    TonePlan,
    ToneplanError,
    duration_limits,
    load_plan,
)

__all__ = [
    "Tone",
    "ToneEvent",
    "ToneDetector",
    "ToneplanError",
    "classify",
    "cpt_config",
    "decode_events",
    "event_buffer",
    "new_states",
    "plan_tones",
]


@dataclass(frozen=True)
class ToneEvent:
    """A call-progress tone recognised (end None) or ended (end in seconds)."""

    tone: Tone
    start: float
    detected: float
    end: float | None
    level_dbm0: float


def _plan(plan):
    return plan if isinstance(plan, TonePlan) else load_plan(plan)


def _check_rate(rate):
    if rate != RATE:
        raise ValueError(f"the tone detector runs at {RATE} Hz, not {rate}: resample first")


def plan_tones(plan):
    """The plan's tones in the order of the C config (event tone ids index this)."""
    return tuple(_plan(plan).tones)


def cpt_config(plan):
    """A ``cpt_config_t *`` built from a plan (name, path or TonePlan)."""
    plan = _plan(plan)
    freqs, signatures = [], []

    def freq_index(f):
        if f not in freqs:
            freqs.append(f)
        return freqs.index(f)

    def signature_index(sig):
        key = tuple(freq_index(f) for f in sig)
        if key not in signatures:
            signatures.append(key)
        return signatures.index(key)

    config = ffi.new("cpt_config_t *")
    tones = list(plan.tones.values())
    config.tones = len(tones)
    for t, spec in enumerate(tones):
        target = config.tone[t]
        target.elements = len(spec.elements)
        target.repeat = 1 if spec.repeat else 0
        target.recognise_after = spec.recognise_after
        for e, el in enumerate(spec.elements):
            mask = 0
            for sig in el.signatures:
                mask |= 1 << signature_index(sig)
            target.element[e].signatures = mask
            if spec.continuous:
                target.element[e].min_samples = int(round(spec.recognise_after_s * RATE))
                target.element[e].max_samples = 0
            else:
                low, high = duration_limits(plan.detector, el.seconds)
                target.element[e].min_samples = low
                target.element[e].max_samples = high
    config.freqs = len(freqs)
    for k, f in enumerate(freqs):
        config.freq_hz[k] = f
    config.signatures = len(signatures)
    for s, sig in enumerate(signatures):
        config.signature[s].components = len(sig)
        for i, k in enumerate(sig):
            config.signature[s].freq[i] = k
    d = plan.detector
    config.freq_tolerance = d.frequency_tolerance
    config.freq_margin_hz = d.frequency_margin_hz
    config.min_purity = d.min_purity
    config.min_level_dbm0 = d.min_level_dbm0
    config.max_twist_db = d.max_twist_db
    return config


def new_states(plan, channels):
    """``cpt_state_t[channels]``, each initialised from the plan."""
    config = cpt_config(plan)
    states = ffi.new("cpt_state_t[]", channels)
    for ch in range(channels):
        check(lib.cpt_init(ffi.addressof(states, ch), config), "cpt_init")
    return states


def event_buffer(channels, frame):
    """An event array big enough for one cpt_process_batch call, and its length."""
    size = max(channels * lib.cpt_max_events(frame), lib.CPT_FLUSH_EVENTS)
    return ffi.new("cpt_event_t[]", size), size


def _to_event(raw, tones, rate=RATE):
    return ToneEvent(
        tone=tones[raw.tone],
        start=raw.start_sample / rate,
        detected=raw.detected_sample / rate,
        end=None if raw.end_sample < 0 else raw.end_sample / rate,
        level_dbm0=round(float(raw.level_dbm0), 2),
    )


def decode_events(events, count, plan):
    """The first `count` raw C events as ``(channel, ToneEvent)`` pairs (times relative to
    each channel's stream). `plan` may be a TonePlan or the tuple from `plan_tones`."""
    tones = plan if isinstance(plan, tuple) else plan_tones(plan)
    return [(events[i].channel, _to_event(events[i], tones)) for i in range(count)]


class ToneDetector:
    """A streaming call-progress tone detector for one channel.

    ``feed(samples)`` takes 1-D int16 arrays of any length and returns the events decided
    so far; feeding in chunks of any size gives the same events as one call.
    ``flush()`` ends the stream (the tone still on ends there) and starts a new one.
    """

    def __init__(self, plan="cn", rate=RATE):
        _check_rate(rate)
        self.plan = _plan(plan)
        self._tones = plan_tones(self.plan)
        self._state = new_states(self.plan, 1)
        self._flush_events = ffi.new("cpt_event_t[]", lib.CPT_FLUSH_EVENTS)

    def feed(self, samples):
        samples = np.ascontiguousarray(samples)
        if samples.ndim != 1:
            raise ValueError(f"samples must be a 1-D array, not shape {samples.shape}")
        pointer = c_array(samples, np.int16, name="samples")
        size = lib.cpt_max_events(samples.size)
        events = ffi.new("cpt_event_t[]", size)
        count = check(lib.cpt_process(self._state, pointer, samples.size, events, size),
                      "cpt_process")
        return [_to_event(events[i], self._tones) for i in range(count)]

    def flush(self):
        count = check(lib.cpt_flush(self._state, self._flush_events, lib.CPT_FLUSH_EVENTS),
                      "cpt_flush")
        return [_to_event(self._flush_events[i], self._tones) for i in range(count)]

    def reset(self):
        lib.cpt_reset(self._state)


def classify(samples, plan="cn", rate=RATE):
    """The call-progress tones in a whole buffer: one event per tone, with its end."""
    detector = ToneDetector(plan, rate)
    events = detector.feed(samples) + detector.flush()
    return [e for e in events if e.end is not None]
