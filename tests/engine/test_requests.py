"""The switchboard's requests from outside the phones (appliance/engine/requests.py), sans
I/O: agents' states by id, a forced end, what a live view reads."""

import pytest

from appliance.acd import AcdError
from appliance.engine import commands as cmd
from appliance.engine.call import CallState

from .test_switchboard import DESK1, DESK2, LINE, Rig, closes


def agent_rows(commands, agent):
    return [(c.data["status"], c.data["reason"]) for c in commands
            if isinstance(c, cmd.LogEvent) and c.kind == "agent_state" and c.agent == agent]


def test_agents_log_out_in_pause_and_ready_by_id():
    rig = Rig()
    got = rig.sb.agent_logout("1002", rig.now)
    assert agent_rows(got, "1002") == [("logged_out", None)]
    assert rig.sb.acd.agent_at("desk2") is None
    got = rig.sb.agent_login("1002", "desk2", rig.now)
    assert agent_rows(got, "1002") == [("ready", None)]
    assert rig.sb.acd.agent_at("desk2") == "1002"
    assert agent_rows(rig.sb.agent_not_ready("1002", "lunch", rig.now), "1002") == \
        [("not_ready", "lunch")]
    assert agent_rows(rig.sb.agent_ready("1002", rig.now), "1002") == [("ready", None)]


def test_refusals_change_nothing_and_say_why():
    rig = Rig()
    with pytest.raises(AcdError, match="'desk9' is not a station; stations: desk1, desk2"):
        rig.sb.agent_login("1002", "desk9", rig.now)
    rig.sb.agent_logout("1002", rig.now)
    with pytest.raises(AcdError, match="taken by agent '1001'"):
        rig.sb.agent_login("1002", "desk1", rig.now)
    assert rig.sb.acd.agent_at("desk1") == "1001"
    with pytest.raises(AcdError, match="not logged in"):
        rig.sb.agent_ready("1002", rig.now)
    with pytest.raises(AcdError, match="not configured"):
        rig.sb.agent_not_ready("9999", "x", rig.now)


def test_a_paused_agent_gets_no_offer_and_ready_brings_the_waiting_call():
    rig = Rig()
    rig.sb.agent_not_ready("1001", "break", rig.now)
    rig.sb.agent_not_ready("1002", "break", rig.now)
    call = rig.queued()
    assert call.state is CallState.QUEUED and not [c for c in rig.out
                                                   if isinstance(c, cmd.Ring)]
    got = rig.sb.agent_ready("1002", rig.now)
    assert cmd.Ring(DESK2) in got and call.state is CallState.ALERTING


def test_hang_up_ends_a_connected_call_everywhere_with_the_cause():
    rig = Rig()
    call = rig.connected(DESK1)
    got = rig.sb.hang_up(call.id, "ended by 2001", rig.now)
    assert [(c.disposition, c.cause) for c in closes(got)] == [("answered", "ended by 2001")]
    assert cmd.Release(LINE) in got
    assert cmd.Play(DESK1, ("tone:busy",), loop=True) in got  # the agent hears it ended
    assert call.ended and call.id not in rig.sb.calls
    with pytest.raises(ValueError, match=f"no call '{call.id}' is up"):
        rig.sb.hang_up(call.id, "again", rig.now)


def test_hang_up_of_a_waiting_call_takes_it_out_of_the_queue():
    rig = Rig()
    rig.sb.agent_not_ready("1001", "break", rig.now)
    rig.sb.agent_not_ready("1002", "break", rig.now)
    call = rig.queued()
    got = rig.sb.hang_up(call.id, "ended by admin", rig.now)
    assert closes(got)[0].disposition == "abandoned"
    assert rig.sb.acd.waiting("sales") == []


def test_the_live_view_of_a_call_and_the_ports():
    rig = Rig()
    call = rig.connected(DESK1)
    view = rig.sb.call_view(call)
    assert (view["state"], view["queue"], view["agent"], view["ports"]) == \
        ("connected", "sales", "1001", ["main:0", "desk1"])
    assert view["conference"] is None and view["recording"] is False
    ports = rig.sb.port_states()
    assert ports[LINE] == ("line", "pstn", "in_call", call.id)
    assert ports[DESK1] == ("station", "desk1", "talking", call.id)
    assert ports[DESK2] == ("station", "desk2", "idle", None)
