"""Queueing formulas for staffing a call centre: Erlang B, C and A, and finite trunks.

Everything here assumes Poisson arrivals at a constant rate, exponential handle times,
first-come first-served, and (where given) exponential patience; where the box's real
traffic departs from that, `appliance simulate` is the judge (see LIMITS below).

Units: times in seconds, loads in Erlangs (arrival rate x mean handle time), probabilities
per offered call. `agents` are the agents answering at once (shrinkage is separate:
`with_shrinkage`); `trunks` are the places in the system, K: calls talking plus calls
waiting; a call that finds every trunk busy is blocked (busy tone).

Models (`Model`), picked by `Traffic` from what is given:

- Erlang C, M/M/n: patience infinite, trunks unlimited. Needs load < agents.
- Erlang A, M/M/n+M (Palm's model): callers hang up after an exponential patience.
- finite, M/M/n/K: trunks limit the calls in the system; no abandonment.
- finite with patience, M/M/n/K+M.
Erlang B (M/M/K/K, no queue) is `erlang_b`; it is also the finite model with K = agents.

Definitions (the same as `appliance simulate` and the KPIs use):

- service_level: calls answered within `target_seconds` / all offered calls; blocked calls
  and every abandoned call (also one that hung up before the target) count as not answered
  within the target. A call answered at once (no wait) counts as within any target.
- p_wait: calls that found every agent busy and queued / all offered (blocked not counted).
- p_abandon, p_blocked, p_answered: fractions of all offered calls; they sum to 1.
- p_abandon_within_target: calls that hung up before waiting `target_seconds` / all offered
  (for the common variant answered within T / (offered - abandoned within T)).
- asa: mean wait of the answered calls (seconds).
- occupancy: carried load / agents = answered calls x handle time / (agents x time).

Numerics: Erlang B by the recursion B(k) = A B(k-1) / (k + A B(k-1)), which never
overflows; Erlang C from B. Erlang A in closed form through the regularised incomplete gamma
function (scipy.special.gammainc) and Kummer's series 1F1(1; a+1; x), kept in logarithms
(its ASA as a series over the calls ahead, with digamma differences);
the finite models by their birth-death chain, solved exactly in logarithms (the chain also
gives Erlang A and C when K is unbounded, truncated where its terms fall below 1e-300 of the
largest; the tests check both ways against each other and against a dense CTMC solve).
The closed form's logarithms grow with x = lambda x patience, so with tens of thousands of
callers waiting its probabilities are good to about 1e-10 absolute (the chain's to 1e-15).
A waiting call with j calls ahead of it is answered after j+1 departures from the queue's
head; with exponential patience P(answered within t) is a regularised incomplete beta
function (the order-statistics identity for sums of exponentials at rates n mu + i theta).

LIMITS: the formulas part ways with the simulation (and with real centres) when
- handle times are not exponential (real talk times are closer to log-normal: Erlang C then
  misjudges the wait; the mean load and so occupancy stay right),
- arrivals are not a constant-rate Poisson stream (peaks within the hour, redials after
  busy or abandon, callbacks): the formulas describe a steady hour, not the first minutes
  after a change,
- patience is not exponential (callers who hang up on an announcement, or never within the
  first seconds): Erlang A assumes a constant hang-up rate,
- queues are not a single FIFO with identical agents (skills, priorities, overflow), or
  agents are not all ready (wrap-up not counted in the handle time, breaks).
"""

from __future__ import annotations

import enum
import math
from dataclasses import dataclass

import numpy as np
from scipy import special

__all__ = [
    "Model", "Traffic", "Performance", "OverloadError",
    "erlang_b", "erlang_c", "erlang_c_service_level", "erlang_c_asa",
    "evaluate", "birth_death", "with_shrinkage",
    "agents_for_service_level", "agents_for_asa", "agents_for_abandon_rate", "agents_for",
]

