"""The capacity simulation (the real switchboard and ACD in virtual time) against queueing
theory: Erlang C (M/M/n), Erlang A (M/M/n+M), the finite-trunk model (M/M/n/K) and Erlang B
(M/G/n/n: blocking does not depend on the talk-time distribution). Every run discards its
warm-up; the check is that the formula's figure lies inside the simulation's 95 %
confidence interval, and that interval is narrow enough for the check to mean something.
Agents answer at once (ring delay 0) and have no wrap-up, as the formulas assume."""

import json
import math

import pytest

from appliance.acd import erlang
from appliance.config import parse_config
from appliance.engine import simulation
from appliance.engine.simulation import Simulation, Tally, simulate
from appliance.engine.traffic import Traffic, talk_sampler

AHT = 180.0


def theory(calls_per_hour, agents, *, patience=None, trunks=None, target=20.0):
    return erlang.evaluate(erlang.Traffic(calls_per_hour, AHT,
                                          math.inf if patience is None else patience, trunks),
                           agents, target)


def inside(result, key, value, widest):
    low, high = result[key + "_ci"]
    assert low is not None, f"{key}: no interval"
    assert high - low <= widest, f"{key}: interval {low:.4f}..{high:.4f} too wide to test"
    assert low <= value <= high, f"{key}: theory {value:.4f} outside {low:.4f}..{high:.4f}"


def test_erlang_c_service_level_and_asa_within_the_confidence_interval():
    """M/M/10 at 7 Erlangs (occupancy 70 %), infinite patience, unlimited lines."""
    result = simulate(Traffic(140.0, AHT), agents=10, hours=100, seed=1)
    expect = theory(140.0, 10)
    inside(result, "service_level", expect.service_level, 0.08)
    inside(result, "asa", expect.asa, 16.0)
    inside(result, "p_wait", expect.p_wait, 0.08)
    assert result["abandoned"] == result["blocked"] == 0
    assert result["answered"] == result["offered"] > 13000
    assert result["occupancy"] == pytest.approx(expect.occupancy, abs=0.02)


def test_erlang_a_with_exponential_patience_within_the_confidence_interval():
    """M/M/10+M at 9 Erlangs offered, mean patience 180 s: about 9 % abandon."""
    result = simulate(Traffic(180.0, AHT, patience=180.0), agents=10, hours=100, seed=2)
    expect = theory(180.0, 10, patience=180.0)
    assert expect.model is erlang.Model.ERLANG_A
    inside(result, "service_level", expect.service_level, 0.07)
    inside(result, "asa", expect.asa, 5.0)
    inside(result, "abandon_rate", expect.p_abandon, 0.03)
    assert result["blocked"] == 0
    assert result["answered"] + result["abandoned"] == result["offered"]


def test_fewer_trunks_than_needed_block_as_the_finite_capacity_model():
    """M/M/5/7: 5 agents, 7 lines (calls talking plus waiting), 5 Erlangs offered: about
    18 % of the calls find every line busy."""
    result = simulate(Traffic(100.0, AHT), agents=5, trunks=7, hours=100, seed=3)
    expect = theory(100.0, 5, trunks=7)
    assert expect.model is erlang.Model.FINITE
    inside(result, "blocking_rate", expect.p_blocked, 0.04)
    inside(result, "service_level", expect.service_level, 0.06)
    assert result["answered"] + result["blocked"] == result["offered"]
    assert expect.p_blocked > 0.15


@pytest.mark.parametrize("talk", ["constant", "lognormal"])
def test_erlang_b_blocking_whatever_the_talk_time_distribution(talk):
    """Lines = agents: no queue, M/G/4/4. Erlang B holds for any talk-time distribution
    (insensitivity), so constant and lognormal talk times block as exponential ones."""
    result = simulate(Traffic(80.0, AHT, talk=talk, talk_cv=1.5), agents=4, trunks=4,
                      hours=80, seed=4)
    expect = erlang.erlang_b(4, 80.0 * AHT / 3600.0)
    inside(result, "blocking_rate", expect, 0.06)
    assert result["p_wait"] == 0.0  # a call that gets a line gets an agent at once
    assert result["service_level"] == pytest.approx(1.0 - result["blocking_rate"])


def test_same_seed_same_json_other_seed_differs():
    traffic = Traffic(120.0, AHT, patience=90.0)
    first = json.dumps(simulate(traffic, agents=6, hours=4, seed=11))
    again = json.dumps(simulate(traffic, agents=6, hours=4, seed=11))
    other = json.dumps(simulate(traffic, agents=6, hours=4, seed=12))
    assert first == again
    assert first != other


