"""appliance.acd.erlang against published tables, exact arithmetic and a dense CTMC solve.

Independent references used here (none shares code with the module):
- `_erlang_b_exact`: Erlang's formula with factorials in exact rational arithmetic.
- `_ctmc`: the queue as a continuous-time Markov chain over the calls in the system,
  truncated far out, its stationary law solved with numpy.linalg; the fate of a tagged
  arriving call (calls ahead, service and abandonment) as a second, absorbing chain whose
  transient law comes from the matrix exponential (scipy.linalg.expm) and whose expected
  times come from its fundamental matrix. Abandonment there is counted the Little's-law way
  (theta x mean queue / lambda), not by the module's per-position product.
"""

import math
from fractions import Fraction

import numpy as np
import pytest
import scipy.linalg
from hypothesis import given, settings
from hypothesis import strategies as st

from appliance.acd.erlang import (
    Model, OverloadError, Performance, Traffic, agents_for, agents_for_abandon_rate,
    agents_for_asa,
    agents_for_service_level, birth_death, erlang_b, erlang_c, erlang_c_asa,
    erlang_c_service_level, evaluate, with_shrinkage,
)

# Erlang A's closed form is good to about 1e-10 absolute (erlang.py's docstring: its series
# and logarithms); orderings between two models are checked to that, not to 1e-12.
ACCURACY = 1e-9


def _erlang_b_exact(n, load):
    a = Fraction(load)
    terms = [a ** k / math.factorial(k) for k in range(n + 1)]
    return terms[-1] / sum(terms)


def _erlang_c_exact(n, load):
    a = Fraction(load)
    top = a ** n / math.factorial(n) * n / (n - a)
    return top / (sum(a ** k / math.factorial(k) for k in range(n)) + top)


def _ctmc(n, load, handle_time, patience=math.inf, trunks=None, target=0.0, cap=None):
    """Performance of M/M/n/K(+M) from dense linear algebra (module doc)."""
    mu, lam = 1.0 / handle_time, load / handle_time
    theta = 0.0 if math.isinf(patience) else 1.0 / patience
    top = trunks if trunks is not None else cap
    q = np.zeros((top + 1, top + 1))
    for k in range(top + 1):
        if k < top:
            q[k, k + 1] = lam
        if k > 0:
            q[k, k - 1] = min(k, n) * mu + max(k - n, 0) * theta
        q[k, k] = -q[k].sum()
    # pi Q = 0, sum pi = 1: replace one balance equation by the normalisation.
    m = q.T.copy()
    m[-1, :] = 1.0
    rhs = np.zeros(top + 1)
    rhs[-1] = 1.0
    pi = np.linalg.solve(m, rhs)
    if trunks is None:
        assert pi[-1] < 1e-12, "truncation too short for this reference"
    blocked = pi[top] if trunks is not None else 0.0
    states = np.arange(top + 1)
    queue_mean = float(np.dot(pi, np.maximum(states - n, 0)))
    p_abandon = theta * queue_mean / lam
    admitted = pi[:top] if trunks is not None else pi
    at_once = float(admitted[:n].sum())
    waiting = admitted[n:]
    # The tagged call: transient states i = calls ahead (0..J), then served, abandoned.
    jmax = len(waiting)
    if jmax:
        g = np.zeros((jmax + 2, jmax + 2))
        served, gone = jmax, jmax + 1
        for i in range(jmax):
            if i > 0:
                g[i, i - 1] = n * mu + i * theta
            else:
                g[i, served] = n * mu
            g[i, gone] = theta
            g[i, i] = -g[i].sum()
        t_block = g[:jmax, :jmax]
        fundamental = np.linalg.inv(-t_block)
        to_served = g[:jmax, served]
        p_served = fundamental @ to_served
        time_served = fundamental @ (fundamental @ to_served)   # E[T; served]
        law = scipy.linalg.expm(g * target) if target > 0 else np.eye(jmax + 2)
        within, gone_by = law[:jmax, served], law[:jmax, gone]
        answered = at_once + float(waiting @ p_served)
        sl = at_once + float(waiting @ within)
        asa = float(waiting @ time_served) / answered
        short = float(waiting @ gone_by)
    else:
        answered, sl, asa, short = at_once, at_once, 0.0, 0.0
    return {"p_wait": float(waiting.sum()), "p_blocked": float(blocked),
            "p_abandon": p_abandon, "p_answered": answered, "service_level": sl,
            "asa": asa, "p_abandon_within_target": short,
            "occupancy": float(np.dot(pi, np.minimum(states, n))) / n}