# Terms of a series below this fraction of its largest term are dropped (e^-690 ~ 1e-300).
_NEGLIGIBLE_LOG = -690.0
# Series and chains longer than this are refused instead of eating the machine's memory.
_MAX_TERMS = 20_000_000


class OverloadError(ValueError):
    """The load is more than the agents can carry and nothing limits the queue: without
    patience or trunks it grows forever, so waits are infinite (Erlang C needs load <
    agents)."""


class Model(enum.Enum):
    """The queueing model, named by the value printed and written in JSON."""

    ERLANG_C = "erlang-c"
    ERLANG_A = "erlang-a"
    FINITE = "finite"
    FINITE_PATIENCE = "finite-patience"

    @property
    def kendall(self) -> str:
        return {"erlang-c": "M/M/n", "erlang-a": "M/M/n+M", "finite": "M/M/n/K",
                "finite-patience": "M/M/n/K+M"}[self.value]

    @property
    def title(self) -> str:
        return {"erlang-c": "Erlang C", "erlang-a": "Erlang A (Palm, exponential patience)",
                "finite": "finite trunks", "finite-patience":
                "finite trunks with exponential patience"}[self.value]


def _check_positive(name, value, *, allow_inf=False):
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(f"{name} must be a number, not {type(value).__name__}")
    if math.isnan(value) or value <= 0 or (math.isinf(value) and not allow_inf):
        raise ValueError(f"{name} must be a positive{'' if allow_inf else ' finite'} "
                         f"number, not {value!r}")


def _check_count(name, value, minimum):
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"{name} must be an integer, not {type(value).__name__}")
    if value < minimum:
        raise ValueError(f"{name} must be at least {minimum}, not {value}")


def _check_load(load):
    if isinstance(load, bool) or not isinstance(load, (int, float)):
        raise TypeError(f"load must be a number, not {type(load).__name__}")
    if not math.isfinite(load) or load < 0:
        raise ValueError(f"load must be a finite number >= 0 Erlangs, not {load!r}")


@dataclass(frozen=True)
class Traffic:
    """The offered traffic: Poisson calls at `calls_per_hour`, exponential handle times of
    mean `handle_time` seconds, exponential patience of mean `patience` seconds (inf: callers
    never hang up), at most `trunks` calls in the system (None: unlimited)."""

    calls_per_hour: float
    handle_time: float
    patience: float = math.inf
    trunks: int | None = None

    def __post_init__(self):
        _check_positive("calls_per_hour", self.calls_per_hour)
        _check_positive("handle_time", self.handle_time)
        _check_positive("patience", self.patience, allow_inf=True)
        if self.trunks is not None:
            _check_count("trunks", self.trunks, 1)

    @property
    def load(self) -> float:
        """Offered load in Erlangs."""
        return self.calls_per_hour * self.handle_time / 3600.0

    @property
    def model(self) -> Model:
        if self.trunks is None:
            return Model.ERLANG_C if math.isinf(self.patience) else Model.ERLANG_A
        return Model.FINITE if math.isinf(self.patience) else Model.FINITE_PATIENCE


@dataclass(frozen=True)
class Performance:
    """What a queue does in steady state; probabilities are per offered call (module doc)."""

    model: Model
    agents: int
    load: float
    target_seconds: float
    service_level: float
    asa: float
    p_wait: float
    p_answered: float
    p_abandon: float
    p_blocked: float
    occupancy: float
    p_abandon_within_target: float = 0.0

    @property
    def service_level_excluding_short_abandons(self) -> float:
        """The variant that leaves calls abandoned within the target out of the count:
        answered within T / (offered - abandoned within T)."""
        return self.service_level / (1.0 - self.p_abandon_within_target)


# --- Erlang B and C ----------------------------------------------------------------------


def erlang_b(agents: int, load: float) -> float:
    """Blocking probability of `agents` servers offered `load` Erlangs with no queue
    (M/M/n/n; also right for any handle-time distribution). Recursive, stable for any n."""
    _check_count("agents", agents, 0)
    _check_load(load)
    b = 1.0
    for k in range(1, int(agents) + 1):
        ab = load * b
        b = ab / (k + ab)
    return b


