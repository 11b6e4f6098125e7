"""Synthetic traffic for `appliance simulate`: who calls when, how long they talk, how long
they wait before hanging up.

`Traffic` holds the figures (calls per hour, handle time, its distribution, patience, the
agents' ring delay and wrap-up); `Traffic.calls(seed)` draws the calls one by one: Poisson
arrivals (exponential gaps), talk times from the distribution, exponential patience.
Three independent random streams (arrivals, talk, patience), each seeded from the seed and
its name, so call i has the same arrival, talk time and patience whatever the number of
agents or trunks: runs of an agent sweep see the same callers (common random numbers), and
the event-driven and the audio runs see the same traffic.

Times are seconds. The handle time `aht` is ring delay + talk + wrap-up, as `appliance
plan` counts it (the agent is busy for all three), so the mean talk time is
aht - ring_delay_s - wrap_up_s.
"""

import math
import random
from dataclasses import dataclass

DISTRIBUTIONS = ("exponential", "constant", "lognormal")


@dataclass(frozen=True)
class Traffic:
    """Poisson calls at `calls_per_hour`; handle time of mean `aht` seconds (talk drawn from
    `talk` = "exponential", "constant" or "lognormal" with coefficient of variation
    `talk_cv`); exponential patience of mean `patience` seconds (None: callers never hang up
    while waiting); the agent lifts the handset `ring_delay_s` after the phone starts
    ringing and spends `wrap_up_s` after each call (the queue's wrap-up); a fraction
    `caller_ends` of the answered calls is ended by the caller hanging up (the agent then
    hears busy tone and puts the handset down), the others by the agent."""

    calls_per_hour: float
    aht: float
    talk: str = "exponential"
    talk_cv: float = 1.0
    patience: float | None = None
    ring_delay_s: float = 0.0
    wrap_up_s: int = 0
    caller_ends: float = 0.0

    def __post_init__(self):
        for name in ("calls_per_hour", "aht"):
            value = getattr(self, name)
            if not isinstance(value, (int, float)) or not math.isfinite(value) or value <= 0:
                raise ValueError(f"{name} must be a positive number, not {value!r}")
        if self.talk not in DISTRIBUTIONS:
            raise ValueError(f"talk distribution {self.talk!r}: use one of "
                             + ", ".join(DISTRIBUTIONS))
        if not (math.isfinite(self.talk_cv) and self.talk_cv > 0):
            raise ValueError(f"talk_cv must be a positive number, not {self.talk_cv!r}")
        if self.patience is not None and not (math.isfinite(self.patience)
                                              and self.patience > 0):
            raise ValueError(f"patience must be a positive number of seconds or None, not "
                             f"{self.patience!r}")
        if not (math.isfinite(self.ring_delay_s) and self.ring_delay_s >= 0):
            raise ValueError(f"ring_delay_s must be >= 0, not {self.ring_delay_s!r}")
        if not (isinstance(self.caller_ends, (int, float)) and 0 <= self.caller_ends <= 1):
            raise ValueError(f"caller_ends must be a fraction in [0, 1], not "
                             f"{self.caller_ends!r}")
        if not isinstance(self.wrap_up_s, int) or self.wrap_up_s < 0:
            raise ValueError(f"wrap_up_s must be whole seconds >= 0, not {self.wrap_up_s!r}")
        if self.talk_mean <= 0:
            raise ValueError(
                f"aht {self.aht:g} s leaves no talk time after the ring delay "
                f"({self.ring_delay_s:g} s) and wrap-up ({self.wrap_up_s} s); the handle "
                "time counts all three: give a longer aht or a shorter ring delay / wrap-up")

    @property
    def talk_mean(self):
        """Mean talk time in seconds: the handle time less ring delay and wrap-up."""
        return self.aht - self.ring_delay_s - self.wrap_up_s

    @property
    def load(self):
        """Offered load in Erlangs."""
        return self.calls_per_hour * self.aht / 3600.0

    def calls(self, seed):
        """The calls in arrival order, endlessly: (arrival s, talk s, patience s or inf,
        whether the caller ends the call: else the agent does)."""
        arrivals = random.Random(f"{seed}/arrivals")
        talks = random.Random(f"{seed}/talk")
        patience = random.Random(f"{seed}/patience")
        ends = random.Random(f"{seed}/ends").random
        caller_ends = self.caller_ends
        rate = self.calls_per_hour / 3600.0
        talk = talk_sampler(self.talk, self.talk_mean, self.talk_cv, talks)
        mean_patience = self.patience
        expo = patience.expovariate
        gap = arrivals.expovariate
        t = 0.0
        while True:
            t += gap(rate)
            yield (t, talk(), (expo(1.0 / mean_patience) if mean_patience is not None
                               else math.inf), ends() < caller_ends)


def talk_sampler(name, mean, cv, rng):
    """A function drawing talk times (seconds) of the distribution `name` with `mean` and
    coefficient of variation `cv` (exponential: always 1; constant: 0)."""
    if name == "exponential":
        rate = 1.0 / mean
        return lambda: rng.expovariate(rate)
    if name == "constant":
        return lambda: mean
    if name == "lognormal":
        sigma = math.sqrt(math.log1p(cv * cv))
        mu = math.log(mean) - sigma * sigma / 2.0
        return lambda: rng.lognormvariate(mu, sigma)
    raise ValueError(f"talk distribution {name!r}: use one of " + ", ".join(DISTRIBUTIONS))
