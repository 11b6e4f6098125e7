"""What the ACD routes with: a queue's and an agent's settings, as frozen dataclasses.

Built by hand (tests, the simulator) or from `appliance.config`'s Queue / Agent with
`QueueSpec.from_config` / `AgentSpec.from_config`, which fill in defaults for what the config
file has no key for (no_agents_overflow, aht_s). Times are seconds here (as in the config);
the ACD counts in milliseconds.
"""

import dataclasses
from dataclasses import dataclass
from types import MappingProxyType
from typing import Mapping, Optional

from .errors import AcdError

DTMF_DIGITS = "0123456789*#ABCD"
SKILL_LEVEL = (1, 10)
OVERFLOW_USAGE = ('"hangup", "voicemail", "queue:NAME", "station:NAME" or "flow:NODE"')


@dataclass(frozen=True)
class Escalation:
    """After `after_s` seconds of waiting, a caller may also go to agents with at least
    `min_level` in each of the queue's skills (widen), or to agents who match queue
    `add_queue`'s skills (a second queue's agents). Steps add up in order of `after_s`."""
    after_s: int
    min_level: Optional[int] = None
    add_queue: Optional[str] = None

    def __post_init__(self):
        if not isinstance(self.after_s, int) or self.after_s < 0:
            raise AcdError(f"escalation after_s {self.after_s!r}: give whole seconds >= 0")
        if (self.min_level is None) == (self.add_queue is None):
            raise AcdError("an escalation step either widens (min_level) or adds a queue "
                           "(add_queue), one of the two")
        if self.min_level is not None and not (
                isinstance(self.min_level, int)
                and SKILL_LEVEL[0] <= self.min_level <= SKILL_LEVEL[1]):
            raise AcdError(f"escalation min_level {self.min_level!r}: use a level "
                           f"{SKILL_LEVEL[0]}-{SKILL_LEVEL[1]}")

    @classmethod
    def of(cls, value):
        """An Escalation from itself or from (after_s, level) / (after_s, "queue:NAME" or
        "NAME")."""
        if isinstance(value, Escalation):
            return value
        after_s, what = value
        if isinstance(what, int):
            return cls(after_s, min_level=what)
        if isinstance(what, str) and what:
            return cls(after_s, add_queue=what.removeprefix("queue:"))
        raise AcdError(f"escalation step {value!r}: give (after_s, min_level) or "
                       "(after_s, \"queue:NAME\")")


