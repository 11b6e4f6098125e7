"""One test per routing strategy: who of the free matching agents is offered the call."""

import pytest

from appliance.acd import STRATEGIES, AcdError

from .helpers import S, CancelOffer, acd_with, agent, of, offers, queue


def handle(acd, call_id, agent_id, answer, end):
    """The agent answers `call_id` at `answer` s and hangs up at `end` s (no wrap-up)."""
    acd.offer_answered(call_id, agent_id, answer * S)
    return acd.call_ended(call_id, agent_id, end * S)


def three(strategy, **agent_kw):
    agents = [agent(i, **agent_kw.get(i, {})) for i in ("a", "b", "c")]
    acd = acd_with([queue(strategy=strategy)], agents)
    for t, agent_id in enumerate(("a", "b", "c")):
        acd.login(agent_id, None, t * S)
    return acd


def test_every_strategy_is_registered():
    assert sorted(STRATEGIES) == sorted([
        "longest_idle", "round_robin", "fewest_calls", "least_talk_time", "ring_all",
        "top_down", "skills_based", "random"])


def test_unknown_strategy_is_refused_with_the_known_ones():
    with pytest.raises(AcdError, match="strategy 'fastest' is unknown; use one of"):
        acd_with([queue(strategy="fastest")], [agent("a")])


def test_longest_idle_counts_from_ready_so_breaks_are_not_idle():
    acd = three("longest_idle")
    assert offers(acd.enqueue("c1", "sales", 10 * S)) == [("c1", "a")]
    handle(acd, "c1", "a", 11, 20)             # a is idle again from 20 s
    assert offers(acd.enqueue("c2", "sales", 21 * S)) == [("c2", "b")]   # b: since 1 s
    acd.set_not_ready("c", "lunch", 22 * S)    # c idled since 2 s, then a break
    acd.set_ready("c", 30 * S)                 # idle from 30 s, not from 2 s
    assert offers(acd.enqueue("c3", "sales", 31 * S)) == [("c3", "a")]   # a: since 20 s


def test_round_robin_remembers_the_last_agent_offered():
    acd = three("round_robin")
    taken = []
    for n in range(5):
        (call, who), = offers(acd.enqueue(f"c{n}", "sales", (10 + 10 * n) * S))
        taken.append(who)
        handle(acd, call, who, 11 + 10 * n, 12 + 10 * n)   # free again before the next
    assert taken == ["a", "b", "c", "a", "b"]


def test_round_robin_skips_busy_agents_and_goes_on_after_them():
    acd = three("round_robin")
    assert offers(acd.enqueue("c1", "sales", 10 * S)) == [("c1", "a")]
    acd.offer_answered("c1", "a", 11 * S)
    assert offers(acd.enqueue("c2", "sales", 12 * S)) == [("c2", "b")]
    acd.set_not_ready("c", "meeting", 13 * S)
    acd.offer_answered("c2", "b", 14 * S)
    acd.call_ended("c1", "a", 15 * S)
    assert offers(acd.enqueue("c3", "sales", 16 * S)) == [("c3", "a")]  # wraps past c


def test_fewest_calls_since_login():
    acd = three("fewest_calls")
    acd.set_not_ready("c", "training", 3 * S)
    taken = []
    for n in range(3):
        (call, who), = offers(acd.enqueue(f"w{n}", "sales", (10 + 10 * n) * S))
        taken.append(who)
        handle(acd, call, who, 11 + 10 * n, 12 + 10 * n)
    assert taken == ["a", "b", "a"]          # equal counts: longest idle
    acd.set_ready("c", 50 * S)               # c idled least, but answered no call
    assert offers(acd.enqueue("c1", "sales", 51 * S)) == [("c1", "c")]
    acd.offer_answered("c1", "c", 52 * S)
    assert offers(acd.enqueue("c2", "sales", 53 * S)) == [("c2", "b")]   # 1 call < a's 2
    assert acd.agent("a")["calls"] == 2