def _close(perf, ref, rel=1e-7, abs_=1e-9):
    for key, value in ref.items():
        assert getattr(perf, key) == pytest.approx(value, rel=rel, abs=abs_), key


# --- Erlang B ----------------------------------------------------------------------------


@pytest.mark.parametrize("n, load", [(1, 0.5), (5, 2.0), (10, 5.0), (13, 10.0),
                                     (30, 25.5), (60, 70.0), (120, 100.0)])
def test_erlang_b_recursion_equals_the_factorial_formula_in_exact_arithmetic(n, load):
    assert erlang_b(n, load) == pytest.approx(float(_erlang_b_exact(n, load)), rel=1e-12)


@pytest.mark.parametrize("lines, erlangs", [
    (10, 4.461), (20, 12.031), (50, 37.901), (100, 84.064),  # Erlang B table, GoS 1 %
    (15, 8.108),                           # erlang.com manual: 15 lines at 1 % blocking
])
def test_erlang_b_table_at_one_percent_blocking(lines, erlangs):
    # Published to 3 decimals: the blocking there is 1 % to within that rounding.
    assert erlang_b(lines, erlangs) == pytest.approx(0.01, abs=2e-5)
    assert erlang_b(lines, erlangs + 0.01) > 0.01 > erlang_b(lines, erlangs - 0.01)


def test_erlang_b_lines_for_3_percent_at_158_erlangs_is_168():
    # erlang.com's manual: 50000 minutes a day, 19 % in the busy hour (158.333 Erl), 3 %.
    load = 50000 * 0.19 / 60
    assert erlang_b(168, load) <= 0.03 < erlang_b(167, load)


def test_erlang_b_survives_thousands_of_lines_and_extreme_loads():
    assert erlang_b(1500, 1450.0) == pytest.approx(float(_erlang_b_exact(1500, 1450)),
                                                   rel=1e-10)
    assert erlang_b(10, 1e6) == pytest.approx(1 - 10 / 1e6, rel=1e-6)
    assert erlang_b(2000, 1.0) == 0.0 or erlang_b(2000, 1.0) < 1e-300
    assert erlang_b(0, 3.0) == 1.0
    assert erlang_b(4, 0.0) == 0.0


# --- Erlang C ----------------------------------------------------------------------------


def test_erlang_c_of_3_agents_at_2_erlangs_is_4_9ths():
    assert erlang_c(3, 2.0) == pytest.approx(4 / 9, rel=1e-14)


@pytest.mark.parametrize("n, p_wait, sl, asa", [
    # The common worked example: 100 calls per half hour of 180 s (10 Erlangs), 80/20.
    (13, 0.2853, 0.7956, 17.12), (14, 0.1741, 0.8884, 7.84), (15, 0.1020, 0.9415, 3.67),
])
def test_erlang_c_worked_example_10_erlangs_80_in_20(n, p_wait, sl, asa):
    assert erlang_c(n, 10.0) == pytest.approx(float(_erlang_c_exact(n, 10)), rel=1e-12)
    assert erlang_c(n, 10.0) == pytest.approx(p_wait, abs=5e-5)
    assert erlang_c_service_level(n, 10.0, 20, 180) == pytest.approx(sl, abs=5e-5)
    assert erlang_c_asa(n, 10.0, 180) == pytest.approx(asa, abs=5e-3)
    assert agents_for_service_level(Traffic(200, 180), 0.8, 20) == 14