def test_workers_do_not_change_the_result():
    """Replications in two forked processes give the result of running them here."""
    traffic = Traffic(100.0, AHT)
    here = simulate(traffic, agents=7, hours=6, seed=5, replications=2, workers=1)
    forked = simulate(traffic, agents=7, hours=6, seed=5, replications=2, workers=2)
    assert json.dumps(here) == json.dumps(forked)


def test_the_same_callers_whatever_the_agents():
    """Common random numbers: call i arrives at the same time with the same talk time and
    patience for any staffing, so more agents never serve fewer offered calls."""
    traffic = Traffic(150.0, AHT, patience=60.0)
    few = simulate(traffic, agents=6, hours=5, seed=6)
    many = simulate(traffic, agents=9, hours=5, seed=6)
    assert few["offered"] == many["offered"]
    assert many["service_level"] > few["service_level"]
    assert many["abandon_rate"] < few["abandon_rate"]


def test_ring_delay_and_wrap_up_are_handle_time():
    """The agent is busy from the ring to the end of wrap-up: occupancy is still the load
    over the agents; the ring delay is part of every answered call's wait."""
    traffic = Traffic(100.0, AHT, ring_delay_s=4.0, wrap_up_s=30)
    result = simulate(traffic, agents=8, hours=30, seed=7)
    assert traffic.talk_mean == AHT - 34.0
    assert result["occupancy"] == pytest.approx(100.0 * AHT / 3600.0 / 8, abs=0.04)
    assert result["asa"] >= 4.0
    assert result["service_level"] < 1.0


def test_a_real_configuration_through_its_ivr_menu():
    """The sample config: its menu (press 1 for sales), office hours (the run starts on a
    Monday at 16:00 in Shanghai, so the first two hours are open), its three agents at
    their stations, 4 lines."""
    from importlib import resources

    text = resources.files("appliance.config").joinpath("sample.toml").read_text()
    config = parse_config(text, source="sample.toml")
    result = simulate(Traffic(30.0, 120.0), config=config, press="1", hours=1.5,
                      warmup_hours=0.25, seed=8, replications=1, batches=3)
    assert result["agents"] == 3
    assert result["offered"] > 20
    assert result["answered"] > 0.5 * result["offered"]
    assert result["offered"] == (result["answered"] + result["abandoned"] + result["blocked"]
                                 + result["other"])


def test_traffic_checks_and_distributions():
    with pytest.raises(ValueError, match="no talk time"):
        Traffic(100.0, 20.0, ring_delay_s=10.0, wrap_up_s=10)
    with pytest.raises(ValueError, match="talk distribution"):
        Traffic(100.0, 180.0, talk="weibull")
    with pytest.raises(ValueError, match="calls_per_hour"):
        Traffic(0.0, 180.0)
    import random
    rng = random.Random(1)
    draws = [talk_sampler("lognormal", 100.0, 2.0, rng)() for _ in range(40000)]
    mean = sum(draws) / len(draws)
    sd = math.sqrt(sum((d - mean) ** 2 for d in draws) / len(draws))
    assert mean == pytest.approx(100.0, rel=0.06)
    assert sd / mean == pytest.approx(2.0, rel=0.2)
    assert talk_sampler("constant", 42.0, 1.0, rng)() == 42.0


def test_bad_arguments():
    traffic = Traffic(100.0, AHT)
    with pytest.raises(ValueError, match="agents"):
        Simulation(traffic, hours=1)
    with pytest.raises(ValueError, match="trunks"):
        Simulation(traffic, agents=2, trunks=0)
    with pytest.raises(ValueError, match="hours"):
        Simulation(traffic, agents=2, hours=-1)
    with pytest.raises(ValueError, match="replications"):
        simulate(traffic, agents=2, replications=0)