def _erlang_c_from_b(agents, load, b):
    return agents * b / (agents - load * (1.0 - b))


def _check_stable(agents, load):
    if load >= agents:
        raise OverloadError(
            f"{load:.4g} Erlangs cannot be carried by {agents} agents without patience or "
            f"trunks: the queue grows without end (Erlang C needs more than {load:.4g} "
            "agents)")


def erlang_c(agents: int, load: float) -> float:
    """Probability that a call waits (M/M/n, FCFS, infinite patience); raises
    OverloadError when load >= agents."""
    _check_count("agents", agents, 1)
    _check_load(load)
    _check_stable(agents, load)
    return _erlang_c_from_b(agents, load, erlang_b(agents, load))


def erlang_c_service_level(agents: int, load: float, target_seconds: float,
                           handle_time: float) -> float:
    """P(wait <= target) under Erlang C: 1 - C exp(-(n - A) t / h), over all calls."""
    _check_positive("handle_time", handle_time)
    if not target_seconds >= 0:
        raise ValueError(f"target_seconds must be >= 0, not {target_seconds!r}")
    c = erlang_c(agents, load)
    return 1.0 - c * math.exp(-(agents - load) * target_seconds / handle_time)


def erlang_c_asa(agents: int, load: float, handle_time: float) -> float:
    """Mean wait of all calls (all are answered) under Erlang C: C h / (n - A)."""
    _check_positive("handle_time", handle_time)
    return erlang_c(agents, load) * handle_time / (agents - load)


def _erlang_c(agents, load, b, handle_time, target_seconds):
    c = _erlang_c_from_b(agents, load, b)
    return Performance(
        model=Model.ERLANG_C, agents=agents, load=load, target_seconds=target_seconds,
        service_level=1.0 - c * math.exp(-(agents - load) * target_seconds / handle_time),
        asa=c * handle_time / (agents - load), p_wait=c, p_answered=1.0, p_abandon=0.0,
        p_blocked=0.0, occupancy=load / agents)


# --- Erlang A (M/M/n+M) in closed form ---------------------------------------------------
#
# With a = n mu / theta and x = lambda / theta (theta = 1 / patience), the queue's states
# n + j have weights pi_n t_j with t_j = x^j / prod_{i=1..j} (a + i), and
#   S(a, x) = sum_j t_j = 1F1(1; a+1; x) = a e^x x^-a gamma(a, x) = e^x x^-a Gamma(a+1) P(a, x).
# P(wait) = E S / (1 + (S - 1) E) with E = Erlang B; and for a call that waits
#   P(answered within t) = a/(a+1) [S(a+1, x) - e^(x - y - (a+1) theta t) S(a+1, y)] / S(a, x),
# y = x e^(-theta t) (the virtual-wait density of Baccelli and Hebuterne, integrated).


def _log_kummer(a, x):
    """log S(a, x), accurate also when S is near 1 (log1p of the series' tail) or would
    overflow (only its logarithm is formed)."""
    if x == 0.0:
        return 0.0
    if x >= 0.5 * a:
        p = special.gammainc(a, x)
        if p > 1e-200:
            return x - a * math.log(x) + float(special.gammaln(a + 1.0)) + math.log(p)
    # x well below a (or P(a, x) too small to trust): the series converges geometrically.
    log_terms = _queue_log_terms(a, x, None)
    return math.log1p(math.fsum(np.exp(log_terms[1:])))