@pytest.mark.parametrize("n, load, handle_time, target", [
    (1, 0.5, 60, 10), (13, 10.0, 180, 20), (55, 48.0, 240, 15), (8, 7.5, 300, 30)])
def test_erlang_c_against_a_dense_ctmc_solve(n, load, handle_time, target):
    perf = evaluate(Traffic(load * 3600 / handle_time, handle_time), n, target)
    # Truncated where the geometric tail (load / n)^j is below 1e-16.
    ref = _ctmc(n, load, handle_time, target=target,
                cap=n + int(37 / -math.log(load / n)) + 10)
    _close(perf, ref, rel=1e-6, abs_=1e-9)


def test_erlang_c_refuses_a_load_the_agents_cannot_carry():
    with pytest.raises(OverloadError, match="queue grows"):
        erlang_c(10, 10.0)
    with pytest.raises(OverloadError):
        evaluate(Traffic(400, 180), 20, 20)


# --- Erlang A ----------------------------------------------------------------------------


@pytest.mark.parametrize("n, load, handle_time, patience, target", [
    (13, 10.0, 180, 120, 20),      # a typical small centre
    (5, 8.0, 300, 60, 30),         # overloaded: only patience keeps it finite
    (1, 0.3, 120, 600, 10),
    (40, 38.0, 200, 30, 20),
    (20, 10.0, 240, 2000, 60),     # patience long against the wait: x far below a
])
def test_erlang_a_closed_form_against_a_dense_ctmc_solve(n, load, handle_time, patience,
                                                         target):
    perf = evaluate(Traffic(load * 3600 / handle_time, handle_time, patience), n, target)
    assert perf.model is Model.ERLANG_A
    ref = _ctmc(n, load, handle_time, patience, target=target, cap=n + 250)
    _close(perf, ref, rel=1e-6, abs_=1e-9)


@settings(max_examples=150, deadline=None)
@given(n=st.integers(1, 400), rho=st.floats(0.05, 3.0), handle_time=st.floats(10, 1200),
       patience_ratio=st.floats(0.01, 50), target=st.floats(0, 600))
def test_erlang_a_closed_form_equals_the_truncated_chain(n, rho, handle_time,
                                                         patience_ratio, target):
    # Patience up to 50 handle times keeps the chain short enough for a unit test.
    load, patience = rho * n, patience_ratio * handle_time
    closed = evaluate(Traffic(load * 3600 / handle_time, handle_time, patience), n, target)
    chain = birth_death(n, load, handle_time, patience=patience, target_seconds=target)
    # Both are exact up to rounding; with tens of thousands waiting the closed form's
    # logarithms (of size x = lambda / theta) cost it about 1e-10 absolute.
    for key in ("service_level", "p_wait", "p_answered", "p_abandon", "occupancy",
                "p_abandon_within_target"):
        assert getattr(closed, key) == pytest.approx(getattr(chain, key), rel=1e-6,
                                                     abs=1e-9), key
    assert closed.asa == pytest.approx(chain.asa, rel=1e-6, abs=1e-8)
    assert closed.p_answered + closed.p_abandon == pytest.approx(1.0, abs=1e-12)


@pytest.mark.parametrize("n, load", [(5, 3.0), (13, 10.0), (100, 92.0)])
def test_erlang_a_tends_to_erlang_c_as_patience_grows(n, load):
    c = evaluate(Traffic(load * 20, 180), n, 20)
    previous = None
    for patience in (1e3, 1e5, 1e7, 1e9):
        a = evaluate(Traffic(load * 20, 180, patience), n, 20)
        gap = abs(a.service_level - c.service_level) + abs(a.asa - c.asa) / c.asa
        assert previous is None or gap < previous
        previous = gap
    assert a.service_level == pytest.approx(c.service_level, abs=1e-6)
    assert a.asa == pytest.approx(c.asa, rel=1e-5)
    assert a.p_wait == pytest.approx(c.p_wait, rel=1e-6)
    assert a.p_abandon < 1e-5


