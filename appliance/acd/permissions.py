"""Who may supervise whom: `may(actor, permission, target) -> (allowed, why)`.

Roles: an *agent* may change only their own state (ready, not ready, log out); a
*supervisor* may listen to, whisper to, barge in on and force-end the calls of, and change
the state of, the agents of the queues they supervise (an agent belongs to a queue when
their skills can take its calls: `queues_of`), and not other supervisors or admins; an
*admin* may do everything to everyone. Nobody listens to, whispers to, barges in on or
force-ends their own call. `why` always says which rule decided, for the audit log and
the refusal message.
"""

import enum
from dataclasses import dataclass, field


class Role(enum.Enum):
    AGENT = "agent"
    SUPERVISOR = "supervisor"
    ADMIN = "admin"


class Permission(enum.Enum):
    LISTEN = "listen"                  # hear the call, unheard
    WHISPER = "whisper"                # talk to the agent only
    BARGE = "barge"                    # three-way: both hear the supervisor
    FORCE_END = "force_end"            # end the call
    SET_AGENT_STATE = "set_agent_state"  # ready / not ready / log out for the agent


CALL_PERMISSIONS = (Permission.LISTEN, Permission.WHISPER, Permission.BARGE,
                    Permission.FORCE_END)


@dataclass(frozen=True)
class Actor:
    """Who asks: a user id, their role and, for a supervisor, the queues they supervise."""
    id: str
    role: Role
    queues: frozenset = field(default_factory=frozenset)

    def __post_init__(self):
        object.__setattr__(self, "role", Role(self.role))
        object.__setattr__(self, "queues", frozenset(self.queues))


@dataclass(frozen=True)
class Target:
    """Whom it is done to: the agent (their id and the queues they serve) and, for a call
    permission, the queue of the call they are on (None: not a queue call). `role` is the
    target user's role (supervisors and admins also take calls)."""
    agent_id: str
    queues: frozenset = field(default_factory=frozenset)
    call_queue: str | None = None
    role: Role = Role.AGENT

    def __post_init__(self):
        object.__setattr__(self, "role", Role(self.role))
        object.__setattr__(self, "queues", frozenset(self.queues))


def queues_of(agent_spec, queue_specs):
    """The names of the queues whose base skills `agent_spec` (an AgentSpec) has."""
    levels = agent_spec.skills
    return frozenset(name for name, spec in queue_specs.items()
                     if all(levels.get(s, 0) >= lvl for s, lvl in spec.skills.items()))


def may(actor, permission, target):
    """(True, why) if `actor` may use `permission` (a Permission or its value) on `target`,
    else (False, why)."""
    try:
        permission = Permission(permission)
    except ValueError:
        return False, (f"{permission!r} is not a supervisor action; use one of "
                       + ", ".join(p.value for p in Permission))
    if permission in CALL_PERMISSIONS and target.agent_id == actor.id:
        return False, f"{actor.id} cannot {permission.value} on their own call"
    if actor.role is Role.ADMIN:
        return True, "admins may do everything"
    if actor.role is Role.AGENT:
        if permission is Permission.SET_AGENT_STATE and target.agent_id == actor.id:
            return True, "agents may change their own state"
        return False, (f"agents may only change their own state; {permission.value} on "
                       f"{target.agent_id} needs a supervisor of their queue")
    # a supervisor
    if target.role is not Role.AGENT:
        if permission is Permission.SET_AGENT_STATE and target.agent_id == actor.id:
            return True, "supervisors may change their own state"
        return False, (f"supervisors may not {permission.value} on {target.agent_id}, who "
                       f"is a {target.role.value}; an admin may")
    if permission in CALL_PERMISSIONS and target.call_queue is not None:
        if target.call_queue in actor.queues:
            return True, f"{actor.id} supervises queue {target.call_queue}"
        return False, (f"{actor.id} does not supervise queue {target.call_queue}, the "
                       f"queue of {target.agent_id}'s call")
    shared = sorted(actor.queues & target.queues)
    if shared:
        return True, f"{actor.id} supervises queue {shared[0]}, which {target.agent_id} serves"
    return False, (f"{actor.id} supervises no queue {target.agent_id} serves ("
                   + (", ".join(sorted(target.queues)) or "none") + ")")