def _queue_log_terms(a, x, limit):
    """log t_j for j = 0..J: t_0 = 1, t_j = t_{j-1} x / (a + j); J = limit - 1 when given,
    else up to where the terms fall below 1e-300 of the largest. a >= 0, x > 0."""
    out = [np.zeros(1)]
    log_x = math.log(x)
    last = peak = 0.0
    start, chunk = 1, 64
    while limit is None or start < limit:
        stop = start + chunk if limit is None else min(start + chunk, limit)
        j = np.arange(start, stop, dtype=float)
        logs = last + np.cumsum(log_x - np.log(a + j))
        out.append(logs)
        peak = max(peak, float(logs.max()))
        last = float(logs[-1])
        start, chunk = stop, min(2 * chunk, 1 << 16)
        # Past j > x - a the terms only fall (x / (a + j) < 1).
        if limit is None and start > x - a and last < peak + _NEGLIGIBLE_LOG:
            break
        if start > _MAX_TERMS:
            raise ValueError(f"the queue's series needs more than {_MAX_TERMS:,} terms "
                             "(patience very long against the handle time); give a "
                             "shorter patience, or none for Erlang C")
    return np.concatenate(out)


def _erlang_a(agents, load, b, handle_time, patience, target_seconds, want_asa=True):
    n = agents
    a = n * patience / handle_time            # n mu / theta
    x = load * patience / handle_time         # lambda / theta
    log_s = _log_kummer(a, x)
    # P(wait) = E S / (1 + (S - 1) E) = 1 / (1 + (1 - E) / (E S)), E = Erlang B.
    p_wait = 0.0 if b == 0.0 else \
        float(special.expit(log_s + math.log(b) - math.log1p(-b)))
    # A waiting call is answered with probability (a / x) (S - 1) / S.
    served_if_wait = (a / x) * -math.expm1(-log_s)
    # ... and answered within t with R(t) = a/(a+1) S(a+1,x)/S(a,x) (1 - late), where
    # late = e^(x - y - (a+1) theta t) S(a+1,y) / S(a+1,x), y = x e^(-theta t).
    theta_t = target_seconds / patience
    y = x * math.exp(-theta_t)
    log_s1_x = _log_kummer(a + 1.0, x)
    log_late = x - y - (a + 1.0) * theta_t + _log_kummer(a + 1.0, y) - log_s1_x
    within_if_wait = (a / (a + 1.0)) * math.exp(log_s1_x - log_s) * -math.expm1(
        min(log_late, 0.0))
    # Still waiting at t: e^(-theta t) P(V > t) = e^(-theta t) P(a, y) / P(a, x).
    still_if_wait = math.exp(min(0.0, x - y - (a + 1.0) * theta_t + _log_kummer(a, y)
                                 - log_s))
    gone_if_wait = max(0.0, 1.0 - within_if_wait - still_if_wait)
    p_answered = (1.0 - p_wait) + p_wait * served_if_wait
    service_level = (1.0 - p_wait) + p_wait * within_if_wait
    # The ASA is a series as long as the queue; solvers that do not look at it skip it.
    if not want_asa:
        asa = math.nan
    elif p_wait:
        asa = _erlang_a_wait_answered(a, x, patience) * p_wait / p_answered
    else:
        asa = 0.0
    return Performance(
        model=Model.ERLANG_A, agents=n, load=load, target_seconds=target_seconds,
        service_level=service_level, asa=asa, p_wait=p_wait, p_answered=p_answered,
        p_abandon=p_wait * (1.0 - served_if_wait), p_blocked=0.0,
        occupancy=load * p_answered / n, p_abandon_within_target=p_wait * gone_if_wait)


def _erlang_a_wait_answered(a, x, patience):
    """E[wait; answered | the call waits] in seconds: sum over j calls ahead of
    P(j ahead | wait) * a/(a+j+1) * sum_{i=1..j+1} 1/(a+i) / theta (digamma differences)."""
    log_t = _queue_log_terms(a, x, None)
    w = np.exp(log_t - log_t.max())
    j = np.arange(len(log_t), dtype=float)
    waited = (special.digamma(a + j + 2.0) - special.digamma(a + 1.0)) * patience
    return float(np.sum(w * (a / (a + j + 1.0)) * waited) / np.sum(w))


# --- the birth-death chain: M/M/n/K(+M), and M/M/n(+M) truncated -------------------------