def test_erlang_a_carries_a_load_erlang_c_cannot():
    perf = evaluate(Traffic(600, 180, patience=90), 25, 20)   # 30 Erlangs on 25 agents
    assert 0 < perf.occupancy < 1
    assert perf.p_abandon > 1 - 25 / 30 - 1e-12              # what 25 agents cannot carry
    assert perf.p_answered * 30 == pytest.approx(perf.occupancy * 25)


def test_waiting_call_served_within_t_is_an_incomplete_beta_of_calls_ahead():
    # Single waiting position checked against the closed form's pieces: with j calls ahead
    # the answer time is a sum of exponentials at n mu + i theta; the chain uses betainc.
    n, load, h, patience = 3, 2.5, 100.0, 50.0
    for target in (0.0, 5.0, 40.0, 400.0):
        chain = birth_death(n, load, h, patience=patience, target_seconds=target)
        ref = _ctmc(n, load, h, patience, target=target, cap=80)
        assert chain.service_level == pytest.approx(ref["service_level"], rel=1e-9)


# --- finite trunks -----------------------------------------------------------------------


@pytest.mark.parametrize("n, trunks, load, patience, target", [
    (13, 20, 10.0, math.inf, 20), (13, 13, 10.0, math.inf, 20),   # K = n is Erlang B
    (10, 12, 15.0, math.inf, 10), (13, 20, 10.0, 120.0, 20), (8, 30, 12.0, 60.0, 30),
    (6, 4, 3.0, math.inf, 20),    # fewer trunks than agents: two agents never answer
])
def test_finite_trunks_against_a_dense_ctmc_solve(n, trunks, load, patience, target):
    perf = evaluate(Traffic(load * 20, 180, patience, trunks), n, target)
    assert perf.model is (Model.FINITE if math.isinf(patience) else Model.FINITE_PATIENCE)
    _close(perf, _ctmc(n, load, 180, patience, trunks, target), rel=1e-8, abs_=1e-12)


def test_trunks_equal_to_agents_block_as_erlang_b():
    for n, load in ((13, 10.0), (30, 28.0), (5, 9.0)):
        perf = evaluate(Traffic(load * 20, 180, trunks=n), n, 20)
        assert perf.p_blocked == pytest.approx(erlang_b(n, load), rel=1e-12)
        assert perf.p_wait == 0 and perf.asa == 0
        assert perf.service_level == pytest.approx(1 - erlang_b(n, load), rel=1e-12)


@pytest.mark.parametrize("patience", [math.inf, 120.0])
def test_finite_trunks_tend_to_the_unlimited_model(patience):
    unlimited = evaluate(Traffic(200, 180, patience), 13, 20)
    finite = [evaluate(Traffic(200, 180, patience, trunks=k), 13, 20)
              for k in (15, 20, 40, 100, 400)]
    gaps = [abs(f.service_level - unlimited.service_level) + f.p_blocked for f in finite]
    assert all(b <= a for a, b in zip(gaps, gaps[1:]))
    assert finite[-1].service_level == pytest.approx(unlimited.service_level, abs=1e-10)
    assert finite[-1].asa == pytest.approx(unlimited.asa, rel=1e-9)
    assert finite[-1].p_blocked < 1e-12


def test_probabilities_of_every_model_sum_to_one():
    for traffic in (Traffic(200, 180), Traffic(200, 180, 60), Traffic(200, 180, trunks=16),
                    Traffic(200, 180, 60, 16)):
        perf = evaluate(traffic, 12, 20)
        assert perf.p_answered + perf.p_abandon + perf.p_blocked == pytest.approx(1.0)
        assert 0 <= perf.service_level <= perf.p_answered + ACCURACY
        assert perf.occupancy == pytest.approx(traffic.load * perf.p_answered / 12)