@dataclass(frozen=True)
class QueueSpec:
    """One queue. `skills`: {skill: minimum level} an agent needs (all of them);
    `priority`: higher queues win an agent both could take; `strategy`: a name in
    `strategies.STRATEGIES` (or one given to Acd); `max_wait_s`: then `overflow` (0: only
    if no agent takes the call at once); `wrap_up_s`: after-call work per call;
    `announce_s`: position / expected wait every so often and at entry (0: never);
    `exit_digit`: the caller leaves to `overflow`; `callback_digit`: the caller asks to be
    called back; `escalation`: Escalation steps; `no_agents_overflow`: leave at once when
    no logged-in agent could ever take the call; `ring_s`: an offer rings this long;
    `aht_s`: the handle time assumed until calls of the queue have been handled."""
    name: str
    skills: Mapping[str, int] = dataclasses.field(default_factory=dict)
    priority: int = 0
    strategy: str = "longest_idle"
    max_wait_s: int = 300
    overflow: str = "voicemail"
    wrap_up_s: int = 0
    announce_s: int = 60
    exit_digit: Optional[str] = None
    callback_digit: Optional[str] = None
    escalation: tuple = ()
    no_agents_overflow: bool = True
    ring_s: int = 20
    aht_s: int = 180

    def __post_init__(self):
        skills = dict(self.skills)
        for skill, level in skills.items():
            if not isinstance(level, int) or not SKILL_LEVEL[0] <= level <= SKILL_LEVEL[1]:
                raise AcdError(f"queue {self.name!r}: skill {skill!r} level {level!r}; use "
                               f"{SKILL_LEVEL[0]}-{SKILL_LEVEL[1]}")
        object.__setattr__(self, "skills", MappingProxyType(skills))
        steps = tuple(sorted((Escalation.of(e) for e in self.escalation),
                             key=lambda e: e.after_s))
        object.__setattr__(self, "escalation", steps)
        for key in ("max_wait_s", "wrap_up_s", "announce_s", "ring_s", "aht_s"):
            value = getattr(self, key)
            if not isinstance(value, int) or value < 0:
                raise AcdError(f"queue {self.name!r}: {key} {value!r}; give whole seconds "
                               ">= 0")
        if self.ring_s == 0 or self.aht_s == 0:
            raise AcdError(f"queue {self.name!r}: ring_s and aht_s must be > 0")
        for key in ("exit_digit", "callback_digit"):
            digit = getattr(self, key)
            if digit is not None and (len(digit) != 1 or digit not in DTMF_DIGITS):
                raise AcdError(f"queue {self.name!r}: {key} {digit!r}; use one of "
                               f"{DTMF_DIGITS}")
        if self.exit_digit is not None and self.exit_digit == self.callback_digit:
            raise AcdError(f"queue {self.name!r}: exit_digit and callback_digit are both "
                           f"{self.exit_digit!r}; give them different digits")
        kind, _, target = self.overflow.partition(":")
        if not (self.overflow in ("hangup", "voicemail")
                or kind in ("queue", "station", "flow") and target):
            raise AcdError(f"queue {self.name!r}: overflow {self.overflow!r}; use "
                           + OVERFLOW_USAGE)

    @classmethod
    def from_config(cls, queue, **overrides):
        """From an `appliance.config.Queue`: skills with their minimum levels
        (`skill_levels`; a list of skills: level 1), escalation steps, and every field of
        this class present on `queue` (max_wait_s, overflow, strategy, ..., callback_digit);
        the rest takes the defaults above unless given in `overrides`."""
        values = {"name": queue.name, "max_wait_s": queue.max_wait_s,
                  "overflow": queue.overflow}
        skills = getattr(queue, "skill_levels", None)
        values["skills"] = dict(skills) if skills else {s: 1 for s in queue.skills}
        # config steps (after_s, min_level or queue) -> Escalation(after_s, min_level,
        # add_queue)
        values["escalation"] = tuple(
            Escalation(step.after_s, min_level=step.min_level, add_queue=step.queue)
            for step in getattr(queue, "escalation", ()))
        for f in dataclasses.fields(cls):
            if f.name not in values and hasattr(queue, f.name):
                values[f.name] = getattr(queue, f.name)
        values.update(overrides)
        return cls(**values)


@dataclass(frozen=True)
class AgentSpec:
    """One agent. `skills`: {skill: level 1-10}; `station`: the usual station (login may
    name another); `order`: rank for top-down routing (lower first); `max_no_answer`: after
    this many offers in a row rang out (or found the station busy) the agent is made not
    ready (reason "no answer" / "station busy"); 0 never."""
    id: str
    name: str = ""
    skills: Mapping[str, int] = dataclasses.field(default_factory=dict)
    station: Optional[str] = None
    order: int = 0
    max_no_answer: int = 2

    def __post_init__(self):
        skills = dict(self.skills)
        for skill, level in skills.items():
            if not isinstance(level, int) or not SKILL_LEVEL[0] <= level <= SKILL_LEVEL[1]:
                raise AcdError(f"agent {self.id!r}: skill {skill!r} level {level!r}; use "
                               f"{SKILL_LEVEL[0]}-{SKILL_LEVEL[1]}")
        object.__setattr__(self, "skills", MappingProxyType(skills))
        if not isinstance(self.max_no_answer, int) or self.max_no_answer < 0:
            raise AcdError(f"agent {self.id!r}: max_no_answer {self.max_no_answer!r}; "
                           "give a count >= 0")

    @classmethod
    def from_config(cls, agent, *, order=0, **overrides):
        """From an `appliance.config.Agent` (id, name, skills as (skill, level) pairs,
        station, order, max_no_answer); `order` is the rank used when the agent's own
        `order` is None (not given in the file)."""
        own = getattr(agent, "order", None)
        values = {"id": agent.id, "name": agent.name, "skills": dict(agent.skills),
                  "station": agent.station, "order": order if own is None else own}
        if hasattr(agent, "max_no_answer"):
            values["max_no_answer"] = agent.max_no_answer
        values.update(overrides)
        return cls(**values)


def specs_from_config(config):
    """({name: QueueSpec}, {id: AgentSpec}) for an `appliance.config.Config`; agents are
    ranked for top-down routing by their `order`, else in the order the file lists them."""
    queues = {name: QueueSpec.from_config(q) for name, q in config.queues.items()}
    agents = {aid: AgentSpec.from_config(a, order=index)
              for index, (aid, a) in enumerate(config.agents.items())}
    return queues, agents