def birth_death(agents: int, load: float, handle_time: float, *, patience: float = math.inf,
                trunks: int | None = None, target_seconds: float = 0.0) -> Performance:
    """Any of the four models from its birth-death chain over the number of calls in the
    system, solved exactly in logarithms. With trunks=None the chain is summed until its
    terms are negligible (needs patience, or load < agents). The finite models' solver; for
    Erlang C and A a cross-check of the closed forms."""
    _check_count("agents", agents, 1)
    _check_load(load)
    _check_positive("handle_time", handle_time)
    _check_positive("patience", patience, allow_inf=True)
    if trunks is not None:
        _check_count("trunks", trunks, 1)
    if not target_seconds >= 0:
        raise ValueError(f"target_seconds must be >= 0, not {target_seconds!r}")
    impatient = math.isfinite(patience)
    if trunks is None and not impatient:
        _check_stable(agents, load)
    model = (Model.ERLANG_A if impatient else Model.ERLANG_C) if trunks is None else \
        (Model.FINITE_PATIENCE if impatient else Model.FINITE)
    n = agents
    top_busy = n if trunks is None else min(n, trunks)  # states 0..top_busy: no queue
    k = np.arange(top_busy + 1, dtype=float)
    if load > 0:
        log_busy = k * math.log(load) - special.gammaln(k + 1.0)
    else:
        log_busy = np.where(k == 0, 0.0, -np.inf)
    queue_places = None if trunks is None else max(trunks - n, 0)
    if queue_places != 0 and load > 0:
        # States n + j, j >= 1: weight ratio lambda / (n mu + j theta) = x / (a + j) in
        # units of theta; without patience the constant ratio load / n.
        count = None if queue_places is None else queue_places + 1
        if impatient:
            log_t = _queue_log_terms(n * patience / handle_time, load * patience / handle_time,
                                     count)
        else:
            log_t = _geometric_log_terms(load / n, count)
        log_queue = log_busy[-1] + log_t[1:]
    else:
        log_queue = np.zeros(0)
    log_w = np.concatenate([log_busy, log_queue])
    log_w -= log_w.max()
    pi = np.exp(log_w)
    pi /= pi.sum()
    blocked = float(pi[-1]) if trunks is not None else 0.0
    admitted = pi[:-1] if trunks is not None else pi
    at_once = float(admitted[:n].sum())
    waiting = admitted[n:]                       # arrival finds n + j, j = 0, 1, ...
    j = np.arange(len(waiting), dtype=float)
    mu_n = n / handle_time                        # departures from the queue's head, 1/s
    if impatient:
        theta = 1.0 / patience
        a = mu_n / theta
        served = a / (a + j + 1.0)
        within = served * special.betainc(j + 1.0, a + 1.0, -math.expm1(-theta *
                                                                     target_seconds))
        wait_served = served * (special.digamma(a + j + 2.0) - special.digamma(a + 1.0)) \
            / theta
        # Still waiting at the target: e^(-theta t) P(sum of exp(theta (a + i)), i <= j > t).
        p_late = -math.expm1(-theta * target_seconds)
        still = math.exp(-theta * target_seconds) * special.betaincc(j + 1.0, a, p_late)
        gone = np.maximum(0.0, 1.0 - within - still)
    else:
        served = np.ones_like(j)
        within = special.gammainc(j + 1.0, mu_n * target_seconds) if target_seconds > 0 \
            else np.zeros_like(j)
        wait_served = (j + 1.0) / mu_n
        gone = np.zeros_like(j)
    p_wait = float(waiting.sum())
    p_answered = at_once + float(np.dot(waiting, served))
    service_level = at_once + float(np.dot(waiting, within))
    asa = float(np.dot(waiting, wait_served)) / p_answered if p_answered > 0 else 0.0
    return Performance(
        model=model, agents=n, load=load, target_seconds=target_seconds,
        service_level=service_level, asa=asa, p_wait=p_wait, p_answered=p_answered,
        p_abandon=max(0.0, 1.0 - blocked - p_answered), p_blocked=blocked,
        occupancy=load * p_answered / n, p_abandon_within_target=float(np.dot(waiting, gone)))