# --- monotonicity ------------------------------------------------------------------------


_traffic = st.builds(
    lambda cph, aht, patience, trunks: Traffic(cph, aht, patience, trunks),
    st.floats(10, 5000), st.floats(20, 900),
    st.one_of(st.just(math.inf), st.floats(5, 3000)),
    st.one_of(st.none(), st.integers(1, 300)))


def _perf_or_none(traffic, n, target):
    try:
        return evaluate(traffic, n, target)
    except OverloadError:
        return None


@settings(max_examples=200, deadline=None)
@given(traffic=_traffic, n=st.integers(1, 200), target=st.floats(0, 300))
def test_more_agents_never_lower_the_service_level(traffic, n, target):
    fewer, more = _perf_or_none(traffic, n, target), _perf_or_none(traffic, n + 1, target)
    if fewer is None:
        return
    assert more.service_level >= fewer.service_level - ACCURACY
    assert more.p_abandon <= fewer.p_abandon + ACCURACY
    if math.isinf(traffic.patience):
        # (With patience, more agents may block more: callers who would have hung up now
        # hold their trunk through a conversation.)
        assert more.p_blocked <= fewer.p_blocked + ACCURACY


@settings(max_examples=200, deadline=None)
@given(traffic=_traffic, n=st.integers(1, 200), target=st.floats(0, 300),
       more=st.floats(1.0, 2.0))
def test_more_load_never_raises_the_service_level(traffic, n, target, more):
    heavier = Traffic(traffic.calls_per_hour * more, traffic.handle_time, traffic.patience,
                      traffic.trunks)
    light, heavy = _perf_or_none(traffic, n, target), _perf_or_none(heavier, n, target)
    if heavy is None:
        return
    assert heavy.service_level <= light.service_level + ACCURACY


# --- solvers and shrinkage ---------------------------------------------------------------


@settings(max_examples=100, deadline=None)
@given(traffic=_traffic, sl=st.floats(0.05, 0.95), target=st.floats(0, 120))
def test_solved_agents_are_the_fewest_that_meet_the_service_level(traffic, sl, target):
    try:
        n = agents_for_service_level(traffic, sl, target)
    except ValueError as exc:                   # trunks too few for the target
        assert traffic.trunks is not None and "add trunks" in str(exc)
        assert evaluate(traffic, traffic.trunks, target).service_level < sl
        return
    assert evaluate(traffic, n, target).service_level >= sl
    if n > 1:
        below = _perf_or_none(traffic, n - 1, target)
        assert below is None or below.service_level < sl


def test_solvers_for_asa_and_abandon_rate():
    traffic = Traffic(200, 180, patience=120)
    n = agents_for_asa(traffic, 10.0)
    assert evaluate(traffic, n, 0).asa <= 10.0 < evaluate(traffic, n - 1, 0).asa
    n = agents_for_abandon_rate(traffic, 0.02)
    assert evaluate(traffic, n, 0).p_abandon <= 0.02 < evaluate(traffic, n - 1, 0).p_abandon
    with pytest.raises(ValueError, match="needs patience"):
        agents_for_abandon_rate(Traffic(200, 180), 0.02)
    assert agents_for_asa(Traffic(200, 180), 17.2) == 13


def test_solver_handles_a_thousand_agents():
    traffic = Traffic(20000, 180)                # 1000 Erlangs
    n = agents_for_service_level(traffic, 0.8, 20)
    assert 1000 < n < 1100
    assert evaluate(traffic, n, 20).service_level >= 0.8 > \
        evaluate(traffic, n - 1, 20).service_level


@pytest.mark.parametrize("agents, shrinkage, scheduled", [
    (10, 0.0, 10), (8, 0.2, 10), (10, 0.3, 15), (14, 0.35, 22), (0, 0.5, 0), (1, 0.99, 100)])
