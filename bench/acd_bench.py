"""ACD routing benchmark: routing decisions per second against a naive re-scanning router.

    python bench/acd_bench.py [--agents 200] [--skills 20] [--waiting 500] [--decisions 5000]
                              [--strategies]

Centre: `--agents` agents with 3-5 of `--skills` skills each (levels 1-10), one queue per
skill asking for it at level 1-4 (a quarter of them also for a second skill, queue
priorities 0-2), longest-idle routing. Every agent is logged in and on a call, and
`--waiting` callers (caller priorities 0-2) wait. One cycle: a random busy agent hangs up
(no wrap-up), the ACD picks the caller that agent takes (one routing decision: the first
caller, in queue priority / caller priority / arrival order, over every queue the agent can
serve), the agent answers, and a new caller arrives (no agent free: it queues), so the load
stays at `--waiting` callers.

Peer: the naive router, what one writes first: on every change, sort all waiting callers
and, for each, scan all agents for the longest-idle free one with the skills, until no
pair matches (callers x agents per decision). Both take the same cycles, and their
decisions are checked equal before timing. CPU time (time.process_time), best of 3 rounds
in which the two take turns.

Also measured: a reload (`Acd.apply`) that frees 10 agents at once and re-matches all
waiting callers over them (the walk over every caller), per reload.
"""

import argparse
import random
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from appliance.acd import Acd, AgentSpec, Offer, QueueSpec  # noqa: E402
from machine import machine  # noqa: E402


def centre(n_agents=200, n_skills=20, seed=1, strategy="longest_idle"):
    rng = random.Random(seed)
    skills = [f"k{i:02d}" for i in range(n_skills)]
    queues = {}
    for i, skill in enumerate(skills):
        need = {skill: rng.randint(1, 4)}
        if rng.random() < 0.25:
            need[rng.choice([s for s in skills if s != skill])] = rng.randint(1, 3)
        queues[f"q{i:02d}"] = QueueSpec(f"q{i:02d}", need, priority=rng.randint(0, 2),
                                        strategy=strategy, max_wait_s=86400, announce_s=0,
                                        no_agents_overflow=False)
    agents = {}
    for i in range(n_agents):
        mine = rng.sample(skills, min(len(skills), rng.randint(3, 5)))
        agents[f"a{i:03d}"] = AgentSpec(f"a{i:03d}", skills={s: rng.randint(1, 10)
                                                             for s in mine},
                                        station=f"st{i:03d}", order=i)
    return queues, agents


class NaiveRouter:
    """Longest idle, priority then FIFO, by re-scanning every caller x every agent."""

    def __init__(self, queues, agents):
        self.queues = queues
        self.agents = agents
        self.free_since = {}           # agent id -> idle since (ms), only free agents
        self.waiting = {}              # call id -> (queue priority, caller priority, seq)
        self.queue_of = {}
        self.seq = 0

    def login(self, agent_id, now):
        self.free_since[agent_id] = now
        return self.route()

    def enqueue(self, call_id, queue, now, priority=0):
        self.seq += 1
        self.waiting[call_id] = (-self.queues[queue].priority, -priority, self.seq)
        self.queue_of[call_id] = queue
        return self.route()

    def answered(self, call_id, agent_id, now):
        pass                           # left the line when it was matched

    def ended(self, agent_id, now):
        self.free_since[agent_id] = now
        return self.route()

    def fits(self, agent_id, queue):
        levels = self.agents[agent_id].skills
        return all(levels.get(s, 0) >= lv for s, lv in self.queues[queue].skills.items())

    def route(self):
        decisions = []
        while True:
            match = None
            for call in sorted(self.waiting, key=self.waiting.get):
                best = None
                for agent_id in self.agents:
                    since = self.free_since.get(agent_id)
                    if since is None or not self.fits(agent_id, self.queue_of[call]):
                        continue
                    key = (since, self.agents[agent_id].order, agent_id)
                    if best is None or key < best[0]:
                        best = (key, agent_id)
                if best is not None:
                    match = (call, best[1])
                    break
            if match is None:
                return decisions
            call, agent_id = match
            del self.free_since[agent_id]
            del self.waiting[call]
            decisions.append((call, agent_id))