def _geometric_log_terms(ratio, count):
    """log ratio^j for j = 0..count-1, or until negligible (ratio < 1) when count is None."""
    if count is None:
        count = int(math.ceil(_NEGLIGIBLE_LOG / math.log(ratio))) + 1
        if count > _MAX_TERMS:
            raise ValueError(f"load per agent {ratio:.6g} is too close to 1 to sum the "
                             "chain; use erlang_c")
    return np.arange(count, dtype=float) * math.log(ratio)


# --- evaluate and solve ------------------------------------------------------------------


def evaluate(traffic: Traffic, agents: int, target_seconds: float) -> Performance:
    """The steady-state performance of `agents` agents on `traffic`, with the model the
    traffic calls for (Traffic.model). Raises OverloadError for Erlang C with load >=
    agents."""
    _check_count("agents", agents, 1)
    if isinstance(target_seconds, bool) or not isinstance(target_seconds, (int, float)) \
            or not math.isfinite(target_seconds) or target_seconds < 0:
        raise ValueError(f"target_seconds must be a finite number >= 0, not "
                         f"{target_seconds!r}")
    return _evaluate(traffic, int(agents), float(target_seconds), None)


def _evaluate(traffic, agents, target_seconds, b, want_asa=True):
    load = traffic.load
    model = traffic.model
    if model is Model.ERLANG_C:
        _check_stable(agents, load)
        b = erlang_b(agents, load) if b is None else b
        return _erlang_c(agents, load, b, traffic.handle_time, target_seconds)
    if model is Model.ERLANG_A:
        b = erlang_b(agents, load) if b is None else b
        return _erlang_a(agents, load, b, traffic.handle_time, traffic.patience,
                         target_seconds, want_asa)
    return birth_death(agents, load, traffic.handle_time, patience=traffic.patience,
                       trunks=traffic.trunks, target_seconds=target_seconds)


def with_shrinkage(agents: int, shrinkage: float) -> int:
    """Agents to schedule so that `agents` are answering when a fraction `shrinkage` of
    paid time goes to breaks, training, absence: ceil(agents / (1 - shrinkage))."""
    _check_count("agents", agents, 0)
    if isinstance(shrinkage, bool) or not isinstance(shrinkage, (int, float)) \
            or not 0 <= shrinkage < 1:
        raise ValueError(f"shrinkage must be a fraction in [0, 1), not {shrinkage!r}")
    # The rounding guard keeps 8 / (1 - 0.2) at 10, not 11 from 10.000000000000002.
    return int(math.ceil(agents / (1.0 - shrinkage) - 1e-9))


def _solve(traffic, meets, lower, target_seconds, max_agents, want_asa=False):
    """The smallest n >= lower with meets(performance(n)), scanning up with Erlang B
    carried along (one recursion step per agent). With trunks, agents beyond the trunks
    never answer a call, so the scan stops there."""
    load = traffic.load
    _check_count("max_agents", max_agents, 1)
    n = max(1, int(lower))
    if traffic.model is Model.ERLANG_C:
        n = max(n, int(math.floor(load)) + 1)
    if traffic.trunks is not None:
        max_agents = min(max_agents, traffic.trunks)
        n = min(n, max_agents)
    b = erlang_b(n, load) if traffic.trunks is None else None
    while n <= max_agents:
        perf = _evaluate(traffic, n, target_seconds, b, want_asa)
        if meets(perf):
            return n
        n += 1
        if b is not None:
            b = load * b / (n + load * b)
    if traffic.trunks is not None:
        raise ValueError(
            f"no number of agents meets the target with {traffic.trunks} trunks: even "
            f"{max_agents} agents leave {perf.p_blocked:.1%} of calls blocked; add trunks")
    raise ValueError(f"no number of agents up to {max_agents} meets the target")