def test_least_talk_time_since_login():
    acd = three("least_talk_time")
    assert offers(acd.enqueue("c1", "sales", 10 * S)) == [("c1", "a")]
    handle(acd, "c1", "a", 10, 100)          # a talked 90 s
    assert offers(acd.enqueue("c2", "sales", 101 * S)) == [("c2", "b")]
    handle(acd, "c2", "b", 101, 111)         # b talked 10 s
    assert offers(acd.enqueue("c3", "sales", 112 * S)) == [("c3", "c")]
    handle(acd, "c3", "c", 112, 142)         # c talked 30 s
    assert offers(acd.enqueue("c4", "sales", 150 * S)) == [("c4", "b")]
    assert acd.agent("a")["talk_ms"] == 90 * S


def test_ring_all_rings_every_free_match_and_the_first_answer_wins():
    acd = acd_with([queue(strategy="ring_all", skills={"sales": 3})],
                   [agent("a"), agent("b"), agent("c"), agent("low", {"sales": 2})],
                   login=("a", "b", "c", "low"))
    out = acd.enqueue("c1", "sales", 10 * S)
    assert sorted(offers(out)) == [("c1", "a"), ("c1", "b"), ("c1", "c")]
    out = acd.offer_answered("c1", "b", 12 * S)
    assert sorted((c.call_id, c.agent_id) for c in of(out, CancelOffer)) == \
        [("c1", "a"), ("c1", "c")]
    assert acd.agent("b")["state"].value == "on_call"
    assert acd.agent("a")["state"].value == acd.agent("c")["state"].value == "idle"
    assert acd.offer_answered("c1", "a", 13 * S) == [CancelOffer("c1", "a")]  # too late


def test_ring_all_call_waits_again_only_when_every_offer_failed():
    acd = acd_with([queue(strategy="ring_all")], [agent("a"), agent("b")], login="ab")
    acd.enqueue("c1", "sales", 0)
    acd.offer_failed("c1", "a", 5 * S)
    assert acd.waiting("sales")[0][1].value == "ringing"
    acd.offer_failed("c1", "b", 6 * S)
    assert acd.waiting("sales")[0][1].value == "waiting"


def test_top_down_always_tries_the_first_agent_by_order():
    agents = [agent("a", order=3), agent("b", order=1), agent("c", order=2)]
    acd = acd_with([queue(strategy="top_down")], agents, login="abc")
    assert offers(acd.enqueue("c1", "sales", 10 * S)) == [("c1", "b")]
    handle(acd, "c1", "b", 11, 12)           # b idled least now, still first
    assert offers(acd.enqueue("c2", "sales", 13 * S)) == [("c2", "b")]
    assert offers(acd.enqueue("c3", "sales", 14 * S)) == [("c3", "c")]


def test_skills_based_takes_the_best_level_then_longest_idle():
    agents = [agent("a", {"sales": 3}), agent("b", {"sales": 9}), agent("c", {"sales": 9}),
              agent("d", {"sales": 4, "english": 9})]
    acd = acd_with([queue(strategy="skills_based")], agents)
    for t, agent_id in enumerate("dcab"):
        acd.login(agent_id, None, t * S)
    assert offers(acd.enqueue("c1", "sales", 10 * S)) == [("c1", "c")]   # 9, idle since 1
    assert offers(acd.enqueue("c2", "sales", 11 * S)) == [("c2", "b")]
    assert offers(acd.enqueue("c3", "sales", 12 * S)) == [("c3", "d")]   # english not asked
    assert offers(acd.enqueue("c4", "sales", 13 * S)) == [("c4", "a")]


def _random_choices(seed, calls=40):
    acd = acd_with([queue(strategy="random")], [agent(i) for i in "abcdef"], login="abcdef",
                   rng_seed=seed)
    chosen = []
    for n in range(calls):
        (call, who), = offers(acd.enqueue(f"c{n}", "sales", n * S))
        chosen.append(who)
        handle(acd, call, who, n + 0.1, n + 0.2)
    return chosen


def test_random_is_seeded_and_uses_every_agent():
    first = _random_choices(seed=7)
    assert first == _random_choices(seed=7)
    assert first != _random_choices(seed=8)
    assert set(first) == set("abcdef")
