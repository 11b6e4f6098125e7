"""Supervisor permissions: each role and action, to whom."""

import pytest

from appliance.acd.permissions import Actor, Permission, Role, Target, may, queues_of
from appliance.acd.specs import AgentSpec, QueueSpec

SUP = Actor("sup1", Role.SUPERVISOR, {"sales"})
ADMIN = Actor("root", Role.ADMIN)
AGENT = Actor("1001", Role.AGENT)
SALES_AGENT = Target("1001", {"sales"}, call_queue="sales")
SUPPORT_AGENT = Target("1003", {"support"}, call_queue="support")
CALL_ACTIONS = ["listen", "whisper", "barge", "force_end"]


@pytest.mark.parametrize("action", CALL_ACTIONS + ["set_agent_state"])
def test_supervisor_may_act_on_agents_of_their_queues(action):
    allowed, why = may(SUP, action, SALES_AGENT)
    assert allowed, why
    assert "sales" in why


@pytest.mark.parametrize("action", CALL_ACTIONS + ["set_agent_state"])
def test_supervisor_may_not_act_on_agents_of_other_queues(action):
    allowed, why = may(SUP, Permission(action), SUPPORT_AGENT)
    assert not allowed
    assert "does not supervise queue support" in why or "supervises no queue" in why


def test_supervisor_goes_by_the_calls_queue_when_the_agent_serves_several():
    both = Target("1002", {"sales", "support"}, call_queue="support")
    assert may(SUP, "listen", both) == (False, "sup1 does not supervise queue support, the "
                                        "queue of 1002's call")
    assert may(SUP, "set_agent_state", both)[0]      # state: any queue they share
    idle = Target("1002", {"sales", "support"})
    assert may(SUP, "whisper", idle)[0]


def test_supervisor_may_not_act_on_another_supervisor_or_admin():
    other = Target("sup2", {"sales"}, call_queue="sales", role=Role.SUPERVISOR)
    allowed, why = may(SUP, "barge", other)
    assert not allowed and "who is a supervisor; an admin may" in why
    assert not may(SUP, "set_agent_state", Target("root", {"sales"}, role=Role.ADMIN))[0]
    assert may(SUP, "set_agent_state", Target("sup1", (), role=Role.SUPERVISOR))[0]


@pytest.mark.parametrize("action", CALL_ACTIONS + ["set_agent_state"])
def test_admin_may_do_everything_to_everyone(action):
    assert may(ADMIN, action, SUPPORT_AGENT) == (True, "admins may do everything")
    assert may(ADMIN, action, Target("sup2", role="supervisor"))[0]


@pytest.mark.parametrize("action", CALL_ACTIONS)
def test_agent_may_not_supervise(action):
    allowed, why = may(AGENT, action, Target("1002", {"sales"}, call_queue="sales"))
    assert not allowed and "agents may only change their own state" in why


def test_agent_may_change_only_their_own_state():
    assert may(AGENT, "set_agent_state", Target("1001")) == \
        (True, "agents may change their own state")
    assert not may(AGENT, "set_agent_state", Target("1002"))[0]


@pytest.mark.parametrize("actor", [SUP, ADMIN])
@pytest.mark.parametrize("action", CALL_ACTIONS)
def test_nobody_supervises_their_own_call(actor, action):
    me = Target(actor.id, {"sales"}, call_queue="sales", role=actor.role)
    allowed, why = may(actor, action, me)
    assert not allowed and "their own call" in why


def test_an_unknown_action_is_refused_with_the_list():
    allowed, why = may(ADMIN, "record", SALES_AGENT)
    assert not allowed and "listen, whisper, barge, force_end, set_agent_state" in why


def test_queues_of_an_agent_follow_the_queue_skills_and_levels():
    queues = {"sales": QueueSpec("sales", {"sales": 5}),
              "vip": QueueSpec("vip", {"sales": 9, "english": 5}),
              "support": QueueSpec("support", {"support": 1})}
    assert queues_of(AgentSpec("a", skills={"sales": 8, "english": 9}), queues) == {"sales"}
    assert queues_of(AgentSpec("b", skills={"sales": 9, "english": 5, "support": 1}),
                     queues) == {"sales", "vip", "support"}