def test_shrinkage_divides_by_the_share_of_time_answering(agents, shrinkage, scheduled):
    assert with_shrinkage(agents, shrinkage) == scheduled


@pytest.mark.parametrize("call, message", [
    (lambda: Traffic(-1, 180), "calls_per_hour"),
    (lambda: Traffic(100, 0), "handle_time"),
    (lambda: Traffic(100, 180, patience=0), "patience"),
    (lambda: Traffic(100, 180, trunks=0), "trunks"),
    (lambda: Traffic(math.nan, 180), "calls_per_hour"),
    (lambda: evaluate(Traffic(100, 180), 0, 20), "agents"),
    (lambda: evaluate(Traffic(100, 180), 5, -1), "target_seconds"),
    (lambda: with_shrinkage(10, 1.0), "shrinkage"),
    (lambda: agents_for_service_level(Traffic(100, 180), 1.0, 20), "service_level"),
    (lambda: erlang_b(-1, 2.0), "agents"),
    (lambda: erlang_b(3, -2.0), "load"),
])
def test_bad_arguments_name_themselves(call, message):
    with pytest.raises(ValueError, match=message):
        call()


def test_performance_is_a_frozen_record():
    perf = evaluate(Traffic(200, 180), 13, 20)
    assert isinstance(perf, Performance)
    with pytest.raises(AttributeError):
        perf.agents = 3


def test_agents_for_every_target_at_once_is_the_largest_of_each():
    traffic = Traffic(200, 180, patience=120)
    sl = agents_for_service_level(traffic, 0.9, 20)
    asa = agents_for_asa(traffic, 3.0)
    abandon = agents_for_abandon_rate(traffic, 0.01)
    assert agents_for(traffic, service_level=0.9, target_seconds=20, asa=3.0,
                      abandon_rate=0.01) == max(sl, asa, abandon)
    assert agents_for(traffic, asa=3.0) == asa
    with pytest.raises(ValueError, match="at least one target"):
        agents_for(traffic)


def test_abandoned_within_the_target_grows_with_the_target_to_all_abandons():
    traffic = Traffic(300, 180, patience=60)
    shorts = [evaluate(traffic, 12, t).p_abandon_within_target for t in (0, 5, 20, 60, 1e4)]
    assert shorts[0] == 0
    assert all(b > a for a, b in zip(shorts, shorts[1:]))
    perf = evaluate(traffic, 12, 1e4)
    assert shorts[-1] == pytest.approx(perf.p_abandon, rel=1e-9)
    perf = evaluate(traffic, 12, 20)
    assert perf.service_level_excluding_short_abandons == pytest.approx(
        perf.service_level / (1 - perf.p_abandon_within_target))
    assert evaluate(Traffic(200, 180), 13, 20).p_abandon_within_target == 0


@settings(max_examples=40, deadline=None)
@given(traffic=_traffic, asa=st.floats(0.5, 120), abandon=st.floats(0.005, 0.5))
def test_solved_agents_are_the_fewest_for_asa_and_abandon_targets(traffic, asa, abandon):
    try:
        n = agents_for_asa(traffic, asa)
    except ValueError as exc:
        assert traffic.trunks is not None and "add trunks" in str(exc)
    else:
        assert evaluate(traffic, n, 0).asa <= asa
        below = _perf_or_none(traffic, n - 1, 0) if n > 1 else None
        assert below is None or below.asa > asa
    if math.isinf(traffic.patience):
        return
    try:
        n = agents_for_abandon_rate(traffic, abandon)
    except ValueError as exc:
        assert traffic.trunks is not None and "add trunks" in str(exc)
        return
    assert evaluate(traffic, n, 0).p_abandon <= abandon
    assert n == 1 or evaluate(traffic, n - 1, 0).p_abandon > abandon