class Load:
    """Drives a router through the same cycles (the same random choices given the same
    decisions)."""

    def __init__(self, router, queues, agents, waiting, seed=2):
        self.router = router
        self.rng = random.Random(seed)
        self.queue_names = list(queues)
        self.now = 0
        self.calls = 0
        self.finished = 0
        self.busy = []                 # agents on a call, [(agent, call)]
        self.decisions = []
        seatable = sum(1 for a in agents.values()
                       if any(all(a.skills.get(s, 0) >= lv for s, lv in q.skills.items())
                              for q in queues.values()))
        for agent_id in agents:
            self.on_decisions(router.login(agent_id, self.now))
        while len(self.busy) < seatable or self.waiting_count() < waiting:
            self.arrive()

    def waiting_count(self):
        return self.calls - len(self.busy) - self.finished

    def arrive(self):
        self.now += 1
        self.calls += 1
        queue = self.rng.choice(self.queue_names)
        self.on_decisions(self.router.enqueue(f"c{self.calls}", queue, self.now,
                                              priority=self.rng.randint(0, 2)))

    def on_decisions(self, decisions):
        """Answer each routed call at its first offered agent (ring all offers one call to
        several agents: one decision; the ACD cancels the others)."""
        seen = set()
        for call, agent_id in decisions:
            if call in seen:
                continue
            seen.add(call)
            self.router.answered(call, agent_id, self.now)
            self.busy.append((agent_id, call))
            self.decisions.append((call, agent_id))

    def cycle(self):
        self.now += 1
        agent_id, call = self.busy.pop(self.rng.randrange(len(self.busy)))
        self.finished += 1
        self.on_decisions(self.router.ended(agent_id, call, self.now))
        self.arrive()


class AcdRouter:
    """The ACD behind the Load's calls."""

    def __init__(self, queues, agents):
        self.acd = Acd(queues, agents)

    @staticmethod
    def _offers(actions):
        return [(a.call_id, a.agent_id) for a in actions if isinstance(a, Offer)]

    def login(self, agent_id, now):
        return self._offers(self.acd.login(agent_id, None, now))

    def enqueue(self, call_id, queue, now, priority=0):
        return self._offers(self.acd.enqueue(call_id, queue, now, priority=priority))

    def answered(self, call_id, agent_id, now):
        self.acd.offer_answered(call_id, agent_id, now)

    def ended(self, agent_id, call_id, now):
        return self._offers(self.acd.call_ended(call_id, agent_id, now))


class NaiveAdapter(NaiveRouter):
    def ended(self, agent_id, call_id, now):
        return NaiveRouter.ended(self, agent_id, now)


def timed_cycles(load, cycles):
    before = len(load.decisions)
    start = time.process_time()
    for _ in range(cycles):
        load.cycle()
    elapsed = time.process_time() - start
    return elapsed, len(load.decisions) - before


def reload_time(queues, agents, waiting, reloads=20):
    """CPU seconds per reload (`Acd.apply`) that lets 10 free agents take calls: they were
    made free with skills no queue asks for, and the reload gives their skills back, so the
    ACD walks every waiting caller over them (best of `reloads`)."""
    load = Load(AcdRouter(queues, agents), queues, agents, waiting)
    acd = load.router.acd
    best = float("inf")
    for _ in range(reloads):
        freed = [load.busy.pop(load.rng.randrange(len(load.busy))) for _ in range(10)]
        load.now += 1
        for agent_id, call in freed:
            acd.set_not_ready(agent_id, "bench", load.now)
            acd.call_ended(call, agent_id, load.now)
            load.finished += 1
        unskilled = dict(agents)
        for agent_id, _ in freed:
            unskilled[agent_id] = AgentSpec(agent_id, skills={}, station=f"st-{agent_id}")
        acd.apply(queues, unskilled, now=load.now)
        for agent_id, _ in freed:
            assert not [a for a in acd.set_ready(agent_id, load.now) if isinstance(a, Offer)]
        start = time.process_time()
        actions = acd.apply(queues, agents, now=load.now)
        best = min(best, time.process_time() - start)
        got = [(a.call_id, a.agent_id) for a in actions if isinstance(a, Offer)]
        # the freed agents, each to a caller it can take (in a small centre some find none)
        assert {a for _, a in got} <= {a for a, _ in freed} and len(got) == len(set(got)), got
        for call, agent_id in got:
            acd.offer_answered(call, agent_id, load.now)
            load.busy.append((agent_id, call))
        for agent_id, _ in freed:       # the ones left free log out of the way
            if acd.agent(agent_id)["state"].value == "idle":
                acd.logout(agent_id, load.now)
        while load.waiting_count() < waiting:
            load.arrive()
    return best


