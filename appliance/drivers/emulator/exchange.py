"""The simulated exchange behind each FXO line: ringing, caller ID, answer, far-end clear.

`LineConfig` holds what a country profile decides (ring cadence, caller-ID format and
timing, how the far end's hang-up is signalled, the tone plan); `ExchangeConfig` gives every
line the defaults and lets single lines differ. China is the default: 1 s on / 4 s off
ringing, caller ID after the first ring (FSK when the build has it, DTMF otherwise),
far-end clear by polarity reversal, busy tone after the clear, tones from the ``cn`` plan.

The far-end clear (the caller hangs up while the box is off-hook) is signalled one of three
ways, per line:
- ``polarity``: the line's polarity reverses (POLARITY event) and stays reversed until the
  box goes on-hook (then it returns to normal, another POLARITY event);
- ``loop_drop``: loop current falls away for `loop_drop_s` (LOOP_DROP, then LOOP_RESTORE);
- ``busy_tone``: nothing but the busy tone, which the box must detect in the audio.
With `busy_after_clear` the exchange plays the busy tone after the first two as well.

Outbound: when the box seizes an idle line the exchange gives dial tone until the first
key goes down, collects the DTMF digits the box sends, and routes the call when the digits
match a callee's number (or `interdigit_timeout_s` after the last digit): ringback until the
callee answers (with a polarity reversal if `answer_polarity`), the busy tone if the callee
is busy or already on a call, the congestion tone (busy where the plan has none) for a
number nobody has.
"""

import enum
from dataclasses import dataclass, field, replace

from appliance.drivers.emulator.signals import fsk_caller_id_available
from appliance.dsp.toneplan import Tone, load_plan

CALLER_ID_FORMATS = ("bell202", "v23", "dtmf")


class ClearSignal(enum.Enum):
    POLARITY = "polarity"
    LOOP_DROP = "loop_drop"
    BUSY_TONE = "busy_tone"


class CallerIdTiming(enum.Enum):
    AFTER_FIRST_RING = "after_first_ring"  # Bell / China: in the first silent interval
    BEFORE_FIRST_RING = "before_first_ring"  # ETSI: before ringing starts


def default_caller_id():
    """ "auto": FSK (Bell 202, as Chinese exchanges mostly send) when this build has the FSK
    generator (appliance.dsp.callerid), DTMF otherwise."""
    return "bell202" if fsk_caller_id_available() else "dtmf"


@dataclass(frozen=True)
class LineConfig:
    ring_cadence_s: tuple[float, ...] = (1.0, 4.0)  # on, off, on, off, ... repeated
    caller_id: str | None = "auto"  # CALLER_ID_FORMATS, None (never sent) or "auto"
    caller_id_timing: CallerIdTiming = CallerIdTiming.AFTER_FIRST_RING
    caller_id_delay_s: float = 0.5  # after the first ring ends / after the call arrives
    caller_id_level_dbm0: float | None = None  # None: the generator's default
    clear_signal: ClearSignal = ClearSignal.POLARITY
    loop_drop_s: float = 0.5
    busy_after_clear: bool = True
    tone_plan: object = "cn"  # a plan name, file or TonePlan (appliance.dsp.toneplan)
    answer_polarity: bool = False  # outbound: reverse the polarity when the callee answers
    interdigit_timeout_s: float = 4.0  # outbound: the number is complete after this pause

    def __post_init__(self):
        cadence = self.ring_cadence_s
        if not cadence or len(cadence) % 2 or any(t <= 0 for t in cadence[::2]) \
                or any(t < 0 for t in cadence):
            raise ValueError("ring_cadence_s must be on, off pairs in seconds with every "
                             f"on > 0, not {cadence!r}")
        if self.caller_id == "auto":
            object.__setattr__(self, "caller_id", default_caller_id())
        if self.caller_id is not None and self.caller_id not in CALLER_ID_FORMATS:
            raise ValueError(f"caller_id must be one of {CALLER_ID_FORMATS} or None, "
                             f"not {self.caller_id!r}")
        object.__setattr__(self, "caller_id_timing", CallerIdTiming(self.caller_id_timing))
        object.__setattr__(self, "clear_signal", ClearSignal(self.clear_signal))


    @classmethod
    def from_profile(cls, profile, **changes):
        """The line a country profile (appliance.drivers.profiles.CountryProfile) describes:
        its ring cadence, caller-ID standard, timing and start, and tone plan; `changes`
        set the rest (clear_signal, ...) or override. Caller-ID alerts before the first ring
        (line reversal, DT-AS, RP-AS) are not simulated yet."""
        fields = dict(
            ring_cadence_s=tuple(profile.ringing.cadence_s),
            caller_id=profile.caller_id.standard.value,
            caller_id_timing=CallerIdTiming(profile.caller_id.when.value),
            caller_id_delay_s=profile.caller_id.start_after_ms / 1000.0,
            tone_plan=profile.tone_plan,
        )
        fields.update(changes)
        return cls(**fields)


@dataclass(frozen=True)
class ExchangeConfig:
    """`default` for every FXO line; `lines` maps a port to its own LineConfig."""

    default: LineConfig = field(default_factory=LineConfig)
    lines: dict = field(default_factory=dict)

    def line(self, port):
        return self.lines.get(port, self.default)

    def with_line(self, port, **changes):
        """A copy where `port` differs from the default by `changes`."""
        lines = dict(self.lines)
        lines[port] = replace(self.line(port), **changes)
        return replace(self, lines=lines)


class _Tones:
    """Rendered call-progress tones of one plan, cached per plan name."""

    _cache = {}

    @classmethod
    def of(cls, plan_name):
        plan = load_plan(plan_name)
        key = (plan.name, plan.source)
        if key not in cls._cache:
            rendered = {}
            for tone in (Tone.DIAL, Tone.BUSY, Tone.RINGBACK, Tone.CONGESTION):
                spec = plan.tones.get(tone)
                if spec is None:
                    continue
                period = 1.0 if spec.continuous else sum(e.seconds[0] for e in spec.elements)
                rendered[tone] = plan.render(tone, period)
            cls._cache[key] = rendered
        return cls._cache[key]