def _check_fraction(name, value, *, closed_low=False):
    if isinstance(value, bool) or not isinstance(value, (int, float)) or \
            not (0 <= value < 1 if closed_low else 0 < value < 1):
        interval = "[0, 1)" if closed_low else "(0, 1)"
        raise ValueError(f"{name} must be a fraction in {interval}, not {value!r}")


def _default_max(traffic):
    return max(100, int(10 * traffic.load) + 100)


def agents_for_service_level(traffic: Traffic, service_level: float, target_seconds: float,
                             *, max_agents: int | None = None) -> int:
    """The fewest agents whose service level (answered within target_seconds / offered)
    is at least `service_level`."""
    _check_fraction("service_level", service_level)
    if not isinstance(target_seconds, (int, float)) or not math.isfinite(target_seconds) \
            or target_seconds < 0:
        raise ValueError(f"target_seconds must be a finite number >= 0, not "
                         f"{target_seconds!r}")
    # Answered calls carry at most n Erlangs: SL <= n / A, so n >= SL A.
    lower = math.floor(service_level * traffic.load)
    return _solve(traffic, lambda p: p.service_level >= service_level, lower,
                  float(target_seconds), max_agents or _default_max(traffic))


def agents_for_asa(traffic: Traffic, asa: float, *, max_agents: int | None = None) -> int:
    """The fewest agents whose average speed of answer (over answered calls) is at most
    `asa` seconds."""
    if isinstance(asa, bool) or not isinstance(asa, (int, float)) or not asa > 0 \
            or not math.isfinite(asa):
        raise ValueError(f"asa must be a positive number of seconds, not {asa!r}")
    return _solve(traffic, lambda p: p.asa <= asa, 1, 0.0,
                  max_agents or _default_max(traffic), want_asa=True)


def agents_for_abandon_rate(traffic: Traffic, abandon_rate: float, *,
                            max_agents: int | None = None) -> int:
    """The fewest agents whose abandon rate (abandoned / offered) is at most
    `abandon_rate`. Needs patience (without it nobody abandons)."""
    _check_fraction("abandon_rate", abandon_rate)
    if math.isinf(traffic.patience):
        raise ValueError("an abandon-rate target needs patience: without it nobody "
                         "abandons")
    # Answered calls carry at most n Erlangs: 1 - n / A <= abandoned + blocked.
    lower = 1 if traffic.trunks is not None else math.floor((1.0 - abandon_rate) *
                                                             traffic.load)
    return _solve(traffic, lambda p: p.p_abandon <= abandon_rate, lower, 0.0,
                  max_agents or _default_max(traffic))


def agents_for(traffic: Traffic, *, service_level: float | None = None,
               target_seconds: float = 20.0, asa: float | None = None,
               abandon_rate: float | None = None, max_agents: int | None = None) -> int:
    """The fewest agents that meet every target given (at least one): service level within
    target_seconds, ASA at most `asa` seconds, abandon rate at most `abandon_rate`."""
    checks = []
    start = 1
    if service_level is not None:
        start = max(start, agents_for_service_level(traffic, service_level, target_seconds,
                                                    max_agents=max_agents))
        checks.append(lambda p: p.service_level >= service_level)
    if asa is not None:
        start = max(start, agents_for_asa(traffic, asa, max_agents=max_agents))
        checks.append(lambda p: p.asa <= asa)
    if abandon_rate is not None:
        start = max(start, agents_for_abandon_rate(traffic, abandon_rate,
                                                   max_agents=max_agents))
        checks.append(lambda p: p.p_abandon <= abandon_rate)
    if not checks:
        raise ValueError("give at least one target: service_level, asa or abandon_rate")
    # Each alone is met from its own n up (they are monotone in n); check them together.
    return _solve(traffic, lambda p: all(check(p) for check in checks), start,
                  float(target_seconds), max_agents or _default_max(traffic),
                  want_asa=asa is not None)