def test_tally_counts_rows_of_the_window_only():
    from appliance.engine.commands import LogEvent

    tally = Tally(100, 200, 2, target_ticks=50)
    rows = [LogEvent(90, "call_arrived", "early"), LogEvent(120, "call_arrived", "a"),
            LogEvent(120, "queued", "a"), LogEvent(120, "offered", "a"),
            LogEvent(125, "connected", "a", data={"waited_ticks": 5, "first": True}),
            LogEvent(160, "call_arrived", "b"), LogEvent(160, "queued", "b"),
            LogEvent(300, "call_ended", "b", data={"disposition": "abandoned"}),
            LogEvent(95, "connected", "early", data={"waited_ticks": 5, "first": True}),
            LogEvent(110, "agent_state", agent="x", data={"state": "on_call"}),
            LogEvent(150, "agent_state", agent="x", data={"state": "idle"})]
    for row in rows:
        tally.row(row)
    tally.blocked(199)
    tally.blocked(200)
    assert tally.offered == [1, 2]
    assert tally.answered == [1, 0] and tally.within == [1, 0]
    assert tally.abandoned == [0, 1] and tally.waited == [0, 1]
    assert tally.blocked_n == [0, 1]
    assert tally.busy_ticks == 40


def test_centre_config_spreads_over_boards_of_64_ports():
    config = simulation.centre_config(70, 130)
    assert len(config.agents) == 70 and len(config.stations) == 70
    assert sum(len(t.ports) for t in config.trunks.values()) == 130
    assert all(len(b.port_kinds) <= 64 for b in config.boards.values())


def test_with_audio_the_same_callers_give_the_same_kpis(tmp_path):
    """The event-driven run's callers through the whole box on emulated boards (ringing,
    FSK caller ID, the DSP, speech-like audio): every caller ends the same way, and the
    waits differ only by the real signalling's fractions of a second."""
    from appliance.engine.simulation import simulate_with_audio

    traffic = Traffic(240.0, 40.0, patience=15.0, ring_delay_s=1.0)
    audio = simulate_with_audio(traffic, agents=3, hours=0.03, seed=3, batches=2,
                                data_dir=tmp_path)
    events = simulate(traffic, agents=3, hours=0.03, seed=3, warmup_hours=0.0,
                      replications=1, batches=2)
    for key in ("offered", "answered", "abandoned", "blocked", "other"):
        assert audio[key] == events[key], key
    assert audio["offered"] >= 5 and audio["answered"] >= 3
    assert audio["asa"] == pytest.approx(events["asa"], abs=1.0)
    assert audio["service_level"] == pytest.approx(events["service_level"], abs=0.1)
    assert audio["occupancy"] == pytest.approx(events["occupancy"], abs=0.05)


def test_kpis_from_the_event_log_agree_with_the_simulation_count():
    """The rows the run streams are the event log the box would write: appliance.acd.kpis
    computes the same offered, answered, abandoned, service level and ASA from them."""
    from types import SimpleNamespace

    from appliance.acd import kpis

    rows = []
    sim = Simulation(Traffic(150.0, AHT, patience=90.0), agents=7, hours=4,
                     warmup_hours=1, seed=9, batches=4)
    sim.listeners.append(rows.append)
    tally = sim.run()
    ms = simulation.ORIGIN_MS
    events = [SimpleNamespace(time_ms=ms + 20 * r.tick, kind=r.kind, call_id=r.call_id,
                              queue=r.queue, agent=r.agent, data=r.data) for r in rows]
    since, until = ms + 20 * tally.start, ms + 20 * tally.end
    got = kpis.compute(events, since_ms=since, until_ms=until, interval="60min", by=(),
                       target_s=20)
    assert sum(r.offered for r in got) == sum(tally.offered) > 400
    assert sum(r.answered for r in got) == sum(tally.answered)
    assert sum(r.abandoned for r in got) == sum(tally.abandoned) > 10
    assert sum(r.answered_within_target for r in got) == sum(tally.within)
    waited_ms = sum(r.asa_ms * r.answered for r in got if r.answered)
    assert waited_ms == pytest.approx(20 * sum(tally.wait_sum))


def test_callers_who_end_the_call_first_with_wrap_up():
    """Half the answered calls are ended by the caller: the agent hears busy tone and puts
    the handset down, wrap-up follows, and no offer ever finds a station busy."""
    rows = []
    sim = Simulation(Traffic(150.0, AHT, caller_ends=0.5, wrap_up_s=5), agents=8, hours=8,
                     seed=10, batches=4)
    sim.listeners.append(lambda c: rows.append(c) if c.kind in (
        "offer_failed", "call_ended") else None)
    tally = sim.run()
    assert sum(tally.answered) == sum(tally.offered) > 1000
    assert not [r for r in rows if r.kind == "offer_failed"]
    causes = {r.data["cause"] for r in rows if r.kind == "call_ended"}
    assert {"agent hung up", "far end: loop current drop"} <= causes
