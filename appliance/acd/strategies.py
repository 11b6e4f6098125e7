"""Routing strategies: which of the free agents who can take a call gets it.

Each strategy is a small object with `pick(candidates, ctx) -> agent` (candidates: a non-empty
list of the free agents who match the call, in a fixed order; ctx: `Context` with the queue's
spec, the queue's own `memory` dict, the ACD's seeded `rng` and `now` in ms) and an
`offered(agent, ctx)` hook for strategies that remember. The agents they see expose `id`,
`spec` (AgentSpec: order, skills), `idle_since` (ms: when the agent last became ready and
idle; breaks and calls do not count as idle), `calls` (calls answered since login) and
`talk_ms` (talk time since login). Ties always fall back to (order, id), so a decision
depends on nothing but the ACD's inputs and its seed.

`ring_all` is the one strategy whose `ring_all` flag is set: the ACD offers the call to
every candidate at once and the first to answer takes it.
"""

from dataclasses import dataclass
from typing import Mapping


@dataclass
class Context:
    queue: object        # the QueueSpec
    memory: dict         # per queue, kept across calls (and across a reload)
    rng: object          # random.Random seeded by Acd(rng_seed=)
    now: int             # ms


def _rank(agent):
    return (agent.spec.order, agent.id)


class Strategy:
    name = ""
    ring_all = False

    def pick(self, candidates, ctx):
        raise NotImplementedError

    def offered(self, agent, ctx):
        """Called once the picked agent has been offered the call."""


class LongestIdle(Strategy):
    """The agent idle longest, idle counted from when they last became ready and free (a
    break or a call restarts it)."""
    name = "longest_idle"

    def pick(self, candidates, ctx):
        # (idle_since, then _rank's order and id, in one flat key)
        return min(candidates, key=lambda a: (a.idle_since, a.spec.order, a.id))


class RoundRobin(Strategy):
    """Agents in a fixed circle (order, id); each call goes to the next agent after the one
    the queue offered last (its memory), skipping those who are not candidates."""
    name = "round_robin"

    def pick(self, candidates, ctx):
        last = ctx.memory.get("round_robin_last")
        ranked = sorted(candidates, key=_rank)
        if last is not None:
            for agent in ranked:
                if _rank(agent) > last:
                    return agent
        return ranked[0]

    def offered(self, agent, ctx):
        ctx.memory["round_robin_last"] = _rank(agent)


class FewestCalls(Strategy):
    """The agent who answered the fewest calls since login; then longest idle."""
    name = "fewest_calls"

    def pick(self, candidates, ctx):
        return min(candidates, key=lambda a: (a.calls, a.idle_since, _rank(a)))


class LeastTalkTime(Strategy):
    """The agent with the least talk time since login; then longest idle."""
    name = "least_talk_time"

    def pick(self, candidates, ctx):
        return min(candidates, key=lambda a: (a.talk_ms, a.idle_since, _rank(a)))


class RingAll(Strategy):
    """Every candidate rings at once; the first to answer takes the call. `pick` (used when
    only one agent can be reserved, e.g. for a callback) is longest idle."""
    name = "ring_all"
    ring_all = True

    def pick(self, candidates, ctx):
        return LongestIdle.pick(self, candidates, ctx)


class TopDown(Strategy):
    """Always the first agent by order (then id): a hunt group."""
    name = "top_down"

    def pick(self, candidates, ctx):
        return min(candidates, key=_rank)


class SkillsBased(Strategy):
    """The best at the queue's skills first (the sum of the agent's levels in them), then
    longest idle."""
    name = "skills_based"

    def pick(self, candidates, ctx):
        skills = ctx.queue.skills

        def score(agent):
            levels = agent.spec.skills
            return sum(levels.get(skill, 0) for skill in skills)

        return min(candidates, key=lambda a: (-score(a), a.idle_since, _rank(a)))


class Random(Strategy):
    """Any candidate, drawn from the ACD's seeded generator (the same seed and inputs give
    the same choices)."""
    name = "random"

    def pick(self, candidates, ctx):
        return ctx.rng.choice(sorted(candidates, key=_rank))


STRATEGIES: Mapping[str, Strategy] = {s.name: s for s in (
    LongestIdle(), RoundRobin(), FewestCalls(), LeastTalkTime(), RingAll(), TopDown(),
    SkillsBased(), Random())}