def run(n_agents=200, n_skills=20, waiting=500, decisions=5000, naive_decisions=150,
        check=150, rounds=3, strategies=False):
    queues, agents = centre(n_agents, n_skills)
    # same decisions first: both routers through the same cycles
    ours = Load(AcdRouter(queues, agents), queues, agents, waiting)
    naive = Load(NaiveAdapter(queues, agents), queues, agents, waiting)
    assert ours.decisions == naive.decisions, "the routers seat the first callers differently"
    for _ in range(check):
        ours.cycle()
        naive.cycle()
    assert ours.decisions == naive.decisions, "the ACD and the naive router disagree"
    checked = len(ours.decisions)
    best_ours = best_naive = 0.0
    for _ in range(rounds):
        load = Load(AcdRouter(queues, agents), queues, agents, waiting)
        elapsed, made = timed_cycles(load, decisions)
        best_ours = max(best_ours, made / elapsed)
        load = Load(NaiveAdapter(queues, agents), queues, agents, waiting)
        elapsed, made = timed_cycles(load, naive_decisions)
        best_naive = max(best_naive, made / elapsed)
    result = {"agents": n_agents, "skills": n_skills, "waiting": waiting,
              "checked_decisions": checked, "acd_per_s": best_ours,
              "naive_per_s": best_naive, "ratio": best_ours / best_naive,
              "acd_us": 1e6 / best_ours, "naive_us": 1e6 / best_naive,
              "reload_ms": 1000 * reload_time(queues, agents, waiting)}
    if strategies:
        per = {}
        from appliance.acd import STRATEGIES
        for name in sorted(STRATEGIES):
            qs, ags = centre(n_agents, n_skills, strategy=name)
            best = 0.0
            for _ in range(rounds):
                load = Load(AcdRouter(qs, ags), qs, ags, waiting)
                elapsed, made = timed_cycles(load, decisions)
                best = max(best, made / elapsed)
            per[name] = best
        result["strategies"] = per
    return result


def markdown(result):
    r = result
    out = [f"| agents | skills | callers waiting | ACD decisions/s | naive decisions/s "
           f"| ACD / naive | ACD us per decision | naive us per decision "
           f"| reload re-matching all callers (ms) |",
           "|---|---|---|---|---|---|---|---|---|",
           f"| {r['agents']} | {r['skills']} | {r['waiting']} | {r['acd_per_s']:,.0f} "
           f"| {r['naive_per_s']:,.0f} | {r['ratio']:,.0f}x | {r['acd_us']:.1f} "
           f"| {r['naive_us']:,.0f} | {r['reload_ms']:.2f} |"]
    if "strategies" in r:
        out += ["", "| strategy | ACD decisions/s |", "|---|---|"]
        out += [f"| {name} | {rate:,.0f} |" for name, rate in r["strategies"].items()]
    out.append("")
    out.append(f"Decisions checked equal between the ACD and the naive router: "
               f"{r['checked_decisions']} (longest idle).")
    return "\n".join(out)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--agents", type=int, default=200)
    parser.add_argument("--skills", type=int, default=20)
    parser.add_argument("--waiting", type=int, default=500)
    parser.add_argument("--decisions", type=int, default=5000)
    parser.add_argument("--naive-decisions", type=int, default=150)
    parser.add_argument("--strategies", action="store_true", help="each strategy's rate")
    args = parser.parse_args(argv)
    m = machine()
    print(f"# ACD routing, {m['date']}, {m['cpu']}, {m['cores']} cores, "
          f"Python {m['python']}\n")
    print(markdown(run(args.agents, args.skills, args.waiting, args.decisions,
                       args.naive_decisions, strategies=args.strategies)))


if __name__ == "__main__":
    main()
